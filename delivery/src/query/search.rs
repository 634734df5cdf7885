//! Pages of events or requests matching a compiled query. Without content terms
//! this is the store's list. With them, candidates are read in store order and
//! their requests checked here, at most [`SCAN_BUDGET`] candidates a page: a
//! search through a million requests answers in bounded time with what it found
//! so far and a cursor to go on from, rather than holding the API for a full scan.

use std::future::Future;

use super::Compiled;
use crate::model::{Bounds, Event, RequestRecord};
use crate::store::{
    Direction, EventFilter, Page, PageQuery, RequestFilter, SortColumn, Store, StoreResult,
};

/// Candidates read from the store at a time while searching.
const READ: i64 = 250;
/// Candidates one page looks at at most.
pub const SCAN_BUDGET: usize = 5_000;

/// A page of the events `q` matches.
pub async fn events(
    store: &Store,
    q: &Compiled<EventFilter>,
    page: &PageQuery,
) -> StoreResult<Page<Event>> {
    let page = &by_time_within_range(page, &q.sql.created_at, SortColumn::CreatedAt);
    if !q.needs_requests() {
        return store.list_events(&q.sql, page).await;
    }
    let cursor_of = |e: &Event| match page.order_by {
        Some(SortColumn::LastAttemptAt) => format!("{}.{}", e.last_attempt_at.unwrap_or(0), e.id),
        Some(SortColumn::CreatedAt) => format!("{}.{}", e.created_at, e.id),
        _ => e.id.clone(),
    };
    scan(page, cursor_of, |pq| async move {
        let raw = store.list_events(&q.sql, &pq).await?;
        let ids: Vec<String> = raw.models.iter().map(|e| e.request_id.clone()).collect();
        let requests = store.requests_by_ids(&ids).await?;
        let read = raw.models.len();
        let matched = raw
            .models
            .into_iter()
            .filter(|e| {
                requests
                    .get(&e.request_id)
                    .is_some_and(|r| q.matches_request(r))
            })
            .collect();
        Ok((matched, raw.next, read))
    })
    .await
}

/// A page of the requests `q` matches, with their bodies when `with_body`.
pub async fn requests(
    store: &Store,
    q: &Compiled<RequestFilter>,
    page: &PageQuery,
    with_body: bool,
) -> StoreResult<Page<RequestRecord>> {
    let page = &by_time_within_range(page, &q.sql.ingested_at, SortColumn::ReceivedAt);
    if !q.needs_requests() {
        return store.list_requests(&q.sql, page, with_body).await;
    }
    let cursor_of = |r: &RequestRecord| match page.order_by {
        Some(SortColumn::ReceivedAt) => format!("{}.{}", r.received_at, r.id),
        Some(SortColumn::CreatedAt) => format!("{}.{}", r.created_at, r.id),
        _ => r.id.clone(),
    };
    let mut found = scan(page, cursor_of, |pq| async move {
        let raw = store.list_requests(&q.sql, &pq, true).await?;
        let read = raw.models.len();
        let matched = raw
            .models
            .into_iter()
            .filter(|r| q.matches_request(r))
            .collect();
        Ok((matched, raw.next, read))
    })
    .await?;
    if !with_body {
        for r in &mut found.models {
            r.body = None;
        }
    }
    Ok(found)
}

/// Reads candidates with `read` (a store page → its matches, the store's next
/// cursor, how many it read) until the page is full, the list ends, or the budget
/// is spent. `count` is the number of matches seen: a lower bound.
async fn scan<T, F, Fut>(
    page: &PageQuery,
    cursor_of: impl Fn(&T) -> String,
    read: F,
) -> StoreResult<Page<T>>
where
    F: Fn(PageQuery) -> Fut,
    Fut: Future<Output = StoreResult<(Vec<T>, Option<String>, usize)>>,
{
    let limit = page.limit.clamp(1, 250) as usize;
    let going_back = page.next.is_none() && page.prev.is_some();
    let mut pq = PageQuery {
        limit: READ,
        dir: if going_back { flip(page.dir) } else { page.dir },
        order_by: page.order_by,
        next: page.next.clone().or_else(|| page.prev.clone()),
        prev: None,
        no_count: true,
    };
    let mut found: Vec<T> = Vec::new();
    let mut scanned = 0;
    // Where reading stopped, if the list goes on past what was read.
    let mut resume: Option<String> = None;
    loop {
        let (matched, next, n) = read(pq.clone()).await?;
        scanned += n;
        found.extend(matched);
        if found.len() > limit {
            resume = None;
            break;
        }
        match next {
            None => break,
            Some(c) if scanned >= SCAN_BUDGET => {
                resume = Some(c);
                break;
            }
            Some(c) => pq.next = Some(c),
        }
    }
    let count = found.len() as i64;
    let more = found.len() > limit;
    found.truncate(limit);
    let further = if more {
        found.last().map(&cursor_of)
    } else {
        resume
    };
    let had_cursor = page.next.is_some() || page.prev.is_some();
    if going_back {
        found.reverse();
        let next = found.last().map(&cursor_of).or_else(|| page.prev.clone());
        return Ok(Page {
            models: found,
            next,
            prev: further,
            count,
        });
    }
    let prev = if had_cursor {
        found.first().map(&cursor_of).or_else(|| page.next.clone())
    } else {
        None
    };
    Ok(Page {
        models: found,
        next: further,
        prev,
        count,
    })
}

/// A list in creation order filtered on a time range is read in the order of that
/// time (ids carry their creation time, so it is the same order up to the clock),
/// so the time index serves both the range and the order. By id, a day a month
/// back means sorting the day's rows, or skipping a month's.
fn by_time_within_range(page: &PageQuery, range: &Bounds, time: SortColumn) -> PageQuery {
    let ranged = [range.gt, range.gte, range.lt, range.lte]
        .iter()
        .any(Option::is_some);
    let mut p = page.clone();
    if ranged && p.order_by.is_none() {
        p.order_by = Some(time);
    }
    p
}

fn flip(d: Direction) -> Direction {
    match d {
        Direction::Asc => Direction::Desc,
        Direction::Desc => Direction::Asc,
    }
}
