//! The release-side figure: runs the seeded storm (see `tests/storm/driver.rs`) against a fresh moto
//! server and prints the largest minute's release divided by the rate (target 1.00: never above) and
//! the visitors lost (target 0).
//!
//! `cargo run -p beekeeper-room --example storm --all-features [seed]` (needs moto: `bash tests/setup`).

#[path = "../tests/storm/driver.rs"]
mod driver;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let seed = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(11);
    let moto = beekeeper_testkit::start();
    let storm = driver::Storm::default_storm(seed);
    let out = driver::run(&moto.endpoint, &storm).await;
    println!(
        "storm (seed {seed}): rate {}/minute, {} visitors, {} ms minutes",
        storm.rate, out.sent, storm.window_ms
    );
    println!(
        "  ticks refused: {} late, {} already claimed; consumer tasks duplicated: {}, consumers cut off: {}",
        out.ticks_late, out.ticks_claimed, out.tasks_duplicated, out.consumers_killed
    );
    println!("  proxy: {}", out.injected);
    let per_minute: Vec<String> = out.per_minute.values().map(u64::to_string).collect();
    println!("  released per minute: [{}]", per_minute.join(", "));
    println!(
        "  released {}, still queued {}, dead-lettered {}; released_total {}",
        out.released, out.queued, out.dead_lettered, out.released_total
    );
    println!(
        "largest minute's release ÷ rate: {:.2}",
        out.largest_minute_over_rate()
    );
    println!("tokens lost: {}", out.lost);
    println!(
        "released_total − distinct tokens written: {}",
        out.released_total as i64 - out.released as i64
    );
}
