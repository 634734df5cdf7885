//! Storage: one concrete [`Store`], SQLite (embedded default) or PostgreSQL
//! (scale-out) behind it. Imports only [`crate::model`], [`crate::config`] and core.
//!
//! Both backends run the same SQL through sqlx's `Any` driver;
//! where they differ (schema types, row locking for leases) a [`Dialect`]
//! says how. Both pass the same conformance suite (`tests/store.rs`).
//!
//! The files are split by subject: how X is stored is in `x.rs`, its `impl Store`
//! methods with their SQL builders and column lists (`sources`, `destinations`,
//! `connections`, `requests`, `routing`, `events`, `leases`, `attempts`, `issues`,
//! `alerts`, `triggers`, `health`, `bulk_retries`, `transformations`, `bookmarks`). The
//! technology they share is in `sql/`: the [`Store`] and connecting to it with the
//! query helpers (`connect`), the query builder (`query`), row decoding (`rows`),
//! the SQLite write scripts (`scripts`), stored text and JSON (`text`) and the
//! [`Dialect`]. This file holds the errors and the query-parameter types.

mod sql;

mod alerts;
mod attempts;
mod bookmarks;
mod bulk_retries;
mod connections;
mod destinations;
mod events;
mod health;
mod issues;
mod leases;
mod metrics;
mod publish_keys;
mod requests;
mod retention;
mod routing;
mod sources;
mod topics;
mod transformations;
mod triggers;

pub use crate::config::SqliteSync;
pub use bulk_retries::{BulkRetryFilter, IgnoredSelection};
pub use requests::{request_as_stored, StoredRequests};
pub use retention::Pruned;
pub use routing::event_as_stored;
pub use sql::{Dialect, Store};
pub use transformations::TransformationDeletion;

use crate::model::{Attempt, Bounds, Event, EventStatus, RequestRecord};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    Conflict(String),
    /// A record refers to one that no longer exists (deleted meanwhile).
    #[error("{0}")]
    MissingReference(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("invalid page cursor {0:?}: pass back a `next` or `prev` of a page of this list, with the same order_by")]
    InvalidCursor(String),
    #[error("unsupported database url {0:?}: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Order of a listing; ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    Desc,
    Asc,
}

/// Which page of a listing: at most `limit` items after `next` or before `prev`.
#[derive(Debug, Clone, Default)]
pub struct PageQuery {
    pub limit: i64,
    pub dir: Direction,
    /// The column to sort by before the id (`None`: by id, which is creation order).
    /// Its cursors are `<value>.<id>`.
    pub order_by: Option<SortColumn>,
    /// Skip counting (a search reading candidates counts its own matches).
    pub no_count: bool,
    pub next: Option<String>,
    pub prev: Option<String>,
}

/// A column a list may be sorted by besides creation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortColumn {
    /// Creation time, then id: the order of ids, served by the `created_at` index
    /// when a list is filtered on a time range.
    CreatedAt,
    /// Events: when last attempted (never attempted sorts as 0).
    LastAttemptAt,
    /// Requests: when received.
    ReceivedAt,
    /// Issues: when first seen, last seen, (re)opened.
    FirstSeenAt,
    LastSeenAt,
    OpenedAt,
    /// Issues: by status, in the order of the names.
    IssueStatus,
    /// Issue triggers: by type, in the order of the names.
    TriggerType,
}

impl SortColumn {
    /// The sort expression, as the list indexes spell it.
    pub(crate) fn sql(self) -> &'static str {
        match self {
            SortColumn::CreatedAt => "created_at",
            SortColumn::LastAttemptAt => "COALESCE(last_attempt_at, 0)",
            SortColumn::ReceivedAt => "received_at",
            SortColumn::FirstSeenAt => "first_seen_at",
            SortColumn::LastSeenAt => "last_seen_at",
            SortColumn::OpenedAt => "opened_at",
            SortColumn::IssueStatus => {
                "CASE status WHEN 'ACKNOWLEDGED' THEN 0 WHEN 'IGNORED' THEN 1 \
                 WHEN 'OPENED' THEN 2 ELSE 3 END"
            }
            SortColumn::TriggerType => {
                "CASE type WHEN 'backpressure' THEN 0 WHEN 'delivery' THEN 1 \
                 WHEN 'source' THEN 2 ELSE 3 END"
            }
        }
    }
}

/// How many matches a list counts at most: counting is a scan, and a page must not
/// cost a scan of a million rows. A `count` of this value means "this many or more".
pub const COUNT_CAP: i64 = 10_000;

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub models: Vec<T>,
    /// Cursor for the following page, when there is one.
    pub next: Option<String>,
    /// Cursor for the preceding page, when there is one.
    pub prev: Option<String>,
    /// How many items match the filters in all pages, up to [`COUNT_CAP`].
    pub count: i64,
}

#[derive(Debug, Clone, Default)]
pub struct SourceFilter {
    pub id: Option<String>,
    pub name: Option<String>,
    pub disabled: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct DestinationFilter {
    pub id: Option<String>,
    pub name: Option<String>,
    pub url: Option<String>,
    pub disabled: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct ConnectionFilter {
    pub id: Option<String>,
    pub name: Option<String>,
    pub source_id: Option<String>,
    pub destination_id: Option<String>,
    pub disabled: Option<bool>,
    pub paused: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    pub ids: Vec<String>,
    pub source_ids: Vec<String>,
    /// `Some(true)`: only rejected requests; `Some(false)`: only accepted ones.
    pub rejected: Option<bool>,
    pub rejection_causes: Vec<String>,
    pub verified: Option<bool>,
    pub events_count: Bounds,
    pub ignored_count: Bounds,
    /// When received (Unix ms).
    pub ingested_at: Bounds,
    pub topics: Vec<String>,
}

/// Which events: every field given must hold; a list holds when any of its values does.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub ids: Vec<String>,
    pub statuses: Vec<EventStatus>,
    pub connection_ids: Vec<String>,
    pub source_ids: Vec<String>,
    pub destination_ids: Vec<String>,
    pub request_ids: Vec<String>,
    pub issue_ids: Vec<String>,
    pub bulk_retry_ids: Vec<String>,
    /// Last error code is one of these.
    pub error_codes: Vec<String>,
    pub attempts: Bounds,
    /// Last response status.
    pub response_status: Bounds,
    /// Unix ms, as all times.
    pub created_at: Bounds,
    pub successful_at: Bounds,
    pub last_attempt_at: Bounds,
    /// The topic of the event's request.
    pub topics: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AttemptFilter {
    pub event_ids: Vec<String>,
    pub destination_id: Option<String>,
}

/// An event leased for delivery, with what it carries.
#[derive(Debug, Clone)]
pub struct DueEvent {
    pub event: Event,
    pub request: RequestRecord,
}

/// The result of one delivery attempt, to record.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub attempt: Attempt,
    /// The event's connection (for grouping failures into issues).
    pub connection_id: String,
    /// The event's state after this attempt.
    pub status: EventStatus,
    pub next_attempt_at: Option<i64>,
    /// The `lease_until` the event was leased with. The event is updated only while
    /// it still holds that lease: a result that comes back after the event was
    /// cancelled, retried by hand or taken over by another replica is kept as an
    /// attempt but does not overwrite the event.
    pub lease_until: i64,
}

/// Which destinations' events a lease may take.
#[derive(Debug, Clone)]
pub enum LeaseScope {
    All,
    /// Destinations without a rate or concurrency limit (those are leased through
    /// [`Store::lease_limited`]). Decided by the database, not by a list a
    /// replica may hold out of date: an event of a destination limited a moment
    /// ago is never leased past its limit.
    Unlimited,
    Only(String),
}

/// Events of one limited destination leased in one transaction with its pacing.
#[derive(Debug, Default)]
pub struct LimitedLease {
    /// Each event with when its attempt may start. The pacing clock (the
    /// database's, shared by every replica) is read inside the lease
    /// transaction, and each start is that reading plus the slot's offset, so
    /// the time the transaction and the rest of the lease round take is not
    /// added to it: replicas whose rounds take different times would otherwise
    /// start neighbouring slots closer together than the rate allows.
    pub events: Vec<(DueEvent, std::time::Instant)>,
    /// When asking again can lease more (µs from now), if the rate is what
    /// stopped it; `None` when the cap on attempts in flight did, or nothing was due.
    pub retry_in_us: Option<i64>,
    /// The cap on attempts in flight is reached and more are due.
    pub cap_full: bool,
}

/// What a manual retry found.
#[derive(Debug, Clone, PartialEq)]
pub enum RetryOutcome {
    /// Queued for an attempt now.
    Queued(Box<Event>),
    /// An attempt is under way (leased until then); retrying now would deliver
    /// the event twice at once.
    InFlight {
        lease_until: i64,
    },
    NotFound,
}
