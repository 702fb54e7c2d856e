//! `beekeeper watch`: the room live during a sale. A [`Source`] (a deployed room, or `beekeeper dev`)
//! fills a [`Frame`] every `--interval`; on a terminal the frame is drawn full screen with keys that act
//! on the room ([`screen`]), otherwise each refresh prints one line (`--output json`: one object).

mod aws;
mod dev;
mod frame;
mod screen;

use crate::cli::{OutputFormat, WatchArgs};
use crate::error::{CliError, Result};
use crate::output;
use aws::AwsSource;
use beekeeper_room::{Clock, SystemClock};
use dev::DevSource;
use frame::Frame;
use ratatui::crossterm::event::{self, Event, KeyEventKind, KeyModifiers};
use screen::{Action, Keys, Step};
use std::io::IsTerminal;
use std::time::Duration;

/// Where the frames come from, and what the keys act on.
enum Source {
    Aws(Box<AwsSource>),
    Dev(DevSource),
}

impl Source {
    /// Refreshes `frame`; a failed read is named in it, never ends the watch (a connection drops, the
    /// operator still needs the screen).
    async fn refresh(&mut self, frame: &mut Frame) {
        let now = SystemClock.now_secs();
        match self {
            Source::Aws(s) => s.read(now, frame).await,
            Source::Dev(s) => {
                if let Err(e) = s.read(now, frame).await {
                    frame.at = now;
                    frame.unread = vec![format!("the dev room ({e})")];
                }
            }
        }
        frame.alerts = frame.alerts();
    }

    /// Does what a key asked; what happened, in a line.
    async fn act(&mut self, action: Action) -> String {
        let done = match (self, action) {
            (Source::Aws(s), Action::Switch(open)) => super::room::switch(s.profile(), open)
                .await
                .map(|o| o.to_string()),
            (Source::Aws(s), Action::Rate(rate)) => super::room::set_rate(rate, s.profile())
                .await
                .map(|o| o.to_string()),
            (Source::Aws(s), Action::Redrive) => super::redrive::run(s.profile())
                .await
                .map(|o| o.to_string()),
            (Source::Dev(s), Action::Switch(open)) => {
                let said = if open {
                    "room on: visitors wait in line"
                } else {
                    "room off: visitors go straight to the destination"
                };
                s.control(serde_json::json!({ "open": open }))
                    .await
                    .map(|()| said.to_string())
            }
            (Source::Dev(s), Action::Rate(rate)) => s
                .control(serde_json::json!({ "rate": rate }))
                .await
                .map(|()| format!("rate now {rate} a release minute")),
            (Source::Dev(_), Action::Redrive) => {
                Ok("dev has no dead-letter queue: nothing to redrive".to_string())
            }
        };
        match done {
            // The outcome's first line (the rest says what `status` shows anyway).
            Ok(text) => text.lines().next().unwrap_or_default().to_string(),
            Err(e) => match e.hint() {
                Some(h) => format!("error: {e} ({h})"),
                None => format!("error: {e}"),
            },
        }
    }
}

pub(crate) async fn run(args: WatchArgs, format: OutputFormat) -> Result<()> {
    let mut frame = Frame::default();
    // The first read must work: a watch of nothing is an error to fix, not a screen of zeros.
    let source = match &args.profile {
        Some(p) => {
            let mut aws = Source::Aws(Box::new(AwsSource::connect(p).await?));
            aws.refresh(&mut frame).await;
            aws
        }
        None => {
            let mut dev = DevSource::new(&args.url)?;
            dev.read(SystemClock.now_secs(), &mut frame).await?;
            frame.alerts = frame.alerts();
            Source::Dev(dev)
        }
    };
    let interval = Duration::from_secs(args.interval);
    if format == OutputFormat::Text
        && std::io::stdout().is_terminal()
        && std::io::stdin().is_terminal()
    {
        full_screen(source, frame, interval, args.count).await
    } else {
        lines(source, frame, interval, args.count, format).await
    }
}

/// Without a terminal: a line a refresh, until `count` lines or the reader goes away.
async fn lines(
    mut source: Source,
    mut frame: Frame,
    interval: Duration,
    count: Option<u64>,
    format: OutputFormat,
) -> Result<()> {
    let mut printed = 0;
    loop {
        if !output::line(format, &frame) {
            return Ok(());
        }
        printed += 1;
        if count.is_some_and(|c| printed >= c) {
            return Ok(());
        }
        tokio::time::sleep(interval).await;
        source.refresh(&mut frame).await;
    }
}

/// Puts the terminal back however the view ends (ratatui's own hook covers a panic).
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// The full-screen view: redrawn on every refresh and key; keys are read on a thread of their own,
/// since crossterm's read blocks.
async fn full_screen(
    mut source: Source,
    mut frame: Frame,
    interval: Duration,
    count: Option<u64>,
) -> Result<()> {
    let mut term = ratatui::try_init().map_err(CliError::Terminal)?;
    let _restore = Restore;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        while let Ok(ev) = event::read() {
            if tx.send(ev).is_err() {
                break;
            }
        }
    });
    let mut keys = Keys::default();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut refreshes = 1;
    loop {
        term.draw(|tui| screen::draw(tui, &frame, &keys))
            .map_err(CliError::Terminal)?;
        tokio::select! {
            _ = tick.tick() => {
                if count.is_some_and(|c| refreshes >= c) {
                    return Ok(());
                }
                source.refresh(&mut frame).await;
                refreshes += 1;
            }
            ev = rx.recv() => {
                let Some(ev) = ev else { return Ok(()) };
                let Event::Key(key) = ev else { continue };
                if key.kind != KeyEventKind::Press {
                    continue;
                }
                let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
                match keys.press(key.code, ctrl, frame.open) {
                    Step::Quit => return Ok(()),
                    Step::Nothing => {}
                    Step::Do(action) => {
                        keys.said = Some("working…".into());
                        term.draw(|tui| screen::draw(tui, &frame, &keys)).map_err(CliError::Terminal)?;
                        keys.said = Some(source.act(action).await);
                        source.refresh(&mut frame).await;
                    }
                }
            }
        }
    }
}
