//! Pure logic shared by edge-ingest and delivery: no I/O, no async runtime, builds for
//! wasm32 and native.
//!
//! - [`envelope`]: the request as received at the edge, body kept byte-exact.
//! - [`ingest`]: admission of a webhook at either front door: path, method, size,
//!   signature, disabled source, and the refusal both doors answer.
//! - [`id`]: prefixed, time-sortable identifiers (`req_…`, `evt_…`).
//! - [`filter`]: the connection filter language (Hookdeck / simple-json-match syntax).
//! - [`pacing`]: how many of a destination's attempts may start now under its
//!   rate and concurrency limits, and when each starts.
//! - [`backoff`]: retry schedules (linear, exponential) and `Retry-After` parsing.
//! - [`status_codes`]: which response statuses a retry rule retries on.
//! - [`verify`]: provider signature verification (Stripe, GitHub, … generic HMAC).
//! - [`signing`]: the signatures delivery adds to outgoing requests (Hookdeck,
//!   Standard Webhooks, a custom HMAC header).
//! - [`edge`]: what the edge Worker sends delivery: queue messages, signed batches.

pub mod backoff;
pub mod edge;
pub mod envelope;
pub mod filter;
pub mod id;
pub mod ingest;
pub mod names;
pub mod pacing;
pub mod signing;
pub mod status_codes;
pub mod verify;
