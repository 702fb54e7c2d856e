#!/bin/sh
# Why: installs beekeeper, the one binary that carries its functions, on Linux or macOS without Rust:
# picks this machine's archive from a release, checks it against the release's SHA256SUMS, and puts the
# binary in ~/.local/bin (or --to DIR). release/publish writes this repository's address in below.
#
#   curl -fsSL @REPOSITORY@/releases/latest/download/install.sh | sh
#   sh install.sh [--version 0.1.0] [--to DIR] [--from DIR_OR_URL]
#
# --from takes the release's files from a directory or another address (a mirror, an air-gapped copy);
# BEEKEEPER_VERSION, BEEKEEPER_INSTALL_DIR and BEEKEEPER_INSTALL_FROM are the same as the flags.
set -eu

repository="@REPOSITORY@"
version="${BEEKEEPER_VERSION:-latest}"
to="${BEEKEEPER_INSTALL_DIR:-${HOME:-}/.local/bin}"
from="${BEEKEEPER_INSTALL_FROM:-}"

say() { printf 'beekeeper install: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --version) [ $# -ge 2 ] || die "--version needs a version, e.g. --version 0.1.0"; version="${2#v}"; shift 2 ;;
    --to) [ $# -ge 2 ] || die "--to needs a directory"; to="$2"; shift 2 ;;
    --from) [ $# -ge 2 ] || die "--from needs a directory or an address"; from="$2"; shift 2 ;;
    -h | --help) sed -n '2,10p' "$0" 2>/dev/null | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (the arguments are --version V, --to DIR, --from DIR_OR_URL)" ;;
  esac
done

# This machine's target, as the release names its archives.
case "$(uname -s)" in
  Linux) os=unknown-linux-gnu ;;
  Darwin) os=apple-darwin ;;
  MINGW* | MSYS* | CYGWIN*) die "on Windows, download beekeeper-x86_64-pc-windows-msvc.zip from $repository/releases, or run \`cargo binstall beekeeper\`" ;;
  *) die "no release for $(uname -s); build it from source: cargo install beekeeper" ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) cpu=x86_64 ;;
  aarch64 | arm64) cpu=aarch64 ;;
  *) die "no release for $(uname -m) machines; build it from source: cargo install beekeeper" ;;
esac
# A shell under Rosetta reports x86_64 on an Apple silicon Mac, which runs the native build better.
if [ "$os" = apple-darwin ] && [ "$(sysctl -n hw.optional.arm64 2>/dev/null || echo 0)" = 1 ]; then cpu=aarch64; fi
archive="beekeeper-$cpu-$os.tar.gz"

if [ -z "$from" ]; then
  case "$version" in
    latest) from="$repository/releases/latest/download" ;;
    *) from="$repository/releases/download/v$version" ;;
  esac
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

fetch() { # fetch NAME: the release's file NAME into $work
  case "$from" in
    http://* | https://*)
      if command -v curl >/dev/null; then
        curl --proto '=https,http' -fsSL "$from/$1" -o "$work/$1" || die "could not download $from/$1 (is $version a released version? see $repository/releases)"
      elif command -v wget >/dev/null; then
        wget -q "$from/$1" -O "$work/$1" || die "could not download $from/$1 (is $version a released version? see $repository/releases)"
      else
        die "needs curl or wget to download $from/$1"
      fi ;;
    *) [ -f "$from/$1" ] || die "$from has no $1"; cp "$from/$1" "$work/$1" ;;
  esac
}

say "downloading $archive from $from"
fetch SHA256SUMS
fetch "$archive"

# The archive must be the one the release lists: a damaged or substituted download is not installed.
want="$(awk -v f="$archive" '$2 == f || $2 == "*" f { print $1 }' "$work/SHA256SUMS")"
[ -n "$want" ] || die "SHA256SUMS lists no $archive"
if command -v sha256sum >/dev/null; then got="$(sha256sum "$work/$archive" | cut -d' ' -f1)"
elif command -v shasum >/dev/null; then got="$(shasum -a 256 "$work/$archive" | cut -d' ' -f1)"
else die "needs sha256sum or shasum to check the download"; fi
[ "$got" = "$want" ] || die "$archive has SHA-256 $got, the release lists $want: not installed (download again; if it persists, report it)"

tar -C "$work" -xzf "$work/$archive"
mkdir -p "$to" || die "cannot create $to; choose another with --to DIR"
chmod 755 "$work/beekeeper-$cpu-$os/beekeeper"
# A binary that cannot run here (a glibc older than the build's, a missing loader) is said at once, and
# never replaces one that does.
if ! runs="$("$work/beekeeper-$cpu-$os/beekeeper" --version 2>&1)"; then
  die "the downloaded beekeeper does not run on this machine: $runs; not installed (build it from source: cargo install beekeeper)"
fi
# Into place by rename, so a beekeeper that is running is never half-overwritten.
cp "$work/beekeeper-$cpu-$os/beekeeper" "$to/.beekeeper.new" || die "cannot write to $to; choose another with --to DIR"
chmod 755 "$to/.beekeeper.new"
mv -f "$to/.beekeeper.new" "$to/beekeeper"

say "installed $to/beekeeper ($(printf '%s\n' "$runs" | head -n1))"
case ":${PATH:-}:" in
  *":$to:"*) ;;
  *) say "$to is not on your PATH: add it, e.g. export PATH=\"$to:\$PATH\" in your shell's profile" ;;
esac
