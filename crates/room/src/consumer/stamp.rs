//! What every token item a run writes carries: its session's end and, when the room signs passes, the
//! visitor's `bk_pass`, signed here once so a duplicate delivery (which finds the item) never re-signs.

use crate::Error;
use crate::pass::{PassKeys, PassSigner};
use beekeeper_core::Token;
use beekeeper_core::contract::{RoomState, TokenItem};
use beekeeper_core::pass::{PassClaims, audience};
use std::sync::Arc;

pub(super) struct Stamp {
    session_minutes: u32,
    /// The signer and the pass's audience (the destination's origin).
    pass: Option<(Arc<PassSigner>, String)>,
}

impl Stamp {
    /// Fixed for the run from the room item just read: a destination changed by `config` reaches the
    /// next run's passes. Fails (releasing nobody) when the room signs passes and the key cannot be had:
    /// a visitor let in without the pass their destination checks would be turned away there.
    pub(super) async fn for_run(
        room: &RoomState,
        keys: Option<&Arc<dyn PassKeys>>,
    ) -> Result<Stamp, Error> {
        let pass = match keys {
            None => None,
            Some(keys) => {
                let aud = audience(&room.destination).ok_or_else(|| Error::Corrupt {
                    what: "room item",
                    detail: format!(
                        "destination {:?} has no origin to put in a pass; set it with `beekeeper config`",
                        room.destination
                    ),
                })?;
                Some((keys.signer().await?, aud))
            }
        };
        Ok(Stamp {
            session_minutes: room.session_minutes,
            pass,
        })
    }

    /// The item for `token` released at `now_secs`; the pass's `jti` from the thread's CSPRNG.
    pub(super) fn item(&self, token: Token, now_secs: u64) -> Result<TokenItem, Error> {
        let mut item = TokenItem::released(token, now_secs, self.session_minutes);
        if let Some((signer, aud)) = &self.pass {
            let claims = PassClaims::at_release(&item, signer.issuer(), aud, rand::random());
            item.pass = Some(signer.sign(&claims)?);
        }
        Ok(item)
    }
}
