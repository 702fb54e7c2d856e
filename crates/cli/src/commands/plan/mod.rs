//! `beekeeper plan [P] --visitors N [--over D | --curve FILE] [--rate R]`: before a sale, whether the
//! room and the account will hold it. This module only wires: it reads the profile and the account's
//! limits, hands both to the simulation crate's forecast (pure arithmetic), and prints the answer.

mod limits;
mod view;

use crate::cli::{OutputFormat, PlanArgs};
use crate::error::{CliError, Result};
use crate::output;
use crate::profile::{ConfigFile, config_path};
use crate::provision::lambda::sizing;
use beekeeper_core::config::{Architecture, DEFAULT_SESSION_MINUTES, validate_rate};
use beekeeper_core::gateway::validate_share;
use beekeeper_core::names::{Function, Names};
use beekeeper_sim::forecast::{Arrivals, Sale, forecast, parse_curve, parse_duration, stage};
use std::io::IsTerminal;
use view::{Crowd, PlanView};

/// The burst's length when neither --over nor --curve is given: the seed's one minute.
const DEFAULT_OVER_SECS: u64 = 60;

/// What the profile (if any) says about the room.
struct Room {
    name: Option<String>,
    rate: Option<u32>,
    drt: bool,
    arm64: bool,
    session_minutes: u32,
    waf: bool,
    gateway_share: Option<u32>,
    region: Option<String>,
}

async fn room(args: &PlanArgs) -> Result<Room> {
    let Some(name) = &args.profile else {
        let region = match &args.region {
            Some(r) => Some(r.clone()),
            None => configured_region().await,
        };
        return Ok(Room {
            name: None,
            rate: None,
            drt: false,
            arm64: false,
            session_minutes: DEFAULT_SESSION_MINUTES,
            waf: false,
            gateway_share: None,
            region,
        });
    };
    let file = ConfigFile::load(&config_path()?)?;
    let p = file.get(name)?;
    if let Some(r) = &args.region {
        p.check_region(r)?;
    }
    Ok(Room {
        name: Some(name.clone()),
        rate: Some(p.room.rate),
        drt: p.room.drt,
        arm64: p.room.architecture == Architecture::Arm64,
        session_minutes: p.room.session_minutes,
        waf: p.room.waf_limit.is_some(),
        gateway_share: p.room.gateway_share,
        region: Some(p.deployed_region().to_string()),
    })
}

/// The region of the standard AWS configuration (`AWS_REGION`, the config file's profile), if any.
async fn configured_region() -> Option<String> {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    conf.region().map(|r| r.to_string())
}

fn flag(flag: &'static str, e: beekeeper_sim::Error) -> CliError {
    CliError::Flag {
        flag,
        problem: e.to_string(),
    }
}

fn visitors(text: &str) -> Result<u64> {
    let digits = text.trim().replace(['_', ','], "");
    let n: u64 = digits.parse().map_err(|_| CliError::Flag {
        flag: "visitors",
        problem: format!("{text:?} is not a whole number; give the crowd, e.g. --visitors 300000"),
    })?;
    if n == 0 {
        return Err(CliError::Flag {
            flag: "visitors",
            problem: "0 visitors: give the crowd you expect, e.g. --visitors 300000".into(),
        });
    }
    Ok(n)
}

/// The arrival curve the flags describe, and how to say it.
fn crowd(args: &PlanArgs) -> Result<(Arrivals, Crowd)> {
    let n = args.visitors.as_deref().map(visitors).transpose()?;
    if let Some(path) = &args.curve {
        let text = std::fs::read_to_string(path).map_err(|source| CliError::Io {
            action: "read the curve file",
            path: path.clone(),
            source,
        })?;
        let minutes = parse_curve(&text).map_err(|e| flag("curve", e))?;
        let shape = Arrivals::per_minute(&minutes).map_err(|e| flag("curve", e))?;
        let arrivals = match n {
            Some(n) => shape.scaled_to(n).map_err(|e| flag("visitors", e))?,
            None => shape,
        };
        let how = Crowd::Curve {
            file: path.display().to_string(),
            minutes: minutes.len() as u64,
            scaled: n.is_some(),
        };
        return Ok((arrivals, how));
    }
    let Some(n) = n else {
        return Err(CliError::Flag {
            flag: "visitors",
            problem: "give the crowd you expect, e.g. --visitors 300000 --over 60s, or an arrival \
                      curve with --curve FILE"
                .into(),
        });
    };
    let secs = match &args.over {
        Some(d) => parse_duration(d).map_err(|e| flag("over", e))?,
        None => DEFAULT_OVER_SECS,
    };
    let arrivals = Arrivals::burst(n, secs).map_err(|e| flag("visitors", e))?;
    Ok((
        arrivals,
        Crowd::Burst {
            secs,
            default: args.over.is_none(),
        },
    ))
}

pub(crate) async fn run(args: PlanArgs, format: OutputFormat) -> Result<()> {
    let room = room(&args).await?;
    let (arrivals, how) = crowd(&args)?;
    let rate = match (args.rate, room.rate) {
        (Some(r), _) => validate_rate(r)?,
        (None, Some(r)) => r,
        (None, None) => {
            return Err(CliError::Flag {
                flag: "rate",
                problem:
                    "without a profile, give the users let through per minute, e.g. --rate 3000"
                        .into(),
            });
        }
    };
    let names = room.name.as_deref().map(Names::new);
    let read = limits::read(room.region.as_deref(), names.as_ref()).await;
    let mb = |f: Function| u32::try_from(sizing(f).0).unwrap_or(128);
    let sale = Sale {
        arrivals,
        waiting: args.waiting,
        rate,
        drt: room.drt,
        arm64: room.arm64,
        session_minutes: room.session_minutes,
        waf: room.waf,
        producer_mb: mb(Function::Producer),
        release_mb: mb(Function::Consumer),
        gateway_share: match args.gateway_share {
            Some(p) => Some(validate_share(p)?),
            None => room.gateway_share,
        },
    };
    let forecast = forecast(&sale, &read.limits).map_err(|e| flag("visitors", e))?;
    let share = stage(&sale, &read.limits);
    let view = PlanView {
        profile: room.name,
        region: room.region,
        account: read.account,
        crowd: how,
        drt: room.drt,
        gateway_limit: read.limits.gateway_rate,
        gateway_limit_source: read.limits.gateway_source,
        gateway_share_percent: share.share_percent,
        gateway_room_rate: share.room_rate(),
        lambda_limit: read.limits.lambda_limit,
        lambda_limit_source: read.limits.lambda_source,
        forecast,
        sparklines: std::io::stdout().is_terminal(),
    };
    output::print(format, &view);
    Ok(())
}
