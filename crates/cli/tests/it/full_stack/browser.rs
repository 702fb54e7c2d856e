//! The same walk in headless Chromium: runs tests/browser/deployed.mjs (playwright-core and the system
//! Chromium, as tests/browser/e2e.mjs does for `beekeeper dev`) against the deployed stage, and releases
//! the visitor through the Lambda API when the script says it waits.

use super::Stack;
use super::walk::{self, DESTINATION};
use crate::common::Aws;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser")
}

pub async fn walk_in_chromium(stack: &Stack, aws: &Aws, stage_url: &str) {
    let dir = browser_dir();
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "{} has no playwright-core: run `bash tests/setup` (npm ci --prefix tests/browser)",
        dir.display()
    );
    let mut node = Command::new("node")
        .arg(dir.join("deployed.mjs"))
        .env("BEEKEEPER_ROOM_URL", stage_url)
        .env("BEEKEEPER_DESTINATION", DESTINATION)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("could not run node (needed for the browser walk): {e}"));
    let mut stdin = node.stdin.take().unwrap();
    let stdout = node.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut transcript = Vec::new();
    // The script has its own 120 s watchdog; this only guards against node itself hanging.
    loop {
        let line = match rx.recv_timeout(Duration::from_secs(150)) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = node.kill();
                panic!("the browser walk hung:\n{}", transcript.join("\n"));
            }
        };
        eprintln!("[chromium] {line}");
        if line == "# release" {
            walk::release(stack, aws, 10).await;
            stdin.write_all(b"released\n").unwrap();
        }
        transcript.push(line);
    }
    let status = node.wait().unwrap();
    assert!(
        status.success(),
        "the browser walk failed ({status}):\n{}\nLocalStack's log:\n{}",
        transcript.join("\n"),
        stack.ls.log_tail(40)
    );
}
