//! One module per command; `run` dispatches.

mod config;
mod deploy;
mod destroy;
mod dev;
mod init;
mod plan;
mod redrive;
mod room;
mod status;

use crate::cli::{Cli, Command};
use crate::error::Result;

pub(crate) async fn run(cli: Cli) -> Result<()> {
    let format = cli.output;
    match cli.command {
        Command::Init(args) => init::run(args, format),
        Command::Deploy(args) => deploy::run(args, format).await,
        Command::Off(p) => room::switch(&p.profile, false, format).await,
        Command::On(p) => room::switch(&p.profile, true, format).await,
        Command::SetRate(args) => room::set_rate(args, format).await,
        Command::Status(p) => status::run(&p.profile, format).await,
        Command::Redrive(p) => redrive::run(&p.profile, format).await,
        Command::Destroy(args) => destroy::run(args, format).await,
        Command::Config => config::run(format),
        Command::Dev(args) => dev::run(args).await,
        Command::Plan(args) => plan::run(args, format).await,
    }
}
