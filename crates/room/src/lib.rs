//! The waiting room's data plane: what happens between "a visitor arrives" and "the visitor is released".
//!
//! Handlers are plain async code over three small traits ([`Queue`], [`Table`], [`Invoker`]) and a
//! [`Clock`], so the same code runs in Lambda (AWS backends, behind cargo features), in `beekeeper dev`
//! and in tests (the in-memory backends in [`memory`]).

mod backend;
mod error;
pub mod memory;

pub use backend::{Clock, Invoker, Queue, QueueDepth, Received, RoomUpdate, SystemClock, Table};
pub use error::Error;
