//! The `beekeeper` binary: parses the command line and hands it to the library, which runs the command
//! and prints any failure with its fix.

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    beekeeper::run(beekeeper::Cli::parse()).await
}
