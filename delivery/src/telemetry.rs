//! Metrics: every metric Hookyard exports is defined here, once, with its name,
//! labels and meaning; `/metrics` renders them in Prometheus' text format.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::model::DestinationBacklog;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls reuse it) and returns
/// what renders `/metrics`. `None` if another recorder was installed first.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                ])
                .ok()?;
            match builder.install_recorder() {
                Ok(h) => Some(h),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .clone()
}

/// A connection closed on accept: `server.max_connections` were open.
pub fn connection_refused() {
    counter!("hookyard_connections_refused_total").increment(1);
}

/// A webhook's body not received: `reason` is `timeout` (the client paused past
/// `server.body_read_timeout_ms`) or `busy` (`ingest.max_inflight_bytes` stayed
/// full for `ingest.budget_wait_ms`).
pub fn ingest_body_refused(reason: &'static str) {
    counter!("hookyard_ingest_bodies_refused_total", "reason" => reason).increment(1);
}

/// A webhook the edge Worker handed over from its dead-letter queue or from R2,
/// where it parked it: delivery was unreachable for a long time. Alert on its rate.
pub fn edge_dead_lettered() {
    counter!("hookyard_edge_dead_lettered_total").increment(1);
}

/// A request stored by ingest (local or edge), accepted or rejected.
pub fn request_received(source: &str, rejected: bool) {
    counter!("hookyard_requests_received_total",
        "source" => source.to_owned(), "rejected" => if rejected { "true" } else { "false" })
    .increment(1);
}

/// One attempt's result, by destination.
pub fn attempt_finished(destination_id: &str, success: bool, duration: Duration) {
    histogram!("hookyard_delivery_duration_seconds", "destination_id" => destination_id.to_owned())
        .record(duration.as_secs_f64());
    if success {
        counter!("hookyard_events_delivered_total", "destination_id" => destination_id.to_owned())
            .increment(1);
    } else {
        counter!("hookyard_attempts_failed_total", "destination_id" => destination_id.to_owned())
            .increment(1);
    }
}

/// A failed attempt that will be tried again.
pub fn event_retried(destination_id: &str) {
    counter!("hookyard_events_retried_total", "destination_id" => destination_id.to_owned())
        .increment(1);
}

/// An event that failed for good (no retry left, or not retriable).
pub fn event_failed(destination_id: &str) {
    counter!("hookyard_events_failed_total", "destination_id" => destination_id.to_owned())
        .increment(1);
}

/// Events newly held (destination disabled or connection paused).
pub fn events_held(n: u64) {
    counter!("hookyard_events_held_total").increment(n);
}

pub fn destination_auto_disabled(destination_id: &str) {
    counter!("hookyard_destinations_auto_disabled_total", "destination_id" => destination_id.to_owned())
        .increment(1);
}

pub fn issue_opened(issue_type: &str) {
    counter!("hookyard_issues_opened_total", "type" => issue_type.to_owned()).increment(1);
}

pub fn alert_sent(channel: &'static str, kind: &'static str, ok: bool) {
    counter!("hookyard_alerts_total",
        "channel" => channel, "kind" => kind, "outcome" => if ok { "sent" } else { "failed" })
    .increment(1);
}

/// Queue gauges of each destination; destinations that emptied drop to zero.
pub fn backlogs(now_ms: i64, current: &[DestinationBacklog], previous: &[String]) {
    for id in previous {
        if !current.iter().any(|b| &b.destination_id == id) {
            set_backlog(
                now_ms,
                &DestinationBacklog {
                    destination_id: id.clone(),
                    ..Default::default()
                },
            );
        }
    }
    for b in current {
        set_backlog(now_ms, b);
    }
}

fn set_backlog(now_ms: i64, b: &DestinationBacklog) {
    let id = b.destination_id.clone();
    gauge!("hookyard_queue_depth", "destination_id" => id.clone()).set(b.pending as f64);
    gauge!("hookyard_events_held", "destination_id" => id.clone()).set(b.held as f64);
    let age = b
        .oldest_pending_at
        .map_or(0.0, |t| ((now_ms - t).max(0) as f64) / 1000.0);
    gauge!("hookyard_oldest_pending_age_seconds", "destination_id" => id).set(age);
}

/// A batch of broker messages: how many were stored (and acknowledged), how
/// many not (given back to the broker).
pub fn broker_messages(source_id: &str, stored: usize, failed: usize) {
    if stored > 0 {
        counter!("hookyard_broker_messages_total",
            "source_id" => source_id.to_owned(), "outcome" => "stored")
        .increment(stored as u64);
    }
    if failed > 0 {
        counter!("hookyard_broker_messages_total",
            "source_id" => source_id.to_owned(), "outcome" => "returned")
        .increment(failed as u64);
    }
}

/// A consumer of a broker source connected (`true`) or stopped consuming.
pub fn broker_consumer_connected(source_id: &str, connected: bool) {
    let g = gauge!("hookyard_broker_consumers_connected", "source_id" => source_id.to_owned());
    if connected {
        g.increment(1.0)
    } else {
        g.decrement(1.0)
    }
}
