//! Which received places may be released: those a visitor confirmed. A place `GET /` gave without a
//! browser's fetch metadata waits for its page's confirmation; until that is overdue it is left in line,
//! and after it, passed over without using a slot (the rules are `beekeeper_core::arrival::unconfirmed`).
//! Passing over is a conditional write that a confirmation beats, so a visitor whose page confirmed in
//! the same instant is released, never lost.

use super::{ConsumeReport, Consumer};
use crate::Error;
use crate::backend::{Presence, Received};
use beekeeper_core::Token;
use beekeeper_core::arrival::{LAST_LOOK_RECEIVE, Unconfirmed, unconfirmed};
use std::collections::HashSet;
use std::time::Duration;

/// When a confirmation could not be read or a pass-over not written: look again this much later.
const UNREAD_LOOK_AGAIN: Duration = Duration::from_secs(10);

/// What one look at a batch decided.
#[derive(Default)]
struct Sorted {
    keep: Vec<Received>,
    defer: Vec<(Received, Duration)>,
    /// Duplicates of places passed over before: removed again, not counted again.
    gone: Vec<Received>,
    /// Overdue and unconfirmed: to pass over; after [`Consumer::pass_over`], those passed over.
    overdue: Vec<Received>,
}

impl Consumer {
    /// Sets aside the places whose visitors have not confirmed them: each is deferred while its page may
    /// still confirm, and passed over (deleted, not counted) once that is overdue. Returns the messages
    /// to release, in the order received, and how many were set aside. A presence read that failed or
    /// came back unprocessed defers, never passes over; after [`LAST_LOOK_RECEIVE`] − 1 receives it
    /// releases instead, so looks never take a place to the dead-letter queue.
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
        let presence = match self.table.presence(&pending).await {
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
        let mut sorted = self.sort(received, &presence);
        self.pass_over(&mut sorted, report).await?;
        let set_aside = sorted.defer.len() + sorted.gone.len() + sorted.overdue.len();
        report.deferred += sorted.defer.len() as u64;
        if !sorted.defer.is_empty() {
            if let Err(e) = self.lines.main.defer(&sorted.defer).await {
                tracing::warn!(error = %e, "could not defer unconfirmed places; they come back anyway");
            }
        }
        let remove: Vec<Received> = sorted.gone.iter().chain(&sorted.overdue).cloned().collect();
        if !remove.is_empty() {
            if let Err(e) = self.lines.main.delete(&remove).await {
                tracing::warn!(error = %e, "could not remove passed-over places; they come back");
            }
        }
        // Keep the order the queue gave: confirmed-after-all places go back in their own positions.
        let keep: HashSet<&str> = sorted.keep.iter().map(|m| m.receipt.as_str()).collect();
        let released = received
            .iter()
            .filter(|m| keep.contains(m.receipt.as_str()))
            .cloned()
            .collect();
        Ok((released, set_aside as u32))
    }

    fn sort(&self, received: &[Received], presence: &Presence) -> Sorted {
        let now = self.clock.now_ms();
        let mut s = Sorted::default();
        for m in received {
            let (Some(t), Some(by)) = (&m.token, m.poll_by_ms) else {
                s.keep.push(m.clone());
                continue;
            };
            if presence.here.contains(t) {
                s.keep.push(m.clone());
            } else if presence.passed.contains(t) {
                s.gone.push(m.clone());
            } else if presence.unread.contains(t) {
                if m.receives >= LAST_LOOK_RECEIVE - 1 {
                    // Releasing a fetcher's place costs a slot; passing over a visitor costs their place.
                    s.keep.push(m.clone());
                } else {
                    s.defer.push((m.clone(), UNREAD_LOOK_AGAIN));
                }
            } else {
                match unconfirmed(by, now, m.receives) {
                    Unconfirmed::Defer(ms) => s.defer.push((m.clone(), Duration::from_millis(ms))),
                    Unconfirmed::PassOver => s.overdue.push(m.clone()),
                }
            }
        }
        s
    }

    /// Passes over the overdue places; those confirmed meanwhile move to `keep`, unwritten to `defer`.
    async fn pass_over(&self, s: &mut Sorted, report: &mut ConsumeReport) -> Result<(), Error> {
        let tokens: Vec<Token> = s
            .overdue
            .iter()
            .filter_map(|m| m.token.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        if tokens.is_empty() {
            return Ok(());
        }
        let verdict = self.table.pass_over(&tokens, self.clock.now_ms()).await?;
        let confirmed: HashSet<&Token> = verdict.confirmed.iter().collect();
        let unwritten: HashSet<&Token> = verdict.unwritten.iter().collect();
        let mut passed = Vec::new();
        for m in std::mem::take(&mut s.overdue) {
            match &m.token {
                Some(t) if confirmed.contains(t) => s.keep.push(m),
                Some(t) if unwritten.contains(t) => s.defer.push((m, UNREAD_LOOK_AGAIN)),
                _ => passed.push(m),
            }
        }
        // Places, not messages: SQS may have handed the same one over twice.
        report.passed_over += verdict.passed.len() as u64;
        s.overdue = passed;
        Ok(())
    }
}
