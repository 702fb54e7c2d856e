//! One module per command; `run` dispatches.

use crate::cli::{Cli, Command};
use crate::error::Result;

pub(crate) async fn run(cli: Cli) -> Result<()> {
    let _format = cli.output;
    match cli.command {
        Command::Init(_) => todo!("init"),
        Command::Deploy(_) => todo!("deploy"),
        Command::Off(_) | Command::On(_) => todo!("off/on"),
        Command::SetRate(_) => todo!("set-rate"),
        Command::Status(_) => todo!("status"),
        Command::Destroy(_) => todo!("destroy"),
        Command::Config => todo!("config"),
        Command::Dev(_) => todo!("dev"),
    }
}
