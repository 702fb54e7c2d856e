//! A beekeeper that carries its functions (issue 28, item 1), built by `tests/run` as a release pipeline
//! would (`BEEKEEPER_EMBED_X86_64=target/lambda cargo build -p beekeeper`) and named by
//! `BEEKEEPER_EMBEDDED_BIN`. Copied alone into an empty directory, with a PATH that has nothing else on
//! it (no cargo, no repository, no `target/`), it says what it carries, deploys a room on moto and
//! destroys it. A copy whose carried zip was damaged is refused before anything is created.

use crate::common::Aws;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn embedded_bin() -> PathBuf {
    std::env::var_os("BEEKEEPER_EMBEDDED_BIN")
        .map(PathBuf::from)
        .expect(
            "BEEKEEPER_EMBEDDED_BIN names a beekeeper built with its functions: tests/run builds it \
             (BEEKEEPER_EMBED_X86_64=target/lambda cargo build -p beekeeper)",
        )
}

/// The zip `tests/run` built in, as `cargo lambda build` left it.
fn built_zip(function: &str) -> Vec<u8> {
    let zip = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/lambda")
        .join(format!("beekeeper-{function}-lambda/bootstrap.zip"));
    std::fs::read(&zip).unwrap_or_else(|e| panic!("{}: {e}", zip.display()))
}

/// `binary` run from an empty directory, with only its own directory on PATH, against moto.
fn run_alone(binary: &Path, home: &Path, args: &[&str]) -> Output {
    let work = home.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let out = Command::new(binary)
        .args(args)
        .current_dir(&work)
        .env_clear()
        .env("PATH", binary.parent().unwrap())
        .env("HOME", home)
        .env("BEEKEEPER_CONFIG_DIR", home.join("config"))
        .env("AWS_ENDPOINT_URL", &beekeeper_testkit::shared().endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        // moto records the API but serves no stage: the synthetic visitor walks LocalStack's elsewhere.
        .env("BEEKEEPER_NO_VERIFY", "1")
        .output()
        .unwrap();
    assert!(
        std::fs::read_dir(&work).unwrap().next().is_none(),
        "it wrote into the directory it ran in"
    );
    out
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// A copy of the binary alone in `dir`, `damage` applied to its bytes.
fn alone_in(dir: &Path, damage: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut bytes = std::fs::read(embedded_bin()).unwrap();
    damage(&mut bytes);
    std::fs::create_dir_all(dir).unwrap();
    let copy = dir.join("beekeeper");
    std::fs::write(&copy, bytes).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
    copy
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_alone_deploys_from_anywhere_and_a_damaged_one_creates_nothing() {
    let home = tempfile::tempdir().unwrap();
    let binary = alone_in(&home.path().join("bin"), |_| {});
    let version = ok(run_alone(&binary, home.path(), &["--version"]));
    let producer = built_zip("producer");
    let sum: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&producer)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert!(
        version.contains("carries functions for")
            && version.contains(&format!("producer sha256:{sum}")),
        "{version}"
    );

    let init = [
        "init",
        "--yes",
        "--profile",
        "carried",
        "--name",
        "Carried",
        "--region",
        "eu-west-1",
        "--destination",
        "https://shop.example.com/sale",
        "--rate",
        "60",
        "--no-drt",
    ];
    ok(run_alone(&binary, home.path(), &init));
    ok(run_alone(
        &binary,
        home.path(),
        &["deploy", "carried", "--output", "json"],
    ));
    let aws =
        Aws::new(&beekeeper_testkit::sdk_config(beekeeper_testkit::shared(), "eu-west-1").await);
    let conf = aws
        .lambda
        .get_function_configuration()
        .function_name("beekeeper-carried-producer")
        .send()
        .await
        .unwrap();
    assert_eq!(
        conf.code_size(),
        producer.len() as i64,
        "the carried zip was uploaded"
    );
    ok(run_alone(
        &binary,
        home.path(),
        &["destroy", "carried", "--yes"],
    ));
    assert_eq!(
        aws.everything_named("beekeeper-carried-").await,
        Vec::<String>::new()
    );

    // A profile for the architecture it does not carry: told so and how to switch, nothing made.
    let mut arm = init.to_vec();
    arm.extend(["--architecture", "arm64"]);
    ok(run_alone(&binary, home.path(), &arm));
    let out = run_alone(&binary, home.path(), &["deploy", "carried"]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("carries the functions for x86_64 only, and the profile runs them on arm64")
            && said.contains("--architecture x86-64"),
        "{said}"
    );
    assert_eq!(
        aws.everything_named("beekeeper-carried-").await,
        Vec::<String>::new()
    );
    let mut x86 = init.to_vec();
    x86.extend(["--architecture", "x86-64"]);
    ok(run_alone(&binary, home.path(), &x86));

    // One byte of the carried producer changed: refused with the fix, and nothing made.
    let damaged = alone_in(&home.path().join("damaged"), |bytes| {
        let middle = &producer[producer.len() / 2..producer.len() / 2 + 64];
        let at = bytes
            .windows(middle.len())
            .position(|w| w == middle)
            .expect("the producer's zip is in the binary");
        bytes[at] ^= 0xff;
    });
    let out = run_alone(&damaged, home.path(), &["deploy", "carried"]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("the producer function this beekeeper carries for x86_64 is damaged")
            && said.contains("nothing was created")
            && said.contains("--lambda-dir"),
        "{said}"
    );
    assert_eq!(
        aws.everything_named("beekeeper-carried-").await,
        Vec::<String>::new()
    );

    // A build that carries none (this suite's own) says so, and where deploy looks instead.
    let own = Command::new(env!("CARGO_BIN_EXE_beekeeper"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&own.stdout)
            .contains("carries no functions: deploy reads target/lambda")
    );
}
