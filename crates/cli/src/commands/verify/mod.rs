//! `beekeeper verify P`: a synthetic visitor walks the live room over HTTP, as a visitor and the
//! destination's backend do: the page (`GET /`), `/poll`, `/client-check` and the JWKS. Each step is
//! reported with its time and, when it fails, what to do. `deploy` runs it last.
//!
//! The synthetic visitor never costs a real one a slot: like a link scanner it fetches the page and never
//! confirms the place that gives it (no `POST /join`), so the release passes that place over uncounted.
//! It polls and asks the gate with a token the room never issued, which must be refused.

mod steps;

use crate::cli::{OutputFormat, VerifyArgs};
use crate::error::{CliError, Result};
use crate::output;
use crate::profile::{self, ConfigFile, Profile};
use crate::provision::apigw;
use serde::Serialize;
use std::fmt;
use std::time::Duration;

/// One step of the walk.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Check {
    pub step: &'static str,
    pub ok: bool,
    pub millis: u64,
    /// What was found (on success) or what went wrong.
    pub detail: String,
    /// What to do about a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// The walk's report: Display for a terminal, Serialize for `--output json`.
#[derive(Debug, Serialize)]
pub(crate) struct Verified {
    pub url: String,
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl fmt::Display for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Synthetic visitor at {}", self.url)?;
        for c in &self.checks {
            let mark = if c.ok { "ok  " } else { "FAIL" };
            writeln!(
                f,
                "  {mark} {:<13} {:>5} ms  {}",
                c.step, c.millis, c.detail
            )?;
            if let Some(fix) = &c.fix {
                writeln!(f, "       what to do: {fix}")?;
            }
        }
        if self.ok {
            write!(f, "The room serves visitors.")
        } else {
            write!(f, "The room does not serve visitors yet (see above).")
        }
    }
}

pub(crate) async fn run(args: VerifyArgs, format: OutputFormat) -> Result<()> {
    // With --url the profile only names the commands the fixes suggest: it need not exist here.
    let url = match args.url {
        Some(u) => normalise(&u),
        None => {
            let profile = ConfigFile::load(&profile::config_path()?)?
                .get(&args.profile)?
                .clone();
            room_url(&args.profile, &profile)?
        }
    };
    let report = walk(&args.profile, &url, Duration::ZERO).await;
    output::print(format, &report);
    if report.ok {
        Ok(())
    } else {
        Err(CliError::VerifyFailed {
            profile: args.profile,
        })
    }
}

/// Walks `url` as profile `name`'s visitor. `settle` is how long a first answer may take to appear (a
/// fresh stage: DNS and the gateway's own propagation), retried a few times a second.
pub(crate) async fn walk(name: &str, url: &str, settle: Duration) -> Verified {
    let checks = steps::run(name, url, settle).await;
    Verified {
        url: url.to_string(),
        ok: checks.iter().all(|c| c.ok),
        checks,
    }
}

/// Where the room answers: on AWS the recorded stage URL; against an emulator (`AWS_ENDPOINT_URL`) the
/// stage under the emulator's address, where LocalStack serves it.
pub(crate) fn room_url(name: &str, profile: &Profile) -> Result<String> {
    let deployment = &profile.deployment;
    if let Some(endpoint) = emulator() {
        if let Some(api) = deployment.resources.get("api") {
            return Ok(emulator_stage_url(&endpoint, api));
        }
    }
    deployment
        .waiting_room_url
        .clone()
        .ok_or_else(|| CliError::NotDeployed(name.to_string()))
}

pub(crate) fn emulator() -> Option<String> {
    std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|e| !e.trim().is_empty())
}

/// LocalStack's path form of a stage URL.
pub(crate) fn emulator_stage_url(endpoint: &str, api: &str) -> String {
    format!(
        "{}/restapis/{api}/{}/_user_request_/",
        endpoint.trim_end_matches('/'),
        apigw::STAGE
    )
}

/// Every route is relative to the room URL, which must end in `/`.
fn normalise(url: &str) -> String {
    let url = url.trim();
    if url.ends_with('/') {
        url.to_string()
    } else {
        format!("{url}/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_room_url_always_ends_in_a_slash() {
        assert_eq!(
            normalise(" https://x.example/live "),
            "https://x.example/live/"
        );
        assert_eq!(
            normalise("https://x.example/live/"),
            "https://x.example/live/"
        );
    }

    #[test]
    fn the_emulator_url_is_localstacks_path_form() {
        assert_eq!(
            emulator_stage_url("http://127.0.0.1:4566/", "abc123"),
            "http://127.0.0.1:4566/restapis/abc123/live/_user_request_/"
        );
    }

    #[test]
    fn the_report_shows_each_step_and_the_fix_for_a_failure() {
        let v = Verified {
            url: "https://r.example/live/".into(),
            ok: false,
            checks: vec![
                Check {
                    step: "page",
                    ok: true,
                    millis: 84,
                    detail: "200, the waiting page".into(),
                    fix: None,
                },
                Check {
                    step: "jwks",
                    ok: false,
                    millis: 12,
                    detail: "404".into(),
                    fix: Some("run `beekeeper deploy p`".into()),
                },
            ],
        };
        let text = v.to_string();
        assert!(text.contains("ok   page"), "{text}");
        assert!(text.contains("FAIL jwks"), "{text}");
        assert!(
            text.contains("what to do: run `beekeeper deploy p`"),
            "{text}"
        );
        assert!(
            text.ends_with("does not serve visitors yet (see above)."),
            "{text}"
        );
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["checks"][1]["fix"], "run `beekeeper deploy p`");
        assert!(json["checks"][0].get("fix").is_none());
    }
}
