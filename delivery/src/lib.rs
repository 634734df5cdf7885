//! Hookyard delivery: stores every webhook, routes it through connections and
//! delivers it to destinations, with retries and a management API.
//!
//! Layout, following one request:
//! - [`ingest`]: `/e/{source}`: the local edge; group-commits requests, then answers.
//! - [`edge`]: `/edge/batch` for the Cloudflare Worker, and its source configuration.
//! - [`route`]: each stored request × its source's connections → events / ignored.
//! - [`dispatch`]: leases due events, delivers through [`destinations`], records
//!   attempts, schedules retries ([`rules`], `hookyard_core::backoff`).
//! - [`store`]: the [`store::Store`] trait, SQLite and PostgreSQL behind it.
//! - [`api`]: the REST API (Hookdeck-shaped), [`error`] maps errors to responses.
//! - [`catalog`]: short-lived caches of sources/destinations/connections.
//! - [`issues`]: failures grouped into issues, destination health (auto-disable);
//!   [`alerts`]: email and webhook alerts about them; [`monitor`]: holds and
//!   releases events, queue gauges, backpressure; [`bulk_retry`]: retry by query;
//!   [`telemetry`]: the metrics on `/metrics`.
//! - [`transform`]: transformations (sandboxed WebAssembly) run while routing.
//! - [`config`], [`cli`], [`filter_eval`]: configuration and the command line.
//!
//! [`run`] starts everything on a listener; `main` only parses the command line, and
//! tests call the same `run` on port 0.

pub mod alerts;
pub mod api;
pub mod bulk_retry;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod destinations;
pub mod dispatch;
pub mod edge;
pub mod error;
pub mod filter_eval;
pub mod ingest;
pub mod issues;
pub mod model;
pub mod monitor;
pub mod route;
pub mod rules;
pub mod shutdown;
pub mod store;
pub mod telemetry;
pub mod transform;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::{any, get};
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use utoipa::OpenApi;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::destinations::{http::HttpAdapter, Adapters};
use crate::dispatch::Dispatcher;
use crate::ingest::committer::{CommitContext, Committer};
use crate::route::{Router as RequestRouter, RulesCache};
use crate::shutdown::Shutdown;
use crate::store::{SqlStore, Store};

/// What request handlers share.
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub catalog: Arc<Catalog>,
    pub committer: Committer,
    pub rules: Arc<RulesCache>,
    pub dispatch_wake: Arc<Notify>,
    pub api_key: String,
    pub public_url: String,
    /// Bodies being received or waiting for their commit, in KiB: ingest waits
    /// for room rather than holding more than `ingest.max_inflight_bytes`.
    pub ingest_budget: Arc<tokio::sync::Semaphore>,
    /// The budget's size, in KiB.
    pub ingest_budget_kib: usize,
    /// Renders `/metrics`; `None` if the process has another metrics recorder.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Wakes the monitor (hold/release) after enable, disable, pause, unpause.
    pub monitor_wake: Arc<Notify>,
    /// Wakes the bulk retry worker after an operation is created.
    pub bulk_wake: Arc<Notify>,
    /// The transformation host (engine built on first use).
    pub transforms: Arc<transform::Transforms>,
}

/// Opens the store the configuration names (creating the data directory for SQLite).
pub async fn open_store(cfg: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = cfg.database_url();
    if url.starts_with("sqlite:") {
        std::fs::create_dir_all(&cfg.data_dir).map_err(|e| {
            anyhow::anyhow!(
                "cannot create data directory {}: {e}",
                cfg.data_dir.display()
            )
        })?;
    }
    let store = SqlStore::connect(&url, cfg.sqlite.synchronous).await?;
    Ok(Arc::new(store))
}

/// The HTTP routes: ingest, API, OpenAPI document, health.
pub fn app(state: Arc<AppState>) -> Router {
    let api = api::router(state.clone());
    Router::new()
        .route("/e/{source}", any(ingest::http::ingest))
        .route("/e/{source}/", any(ingest::http::ingest))
        .route("/e/{source}/{*rest}", any(ingest::http::ingest))
        .route("/edge/batch", axum::routing::post(edge::batch::receive))
        .nest(&format!("/{}", api::API_VERSION), api)
        .route(
            "/openapi.json",
            get(|| async { Json(api::openapi::ApiDoc::openapi()) }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(api::metrics::render))
        .with_state(state)
}

/// Starts ingest, routing, dispatch and the API on `listener`; returns when
/// `shutdown` fires and in-flight work has been handed over.
pub async fn run(
    cfg: Config,
    store: Arc<dyn Store>,
    api_key: String,
    listener: TcpListener,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let cfg = Arc::new(cfg);
    let local = listener.local_addr()?;
    let public_url = if cfg.public_url.is_empty() {
        format!("http://{local}")
    } else {
        cfg.public_url.clone()
    };
    let catalog = Arc::new(Catalog::new(store.clone(), Duration::from_secs(1)));
    let rules = Arc::new(RulesCache::default());
    let route_wake = Arc::new(Notify::new());
    let dispatch_wake = Arc::new(Notify::new());
    let committer = Committer::start(
        CommitContext {
            store: store.clone(),
            catalog: catalog.clone(),
            rules: rules.clone(),
            router_wake: route_wake.clone(),
            dispatch_wake: dispatch_wake.clone(),
        },
        cfg.ingest.max_batch,
    );
    let poll = Duration::from_millis(cfg.delivery.poll_interval_ms);

    let transforms = Arc::new(transform::Transforms::new(
        cfg.transformations.clone(),
        Some(cfg.data_dir.join("transformations")),
    ));
    let router = RequestRouter {
        store: store.clone(),
        rules: rules.clone(),
        wake: route_wake,
        dispatch_wake: dispatch_wake.clone(),
        batch: 500,
        poll,
        transforms: transforms.clone(),
    };
    let timeout = Duration::from_millis(cfg.delivery.timeout_ms);
    let adapters = Arc::new(Adapters {
        http: HttpAdapter::new(timeout, cfg.delivery.response_body_limit)?,
    });
    let metrics = telemetry::install();
    let alerts_wake = Arc::new(Notify::new());
    let monitor_wake = Arc::new(Notify::new());
    let bulk_wake = Arc::new(Notify::new());
    let tracker = Arc::new(issues::tracker::Tracker {
        store: store.clone(),
        auto_disable_after: cfg.delivery.auto_disable_after,
        alerts_wake: alerts_wake.clone(),
    });
    let notifier = alerts::Notifier {
        store: store.clone(),
        catalog: catalog.clone(),
        config: cfg.alerts.clone(),
        email: alerts::email::EmailSender::from_config(&cfg.alerts.email)?,
        http: reqwest::Client::builder().build()?,
        base_url: public_url.clone(),
        wake: alerts_wake.clone(),
    };
    let monitor = monitor::Monitor {
        store: store.clone(),
        catalog: catalog.clone(),
        interval: poll,
        wake: monitor_wake.clone(),
        dispatch_wake: dispatch_wake.clone(),
        alerts_wake,
    };
    let bulk = bulk_retry::worker::BulkRetryWorker {
        store: store.clone(),
        wake: bulk_wake.clone(),
        dispatch_wake: dispatch_wake.clone(),
        step: 500,
        poll,
    };
    let d = &cfg.delivery.default_retry;
    let dispatcher = Dispatcher {
        store: store.clone(),
        catalog: catalog.clone(),
        rules: rules.clone(),
        adapters,
        default_retry: rules::default_retry_policy(d.strategy, d.interval_ms, d.count),
        concurrency: cfg.delivery.concurrency,
        wake: dispatch_wake.clone(),
        poll,
        lease: timeout + Duration::from_secs(30),
        limits: Default::default(),
        tracker,
    };
    let router_task = tokio::spawn(router.run(shutdown.clone()));
    let dispatch_task = tokio::spawn(dispatcher.run(shutdown.clone()));
    let notifier_task = tokio::spawn(notifier.run(shutdown.clone()));
    let monitor_task = tokio::spawn(monitor.run(shutdown.clone()));
    let bulk_task = tokio::spawn(bulk.run(shutdown.clone()));

    let budget_kib = (cfg.ingest.max_inflight_bytes / 1024).clamp(1, u32::MAX as usize);
    let state = Arc::new(AppState {
        config: cfg.clone(),
        store,
        catalog,
        committer,
        rules,
        dispatch_wake,
        api_key,
        public_url,
        ingest_budget: Arc::new(tokio::sync::Semaphore::new(budget_kib)),
        ingest_budget_kib: budget_kib,
        metrics,
        monitor_wake,
        bulk_wake,
        transforms,
    });
    let mut stop = shutdown.clone();
    axum::serve(listener, app(state))
        .with_graceful_shutdown(async move { stop.recv().await })
        .await?;
    let _ = router_task.await;
    let _ = dispatch_task.await;
    for t in [notifier_task, monitor_task, bulk_task] {
        let _ = t.await;
    }
    Ok(())
}
