//! The CLI's errors. Every variant carries enough to print the cause and a fix; [`report`] prints both.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    #[error(transparent)]
    Invalid(#[from] beekeeper_core::Error),
    #[error("profile {0:?} not found")]
    ProfileNotFound(String),
    #[error("the config file {path} is not valid: {detail}")]
    CorruptConfig { path: PathBuf, detail: String },
    #[error("could not {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("missing {what} and no terminal to ask on")]
    NoTerminal { what: String },
    #[error("cancelled")]
    Cancelled,
    #[error(transparent)]
    Room(#[from] beekeeper_room::Error),
}

impl CliError {
    /// What the operator should do next.
    pub(crate) fn hint(&self) -> Option<String> {
        match self {
            CliError::ProfileNotFound(_) => Some(
                "run `beekeeper init` to create it, or `beekeeper config` to list profiles".into(),
            ),
            CliError::CorruptConfig { path, .. } => Some(format!(
                "fix the file by hand, or move it away and run `beekeeper init` again (it was not changed: {})",
                path.display()
            )),
            CliError::NoTerminal { .. } => {
                Some("pass the missing flags (see `beekeeper init --help`), or --yes to accept defaults".into())
            }
            _ => None,
        }
    }

    pub(crate) fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Cancelled => ExitCode::from(130),
            CliError::Invalid(_) | CliError::NoTerminal { .. } => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        }
    }
}

pub(crate) type Result<T, E = CliError> = std::result::Result<T, E>;

pub(crate) fn report(e: &CliError) {
    eprintln!("error: {e}");
    if let Some(h) = e.hint() {
        eprintln!("  hint: {h}");
    }
}
