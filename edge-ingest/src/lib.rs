//! The Cloudflare Worker that accepts webhooks at the edge: fetch handler → verify
//! (`hookyard_core::verify`) → Cloudflare Queue → queue consumer that pushes signed
//! batches to delivery's `/edge/batch`; the source configuration is fetched from
//! delivery's `/edge/config`, and what the dead-letter queue cannot hand over is
//! parked in R2 until delivery takes it.
//!
//! The decisions live in plain Rust modules, tested natively; only [`glue`] touches
//! the Workers runtime and exists only on wasm32 (so the native workspace builds
//! and lints this crate without it).
//!
//! - [`accept`]: which answer a webhook gets, and the queue message it becomes.
//! - [`config_cache`]: when to ask delivery for the configuration again.
//! - [`push`]: how much the consumer reads per push, what it does with delivery's
//!   answer, retry delays.
//! - [`parking`]: where parked webhooks live, and the alert about them.

pub mod accept;
pub mod config_cache;
pub mod parking;
pub mod push;

#[cfg(target_arch = "wasm32")]
mod glue;
