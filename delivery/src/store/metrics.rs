//! Time-bucketed counts of requests and events (the dashboard's charts), read
//! by the `received_at` and `created_at` indexes over one window.

use sqlx::Row;

use super::sql::query::Query;
use super::{Store, StoreResult};
use crate::model::{EventCount, MetricsWindow, RequestCount};

impl Store {
    pub async fn request_counts(&self, w: &MetricsWindow) -> StoreResult<Vec<RequestCount>> {
        let mut q = Query::new("SELECT (received_at - ");
        q.bind(w.start_ms)
            .push(") / ")
            .bind(w.bucket_ms)
            .push(" AS bucket, COUNT(*) AS n FROM requests WHERE received_at >= ")
            .bind(w.start_ms)
            .push(" AND received_at < ")
            .bind(w.end_ms);
        if let Some(s) = &w.source_id {
            q.push(" AND source_id = ").bind(s.clone());
        }
        q.push(" GROUP BY bucket ORDER BY bucket");
        self.fetch_all(&self.read, q)
            .await?
            .iter()
            .map(|r| {
                Ok(RequestCount {
                    bucket: r.try_get("bucket")?,
                    count: r.try_get("n")?,
                })
            })
            .collect()
    }

    pub async fn event_counts(&self, w: &MetricsWindow) -> StoreResult<Vec<EventCount>> {
        let mut q = Query::new("SELECT (created_at - ");
        q.bind(w.start_ms)
            .push(") / ")
            .bind(w.bucket_ms)
            .push(
                " AS bucket, connection_id, destination_id, status, COUNT(*) AS n, \
                 COUNT(successful_at) AS delivered, \
                 CAST(COALESCE(SUM(successful_at - created_at), 0) AS BIGINT) AS latency_sum, \
                 MAX(successful_at - created_at) AS latency_max \
                 FROM events WHERE created_at >= ",
            )
            .bind(w.start_ms)
            .push(" AND created_at < ")
            .bind(w.end_ms);
        if let Some(s) = &w.source_id {
            q.push(" AND source_id = ").bind(s.clone());
        }
        if let Some(c) = &w.connection_id {
            q.push(" AND connection_id = ").bind(c.clone());
        }
        if let Some(d) = &w.destination_id {
            q.push(" AND destination_id = ").bind(d.clone());
        }
        q.push(" GROUP BY bucket, connection_id, destination_id, status ORDER BY bucket");
        self.fetch_all(&self.read, q)
            .await?
            .iter()
            .map(|r| {
                Ok(EventCount {
                    bucket: r.try_get("bucket")?,
                    connection_id: r.try_get("connection_id")?,
                    destination_id: r.try_get("destination_id")?,
                    status: r.try_get("status")?,
                    count: r.try_get("n")?,
                    delivered: r.try_get("delivered")?,
                    latency_sum_ms: r.try_get("latency_sum")?,
                    latency_max_ms: r.try_get("latency_max")?,
                })
            })
            .collect()
    }
}
