//! Harness for the full-stack suite: a profile in a temp config directory, the CLI binary pointed at the
//! shared LocalStack with the workspace's release zips, and SDK clients on LocalStack to read back and
//! drive what `deploy` built.

pub mod browser;
pub mod verify;
pub mod visitor;
pub mod walk;

use crate::common::Aws;
use beekeeper_testkit::localstack::{self, LocalStack};
use std::path::PathBuf;
use std::process::{Command, Output};

pub const FUNCTIONS: [&str; 4] = ["producer", "trigger", "consumer", "drt"];

/// One deployed-room profile on LocalStack.
pub struct Stack {
    pub profile: String,
    pub region: String,
    pub ls: &'static LocalStack,
    dir: tempfile::TempDir,
}

/// The zips `cargo lambda build` made (tests/run builds them before `cargo test`). The functions run
/// for real here, so fake zips will not do: a missing build fails naming the command.
/// `BEEKEEPER_LAMBDA_DIR` points elsewhere, as it does for the CLI.
pub fn lambda_dir() -> PathBuf {
    let dir = std::env::var_os("BEEKEEPER_LAMBDA_DIR").map_or_else(
        || {
            std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(
                    || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
                    PathBuf::from,
                )
                .join("lambda")
        },
        PathBuf::from,
    );
    let missing: Vec<String> = FUNCTIONS
        .iter()
        .map(|f| format!("beekeeper-{f}-lambda/bootstrap.zip"))
        .filter(|z| !dir.join(z).is_file())
        .collect();
    assert!(
        missing.is_empty(),
        "{} lacks {missing:?}. The full-stack suite runs the functions deploy uploads; build them first \
         with `cargo lambda build --profile lambda --output-format zip -p beekeeper-producer-lambda -p \
         beekeeper-trigger-lambda -p beekeeper-consumer-lambda -p beekeeper-drt-lambda` (tests/run does)",
        dir.display()
    );
    dir
}

/// The architecture of this machine, which the local Lambda sandbox runs the zips on.
fn host_architecture() -> &'static str {
    if cfg!(target_arch = "aarch64") {
        "arm64"
    } else {
        "x86_64"
    }
}

impl Stack {
    pub fn new(profile: &str) -> Stack {
        let ls = localstack::shared();
        let dir = tempfile::tempdir().unwrap();
        let stack = Stack {
            profile: profile.into(),
            region: "us-east-1".into(),
            ls,
            dir,
        };
        std::fs::create_dir_all(stack.config_dir()).unwrap();
        let toml = format!(
            "[profiles.{profile}.room]\nprofile = \"{profile}\"\ndisplay_name = \"Room {profile}\"\n\
             region = \"{}\"\ndestination = \"https://shop.example.com/sale\"\nrate = 300\n\
             drt = false\nsession_minutes = 30\naccent_colour = \"#c75b12\"\narchitecture = \"{}\"\n",
            stack.region,
            host_architecture()
        );
        std::fs::write(stack.config_dir().join("config.toml"), toml).unwrap();
        stack
    }

    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    pub fn prefix(&self) -> String {
        format!("beekeeper-{}-", self.profile)
    }

    /// Runs the CLI against LocalStack with dummy credentials and no ambient AWS configuration. Where
    /// `tests/run` built a beekeeper carrying its functions (`BEEKEEPER_EMBEDDED_BIN`), that one runs,
    /// from an empty directory and with no `--lambda-dir`: the room is deployed, walked and destroyed
    /// by the binary an operator downloads (issue 28). Otherwise this suite's build, with the zips.
    pub fn run(&self, args: &[&str]) -> Output {
        let none = self.dir.path().join("none");
        let work = self.dir.path().join("work");
        let _ = std::fs::create_dir_all(&work);
        let (binary, zips) = match std::env::var_os("BEEKEEPER_EMBEDDED_BIN") {
            Some(carrying) => (PathBuf::from(carrying), None),
            None => (
                PathBuf::from(env!("CARGO_BIN_EXE_beekeeper")),
                Some(lambda_dir()),
            ),
        };
        let mut cmd = Command::new(binary);
        match zips {
            Some(dir) => cmd.env("BEEKEEPER_LAMBDA_DIR", dir),
            None => cmd.env_remove("BEEKEEPER_LAMBDA_DIR"),
        };
        cmd.current_dir(&work)
            .args(args)
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_DEFAULT_REGION")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("BEEKEEPER_FAIL_AT")
            .env("AWS_REGION", &self.region)
            .env("AWS_ENDPOINT_URL", &self.ls.endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_CONFIG_FILE", &none)
            .env("AWS_SHARED_CREDENTIALS_FILE", &none)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("BEEKEEPER_CONFIG_DIR", self.config_dir())
            .env("BEEKEEPER_RETRY_BASE_MS", "50")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }

    /// Runs and insists on success, showing both streams and LocalStack's log if not.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "beekeeper {args:?} failed ({:?})\nstdout:\n{}\nstderr:\n{}\nLocalStack's log:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.ls.log_tail(80)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Where LocalStack serves a deployed stage with AWS's layout (`/live/` at the root of the API's own
    /// host): it routes `{api}.execute-api.<anything>` by host name. `*.localhost` is loopback to a
    /// browser and a secure context, so the room's `Secure` cookies with `Path=/live/` behave as on AWS.
    /// (LocalStack's other form, `/restapis/{api}/live/_user_request_/`, would put the stage under a path
    /// the room's cookies and links do not name.)
    pub fn stage_url(&self, api_id: &str) -> String {
        let port = self.ls.endpoint.rsplit(':').next().unwrap();
        format!("http://{api_id}.execute-api.localhost:{port}/live/")
    }

    pub async fn aws(&self) -> Aws {
        let conf = beekeeper_testkit::sdk_config_at(&self.ls.endpoint, &self.region).await;
        // LocalStack's community edition has no AWS WAF; the room deploys without it.
        Aws {
            waf: None,
            ..Aws::new(&conf)
        }
    }
}

impl Stack {
    /// Disables the room's EventBridge rules so nothing but the suite releases visitors: LocalStack's
    /// scheduler fires every ~60 s counted from its own start, which would make "still waiting" a race.
    /// `destroy` must remove the rules all the same.
    pub async fn hold_the_schedules(&self, aws: &Aws) {
        let rules = aws
            .events
            .list_rules()
            .name_prefix(self.prefix())
            .send()
            .await
            .unwrap();
        for rule in rules.rules() {
            aws.events
                .disable_rule()
                .name(rule.name().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}
