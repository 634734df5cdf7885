//! What the dispatcher delivers: an event's transformed request when routing
//! stored one, else the request as received.

use crate::store::{DueEvent, Store, StoreResult};

/// [`Store::lease_due_events`], with each event's request replaced by its
/// transformed request where there is one. An error here fails the lease round
/// (the leases lapse and the events come back): delivering the original of an
/// event that was transformed would send what the user asked to rewrite.
pub async fn lease_due_events(
    store: &dyn Store,
    now: i64,
    limit: i64,
    lease_until: i64,
) -> StoreResult<Vec<DueEvent>> {
    let mut due = store.lease_due_events(now, limit, lease_until).await?;
    if due.is_empty() {
        return Ok(due);
    }
    let ids: Vec<String> = due.iter().map(|d| d.event.id.clone()).collect();
    let mut transformed = store.transformed_requests(&ids).await?;
    for d in &mut due {
        if let Some(t) = transformed.remove(&d.event.id) {
            d.request.method = t.method;
            d.request.path = t.path;
            d.request.query = t.query;
            d.request.headers = t.headers;
            d.request.body_size = t.body.len() as i64;
            d.request.body = Some(t.body);
        }
    }
    Ok(due)
}
