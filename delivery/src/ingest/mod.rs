//! Ingest: the front doors where requests arrive, one admission
//! (`hookyard_core::ingest`) and one committer behind them.
//!
//! - [`http`]: `/e/{source}`, the local edge.
//! - [`body`]: receiving its body, charged to the in-flight budget as it arrives.
//! - [`edge_batch`]: `/edge/batch`, the signed batches of the Cloudflare Worker.
//! - [`edge_sources`]: the source configuration the Worker admits with.
//! - [`edge_config`]: `/edge/config`, where the Worker fetches it (signed).
//! - [`publish`]: `/publish` and `/publish/batch`, for producers with a publish key.
//! - [`brokers`]: sources consumed from RabbitMQ, NATS, SQS and Redis Streams.
//! - [`committer`]: group commit; requests are routed (without transformations)
//!   in the same transaction and answered only after it.

pub mod body;
pub mod brokers;
pub mod committer;
pub mod edge_batch;
pub mod edge_config;
pub mod edge_sources;
pub mod http;
pub mod publish;
