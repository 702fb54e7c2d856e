//! The waiting room's data plane: what happens between "a visitor arrives" and "the visitor is released".
//!
//! Handlers are plain async code over three small traits ([`Queue`], [`Table`], [`Invoker`]) and a
//! [`Clock`], so the same code runs in Lambda (AWS backends, behind cargo features), in `beekeeper dev`
//! and in tests (the in-memory backends in [`memory`]).

#[cfg(feature = "sdk")]
pub mod aws;
mod backend;
pub mod canary;
pub mod consumer;
pub mod drt;
pub mod env;
mod error;
pub mod hooked;
pub mod memory;
pub mod page;
pub mod pass;
pub mod producer;
#[cfg(feature = "runtime")]
pub mod startup;
pub mod trigger;

pub use backend::{
    BatchKey, COUNTER_SHARDS, Clock, Invoker, Lines, MAX_RELEASE, PassedOver, Presence, Queue,
    QueueDepth, Received, Released, RoomUpdate, SystemClock, Table,
};
pub use error::{AwsError, Error, Fault, service_label};
