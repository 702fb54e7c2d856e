//! One module per command; `run` dispatches.

mod config;
mod deploy;
mod destroy;
mod dev;
mod generate;
mod init;
mod plan;
mod redrive;
mod report;
mod room;
mod rotate_key;
mod status;
mod verify;
mod watch;

use crate::aws;
use crate::cli::{Cli, Command, OutputFormat};
use crate::error::Result;
use crate::profile::Profile;
use crate::provision::record::Recorder;
use crate::provision::{Aws, Ctx};
use crate::ui::{Progress, Reporter};
use std::path::PathBuf;

pub(crate) async fn run(cli: Cli) -> Result<()> {
    let format = cli.output;
    match cli.command {
        Command::Init(args) => init::run(args, format),
        Command::Deploy(args) => deploy::run(args, format).await,
        Command::Off(p) => print(format, room::switch(&p.profile, false).await?),
        Command::On(p) => print(format, room::switch(&p.profile, true).await?),
        Command::SetRate(args) => print(format, room::set_rate(args.rate, &args.profile).await?),
        Command::Status(p) => status::run(&p.profile, format).await,
        Command::Watch(args) => watch::run(args, format).await,
        Command::Verify(args) => verify::run(args, format).await,
        Command::Redrive(p) => print(format, redrive::run(&p.profile).await?),
        Command::RotateKey(args) => rotate_key::run(args, format).await,
        Command::Destroy(args) => destroy::run(args, format).await,
        Command::Config => config::run(format),
        Command::Dev(args) => dev::run(args).await,
        Command::Plan(args) => plan::run(args, format).await,
        Command::Report(args) => report::run(args, format).await,
        Command::Completions(args) => {
            generate::completions(args.shell);
            Ok(())
        }
        Command::Man => generate::man(),
    }
}

/// Prints a command's outcome (text or JSON) and succeeds.
fn print<T: std::fmt::Display + serde::Serialize>(format: OutputFormat, outcome: T) -> Result<()> {
    crate::output::print(format, &outcome);
    Ok(())
}

/// What `deploy` and `destroy` start with: the credentials checked (and, for a profile that has a
/// deployment, its account), then the context they provision in, recording into the profile at `path`.
async fn provisioning_ctx(
    region: &str,
    profile: Option<&Profile>,
    name: &str,
    path: PathBuf,
    format: OutputFormat,
) -> Result<Ctx> {
    let progress = Progress::new(format);
    let conf = aws::sdk_config(region).await;
    let step = progress.step("Checking AWS credentials");
    let account = aws::check_credentials(&conf).await?;
    // Another account holds nothing of this room: working there would wrongly create or empty it.
    if let Some(p) = profile {
        p.check_account(&account)?;
    }
    step.done(format!("account {account}, region {region}"));
    let deployment = profile.map(|p| p.deployment.clone()).unwrap_or_default();
    let record = Recorder::new(path, name, deployment);
    let aws = Aws::new(conf, region, &account);
    Ok(Ctx::new(aws, Reporter::new(progress), name, record))
}
