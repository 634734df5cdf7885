//! How destinations are doing: their backlogs and the results of a batch of attempts.

/// One destination's waiting events.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct DestinationBacklog {
    pub destination_id: String,
    /// Queued or scheduled, not yet delivered.
    pub pending: i64,
    /// Of those, due now (waiting only for a free slot or the rate limit).
    pub due: i64,
    /// Held while the destination is disabled or its connection paused.
    pub held: i64,
    /// Creation time of the oldest pending or held event (Unix ms).
    pub oldest_pending_at: Option<i64>,
}

/// Attempt results of one destination in one batch, oldest first.
#[derive(Debug, Clone)]
pub struct DestinationResults {
    pub destination_id: String,
    /// Failures after the batch's last success (all of them if none succeeded).
    pub trailing_failures: i64,
    pub any_success: bool,
    /// Says why, if this batch disables the destination.
    pub reason: String,
}
