//! Test harness: a gateway on port 0 with its own data directory, a scripted test
//! receiver that records what it gets, and polling helpers.

use super::pg;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use hookyard::config::Config;
use hookyard::shutdown::{self, ShutdownTrigger};
use serde_json::Value;
use tempfile::TempDir;

pub const KEY: &str = "test-key";

pub struct Gateway {
    pub base: String,
    pub api: String,
    pub client: reqwest::Client,
    trigger: ShutdownTrigger,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    pub dir: TempDir,
    /// The database the gateway uses (a second `Store` may open it).
    pub database_url: String,
    _pg: Option<pg::TestDb>,
}

impl Gateway {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::start_on(None, tweak).await
    }

    /// On a fresh PostgreSQL database instead of SQLite.
    pub async fn start_postgres() -> Option<Self> {
        Self::start_postgres_with(|_| {}).await
    }

    /// On a fresh PostgreSQL database, with `tweak` applied to the configuration.
    pub async fn start_postgres_with(tweak: impl FnOnce(&mut Config)) -> Option<Self> {
        let db = pg::TestDb::create().await?;
        Some(Self::start_on(Some(db), tweak).await)
    }

    /// On SQLite (`postgres` false) or on a fresh PostgreSQL database; `None` when
    /// PostgreSQL is asked for and missing outside CI.
    pub async fn start_backend(postgres: bool, tweak: impl FnOnce(&mut Config)) -> Option<Self> {
        if postgres {
            Self::start_postgres_with(tweak).await
        } else {
            Some(Self::start_with(tweak).await)
        }
    }

    async fn start_on(pg: Option<pg::TestDb>, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = TempDir::new().expect("tempdir");
        let mut cfg = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        cfg.sqlite.synchronous = hookyard::store::SqliteSync::Normal;
        cfg.delivery.poll_interval_ms = 100;
        cfg.delivery.timeout_ms = 5_000;
        if let Some(db) = &pg {
            cfg.database_url = db.url.clone();
        }
        tweak(&mut cfg);
        let store = hookyard::open_store(&cfg).await.expect("open store");
        let database_url = cfg.database_url();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (trigger, sd) = shutdown::channel();
        let task = tokio::spawn(hookyard::run(cfg, store, KEY.into(), listener, sd));
        Gateway {
            api: format!("{base}/2024-09-01"),
            base,
            client: reqwest::Client::new(),
            trigger,
            task: Some(task),
            dir,
            database_url,
            _pg: pg,
        }
    }

    pub async fn stop(mut self) {
        self.trigger.trigger();
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut rb = self
            .client
            .request(method, format!("{}{path}", self.api))
            .bearer_auth(KEY);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.expect("api call");
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (StatusCode::from_u16(status.as_u16()).unwrap(), value)
    }

    pub async fn get(&self, path: &str) -> Value {
        let (s, v) = self.call(Method::GET, path, None).await;
        assert_eq!(s, StatusCode::OK, "GET {path}: {v}");
        v
    }

    /// POST that must succeed; returns the body.
    pub async fn post(&self, path: &str, body: Value) -> Value {
        let (s, v) = self.call(Method::POST, path, Some(body)).await;
        assert_eq!(s, StatusCode::OK, "POST {path}: {v}");
        v
    }

    pub async fn put(&self, path: &str, body: Value) -> Value {
        let (s, v) = self.call(Method::PUT, path, Some(body)).await;
        assert_eq!(s, StatusCode::OK, "PUT {path}: {v}");
        v
    }

    /// Sends a webhook to `/e/{path}`; returns status and body text.
    pub async fn send(&self, path: &str, body: impl Into<reqwest::Body>) -> (u16, String) {
        let resp = self
            .client
            .post(format!("{}/e/{path}", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("send webhook");
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// Waits until `events?…` lists an event in one of the final states and
    /// returns it.
    pub async fn wait_event(&self, query: &str, status: &str) -> Value {
        let path = format!("/events?{query}");
        eventually(&format!("an event {status} for {query}"), || async {
            let v = self.get(&path).await;
            v["models"]
                .as_array()
                .and_then(|m| m.iter().find(|e| e["status"] == status).cloned())
        })
        .await
    }
}

/// Polls `f` until it gives `Some`, for up to 20 seconds (generous: CI machines are
/// slow, and this is about behaviour, not speed).
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[derive(Debug, Clone)]
pub struct Received {
    /// When it arrived.
    pub at: std::time::Instant,
    pub method: String,
    pub uri: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap_or_default().to_owned())
    }
}

/// One scripted answer of the receiver.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: String,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Reply {
            status,
            retry_after: None,
            body: format!("status {status}"),
        }
    }
}

/// A destination that records every request and answers from a script (then 200).
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
}

impl Receiver {
    pub async fn start() -> Self {
        Self::scripted(vec![]).await
    }

    pub async fn scripted(replies: Vec<Reply>) -> Self {
        Self::scripted_slow(replies, Duration::ZERO).await
    }

    /// Like [`Receiver::scripted`], taking `delay` to answer each request.
    pub async fn scripted_slow(replies: Vec<Reply>, delay: Duration) -> Self {
        Self::scripted_at("127.0.0.1", replies, delay).await
    }

    /// A receiver answering 200, listening on `ip` (another loopback address such
    /// as 127.0.0.2, to tell two receivers apart by address).
    pub async fn on(ip: &str) -> Self {
        Self::scripted_at(ip, vec![], Duration::ZERO).await
    }

    /// A receiver answering 200 on 127.0.0.1:`port` (a port chosen before the
    /// receiver starts, e.g. one a client was already told to use).
    pub async fn on_port(port: u16) -> Self {
        Self::bound("127.0.0.1", port, vec![], Duration::ZERO).await
    }

    async fn scripted_at(ip: &str, replies: Vec<Reply>, delay: Duration) -> Self {
        Self::bound(ip, 0, replies, delay).await
    }

    async fn bound(ip: &str, port: u16, replies: Vec<Reply>, delay: Duration) -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(replies)));
        let (r, s) = (received.clone(), script.clone());
        let handler = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let (r, s) = (r.clone(), s.clone());
            async move {
                r.lock().unwrap().push(Received {
                    at: std::time::Instant::now(),
                    method: method.to_string(),
                    uri: uri.to_string(),
                    headers,
                    body,
                });
                let reply = s.lock().unwrap().pop_front().unwrap_or(Reply::status(200));
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let mut resp =
                    (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
                if let Some(ra) = reply.retry_after {
                    resp.headers_mut()
                        .insert("retry-after", ra.parse().unwrap());
                }
                resp
            }
        };
        // A local server takes bodies of any size (axum's default stops at 2 MB).
        let app = axum::Router::new()
            .fallback(handler)
            .layer(axum::extract::DefaultBodyLimit::disable());
        let listener = tokio::net::TcpListener::bind((ip, port)).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            url,
            received,
            script,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        eventually(&format!("{n} deliveries"), || async {
            let r = self.received();
            (r.len() >= n).then_some(r)
        })
        .await
    }
}
