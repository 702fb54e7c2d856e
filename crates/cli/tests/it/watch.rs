//! `beekeeper watch`: against a real `beekeeper dev`, driven in tmux at 80×24 as an operator would
//! (the screen read with capture-pane, keys sent with send-keys), and without a terminal as one JSON
//! object a refresh; against moto with the room's metric data put in.

use crate::common::Room;
use crate::dev_link_fetchers::{start_dev, stats};
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_beekeeper");

/// A tmux session of its own (its own socket), killed when the test ends.
struct Tmux(String);

impl Tmux {
    fn start(command: &str) -> Tmux {
        let t = Tmux(format!("bk-watch-{}", std::process::id()));
        let ok = t.cmd(&["new-session", "-d", "-x", "80", "-y", "24", command]);
        assert!(
            ok.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&ok.stderr)
        );
        t
    }

    fn cmd(&self, args: &[&str]) -> std::process::Output {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.0, "-f", "/dev/null"]).args(args);
        c.env_remove("TMUX")
            .output()
            .expect("tmux is installed (tests/setup)")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p"]).stdout).into_owned()
    }

    /// Waits (up to 20 s) until the screen shows `want`.
    fn wait_for(&self, want: &str) -> String {
        let started = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(want) {
                return s;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{want:?} never showed:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys"];
        args.extend(keys);
        assert!(self.cmd(&args).status.success());
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_watch_shows_a_rehearsal_and_its_keys_close_the_room_and_set_the_rate() {
    let (_dev, origin, c) = start_dev(BIN, &["--rate", "30"]).await;
    for _ in 0..5 {
        c.get(format!("{origin}/")).send().await.unwrap();
    }
    let t = Tmux::start(&format!("{BIN} watch --dev --url {origin} --interval 1"));
    let s = t.wait_for("5 waiting");
    for want in [
        "dev",
        "OPEN",
        "30/min",
        "o close the room",
        "q quit",
        "arrived/min",
    ] {
        assert!(s.contains(want), "{want:?} missing:\n{s}");
    }
    assert_eq!(s.lines().count(), 24, "the view fills 80x24 exactly:\n{s}");
    assert!(s.lines().all(|l| l.chars().count() <= 80));

    // Closing asks first; a stray key cancels.
    t.keys(&["o"]);
    t.wait_for("Close the room?");
    t.keys(&["n"]);
    t.wait_for("cancelled");
    t.keys(&["o"]);
    t.wait_for("Close the room?");
    t.keys(&["y"]);
    t.wait_for("room off");
    let now = stats(&c, &origin).await;
    assert_eq!(now["open"], false, "the key closed the dev room");
    t.wait_for("OFF with 5 still in line");

    t.keys(&["r", "4", "5", "Enter"]);
    t.wait_for("rate now 45");
    let now = stats(&c, &origin).await;
    assert_eq!(now["rate"], 45);
    t.keys(&["q"]);
    let started = Instant::now();
    while t.cmd(&["has-session"]).status.success() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "q did not end the watch"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_terminal_each_refresh_is_one_json_object_and_no_dev_is_said_plainly() {
    let (_dev, origin, c) = start_dev(BIN, &["--rate", "30"]).await;
    c.get(format!("{origin}/")).send().await.unwrap();
    let out = Command::new(BIN)
        .args([
            "watch",
            "--dev",
            "--url",
            &origin,
            "--interval",
            "1",
            "--count",
            "2",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let frames: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(frames.len(), 2, "{text}");
    assert_eq!(frames[1]["open"], true);
    assert_eq!(frames[1]["line"]["waiting"], 1);
    assert!(
        frames[1]["minute"]["seconds"].as_u64().unwrap() >= 1,
        "{text}"
    );

    let gone = Command::new(BIN)
        .args([
            "watch",
            "--dev",
            "--url",
            "http://127.0.0.1:9",
            "--count",
            "1",
        ])
        .output()
        .unwrap();
    assert_eq!(gone.status.code(), Some(1));
    let err = String::from_utf8_lossy(&gone.stderr);
    assert!(
        err.contains("no beekeeper dev answers at http://127.0.0.1:9"),
        "{err}"
    );
    assert!(err.contains("start it with `beekeeper dev`"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn watching_a_deployed_room_reads_its_last_minute_from_cloudwatch() {
    let room = Room::new("watched", "eu-west-1", false);
    let aws = room.aws().await;
    room.ok(&["init", "--profile", "watched", "--yes"], &[]);
    room.deploy_json();
    crate::monitoring_moto::put_minutes(&aws, "watched", "Arrivals", &[1_000.0, 25_000.0]).await;
    crate::monitoring_moto::put_minutes(&aws, "watched", "Planned", &[300.0, 300.0]).await;
    crate::monitoring_moto::put_minutes(&aws, "watched", "Released", &[300.0, 120.0]).await;
    let out = room.ok(
        &["watch", "watched", "--count", "1", "--output", "json"],
        &[],
    );
    let f: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(f["room"], "watched");
    assert_eq!(f["open"], true);
    assert_eq!(f["line"]["dead_letters"], 0);
    assert_eq!(f["minute"]["arrivals"], 25_000, "{f}");
    assert_eq!(f["minute"]["released"], 120);
    assert_eq!(
        f["alerts"],
        serde_json::json!([]),
        "nobody waits, nothing fails"
    );
    let text = room.ok(&["watch", "watched", "--count", "1"], &[]);
    assert!(text.contains("watched OPEN rate"), "{text}");
    assert!(
        text.contains("arrived 25,000 released 120/300 planned"),
        "{text}"
    );
    room.destroy();
}
