//! The dashboard's server side: its files under a strict Content-Security-Policy,
//! signing in with the API key (a session cookie that reads, and writes only with
//! its CSRF token), and the two API additions it draws from: filter evaluation
//! and metrics per time bucket (SQLite and PostgreSQL).

use crate::common;

use std::path::Path;

use axum::http::{Method, StatusCode};
use common::gateway::{eventually, Gateway, Receiver, Reply, KEY};
use serde_json::{json, Value};

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_dashboard_is_served_under_a_policy_that_forbids_inline_script() {
    let gw = Gateway::start().await;
    let c = no_redirects();
    let index = c.get(format!("{}/", gw.base)).send().await.unwrap();
    assert_eq!(index.status(), 200);
    let csp = index.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(index.headers()["x-content-type-options"], "nosniff");
    assert_eq!(index.headers()["x-frame-options"], "DENY");
    assert!(index.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = index.text().await.unwrap();
    assert!(html.contains(r#"<script type="module" src="/assets/js/app.js"></script>"#));

    let js = c
        .get(format!("{}/assets/js/app.js", gw.base))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));
    let etag = js.headers()["etag"].to_str().unwrap().to_owned();
    let again = c
        .get(format!("{}/assets/js/app.js", gw.base))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    for missing in [
        "/assets/nope.js",
        "/assets/../Cargo.toml",
        "/assets/%2e%2e/Cargo.toml",
    ] {
        let r = c.get(format!("{}{missing}", gw.base)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{missing}");
    }
    gw.stop().await;
}

/// What the page's code must never do with the data it shows: the policy stops
/// inline script, and these keep markup from being built from strings at all.
#[test]
fn no_dashboard_module_builds_markup_from_strings() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("dashboard");
    let mut checked = 0;
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or_default();
            if !matches!(ext, "js" | "html") {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            for banned in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
                "setAttribute('style'",
                "style=\"",
                "javascript:",
                "srcdoc",
            ] {
                assert!(!text.contains(banned), "{} uses {banned}", p.display());
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} files checked");
}

fn cookie_of(resp: &reqwest::Response) -> String {
    let set = resp.headers()["set-cookie"].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_session_reads_and_writes_only_with_its_csrf_token_until_signed_out() {
    let gw = Gateway::start().await;
    let c = no_redirects();
    let session = format!("{}/dashboard/session", gw.base);

    // Nothing without signing in; a wrong key is refused.
    let r = c.get(format!("{}/sources", gw.api)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let anon: Value = c.get(&session).send().await.unwrap().json().await.unwrap();
    assert_eq!(anon, json!({"signed_in": false}));
    let r = c
        .post(&session)
        .json(&json!({"api_key": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("set-cookie").is_none());

    let r = c
        .post(&session)
        .json(&json!({"api_key": KEY}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(flag), "{set}");
    }
    let cookie = cookie_of(&r);
    let body: Value = r.json().await.unwrap();
    let csrf = body["csrf_token"].as_str().unwrap().to_owned();

    let r = c
        .get(format!("{}/sources", gw.api))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let again: Value = c
        .get(&session)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["csrf_token"], csrf.as_str());

    // A write with the cookie alone is what another site could make a browser do.
    let create = || {
        c.post(format!("{}/sources", gw.api))
            .header("cookie", &cookie)
            .json(&json!({"name": "dash-src"}))
    };
    let r = create().send().await.unwrap();
    assert_eq!(r.status(), 403);
    let msg: Value = r.json().await.unwrap();
    assert!(
        msg["message"].as_str().unwrap().contains("x-csrf-token"),
        "{msg}"
    );
    let r = create()
        .header("x-csrf-token", "0".repeat(64))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = create().header("x-csrf-token", &csrf).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // A forged or altered cookie is no session.
    let forged = format!("{}0", cookie);
    let r = c
        .get(format!("{}/sources", gw.api))
        .header("cookie", &forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Signing out needs the token too, then the cookie is dead everywhere.
    let r = c
        .delete(&session)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .delete(&session)
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let r = c
        .get(format!("{}/sources", gw.api))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let gone: Value = c
        .get(&session)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(gone["signed_in"], false);
    gw.stop().await;
}

#[tokio::test]
async fn a_filter_is_evaluated_against_a_stored_or_given_request() {
    let gw = Gateway::start().await;
    gw.post("/sources", json!({"name": "shop"})).await;
    let (status, _) = gw
        .send("shop/orders?x=1", r#"{"type":"order.paid","total":42}"#)
        .await;
    assert_eq!(status, 200);
    let reqs = eventually("the request", || async {
        let v = gw.get("/requests").await;
        v["models"].as_array().and_then(|m| m.first().cloned())
    })
    .await;
    let id = reqs["id"].as_str().unwrap();

    let gwr = &gw;
    let eval =
        |body: Value| async move { gwr.call(Method::PUT, "/filters/evaluate", Some(body)).await };
    let (s, v) = eval(json!({"filter": {"body": {"type": "order.paid", "total": {"$gte": 40}}, "query": {"x": "1"}}, "request_id": id})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["matches"], true);
    assert_eq!(v["request"]["body"]["total"], 42);
    assert_eq!(v["request"]["path"], "/orders");

    let (_, v) = eval(json!({"filter": {"body": {"type": "order.refunded"}, "path": {"$startsWith": "/orders"}}, "request_id": id})).await;
    assert_eq!(v["matches"], false);
    assert_eq!(v["failed"], json!(["body"]));

    let (_, v) = eval(json!({"filter": {"headers": {"x-kind": "a"}}, "request": {"headers": {"X-Kind": "a"}, "body": "plain text"}})).await;
    assert_eq!(v["matches"], true, "{v}");
    assert_eq!(v["request"]["body"], "plain text");

    let (s, v) = eval(json!({"filter": {"body": {"n": {"$bogus": 1}}}, "request_id": id})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        v["message"].as_str().unwrap().contains("`filter.body`"),
        "{v}"
    );
    let (s, v) = eval(json!({"filter": {}})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, _) = eval(json!({"filter": {}, "request_id": "req_nope"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    gw.stop().await;
}

async fn metrics_count_by_bucket(gw: Gateway) {
    let ok = Receiver::start().await;
    let bad = Receiver::scripted(vec![Reply::status(500); 8]).await;
    let conn_ok = gw
        .post("/connections", json!({"name": "ok", "source": {"name": "m"}, "destination": {"name": "good", "url": ok.url}}))
        .await;
    let conn_bad = gw
        .post("/connections", json!({
            "name": "bad", "source": {"name": "m"}, "destination": {"name": "broken", "url": bad.url},
            "rules": [{"type": "retry", "strategy": "linear", "count": 0, "interval": 1000}]
        }))
        .await;
    for i in 0..3 {
        assert_eq!(gw.send("m", format!(r#"{{"i":{i}}}"#)).await.0, 200);
    }
    ok.wait_for(3).await;
    gw.wait_event(
        &format!(
            "webhook_id={}&status=FAILED",
            conn_bad["id"].as_str().unwrap()
        ),
        "FAILED",
    )
    .await;
    let m = eventually("3 delivered and 3 failed", || async {
        let v = gw
            .get(&format!(
                "/metrics/events?granularity=hour&start={}",
                enc(&hour_ago())
            ))
            .await;
        let total = |k: &str| {
            v["buckets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b[k].as_i64().unwrap())
                .sum::<i64>()
        };
        (total("successful") == 3 && total("failed") == 3).then_some(v)
    })
    .await;
    let total = |k: &str| {
        m["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b[k].as_i64().unwrap())
            .sum::<i64>()
    };
    assert_eq!(total("requests"), 3);
    assert_eq!(total("events"), 6);
    for b in m["buckets"].as_array().unwrap() {
        assert!(b["time"].as_str().unwrap().ends_with(":00:00.000Z"), "{b}");
    }
    let conns = m["connections"].as_array().unwrap();
    let by = |id: &Value| {
        conns
            .iter()
            .find(|c| c["connection_id"] == *id)
            .unwrap()
            .clone()
    };
    assert_eq!(by(&conn_ok["id"])["successful"], 3);
    assert_eq!(by(&conn_bad["id"])["failed"], 3);
    let good = m["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["destination_id"] == conn_ok["destination"]["id"])
        .unwrap();
    let latency: Vec<f64> = good["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["avg_latency_ms"].as_f64())
        .collect();
    assert_eq!(latency.len(), 1, "{good}");
    assert!(latency[0] >= 0.0 && latency[0] < 20_000.0, "{latency:?}");

    // Scoped to one destination.
    let only = gw
        .get(&format!(
            "/metrics/events?granularity=hour&start={}&destination_id={}",
            enc(&hour_ago()),
            conn_bad["destination"]["id"].as_str().unwrap()
        ))
        .await;
    let sum = |k: &str| {
        only["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b[k].as_i64().unwrap())
            .sum::<i64>()
    };
    assert_eq!((sum("successful"), sum("failed")), (0, 3));

    for bad_query in [
        "granularity=week",
        "start=yesterday",
        "start=2020-01-01T00:00:00Z&granularity=minute",
        "colour=red",
    ] {
        let (s, v) = gw
            .call(Method::GET, &format!("/metrics/events?{bad_query}"), None)
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad_query}: {v}");
    }
    gw.stop().await;
}

fn hour_ago() -> String {
    chrono::Utc::now()
        .checked_sub_signed(chrono::Duration::minutes(59))
        .unwrap()
        .to_rfc3339()
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_count_requests_and_outcomes_per_bucket_sqlite() {
    metrics_count_by_bucket(Gateway::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_count_requests_and_outcomes_per_bucket_postgres() {
    if let Some(gw) = Gateway::start_postgres().await {
        metrics_count_by_bucket(gw).await;
    }
}

/// The dashboard's forms clear a setting by sending `null`; before, serde read
/// `null` as "absent" and the setting stayed.
#[tokio::test]
async fn null_clears_a_sources_and_a_destinations_optional_settings() {
    let gw = Gateway::start().await;
    let src = gw
        .post(
            "/sources",
            json!({
                "name": "clearable",
                "custom_response": {"content_type": "text", "body": "ok"},
                "verification": {"type": "github", "configs": {"webhook_secret_key": "s"}},
                "max_body_bytes": 1000
            }),
        )
        .await;
    assert_eq!(src["max_body_bytes"], 1000);
    assert!(src["verification"].is_object() && src["custom_response"].is_object());
    let id = src["id"].as_str().unwrap();
    let kept = gw
        .put(&format!("/sources/{id}"), json!({"description": "x"}))
        .await;
    assert_eq!(kept["max_body_bytes"], 1000, "absent leaves it: {kept}");
    let cleared = gw
        .put(
            &format!("/sources/{id}"),
            json!({"custom_response": null, "verification": null, "max_body_bytes": null}),
        )
        .await;
    assert_eq!(cleared["custom_response"], Value::Null, "{cleared}");
    assert_eq!(cleared["verification"], Value::Null, "{cleared}");
    assert_eq!(cleared["max_body_bytes"], Value::Null, "{cleared}");

    let dst = gw
        .post(
            "/destinations",
            json!({"name": "authed", "url": "http://127.0.0.1:9/x",
                   "auth_method": {"type": "BEARER_TOKEN", "config": {"token": "t"}}}),
        )
        .await;
    assert_eq!(dst["auth_method"]["type"], "BEARER_TOKEN");
    let id = dst["id"].as_str().unwrap();
    let cleared = gw
        .put(&format!("/destinations/{id}"), json!({"auth_method": null}))
        .await;
    assert_eq!(cleared["auth_method"], Value::Null, "{cleared}");
    gw.stop().await;
}
