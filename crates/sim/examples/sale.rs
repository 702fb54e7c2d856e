//! The sale benchmark: `cargo run --release -p beekeeper-sim --example sale [-- --rate N --arrivals N
//! --waiting N --burst-secs N --duration-secs N --seed N --sleepers PCT --sleep-min-secs N
//! --sleep-max-secs N --no-fetch-metadata PCT --gateway-share PCT --unthrottled]`. Prints peak requests/s per route (asked
//! for, and let through by the deployed gateway's limits unless `--unthrottled`), how long arrivals took
//! to get into line, the busiest DynamoDB keys, what became of the visitors (let in, places lost, sent
//! back to the front after sleeping through their turn), and the run's own time and memory, against the
//! sale-day targets.

use beekeeper_sim::{Route, Scenario, run};
use std::time::Instant;

fn parse(args: &[String]) -> Result<Scenario, String> {
    let mut s = Scenario::default();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--unthrottled" {
            s.gateway_limits = false;
            continue;
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value, e.g. {flag} 3000"))?;
        let n: u64 = value
            .replace(['_', ','], "")
            .parse()
            .map_err(|_| format!("{flag} {value:?} is not a whole number"))?;
        let small = |n: u64| u32::try_from(n).map_err(|_| format!("{flag} {n} is too large"));
        match flag.as_str() {
            "--rate" => s.rate = small(n)?,
            "--arrivals" => s.arrivals = small(n)?,
            "--waiting" => s.waiting = small(n)?,
            "--burst-secs" => s.burst_secs = small(n)?,
            "--duration-secs" => s.duration_secs = small(n)?,
            "--seed" => s.seed = n,
            "--sleepers" => s.sleepers = percent(flag, n)?,
            "--no-fetch-metadata" => s.without_fetch_metadata = percent(flag, n)?,
            "--sleep-min-secs" => s.sleep_secs.0 = small(n)?,
            "--sleep-max-secs" => s.sleep_secs.1 = small(n)?,
            "--gateway-share" => {
                let share = beekeeper_core::gateway::validate_share(n as i64);
                s.gateway_share = Some(share.map_err(|e| e.to_string())?);
            }
            other => {
                return Err(format!(
                    "unknown flag {other}: use --rate, --arrivals, --waiting, --burst-secs, --duration-secs, --seed, \
                     --sleepers, --sleep-min-secs, --sleep-max-secs, --no-fetch-metadata, --gateway-share or --unthrottled"
                ));
            }
        }
    }
    Ok(s)
}

fn percent(flag: &str, n: u64) -> Result<f64, String> {
    if n > 100 {
        return Err(format!("{flag} {n} is a percentage: give 0 to 100"));
    }
    Ok(n as f64 / 100.0)
}

/// The process's peak resident memory, from Linux's /proc (None elsewhere).
fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let scenario = match parse(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let started = Instant::now();
    let report = match run(&scenario) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let wall = started.elapsed().as_secs_f64();
    println!(
        "sale: {} arrivals in {} s on top of {} waiting, released at {}/min, {} s simulated",
        scenario.arrivals,
        scenario.burst_secs,
        scenario.waiting,
        scenario.rate,
        scenario.duration_secs
    );
    let share = scenario
        .gateway_share
        .unwrap_or(beekeeper_core::gateway::DEFAULT_SHARE_PERCENT);
    let limits = if scenario.gateway_limits {
        format!("the deployed gateway's limits: {share}% of the account's 10,000 requests/s")
    } else {
        "no gateway limits".into()
    };
    println!("peak requests/s per route ({limits}): asked / throttled in the whole run");
    for (i, r) in Route::ALL.iter().enumerate() {
        println!(
            "  {:<18} {:>7} / {:>9}",
            r.path(),
            report.peak(*r),
            report.throttled[i]
        );
    }
    let verdict = |ok: bool| if ok { "meets" } else { "MISSES" };
    println!(
        "  {:<18} {:>7}   ({} the target of < 10,000 at 3,000/min); let through at most {}/s",
        "total",
        report.peak_total,
        verdict(report.peak_total < 10_000),
        report.peak_served
    );
    let d = &report.into_line;
    let s = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1} s"));
    println!(
        "arrivals into line: {} of {}; time from first page request: p50 {}, p99 {}, max {}",
        d.in_line,
        scenario.arrivals,
        s(d.p50_s),
        s(d.p99_s),
        s(d.max_s)
    );
    println!("DynamoDB, busiest second per key:");
    for k in [
        &report.room_item,
        &report.busiest_room_copy,
        &report.ticket_counter,
        &report.busiest_token_item,
    ] {
        println!(
            "  {:<24} {:>7} reads/s {:>6} writes/s",
            k.key, k.reads_per_s, k.writes_per_s
        );
    }
    println!(
        "  busiest key {} at {} reads/s ({} the target of < 1,500)",
        report.busiest_key.key,
        report.busiest_key.reads_per_s,
        verdict(report.busiest_key.reads_per_s < 1_500)
    );
    let o = &report.outcomes;
    let visitors = u64::from(scenario.arrivals) + u64::from(scenario.waiting);
    println!(
        "visitors: {} let in, {} places lost ({} the target of 0), {} passed over unconfirmed, \
         {} let in again after sleeping through their turn",
        o.admitted,
        o.lost,
        verdict(o.lost == 0),
        o.passed_over,
        o.readmitted
    );
    println!(
        "requests per visitor, all routes, over the run: {:.2}; events {}",
        report.requests_per_visitor(visitors),
        report.events
    );
    match peak_rss_mib() {
        Some(m) => println!("ran in {wall:.1} s of wall time, peak memory {m} MiB"),
        None => println!("ran in {wall:.1} s of wall time"),
    }
}
