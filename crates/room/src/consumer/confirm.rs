//! Which received places may be released: those a visitor confirmed. A place `GET /` gave waits for its
//! visitor's first scheduled poll; until that is overdue it is left in line, and after it, passed over
//! without using a slot (the rules are `beekeeper_core::arrival::unconfirmed`).

use super::{ConsumeReport, Consumer};
use crate::Error;
use crate::backend::{Presence, Received};
use beekeeper_core::Token;
use beekeeper_core::arrival::{Unconfirmed, unconfirmed};
use std::collections::HashSet;
use std::time::Duration;

/// When a confirmation could not be read: look again this much later.
const UNREAD_LOOK_AGAIN: Duration = Duration::from_secs(10);

impl Consumer {
    /// Sets aside the places `GET /` took whose visitors have not confirmed them: each is deferred while
    /// its visitor's first poll may still come, and passed over (deleted, not counted) once it is overdue
    /// (`beekeeper_core::arrival::unconfirmed`). Returns the messages to release and how many were set
    /// aside. A presence read that failed or came back unprocessed defers, never passes over.
    pub(super) async fn confirmed(
        &self,
        received: &[Received],
        report: &mut ConsumeReport,
    ) -> Result<(Vec<Received>, u32), Error> {
        let pending: Vec<Token> = received
            .iter()
            .filter(|m| m.poll_by_ms.is_some())
            .filter_map(|m| m.token.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if pending.is_empty() {
            return Ok((received.to_vec(), 0));
        }
        let presence = match self.table.here(&pending).await {
            Ok(p) => p,
            Err(e) if e.is_retryable() => {
                tracing::warn!(error = %e, "could not read confirmations; looking again shortly");
                Presence {
                    unread: pending.into_iter().collect(),
                    ..Presence::default()
                }
            }
            Err(e) => return Err(e),
        };
        let now = self.clock.now_ms();
        let (mut keep, mut defer, mut pass) = (Vec::new(), Vec::new(), Vec::new());
        for m in received {
            let (Some(t), Some(by)) = (&m.token, m.poll_by_ms) else {
                keep.push(m.clone());
                continue;
            };
            if presence.here.contains(t) {
                keep.push(m.clone());
            } else if presence.unread.contains(t) {
                defer.push((m.clone(), UNREAD_LOOK_AGAIN));
            } else {
                match unconfirmed(by, now) {
                    Unconfirmed::Defer(ms) => defer.push((m.clone(), Duration::from_millis(ms))),
                    Unconfirmed::PassOver => pass.push(m.clone()),
                }
            }
        }
        report.deferred += defer.len() as u64;
        report.passed_over += pass.len() as u64;
        if !defer.is_empty() {
            if let Err(e) = self.queue.defer(&defer).await {
                tracing::warn!(error = %e, "could not defer unconfirmed places; they come back anyway");
            }
        }
        if !pass.is_empty() {
            if let Err(e) = self.queue.delete(&pass).await {
                tracing::warn!(error = %e, "could not remove passed-over places; they come back");
            }
        }
        Ok((keep, (defer.len() + pass.len()) as u32))
    }
}
