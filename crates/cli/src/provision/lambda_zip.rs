//! The functions' code: the zips `cargo lambda build` makes, read before anything is created so a
//! missing build fails a deploy at once with the exact command to run, and hashed the way Lambda reports
//! `CodeSha256` so unchanged code is never uploaded again. A release build carries them (`build.rs`):
//! then `deploy` uses those, checked against the SHA-256 taken when they were built in, unless
//! `--lambda-dir` names others.

use crate::error::{CliError, Result};
use base64::Engine;
use beekeeper_core::config::Architecture;
use beekeeper_core::names::Function;
use sha2::Digest;
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where `cargo lambda build` writes `{crate}/bootstrap.zip`, relative to the workspace.
pub(crate) const DEFAULT_DIR: &str = "target/lambda";

/// The command that builds every zip for `arch`.
pub(crate) fn build_command(arch: Architecture) -> String {
    let mut cmd = String::from("cargo lambda build --profile lambda --output-format zip");
    for f in Function::ALL {
        cmd.push_str(" -p ");
        cmd.push_str(&f.crate_name());
    }
    if arch == Architecture::Arm64 {
        cmd.push_str(" --arm64");
    }
    cmd
}

/// One function's zip carried in the binary, with the SHA-256 (hex) taken when it was built in.
pub(crate) struct Embedded {
    pub arch: Architecture,
    pub function: Function,
    pub zip: &'static [u8],
    pub sha256: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// The four zips, read before anything is created so a missing build fails the deploy at once.
pub(crate) struct Zips {
    zips: HashMap<&'static str, Cow<'static, [u8]>>,
}

impl Zips {
    /// The zips in `dir` if given; else the ones this binary carries for `arch`; else `target/lambda`.
    pub(crate) fn load(dir: Option<&Path>, arch: Architecture) -> Result<Zips> {
        match dir {
            None if EMBEDDED.iter().any(|e| e.arch == arch) => Zips::carried(arch),
            // It carries functions, but not for this architecture: saying so beats "build them".
            None if !EMBEDDED.is_empty() && !Path::new(DEFAULT_DIR).exists() => {
                Err(CliError::NotCarried {
                    wanted: arch_name(arch),
                    carried: carried_arches(),
                })
            }
            _ => Zips::from_dir(dir, arch),
        }
    }

    /// The carried zips for `arch`, each checked against its built-in SHA-256 and for a bootstrap that
    /// runs on `arch`.
    fn carried(arch: Architecture) -> Result<Zips> {
        let mut zips = HashMap::new();
        for e in EMBEDDED.iter().filter(|e| e.arch == arch) {
            let found = hex_sha256(e.zip);
            if found != e.sha256 {
                return Err(CliError::EmbeddedZipDamaged {
                    function: e.function.part(),
                    arch: arch_name(arch),
                    expected: e.sha256,
                    found,
                });
            }
            let path = PathBuf::from(format!(
                "(built in) {}/bootstrap.zip",
                e.function.crate_name()
            ));
            check_bootstrap(&path, e.zip, arch)?;
            zips.insert(e.function.part(), Cow::Borrowed(e.zip));
        }
        Ok(Zips { zips })
    }

    fn from_dir(dir: Option<&Path>, arch: Architecture) -> Result<Zips> {
        let dir: PathBuf = dir.map_or_else(|| PathBuf::from(DEFAULT_DIR), Path::to_path_buf);
        let mut zips = HashMap::new();
        let mut missing = Vec::new();
        for f in Function::ALL {
            let path = dir.join(f.crate_name()).join("bootstrap.zip");
            match std::fs::read(&path) {
                Ok(bytes) => {
                    check_bootstrap(&path, &bytes, arch)?;
                    zips.insert(f.part(), Cow::Owned(bytes));
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
        self.zips.get(f.part()).map_or(&[], |z| z.as_ref())
    }
}

/// ELF `e_machine` of the two architectures Lambda runs (x86-64 is 62, AArch64 183).
fn elf_machine(arch: Architecture) -> u16 {
    match arch {
        Architecture::X86_64 => 62,
        Architecture::Arm64 => 183,
    }
}

fn arch_name(arch: Architecture) -> &'static str {
    match arch {
        Architecture::X86_64 => "x86_64",
        Architecture::Arm64 => "arm64",
    }
}

/// The zip must hold a `bootstrap` that is a 64-bit Linux program for `arch`: Lambda accepts any zip, and
/// a function built for the other architecture only fails at its first cold start (`Runtime.InvalidEntrypoint`,
/// "exec format error"), in front of the crowd.
fn check_bootstrap(path: &Path, zip: &[u8], arch: Architecture) -> Result<()> {
    let problem = match bootstrap_head(zip) {
        Ok(head) => elf_problem(&head, arch),
        Err(p) => Some(p),
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(CliError::UnusableZip {
            path: path.to_path_buf(),
            expected: arch_name(arch),
            problem,
            command: build_command(arch),
        }),
    }
}

/// The first 20 bytes of the zip's `bootstrap`: the ELF identification and machine.
fn bootstrap_head(zip: &[u8]) -> std::result::Result<Vec<u8>, String> {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip))
        .map_err(|e| format!("it is not a readable zip ({e})"))?;
    let entry = archive
        .by_name("bootstrap")
        .map_err(|_| "it has no `bootstrap` at its root, the program Lambda starts".to_string())?;
    let mut head = Vec::with_capacity(20);
    entry
        .take(20)
        .read_to_end(&mut head)
        .map_err(|e| format!("its `bootstrap` cannot be read ({e})"))?;
    Ok(head)
}

fn elf_problem(head: &[u8], arch: Architecture) -> Option<String> {
    if head.len() < 20 || &head[..4] != b"\x7fELF" {
        return Some("its `bootstrap` is not a Linux program (no ELF header)".into());
    }
    if head[4] != 2 || head[5] != 1 {
        return Some("its `bootstrap` is not a 64-bit little-endian Linux program".into());
    }
    let machine = u16::from_le_bytes([head[18], head[19]]);
    if machine == elf_machine(arch) {
        return None;
    }
    let found = match machine {
        62 => "x86_64".to_string(),
        183 => "arm64".to_string(),
        m => format!("ELF machine {m}"),
    };
    Some(format!("its `bootstrap` is built for {found}"))
}

/// The architectures this build carries functions for ("x86_64", "x86_64 and arm64").
fn carried_arches() -> String {
    let mut names: Vec<&str> = EMBEDDED.iter().map(|e| arch_name(e.arch)).collect();
    names.dedup();
    names.join(" and ")
}

/// The zip's SHA-256 in hex, as `build.rs` wrote it and `beekeeper --version` shows it.
fn hex_sha256(zip: &[u8]) -> String {
    sha2::Sha256::digest(zip)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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
            "cargo lambda build --profile lambda --output-format zip -p beekeeper-producer-lambda \
             -p beekeeper-trigger-lambda -p beekeeper-consumer-lambda -p beekeeper-drt-lambda"
        );
        assert_eq!(build_command(Architecture::Arm64), format!("{x86} --arm64"));
    }

    /// A zip holding `bootstrap` with the given bytes (deflated, as cargo lambda writes it).
    fn zip_with(name: &str, bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        w.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(bytes).unwrap();
        w.finish().unwrap().into_inner()
    }

    fn elf(machine: u16) -> Vec<u8> {
        let mut h = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
        h.resize(18, 0);
        h.extend_from_slice(&machine.to_le_bytes());
        h.resize(64, 0);
        h
    }

    #[test]
    fn a_bootstrap_for_the_other_architecture_is_refused_with_the_build_command() {
        let p = Path::new("target/lambda/x/bootstrap.zip");
        let arm = zip_with("bootstrap", &elf(183));
        assert!(check_bootstrap(p, &arm, Architecture::Arm64).is_ok());
        let e = check_bootstrap(p, &arm, Architecture::X86_64).unwrap_err();
        assert!(
            e.to_string().contains("not a Lambda package for x86_64"),
            "{e}"
        );
        assert!(e.to_string().contains("built for arm64"), "{e}");
        let hint = e.hint().unwrap();
        assert!(
            hint.contains(&build_command(Architecture::X86_64)),
            "{hint}"
        );
        let x86 = zip_with("bootstrap", &elf(62));
        let e = check_bootstrap(p, &x86, Architecture::Arm64).unwrap_err();
        assert!(e.to_string().contains("built for x86_64"), "{e}");
        assert!(e.hint().unwrap().contains("--arm64"));
    }

    #[test]
    fn a_zip_without_a_linux_bootstrap_is_refused() {
        let p = Path::new("z.zip");
        for (zip, says) in [
            (b"not a zip".to_vec(), "not a readable zip"),
            (zip_with("main", &elf(62)), "no `bootstrap`"),
            (
                zip_with("bootstrap", b"#!/bin/sh\necho hi\n"),
                "no ELF header",
            ),
            (zip_with("bootstrap", &elf(62)[..12]), "no ELF header"),
        ] {
            let e = check_bootstrap(p, &zip, Architecture::X86_64).unwrap_err();
            assert!(e.to_string().contains(says), "{e}");
        }
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
