#!/usr/bin/env bash
# Why: figures for `beekeeper dev` under a bounded loopback burst: arrivals/s and polls/s sustained with
# p50/p99 latency (measured with wrk, a C load generator, so the generator is not what is measured), every
# arrival accounted for afterwards through /__dev/stats, and the waiting page's transfer size.
#
#   bash bench/dev-load.sh                  # uses target/release/beekeeper if built, else target/debug
#   BEEKEEPER_BIN=path DURATION=10 CONNS=64 bash bench/dev-load.sh
#
# Needs wrk (Debian: apt-get install wrk) and curl. Traffic goes to 127.0.0.1 only and stops after
# DURATION seconds per phase. The server and wrk share this machine's cores: the figures are a floor.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

duration="${DURATION:-10}"
conns="${CONNS:-64}"
port="${PORT:-18480}"
if [ -n "${BEEKEEPER_BIN:-}" ]; then bin="$BEEKEEPER_BIN"
elif [ -x target/release/beekeeper ]; then bin=target/release/beekeeper
else bin=target/debug/beekeeper; fi
[ -x "$bin" ] || { echo "no beekeeper binary at $bin: run cargo build -p beekeeper (or --release)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 1; }
case "$bin" in *release*) build=release ;; *) build="debug (unoptimised: expect several times less than release)" ;; esac

origin="http://127.0.0.1:$port"
# Release 100,000 a "minute" of 2 s, so the release loop runs during the burst and the line drains after.
BEEKEEPER_LOG=warn "$bin" dev --port "$port" --minute-secs 2 --rate 100000 >/dev/null &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fs "$origin/__dev/stats" >/dev/null && break; sleep 0.1; done
curl -fs "$origin/__dev/stats" >/dev/null || { echo "beekeeper dev did not start on $origin" >&2; exit 1; }

stat() { curl -fs "$origin/__dev/stats" | sed -E "s/.*\"$1\":([0-9]+).*/\1/"; }
figures() { grep -E 'Requests/sec|Non-2xx|Socket errors|requests in|^ +(50|99)%'; }

echo "beekeeper dev load figures: $bin [$build], $(nproc) cores shared with wrk, $conns connections, ${duration}s per phase"
echo
echo "== arrivals: GET / without cookies (each one a new place in line; redirects not followed)"
out="$(wrk -t1 -c"$conns" -d"${duration}s" --latency "$origin/")"
echo "$out" | figures
sent="$(echo "$out" | sed -nE 's/^ *([0-9]+) requests in.*/\1/p')"

token="$(curl -fsi "$origin/" | sed -nE 's/^set-cookie: bk_token=([A-Za-z0-9_-]{22});.*/\1/Ip' | head -1)"
echo
echo "== polls: GET /poll with a bk_token cookie"
wrk -t1 -c"$conns" -d"${duration}s" --latency -H "Cookie: bk_token=$token" "$origin/poll" | figures

echo
echo "== accounting (/__dev/stats)"
for _ in $(seq 150); do
  [ "$(stat queued)" = 0 ] && break
  sleep 0.2
done
arrived="$(stat arrived)"; released="$(stat released)"; queued="$(stat queued)"; passed="$(stat passed_over)"
echo "wrk completed $sent arrivals (+1 for the poll token); room: arrived $arrived, released $released, queued $queued, passed over $passed"
# wrk stops with requests in flight: the server may have taken up to one per connection more than it counted.
[ "$arrived" -ge $((sent + 1)) ] && [ "$arrived" -le $((sent + 1 + conns)) ] || { echo "FAIL: arrivals not accounted for" >&2; exit 1; }
# wrk's arrivals never confirm their places (no script runs), so once their first polls are overdue the
# release passes them over: they are accounted for as such, never lost.
[ $((queued + released + passed)) -eq "$arrived" ] || { echo "FAIL: queued + released + passed over != arrived" >&2; exit 1; }
echo "every arrival accounted for"

echo
echo "== page weight: files one page view loads (index.html, room.css, strings.js, poll.js, room.js, room.json)"
total=0; total_gz=0
for f in index.html room.css strings.js poll.js room.js room.json; do
  raw="$(curl -fs "$origin/room/$f" | wc -c)"; gz="$(curl -fs "$origin/room/$f" | gzip -9 | wc -c)"
  printf '  %-11s %6d bytes  %6d gzip -9\n' "$f" "$raw" "$gz"
  total=$((total + raw)); total_gz=$((total_gz + gz))
done
printf '  %-11s %6d bytes  %6d gzip -9 (plus one /poll answer of ~%d bytes)\n' total "$total" "$total_gz" \
  "$(curl -fs -H "Cookie: bk_token=$token" "$origin/poll" | wc -c)"
