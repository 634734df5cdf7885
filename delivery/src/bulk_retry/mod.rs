//! Bulk retry (Hookdeck's `/bulk/events/retry`): retry every event a query
//! matches, in steps, with progress and cancel.
//!
//! - this module: the compiled query an operation runs (compiled by [`crate::query`]);
//! - [`worker`]: takes steps of unfinished operations, on any replica.

pub mod worker;

pub use crate::query::{CompiledQuery, QueryError};
