//! What the dispatcher delivers: an event's transformed request when routing
//! stored one, else the request as received.

use super::invoke::HttpRequest;
use crate::model::{Event, RequestRecord};
use crate::store::{DueEvent, LeaseScope, Store, StoreResult};

/// [`Store::lease_due_events_in`], with each event's request replaced by its
/// transformed request where there is one. An error here fails the lease round
/// (the leases lapse and the events come back): delivering the original of an
/// event that was transformed would send what the user asked to rewrite.
pub async fn lease_due_events(
    store: &dyn Store,
    now: i64,
    limit: i64,
    lease_until: i64,
    scope: &LeaseScope,
) -> StoreResult<Vec<DueEvent>> {
    let mut due = store
        .lease_due_events_in(now, limit, lease_until, scope)
        .await?;
    if due.is_empty() {
        return Ok(due);
    }
    let ids: Vec<String> = due.iter().map(|d| d.event.id.clone()).collect();
    let mut transformed = store.transformed_requests(&ids).await?;
    for d in &mut due {
        if let Some(t) = transformed.remove(&d.event.id) {
            overlay(&mut d.request, t);
        }
    }
    Ok(due)
}

/// The request `event` delivers, as the API shows it: its transformed request
/// when it has one, else its request as received.
pub async fn event_request(store: &dyn Store, event: &Event) -> StoreResult<Option<RequestRecord>> {
    let Some(mut req) = store.get_request(&event.request_id, true).await? else {
        return Ok(None);
    };
    if let Some(t) = store
        .transformed_requests(std::slice::from_ref(&event.id))
        .await?
        .remove(&event.id)
    {
        overlay(&mut req, t);
    }
    Ok(Some(req))
}

fn overlay(req: &mut RequestRecord, t: HttpRequest) {
    req.method = t.method;
    req.path = t.path;
    req.query = t.query;
    req.headers = t.headers;
    req.body_size = t.body.len() as i64;
    req.body = Some(t.body);
}
