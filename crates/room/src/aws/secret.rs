//! The pass's signing key, read from the room's Secrets Manager secret (`beekeeper deploy` writes it,
//! `beekeeper rotate-key` replaces it) and kept for [`KEY_REFRESH_SECS`] per container, so a rotation
//! reaches every consumer within that and the secret is read a few times an hour, not per release.

use super::sdk_error;
use crate::pass::{PassKeys, PassSigner};
use crate::{Clock, Error};
use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use beekeeper_core::pass::{KEY_REFRESH_SECS, KeyRing};
use std::sync::Arc;
use tokio::sync::Mutex;

pub struct SecretKeys {
    client: Client,
    secret_id: String,
    clock: Arc<dyn Clock>,
    /// When the signer was read (epoch s), and the signer.
    cached: Mutex<Option<(u64, Arc<PassSigner>)>>,
}

impl SecretKeys {
    pub fn new(client: Client, secret_id: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        SecretKeys {
            client,
            secret_id: secret_id.into(),
            clock,
            cached: Mutex::new(None),
        }
    }

    async fn read(&self) -> Result<Arc<PassSigner>, Error> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| sdk_error("secretsmanager", "GetSecretValue", e))?;
        let corrupt = |detail: String| Error::Corrupt {
            what: "pass key secret",
            detail: format!("{detail}; run `beekeeper rotate-key` to write a new key"),
        };
        let text = out
            .secret_string()
            .ok_or_else(|| corrupt("it holds no text".into()))?;
        let ring: KeyRing = serde_json::from_str(text)
            .map_err(|e| corrupt(format!("it is not a key ring: {e}")))?;
        Ok(Arc::new(PassSigner::from_ring(&ring)?))
    }
}

#[async_trait]
impl PassKeys for SecretKeys {
    /// A failed read is an error, never an older key kept past its refresh: a key kept longer than
    /// [`KEY_REFRESH_SECS`] after a rotation could sign passes its JWKS no longer lists.
    async fn signer(&self) -> Result<Arc<PassSigner>, Error> {
        let now = self.clock.now_secs();
        let mut cached = self.cached.lock().await;
        if let Some((at, signer)) = cached.as_ref()
            && now < at + KEY_REFRESH_SECS
        {
            return Ok(signer.clone());
        }
        let signer = self.read().await?;
        *cached = Some((now, signer.clone()));
        Ok(signer)
    }
}
