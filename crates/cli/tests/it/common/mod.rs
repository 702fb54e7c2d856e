//! Shared harness for the emulator suites: a temp config directory with one profile, fake Lambda zips,
//! the built `beekeeper` binary pointed at moto, and SDK clients to read back what it created.

pub mod api_checks;
pub mod binary;
pub mod checks;
pub mod lambdas;

use beekeeper_testkit::Moto;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output};

pub const FUNCTIONS: [&str; 4] = ["producer", "trigger", "consumer", "drt"];

/// One room under test: its profile, config dir and zips.
pub struct Room {
    pub profile: String,
    pub region: String,
    pub moto: &'static Moto,
    dir: tempfile::TempDir,
}

/// A Lambda zip as `cargo lambda build --arm64` writes one, but small: its `bootstrap` is an arm64 ELF
/// header (what deploy checks) followed by `comment`, which makes each version's bytes, and so its
/// SHA-256, distinct. moto stores code without running it. The same comment gives the same bytes.
pub fn fake_zip(comment: &str) -> Vec<u8> {
    use std::io::Write;
    let mut elf = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
    elf.resize(18, 0);
    elf.extend_from_slice(&183u16.to_le_bytes());
    elf.resize(64, 0);
    elf.extend_from_slice(comment.as_bytes());
    let options = zip::write::SimpleFileOptions::default()
        .last_modified_time(zip::DateTime::default())
        .unix_permissions(0o755);
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    w.start_file("bootstrap", options).unwrap();
    w.write_all(&elf).unwrap();
    w.finish().unwrap().into_inner()
}

impl Room {
    pub fn new(profile: &str, region: &str, drt: bool) -> Room {
        let moto = beekeeper_testkit::shared();
        let dir = tempfile::tempdir().unwrap();
        let room = Room {
            profile: profile.into(),
            region: region.into(),
            moto,
            dir,
        };
        for f in FUNCTIONS {
            room.write_zip(f, &format!("{f} v1"));
        }
        std::fs::create_dir_all(room.config_dir()).unwrap();
        let toml = format!(
            "[profiles.{profile}.room]\nprofile = \"{profile}\"\ndisplay_name = \"Room {profile}\"\n\
             region = \"{region}\"\ndestination = \"https://shop.example.com/sale\"\nrate = 300\n\
             drt = {drt}\nsession_minutes = 30\naccent_colour = \"#c75b12\"\narchitecture = \"arm64\"\n"
        );
        std::fs::write(room.config_file(), toml).unwrap();
        room
    }

    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }
    pub fn config_file(&self) -> PathBuf {
        self.config_dir().join("config.toml")
    }
    pub fn lambda_dir(&self) -> PathBuf {
        self.dir.path().join("lambda")
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write_zip(&self, function: &str, comment: &str) {
        let d = self
            .lambda_dir()
            .join(format!("beekeeper-{function}-lambda"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("bootstrap.zip"), fake_zip(comment)).unwrap();
    }

    /// Runs the binary with moto's endpoint, dummy credentials and no ambient AWS configuration.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_beekeeper"));
        cmd.args(args)
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("BEEKEEPER_FAIL_AT")
            .env("AWS_ENDPOINT_URL", &self.moto.endpoint)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_CONFIG_FILE", self.path("no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.path("no-aws-credentials"),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("BEEKEEPER_CONFIG_DIR", self.config_dir())
            .env("BEEKEEPER_LAMBDA_DIR", self.lambda_dir())
            .env("BEEKEEPER_RETRY_BASE_MS", "0")
            // moto records the API but serves no stage: the synthetic visitor walks LocalStack's instead.
            .env("BEEKEEPER_NO_VERIFY", "1")
            .stdin(std::process::Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    /// Runs and insists on success, showing both streams if not.
    pub fn ok(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let out = self.run(args, env);
        assert!(
            out.status.success(),
            "beekeeper {args:?} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn deploy_json(&self) -> Value {
        let out = self.ok(&["deploy", &self.profile, "--output", "json"], &[]);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("deploy printed no JSON ({e}):\n{out}"))
    }

    pub fn destroy(&self) -> String {
        self.ok(&["destroy", &self.profile, "--yes"], &[])
    }

    /// Edits the profile's room settings in the config file.
    pub fn edit_room(&self, f: impl FnOnce(&mut toml::Table)) {
        self.edit_profile(|p| f(p.get_mut("room").unwrap().as_table_mut().unwrap()));
    }

    pub fn edit_profile(&self, f: impl FnOnce(&mut toml::Table)) {
        let mut doc: toml::Table =
            toml::from_str(&std::fs::read_to_string(self.config_file()).unwrap()).unwrap();
        let profiles = doc.get_mut("profiles").unwrap().as_table_mut().unwrap();
        f(profiles
            .get_mut(&self.profile)
            .unwrap()
            .as_table_mut()
            .unwrap());
        std::fs::write(self.config_file(), toml::to_string(&doc).unwrap()).unwrap();
    }

    pub fn config_text(&self) -> String {
        std::fs::read_to_string(self.config_file()).unwrap()
    }

    pub async fn aws(&self) -> Aws {
        Aws::new(&beekeeper_testkit::sdk_config(self.moto, &self.region).await)
    }

    pub fn prefix(&self) -> String {
        format!("beekeeper-{}-", self.profile)
    }
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub struct Aws {
    pub iam: aws_sdk_iam::Client,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub ddb: aws_sdk_dynamodb::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub apigw: aws_sdk_apigateway::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    /// `None` where the emulator has no AWS WAF (LocalStack's community edition).
    pub waf: Option<aws_sdk_wafv2::Client>,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sns: aws_sdk_sns::Client,
}

impl Aws {
    /// The AWS WAF client, on an emulator that has one.
    pub fn waf(&self) -> &aws_sdk_wafv2::Client {
        self.waf.as_ref().expect("this emulator has AWS WAF")
    }

    /// One client per service, from `conf` (moto's or LocalStack's endpoint).
    pub fn new(conf: &aws_config::SdkConfig) -> Aws {
        let s3 = aws_sdk_s3::config::Builder::from(conf)
            .force_path_style(true)
            .build();
        Aws {
            iam: aws_sdk_iam::Client::new(conf),
            s3: aws_sdk_s3::Client::from_conf(s3),
            sqs: aws_sdk_sqs::Client::new(conf),
            ddb: aws_sdk_dynamodb::Client::new(conf),
            lambda: aws_sdk_lambda::Client::new(conf),
            events: aws_sdk_eventbridge::Client::new(conf),
            apigw: aws_sdk_apigateway::Client::new(conf),
            logs: aws_sdk_cloudwatchlogs::Client::new(conf),
            secrets: aws_sdk_secretsmanager::Client::new(conf),
            waf: Some(aws_sdk_wafv2::Client::new(conf)),
            cloudwatch: aws_sdk_cloudwatch::Client::new(conf),
            sns: aws_sdk_sns::Client::new(conf),
        }
    }

    /// Everything in the account whose name starts with `prefix`, service by service, listed
    /// independently of the CLI's own code.
    pub async fn everything_named(&self, prefix: &str) -> Vec<String> {
        let mut found = Vec::new();
        let roles = self.iam.list_roles().send().await.unwrap();
        found.extend(
            roles
                .roles()
                .iter()
                .map(|r| r.role_name())
                .filter(|n| n.starts_with(prefix))
                .map(|n| format!("role {n}")),
        );
        let fns = self.lambda.list_functions().send().await.unwrap();
        found.extend(
            fns.functions()
                .iter()
                .filter_map(|f| f.function_name())
                .filter(|n| n.starts_with(prefix))
                .map(|n| format!("function {n}")),
        );
        let rules = self
            .events
            .list_rules()
            .name_prefix(prefix)
            .send()
            .await
            .unwrap();
        found.extend(
            rules
                .rules()
                .iter()
                .filter_map(|r| r.name())
                .map(|n| format!("rule {n}")),
        );
        let queues = self
            .sqs
            .list_queues()
            .queue_name_prefix(prefix)
            .send()
            .await
            .unwrap();
        found.extend(queues.queue_urls().iter().map(|u| format!("queue {u}")));
        let tables = self.ddb.list_tables().send().await.unwrap();
        found.extend(
            tables
                .table_names()
                .iter()
                .filter(|n| n.starts_with(prefix))
                .map(|n| format!("table {n}")),
        );
        let buckets = self.s3.list_buckets().send().await.unwrap();
        found.extend(
            buckets
                .buckets()
                .iter()
                .filter_map(|b| b.name())
                .filter(|n| n.starts_with(prefix))
                .map(|n| format!("bucket {n}")),
        );
        let apis = self.apigw.get_rest_apis().limit(500).send().await.unwrap();
        found.extend(
            apis.items()
                .iter()
                .filter_map(|a| a.name())
                .filter(|n| n.starts_with(prefix))
                .map(|n| format!("api {n}")),
        );
        let groups = self
            .logs
            .describe_log_groups()
            .log_group_name_prefix(format!("/aws/lambda/{prefix}"))
            .send()
            .await
            .unwrap();
        found.extend(
            groups
                .log_groups()
                .iter()
                .filter_map(|g| g.log_group_name())
                .map(|n| format!("log group {n}")),
        );
        // Listed with those scheduled for deletion, which still hold the key: destroy must leave none.
        let secrets = self
            .secrets
            .list_secrets()
            .include_planned_deletion(true)
            .send()
            .await
            .unwrap();
        found.extend(
            secrets
                .secret_list()
                .iter()
                .filter_map(|s| s.name())
                .filter(|n| n.starts_with(prefix))
                .map(|n| format!("secret {n}")),
        );
        let alarms = self
            .cloudwatch
            .describe_alarms()
            .alarm_name_prefix(prefix)
            .send()
            .await
            .unwrap();
        found.extend(
            alarms
                .metric_alarms()
                .iter()
                .filter_map(|a| a.alarm_name())
                .map(|n| format!("alarm {n}")),
        );
        let dashboards = self
            .cloudwatch
            .list_dashboards()
            .dashboard_name_prefix(prefix)
            .send()
            .await
            .unwrap();
        found.extend(
            dashboards
                .dashboard_entries()
                .iter()
                .filter_map(|d| d.dashboard_name())
                .map(|n| format!("dashboard {n}")),
        );
        let topics = self.sns.list_topics().send().await.unwrap();
        found.extend(
            topics
                .topics()
                .iter()
                .filter_map(|t| t.topic_arn())
                .filter_map(|a| a.rsplit(':').next())
                .filter(|n| n.starts_with(prefix))
                .map(|n| format!("topic {n}")),
        );
        if let Some(waf) = &self.waf {
            let scope = aws_sdk_wafv2::types::Scope::Regional;
            let acls = waf.list_web_acls().scope(scope).send().await.unwrap();
            found.extend(
                acls.web_acls()
                    .iter()
                    .filter_map(|a| a.name())
                    .filter(|n| n.starts_with(prefix))
                    .map(|n| format!("web ACL {n}")),
            );
        }
        found
    }
}
