//! The built `beekeeper` binary as an operator runs it: with nothing of the developer's own AWS setup,
//! or pointed at the suite's moto, bounded in time, its output read as text.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_beekeeper");

/// A process environment with nothing of the developer's own AWS setup in it.
pub fn isolated(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("BEEKEEPER_CONFIG_DIR", dir)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("NO_COLOR", "1");
    c
}

/// The binary as an operator runs it against moto, in us-east-1.
pub fn against_moto(dir: &Path) -> Command {
    let mut c = isolated(dir);
    c.env("AWS_ENDPOINT_URL", &beekeeper_testkit::shared().endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1");
    c
}

/// Runs `c` with `args`, failing the test rather than hanging if it waits for input.
pub fn run(mut c: Command, args: &[&str]) -> Output {
    c.args(args);
    beekeeper_testkit::run_bounded(c, Duration::from_secs(60))
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Its stdout, after asserting it succeeded (showing both streams if not).
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        text(&out.stderr),
        text(&out.stdout)
    );
    text(&out.stdout)
}

/// A loopback port `p` with `p + 1` free too (`beekeeper dev` serves the demo destination beside it).
pub fn free_port_pair() -> u16 {
    for _ in 0..50 {
        let a = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = a.local_addr().unwrap().port();
        if p < u16::MAX && TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no pair of free loopback ports");
}
