//! `beekeeper status P`: what an operator watches during a sale — is the room open, how fast is the line
//! moving, how long is it, and did anyone get stuck (the dead-letter queue).

use super::room::{Connected, deployed_room};
use crate::aws::sdk_error;
use crate::cli::OutputFormat;
use crate::error::{CliError, Result};
use crate::output;
use crate::output::grouped;
use crate::provision::graph::{Part, optional, record_key};
use crate::provision::{alarms, apigw, sns};
use aws_config::SdkConfig;
use aws_sdk_sqs::operation::get_queue_url::GetQueueUrlError;
use aws_sdk_sqs::types::QueueAttributeName;
use beekeeper_core::gateway::{DEFAULT_SHARE_PERCENT, StageLimits};
use beekeeper_room::canary::CanaryStore as _;
use beekeeper_room::{Clock, SystemClock};
use serde::Serialize;
use std::fmt;

/// Messages in one queue right now (SQS's approximate counts).
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Depth {
    pub visible: u64,
    pub in_flight: u64,
}

#[derive(Debug, Serialize)]
struct Drt {
    enabled: bool,
    /// The drt function's last decision, as it wrote it.
    last_decision: Option<String>,
    baseline_ms: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
struct Throttle {
    room_rate: u32,
    account_rate: u32,
}

/// What watches the room: its alarms, its dashboard, and where the alarms email.
#[derive(Debug, Serialize)]
struct Watching {
    /// The room's alarms that exist, with their states; `None` when CloudWatch could not be read.
    alarms: Option<Vec<alarms::AlarmState>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alarms_error: Option<String>,
    dashboard_url: String,
    alert_email: Option<String>,
    /// Whether the address clicked SNS's link (`None`: no address, or SNS could not be read).
    alert_email_confirmed: Option<bool>,
    /// The canary's walkers, as the trigger left them (`None`: `deploy` has not given it the room's
    /// URL yet, or its item could not be read, which `canary_error` says).
    canary: Option<beekeeper_core::canary::State>,
    #[serde(skip_serializing_if = "Option::is_none")]
    canary_error: Option<String>,
    /// When this was read (epoch seconds), for the canary's due times.
    #[serde(skip)]
    now: u64,
}

impl Watching {
    async fn read(c: &Connected) -> Watching {
        let region = c.profile.deployed_region();
        let cloudwatch = aws_sdk_cloudwatch::Client::new(&c.config);
        let (alarms, alarms_error) = match alarms::states(&cloudwatch, &c.config, &c.names).await {
            Ok(a) => (Some(a), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let alert_email = c.profile.room.alert_email.clone();
        let alert_email_confirmed = match &alert_email {
            Some(email) => {
                let topic = sns::topic_arn_in(region, &c.account, &c.names);
                let client = aws_sdk_sns::Client::new(&c.config);
                let subs = sns::subscriptions(&client, &c.config, &topic).await;
                subs.ok()
                    .map(|s| s.iter().any(|s| &s.email == email && s.confirmed))
            }
            None => None,
        };
        let (canary, canary_error) = match c.table.canary().await {
            Ok((url, state)) => (url.map(|_| state), None),
            Err(e) => (None, Some(e.to_string())),
        };
        Watching {
            alarms,
            alarms_error,
            dashboard_url: alarms::dashboard_url(region, &c.names),
            alert_email,
            alert_email_confirmed,
            canary,
            canary_error,
            now: SystemClock.now_secs(),
        }
    }

    fn show(&self, f: &mut fmt::Formatter<'_>, profile: &str) -> fmt::Result {
        match (&self.alarms, &self.alarms_error) {
            (Some(a), _) if a.is_empty() => writeln!(
                f,
                "  alarms          none set yet: run `beekeeper deploy {profile}`"
            )?,
            (Some(a), _) => {
                let firing: Vec<&alarms::AlarmState> =
                    a.iter().filter(|a| a.state == "ALARM").collect();
                match firing.len() {
                    0 => writeln!(f, "  alarms          {}, none firing", a.len())?,
                    n => writeln!(f, "  alarms          {n} of {} FIRING:", a.len())?,
                }
                for a in firing {
                    writeln!(f, "                  {}: {}", a.name, a.description)?;
                }
            }
            (None, e) => writeln!(
                f,
                "  alarms          could not be read: {}",
                e.as_deref().unwrap_or("no answer")
            )?,
        }
        writeln!(f, "  dashboard       {}", self.dashboard_url)?;
        match (&self.alert_email, self.alert_email_confirmed) {
            (Some(e), Some(true)) => writeln!(f, "  alert email     {e} (confirmed)")?,
            (Some(e), Some(false)) => writeln!(
                f,
                "  alert email     {e}, NOT CONFIRMED: click the link AWS emailed to it (or `beekeeper deploy {profile}` if it was never sent)"
            )?,
            (Some(e), None) => writeln!(f, "  alert email     {e} (SNS could not be read)")?,
            (None, _) => writeln!(
                f,
                "  alert email     none (`init --alert-email ADDRESS` adds one)"
            )?,
        }
        self.show_canary(f, profile)
    }

    fn show_canary(&self, f: &mut fmt::Formatter<'_>, profile: &str) -> fmt::Result {
        let state = match (&self.canary, &self.canary_error) {
            (_, Some(e)) => return writeln!(f, "  canary          could not be read: {e}"),
            (None, None) => {
                return writeln!(
                    f,
                    "  canary          not walking yet: `beekeeper deploy {profile}` gives it the room's URL"
                );
            }
            (Some(s), None) => s,
        };
        let late = beekeeper_core::canary::overdue(state, self.now);
        write!(
            f,
            "  canary          {} in line ({late} late), one joins every 5 minutes while open",
            state.out.len()
        )?;
        if let Some(t) = &state.last_through {
            let took = t.took_secs();
            write!(
                f,
                "; the last through took {}m{:02}s, at {}",
                took / 60,
                took % 60,
                utc(t.at).get(11..16).unwrap_or_default()
            )?;
        }
        writeln!(f)?;
        match &state.last_failure {
            Some(fail) => writeln!(
                f,
                "                  last failure at {}: {}",
                utc(fail.at).get(11..16).unwrap_or_default(),
                fail.what
            ),
            None => Ok(()),
        }
    }
}

#[derive(Debug, Serialize)]
struct Status {
    profile: String,
    account: String,
    region: String,
    open: bool,
    /// Users/minute let through now (DRT may hold it under `base_rate`).
    rate: u32,
    base_rate: u32,
    min_rate: u32,
    /// Visitors waiting in the queue now.
    queue_depth: u64,
    /// Visitors being released this very moment (taken from the queue, not yet deleted).
    in_flight: u64,
    /// Visitors back at the front after their turn passed while they were away, waiting to be let in
    /// again (within a minute).
    returning: u64,
    /// Visitors whose release failed repeatedly and were moved aside.
    dlq_depth: u64,
    released_total: u64,
    drt: Drt,
    /// The per-client limit the profile asks for (requests per address per 5 minutes; `None`: off),
    /// and whether the last deploy put it on the stage.
    per_client_limit: Option<u32>,
    per_client_limit_deployed: bool,
    /// The share of the region's API Gateway quota the profile gives the room (percent), and what the
    /// last deploy set on the stage: the routes' total and the account's quota (requests/s).
    gateway_share_percent: u32,
    gateway_throttle: Option<Throttle>,
    /// Epoch seconds of the room item's last write.
    updated_at: u64,
    updated_at_utc: String,
    destination: String,
    waiting_room_url: Option<String>,
    client_check_url: Option<String>,
    #[serde(flatten)]
    watching: Watching,
    #[serde(skip)]
    now: u64,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.open {
            "OPEN (visitors wait in line)"
        } else {
            "CLOSED (visitors go straight to the destination)"
        };
        writeln!(f, "room {}  —  {state}", self.profile)?;
        writeln!(f, "  account         {} ({})", self.account, self.region)?;
        writeln!(f, "  destination     {}", self.destination)?;
        if let Some(u) = &self.waiting_room_url {
            writeln!(f, "  waiting room    {u}")?;
        }
        if self.rate == self.base_rate {
            writeln!(f, "  rate            {}/min", self.rate)?;
        } else {
            writeln!(
                f,
                "  rate            {}/min (base {}/min, held down by DRT)",
                self.rate, self.base_rate
            )?;
        }
        writeln!(f, "  min rate        {}/min", self.min_rate)?;
        let wait = match (self.queue_depth, self.rate) {
            (0, _) => String::new(),
            (_, 0) => " (wait unknown)".into(),
            (d, r) => format!(
                " (about {} min to clear at the current rate)",
                d.div_ceil(u64::from(r))
            ),
        };
        writeln!(f, "  in line         {}{wait}", self.queue_depth)?;
        writeln!(f, "  being released  {}", self.in_flight)?;
        if self.returning > 0 {
            writeln!(
                f,
                "  back at front   {} (their turn came while they were away; let in next)",
                self.returning
            )?;
        }
        writeln!(f, "  released        {} in total", self.released_total)?;
        if self.dlq_depth > 0 {
            writeln!(
                f,
                "  dead letters    {}  → run `beekeeper redrive {}` to put them back in line",
                self.dlq_depth, self.profile
            )?;
        } else {
            writeln!(f, "  dead letters    0")?;
        }
        if self.drt.enabled {
            let last = self.drt.last_decision.as_deref().unwrap_or("none yet");
            let baseline = self
                .drt
                .baseline_ms
                .map(|b| format!("{b:.0} ms"))
                .unwrap_or_else(|| "not measured yet".into());
            writeln!(
                f,
                "  DRT             on; last decision: {last}; baseline latency {baseline}"
            )?;
        } else {
            writeln!(f, "  DRT             off")?;
        }
        match (self.per_client_limit, self.per_client_limit_deployed) {
            (Some(l), true) => writeln!(
                f,
                "  per client      {l} requests per address per 5 min (AWS WAF)"
            )?,
            (Some(l), false) => writeln!(
                f,
                "  per client      {l} per address per 5 min asked for, not deployed yet: run `beekeeper deploy {}`",
                self.profile
            )?,
            (None, true) => writeln!(
                f,
                "  per client      off in the profile, still on the stage: run `beekeeper deploy {}`",
                self.profile
            )?,
            (None, false) => writeln!(f, "  per client      no limit (`init --waf` adds one)")?,
        }
        self.gateway(f)?;
        self.watching.show(f, &self.profile)?;
        write!(
            f,
            "  updated         {} ({} ago)",
            self.updated_at_utc,
            ago(self.now.saturating_sub(self.updated_at))
        )?;
        Ok(())
    }
}

impl Status {
    /// The room's part of the region's gateway quota, and whether the stage has what the profile asks.
    fn gateway(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(t) = self.gateway_throttle else {
            return writeln!(
                f,
                "  gateway         {}% of the region's quota asked for; not recorded on the stage yet: run `beekeeper deploy {}`",
                self.gateway_share_percent, self.profile
            );
        };
        let share = StageLimits::new(t.account_rate, Some(self.gateway_share_percent));
        write!(
            f,
            "  gateway         routes throttled at {} requests/s in all, of the account's {} (the rest is your other APIs')",
            grouped(f64::from(t.room_rate)),
            grouped(f64::from(t.account_rate))
        )?;
        if share.room_rate() != t.room_rate {
            write!(
                f,
                "; the profile asks for {}%: run `beekeeper deploy {}`",
                self.gateway_share_percent, self.profile
            )?;
        }
        writeln!(f)
    }
}

fn ago(secs: u64) -> String {
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        7200..=172_799 => format!("{} h", secs / 3600),
        _ => format!("{} days", secs / 86_400),
    }
}

/// `2026-03-01T12:00:00Z` from epoch seconds (UTC; the civil-from-days algorithm, to avoid a date crate
/// for one line of output).
pub(crate) fn utc(epoch: u64) -> String {
    let days = (epoch / 86_400) as i64;
    let rem = epoch % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Visible and in-flight counts of the queue called `name`.
pub(crate) async fn depth(
    config: &SdkConfig,
    client: &aws_sdk_sqs::Client,
    name: &str,
    profile: &str,
) -> Result<Depth> {
    let url = match client.get_queue_url().queue_name(name).send().await {
        Ok(out) => crate::provision::required(out.queue_url, "sqs GetQueueUrl", "QueueUrl")?,
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(GetQueueUrlError::QueueDoesNotExist(_))
            ) =>
        {
            return Err(CliError::NotDeployed(profile.to_string()));
        }
        Err(e) => return Err(sdk_error(config, "sqs", "GetQueueUrl", e)),
    };
    let out = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .map_err(|e| sdk_error(config, "sqs", "GetQueueAttributes", e))?;
    let count = |a: QueueAttributeName| -> u64 {
        out.attributes()
            .and_then(|m| m.get(&a))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok(Depth {
        visible: count(QueueAttributeName::ApproximateNumberOfMessages),
        in_flight: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    })
}

pub(crate) async fn run(name: &str, format: OutputFormat) -> Result<()> {
    let c = deployed_room(name).await?;
    let sqs = aws_sdk_sqs::Client::new(&c.config);
    let (queue_name, dlq_name) = (c.names.queue(), c.names.dlq());
    let front_name = c.names.front_queue();
    let (queue, front, dlq) = futures::try_join!(
        depth(&c.config, &sqs, &queue_name, name),
        depth(&c.config, &sqs, &front_name, name),
        depth(&c.config, &sqs, &dlq_name, name),
    )?;
    let watching = Watching::read(&c).await;
    let r = c.room;
    let status = Status {
        profile: c.name,
        account: c.account,
        region: c.profile.deployed_region().to_string(),
        open: r.open,
        rate: r.rate,
        base_rate: r.base_rate,
        min_rate: r.min_rate,
        queue_depth: queue.visible,
        in_flight: queue.in_flight,
        returning: front.visible + front.in_flight,
        dlq_depth: dlq.visible + dlq.in_flight,
        released_total: r.released_total,
        drt: Drt {
            enabled: c.profile.room.drt,
            last_decision: r.drt_last,
            baseline_ms: r.drt_baseline_ms,
        },
        per_client_limit: c.profile.room.waf_limit,
        per_client_limit_deployed: optional::recorded(&c.profile.deployment, Part::Waf)
            == Some(true),
        gateway_share_percent: c
            .profile
            .room
            .gateway_share
            .unwrap_or(DEFAULT_SHARE_PERCENT),
        gateway_throttle: c
            .profile
            .deployment
            .resources
            .get(&record_key(Part::Stage, Some(apigw::THROTTLE)))
            .and_then(|v| apigw::recorded_throttle(v))
            .map(|(room_rate, account_rate)| Throttle {
                room_rate,
                account_rate,
            }),
        updated_at: r.updated_at,
        updated_at_utc: utc(r.updated_at),
        destination: r.destination,
        waiting_room_url: c.profile.deployment.waiting_room_url,
        client_check_url: c.profile.deployment.client_check_url,
        watching,
        now: SystemClock.now_secs(),
    };
    output::print(format, &status);
    // On stderr in both modes, so a script reading the JSON still surfaces it to a person.
    if status.dlq_depth > 0 {
        eprintln!(
            "warning: {} visitor(s) in {dlq_name} could not be released after repeated tries and are out of the \
             line; check the consumer function's logs, then run `beekeeper redrive {}` to put them back",
            status.dlq_depth, status.profile
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Watching` as `status` prints it, for the room `drop`.
    struct Shown(Watching);

    impl fmt::Display for Shown {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.show(f, "drop")
        }
    }

    fn alarm(name: &str, state: &str) -> alarms::AlarmState {
        alarms::AlarmState {
            name: name.into(),
            state: state.into(),
            description: format!("{name} means trouble: run `beekeeper redrive drop`"),
        }
    }

    fn watching(alarms: Option<Vec<alarms::AlarmState>>, email: Option<bool>) -> String {
        Shown(Watching {
            alarms,
            alarms_error: Some("AccessDenied".into()),
            dashboard_url: "https://console/dash".into(),
            alert_email: email.map(|_| "ops@example.com".into()),
            alert_email_confirmed: email,
            canary: None,
            canary_error: None,
            now: 0,
        })
        .to_string()
    }

    #[test]
    fn the_canary_says_who_is_out_how_long_the_last_took_and_what_failed() {
        use beekeeper_core::canary::{Failure, State, Through, Walker};
        let now = 1_772_366_645;
        let state = State {
            out: vec![Walker {
                token: "t".into(),
                ticket: 9,
                joined: now - 400,
                due: now - 100,
                rate: 60,
            }],
            last_through: Some(Through {
                joined: now - 700,
                at: now - 450,
                due: now - 400,
            }),
            last_failure: Some(Failure {
                at: now - 60,
                what: "GET /poll answered 502".into(),
            }),
            ..State::default()
        };
        let shown = |canary, canary_error| {
            Shown(Watching {
                alarms: Some(Vec::new()),
                alarms_error: None,
                dashboard_url: String::new(),
                alert_email: None,
                alert_email_confirmed: None,
                canary,
                canary_error,
                now,
            })
            .to_string()
        };
        let out = shown(Some(state), None);
        assert!(
            out.contains("canary          1 in line (1 late), one joins every 5 minutes while open; the last through took 4m10s, at 11:56"),
            "{out}"
        );
        assert!(
            out.contains("last failure at 12:03: GET /poll answered 502"),
            "{out}"
        );
        assert!(shown(None, None).contains("not walking yet: `beekeeper deploy drop`"));
        assert!(
            shown(None, Some("AccessDenied".into()))
                .contains("canary          could not be read: AccessDenied")
        );
    }

    #[test]
    fn a_firing_alarm_is_named_with_its_fix_and_an_unconfirmed_email_is_called_out() {
        let quiet = vec![alarm("beekeeper-drop-throttled", "OK")];
        let out = watching(Some(quiet), Some(true));
        assert!(out.contains("alarms          1, none firing"), "{out}");
        assert!(
            out.contains("alert email     ops@example.com (confirmed)"),
            "{out}"
        );
        assert!(
            out.contains("dashboard       https://console/dash"),
            "{out}"
        );

        let firing = vec![
            alarm("beekeeper-drop-dead-letters", "ALARM"),
            alarm("beekeeper-drop-throttled", "INSUFFICIENT_DATA"),
        ];
        let out = watching(Some(firing), Some(false));
        assert!(out.contains("1 of 2 FIRING"), "{out}");
        assert!(
            out.contains("beekeeper-drop-dead-letters: beekeeper-drop-dead-letters means trouble: run `beekeeper redrive drop`"),
            "{out}"
        );
        assert!(
            !out.contains("beekeeper-drop-throttled:"),
            "only what fires is listed: {out}"
        );
        assert!(out.contains("NOT CONFIRMED: click the link"), "{out}");

        let out = watching(Some(Vec::new()), None);
        assert!(
            out.contains("none set yet: run `beekeeper deploy drop`"),
            "{out}"
        );
        assert!(
            out.contains("`init --alert-email ADDRESS` adds one"),
            "{out}"
        );
        let out = watching(None, None);
        assert!(out.contains("could not be read: AccessDenied"), "{out}");
    }

    #[test]
    fn epoch_seconds_read_as_utc() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_772_366_645), "2026-03-01T12:04:05Z");
        assert_eq!(ago(59), "59 s");
        assert_eq!(ago(600), "10 min");
    }
}
