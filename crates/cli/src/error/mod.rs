//! The CLI's errors. Every variant carries enough to print the cause and a fix; [`report`] prints both.

mod aws_hint;

pub(crate) use aws_hint::Place;

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
    /// A failure of the room crate other than an AWS call's (those become [`CliError::Aws`] through
    /// `aws::room_failure`, with their place; there is no `From`, so none skips it).
    #[error(transparent)]
    Room(beekeeper_room::Error),
    /// A failed AWS call, classified by the room crate, and where it went so the hint can name the fix.
    #[error("{error}")]
    Aws {
        error: Box<beekeeper_room::AwsError>,
        place: Place,
    },
    /// The profile exists but its room does not (never deployed, or destroyed).
    #[error("profile {0:?} is not deployed")]
    NotDeployed(String),
    /// Flags that have no default even with `--yes`.
    #[error("missing {flags}: they have no default, even with --yes")]
    MissingFlags { flags: String },
    /// Reading an answer from the terminal failed (other than Ctrl-C, which is [`CliError::Cancelled`]).
    #[error("could not read from the terminal: {0}")]
    Terminal(std::io::Error),
    /// A flag whose value no core validator covers (e.g. `dev --minute-secs 0`).
    #[error("--{flag}: {problem}")]
    Flag { flag: &'static str, problem: String },
    /// Test-only fault injection (`BEEKEEPER_FAIL_AT`, test builds) stopped a deploy before `step`.
    #[error(
        "deploy stopped before step {step:?} because BEEKEEPER_FAIL_AT={step} (a test-only switch)"
    )]
    InjectedFailure { step: &'static str },
    #[error("BEEKEEPER_FAIL_AT={step:?} names no deploy step; the steps are {steps}")]
    UnknownFailStep { step: String, steps: String },
    /// A destructive command needs a yes and nobody can type one.
    #[error("`{command}` asks for confirmation, and there is no terminal to ask on")]
    ConfirmationNeeded { command: String },
    /// `deploy` needs the functions' zips, which `cargo lambda build` makes.
    #[error("Lambda packages missing in {}: {}", dir.display(), missing.join(", "))]
    MissingZips {
        dir: PathBuf,
        missing: Vec<String>,
        command: String,
    },
    /// The profile's architecture is not one this binary carries functions for.
    #[error(
        "this beekeeper carries the functions for {carried} only, and the profile runs them on {wanted}"
    )]
    NotCarried {
        wanted: &'static str,
        carried: String,
    },
    /// A function this binary carries no longer matches the checksum taken when it was built in.
    #[error(
        "the {function} function this beekeeper carries for {arch} is damaged (its SHA-256 is {found}, it was built in as {expected}); nothing was created"
    )]
    EmbeddedZipDamaged {
        function: &'static str,
        arch: &'static str,
        expected: &'static str,
        found: String,
    },
    /// A zip whose `bootstrap` cannot run on the profile's Lambda architecture (or is no Linux program).
    #[error("{} is not a Lambda package for {expected}: {problem}", path.display())]
    UnusableZip {
        path: PathBuf,
        expected: &'static str,
        problem: String,
        command: String,
    },
    /// The synthetic visitor found a step of the live room failing (each step says what to do).
    #[error("the room {profile:?} does not serve visitors yet")]
    VerifyFailed { profile: String },
    /// A resource did not reach the state the next step needs in time.
    #[error("{what} did not become ready within {seconds} s")]
    NotReady { what: String, seconds: u64 },
    /// `destroy` could not remove everything; each entry names the resource and why.
    #[error("{} resource(s) of profile {profile:?} are left:\n  {}", left.len(), left.join("\n  "))]
    Leftovers { profile: String, left: Vec<String> },
    /// An AWS answer lacked an id or ARN it always carries.
    #[error("AWS answered {call} without its {field}")]
    MissingInAnswer {
        call: &'static str,
        field: &'static str,
    },
    /// An AWS request could not be built (a bug in Beekeeper, reported instead of a panic).
    #[error("could not build the {what} request: {detail}")]
    BadRequest { what: &'static str, detail: String },
    /// The account's Lambda concurrency cannot hold the room at its rate; found before anything is created.
    #[error(
        "this AWS account can give the room {available} Lambda executions in {region}, but rate {rate}/min \
         needs {needed} reserved (trigger, consumers for two overlapping minutes, drt, and arrivals) while \
         AWS keeps 100 unreserved; nothing was created"
    )]
    AccountTooSmall {
        profile: String,
        region: String,
        rate: u32,
        needed: u32,
        available: u32,
        limit_needed: u32,
        largest_rate: Option<u32>,
    },
    /// `init` asked to move a room that exists: its resources would stay behind in the old region.
    #[error(
        "profile {profile:?} has a room in {deployed}; its region cannot change to {wanted} while that room exists"
    )]
    RegionLocked {
        profile: String,
        deployed: String,
        wanted: String,
    },
    /// The credentials are for another account than the one the room was made in.
    #[error(
        "profile {profile:?} was deployed in AWS account {recorded}, but these credentials are for account {current}"
    )]
    WrongAccount {
        profile: String,
        recorded: String,
        current: String,
    },
    /// Another run of `deploy`/`destroy` holds the profile's lock.
    #[error("profile {profile:?} is locked by {holder}, since {since} ({secs_ago} s ago)")]
    Locked {
        profile: String,
        holder: String,
        since: String,
        secs_ago: u64,
        expires: String,
    },
    /// `watch --dev` found no dev room at its address.
    #[error("no beekeeper dev answers at {url}: {problem}")]
    DevUnreachable { url: String, problem: String },
    /// A local server (`beekeeper dev`) could not take its port.
    #[error("could not listen on 127.0.0.1:{port} for the {what}: {source}")]
    Listen {
        port: u16,
        what: &'static str,
        source: std::io::Error,
    },
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
            CliError::Aws { error, place } => aws_hint::hint(error, Some(place)),
            // Only a room-crate failure not yet wrapped with its place (none should reach here).
            CliError::Room(beekeeper_room::Error::Aws(error)) => aws_hint::hint(error, None),
            CliError::ConfirmationNeeded { command } => Some(format!("run `{command} --yes` to confirm")),
            CliError::DevUnreachable { .. } => Some(
                "start it with `beekeeper dev` in another terminal, or give its address with --url".into(),
            ),
            CliError::InjectedFailure { .. } => Some(
                "unset BEEKEEPER_FAIL_AT; `beekeeper deploy` again finishes the room, `beekeeper destroy` removes it"
                    .into(),
            ),
            CliError::NotCarried { carried, .. } => Some(format!(
                "run `beekeeper init --profile <name> --architecture {}` (then deploy), or give --lambda-dir a \
                 directory of zips built for the profile's architecture",
                // The flag's spelling of the first architecture carried (`x86_64` is `x86-64` there).
                carried.split(' ').next().unwrap_or("x86_64").replace('_', "-")
            )),
            CliError::EmbeddedZipDamaged { .. } => Some(
                "download or install beekeeper again; or deploy zips you built with `--lambda-dir`".into(),
            ),
            CliError::MissingZips { command, .. } => Some(format!(
                "build them with `{command}` in beekeeper's source (needs cargo-lambda); or point --lambda-dir / \
                 BEEKEEPER_LAMBDA_DIR at a directory holding {{crate}}/bootstrap.zip (a release's \
                 beekeeper-functions-<arch>.tar.gz, unpacked); or install a release of beekeeper, which carries \
                 them (README: Install)"
            )),
            CliError::VerifyFailed { profile } => Some(format!(
                "fix the step marked FAIL as it says, then check again with `beekeeper verify {profile}`"
            )),
            CliError::UnusableZip { command, .. } => Some(format!(
                "build the zips for the profile's architecture with `{command}`, or set the profile's \
                 architecture to the zips' with `beekeeper init --profile P --architecture ...`"
            )),
            CliError::MissingInAnswer { .. } => Some(
                "run the same command again, it picks up where it stopped; if this repeats, the endpoint \
                 (AWS_ENDPOINT_URL, a proxy or an emulator) does not answer as AWS does"
                    .into(),
            ),
            CliError::NotReady { .. } => {
                Some("AWS is slow to settle: run the same command again, it picks up where it stopped".into())
            }
            CliError::Leftovers { profile, .. } => Some(format!(
                "run `beekeeper destroy {profile}` again; if a resource keeps failing, remove it in the AWS console"
            )),

            CliError::NotDeployed(p) => Some(format!("run `beekeeper deploy {p}`")),
            CliError::AccountTooSmall {
                profile,
                region,
                limit_needed,
                largest_rate,
                ..
            } => {
                let raise = format!(
                    "ask AWS to raise the Service Quotas quota \"{}\" of AWS Lambda (code {}) in {region} \
                     to at least {limit_needed}",
                    beekeeper_core::concurrency::QUOTA_NAME,
                    beekeeper_core::concurrency::QUOTA_CODE
                );
                Some(match largest_rate {
                    Some(r) => format!(
                        "{raise}, or lower the rate to at most {r}/min (`beekeeper init --profile {profile} \
                         --rate {r}`) and deploy again"
                    ),
                    None => format!("{raise}; until then no rate fits this account"),
                })
            }
            CliError::RegionLocked {
                profile,
                deployed,
                wanted,
            } => Some(format!(
                "run `beekeeper destroy {profile}` to remove the room from {deployed}, then `beekeeper init \
                 --profile {profile} --region {wanted}`; or keep this room and create another profile for {wanted}"
            )),
            CliError::WrongAccount {
                profile, recorded, ..
            } => Some(format!(
                "use credentials for account {recorded} (e.g. AWS_PROFILE=...); to move the room, run \
                 `beekeeper destroy {profile}` with them first"
            )),
            CliError::Locked { expires, .. } => Some(format!(
                "wait for that run to finish, then run this command again; if that run was stopped, \
                 its lock expires at {expires} (it is renewed every 30 s while the run works) and the next \
                 run takes it over"
            )),
            CliError::MissingFlags { .. } => Some(
                "pass them, e.g. `beekeeper init --profile spring-drop --name \"Spring Drop\" \
                 --destination https://shop.example.com --yes`"
                    .into(),
            ),
            CliError::Listen { port, source, .. }
                if source.kind() == std::io::ErrorKind::AddrInUse =>
            {
                Some(format!(
                    "another program (perhaps another `beekeeper dev`) is using port {port}; \
                     pick free ones with --port (the demo destination takes the next port too)"
                ))
            }
            _ => None,
        }
    }

    pub(crate) fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Cancelled => ExitCode::from(130),
            CliError::Invalid(_)
            | CliError::NoTerminal { .. }
            | CliError::Flag { .. }
            | CliError::ConfirmationNeeded { .. }
            | CliError::RegionLocked { .. }
            | CliError::MissingFlags { .. } => ExitCode::from(2),
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
