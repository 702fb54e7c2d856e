//! `beekeeper dev`: the whole waiting room on this machine, no AWS account. Turns flags and an optional
//! profile into a room, takes the ports, says where to look, and runs until Ctrl-C.

use crate::assets;
use crate::cli::DevArgs;
use crate::dev::{Branding, DevRoom, Logo, destination, release, server};
use crate::error::{CliError, Result};
use crate::profile::{ConfigFile, config_path};
use beekeeper_core::config::{self, Architecture, RoomConfig};
use beekeeper_core::contract::RoomState;
use beekeeper_room::canary::CanaryStore as _;
use beekeeper_room::memory::MemoryTable;
use beekeeper_room::{Clock, SystemClock};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};

/// Fast enough that a demo visibly moves within a minute or two.
const DEV_RATE: u32 = 60;
/// How long open connections (waiting pages keep one alive) get to finish after Ctrl-C.
const DRAIN: Duration = Duration::from_secs(3);

pub(crate) async fn run(args: DevArgs) -> Result<()> {
    if !(1..=3600).contains(&args.minute_secs) {
        return Err(CliError::Flag {
            flag: "minute-secs",
            problem: format!("{} is outside 1-3600 seconds", args.minute_secs),
        });
    }
    let minute = Duration::from_secs(args.minute_secs);
    let config = settings(&args)?;
    let demo_port = match &args.destination {
        Some(_) => None,
        None if args.profile.is_some() => None,
        None => Some(demo_port(args.port)?),
    };
    let config = match demo_port {
        Some(p) => RoomConfig {
            destination: format!("http://127.0.0.1:{p}/"),
            ..config
        },
        None => config,
    };
    let branding = branding(&config)?;

    let room_listener = listen(args.port, "waiting room").await?;
    let demo_listener = match demo_port {
        Some(p) => Some(listen(p, "demo destination").await?),
        None => None,
    };

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let table = MemoryTable::with_room(RoomState::initial(&config, clock.now_secs()));
    let origin = format!("http://127.0.0.1:{}", args.port);
    let room_origin = origin.clone();
    let room = DevRoom::new(
        table,
        clock,
        branding,
        args.minute_secs,
        &format!("{origin}/"),
    )
    .map_err(CliError::Room)?;
    print_banner(&origin, &config, demo_port.is_some(), args.minute_secs);

    let (stop, stopped) = watch::channel(false);
    let mut servers = vec![tokio::spawn(serve(
        room_listener,
        server::router(room.clone()),
        stopped.clone(),
    ))];
    if let Some(l) = demo_listener {
        let own = config.destination.clone();
        servers.push(tokio::spawn(serve(
            l,
            destination::router(origin, &own),
            stopped,
        )));
    }
    if args.canary {
        room.table
            .set_canary_url(&format!("{}/", room_origin))
            .await
            .map_err(CliError::Room)?;
    }
    let releasing = release::spawn(room, minute, args.canary).map_err(CliError::Room)?;

    shutdown_signal().await;
    info!("stopping");
    releasing.abort();
    let _ = stop.send(true);
    let drained = tokio::time::timeout(DRAIN, futures::future::join_all(servers)).await;
    if drained.is_err() {
        warn!("some connections were still open after {DRAIN:?}; closed them");
    }
    Ok(())
}

/// The dev room's settings: the profile's if one is named, else a demo room; then the flags on top.
fn settings(args: &DevArgs) -> Result<RoomConfig> {
    let mut config = match &args.profile {
        Some(p) => ConfigFile::load(&config_path()?)?.get(p)?.room.clone(),
        None => RoomConfig {
            profile: "dev".into(),
            display_name: "Beekeeper dev room".into(),
            region: config::DEFAULT_REGION.into(),
            destination: String::new(),
            rate: DEV_RATE,
            drt: false,
            min_rate: None,
            session_minutes: config::DEFAULT_SESSION_MINUTES,
            accent_colour: None,
            logo: None,
            architecture: Architecture::default(),
            health_url: None,
            log_retention_days: None,
            waf_limit: None,
            gateway_share: None,
            alert_email: None,
        },
    };
    if let Some(rate) = args.rate {
        config.rate = config::validate_rate(rate)?;
        // A profile's floor above the new rate would make the room item inconsistent.
        config.min_rate = config.min_rate.filter(|m| *m <= config.rate);
    }
    if let Some(d) = &args.destination {
        config::validate_destination(d)?;
        config.destination = d.clone();
    }
    Ok(config)
}

fn demo_port(port: u16) -> Result<u16> {
    match port.checked_add(1) {
        Some(p) if port != 0 => Ok(p),
        _ => Err(CliError::Flag {
            flag: "port",
            problem: format!(
                "{port} leaves no port for the demo destination (it takes --port + 1); pick one like 8080"
            ),
        }),
    }
}

/// The page's branding and the logo, read once: a logo that cannot be read is an error now, not a broken
/// image later.
fn branding(config: &RoomConfig) -> Result<Branding> {
    let page = assets::page_branding(config);
    let logo = match (&config.logo, &page.logo) {
        (Some(path), Some(name)) => {
            let bytes = std::fs::read(path).map_err(|source| CliError::Io {
                action: "read the logo",
                path: PathBuf::from(path),
                source,
            })?;
            let content_type = mime_guess::from_path(name)
                .first_raw()
                .unwrap_or("application/octet-stream");
            Some(Logo {
                name: name.clone(),
                content_type,
                bytes,
            })
        }
        (Some(path), None) => {
            warn!("logo {path} is not a png, jpg, gif, svg or webp file; the page shows none");
            None
        }
        _ => None,
    };
    Ok(Branding { page, logo })
}

async fn listen(port: u16, what: &'static str) -> Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|source| CliError::Listen { port, what, source })
}

async fn serve(listener: TcpListener, router: axum::Router, mut stopped: watch::Receiver<bool>) {
    let stop = async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    if let Err(e) = axum::serve(listener, router)
        .with_graceful_shutdown(stop)
        .await
    {
        warn!("server stopped: {e}");
    }
}

/// Ctrl-C, or SIGTERM from a test harness or a process manager.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // Without a Ctrl-C handler the process can still be killed; wait for SIGTERM alone.
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

fn print_banner(origin: &str, config: &RoomConfig, demo: bool, minute_secs: u64) {
    let dest_label = if demo {
        "Demo destination:"
    } else {
        "Destination:"
    };
    let minute = if minute_secs == 60 {
        "per minute".to_string()
    } else {
        format!("per \"minute\" of {minute_secs} s")
    };
    println!(
        "Beekeeper dev room \"{}\": the whole waiting room on this machine, no AWS account.\n",
        config.display_name
    );
    println!("  Open in a browser:  {origin}/");
    println!("  {dest_label:<19} {}", config.destination);
    println!("  Client check:       {origin}/client-check?token=…");
    println!("  Pass keys (JWKS):   {origin}/.well-known/jwks.json  (bk_pass issuer {origin}/)");
    println!("  Release:            {} visitors {minute}", config.rate);
    println!();
    println!("  Rehearse (loopback only, not in AWS):");
    println!(
        "    curl -H 'Content-Type: application/json' -d '{{\"open\":false}}' {origin}/__dev/room   # or {{\"open\":true}}, {{\"rate\":120}}"
    );
    println!("    curl {origin}/__dev/stats");
    println!();
    println!("Ctrl-C to stop.");
}
