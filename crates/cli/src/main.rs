//! The `beekeeper` binary: parses the command line, runs one command, and turns any failure into a
//! message that says what went wrong and what to do.

mod assets;
mod aws;
mod cli;
mod commands;
mod dev;
mod error;
mod output;
mod profile;
mod prompt;
mod provision;
mod ui;

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BEEKEEPER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_log(&cli.command))),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    match commands::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error::report(&e);
            e.exit_code()
        }
    }
}

/// `dev` narrates arrivals and releases (that is its point); every other command stays quiet unless asked.
fn default_log(command: &cli::Command) -> &'static str {
    match command {
        cli::Command::Dev(_) => "warn,beekeeper::dev=info,beekeeper::commands::dev=info",
        _ => "warn",
    }
}
