//! The front of the line: visitors whose turn came while they were away (a phone asleep, a tab closed)
//! and who came back without having used their pass. The producer sends them here
//! (`beekeeper_core::place`); each batch lets them in before anyone from the main line, so they wait
//! seconds, and they take slots of the minute's rate like everyone else.

use super::stamp::Stamp;
use super::{ConsumeReport, Consumer, Write};
use crate::Error;
use std::time::Duration;

impl Consumer {
    /// Lets in up to `want` visitors from the front; returns how many of the batch's slots are left.
    /// A short poll: the front is nearly always empty, and a long poll would hold every batch for it. A
    /// short poll may miss a message on a quiet queue; the next batch, seconds later, finds it.
    pub(super) async fn front(
        &self,
        want: u32,
        stamp: &Stamp,
        report: &mut ConsumeReport,
    ) -> Result<u32, Error> {
        let received = match self.lines.front.receive(want, Duration::ZERO).await {
            Ok(r) => r,
            Err(e) if e.is_retryable() => {
                tracing::warn!(error = %e, "could not read the front of the line; next batch");
                return Ok(want);
            }
            Err(e) => return Err(e),
        };
        if received.is_empty() {
            return Ok(want);
        }
        let w = self
            .settle(&*self.lines.front, &received, stamp, Write::Readmit)
            .await?;
        report.readmitted += w.fresh;
        report.already += w.already;
        report.unwritten += w.unwritten;
        Ok(want.saturating_sub(w.fresh as u32))
    }
}
