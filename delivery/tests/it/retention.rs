//! Retention on both backends, with a simulated clock 31 days ahead: what is done
//! (delivered, failed for good) goes, in batches; what can still be delivered
//! (held events, their requests) stays.

use crate::common;

use common::gateway::{eventually, Gateway, Receiver, Reply};
use hookyard::config::RetentionConfig;
use hookyard::retention::Retention;
use hookyard::signals::Signals;
use hookyard::store::{Pruned, SqliteSync, Store};
use serde_json::{json, Value};

fn models(v: &Value) -> Vec<Value> {
    v["models"].as_array().cloned().unwrap_or_default()
}

async fn connect(gw: &Gateway, source: &str, url: &str) -> String {
    let c = gw
        .post(
            "/connections",
            json!({"name": source, "source": {"name": source},
                   "destination": {"name": format!("{source}-d"), "url": url}}),
        )
        .await;
    c["id"].as_str().unwrap().to_owned()
}

async fn events(gw: &Gateway, status: &str) -> Vec<Value> {
    models(&gw.get(&format!("/events?status={status}&limit=250")).await)
}

fn in_31_days() -> i64 {
    hookyard::clock::now_ms() + 31 * 24 * 3600 * 1000
}

async fn keeps_what_can_still_be_delivered(postgres: bool) {
    let Some(gw) = Gateway::start_backend(postgres, |cfg| {
        cfg.delivery.default_retry.count = 0;
    })
    .await
    else {
        return;
    };
    let ok = Receiver::start().await;
    let failing = Receiver::scripted(vec![Reply::status(500); 8]).await;
    connect(&gw, "done", &ok.url).await;
    connect(&gw, "failing", &failing.url).await;
    let held = connect(&gw, "held", &ok.url).await;
    gw.put(&format!("/connections/{held}/pause"), json!({}))
        .await;
    for i in 0..3 {
        for source in ["done", "failing", "held"] {
            gw.send(source, format!(r#"{{"i":{i}}}"#)).await;
        }
    }
    eventually("3 delivered, 3 failed, 3 held", || async {
        let counts = (
            events(&gw, "SUCCESSFUL").await.len(),
            events(&gw, "FAILED").await.len(),
            events(&gw, "HOLD").await.len(),
        );
        (counts == (3, 3, 3)).then_some(())
    })
    .await;

    // A bookmarked request outlives retention: it was saved to be sent again.
    let done_conn = models(&gw.get("/connections?name=done").await)[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let kept = events(&gw, "SUCCESSFUL").await[0]["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bookmark = gw
        .post(
            "/bookmarks",
            json!({"webhook_id": done_conn, "event_data_id": kept, "label": "keep me"}),
        )
        .await;

    let store = std::sync::Arc::new(
        Store::connect(&gw.database_url, SqliteSync::Normal)
            .await
            .unwrap(),
    );
    let config = RetentionConfig {
        days: 30,
        interval_secs: 1,
        batch_size: 2,
    };
    // Today nothing is 30 days old.
    let mut today = Retention::new(store.clone(), config.clone(), Signals::default());
    assert_eq!(today.step_once().await.unwrap(), Pruned::default());

    // A month later: batches of at most 2 per kind, until nothing is left.
    let mut later = Retention::new(store.clone(), config, Signals::default());
    later.now_ms = in_31_days;
    let mut total = Pruned::default();
    let mut steps = 0;
    loop {
        let p = later.step_once().await.unwrap();
        for n in [
            p.attempts,
            p.events,
            p.requests,
            p.ignored_events,
            p.executions,
        ] {
            assert!(n <= 2, "a batch is at most batch_size rows: {p:?}");
        }
        if p.total() == 0 {
            break;
        }
        total.attempts += p.attempts;
        total.events += p.events;
        total.requests += p.requests;
        steps += 1;
        assert!(steps < 100, "retention does not end");
    }
    assert_eq!(total.events, 6, "{total:?}");
    assert_eq!(total.attempts, 6, "{total:?}");
    assert_eq!(total.requests, 5, "the bookmarked one is kept: {total:?}");
    let raw = gw
        .get(&format!(
            "/bookmarks/{}/raw_body",
            bookmark["id"].as_str().unwrap()
        ))
        .await;
    assert!(raw["body"].as_str().unwrap().contains("\"i\""), "{raw}");
    assert!(events(&gw, "SUCCESSFUL").await.is_empty());
    assert!(events(&gw, "FAILED").await.is_empty());
    assert!(models(&gw.get("/attempts?limit=250").await).is_empty());

    // Held events and their requests are still there, and still deliverable.
    assert_eq!(events(&gw, "HOLD").await.len(), 3);
    assert_eq!(models(&gw.get("/requests?limit=250").await).len(), 4);
    gw.put(&format!("/connections/{held}/unpause"), json!({}))
        .await;
    ok.wait_for(6).await;
    gw.stop().await;
}

#[tokio::test]
async fn retention_keeps_what_can_still_be_delivered_sqlite() {
    keeps_what_can_still_be_delivered(false).await;
}

#[tokio::test]
async fn retention_keeps_what_can_still_be_delivered_postgres() {
    keeps_what_can_still_be_delivered(true).await;
}
