//! `beekeeper init` and `beekeeper config` as an operator (or a script) meets them: the built binary, a
//! temporary config directory, no terminal for the scripted cases and a pseudo-terminal for the prompts.

use crate::common::binary::{BIN, text};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn command(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env("BEEKEEPER_CONFIG_DIR", dir)
        .env("NO_COLOR", "1")
        .env("CLICOLOR", "0")
        .env_remove("BEEKEEPER_LOG");
    c
}

/// Runs with stdin closed (as in CI or a pipe); a command that waited for input would hit the deadline.
fn run(dir: &Path, args: &[&str]) -> Output {
    let mut c = command(dir);
    c.args(args);
    beekeeper_testkit::run_bounded(c, Duration::from_secs(20))
}

fn config_file(dir: &Path) -> PathBuf {
    dir.join("config.toml")
}

fn saved(dir: &Path) -> toml::Value {
    toml::from_str(&std::fs::read_to_string(config_file(dir)).unwrap()).unwrap()
}

/// Writes what a deploy records, as `deploy` would: through the file's own structure.
fn record_deployment(dir: &Path, profile: &str, urls: &[(&str, &str)]) -> String {
    let mut v = saved(dir);
    let d = v["profiles"][profile]["deployment"].as_table_mut().unwrap();
    for (k, url) in urls {
        d.insert((*k).into(), toml::Value::String((*url).into()));
    }
    let body = toml::to_string(&v).unwrap();
    std::fs::write(config_file(dir), &body).unwrap();
    body
}

const ROOM_URL: &str = "https://abc.execute-api.eu-west-1.amazonaws.com/live/";
const CHECK_URL: &str = "https://abc.execute-api.eu-west-1.amazonaws.com/live/client-check";

const ALL_FLAGS: &[&str] = &[
    "init",
    "--profile",
    "spring-drop",
    "--name",
    "Spring Drop",
    "--region",
    "eu-west-1",
    "--destination",
    "https://shop.example.com/sale?id=7",
    "--rate",
    "1200",
    "--drt",
    "--min-rate",
    "100",
    "--session-minutes",
    "45",
    "--accent-colour",
    "#c75b12",
    "--architecture",
    "arm64",
];

#[test]
fn all_flags_save_the_profile_without_asking() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), ALL_FLAGS);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let p = &saved(dir.path())["profiles"]["spring-drop"]["room"];
    assert_eq!(p["profile"].as_str(), Some("spring-drop"));
    assert_eq!(p["display_name"].as_str(), Some("Spring Drop"));
    assert_eq!(p["region"].as_str(), Some("eu-west-1"));
    assert_eq!(
        p["destination"].as_str(),
        Some("https://shop.example.com/sale?id=7")
    );
    assert_eq!(p["rate"].as_integer(), Some(1200));
    assert_eq!(p["drt"].as_bool(), Some(true));
    assert_eq!(p["min_rate"].as_integer(), Some(100));
    assert_eq!(p["session_minutes"].as_integer(), Some(45));
    assert_eq!(p["accent_colour"].as_str(), Some("#c75b12"));
    assert_eq!(p["architecture"].as_str(), Some("arm64"));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&config_file(dir.path()).display().to_string()),
        "{stdout}"
    );
    assert!(stdout.contains("beekeeper deploy spring-drop"), "{stdout}");
}

#[test]
fn a_health_url_is_saved_and_kept_when_init_runs_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = ALL_FLAGS.to_vec();
    args.extend(["--health-url", " https://shop.example.com/healthz "]);
    let out = run(dir.path(), &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let health = |dir: &Path| {
        saved(dir)["profiles"]["spring-drop"]["room"]
            .get("health_url")
            .and_then(|v| v.as_str().map(str::to_string))
    };
    assert_eq!(
        health(dir.path()).as_deref(),
        Some("https://shop.example.com/healthz")
    );
    let again = run(
        dir.path(),
        &["init", "--profile", "spring-drop", "--rate", "600", "--yes"],
    );
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(
        health(dir.path()).as_deref(),
        Some("https://shop.example.com/healthz")
    );
}

#[test]
fn json_output_is_the_saved_profile() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = ALL_FLAGS.to_vec();
    args.extend(["--output", "json"]);
    let out = run(dir.path(), &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["profile"], "spring-drop");
    assert_eq!(j["rate"], 1200);
    assert_eq!(j["next"], "beekeeper deploy spring-drop");
    assert_eq!(
        j["config_file"].as_str().map(PathBuf::from),
        Some(config_file(dir.path()))
    );
}

#[test]
fn yes_fills_in_defaults_but_not_the_values_that_have_none() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["init", "--yes", "--name", "Drop"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("--profile") && err.contains("--destination"),
        "{err}"
    );
    assert!(!config_file(dir.path()).exists());

    let out = run(
        dir.path(),
        &[
            "init",
            "-y",
            "--profile",
            "drop",
            "--name",
            "Drop",
            "--destination",
            "https://x.example",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let p = &saved(dir.path())["profiles"]["drop"]["room"];
    assert_eq!(p["region"].as_str(), Some("us-east-1"));
    assert_eq!(p["rate"].as_integer(), Some(300));
    assert_eq!(p["drt"].as_bool(), Some(false));
}

#[test]
fn a_bad_flag_exits_2_with_the_rule_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        ("--rate", "0", "between 1 and 100000"),
        ("--region", "mars-1", "expected an AWS region code"),
        (
            "--destination",
            "ftp://shop.example.com",
            "http:// or https://",
        ),
        ("--profile", "Spring_Drop", "lowercase"),
        ("--session-minutes", "0", "1 to 1440"),
        ("--accent-colour", "orange", "hex colour"),
        ("--logo", "/nonexistent/brand.png", "cannot read"),
        ("--logo", "Cargo.toml", ".png"),
        (
            "--health-url",
            "ftp://shop.example.com/health",
            "invalid health URL",
        ),
    ];
    for (flag, value, rule) in cases {
        let mut args: Vec<&str> = ALL_FLAGS.iter().copied().filter(|a| a != flag).collect();
        // Drop the original value that followed the flag.
        if let Some(i) = ALL_FLAGS.iter().position(|a| a == flag) {
            args.retain(|a| *a != ALL_FLAGS[i + 1]);
        }
        args.extend([*flag, *value]);
        let out = run(dir.path(), &args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(err.contains(rule), "{flag} {value}: {err}");
        assert!(
            !config_file(dir.path()).exists(),
            "{flag} {value} wrote the config"
        );
    }
}

#[test]
fn without_a_terminal_missing_flags_are_named_not_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = run(dir.path(), &["init", "--profile", "drop", "--rate", "500"]);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    for flag in ["--name", "--destination", "--region", "--drt"] {
        assert!(err.contains(flag), "{flag} not named: {err}");
    }
    assert!(!err.contains("--rate"), "{err}");
    assert!(err.contains("--yes"), "the hint offers --yes: {err}");
    assert!(!config_file(dir.path()).exists());
}

#[test]
fn an_existing_profile_is_not_overwritten_without_consent_and_keeps_its_deployment() {
    let dir = tempfile::tempdir().unwrap();
    assert!(run(dir.path(), ALL_FLAGS).status.success());
    let body = record_deployment(dir.path(), "spring-drop", &[("waiting_room_url", ROOM_URL)]);

    let mut changed: Vec<&str> = ALL_FLAGS.to_vec();
    let i = changed.iter().position(|a| *a == "1200").unwrap();
    changed[i] = "600";
    let out = run(dir.path(), &changed);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("overwrite") && err.contains("--yes"), "{err}");
    assert_eq!(
        std::fs::read_to_string(config_file(dir.path())).unwrap(),
        body
    );

    changed.push("--yes");
    let out = run(dir.path(), &changed);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let p = &saved(dir.path())["profiles"]["spring-drop"];
    assert_eq!(p["room"]["rate"].as_integer(), Some(600));
    assert_eq!(p["deployment"]["waiting_room_url"].as_str(), Some(ROOM_URL));
}

#[test]
fn a_corrupt_config_is_reported_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let broken = "[profiles.drop\nrate = ";
    std::fs::write(config_file(dir.path()), broken).unwrap();
    for args in [ALL_FLAGS, &["config"]] {
        let out = run(dir.path(), args);
        assert!(!out.status.success());
        let err = text(&out.stderr);
        assert!(
            err.contains("is not valid") && err.contains("config.toml"),
            "{err}"
        );
        assert!(err.contains("hint:"), "{err}");
        assert_eq!(
            std::fs::read_to_string(config_file(dir.path())).unwrap(),
            broken
        );
    }
}

#[test]
fn config_lists_profiles_and_their_urls() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["config"]);
    assert!(out.status.success());
    assert!(
        text(&out.stdout).contains("beekeeper init"),
        "{}",
        text(&out.stdout)
    );
    let out = run(dir.path(), &["config", "--output", "json"]);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap(),
        serde_json::json!([])
    );

    assert!(run(dir.path(), ALL_FLAGS).status.success());
    record_deployment(
        dir.path(),
        "spring-drop",
        &[
            ("waiting_room_url", ROOM_URL),
            ("client_check_url", CHECK_URL),
        ],
    );
    assert!(
        run(
            dir.path(),
            &[
                "init",
                "-y",
                "--profile",
                "second",
                "--name",
                "Second",
                "--destination",
                "https://b.example"
            ]
        )
        .status
        .success()
    );

    let out = run(dir.path(), &["config"]);
    let listing = text(&out.stdout);
    assert!(
        listing.contains(&config_file(dir.path()).display().to_string()),
        "{listing}"
    );
    assert!(listing.contains(CHECK_URL), "{listing}");
    assert!(listing.contains("beekeeper deploy second"), "{listing}");

    let out = run(dir.path(), &["config", "--output", "json"]);
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = j.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let spring = list.iter().find(|p| p["profile"] == "spring-drop").unwrap();
    assert_eq!(spring["waiting_room_url"], ROOM_URL);
    assert_eq!(spring["deployed"], true);
    let second = list.iter().find(|p| p["profile"] == "second").unwrap();
    assert_eq!(second["waiting_room_url"], serde_json::Value::Null);
}

mod interactive {
    //! The prompts, typed into through a pseudo-terminal the way an operator would.

    use super::*;
    use rexpect::process::WaitStatus;
    use rexpect::session::{PtySession, spawn_command};

    const DOWN: &str = "\x1b[B";

    fn session(dir: &Path, args: &[&str]) -> PtySession {
        let mut c = command(dir);
        c.args(args).env("TERM", "xterm");
        spawn_command(c, Some(20_000)).unwrap()
    }

    fn exit_code(s: &PtySession) -> i32 {
        match s.process().wait().unwrap() {
            WaitStatus::Exited(_, code) => code,
            other => panic!("beekeeper did not exit normally: {other:?}"),
        }
    }

    #[test]
    fn prompts_re_ask_a_bad_answer_and_save_the_good_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = session(dir.path(), &["init"]);
        s.exp_string("Profile name").unwrap();
        s.send_line("Spring Drop").unwrap();
        s.exp_string("lowercase").unwrap();
        s.send_line("spring-drop").unwrap();
        s.exp_string("Display name").unwrap();
        s.send_line("Spring Drop").unwrap();
        s.exp_string("AWS region").unwrap();
        // us-east-1, us-east-2, us-west-2, eu-west-1.
        s.send(&DOWN.repeat(3)).unwrap();
        s.send("\r").unwrap();
        s.flush().unwrap();
        s.exp_string("Destination URL").unwrap();
        s.send_line("https://shop.example.com/sale").unwrap();
        s.exp_string("Users let through per minute").unwrap();
        s.send_line("0").unwrap();
        s.exp_string("between 1 and 100000").unwrap();
        s.send_line("1200").unwrap();
        s.exp_string("Dynamic rate throttling").unwrap();
        s.send("y").unwrap();
        s.flush().unwrap();
        s.exp_string("beekeeper deploy spring-drop").unwrap();
        s.exp_eof().unwrap();
        assert_eq!(exit_code(&s), 0);

        let p = &saved(dir.path())["profiles"]["spring-drop"]["room"];
        assert_eq!(p["display_name"].as_str(), Some("Spring Drop"));
        assert_eq!(p["region"].as_str(), Some("eu-west-1"));
        assert_eq!(
            p["destination"].as_str(),
            Some("https://shop.example.com/sale")
        );
        assert_eq!(p["rate"].as_integer(), Some(1200));
        assert_eq!(p["drt"].as_bool(), Some(true));
    }

    #[test]
    fn overwriting_asks_first_and_offers_the_current_values() {
        let dir = tempfile::tempdir().unwrap();
        assert!(run(dir.path(), ALL_FLAGS).status.success());
        let before = std::fs::read_to_string(config_file(dir.path())).unwrap();

        // Declining leaves the file alone.
        let mut s = session(dir.path(), &["init", "--profile", "spring-drop"]);
        s.exp_string("already exists").unwrap();
        s.send("n").unwrap();
        s.flush().unwrap();
        s.exp_string("left unchanged").unwrap();
        s.exp_eof().unwrap();
        assert_eq!(exit_code(&s), 0);
        assert_eq!(
            std::fs::read_to_string(config_file(dir.path())).unwrap(),
            before
        );

        // Confirming: only the rate and DRT change; Enter keeps each current value.
        let mut s = session(
            dir.path(),
            &[
                "init",
                "--profile",
                "spring-drop",
                "--rate",
                "600",
                "--no-drt",
            ],
        );
        s.exp_string("already exists").unwrap();
        s.send("y").unwrap();
        s.flush().unwrap();
        s.exp_string("Display name").unwrap();
        s.send_line("").unwrap();
        s.exp_string("AWS region").unwrap();
        s.send("\r").unwrap();
        s.flush().unwrap();
        s.exp_string("Destination URL").unwrap();
        s.send_line("").unwrap();
        s.exp_string("Updated profile spring-drop").unwrap();
        s.exp_eof().unwrap();
        assert_eq!(exit_code(&s), 0);
        let p = &saved(dir.path())["profiles"]["spring-drop"]["room"];
        assert_eq!(p["display_name"].as_str(), Some("Spring Drop"));
        assert_eq!(p["region"].as_str(), Some("eu-west-1"));
        assert_eq!(
            p["destination"].as_str(),
            Some("https://shop.example.com/sale?id=7")
        );
        assert_eq!(p["rate"].as_integer(), Some(600));
        assert_eq!(p["drt"].as_bool(), Some(false));
    }

    #[test]
    fn ctrl_c_at_a_prompt_exits_130_and_saves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = session(dir.path(), &["init", "--profile", "drop"]);
        s.exp_string("Display name").unwrap();
        s.send("half a na").unwrap();
        s.flush().unwrap();
        s.send_control('c').unwrap();
        s.exp_string("cancelled").unwrap();
        s.exp_eof().unwrap();
        assert_eq!(exit_code(&s), 130);
        assert!(!config_file(dir.path()).exists());

        // In the region list, which hides the cursor while it is open: it must be shown again.
        let mut s = session(dir.path(), &["init", "--profile", "drop", "--name", "Drop"]);
        s.exp_string("AWS region").unwrap();
        s.send_control('c').unwrap();
        let rest = s.exp_eof().unwrap();
        assert!(rest.contains("\x1b[?25h"), "cursor not restored: {rest:?}");
        assert_eq!(exit_code(&s), 130);
    }
}
