//! Replaying what was stored (issue 12): deleting transformations no connection
//! uses, bulk retries of requests and of ignored events, and bookmarks, end to
//! end on SQLite and PostgreSQL.

use crate::common;

use axum::http::{Method, StatusCode};
use common::gateway::{eventually, Gateway, Receiver};
use hookyard::model::Transformation;
use hookyard::store::{SqliteSync, Store};
use serde_json::{json, Value};

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn models(v: &Value) -> Vec<Value> {
    v["models"].as_array().cloned().unwrap_or_default()
}

/// Stores a transformation straight into the gateway's database: these tests
/// are about what refers to it, not about running it (no component needed).
async fn stored_transformation(gw: &Gateway, id: &str, name: &str) {
    let store = Store::connect(&gw.database_url, SqliteSync::Normal)
        .await
        .unwrap();
    store
        .insert_transformation(&Transformation {
            id: id.into(),
            name: name.into(),
            module: Some(b"not run here".to_vec()),
            module_hash: "sha256:00".into(),
            module_size: 12,
            env: Default::default(),
            memory_limit_bytes: None,
            timeout_ms: None,
            created_at: 1,
            updated_at: 1,
        })
        .await
        .unwrap();
}

// ---------------------------------------------------- DELETE /transformations

async fn transformation_delete(postgres: bool) {
    let Some(gw) = Gateway::start_backend(postgres, |_| {}).await else {
        return;
    };
    stored_transformation(&gw, "trs_used", "used").await;
    stored_transformation(&gw, "trs_free", "free").await;
    let conn = gw
        .post(
            "/connections",
            json!({"name": "shop-conn", "source": {"name": "shop"},
                   "destination": {"name": "d", "url": "http://127.0.0.1:9"},
                   "rules": [{"type": "transform", "transformation_id": "trs_used"}]}),
        )
        .await;
    let conn_id = conn["id"].as_str().unwrap();

    let (s, v) = gw
        .call(Method::DELETE, "/transformations/trs_used", None)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let msg = v["message"].as_str().unwrap();
    assert!(msg.contains("shop-conn") && msg.contains(conn_id), "{msg}");
    gw.get("/transformations/trs_used").await;

    let v = gw
        .call(Method::DELETE, "/transformations/trs_free", None)
        .await;
    assert_eq!(v, (StatusCode::OK, json!({"id": "trs_free"})));
    let (s, _) = gw
        .call(Method::GET, "/transformations/trs_free", None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = gw
        .call(Method::DELETE, "/transformations/trs_free", None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");

    // Once no rule names it, it goes.
    gw.put(&format!("/connections/{conn_id}"), json!({"rules": []}))
        .await;
    let (s, v) = gw
        .call(Method::DELETE, "/transformations/trs_used", None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    gw.stop().await;
}

#[tokio::test]
async fn a_transformation_in_use_is_not_deleted_sqlite() {
    transformation_delete(false).await;
}

#[tokio::test]
async fn a_transformation_in_use_is_not_deleted_postgres() {
    transformation_delete(true).await;
}

// ------------------------------------ bulk retries of requests and ignored events

/// Waits for bulk retry `id` (under `base`) to finish; returns it.
async fn finished(gw: &Gateway, base: &str, id: &str) -> Value {
    eventually("the bulk retry to finish", || async {
        let v = gw.get(&format!("{base}/{id}")).await;
        (v["in_progress"] == false).then_some(v)
    })
    .await
}

async fn events_of(gw: &Gateway, conn: &str) -> Vec<Value> {
    models(
        &gw.get(&format!("/events?webhook_id={conn}&limit=250"))
            .await,
    )
}

async fn bulk_replays(postgres: bool) {
    let Some(gw) = Gateway::start_backend(postgres, |_| {}).await else {
        return;
    };
    let rx = Receiver::start().await;
    let conn = gw
        .post(
            "/connections",
            json!({"name": "shop-conn", "source": {"name": "shop"},
                   "destination": {"name": "shop-api", "url": rx.url},
                   "rules": [{"type": "filter", "body": {"kind": "a"}}]}),
        )
        .await;
    let conn_id = conn["id"].as_str().unwrap().to_owned();
    let source_id = conn["source"]["id"].as_str().unwrap().to_owned();
    for kind in ["a", "b", "b"] {
        assert_eq!(
            gw.send("shop", format!(r#"{{"kind":"{kind}"}}"#)).await.0,
            200
        );
    }
    eventually("one event", || async {
        (events_of(&gw, &conn_id).await.len() == 1).then_some(())
    })
    .await;

    // Invalid queries name the field.
    for (path, query, field) in [
        (
            "/bulk/requests/retry",
            json!({"status": "lost"}),
            "query.status",
        ),
        (
            "/bulk/requests/retry",
            json!({"search_term": "ab"}),
            "search_term",
        ),
        (
            "/bulk/requests/retry",
            json!({"rejection_cause": "NOPE"}),
            "query.rejection_cause",
        ),
        (
            "/bulk/ignored-events/retry",
            json!({"cause": "NOPE"}),
            "query.cause",
        ),
        ("/bulk/ignored-events/retry", json!({"colour": 1}), "colour"),
    ] {
        let (s, v) = gw
            .call(Method::POST, path, Some(json!({"query": query})))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{path} {query}: {v}");
        assert!(v["message"].as_str().unwrap().contains(field), "{v}");
    }

    // The filter is widened: the ignored events' connection takes them now.
    let ignored_q = json!({"cause": "FILTERED", "webhook_id": conn_id});
    let plan = gw
        .get(&format!(
            "/bulk/ignored-events/retry/plan?query={}",
            urlencode(&ignored_q.to_string())
        ))
        .await;
    assert_eq!(plan["estimated_count"], 2, "{plan}");
    gw.put(&format!("/connections/{conn_id}"), json!({"rules": []}))
        .await;
    let op = gw
        .post("/bulk/ignored-events/retry", json!({"query": ignored_q}))
        .await;
    assert_eq!(op["type"], "retry_ignored_event");
    let id = op["id"].as_str().unwrap().to_owned();
    let done = finished(&gw, "/bulk/ignored-events/retry", &id).await;
    assert_eq!(done["completed_count"], 2, "{done}");
    assert_eq!(done["progress"], 1.0);
    let events = events_of(&gw, &conn_id).await;
    assert_eq!(events.len(), 3);
    // No longer ignored: a second retry finds nothing to do.
    let again = gw
        .get(&format!(
            "/bulk/ignored-events/retry/plan?query={}",
            urlencode(&ignored_q.to_string())
        ))
        .await;
    assert_eq!(again["estimated_count"], 0, "{again}");
    // The attempts the bulk retry caused carry its id.
    rx.wait_for(3).await;
    let newest = &events[0];
    let attempts = eventually("the new event's attempt", || async {
        let v = gw
            .get(&format!(
                "/attempts?event_id={}",
                newest["id"].as_str().unwrap()
            ))
            .await;
        (!models(&v).is_empty()).then_some(models(&v))
    })
    .await;
    assert_eq!(attempts[0]["bulk_retry_id"], id.as_str(), "{attempts:?}");

    // Every request of the source, routed again through its connections.
    let req_q = json!({"source_id": source_id, "body": {"kind": "b"}});
    let plan = gw
        .get(&format!(
            "/bulk/requests/retry/plan?query={}",
            urlencode(&req_q.to_string())
        ))
        .await;
    assert_eq!(plan["estimated_count"], 2, "{plan}");
    let op = gw
        .post("/bulk/requests/retry", json!({"query": req_q}))
        .await;
    assert_eq!(op["type"], "retry_request");
    let rid = op["id"].as_str().unwrap().to_owned();
    let done = finished(&gw, "/bulk/requests/retry", &rid).await;
    assert_eq!(done["completed_count"], 2, "{done}");
    assert_eq!(events_of(&gw, &conn_id).await.len(), 5);

    // Each kind lists and finds its own operations only.
    assert_eq!(gw.get("/bulk/requests/retry").await["count"], 1);
    assert_eq!(gw.get("/bulk/ignored-events/retry").await["count"], 1);
    assert_eq!(gw.get("/bulk/events/retry").await["count"], 0);
    assert_eq!(
        gw.get("/bulk/requests/retry?in_progress=true").await["count"],
        0
    );
    let (s, _) = gw
        .call(Method::GET, &format!("/bulk/events/retry/{rid}"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = gw
        .call(Method::GET, "/bulk/requests/retry?colour=red", None)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");

    // Cancel stops an operation (this one may finish first: either way it ends).
    let op = gw
        .post(
            "/bulk/requests/retry",
            json!({"query": {"source_id": source_id}}),
        )
        .await;
    let cid = op["id"].as_str().unwrap();
    let c = gw
        .post(&format!("/bulk/requests/retry/{cid}/cancel"), json!({}))
        .await;
    assert_eq!(c["in_progress"], false, "{c}");
    let (s, _) = gw
        .call(
            Method::POST,
            "/bulk/requests/retry/blk_nope/cancel",
            Some(json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    gw.stop().await;
}

#[tokio::test]
async fn bulk_retries_route_requests_and_ignored_events_again_sqlite() {
    bulk_replays(false).await;
}

#[tokio::test]
async fn bulk_retries_route_requests_and_ignored_events_again_postgres() {
    bulk_replays(true).await;
}

// ------------------------------------------------------------------ bookmarks

async fn bookmarks(postgres: bool) {
    let Some(gw) = Gateway::start_backend(postgres, |_| {}).await else {
        return;
    };
    let rx = Receiver::start().await;
    let conn = gw
        .post(
            "/connections",
            json!({"name": "bm-conn", "source": {"name": "bm"},
                   "destination": {"name": "bm-api", "url": rx.url}}),
        )
        .await;
    let conn_id = conn["id"].as_str().unwrap().to_owned();
    assert_eq!(gw.send("bm", r#"{"order":7}"#).await.0, 200);
    rx.wait_for(1).await;
    let req_id = models(&gw.get("/requests").await)[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    for (body, field) in [
        (
            json!({"event_data_id": req_id, "webhook_id": conn_id}),
            "label",
        ),
        (
            json!({"event_data_id": req_id, "webhook_id": "web_nope", "label": "x"}),
            "webhook_id",
        ),
        (
            json!({"event_data_id": "req_nope", "webhook_id": conn_id, "label": "x"}),
            "event_data_id",
        ),
        (
            json!({"event_data_id": req_id, "webhook_id": conn_id, "label": ""}),
            "label",
        ),
        (
            json!({"event_data_id": req_id, "webhook_id": conn_id, "label": "x", "name": "a b"}),
            "name",
        ),
        (
            json!({"event_data_id": req_id, "webhook_id": conn_id, "label": "x", "colour": 1}),
            "colour",
        ),
    ] {
        let (s, v) = gw
            .call(Method::POST, "/bookmarks", Some(body.clone()))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert!(v["message"].as_str().unwrap().contains(field), "{v}");
    }

    let b = gw
        .post(
            "/bookmarks",
            json!({"event_data_id": req_id, "webhook_id": conn_id, "label": "order 7", "name": "order-7"}),
        )
        .await;
    let id = b["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("bmk_"), "{b}");
    assert_eq!(b["webhook_id"], conn_id.as_str());
    assert_eq!(b["event_data_id"], req_id.as_str());
    assert_eq!(b["last_used_at"], Value::Null);
    let (s, v) = gw
        .call(
            Method::POST,
            "/bookmarks",
            Some(json!({"event_data_id": req_id, "webhook_id": conn_id, "label": "y", "name": "order-7"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a name is unique: {v}");

    let listed = gw.get(&format!("/bookmarks?webhook_id={conn_id}")).await;
    assert_eq!(listed["count"], 1);
    assert_eq!(gw.get("/bookmarks?label=other").await["count"], 0);
    let (s, v) = gw.call(Method::GET, "/bookmarks?colour=red", None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let one = gw.get(&format!("/bookmarks/{id}")).await;
    assert_eq!(one["data"]["body"]["order"], 7, "{one}");
    let raw = gw.get(&format!("/bookmarks/{id}/raw_body")).await;
    assert_eq!(raw["body"], r#"{"order":7}"#);
    let updated = gw
        .put(&format!("/bookmarks/{id}"), json!({"label": "the seventh"}))
        .await;
    assert_eq!(updated["label"], "the seventh");
    let (s, _) = gw
        .call(
            Method::PUT,
            "/bookmarks/bmk_nope",
            Some(json!({"label": "z"})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Triggered: through the connection again, as a new event.
    let events = gw
        .post(
            &format!("/bookmarks/{id}/trigger"),
            json!({"target": "http"}),
        )
        .await;
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["request_id"], req_id.as_str());
    let got = rx.wait_for(2).await;
    assert_eq!(got[1].body, got[0].body);
    assert!(gw.get(&format!("/bookmarks/{id}")).await["last_used_at"].is_string());
    let (s, _) = gw
        .call(
            Method::POST,
            &format!("/bookmarks/{id}/trigger"),
            Some(json!({"target": "pigeon"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // The same walker: a filter that no longer lets it through makes no event.
    gw.put(
        &format!("/connections/{conn_id}"),
        json!({"rules": [{"type": "filter", "body": {"order": 8}}]}),
    )
    .await;
    let none = gw
        .post(&format!("/bookmarks/{id}/trigger"), json!({}))
        .await;
    assert_eq!(none, json!([]));

    // Its connection deleted: a 404 that says so.
    let (s, _) = gw
        .call(Method::DELETE, &format!("/connections/{conn_id}"), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = gw
        .call(
            Method::POST,
            &format!("/bookmarks/{id}/trigger"),
            Some(json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert!(v["message"].as_str().unwrap().contains("deleted"), "{v}");

    let v = gw
        .call(Method::DELETE, &format!("/bookmarks/{id}"), None)
        .await;
    assert_eq!(v, (StatusCode::OK, json!({"id": id})));
    let (s, _) = gw
        .call(Method::GET, &format!("/bookmarks/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    gw.stop().await;
}

#[tokio::test]
async fn bookmarks_are_saved_listed_and_triggered_through_the_rules_sqlite() {
    bookmarks(false).await;
}

#[tokio::test]
async fn bookmarks_are_saved_listed_and_triggered_through_the_rules_postgres() {
    bookmarks(true).await;
}
