//! What the operator sees while a command works: one line per step (a spinner on a terminal, plain lines
//! in CI logs, nothing in JSON mode so stdout stays machine-readable), and yes/no questions that never
//! wait for an answer nobody can give.

use crate::cli::OutputFormat;
use crate::error::{CliError, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fmt::Display;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Clone)]
enum Mode {
    /// Spinners on stderr; a `MultiProgress` so overlapping steps do not draw over each other.
    Spinner(MultiProgress),
    /// One line per finished step on stderr (redirected output, CI).
    Plain,
    /// `--output json`: progress would only be noise next to the JSON on stdout.
    Silent,
}

/// Reports the steps of a long command (deploy, destroy).
#[derive(Clone)]
pub(crate) struct Progress {
    mode: Mode,
}

impl Progress {
    pub(crate) fn new(format: OutputFormat) -> Progress {
        let mode = match format {
            OutputFormat::Json => Mode::Silent,
            OutputFormat::Text if std::io::stderr().is_terminal() => {
                Mode::Spinner(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
            }
            OutputFormat::Text => Mode::Plain,
        };
        Progress { mode }
    }

    /// Starts a step; finish it with [`Step::done`], [`Step::skipped`] or [`Step::failed`]. A step
    /// dropped unfinished (an early `?`) is shown as failed, so the last line says where it stopped.
    pub(crate) fn step(&self, what: impl Into<String>) -> Step {
        let what = what.into();
        let bar = match &self.mode {
            Mode::Spinner(multi) => {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(spinner_style());
                bar.set_message(what.clone());
                bar.enable_steady_tick(Duration::from_millis(100));
                Some(bar)
            }
            Mode::Plain | Mode::Silent => None,
        };
        Step {
            what,
            bar,
            mode: self.mode.clone(),
            finished: false,
        }
    }

    /// A line that is not a step (a warning, a decision taken), printed above any running spinner.
    pub(crate) fn note(&self, line: impl Display) {
        match &self.mode {
            Mode::Spinner(multi) => {
                if multi.println(line.to_string()).is_err() {
                    eprintln!("{line}");
                }
            }
            Mode::Plain => eprintln!("{line}"),
            Mode::Silent => {}
        }
    }
}

/// What a long command tells the operator: its steps as they run ([`Progress`]) and the changes it made,
/// kept for the summary at the end ("rate 300 → 1200", "created queue …").
pub(crate) struct Reporter {
    progress: Progress,
    changes: Mutex<Vec<String>>,
}

impl Reporter {
    pub(crate) fn new(progress: Progress) -> Reporter {
        Reporter {
            progress,
            changes: Mutex::new(Vec::new()),
        }
    }

    /// See [`Progress::step`].
    pub(crate) fn step(&self, what: impl Into<String>) -> Step {
        self.progress.step(what)
    }

    /// See [`Progress::note`].
    pub(crate) fn note(&self, line: impl Display) {
        self.progress.note(line)
    }

    /// Notes a change for the summary (also logged, for `BEEKEEPER_LOG=info`).
    pub(crate) fn changed(&self, what: impl Into<String>) {
        let what = what.into();
        tracing::info!("{what}");
        if let Ok(mut c) = self.changes.lock() {
            c.push(what);
        }
    }

    /// The changes noted so far, in order.
    pub(crate) fn changes(&self) -> Vec<String> {
        self.changes.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

fn spinner_style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn finished_style() -> ProgressStyle {
    ProgressStyle::with_template("{msg}").unwrap_or_else(|_| ProgressStyle::default_spinner())
}

fn done_line(what: &str, detail: &str) -> String {
    if detail.is_empty() {
        format!("✓ {what}")
    } else {
        format!("✓ {what} — {detail}")
    }
}

/// One step in progress.
pub(crate) struct Step {
    what: String,
    bar: Option<ProgressBar>,
    mode: Mode,
    finished: bool,
}

impl Step {
    /// The step changed something; `detail` (may be empty) says what, e.g. a created resource's ARN.
    pub(crate) fn done(mut self, detail: impl Display) {
        let line = done_line(&self.what, &detail.to_string());
        self.finish(line);
    }

    /// Nothing needed doing, e.g. `skipped("unchanged")`.
    pub(crate) fn skipped(mut self, reason: impl Display) {
        let line = format!("- {} ({reason})", self.what);
        self.finish(line);
    }

    pub(crate) fn failed(mut self, err: &dyn Display) {
        let line = format!("✗ {}: {err}", self.what);
        self.finish(line);
    }

    fn finish(&mut self, line: String) {
        self.finished = true;
        match (&self.bar, &self.mode) {
            (Some(bar), _) => {
                bar.set_style(finished_style());
                bar.finish_with_message(line);
            }
            (None, Mode::Plain) => eprintln!("{line}"),
            (None, _) => {}
        }
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        if !self.finished {
            let line = format!("✗ {}", self.what);
            self.finish(line);
        }
    }
}

/// Whether questions can be asked: someone must be able to type (stdin) and see them (stderr).
pub(crate) fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks a yes/no question on the terminal. Without one it fails at once (it never waits on a pipe), so
/// scripts pass `--yes` instead.
pub(crate) fn confirm(prompt: &str, default: bool) -> Result<bool> {
    if !interactive() {
        return Err(CliError::NoTerminal {
            what: format!("an answer to {prompt:?} (pass --yes to confirm)"),
        });
    }
    exit_on_interrupt();
    dialoguer::Confirm::new()
        .with_prompt(prompt)
        .default(default)
        .interact_on(&dialoguer::console::Term::stderr())
        .map_err(prompt_error)
}

/// Maps a failed prompt: Ctrl-C (dialoguer reports it as an `Interrupted` read) becomes
/// [`CliError::Cancelled`], exit code 130, with the cursor a select prompt hid shown again.
pub(crate) fn prompt_error(err: dialoguer::Error) -> CliError {
    let dialoguer::Error::IO(io) = err;
    if io.kind() == std::io::ErrorKind::Interrupted {
        restore_terminal();
        CliError::Cancelled
    } else {
        CliError::Terminal(io)
    }
}

fn restore_terminal() {
    if !std::io::stderr().is_terminal() {
        return;
    }
    let term = dialoguer::console::Term::stderr();
    // Best effort: the process is about to exit either way.
    let _ = term.show_cursor();
    let _ = term.write_line("");
}

/// A prompt reads keys in raw mode and answers Ctrl-C by raising SIGINT itself. Without a handler that
/// would kill the process mid-prompt (exit by signal, cursor possibly hidden); with this one installed,
/// the prompt returns `Interrupted` (mapped to [`CliError::Cancelled`]) and a Ctrl-C at any later point
/// still ends the command, with code 130 and the terminal restored.
pub(crate) fn exit_on_interrupt() {
    #[cfg(unix)]
    {
        use std::sync::Once;
        static INSTALLED: Once = Once::new();
        INSTALLED.call_once(|| {
            let Ok(handle) = tokio::runtime::Handle::try_current() else {
                return;
            };
            let _guard = handle.enter();
            let Ok(mut sigint) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            else {
                return;
            };
            handle.spawn(async move {
                if sigint.recv().await.is_some() {
                    // Let a prompt that saw the same Ctrl-C return `Cancelled` first; exit regardless.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    restore_terminal();
                    eprintln!("error: cancelled");
                    std::process::exit(130);
                }
            });
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupted_prompt_is_a_cancellation_with_exit_code_130() {
        let err = prompt_error(dialoguer::Error::IO(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "read interrupted",
        )));
        assert!(matches!(err, CliError::Cancelled));
        assert_eq!(err.exit_code(), std::process::ExitCode::from(130));
        let other = prompt_error(dialoguer::Error::IO(std::io::Error::other("gone")));
        assert!(matches!(other, CliError::Terminal(_)));
    }

    #[test]
    fn finished_steps_read_as_one_line_each() {
        assert_eq!(done_line("Creating queue q", ""), "✓ Creating queue q");
        assert_eq!(
            done_line("Creating queue q", "https://x/q"),
            "✓ Creating queue q — https://x/q"
        );
    }
}
