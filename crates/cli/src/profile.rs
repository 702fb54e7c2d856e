//! Profiles on disk: one TOML file (`$BEEKEEPER_CONFIG_DIR/config.toml`, else the user's config
//! directory) holding each room's settings and what its deploy created. Writes are atomic (temp file +
//! rename) so an interrupted command never leaves a half-written file.

use crate::error::{CliError, Result};
use beekeeper_core::config::RoomConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What `deploy` created, recorded as it goes so `destroy` (and the next `deploy`) can find it even after
/// a deploy that stopped halfway.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Deployment {
    /// The region the room was made in. Every command that touches the room goes there, whatever the
    /// settings say later, so a changed region can never orphan a room `destroy` would no longer find.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The account the room was made in: a deploy or destroy with another account's credentials would
    /// build a second room, or find nothing and forget the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Random suffix of the bucket name, fixed at first deploy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_suffix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_room_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_check_url: Option<String>,
    /// Every resource created, by kind (e.g. "queue" → URL, "function:producer" → ARN).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resources: BTreeMap<String, String>,
}

impl Deployment {
    /// Whether any of the room may exist in AWS: a deploy started (even one that stopped halfway) and no
    /// destroy has finished since (a finished destroy empties the record).
    pub(crate) fn exists(&self) -> bool {
        *self != Deployment::default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Profile {
    pub room: RoomConfig,
    #[serde(default)]
    pub deployment: Deployment,
}

impl Profile {
    /// Where the room lives: the recorded region, else (a record from before regions were recorded, or
    /// nothing deployed yet) the settings' region.
    pub(crate) fn deployed_region(&self) -> &str {
        self.deployment
            .region
            .as_deref()
            .unwrap_or(&self.room.region)
    }

    /// Refuses a region that differs from the one the room exists in.
    pub(crate) fn check_region(&self, wanted: &str) -> Result<()> {
        let deployed = self.deployed_region();
        if self.deployment.exists() && deployed != wanted {
            return Err(CliError::RegionLocked {
                profile: self.room.profile.clone(),
                deployed: deployed.to_string(),
                wanted: wanted.to_string(),
            });
        }
        Ok(())
    }

    /// Refuses credentials for another account than the one the room was made in.
    pub(crate) fn check_account(&self, current: &str) -> Result<()> {
        match &self.deployment.account {
            Some(recorded) if recorded != current => Err(CliError::WrongAccount {
                profile: self.room.profile.clone(),
                recorded: recorded.clone(),
                current: current.to_string(),
            }),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct ConfigFile {
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// The config file's location.
pub(crate) fn config_path() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("BEEKEEPER_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("config.toml"));
    }
    dirs::config_dir()
        .map(|d| d.join("beekeeper").join("config.toml"))
        .ok_or_else(|| CliError::Io {
            action: "find the config directory for",
            path: PathBuf::from("beekeeper/config.toml"),
            source: std::io::Error::other("no home directory; set BEEKEEPER_CONFIG_DIR"),
        })
}

impl ConfigFile {
    /// Reads the file; a missing file is an empty config, a broken one is an error that leaves it alone.
    pub(crate) fn load(path: &Path) -> Result<ConfigFile> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ConfigFile::default()),
            Err(source) => {
                return Err(CliError::Io {
                    action: "read",
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let file: ConfigFile = toml::from_str(&text).map_err(|e| CliError::CorruptConfig {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
        for (name, p) in &file.profiles {
            if &p.room.profile != name {
                return Err(CliError::CorruptConfig {
                    path: path.to_path_buf(),
                    detail: format!("profile {name:?} says its name is {:?}", p.room.profile),
                });
            }
            p.room.validate().map_err(|e| CliError::CorruptConfig {
                path: path.to_path_buf(),
                detail: format!("profile {name:?}: {e}"),
            })?;
        }
        Ok(file)
    }

    pub(crate) fn save(&self, path: &Path) -> Result<()> {
        let io = |action, source| CliError::Io {
            action,
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io("create the directory of", e))?;
        }
        let text = toml::to_string_pretty(self)
            .map_err(|e| io("encode", std::io::Error::other(e.to_string())))?;
        // A temporary file of this process's own: two commands saving at once (two terminals) must not
        // rename each other's file away.
        let tmp = path.with_extension(format!("toml.{}.tmp", std::process::id()));
        std::fs::write(&tmp, text).map_err(|e| io("write", e))?;
        std::fs::rename(&tmp, path).map_err(|e| io("replace", e))
    }

    pub(crate) fn get(&self, profile: &str) -> Result<&Profile> {
        self.profiles
            .get(profile)
            .ok_or_else(|| CliError::ProfileNotFound(profile.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use beekeeper_core::config::Architecture;

    fn profile() -> Profile {
        Profile {
            room: RoomConfig {
                profile: "drop".into(),
                display_name: "Drop \"2026\"".into(),
                region: "eu-west-1".into(),
                destination: "https://shop.example.com".into(),
                rate: 300,
                drt: false,
                min_rate: None,
                session_minutes: 30,
                accent_colour: None,
                logo: None,
                architecture: Architecture::Arm64,
                health_url: None,
                log_retention_days: None,
                waf_limit: None,
                gateway_share: None,
                alert_email: None,
            },
            deployment: Deployment::default(),
        }
    }

    #[test]
    fn a_room_that_exists_keeps_its_region_and_account() {
        let mut p = profile();
        // Nothing deployed: any region, any account.
        assert!(p.check_region("us-east-1").is_ok());
        assert!(p.check_account("111111111111").is_ok());
        // A record from before regions were recorded: the settings' region is where the room is.
        p.deployment.bucket_suffix = Some("abcd1234".into());
        assert_eq!(p.deployed_region(), "eu-west-1");
        assert!(p.check_region("eu-west-1").is_ok());
        let err = p.check_region("us-east-1").unwrap_err();
        assert!(matches!(err, CliError::RegionLocked { .. }), "{err}");
        // The recorded region wins over settings edited since.
        p.deployment.region = Some("eu-west-1".into());
        p.room.region = "ap-south-1".into();
        assert_eq!(p.deployed_region(), "eu-west-1");
        assert!(p.check_region("ap-south-1").is_err());
        p.deployment.account = Some("111111111111".into());
        assert!(p.check_account("111111111111").is_ok());
        let err = p.check_account("222222222222").unwrap_err().to_string();
        assert!(
            err.contains("111111111111") && err.contains("222222222222"),
            "{err}"
        );
    }

    #[test]
    fn round_trips_and_a_corrupt_file_is_reported_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        assert!(ConfigFile::load(&path).unwrap().profiles.is_empty());
        let mut f = ConfigFile::default();
        f.profiles.insert("drop".into(), profile());
        f.save(&path).unwrap();
        assert_eq!(
            ConfigFile::load(&path).unwrap().get("drop").unwrap(),
            &profile()
        );

        std::fs::write(&path, "[profiles.drop\nrate = ").unwrap();
        let err = ConfigFile::load(&path).unwrap_err();
        assert!(matches!(err, CliError::CorruptConfig { .. }), "{err}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "[profiles.drop\nrate = "
        );
        assert!(matches!(
            ConfigFile::default().get("nope"),
            Err(CliError::ProfileNotFound(_))
        ));
    }
}
