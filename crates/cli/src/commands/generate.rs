//! `beekeeper completions SHELL` and `beekeeper man`: generated from the clap definitions themselves at
//! run time, so neither can drift from the commands a build really has.

use crate::cli::Cli;
use crate::error::{CliError, Result};
use crate::output;
use clap::CommandFactory;
use clap_complete::Shell;

pub(crate) fn completions(shell: Shell) {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "beekeeper", &mut out);
    output::raw(&out);
}

pub(crate) fn man() -> Result<()> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| CliError::BadRequest {
            what: "man page",
            detail: e.to_string(),
        })?;
    output::raw(&out);
    Ok(())
}
