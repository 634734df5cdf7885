//! Counts over time for the dashboard's charts: what the store adds up per time
//! bucket from the requests and events it already keeps.

/// The time range and bucket size of a metrics query, with optional scopes.
#[derive(Debug, Clone, Default)]
pub struct MetricsWindow {
    /// Inclusive start (Unix ms); buckets are counted from here.
    pub start_ms: i64,
    /// Exclusive end (Unix ms).
    pub end_ms: i64,
    pub bucket_ms: i64,
    pub source_id: Option<String>,
    pub connection_id: Option<String>,
    pub destination_id: Option<String>,
}

impl MetricsWindow {
    /// How many buckets the window holds (the last one may be partial).
    pub fn buckets(&self) -> i64 {
        (self.end_ms - self.start_ms + self.bucket_ms - 1) / self.bucket_ms
    }
}

/// Requests received in one bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestCount {
    pub bucket: i64,
    pub count: i64,
}

/// Events of one connection, created in one bucket, with one status.
#[derive(Debug, Clone, PartialEq)]
pub struct EventCount {
    pub bucket: i64,
    pub connection_id: String,
    pub destination_id: String,
    pub status: String,
    pub count: i64,
    /// Of those, how many were delivered, and the sum and maximum of the time
    /// from the event's creation to its successful attempt (ms).
    pub delivered: i64,
    pub latency_sum_ms: i64,
    pub latency_max_ms: Option<i64>,
}
