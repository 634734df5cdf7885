//! `GET /metrics/events` (Hookyard's addition): requests received and events
//! delivered, failed and pending per time bucket, with delivery latency per
//! destination and totals per connection. What the dashboard's charts and the
//! overview's rates are drawn from.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::QueryParams;
use crate::clock::{now_ms, parse_rfc3339, rfc3339};
use crate::error::ApiError;
use crate::model::{EventCount, MetricsWindow};
use crate::state::AppState;

/// Most buckets one answer holds (a month by the hour is 744).
const MAX_BUCKETS: i64 = 1_500;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricsParams {
    /// Start of the range, RFC 3339 (default: 24 hours before `end`).
    pub start: Option<String>,
    /// End of the range, RFC 3339, exclusive (default: now).
    pub end: Option<String>,
    /// `minute`, `hour` (the default) or `day`.
    pub granularity: Option<String>,
    pub source_id: Option<String>,
    pub connection_id: Option<String>,
    pub destination_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Bucket {
    /// Start of the bucket.
    pub time: String,
    pub requests: i64,
    pub events: i64,
    pub successful: i64,
    pub failed: i64,
    /// Neither delivered nor failed yet (queued, scheduled, held).
    pub pending: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LatencyBucket {
    pub time: String,
    pub successful: i64,
    pub failed: i64,
    /// Mean time from the event's creation to its successful attempt.
    pub avg_latency_ms: Option<f64>,
    pub max_latency_ms: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DestinationSeries {
    pub destination_id: String,
    pub buckets: Vec<LatencyBucket>,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ConnectionTotals {
    pub connection_id: String,
    pub events: i64,
    pub successful: i64,
    pub failed: i64,
    pub pending: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventMetrics {
    pub start: String,
    pub end: String,
    pub granularity: String,
    pub buckets: Vec<Bucket>,
    pub destinations: Vec<DestinationSeries>,
    pub connections: Vec<ConnectionTotals>,
}

fn time_param(name: &str, v: &Option<String>) -> Result<Option<i64>, ApiError> {
    v.as_deref()
        .map(|s| {
            parse_rfc3339(s).ok_or_else(|| {
                ApiError::Unprocessable(format!(
                    "query parameter `{name}` must be an RFC 3339 time (e.g. 2026-12-01T00:00:00Z), not {s:?}"
                ))
            })
        })
        .transpose()
}

fn window(p: MetricsParams) -> Result<(MetricsWindow, &'static str), ApiError> {
    let (granularity, bucket_ms) = match p.granularity.as_deref().unwrap_or("hour") {
        "minute" => ("minute", 60_000),
        "hour" => ("hour", 3_600_000),
        "day" => ("day", 86_400_000),
        other => {
            return Err(ApiError::Unprocessable(format!(
                "query parameter `granularity` must be minute, hour or day, not {other:?}"
            )))
        }
    };
    let end = time_param("end", &p.end)?.unwrap_or_else(now_ms);
    let start = time_param("start", &p.start)?.unwrap_or(end - 86_400_000);
    if start >= end {
        return Err(ApiError::Unprocessable(
            "query parameter `start` must be before `end`".into(),
        ));
    }
    // Buckets are aligned to the granularity (UTC), so charts of two ranges agree.
    let w = MetricsWindow {
        start_ms: start - start.rem_euclid(bucket_ms),
        end_ms: end,
        bucket_ms,
        source_id: p.source_id,
        connection_id: p.connection_id,
        destination_id: p.destination_id,
    };
    let buckets = w.buckets();
    if buckets > MAX_BUCKETS {
        return Err(ApiError::Unprocessable(format!(
            "the range holds {buckets} {granularity}s; at most {MAX_BUCKETS} buckets: \
             shorten `start`..`end` or use a larger `granularity`"
        )));
    }
    Ok((w, granularity))
}

#[utoipa::path(get, path = "/metrics/events", tag = "metrics", params(MetricsParams),
    responses((status = 200, body = EventMetrics),
        (status = 422, description = "a bad time, granularity, or too many buckets")))]
pub async fn events(
    State(st): State<Arc<AppState>>,
    QueryParams(p): QueryParams<MetricsParams>,
) -> Result<Json<EventMetrics>, ApiError> {
    let (w, granularity) = window(p)?;
    let n = w.buckets() as usize;
    let requests = st.store.request_counts(&w).await?;
    let events = st.store.event_counts(&w).await?;
    let at = |b: i64| rfc3339(w.start_ms + b * w.bucket_ms);

    let mut buckets: Vec<Bucket> = (0..n as i64)
        .map(|b| Bucket {
            time: at(b),
            requests: 0,
            events: 0,
            successful: 0,
            failed: 0,
            pending: 0,
        })
        .collect();
    for r in &requests {
        if let Some(b) = buckets.get_mut(r.bucket as usize) {
            b.requests += r.count;
        }
    }
    let mut per_destination: BTreeMap<&str, Vec<Delivered>> = BTreeMap::new();
    let mut per_connection: BTreeMap<&str, ConnectionTotals> = BTreeMap::new();
    for e in &events {
        let Some(b) = buckets.get_mut(e.bucket as usize) else {
            continue;
        };
        let (ok, failed, pending) = split(e);
        b.events += e.count;
        b.successful += ok;
        b.failed += failed;
        b.pending += pending;
        let series = per_destination
            .entry(&e.destination_id)
            .or_insert_with(|| vec![Delivered::default(); n]);
        if let Some(s) = series.get_mut(e.bucket as usize) {
            s.successful += ok;
            s.failed += failed;
            s.latency_sum_ms += e.latency_sum_ms;
            s.latency_max_ms = s.latency_max_ms.max(e.latency_max_ms);
        }
        let c = per_connection
            .entry(&e.connection_id)
            .or_insert_with(|| ConnectionTotals {
                connection_id: e.connection_id.clone(),
                ..Default::default()
            });
        c.events += e.count;
        c.successful += ok;
        c.failed += failed;
        c.pending += pending;
    }
    let destinations = per_destination
        .into_iter()
        .map(|(id, series)| DestinationSeries {
            destination_id: id.to_owned(),
            buckets: series
                .into_iter()
                .enumerate()
                .map(|(i, d)| LatencyBucket {
                    time: at(i as i64),
                    successful: d.successful,
                    failed: d.failed,
                    avg_latency_ms: (d.successful > 0)
                        .then(|| d.latency_sum_ms as f64 / d.successful as f64),
                    max_latency_ms: d.latency_max_ms,
                })
                .collect(),
        })
        .collect();
    Ok(Json(EventMetrics {
        start: rfc3339(w.start_ms),
        end: rfc3339(w.end_ms),
        granularity: granularity.to_owned(),
        buckets,
        destinations,
        connections: per_connection.into_values().collect(),
    }))
}

/// One destination's deliveries in one bucket, as they are added up.
#[derive(Debug, Clone, Default)]
struct Delivered {
    successful: i64,
    failed: i64,
    latency_sum_ms: i64,
    latency_max_ms: Option<i64>,
}

/// Delivered, failed and still pending among a group of events. An event muted
/// before delivery counts as failed, as the API shows it.
fn split(e: &EventCount) -> (i64, i64, i64) {
    match e.status.as_str() {
        "SUCCESSFUL" => (e.count, 0, 0),
        "FAILED" => (e.delivered, e.count - e.delivered, 0),
        _ => (e.delivered, 0, e.count - e.delivered),
    }
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/metrics/events", get(events))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(start: &str, end: &str, g: &str) -> MetricsParams {
        MetricsParams {
            start: Some(start.into()),
            end: Some(end.into()),
            granularity: Some(g.into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_window_is_aligned_to_its_granularity_and_bounded() {
        let (w, g) = window(params(
            "2026-12-01T10:17:05Z",
            "2026-12-01T12:00:00Z",
            "hour",
        ))
        .unwrap();
        assert_eq!(g, "hour");
        assert_eq!(rfc3339(w.start_ms), "2026-12-01T10:00:00.000Z");
        let too_many = window(params(
            "2026-01-01T00:00:00Z",
            "2026-12-01T00:00:00Z",
            "minute",
        ));
        assert!(matches!(too_many, Err(ApiError::Unprocessable(m)) if m.contains("at most 1500")));
        assert!(window(params(
            "2026-12-02T00:00:00Z",
            "2026-12-01T00:00:00Z",
            "hour"
        ))
        .is_err());
        assert!(window(params("yesterday", "2026-12-01T00:00:00Z", "hour")).is_err());
        assert!(window(params(
            "2026-11-01T00:00:00Z",
            "2026-12-01T00:00:00Z",
            "week"
        ))
        .is_err());
    }
}
