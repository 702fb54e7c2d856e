//! Test-only switches, read from the environment only when the `test-knobs` feature is on (the CLI's own
//! tests turn it on through a dev-dependency on this package). Every build a user runs (`cargo install`,
//! `cargo build --release`) leaves it off, so a stray variable in an operator's shell changes nothing;
//! `tests/knobs_off` checks that on a binary built without the feature.

/// `BEEKEEPER_FAIL_AT=<step>`: a deploy fails right before that step, so tests can prove every
/// interruption is recoverable.
pub(crate) const FAIL_AT: &str = "BEEKEEPER_FAIL_AT";
/// `BEEKEEPER_RETRY_BASE_MS=0`: the base of every backoff, so nothing sleeps against an emulator that
/// never lags.
pub(crate) const RETRY_BASE_MS: &str = "BEEKEEPER_RETRY_BASE_MS";
/// `BEEKEEPER_ACCOUNT_CONCURRENCY=N`: stands for an account whose Lambda limit is N with nothing else
/// reserved (moto cannot be told a limit).
pub(crate) const ACCOUNT_CONCURRENCY: &str = "BEEKEEPER_ACCOUNT_CONCURRENCY";

/// The value of the switch `name`, or `None` when it is unset or the build has no test knobs.
#[cfg(feature = "test-knobs")]
pub(crate) fn get(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The value of the switch `name`: never anything in a build without test knobs.
#[cfg(not(feature = "test-knobs"))]
pub(crate) fn get(_name: &str) -> Option<String> {
    None
}
