//! The one retry policy of the control plane: a bounded exponential backoff (its base is the test knob
//! `BEEKEEPER_RETRY_BASE_MS`), used two ways: [`retry`] a call while its error is one a wait cures (IAM
//! propagation, a name AWS still holds, throttling), and [`poll`] a state until it is ready. Where the SDK
//! has a waiter for exactly the state wanted, that is used instead, and [`waited`] reports its failure.

use super::Ctx;
use crate::error::CliError;
use aws_smithy_runtime_api::client::waiters::error::WaiterError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::ProvideErrorKind;
use std::future::Future;
use std::time::Duration;

/// The base of every backoff (IAM propagation, waits for a resource to settle). Tests set
/// `BEEKEEPER_RETRY_BASE_MS=0` so that nothing sleeps against an emulator that never lags (builds with the
/// `test-knobs` feature only, see [`crate::knobs`]).
pub(crate) fn retry_base() -> Duration {
    let ms = crate::knobs::get(crate::knobs::RETRY_BASE_MS)
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(1000);
    Duration::from_millis(ms)
}

/// Delays of a bounded exponential backoff: base, 2·base, 4·base … capped at 8·base, until `total` (in
/// units of base) is used up. With a 1 s base and total 60 that is about a minute.
pub(crate) fn backoff(total_units: u32) -> impl Iterator<Item = Duration> {
    let base = retry_base();
    let mut used = 0u32;
    (0u32..).map_while(move |i| {
        let units = 1u32 << i.min(3);
        if used + units > total_units {
            return None;
        }
        used += units;
        Some(base * units)
    })
}

/// Runs `attempt` until it succeeds or fails with an error `again` does not accept; between tries it
/// sleeps the next of `delays` (the budget, normally [`backoff`]). When they run out the last error stands.
pub(crate) async fn retry<T, E, Fut>(
    delays: impl IntoIterator<Item = Duration>,
    mut attempt: impl FnMut() -> Fut,
    again: impl Fn(&E) -> bool,
) -> Result<T, E>
where
    Fut: Future<Output = Result<T, E>>,
{
    let mut delays = delays.into_iter();
    loop {
        match attempt().await {
            Err(e) if again(&e) => match delays.next() {
                Some(d) => tokio::time::sleep(d).await,
                None => return Err(e),
            },
            done => return done,
        }
    }
}

/// What one look at a settling resource found.
pub(crate) enum Wait<T> {
    Ready(T),
    NotYet,
}

/// Looks with `check` until it finds the resource ready (or fails), sleeping the backoff between looks;
/// `Ok(None)` when `delays` (the budget, normally [`backoff`]) run out and it is still not ready.
pub(crate) async fn poll<T, E, Fut>(
    delays: impl IntoIterator<Item = Duration>,
    mut check: impl FnMut() -> Fut,
) -> Result<Option<T>, E>
where
    Fut: Future<Output = Result<Wait<T>, E>>,
{
    let mut delays = delays.into_iter();
    loop {
        match check().await? {
            Wait::Ready(v) => return Ok(Some(v)),
            Wait::NotYet => match delays.next() {
                Some(d) => tokio::time::sleep(d).await,
                None => return Ok(None),
            },
        }
    }
}

/// The CLI's error for an SDK waiter that gave up: its polling call's own failure is classified like any
/// other; running out of time, or AWS reporting a failed state, is [`CliError::NotReady`].
pub(crate) fn waited<O, E>(
    ctx: &Ctx,
    service: &'static str,
    operation: &'static str,
    what: String,
    max_wait: Duration,
    err: WaiterError<O, E>,
) -> CliError
where
    E: ProvideErrorMetadata + ProvideErrorKind + std::error::Error + Send + Sync + 'static,
{
    match err {
        WaiterError::OperationFailed(failed) => {
            ctx.aws.sdk(service, operation)(failed.into_error())
        }
        WaiterError::FailureState(_) => CliError::NotReady {
            what: format!("{what} (AWS reports it failed)"),
            seconds: 0,
        },
        _ => CliError::NotReady {
            what,
            seconds: max_wait.as_secs(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn no_wait(tries: usize) -> impl Iterator<Item = Duration> {
        std::iter::repeat_n(Duration::ZERO, tries - 1)
    }

    #[test]
    fn backoff_is_bounded_and_grows() {
        let d: Vec<u32> = backoff(60).map(|_| 0).collect();
        // 1+2+4+8+8+8+8+8+8 = 55 units: nine tries fit a 60-unit budget, a tenth would not.
        assert_eq!(d.len(), 9);
    }

    #[tokio::test]
    async fn retry_stops_at_success_a_foreign_error_or_the_budget() {
        let tries = Cell::new(0);
        let r: Result<u32, &str> = retry(
            no_wait(9),
            || {
                tries.set(tries.get() + 1);
                let n = tries.get();
                async move { if n < 3 { Err("busy") } else { Ok(n) } }
            },
            |e| *e == "busy",
        )
        .await;
        assert_eq!(r, Ok(3));
        tries.set(0);
        let r: Result<u32, &str> = retry(
            no_wait(9),
            || {
                tries.set(tries.get() + 1);
                async { Err("denied") }
            },
            |e| *e == "busy",
        )
        .await;
        assert_eq!((r, tries.get()), (Err("denied"), 1));
        tries.set(0);
        let r: Result<u32, &str> = retry(
            no_wait(3),
            || {
                tries.set(tries.get() + 1);
                async { Err("busy") }
            },
            |e| *e == "busy",
        )
        .await;
        assert_eq!((r, tries.get()), (Err("busy"), 3));
    }

    #[tokio::test]
    async fn poll_gives_up_with_none_when_the_budget_is_spent() {
        let looks = Cell::new(0);
        let r: Result<Option<()>, ()> = poll(no_wait(3), || {
            looks.set(looks.get() + 1);
            async { Ok(Wait::NotYet) }
        })
        .await;
        assert_eq!((r, looks.get()), (Ok(None), 3));
        let r: Result<Option<u8>, ()> = poll(no_wait(3), || async { Ok(Wait::Ready(7)) }).await;
        assert_eq!(r, Ok(Some(7)));
    }
}
