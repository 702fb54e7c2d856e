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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Profile {
    pub room: RoomConfig,
    #[serde(default)]
    pub deployment: Deployment,
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
        let tmp = path.with_extension("toml.tmp");
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
            },
            deployment: Deployment::default(),
        }
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
