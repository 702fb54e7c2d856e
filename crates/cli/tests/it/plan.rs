//! `beekeeper plan` as the built binary: the seed's sale against AWS's defaults without credentials,
//! the account's limits read from moto where it models them (API Gateway's `GetAccount`; Lambda's
//! `GetAccountSettings` is a 404 there, so the default is said), text, JSON and plain output when piped,
//! and bad input named with its fix.

use crate::common::binary::{against_moto, isolated, ok, run, text};
use serde_json::Value;
use std::process::Output;

const SEED: [&str; 7] = [
    "plan",
    "--visitors",
    "300000",
    "--over",
    "60s",
    "--rate",
    "3000",
];

fn json(out: &Output) -> Value {
    serde_json::from_str(&ok(out)).expect("plan --output json prints JSON")
}

fn check<'a>(v: &'a Value, what: &str) -> &'a Value {
    v["forecast"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["what"] == what)
        .unwrap_or_else(|| panic!("no check {what}: {v:#}"))
}

#[test]
fn the_seeds_sale_without_credentials_uses_aws_defaults_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = SEED.to_vec();
    args.extend(["--region", "us-east-1"]);
    let out = ok(&run(isolated(dir.path()), &args));
    assert!(
        out.contains("300,000 visitors over 60 s, released at 3,000/min"),
        "{out}"
    );
    assert!(out.contains("AWS default (no AWS credentials)"), "{out}");
    // The room's routes take the default 80% of the quota, leaving the rest to the account's other APIs.
    assert!(out.contains("(the room's routes 8,000, 80%)"), "{out}");
    // 5,000 arrivals a second against GET /'s 1,600: over, with the spread that fits.
    let page = out.lines().find(|l| l.contains("GET /  ")).unwrap();
    assert!(
        page.contains("5,000/s") && page.contains("1,600/s") && page.contains("OVER"),
        "{page}"
    );
    assert!(out.contains("arrivals above 1600/s"), "{out}");
    assert!(out.contains("send the emails over at least 188 s"), "{out}");
    assert!(
        out.contains("throttles let through at most 4839/s, within the account's 10000"),
        "{out}"
    );
    assert!(out.contains("the line is empty after 1 h 40 min"), "{out}");
    assert!(out.contains("list prices of"), "{out}");
    // Piped: a plain table, no sparkline glyphs.
    assert!(out.contains("minute   arrivals/s"), "{out}");
    assert!(!out.contains('█'), "{out}");
    assert!(out.trim_end().ends_with("verdict: OVER"), "{out}");
}

#[test]
fn json_carries_every_figure() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = SEED.to_vec();
    args.extend(["--output", "json"]);
    let v = json(&run(isolated(dir.path()), &args));
    assert_eq!(v["forecast"]["peak_arrivals_per_s"], 5000.0);
    assert_eq!(v["forecast"]["drain_secs"], 6000);
    assert_eq!(v["crowd"]["kind"], "burst");
    let all = check(&v, "all routes");
    assert_eq!(all["verdict"], "tight");
    assert_eq!(all["limit"], 10000.0);
    let poll = check(&v, "GET /poll");
    // 2,889 of the default share's 3,840.
    assert_eq!(poll["verdict"], "tight");
    assert_eq!(poll["limit"], 3840.0);
    let peak = poll["peak"].as_f64().unwrap();
    assert!((2_870.0..2_910.0).contains(&peak), "{peak}");
    assert!(v["forecast"]["cost"]["total"].as_f64().unwrap() > 0.0);
    assert_eq!(v["forecast"]["minutes"].as_array().unwrap().len(), 100);
}

#[test]
fn a_whole_share_of_the_quota_gives_the_room_every_route_its_full_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = SEED.to_vec();
    args.extend(["--region", "us-east-1", "--gateway-share", "100%"]);
    let out = ok(&run(isolated(dir.path()), &args));
    assert!(out.contains("(the room's routes 10,000, 100%)"), "{out}");
    assert!(out.contains("arrivals above 2000/s"), "{out}");
    assert!(out.contains("send the emails over at least 150 s"), "{out}");
    let bad = run(
        isolated(dir.path()),
        &[&SEED[..], &["--gateway-share", "5"]].concat(),
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("between 10% and 100%"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[test]
fn limits_are_read_from_the_account_where_the_emulator_models_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = SEED.to_vec();
    args.extend(["--output", "json"]);
    let v = json(&run(against_moto(dir.path()), &args));
    assert_eq!(v["account"], "123456789012");
    assert_eq!(v["region"], "us-east-1");
    // moto answers API Gateway's GetAccount (10,000/s) but not Lambda's GetAccountSettings.
    assert_eq!(v["gateway_limit_source"], "read from the account");
    assert_eq!(v["gateway_limit"], 10000);
    let lambda = v["lambda_limit_source"].as_str().unwrap();
    assert!(
        lambda.contains("does not implement GetAccountSettings"),
        "{lambda}"
    );
    assert_eq!(v["lambda_limit"], 1000);
}

#[test]
fn a_small_account_is_over_and_names_the_quota_and_the_rate() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = against_moto(dir.path());
    // The test switch `deploy` also honours: an account whose Lambda limit is 150.
    c.env("BEEKEEPER_ACCOUNT_CONCURRENCY", "150");
    let out = ok(&run(
        c,
        &[
            "plan",
            "--visitors",
            "10000",
            "--over",
            "5m",
            "--rate",
            "100000",
        ],
    ));
    assert!(
        out.contains("Lambda 150 executions, read from the account"),
        "{out}"
    );
    let fix = out
        .lines()
        .find(|l| l.contains("Lambda release path") && l.contains("OVER"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        fix.contains("\"Concurrent executions\" of AWS Lambda (code L-B99A9384)"),
        "{fix}"
    );
    assert!(fix.contains("or release at most 19000/min"), "{fix}");
}

#[test]
fn a_profile_gives_the_rate_and_region() {
    let dir = tempfile::tempdir().unwrap();
    ok(&run(
        isolated(dir.path()),
        &[
            "init",
            "--yes",
            "--profile",
            "drop",
            "--name",
            "Drop",
            "--region",
            "eu-south-2",
            "--destination",
            "https://shop.example.com",
            "--rate",
            "1200",
            "--no-drt",
        ],
    ));
    let out = ok(&run(
        isolated(dir.path()),
        &["plan", "drop", "--visitors", "50000", "--over", "10m"],
    ));
    assert!(
        out.contains("released at 1,200/min (profile drop, eu-south-2)"),
        "{out}"
    );
    // Spain's default account throttle is 2,500 requests/s.
    assert!(
        out.contains("API Gateway 2,500 requests/s, AWS default"),
        "{out}"
    );
    assert!(
        out.contains("release path (trigger 2, consumers 4)"),
        "{out}"
    );

    // With DRT the rate is a ceiling and the drt function holds executions too.
    ok(&run(
        isolated(dir.path()),
        &[
            "init",
            "--yes",
            "--profile",
            "drt",
            "--name",
            "Drt",
            "--region",
            "eu-west-1",
            "--destination",
            "https://shop.example.com",
            "--rate",
            "300",
            "--drt",
        ],
    ));
    let out = ok(&run(
        isolated(dir.path()),
        &["plan", "drt", "--visitors", "5000"],
    ));
    assert!(
        out.contains("released at 300/min, or less while DRT holds it down"),
        "{out}"
    );
    assert!(
        out.contains("release path (trigger 2, consumers 2, drt 2)"),
        "{out}"
    );
    assert!(
        !out.contains("AWS WAF"),
        "no per-client limit, no WAF cost: {out}"
    );

    // The per-client limit's price: per request in the sale's cost, and the monthly fee said apart.
    ok(&run(
        isolated(dir.path()),
        &["init", "--yes", "--profile", "drt", "--waf"],
    ));
    let out = ok(&run(
        isolated(dir.path()),
        &["plan", "drt", "--visitors", "5000"],
    ));
    assert!(out.contains(", AWS WAF $0.10 "), "{out}");
    assert!(
        out.contains("plus $7.00 a month for the per-client limit"),
        "{out}"
    );
    let v = json(&run(
        isolated(dir.path()),
        &["plan", "drt", "--visitors", "5000", "--output", "json"],
    ));
    assert_eq!(v["forecast"]["cost"]["waf_monthly"], 7.0);
    assert!(v["forecast"]["cost"]["waf"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_curve_file_is_followed_and_a_bad_line_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.csv");
    std::fs::write(&good, "minute,arrivals\n0,120000\n1,60000\n2,20000\n").unwrap();
    let good = good.to_str().unwrap();
    let v = json(&run(
        isolated(dir.path()),
        &[
            "plan", "--curve", good, "--rate", "3000", "--output", "json",
        ],
    ));
    assert_eq!(v["forecast"]["visitors"], 200000.0);
    assert_eq!(v["forecast"]["peak_arrivals_per_s"], 2000.0);
    assert_eq!(v["crowd"]["minutes"], 3);

    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "minute,arrivals\n0,120000\n1,6O000\n").unwrap();
    let out = run(
        isolated(dir.path()),
        &["plan", "--curve", bad.to_str().unwrap(), "--rate", "3000"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("line 3 of the curve file (\"1,6O000\")"),
        "{err}"
    );
    assert!(
        err.contains("arrivals \"6O000\" is not a whole number"),
        "{err}"
    );
    assert!(err.contains("\"minute,arrivals\""), "{err}");
}

#[test]
fn bad_input_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &["plan", "--visitors", "0", "--rate", "3000"],
            "0 visitors: give the crowd you expect",
        ),
        (
            &["plan", "--visitors", "lots", "--rate", "3000"],
            "\"lots\" is not a whole number",
        ),
        (
            &["plan", "--visitors", "10", "--over", "5x", "--rate", "3000"],
            "unknown unit \"x\"",
        ),
        (
            &["plan", "--visitors", "10", "--over", "0s", "--rate", "3000"],
            "it is 0",
        ),
        (
            &["plan", "--visitors", "10"],
            "without a profile, give the users let through per minute",
        ),
    ];
    for (args, says) in cases {
        let out = run(isolated(dir.path()), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// rexpect reads the terminal byte by byte as Latin-1: what UTF-8 `s` looks like to it.
fn as_rexpect_reads(s: &str) -> String {
    s.bytes().map(char::from).collect()
}

#[test]
fn a_terminal_gets_sparklines() {
    use rexpect::session::spawn_command;
    let dir = tempfile::tempdir().unwrap();
    let mut c = isolated(dir.path());
    c.args(SEED).env("TERM", "xterm");
    let mut s = spawn_command(c, Some(20_000)).unwrap();
    // Arrivals in the first minute only (a column is 2 minutes of 100), the line falling away to empty.
    let arrivals = format!("arrivals/s  █{}  max 5,000", "▁".repeat(49));
    s.exp_string(&as_rexpect_reads(&arrivals)).unwrap();
    s.exp_string(&as_rexpect_reads("waiting     ████▇"))
        .unwrap();
    s.exp_string(&as_rexpect_reads("▂▁▁▁▁  max 297,000"))
        .unwrap();
    s.exp_string(&as_rexpect_reads("requests/s  █▄")).unwrap();
    s.exp_string("verdict: OVER").unwrap();
}

/// Without credentials the answer is the whole output: the SDK's credential chain, trying instance
/// metadata (here a port that refuses), prints nothing of its own; `plan` says "no AWS credentials".
#[test]
fn without_credentials_plan_prints_its_answer_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = isolated(dir.path());
    c.env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9");
    let mut args = SEED.to_vec();
    args.extend(["--region", "us-east-1"]);
    let out = run(c, &args);
    let said = ok(&out);
    assert!(said.contains("AWS default (no AWS credentials)"), "{said}");
    assert_eq!(text(&out.stderr), "", "stderr carries nothing");
}

/// A reader that stops early (`beekeeper plan … | head -1`) ends the command quietly and successfully:
/// its work is done, and a panic message about a broken pipe would only alarm.
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut c = isolated(dir.path());
    let mut args = SEED.to_vec();
    args.extend(["--region", "us-east-1"]);
    c.args(&args)
        .stdin(std::process::Stdio::null())
        .stdout(writer)
        .stderr(std::process::Stdio::piped());
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{:?}: {}",
        out.status,
        text(&out.stderr)
    );
    assert_eq!(text(&out.stderr), "");
}
