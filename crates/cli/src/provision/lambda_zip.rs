//! The functions' code: the zips `cargo lambda build` makes, read before anything is created so a
//! missing build fails a deploy at once with the exact command to run, and hashed the way Lambda reports
//! `CodeSha256` so unchanged code is never uploaded again.

use crate::error::{CliError, Result};
use base64::Engine;
use beekeeper_core::config::Architecture;
use beekeeper_core::names::Function;
use sha2::Digest;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where `cargo lambda build` writes `{crate}/bootstrap.zip`, relative to the workspace.
pub(crate) const DEFAULT_DIR: &str = "target/lambda";

/// The command that builds every zip for `arch`.
pub(crate) fn build_command(arch: Architecture) -> String {
    let mut cmd = String::from("cargo lambda build --release --output-format zip");
    for f in Function::ALL {
        cmd.push_str(" -p ");
        cmd.push_str(&f.crate_name());
    }
    if arch == Architecture::Arm64 {
        cmd.push_str(" --arm64");
    }
    cmd
}

/// The four zips, read before anything is created so a missing build fails the deploy at once.
pub(crate) struct Zips {
    zips: HashMap<&'static str, Vec<u8>>,
}

impl Zips {
    pub(crate) fn load(dir: Option<&Path>, arch: Architecture) -> Result<Zips> {
        let dir: PathBuf = dir.map_or_else(|| PathBuf::from(DEFAULT_DIR), Path::to_path_buf);
        let mut zips = HashMap::new();
        let mut missing = Vec::new();
        for f in Function::ALL {
            let path = dir.join(f.crate_name()).join("bootstrap.zip");
            match std::fs::read(&path) {
                Ok(bytes) => {
                    zips.insert(f.part(), bytes);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    missing.push(format!("{}/bootstrap.zip", f.crate_name()));
                }
                Err(source) => {
                    return Err(CliError::Io {
                        action: "read",
                        path,
                        source,
                    });
                }
            }
        }
        if !missing.is_empty() {
            return Err(CliError::MissingZips {
                dir,
                missing,
                command: build_command(arch),
            });
        }
        Ok(Zips { zips })
    }

    pub(crate) fn get(&self, f: Function) -> &[u8] {
        self.zips.get(f.part()).map_or(&[], Vec::as_slice)
    }
}

/// Lambda's `CodeSha256`: base64 of the zip's SHA-256.
pub(crate) fn code_sha256(zip: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(zip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_command_names_every_crate_and_the_architecture() {
        let x86 = build_command(Architecture::X86_64);
        assert_eq!(
            x86,
            "cargo lambda build --release --output-format zip -p beekeeper-producer-lambda \
             -p beekeeper-trigger-lambda -p beekeeper-consumer-lambda -p beekeeper-drt-lambda"
        );
        assert_eq!(build_command(Architecture::Arm64), format!("{x86} --arm64"));
    }

    #[test]
    fn code_sha_is_base64_of_sha256() {
        // sha256("") is e3b0c442…; Lambda reports it base64-encoded.
        assert_eq!(
            code_sha256(b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }
}
