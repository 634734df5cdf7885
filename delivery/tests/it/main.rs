//! Delivery's integration tests, in one binary so the suite links once.
//!
//! Each module is one subject; [`common`] has the helpers (a gateway on port 0,
//! a receiver that records deliveries, the store backends, an SMTP server, the
//! transformation components).

// A test panics on what it did not expect; its helpers too (clippy's test
// allowance covers only `#[test]` functions themselves).
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

mod api;
mod broker_kill;
mod broker_sources;
mod cli;
mod dashboard;
mod destinations;
mod e2e;
mod edge_batch;
mod edge_config;
mod egress;
mod incidents;
mod listen;
mod lists;
mod operations;
mod publish;
mod replay;
mod replicas;
mod retention;
mod signed_http;
mod slow;
mod store;
mod store_ops;
mod transform_e2e;
mod transform_host;
mod transform_store;
mod verification;
