//! Delivery's side of the edge Worker (edge-ingest/).
//!
//! - [`batch`]: `POST /edge/batch`, where the Worker's queue consumer pushes
//!   HMAC-signed batches of envelopes; stored idempotently on the envelope id.
//! - [`sources`]: the Worker's view of the sources (`HOOKYARD_SOURCES`), written by
//!   `hookyard edge config`.

pub mod batch;
pub mod sources;
