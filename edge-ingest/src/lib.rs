//! The Cloudflare Worker that accepts webhooks at the edge: fetch handler → verify
//! (`hookyard_core::verify`) → Cloudflare Queue → queue consumer that pushes signed
//! batches to delivery's `/edge/batch`.
//!
//! The decisions live in plain Rust modules, tested natively; only [`glue`] touches
//! the Workers runtime and exists only on wasm32 (so the native workspace builds
//! and lints this crate without it).
//!
//! - [`accept`]: which answer a webhook gets, and the queue message it becomes.
//! - [`push`]: what the consumer does with delivery's answer, retry delays.

pub mod accept;
pub mod push;

#[cfg(target_arch = "wasm32")]
mod glue;
