//! Leasing due events for delivery, and giving leases back.

use std::collections::{BTreeSet, HashMap};

use hookyard_core::pacing;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::sql::dialect::Dialect;
use super::sql::query::Query;
use super::sql::rows::{self, DESTINATION_COLS, EVENT_COLS, REQUEST_COLS};
use super::sql::scripts::Durability;
use super::{DueEvent, LeaseScope, LimitedLease, Store, StoreError, StoreResult};
use crate::model::{Destination, RequestRecord};

impl Store {
    /// Leases up to `limit` events that are due, not leased, and whose connection and
    /// destination are active, until `lease_until`. Replicas never lease the same
    /// event while a lease is valid.
    pub async fn lease_due_events(
        &self,
        now: i64,
        limit: i64,
        lease_until: i64,
    ) -> StoreResult<Vec<DueEvent>> {
        self.lease_due_events_in(now, limit, lease_until, &LeaseScope::All, &[])
            .await
    }

    /// [`Store::lease_due_events`] for some destinations only. Each event comes
    /// with the request it delivers: its transformed request where routing stored
    /// one, else the request as received.
    ///
    /// Events for CLI destinations are leased only on the connections in
    /// `listening` (those a `hookyard listen` is connected for); the others wait.
    pub async fn lease_due_events_in(
        &self,
        now: i64,
        limit: i64,
        lease_until: i64,
        scope: &LeaseScope,
        listening: &[String],
    ) -> StoreResult<Vec<DueEvent>> {
        let q = self.lease_query(now, limit, lease_until, scope, listening);
        let leased = match self.dialect {
            Dialect::Sqlite => self.sqlite_script(q, Durability::Bookkeeping).await?,
            Dialect::Postgres => self.fetch_all(&self.write, q).await?,
        };
        self.with_requests(leased).await
    }

    /// Leases up to `want` due events of one rate- or concurrency-limited
    /// destination, as many as its limits let start within `horizon_us`, and
    /// moves its pacing on by as many as were leased: all in one transaction
    /// holding the destination's limit row, so replicas sharing the database
    /// share the limits. The cap counts events leased on any replica.
    #[allow(clippy::too_many_arguments)]
    pub async fn lease_limited(
        &self,
        destination_id: &str,
        limits: &pacing::Limits,
        want: i64,
        now: i64,
        lease_until: i64,
        horizon_us: i64,
        listening: &[String],
    ) -> StoreResult<LimitedLease> {
        let mut tx = self.bookkeeper().await?;
        let mut q =
            Query::new("INSERT INTO destination_limits (destination_id, next_at_us) VALUES (");
        q.bind(destination_id.to_owned())
            .push(", 0) ON CONFLICT (destination_id) DO NOTHING");
        run(tx.conn(), q).await?;
        let clock = self.dialect.clock_us().unwrap_or("0");
        let mut q = Query::new(&format!(
            "SELECT next_at_us, {clock} AS now_us FROM destination_limits WHERE destination_id = "
        ));
        q.bind(destination_id.to_owned())
            .push(self.dialect.for_update());
        let row = fetch(tx.conn(), q)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                StoreError::MissingReference(format!("destination {destination_id} was deleted"))
            })?;
        let next_at_us: i64 = row.try_get("next_at_us")?;
        // The clock's reading (on SQLite, the one replica's own clock) and the
        // instant the slots are counted from, taken together.
        let now_us = match self.dialect.clock_us() {
            Some(_) => row.try_get("now_us")?,
            None => crate::clock::now_us(),
        };
        let read_at = std::time::Instant::now();
        let in_flight = match limits.max_in_flight {
            Some(_) => {
                let mut q = Query::new("SELECT COUNT(*) AS n FROM events WHERE destination_id = ");
                q.bind(destination_id.to_owned())
                    .push(" AND lease_until > ")
                    .bind(now);
                match fetch(tx.conn(), q).await?.first() {
                    Some(row) => row.try_get::<i64, _>("n")?,
                    None => 0,
                }
            }
            None => 0,
        };
        let grant = pacing::grant(limits, next_at_us, now_us, horizon_us, in_flight, want);
        let retry_in_us = grant.retry_at_us.map(|t| (t - now_us).max(0));
        if grant.count == 0 {
            tx.finish().await?;
            return Ok(LimitedLease {
                events: Vec::new(),
                retry_in_us,
                cap_full: limits.max_in_flight.is_some_and(|cap| in_flight >= cap),
            });
        }
        let q = self.lease_query(
            now,
            grant.count,
            lease_until,
            &LeaseScope::Only(destination_id.to_owned()),
            listening,
        );
        let leased = fetch(tx.conn(), q).await?;
        let used = leased.len() as i64;
        if limits.spacing_us.is_some() && used > 0 {
            let mut q = Query::new("UPDATE destination_limits SET next_at_us = ");
            q.bind(grant.next_at_after(used, limits, next_at_us))
                .push(" WHERE destination_id = ")
                .bind(destination_id.to_owned());
            run(tx.conn(), q).await?;
        }
        tx.finish().await?;
        // Nothing due beyond what was leased: the limits did not hold anything back.
        let more_due = used == grant.count;
        let retry_in_us = retry_in_us.filter(|_| more_due);
        let cap_full = more_due
            && limits
                .max_in_flight
                .is_some_and(|cap| in_flight + used >= cap);
        let events = self.with_requests(leased).await?;
        Ok(LimitedLease {
            events: events
                .into_iter()
                .enumerate()
                .map(|(i, e)| {
                    let offset_us = (grant.start_of(i as i64, limits) - now_us).max(0);
                    (
                        e,
                        read_at + std::time::Duration::from_micros(offset_us as u64),
                    )
                })
                .collect(),
            retry_in_us,
            cap_full,
        })
    }

    /// The lease: `UPDATE … RETURNING` the events it took.
    fn lease_query(
        &self,
        now: i64,
        limit: i64,
        lease_until: i64,
        scope: &LeaseScope,
        listening: &[String],
    ) -> Query {
        let mut q = Query::in_order(self.dialect, "UPDATE events SET lease_until = ");
        // A destination's own events are found by destination; the others walk
        // the due index in order and stop at the limit.
        let index = match scope {
            LeaseScope::Only(_) => "",
            LeaseScope::All | LeaseScope::Unlimited => self.dialect.events_due_index(),
        };
        q.bind(lease_until).push(&format!(
            " WHERE id IN (SELECT e.id FROM events e{index} \
             JOIN connections c ON c.id = e.connection_id \
             JOIN destinations d ON d.id = e.destination_id \
             WHERE e.status IN ('QUEUED', 'SCHEDULED') AND e.next_attempt_at <= ",
        ));
        q.bind(now)
            .push(" AND (e.lease_until IS NULL OR e.lease_until <= ")
            .bind(now)
            .push(
                ") AND c.paused_at IS NULL AND c.disabled_at IS NULL \
                 AND d.disabled_at IS NULL",
            );
        only_listened(&mut q, listening);
        match scope {
            LeaseScope::All => {}
            LeaseScope::Unlimited => {
                q.push(" AND d.rate_limit IS NULL AND d.max_concurrency IS NULL");
            }
            LeaseScope::Only(id) => {
                q.push(" AND e.destination_id = ").bind(id.clone());
            }
        }
        q.push(" ORDER BY e.next_attempt_at LIMIT ")
            .bind(limit)
            .push(&self.dialect.skip_locked("e"))
            .push(&format!(") RETURNING {EVENT_COLS}"));
        q
    }

    /// The leased events, oldest due first, each with the request it delivers:
    /// its transformed request where routing stored one, else the request as
    /// received.
    async fn with_requests(&self, leased: Vec<AnyRow>) -> StoreResult<Vec<DueEvent>> {
        let mut events = leased
            .iter()
            .map(rows::event)
            .collect::<StoreResult<Vec<_>>>()?;
        if events.is_empty() {
            return Ok(Vec::new());
        }
        // RETURNING gives no order; deliver oldest due first.
        events.sort_by(|a, b| (a.next_attempt_at, &a.id).cmp(&(b.next_attempt_at, &b.id)));
        let request_ids: BTreeSet<String> = events.iter().map(|e| e.request_id.clone()).collect();
        let mut q = Query::in_order(
            self.dialect,
            &format!("SELECT {REQUEST_COLS}, body FROM requests WHERE id IN "),
        );
        q.bind_list(request_ids);
        let mut requests: HashMap<String, RequestRecord> = HashMap::new();
        for row in self.fetch_all(&self.read, q).await? {
            let r = rows::request(&row, true)?;
            requests.insert(r.id.clone(), r);
        }
        // An error here fails the lease round (the leases lapse and the events
        // come back): delivering the original of an event that was transformed
        // would send what the user asked to rewrite.
        let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
        let mut transformed = self.transformed_requests(&ids).await?;
        events
            .into_iter()
            .map(|event| {
                let mut request = requests.get(&event.request_id).cloned().ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "event {} refers to missing request {}",
                        event.id, event.request_id
                    ))
                })?;
                if let Some(t) = transformed.remove(&event.id) {
                    request.deliver_as(t);
                }
                Ok(DueEvent { event, request })
            })
            .collect()
    }

    /// Gives leased events back without an attempt (the destination's limit said
    /// not now): they stay due, in their place in the queue.
    pub async fn release_leases(&self, ids: &[String], lease_until: i64) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut q = Query::in_order(
            self.dialect,
            "UPDATE events SET lease_until = NULL WHERE lease_until = ",
        );
        q.bind(lease_until)
            .push(" AND id IN ")
            .bind_list(ids.iter().cloned());
        self.execute(q).await?;
        Ok(())
    }

    /// When the earliest pending event that is not being delivered becomes due, if
    /// any (for the dispatcher's sleep).
    pub async fn next_due_at(&self, now: i64, listening: &[String]) -> StoreResult<Option<i64>> {
        // The same conditions as leasing: events being delivered right now, or whose
        // connection is paused or destination disabled, are not "due" (counting
        // them would wake the dispatcher in a loop with nothing to lease).
        let mut q = Query::new(&format!(
            "SELECT e.next_attempt_at AS t FROM events e{} \
             JOIN connections c ON c.id = e.connection_id \
             JOIN destinations d ON d.id = e.destination_id \
             WHERE e.status IN ('QUEUED', 'SCHEDULED') AND c.paused_at IS NULL \
             AND c.disabled_at IS NULL AND d.disabled_at IS NULL \
             AND (e.lease_until IS NULL OR e.lease_until <= ",
            self.dialect.events_due_index()
        ));
        q.bind(now).push(")");
        only_listened(&mut q, listening);
        q.push(" ORDER BY e.next_attempt_at LIMIT 1");
        Ok(match self.fetch_optional(&self.read, q).await? {
            Some(row) => row.try_get::<Option<i64>, _>("t")?,
            None => None,
        })
    }

    /// Active destinations with a rate or concurrency limit.
    pub async fn limited_destinations(&self) -> StoreResult<Vec<Destination>> {
        let q = Query::new(&format!(
            "SELECT {DESTINATION_COLS} FROM destinations WHERE disabled_at IS NULL \
             AND (rate_limit IS NOT NULL OR max_concurrency IS NOT NULL) ORDER BY id"
        ));
        self.fetch_all(&self.read, q)
            .await?
            .iter()
            .map(rows::destination)
            .collect()
    }
}

/// Keeps a CLI destination's events out unless a CLI listens on their connection
/// (`d` is the destinations table, `e` the events').
fn only_listened(q: &mut Query, listening: &[String]) {
    if listening.is_empty() {
        q.push(" AND d.type <> 'CLI'");
    } else {
        q.push(" AND (d.type <> 'CLI' OR e.connection_id IN ")
            .bind_list(listening.iter().cloned())
            .push(")");
    }
}

/// Runs `q` inside a transaction in progress.
async fn run(conn: &mut AnyConnection, q: Query) -> StoreResult<()> {
    let (sql, args) = q.build()?;
    sqlx::query_with(&sql, args).execute(conn).await?;
    Ok(())
}

/// The rows of `q`, inside a transaction in progress.
async fn fetch(conn: &mut AnyConnection, q: Query) -> StoreResult<Vec<AnyRow>> {
    let (sql, args) = q.build()?;
    Ok(sqlx::query_with(&sql, args).fetch_all(conn).await?)
}
