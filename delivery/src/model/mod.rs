//! The records Hookyard keeps, at the bottom of the crate: everything the store
//! reads or writes. Times are Unix milliseconds; the API renders them as RFC 3339.
//! Imports nothing of the crate but itself (and `hookyard_core`).

mod bookmarks;
mod bulk_retry;
mod destination_types;
mod health;
mod issues;
mod metrics;
mod query;
mod resources;
mod routing;
mod source_types;
mod topics;
mod traffic;
mod transformations;

pub use bookmarks::*;
pub use bulk_retry::*;
pub use destination_types::*;
pub use health::*;
pub use issues::*;
pub use metrics::*;
pub use query::*;
pub use resources::*;
pub use routing::*;
pub use source_types::*;
pub use topics::*;
pub use traffic::*;
pub use transformations::*;
