//! The command line as the team's DESIGN.md (kept beside this repository, `../shared/DESIGN.md`) and
//! README.md describe it. Only argument shapes live here; each command's behaviour lives in `commands/`.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "beekeeper",
    version,
    long_version = crate::provision::lambda_zip::LONG_VERSION,
    about = "A serverless virtual waiting room in your own AWS account",
    long_about = "Beekeeper provisions a virtual waiting room on AWS (API Gateway, Lambda, SQS, DynamoDB, S3, \
                  EventBridge) that holds a crowd and lets it through to your site at the rate you choose.\n\n\
                  Start with `beekeeper dev` to see a room on this machine, then `beekeeper init` and \
                  `beekeeper deploy`.",
    after_long_help = EXIT_STATUS
)]
pub struct Cli {
    /// How to print results.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    pub(crate) output: OutputFormat,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create or change a profile (prompts for anything its flags did not give).
    Init(InitArgs),
    /// Create or update every AWS resource of a profile; prints the two URLs.
    Deploy(DeployArgs),
    /// Close the room: visitors go straight to the destination.
    Off(ProfileArg),
    /// Open the room: visitors wait in line again.
    On(ProfileArg),
    /// Change how many visitors are let through per minute (also DRT's ceiling).
    SetRate(SetRateArgs),
    /// Show whether the room is open, its rate, the line and what was released.
    Status(ProfileArg),
    /// During a sale: the room live, full screen (the line, the flow a minute, the gateway, the
    /// functions, alerts with their fix), with keys to open or close it, set the rate and redrive.
    /// Without a terminal, one line per interval (`--output json`: one JSON object per line).
    Watch(WatchArgs),
    /// Walk the live room as a visitor would (page, poll, client-check, pass keys) and say what works;
    /// the synthetic visitor never confirms its place, so it takes no real visitor's slot.
    Verify(VerifyArgs),
    /// Move visitors from the dead-letter queue back into the line (see `status`).
    Redrive(ProfileArg),
    /// Replace the key that signs visitors' passes; the old public key stays published until every
    /// pass it signed has expired (`--revoke`: dropped at once, for a leaked key).
    RotateKey(RotateKeyArgs),
    /// Remove every AWS resource of a profile, also after a failed deploy.
    Destroy(DestroyArgs),
    /// List profiles and their deployed URLs.
    Config,
    /// Run the whole room on this machine, no AWS account needed.
    Dev(DevArgs),
    /// Before a sale: will the room and the account hold this crowd? Peaks against every limit, time to
    /// drain the line, the longest wait and the cost.
    Plan(PlanArgs),
    /// After a sale: one self-contained HTML file of it (arrivals, the line, released against the plan,
    /// passed over, errors), charted from CloudWatch, and the same figures as JSON.
    Report(ReportArgs),
    /// Print a shell completion script, e.g. `beekeeper completions bash >
    /// ~/.local/share/bash-completion/completions/beekeeper`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff), e.g. `beekeeper man > ~/.local/share/man/man1/beekeeper.1`.
    Man,
}

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// What `--help` and the man page say about how `beekeeper` ends.
const EXIT_STATUS: &str = "Exit status: 0 done; 1 the command failed (the message says why and what to \
do); 2 the command line or a setting is wrong, or the command needs a confirmation (--yes) or a \
terminal it did not get (nothing was changed); 130 cancelled (Ctrl-C at a prompt, or a question answered no).\n\n\
Environment: AWS credentials, profile and region come from the standard AWS chain; AWS_ENDPOINT_URL \
points every client at an emulator; BEEKEEPER_CONFIG_DIR holds the profiles; BEEKEEPER_LOG sets the \
log filter; NO_COLOR turns colour off.";

#[derive(Debug, Args)]
pub(crate) struct ProfileArg {
    /// The profile (see `beekeeper config`).
    pub profile: String,
}

#[derive(Debug, Args)]
pub(crate) struct InitArgs {
    /// Profile name: lowercase letters, digits and '-' (names every AWS resource).
    #[arg(long)]
    pub profile: Option<String>,
    /// Name shown on the waiting-room page.
    #[arg(long)]
    pub name: Option<String>,
    /// AWS region to deploy to.
    #[arg(long)]
    pub region: Option<String>,
    /// Where admitted visitors go (absolute http/https URL).
    #[arg(long)]
    pub destination: Option<String>,
    /// What dynamic rate throttling probes instead of the destination: a URL that answers 2xx without
    /// redirecting (redirects and 4xx count as errors). Default: the destination.
    #[arg(long)]
    pub health_url: Option<String>,
    /// Visitors let through per minute (1-100000).
    #[arg(long)]
    pub rate: Option<i64>,
    /// Slow the release automatically when the destination struggles.
    #[arg(long, overrides_with = "no_drt")]
    pub drt: bool,
    /// Keep the rate fixed.
    #[arg(long = "no-drt", overrides_with = "drt")]
    pub no_drt: bool,
    /// The lowest rate DRT may set (default: a tenth of --rate).
    #[arg(long)]
    pub min_rate: Option<i64>,
    /// How long a released visitor's pass stays valid, in minutes.
    #[arg(long)]
    pub session_minutes: Option<i64>,
    /// Accent colour of the page, e.g. #c75b12.
    #[arg(long)]
    pub accent_colour: Option<String>,
    /// An image file shown on the page.
    #[arg(long)]
    pub logo: Option<PathBuf>,
    /// Lambda architecture the zips were built for.
    #[arg(long, value_enum)]
    pub architecture: Option<ArchArg>,
    /// Days CloudWatch keeps the functions' logs (default 14; one of CloudWatch's periods: 1, 3, 5, 7,
    /// 14, 30, 60, 90, 120, 150, 180, 365, ...).
    #[arg(long)]
    pub log_retention_days: Option<i64>,
    /// A per-client limit in front of the room (AWS WAF): each IP address may send LIMIT requests per
    /// 5 minutes to the visitor routes (default 3000, or the profile's), and ten times as many to
    /// /client-check. A web ACL costs about $7 a month while the room is deployed, even idle.
    #[arg(long, value_name = "LIMIT", num_args = 0..=1, overrides_with = "no_waf")]
    pub waf: Option<Option<i64>>,
    /// No per-client limit: `deploy` removes the web ACL.
    #[arg(long = "no-waf", overrides_with = "waf")]
    pub no_waf: bool,
    /// How much of the region's API Gateway quota the room's routes may add up to, in percent (10 to
    /// 100; default 80, leaving the rest to your other APIs in the region, which share the quota).
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent)]
    pub gateway_share: Option<i64>,
    /// Where the room's alarms email (through an SNS topic): dead letters, 5xx, a release behind the
    /// plan, throttles. AWS first emails the address a link to confirm; `status` says whether it was.
    #[arg(long, value_name = "ADDRESS", overrides_with = "no_alert_email")]
    pub alert_email: Option<String>,
    /// No alert email: `deploy` removes the topic (the alarms stay, in CloudWatch and `status`).
    #[arg(long = "no-alert-email", overrides_with = "alert_email")]
    pub no_alert_email: bool,
    /// Accept defaults for everything not given and overwrite an existing profile without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// `80` or `80%`.
fn parse_percent(s: &str) -> std::result::Result<i64, String> {
    s.trim()
        .trim_end_matches('%')
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a percentage: give a whole number such as 80 (or 80%)"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ArchArg {
    X86_64,
    Arm64,
}

#[derive(Debug, Args)]
pub(crate) struct DeployArgs {
    pub profile: String,
    /// Where the `bootstrap.zip` of each function is (default: target/lambda).
    #[arg(long, env = "BEEKEEPER_LAMBDA_DIR")]
    pub lambda_dir: Option<PathBuf>,
    /// Skip the synthetic visitor `deploy` sends through the room at the end (`beekeeper verify`).
    #[arg(long, env = "BEEKEEPER_NO_VERIFY", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_verify: bool,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    pub profile: String,
    /// Walk this URL instead of the deployed one (your own domain in front of the room, or `beekeeper
    /// dev`); the profile then only names the commands the fixes suggest.
    #[arg(long)]
    pub url: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct SetRateArgs {
    pub profile: String,
    /// Visitors per minute (1-100000).
    pub rate: i64,
}

#[derive(Debug, Args)]
pub(crate) struct RotateKeyArgs {
    pub profile: String,
    /// Drop the replaced keys from the JWKS at once instead of when their passes expire: for a key
    /// that leaked. Every pass they signed stops verifying, including those consumers sign in the next
    /// five minutes, until they pick up the new key.
    #[arg(long)]
    pub revoke: bool,
    /// Do not ask for confirmation of `--revoke`.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DestroyArgs {
    pub profile: String,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DevArgs {
    /// Port of the waiting room (the demo destination listens on the next one).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Visitors let through per minute.
    #[arg(long)]
    pub rate: Option<i64>,
    /// A real destination instead of the built-in demo.
    #[arg(long)]
    pub destination: Option<String>,
    /// Use this profile's settings and branding.
    #[arg(long)]
    pub profile: Option<String>,
    /// Length of a release "minute" in seconds, to rehearse a sale quickly.
    #[arg(long, default_value_t = 60)]
    pub minute_secs: u64,
    /// Walk the canary as a deployed room's trigger does: a synthetic visitor through the room every
    /// five (release) minutes, each taking one place.
    #[arg(long)]
    pub canary: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// The profile (see `beekeeper config`).
    pub profile: String,
    /// How far back the report reaches (e.g. 90m, 2h, 1h30m; at most a week).
    #[arg(long, default_value = "3h")]
    pub since: String,
    /// Where the HTML goes (default: beekeeper-PROFILE-report.html here).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// The profile (see `beekeeper config`); leave it out with --dev.
    #[arg(required_unless_present = "dev", conflicts_with = "dev")]
    pub profile: Option<String>,
    /// Watch `beekeeper dev` on this machine instead (a rehearsal shows the same screen).
    #[arg(long)]
    pub dev: bool,
    /// The dev room's address, with --dev.
    #[arg(long, default_value = "http://127.0.0.1:8080", requires = "dev")]
    pub url: String,
    /// Seconds between refreshes of the room's state (1 to 300); CloudWatch's minute figures are
    /// read once a minute whatever this is.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub interval: u64,
    /// Stop after this many refreshes (default: until q, or Ctrl-C without a terminal).
    #[arg(long)]
    pub count: Option<u64>,
}

#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// A profile (its rate, DRT, region and architecture); without one, --rate and AWS's defaults.
    pub profile: Option<String>,
    /// The crowd you expect (e.g. 300000 or 300_000). With --curve: scales the curve to this total.
    #[arg(long)]
    pub visitors: Option<String>,
    /// How long the arrivals are spread over, evenly (e.g. 60s, 5m, 1h30m). Default 60s.
    #[arg(long, conflicts_with = "curve")]
    pub over: Option<String>,
    /// A CSV of arrivals per minute: "minute,arrivals" or "arrivals" lines.
    #[arg(long)]
    pub curve: Option<PathBuf>,
    /// Visitors let through per minute (default: the profile's rate).
    #[arg(long)]
    pub rate: Option<i64>,
    /// Visitors already in line when the arrivals start.
    #[arg(long, default_value_t = 0)]
    pub waiting: u64,
    /// The region whose limits to read, without a profile (default: the AWS configuration's).
    #[arg(long)]
    pub region: Option<String>,
    /// The room's share of the region's API Gateway quota, in percent (default: the profile's, else 80).
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent)]
    pub gateway_share: Option<i64>,
}
