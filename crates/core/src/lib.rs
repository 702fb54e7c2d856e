//! Beekeeper's pure domain: everything the waiting room decides, with no I/O, no clock and no AWS types,
//! so that the CLI, the Lambda handlers and the `dev` server share one tested set of rules.
//!
//! Time and randomness are always arguments: `now` in epoch seconds or milliseconds, `rng` a CSPRNG.

pub mod arrival;
pub mod canary;
pub mod concurrency;
pub mod config;
pub mod contract;
pub mod cookie;
pub mod drt;
mod error;
pub mod gateway;
pub mod headers;
pub mod html;
pub mod law;
pub mod metrics;
pub mod monitoring;
pub mod names;
pub mod pacing;
pub mod pass;
pub mod place;
pub mod plan;
pub mod ticket;
pub mod token;
pub mod vtl;
pub mod waf;

pub use error::Error;
pub use token::Token;
