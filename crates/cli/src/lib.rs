//! The `beekeeper` CLI as a library: the binary (`main.rs`) only parses the command line and calls
//! [`run`]; the integration tests build the dev room's routers from [`dev`] in-process and interrupt a
//! deploy at each of [`deploy_steps`].

mod assets;
mod aws;
mod cli;
mod commands;
pub mod dev;
mod error;
mod knobs;
mod output;
mod profile;
mod prompt;
mod provision;
mod ui;

pub use cli::Cli;
pub use provision::graph::steps as deploy_steps;
use std::process::ExitCode;

/// Runs one parsed command line: sets up logging, runs the command, and turns any failure into a
/// message that says what went wrong and what to do, with the exit code scripts rely on.
pub async fn run(cli: Cli) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BEEKEEPER_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_log(&cli.command))),
        )
        .with_ansi(colour(std::io::IsTerminal::is_terminal(&std::io::stderr())))
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

/// Colour only on a terminal, and never when `NO_COLOR` is set to anything (no-color.org). The other
/// output (progress lines, prompts) goes through `console`, which reads `NO_COLOR` itself.
fn colour(terminal: bool) -> bool {
    terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `dev` narrates arrivals and releases (that is its point); every other command stays quiet unless asked.
/// The SDK's credential chain warns about each provider it tried (instance metadata's in several lines)
/// before the command can say "no AWS credentials" itself, which it does with the fix: those are errors
/// only.
fn default_log(command: &cli::Command) -> &'static str {
    match command {
        cli::Command::Dev(_) => {
            "warn,aws_config::meta::credentials=error,aws_config::imds=error,beekeeper::dev=info,\
             beekeeper::commands::dev=info"
        }
        _ => "warn,aws_config::meta::credentials=error,aws_config::imds=error",
    }
}
