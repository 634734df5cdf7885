//! Storage: one [`Store`] trait, with SQLite (embedded default) and PostgreSQL
//! (scale-out) behind it.
//!
//! Both backends run the same SQL through sqlx's `Any` driver ([`sql::SqlStore`]);
//! where they differ (schema types, row locking for leases) a [`dialect::Dialect`]
//! says how. Both pass the same conformance suite (`tests/store.rs`).

mod dialect;
pub mod ops;
mod query;
mod rows;
mod sql;
mod transformations;

pub use dialect::Dialect;
pub use ops::{DestinationBacklog, DestinationResults, OpsStore};
pub use sql::{SqlStore, SqliteSync};
pub use transformations::TransformStore;

use async_trait::async_trait;

use crate::model::{
    Attempt, Connection, Destination, Event, EventStatus, IgnoredEvent, NewEvent, NewRequest,
    RejectionCause, RequestRecord, Source,
};

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
    pub next: Option<String>,
    pub prev: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub models: Vec<T>,
    /// Cursor for the following page, when there is one.
    pub next: Option<String>,
    /// Cursor for the preceding page, when there is one.
    pub prev: Option<String>,
    /// How many items match the filters in all pages.
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
    pub id: Option<String>,
    pub source_id: Option<String>,
    /// `Some(true)`: only rejected requests; `Some(false)`: only accepted ones.
    pub rejected: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub id: Option<String>,
    pub status: Option<EventStatus>,
    pub connection_id: Option<String>,
    pub source_id: Option<String>,
    pub destination_id: Option<String>,
    pub request_id: Option<String>,
    /// Any of these statuses (with `status`, both must hold).
    pub statuses: Vec<EventStatus>,
    pub issue_id: Option<String>,
    /// Created at or after (Unix ms).
    pub created_from: Option<i64>,
    /// Created at or before (Unix ms).
    pub created_to: Option<i64>,
    /// Last response status is one of these.
    pub response_statuses: Vec<i64>,
    /// Last response status within `[min, max]`.
    pub response_status_range: Option<(i64, i64)>,
    /// Last error code is one of these.
    pub error_codes: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AttemptFilter {
    pub event_id: Option<String>,
    pub destination_id: Option<String>,
}

/// What routing decided for one request.
#[derive(Debug, Clone, Default)]
pub struct RouteResult {
    pub events: Vec<NewEvent>,
    pub ignored: Vec<IgnoredEvent>,
    /// Set when no event came out because of the source itself (no connection).
    pub rejection: Option<RejectionCause>,
}

/// The decision function routing runs inside its transaction: pure, no I/O.
pub type RouteFn<'a> = dyn Fn(&RequestRecord, &[Connection]) -> RouteResult + Send + Sync + 'a;

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
    Except(Vec<String>),
    Only(String),
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

#[async_trait]
pub trait Store: OpsStore + TransformStore + Send + Sync + 'static {
    async fn insert_source(&self, source: &Source) -> StoreResult<()>;
    async fn update_source(&self, source: &Source) -> StoreResult<()>;
    async fn get_source(&self, id: &str) -> StoreResult<Option<Source>>;
    async fn find_source_by_name(&self, name: &str) -> StoreResult<Option<Source>>;
    async fn list_sources(&self, f: &SourceFilter, page: &PageQuery) -> StoreResult<Page<Source>>;
    /// Deletes the source and its connections (their pending events end as
    /// FAILED, `CANCELLED`).
    async fn delete_source(&self, id: &str) -> StoreResult<bool>;

    async fn insert_destination(&self, d: &Destination) -> StoreResult<()>;
    async fn update_destination(&self, d: &Destination) -> StoreResult<()>;
    async fn get_destination(&self, id: &str) -> StoreResult<Option<Destination>>;
    async fn find_destination_by_name(&self, name: &str) -> StoreResult<Option<Destination>>;
    async fn list_destinations(
        &self,
        f: &DestinationFilter,
        page: &PageQuery,
    ) -> StoreResult<Page<Destination>>;
    /// Deletes the destination and its connections (their pending events end as
    /// FAILED, `CANCELLED`).
    async fn delete_destination(&self, id: &str) -> StoreResult<bool>;

    /// Creates a connection, and the source / destination given inline with it, in
    /// one transaction (so a failed connection leaves no half-made source behind).
    async fn insert_connection(
        &self,
        c: &Connection,
        new_source: Option<&Source>,
        new_destination: Option<&Destination>,
    ) -> StoreResult<()>;
    async fn update_connection(&self, c: &Connection) -> StoreResult<()>;
    async fn get_connection(&self, id: &str) -> StoreResult<Option<Connection>>;
    async fn list_connections(
        &self,
        f: &ConnectionFilter,
        page: &PageQuery,
    ) -> StoreResult<Page<Connection>>;
    async fn connections_of_source(&self, source_id: &str) -> StoreResult<Vec<Connection>>;
    /// Deletes the connection; its pending events end as FAILED, `CANCELLED`.
    async fn delete_connection(&self, id: &str) -> StoreResult<bool>;

    /// Stores requests in one transaction, idempotent on the envelope id. Returns
    /// the ids that were new (a redelivered id is skipped, not an error).
    async fn insert_requests(&self, reqs: &[NewRequest], now: i64) -> StoreResult<Vec<String>>;
    async fn get_request(&self, id: &str, with_body: bool) -> StoreResult<Option<RequestRecord>>;
    async fn list_requests(
        &self,
        f: &RequestFilter,
        page: &PageQuery,
    ) -> StoreResult<Page<RequestRecord>>;
    async fn ignored_events_of_request(&self, request_id: &str) -> StoreResult<Vec<IgnoredEvent>>;

    /// Routes up to `limit` unrouted requests: in one transaction, loads them with
    /// their source's connections, asks `route` what to make of each, stores the
    /// events and ignored events and marks the requests routed. Returns how many
    /// requests were routed and how many events were created.
    async fn route_pending(
        &self,
        limit: i64,
        now: i64,
        route: &RouteFn<'_>,
    ) -> StoreResult<(usize, usize)>;
    /// Adds events to an already routed request (a manual request retry).
    async fn add_events(
        &self,
        request_id: &str,
        source_id: &str,
        events: &[NewEvent],
        now: i64,
    ) -> StoreResult<Vec<Event>>;

    async fn get_event(&self, id: &str) -> StoreResult<Option<Event>>;
    async fn list_events(&self, f: &EventFilter, page: &PageQuery) -> StoreResult<Page<Event>>;
    /// Queues the event for a manual attempt now, unless an attempt is under way.
    async fn retry_event(&self, id: &str, now: i64) -> StoreResult<RetryOutcome>;

    /// Leases up to `limit` events that are due, not leased, and whose connection and
    /// destination are active, until `lease_until`. Replicas never lease the same
    /// event while a lease is valid.
    async fn lease_due_events(
        &self,
        now: i64,
        limit: i64,
        lease_until: i64,
    ) -> StoreResult<Vec<DueEvent>> {
        self.lease_due_events_in(now, limit, lease_until, &LeaseScope::All)
            .await
    }
    /// [`Store::lease_due_events`] for some destinations only.
    async fn lease_due_events_in(
        &self,
        now: i64,
        limit: i64,
        lease_until: i64,
        scope: &LeaseScope,
    ) -> StoreResult<Vec<DueEvent>>;
    /// Gives leased events back without an attempt (the destination's limit said
    /// not now): they stay due, in their place in the queue.
    async fn release_leases(&self, ids: &[String], lease_until: i64) -> StoreResult<()>;
    /// Active destinations with a rate or concurrency limit.
    async fn limited_destinations(&self) -> StoreResult<Vec<Destination>>;
    /// When the earliest pending event that is not being delivered becomes due, if
    /// any (for the dispatcher's sleep).
    async fn next_due_at(&self, now: i64) -> StoreResult<Option<i64>>;
    /// Records attempts and updates their events, in one transaction.
    async fn record_attempts(&self, outcomes: &[AttemptOutcome], now: i64) -> StoreResult<()>;

    async fn get_attempt(&self, id: &str) -> StoreResult<Option<Attempt>>;
    async fn list_attempts(
        &self,
        f: &AttemptFilter,
        page: &PageQuery,
    ) -> StoreResult<Page<Attempt>>;
}
