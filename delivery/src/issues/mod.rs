//! Issues: delivery failures grouped by connection and cause, so an operator sees
//! one thing to fix instead of a thousand failed events. The records live in
//! [`crate::model`]; this step turns attempt results into them.
//!
//! - [`tracker`]: turns attempt results into issues and destination health
//!   (auto-disable), right after the results are stored.
//! - [`monitor`]: holds and releases events of paused or disabled connections and
//!   destinations, keeps the backlog gauges, opens backpressure issues.

pub mod monitor;
pub mod tracker;
