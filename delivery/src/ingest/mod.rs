//! The local edge: `/e/{source}` on `hookyard serve`, the same ingest the Worker
//! does at the edge. A request is answered only after it is committed.
//!
//! - [`committer`]: group commit, many concurrent requests in one transaction.
//! - [`http`]: the axum handler: source lookup, method and size checks, answer.

pub mod committer;
pub mod http;
