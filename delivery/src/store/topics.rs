//! Topics seen: counted in the transaction that stores their requests, listed
//! with their counts.

use sqlx::Row;

use super::sql::query::Query;
use super::sql::text::storable_text;
use super::{Store, StoreResult};
use crate::model::{NewRequest, TopicStat};

/// `(source id, topic, received at, request id)` of the requests with a topic.
pub(super) fn topic_rows<'a>(
    reqs: impl Iterator<Item = &'a NewRequest>,
) -> Vec<(&'a str, &'a str, i64, &'a str)> {
    reqs.filter_map(|r| {
        r.topic.as_deref().map(|t| {
            (
                r.source_id.as_str(),
                t,
                r.envelope.received_at_ms,
                r.envelope.id.as_str(),
            )
        })
    })
    .collect()
}

/// Appends the upsert counting `rows` into `topics`; with `only_new_requests`,
/// only rows whose request is not stored yet (for a script that inserts the
/// requests after it).
pub(super) fn push_topics_upsert(
    q: &mut Query,
    rows: &[(&str, &str, i64, &str)],
    only_new_requests: bool,
) -> StoreResult<()> {
    q.push(
        "INSERT INTO topics (source_id, name, count, first_seen_at, last_seen_at) \
         SELECT v.column1, v.column2, COUNT(*), MIN(v.column3), MAX(v.column3) FROM (VALUES ",
    );
    q.values(rows, |r, (source, topic, at, id)| {
        r.bind((*source).to_owned())
            .bind(storable_text(topic))
            .bind(*at)
            .bind((*id).to_owned());
        Ok(())
    })?;
    // SQLite needs a WHERE before an upsert's ON CONFLICT in INSERT … SELECT.
    q.push(if only_new_requests {
        ") AS v WHERE NOT EXISTS (SELECT 1 FROM requests r WHERE r.id = v.column4)"
    } else {
        ") AS v WHERE 1 = 1"
    });
    q.push(
        " GROUP BY v.column1, v.column2 ON CONFLICT (source_id, name) DO UPDATE SET \
         count = topics.count + excluded.count, \
         last_seen_at = CASE WHEN excluded.last_seen_at > topics.last_seen_at \
         THEN excluded.last_seen_at ELSE topics.last_seen_at END",
    );
    Ok(())
}

impl Store {
    /// The topics seen, most recent first; of one source when given.
    pub async fn list_topics(&self, source_id: Option<&str>) -> StoreResult<Vec<TopicStat>> {
        let mut q = Query::new(
            "SELECT source_id, name, count, first_seen_at, last_seen_at FROM topics WHERE 1 = 1",
        );
        if let Some(s) = source_id {
            q.push(" AND source_id = ").bind(s.to_owned());
        }
        q.push(" ORDER BY last_seen_at DESC, name LIMIT 1000");
        self.fetch_all(&self.read, q)
            .await?
            .iter()
            .map(|row| {
                Ok(TopicStat {
                    source_id: row.try_get("source_id")?,
                    name: row.try_get("name")?,
                    count: row.try_get("count")?,
                    first_seen_at: row.try_get("first_seen_at")?,
                    last_seen_at: row.try_get("last_seen_at")?,
                })
            })
            .collect()
    }
}
