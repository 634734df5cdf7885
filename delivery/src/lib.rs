//! Hookyard delivery: stores every webhook, routes it through connections and
//! delivers it to destinations, with retries and a management API.
//!
//! Layout, from the bottom up (a module only imports the ones above it in this
//! list, never one below):
//! - [`clock`], [`shutdown`], [`signals`], [`periodic`], [`config`], [`telemetry`],
//!   [`private_files`], [`egress`], [`sessions`]: time and ids, stopping, named
//!   wake-ups, the worker loop, configuration, metrics, owner-only files; where
//!   outgoing requests may connect, and credentials kept out of what is written
//!   about them; signed dashboard sessions.
//! - [`model`]: every record the store reads or writes.
//! - [`store`]: the one [`store::Store`], SQLite or PostgreSQL behind it.
//! - [`catalog`]: cached sources/destinations/connections; writes through it
//!   invalidate and wake the workers.
//! - [`transform`]: the wasm host that runs transformations.
//! - [`route`]: the one rules walker, the router worker, request retries.
//! - [`destinations`]: one adapter per destination type.
//! - [`issues`]: failures grouped into issues, auto-disable, and the monitor
//!   (hold/release, backlogs, backpressure); [`alerts`]: email and webhook alerts.
//! - [`dispatch`]: lease due events → limits → adapter → attempt → retry.
//! - [`ingest`]: `/e/{source}`, `/edge/batch`, the committer.
//! - [`bulk_retry`]: retry by query; [`retention`]: deleting what is past the window.
//! - [`state`]: what the HTTP handlers share.
//! - [`api`]: the REST API (Hookdeck-shaped); [`error`] maps errors to responses.
//! - [`dashboard`]: the web UI at `/` (embedded assets, sign-in), a client of [`api`].
//! - [`server`]: accepts connections (capped) and serves [`app`] on them with
//!   header and body read timeouts.
//! - [`cli`]: every command; `main` only parses and hands over.
//!
//! [`run`] starts everything on a listener; `hookyard serve` and the tests call
//! the same `run` (tests on port 0).

pub mod alerts;
pub mod api;
pub mod bulk_retry;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod dashboard;
pub mod destinations;
pub mod dispatch;
pub mod egress;
pub mod error;
pub mod ingest;
pub mod issues;
pub mod model;
pub mod periodic;
pub mod private_files;
pub mod query;
pub mod retention;
pub mod route;
pub mod server;
pub mod sessions;
pub mod shutdown;
pub mod signals;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod transform;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::{any, get};
use axum::{Json, Router};
use tokio::net::TcpListener;
use utoipa::OpenApi;

use crate::catalog::Catalog;
use crate::config::Config;
use crate::destinations::{http::HttpAdapter, Adapters};
use crate::dispatch::Dispatcher;
use crate::ingest::committer::{BatchLimits, CommitContext, Committer};
use crate::route::{Router as RequestRouter, RulesCache};
use crate::shutdown::Shutdown;
use crate::signals::Signals;
pub use crate::state::AppState;
use crate::store::Store;

/// Opens the store the configuration names (creating the data directory for SQLite).
pub async fn open_store(cfg: &Config) -> anyhow::Result<Arc<Store>> {
    let url = cfg.database_url();
    if url.starts_with("sqlite:") {
        private_files::create_dir(&cfg.data_dir).map_err(|e| {
            anyhow::anyhow!(
                "cannot create data directory {}: {e}",
                cfg.data_dir.display()
            )
        })?;
        if let Some(db) = sqlite_file(&url) {
            private_files::create_file(&db)
                .and_then(|()| {
                    for suffix in ["-wal", "-shm", "-journal"] {
                        let mut side = db.clone().into_os_string();
                        side.push(suffix);
                        private_files::restrict(std::path::Path::new(&side), false)?;
                    }
                    Ok(())
                })
                .map_err(|e| anyhow::anyhow!("cannot create database {}: {e}", db.display()))?;
        }
    }
    let store = Store::connect(&url, cfg.sqlite.synchronous).await?;
    Ok(Arc::new(store))
}

/// The database file a `sqlite:` url names; `None` for an in-memory database.
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| path.into())
}

/// The HTTP routes: ingest, API, OpenAPI document, health, the dashboard.
pub fn app(state: Arc<AppState>) -> Router {
    let api = api::router(state.clone());
    Router::new()
        .route("/e/{source}", any(ingest::http::ingest))
        .route("/e/{source}/", any(ingest::http::ingest))
        .route("/e/{source}/{*rest}", any(ingest::http::ingest))
        .route(
            "/edge/batch",
            axum::routing::post(ingest::edge_batch::receive),
        )
        .route("/edge/config", get(ingest::edge_config::serve))
        .nest(&format!("/{}", api::API_VERSION), api)
        .route(
            "/openapi.json",
            get(|| async { Json(api::openapi::ApiDoc::openapi()) }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(api::metrics::render))
        .merge(dashboard::router())
        .with_state(state)
}

/// Starts ingest, routing, dispatch and the API on `listener`; returns when
/// `shutdown` fires and in-flight work has been handed over.
pub async fn run(
    cfg: Config,
    store: Arc<Store>,
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
    let signals = Signals::default();
    let catalog = Arc::new(Catalog::new(
        store.clone(),
        Duration::from_secs(1),
        signals.clone(),
    ));
    let rules = Arc::new(RulesCache::default());
    let timeout = Duration::from_millis(cfg.delivery.timeout_ms);
    // A lease outlives the attempt's timeout by this margin before another
    // replica may take the event over.
    let lease = timeout + Duration::from_secs(30);
    let slots = Arc::new(tokio::sync::Semaphore::new(cfg.delivery.concurrency));
    let (handoff, handed) = dispatch::handoff::Handoff::new(slots.clone(), lease);
    let (recorder, recorder_queue) = dispatch::results::Recorder::new();
    let committer = Committer::start(
        CommitContext {
            store: store.clone(),
            catalog: catalog.clone(),
            rules: rules.clone(),
            signals: signals.clone(),
            handoff,
        },
        BatchLimits {
            max_requests: cfg.ingest.max_batch,
            max_bytes: cfg.ingest.max_commit_bytes,
        },
        recorder_queue,
    );
    let poll = Duration::from_millis(cfg.delivery.poll_interval_ms);

    let transforms = Arc::new(transform::Transforms::new(
        cfg.transformations.clone(),
        Some(cfg.data_dir.join("transformations")),
    ));
    let router = RequestRouter {
        store: store.clone(),
        rules: rules.clone(),
        transforms: transforms.clone(),
        signals: signals.clone(),
        batch: 500,
    };
    let egress = Arc::new(egress::EgressPolicy::from_config(&cfg.egress)?);
    let egress_for_brokers = egress.clone();
    let listeners = Arc::new(destinations::cli::listeners::Listeners::new(
        signals.clone(),
    ));
    let adapters = Arc::new(Adapters::new(
        HttpAdapter::new(timeout, cfg.delivery.response_body_limit, egress.clone())?,
        destinations::cli::CliAdapter::new(listeners, timeout, cfg.delivery.response_body_limit),
        destinations::BrokerSettings {
            timeout,
            egress: egress.clone(),
        },
    ));
    let metrics = telemetry::install();
    let tracker = Arc::new(issues::tracker::Tracker {
        store: store.clone(),
        auto_disable_after: cfg.delivery.auto_disable_after,
        signals: signals.clone(),
    });
    let notifier = alerts::Notifier {
        store: store.clone(),
        catalog: catalog.clone(),
        config: cfg.alerts.clone(),
        email: alerts::email::EmailSender::from_config(&cfg.alerts.email)?,
        http: egress::resolve::client_builder(egress.clone()).build()?,
        egress,
        base_url: public_url.clone(),
        signals: signals.clone(),
    };
    let monitor = issues::monitor::Monitor {
        store: store.clone(),
        catalog: catalog.clone(),
        interval: poll,
        signals: signals.clone(),
    };
    let bulk = bulk_retry::worker::BulkRetryWorker {
        store: store.clone(),
        rules: rules.clone(),
        transforms: transforms.clone(),
        signals: signals.clone(),
        step: 500,
        poll,
    };
    let retention =
        retention::Retention::new(store.clone(), cfg.retention.clone(), signals.clone());
    let d = &cfg.delivery.default_retry;
    let dispatcher = Dispatcher {
        store: store.clone(),
        catalog: catalog.clone(),
        rules: rules.clone(),
        adapters: adapters.clone(),
        default_retry: route::rules::default_retry_policy(d.strategy, d.interval_ms, d.count),
        concurrency: cfg.delivery.concurrency,
        slots,
        signals: signals.clone(),
        poll,
        lease,
        limits: Default::default(),
        tracker,
        recorder,
    };
    let brokers = ingest::brokers::supervisor::Supervisor {
        store: store.clone(),
        committer: committer.clone(),
        health: Arc::new(ingest::brokers::health::Health::new(
            store.clone(),
            signals.clone(),
        )),
        limits: ingest::brokers::BrokerLimits {
            timeout,
            egress: egress_for_brokers,
        },
        max_body_bytes: cfg.ingest.max_body_bytes,
        signals: signals.clone(),
        poll: Duration::from_secs(5),
    };
    let router_task = tokio::spawn(router.run(poll, shutdown.clone()));
    let brokers_task = tokio::spawn(brokers.run(shutdown.clone()));
    let dispatch_task = tokio::spawn(dispatcher.run(handed, shutdown.clone()));
    let notifier_task = tokio::spawn(notifier.run(shutdown.clone()));
    let monitor_task = tokio::spawn(monitor.run(shutdown.clone()));
    let bulk_task = tokio::spawn(bulk.run(shutdown.clone()));
    let retention_task = tokio::spawn(retention.run(shutdown.clone()));

    let budget_kib = (cfg.ingest.max_inflight_bytes / 1024).clamp(1, u32::MAX as usize);
    let state = Arc::new(AppState {
        config: cfg.clone(),
        store,
        catalog,
        committer,
        rules,
        signals,
        sessions: sessions::Sessions::new(&api_key),
        api_key,
        public_url,
        ingest_budget: Arc::new(tokio::sync::Semaphore::new(budget_kib)),
        ingest_budget_kib: budget_kib,
        metrics,
        transforms,
        edge_config: ingest::edge_sources::memo(),
        adapters,
    });
    server::serve(listener, app(state), &cfg.server, shutdown.clone()).await?;
    // Consumers stop first: what they took from brokers is committed and
    // acknowledged before the committer goes.
    let _ = brokers_task.await;
    let _ = router_task.await;
    let _ = dispatch_task.await;
    for t in [notifier_task, monitor_task, bulk_task, retention_task] {
        let _ = t.await;
    }
    Ok(())
}
