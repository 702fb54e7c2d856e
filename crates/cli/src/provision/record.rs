//! The deployment record, written to the profile after every resource a deploy creates, so that a deploy
//! stopped by a failure or Ctrl-C still tells `destroy` (and the next deploy) what exists.

use super::graph::{self, Part};
use crate::error::Result;
use crate::profile::{ConfigFile, Deployment};
use std::path::PathBuf;
use std::sync::Mutex;

pub(crate) struct Recorder {
    path: PathBuf,
    profile: String,
    deployment: Mutex<Deployment>,
}

impl Recorder {
    /// Keys no declared part owns (written by an older beekeeper) are dropped with the next save.
    pub(crate) fn new(path: PathBuf, profile: &str, mut deployment: Deployment) -> Recorder {
        deployment
            .resources
            .retain(|k, _| graph::is_declared_key(k));
        Recorder {
            path,
            profile: profile.to_string(),
            deployment: Mutex::new(deployment),
        }
    }

    /// What is recorded for `part` (`sub` None) or one resource of it.
    pub(crate) fn get(&self, part: Part, sub: Option<&str>) -> Option<String> {
        let key = graph::record_key(part, sub);
        self.snapshot().resources.get(&key).cloned()
    }

    pub(crate) fn snapshot(&self) -> Deployment {
        self.deployment
            .lock()
            .map(|d| d.clone())
            .unwrap_or_default()
    }

    /// Records `value` for `part` or one resource of it (`queues:front` → its URL) and saves the profile.
    pub(crate) fn set(&self, part: Part, sub: Option<&str>, value: &str) -> Result<()> {
        let key = graph::record_key(part, sub);
        self.update(|d| {
            d.resources.insert(key, value.to_string());
        })
    }

    pub(crate) fn remove(&self, part: Part, sub: Option<&str>) -> Result<()> {
        let key = graph::record_key(part, sub);
        self.update(|d| {
            d.resources.remove(&key);
        })
    }

    /// Applies `f` and saves, unless nothing changed. The file is re-read first so that a setting changed
    /// by another command meanwhile is kept; only this profile's record is replaced. A profile deleted
    /// meanwhile is left deleted.
    pub(crate) fn update(&self, f: impl FnOnce(&mut Deployment)) -> Result<()> {
        // A poisoned lock means another step panicked mid-update; its record is still the best we have.
        let mut dep = match self.deployment.lock() {
            Ok(d) => d,
            Err(p) => p.into_inner(),
        };
        let before = dep.clone();
        f(&mut dep);
        if *dep == before {
            return Ok(());
        }
        let mut file = ConfigFile::load(&self.path)?;
        if let Some(p) = file.profiles.get_mut(&self.profile) {
            p.deployment = dep.clone();
            file.save(&self.path)?;
        }
        Ok(())
    }
}
