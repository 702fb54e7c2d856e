//! The test switches (src/knobs.rs) are on in the binary `cargo test` builds: the dev-dependency on the
//! package itself turns the `test-knobs` feature on. Without this, every fault-injection suite would
//! quietly test nothing. The other side, a user's build ignoring them, is `tests/knobs_off`.

use std::process::Command;

#[test]
fn the_test_binary_obeys_beekeeper_fail_at() {
    let config = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_beekeeper"))
        .args(["deploy", "nobody"])
        .env("BEEKEEPER_CONFIG_DIR", config.path())
        .env("BEEKEEPER_FAIL_AT", "no-such-step")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("BEEKEEPER_FAIL_AT=\"no-such-step\" names no deploy step"),
        "{stderr}"
    );
}
