//! The lists a person uses to find an event (`GET /events`, `/requests`,
//! `/requests/{id}/events`): Hookdeck's parameters with their operators, content
//! patterns and search, sort orders and paging, and every bad value refused with
//! the parameter named. On SQLite and PostgreSQL.

use crate::common;

use std::collections::BTreeSet;

use axum::http::Method;
use common::gateway::{eventually, Gateway, Receiver, Reply};
use serde_json::{json, Value};

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn ids(v: &Value) -> BTreeSet<String> {
    v["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every id of a list, paging through it with `next` (and back with `prev`).
async fn all_pages(gw: &Gateway, path: &str) -> Vec<String> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut out = Vec::new();
    let mut pages = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let url = match &next {
            Some(c) => format!("{path}{sep}limit=2&next={}", enc(c)),
            None => format!("{path}{sep}limit=2"),
        };
        let page = gw.get(&url).await;
        let here: Vec<String> = page["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect();
        out.extend(here.clone());
        pages.push((here, page["pagination"]["prev"].as_str().map(str::to_owned)));
        next = page["pagination"]["next"].as_str().map(str::to_owned);
        if next.is_none() {
            break;
        }
        assert!(out.len() < 100, "{path}: paging does not end");
    }
    // Going back from the last page gives the page before it.
    if pages.len() >= 2 {
        let (_, prev) = &pages[pages.len() - 1];
        let prev = prev
            .as_ref()
            .expect("a page after the first has a prev cursor");
        let back = gw
            .get(&format!("{path}{sep}limit=2&prev={}", enc(prev)))
            .await;
        let back: Vec<String> = back["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(back, pages[pages.len() - 2].0, "{path}: prev");
    }
    out
}

async fn refused(gw: &Gateway, path: &str, names: &str) {
    let (s, v) = gw.call(Method::GET, path, None).await;
    assert_eq!(s.as_u16(), 422, "{path}: {v}");
    let msg = v["message"].as_str().unwrap_or_default();
    assert!(msg.contains(names), "{path}: {msg:?} should name {names:?}");
}

async fn lists_filter_search_sort_and_page(gw: Gateway) {
    let ok = Receiver::start().await;
    let bad = Receiver::scripted(vec![Reply::status(500); 200]).await;
    // A retry an hour away: the failing events wait SCHEDULED with their 500.
    let retry = json!([{"type": "retry", "strategy": "linear", "interval": 3_600_000, "count": 3}]);
    let c_ok = gw
        .post(
            "/connections",
            json!({"name": "to-ok", "source": {"name": "shop"},
                   "destination": {"name": "ok", "url": ok.url}}),
        )
        .await;
    let c_bad = gw
        .post(
            "/connections",
            json!({"name": "to-bad", "source": {"name": "shop"},
                   "destination": {"name": "bad", "url": bad.url}, "rules": retry}),
        )
        .await;
    let before = gw.get("/events").await["count"].as_i64().unwrap();
    assert_eq!(before, 0);
    for (i, kind) in [
        "order.created",
        "order.created",
        "customer.updated",
        "order.paid",
    ]
    .iter()
    .enumerate()
    {
        let body = json!({"type": kind, "n": i, "note": format!("Item-{i}")}).to_string();
        assert_eq!(gw.send("shop", body).await.0, 200);
    }
    ok.wait_for(4).await;
    bad.wait_for(4).await;
    eventually("every event attempted", || async {
        let v = gw.get("/events?attempts%5Bgte%5D=1").await;
        (v["count"] == 8).then_some(())
    })
    .await;
    let ok_dest = c_ok["destination"]["id"].as_str().unwrap();
    let bad_dest = c_bad["destination"]["id"].as_str().unwrap();

    // Lists of values, numbers with operators, times with operators.
    assert_eq!(gw.get("/events?status=SUCCESSFUL").await["count"], 4);
    assert_eq!(
        gw.get("/events?status=SUCCESSFUL&status=SCHEDULED").await["count"],
        8
    );
    assert_eq!(gw.get("/events?status%5B%5D=SCHEDULED").await["count"], 4);
    assert_eq!(gw.get("/events?response_status=500").await["count"], 4);
    assert_eq!(
        gw.get("/events?response_status%5Bgte%5D=200&response_status%5Blt%5D=300")
            .await["count"],
        4
    );
    assert_eq!(
        gw.get("/events?response_status=200&response_status=500")
            .await["count"],
        8
    );
    assert_eq!(
        gw.get(&format!("/events?destination_id={bad_dest}")).await["count"],
        4
    );
    assert_eq!(
        gw.get(&format!(
            "/events?destination_id={bad_dest}&destination_id={ok_dest}"
        ))
        .await["count"],
        8
    );
    assert_eq!(
        gw.get("/events?successful_at%5Bany%5D=true").await["count"],
        4
    );
    assert_eq!(
        gw.get("/events?successful_at%5Bany%5D=false").await["count"],
        4
    );
    assert_eq!(
        gw.get(&format!(
            "/events?created_at%5Bgte%5D={}",
            enc("2000-01-01T00:00:00Z")
        ))
        .await["count"],
        8
    );
    assert_eq!(
        gw.get(&format!(
            "/events?created_at%5Bgt%5D={}",
            enc("2100-01-01T00:00:00Z")
        ))
        .await["count"],
        0
    );
    assert_eq!(
        gw.get(&format!(
            "/events?last_attempt_at%5Ble%5D={}",
            enc("2100-01-01T00:00:00Z")
        ))
        .await["count"],
        8
    );

    // Content: filter-language patterns on the body and headers, the path, search text.
    let orders = gw
        .get(&format!(
            "/events?body={}",
            enc(r#"{"type": {"$startsWith": "order."}}"#)
        ))
        .await;
    assert_eq!(orders["models"].as_array().unwrap().len(), 6, "{orders}");
    let created_bad = gw
        .get(&format!(
            "/events?body={}&destination_id={bad_dest}",
            enc(r#"{"type": "order.created"}"#)
        ))
        .await;
    assert_eq!(created_bad["models"].as_array().unwrap().len(), 2);
    let json_headers = gw
        .get(&format!(
            "/events?headers={}",
            enc(r#"{"content-type": "application/json"}"#)
        ))
        .await;
    assert_eq!(json_headers["models"].as_array().unwrap().len(), 8);
    let searched = gw.get("/events?search_term=CUSTOMER").await;
    assert_eq!(
        searched["models"].as_array().unwrap().len(),
        2,
        "{searched}"
    );
    let item2 = gw.get("/requests?search_term=item-2").await;
    assert_eq!(item2["models"].as_array().unwrap().len(), 1, "{item2}");
    assert_eq!(gw.get("/events?path=%2Fnowhere").await["models"], json!([]));
    // A content search pages like any list, each match once.
    let paged = all_pages(
        &gw,
        &format!(
            "/events?body={}",
            enc(r#"{"type": {"$startsWith": "order."}}"#)
        ),
    )
    .await;
    assert_eq!(paged.len(), 6);
    assert_eq!(paged.iter().collect::<BTreeSet<_>>().len(), 6);
    assert_eq!(paged.iter().cloned().collect::<BTreeSet<_>>(), ids(&orders));

    // Sort orders, paging both ways, and include=data.
    let by_time = all_pages(&gw, "/events").await;
    assert_eq!(by_time.len(), 8);
    let by_attempt = all_pages(&gw, "/events?order_by=last_attempt_at&dir=asc").await;
    assert_eq!(
        by_attempt.iter().collect::<BTreeSet<_>>(),
        by_time.iter().collect::<BTreeSet<_>>()
    );
    let page = gw.get("/events?order_by=last_attempt_at&limit=3").await;
    assert_eq!(page["pagination"]["order_by"], "last_attempt_at");
    let times: Vec<&str> = page["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["last_attempt_at"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let with_data = gw.get("/events?include=data&limit=1").await;
    assert!(
        with_data["models"][0]["data"]["body"]["type"].is_string(),
        "{with_data}"
    );
    assert!(gw.get("/events?limit=1").await["models"][0]
        .get("data")
        .is_none());
    let reqs = all_pages(&gw, "/requests?order_by=ingested_at&dir=asc").await;
    assert_eq!(reqs.len(), 4);
    let first = reqs[0].clone();
    let of_first = gw
        .get(&format!("/requests/{first}/events?status=SCHEDULED"))
        .await;
    assert_eq!(of_first["count"], 1);
    assert_eq!(
        gw.get(&format!("/requests?events_count%5Bgte%5D=2&id={first}"))
            .await["count"],
        1
    );
    assert_eq!(gw.get("/requests?events_count=3").await["count"], 0);
    assert_eq!(gw.get("/requests?verified=false").await["count"], 4);
    assert_eq!(
        gw.get(&format!(
            "/requests?ingested_at%5Blt%5D={}",
            enc("2000-01-01T00:00:00Z")
        ))
        .await["count"],
        0
    );

    // Bad values: a 422 naming the parameter, never an unfiltered list.
    refused(&gw, "/events?status=BROKEN", "status").await;
    refused(&gw, "/events?response_status=abc", "response_status").await;
    refused(&gw, "/events?response_status%5Bbetween%5D=1", "between").await;
    refused(&gw, "/events?created_at%5Bgte%5D=yesterday", "created_at").await;
    refused(
        &gw,
        "/events?created_at=x&created_at%5Bgte%5D=y",
        "created_at",
    )
    .await;
    refused(&gw, "/events?body=%7Bnot", "body").await;
    refused(&gw, "/events?search_term=ab", "search_term").await;
    refused(&gw, "/events?order_by=ingested_at", "order_by").await;
    refused(&gw, "/events?include=everything", "include").await;
    refused(&gw, "/events?cli_id=x", "cli_id").await;
    refused(
        &gw,
        "/events?order_by=last_attempt_at&next=garbage",
        "cursor",
    )
    .await;
    refused(&gw, "/requests?status=maybe", "status").await;
    refused(&gw, "/requests?verified=perhaps", "verified").await;
    refused(
        &gw,
        &format!("/requests/{first}/events?request_id=x"),
        "request_id",
    )
    .await;

    // Issues: lists of values and time operators.
    let opened = eventually("the failing destination's issue", || async {
        let v = gw
            .get("/issues?status=OPENED&status=ACKNOWLEDGED&type=delivery")
            .await;
        (v["count"].as_i64() >= Some(1)).then_some(v)
    })
    .await;
    let issue_id = opened["models"][0]["id"].as_str().unwrap();
    assert_eq!(
        gw.get(&format!(
            "/issues?id={issue_id}&dismissed_at%5Bany%5D=false"
        ))
        .await["count"],
        1
    );
    assert_eq!(
        gw.get(&format!(
            "/issues?first_seen_at%5Bgt%5D={}",
            enc("2100-01-01T00:00:00Z")
        ))
        .await["count"],
        0
    );
    assert_eq!(
        gw.get("/issues/count?type=transformation&type=backpressure")
            .await["count"],
        0
    );
    for order in ["first_seen_at", "last_seen_at", "opened_at", "status"] {
        let page = gw.get(&format!("/issues?order_by={order}&dir=asc")).await;
        assert_eq!(page["pagination"]["order_by"], order);
        assert_eq!(page["models"][0]["id"], issue_id);
    }
    // A trigger's update may leave out its type (Hookdeck's update body has none).
    let trigger = gw
        .post(
            "/issue-triggers",
            json!({"type": "delivery", "channels": {"webhook": {"url": "http://127.0.0.1:9/"}}}),
        )
        .await;
    let renamed = gw
        .put(
            &format!("/issue-triggers/{}", trigger["id"].as_str().unwrap()),
            json!({"name": "renamed"}),
        )
        .await;
    assert_eq!(
        (renamed["name"].as_str(), renamed["type"].as_str()),
        (Some("renamed"), Some("delivery"))
    );
    assert_eq!(renamed["channels"], trigger["channels"]);
    assert_eq!(
        gw.get("/issue-triggers?order_by=type").await["pagination"]["order_by"],
        "type"
    );
    refused(&gw, "/issues?status=SOMETIMES", "status").await;
    refused(&gw, "/issues?last_seen_at%5Bgte%5D=later", "last_seen_at").await;
    refused(&gw, "/issues/count?limit=5", "paging").await;

    // Bulk retry lists: ids and time operators.
    let op = gw
        .post(
            "/bulk/events/retry",
            json!({"query": {"status": "SUCCESSFUL"}}),
        )
        .await;
    let past = enc("2000-01-01T00:00:00Z");
    let future = enc("2100-01-01T00:00:00Z");
    assert_eq!(
        gw.get(&format!("/bulk/events/retry?created_at%5Bgte%5D={past}"))
            .await["count"],
        1
    );
    assert_eq!(
        gw.get(&format!("/bulk/events/retry?created_at%5Bgt%5D={future}"))
            .await["count"],
        0
    );
    assert_eq!(
        gw.get(&format!(
            "/bulk/events/retry?id={}&cancelled_at%5Bany%5D=false",
            op["id"].as_str().unwrap()
        ))
        .await["count"],
        1
    );
    assert_eq!(
        gw.get("/bulk/requests/retry?created_at%5Bany%5D=true")
            .await["count"],
        0
    );
    refused(
        &gw,
        "/bulk/events/retry?completed_at%5Bgte%5D=soon",
        "completed_at",
    )
    .await;
    refused(&gw, "/bulk/events/retry?in_progress=maybe", "in_progress").await;

    // Mute: a waiting event stops retrying and shows as such; a retry unmutes it.
    let waiting = gw.get("/events?status=SCHEDULED&limit=1").await["models"][0].clone();
    let id = waiting["id"].as_str().unwrap();
    assert!(waiting["next_attempt_at"].is_string());
    let muted = gw.put(&format!("/events/{id}/mute"), json!({})).await;
    assert_eq!(muted["status"], "FAILED");
    assert!(muted["muted_at"].is_string(), "{muted}");
    assert!(muted["next_attempt_at"].is_null());
    assert_eq!(gw.get(&format!("/events/{id}")).await["status"], "FAILED");
    let (s, _) = gw.call(Method::PUT, "/events/evt_nope/mute", None).await;
    assert_eq!(s.as_u16(), 404);
    let retried = gw.post(&format!("/events/{id}/retry"), json!({})).await;
    assert!(retried["muted_at"].is_null(), "{retried}");
    gw.stop().await;
}

#[tokio::test]
async fn sqlite_lists_filter_search_sort_and_page() {
    lists_filter_search_sort_and_page(Gateway::start().await).await;
}

#[tokio::test]
async fn postgres_lists_filter_search_sort_and_page() {
    let Some(gw) = Gateway::start_postgres().await else {
        return;
    };
    lists_filter_search_sort_and_page(gw).await;
}
