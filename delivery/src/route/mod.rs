//! Routing: each request meets its source's connections and becomes one event per
//! connection whose rules let it through; the others are recorded as ignored,
//! with why.
//!
//! - [`rules`]: a connection's rules, validated and compiled (filter, retry, delay).
//! - [`cache`]: compiled rules per connection.
//! - [`view`]: the request as the filter language sees it.
//! - [`walker`]: the one rules walker (filter → transform → delay → event).
//! - [`worker`]: the router worker and request retries (with transformations).

pub mod cache;
pub mod rules;
pub mod view;
pub mod walker;
pub mod worker;

pub use cache::RulesCache;
pub use view::{failed_parts, header_object, parse_query, RequestView, RouteInput};
pub use walker::{any_transform, walk, Transformations};
pub use worker::{reroute_request, retry_request, Router};
