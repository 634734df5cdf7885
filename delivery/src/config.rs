//! Configuration: defaults, then a TOML file, then `HOOKYARD_*` environment
//! variables, then command-line flags. Every key is documented in
//! `config.default.toml` at the repository root, which holds the defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use hookyard_core::backoff::RetryStrategy;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address the HTTP server (ingest, API, metrics) listens on.
    pub listen: SocketAddr,
    /// Where the embedded SQLite database and the generated API key live.
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL; empty: SQLite in `data_dir`.
    pub database_url: String,
    /// API key for the management API; empty: generated at first start and kept in
    /// `data_dir/api_key`.
    pub api_key: String,
    /// URL providers reach this gateway at, used in source URLs; empty: `http://{listen}`.
    pub public_url: String,
    pub server: ServerConfig,
    pub sqlite: SqliteConfig,
    pub ingest: IngestConfig,
    pub delivery: DeliveryConfig,
    pub alerts: AlertsConfig,
    pub egress: EgressConfig,
    pub edge: EdgeSettings,
    pub transformations: TransformConfig,
    pub retention: RetentionConfig,
}

/// How long traffic is kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Requests, events, attempts, executions and ignored events older than this
    /// are deleted (events still waiting for an attempt, and their requests, are
    /// kept); 0 keeps everything.
    pub days: u32,
    /// How often the job looks for data past the window.
    pub interval_secs: u64,
    /// Rows of each kind deleted per transaction.
    pub batch_size: i64,
}

/// The edge Worker (edge-ingest/) pushing to this gateway.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeSettings {
    /// Shared secret of the Worker (`BATCH_SECRET` there) and this gateway: signs
    /// `/edge/batch` batches, `/edge/config` requests and their answers; empty:
    /// both endpoints answer 401.
    pub batch_secret: String,
    /// Largest batch `/edge/batch` reads; a larger one is refused (413) before its
    /// signature is checked. `/edge/config` tells the Worker, which
    /// splits its pushes to fit. At least `ingest.max_body_bytes` × 4/3 + 1 MiB
    /// (a body travels in base64).
    pub max_batch_bytes: usize,
}

/// The smallest `server.max_read_buffer_bytes` (hyper's own minimum).
pub const MIN_READ_BUFFER_BYTES: usize = 8192;

/// The HTTP server's own limits, for every route: what a client that connects
/// and then goes quiet may hold, and for how long.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Most connections open at once; a connection past it is closed as soon as
    /// it is accepted.
    pub max_connections: usize,
    /// Time a client has to send a request's headers (from the connection's
    /// first byte, or the end of the previous request); past it the connection
    /// is closed.
    pub header_read_timeout_ms: u64,
    /// Longest gap between two reads of a request body (nginx's
    /// `client_body_timeout`); past it the request is answered 408 and the
    /// connection closed.
    pub body_read_timeout_ms: u64,
    /// Most bytes one connection reads ahead of the handler (HTTP/1), and so
    /// the largest request head. A body waiting for room in
    /// `ingest.max_inflight_bytes` still holds what was read: this, per open
    /// connection, is what a flood takes beyond that budget.
    pub max_read_buffer_bytes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqliteConfig {
    /// `full`: every commit is fsynced (survives power loss); `normal`: survives a
    /// process crash, may lose the last commits on power loss.
    pub synchronous: SqliteSync,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Largest body a source accepts unless it sets its own limit.
    pub max_body_bytes: usize,
    /// Status answered to requests for a disabled source.
    pub disabled_source_status: u16,
    /// Most requests committed in one transaction.
    pub max_batch: usize,
    /// Most body bytes committed in one transaction (a larger body is committed
    /// alone). A body exists several times over while its transaction runs; this
    /// bounds that overhead on top of `max_inflight_bytes`.
    pub max_commit_bytes: usize,
    /// Most body bytes held by requests being received or waiting for their
    /// commit, counted as they arrive (bounds memory under a flood).
    pub max_inflight_bytes: usize,
    /// How long a body waits for room in `max_inflight_bytes` before the request
    /// is answered 503 with `Retry-After`.
    pub budget_wait_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Timeout of one HTTP delivery attempt; also of connecting to a broker
    /// source and of each acknowledgement to it.
    pub timeout_ms: u64,
    /// Most attempts in flight at once, across destinations.
    pub concurrency: usize,
    /// Most response body bytes kept per attempt.
    pub response_body_limit: usize,
    /// How often to look for due events when nothing wakes the dispatcher.
    pub poll_interval_ms: u64,
    /// Retry policy of connections without a retry rule.
    pub default_retry: DefaultRetry,
    /// Consecutive failed attempts after which a destination disables itself
    /// (its events are then held until it is enabled), unless the destination
    /// sets `auto_disable_after`. 0: never.
    pub auto_disable_after: i64,
    /// How often the gateway pings each `hookyard listen`; a CLI silent for three
    /// of these is dropped (its deliveries in flight go again), and the CLI takes
    /// a gateway silent that long for gone and reconnects.
    pub cli_heartbeat_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// How often to look for issues to alert about (also woken by new failures).
    pub check_interval_ms: u64,
    /// Shortest time between two digests of still-failing issues.
    pub digest_interval_secs: u64,
    /// Slack-compatible webhook that gets every alert when no issue trigger is
    /// defined; empty: none.
    pub webhook_url: String,
    /// Base URL of PagerDuty's Events API v2, for triggers' `pagerduty` channels
    /// (`/v2/enqueue` is appended). Another value points them at a proxy or a
    /// test double.
    pub pagerduty_url: String,
    /// Base URL of Opsgenie's Alert API for `opsgenie` channels in the US region
    /// (the default; `/v2/alerts` is appended).
    pub opsgenie_url: String,
    /// The same for `opsgenie` channels with `"region": "eu"`.
    pub opsgenie_eu_url: String,
    pub email: EmailConfig,
}

/// Which addresses outgoing requests (deliveries, alert webhooks) may connect
/// to. Checked on the address a connection is made to, after DNS resolution.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EgressConfig {
    /// Networks (CIDRs, or single addresses) no outgoing request may connect to.
    /// Setting it replaces the default list.
    pub deny: Vec<String>,
    /// Networks that may be reached even when `deny` or `block_private` covers them.
    pub allow: Vec<String>,
    /// Also deny private, loopback and unique-local networks (multi-tenant gateways).
    pub block_private: bool,
}

/// The default `egress.deny`: cloud metadata services, link-local, "this
/// network" (0.0.0.0 reaches the local host on Linux), multicast and reserved.
pub const DEFAULT_EGRESS_DENY: &[&str] = &[
    "0.0.0.0/8",
    "169.254.0.0/16",
    "100.100.100.200/32",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "fe80::/10",
    "fd00:ec2::254/128",
    "ff00::/8",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// SMTP server; empty: email alerts are off.
    pub smtp_host: String,
    pub smtp_port: u16,
    /// `starttls` (upgrade a plain connection, usually port 587), `tls` (TLS from
    /// the start, usually 465) or `none` (plain; loopback or trusted networks only).
    pub tls: SmtpTls,
    /// SMTP credentials; empty username: no authentication.
    pub username: String,
    pub password: String,
    /// Sender address, e.g. `Hookyard <alerts@example.com>`.
    pub from: String,
    /// Who gets alerts when no issue trigger is defined, and the email channel
    /// of triggers that name no recipients.
    pub to: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

/// Limits of transformations (user WebAssembly components).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformConfig {
    /// Memory cap of one call unless the transformation sets its own.
    pub memory_limit_bytes: usize,
    /// Largest memory cap a transformation may ask for (the pool's slot size).
    pub max_memory_limit_bytes: usize,
    /// Deadline of one call unless the transformation sets its own.
    pub timeout_ms: u64,
    /// Longest deadline a transformation may ask for.
    pub max_timeout_ms: u64,
    /// Granularity of deadlines (how often the epoch ticks).
    pub epoch_tick_ms: u64,
    /// Largest request a transformation may return (body and headers).
    pub max_output_bytes: usize,
    /// Most log bytes (stdout + stderr) kept per call.
    pub max_log_bytes: usize,
    /// Native stack a call may use (deep recursion traps past it).
    pub max_wasm_stack_bytes: usize,
    /// Instances the pooling allocator reserves: calls running at once.
    pub pool_instances: u32,
    /// Threads that run transformations during routing.
    pub workers: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultRetry {
    pub strategy: RetryStrategy,
    pub interval_ms: u64,
    pub count: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8600)),
            data_dir: PathBuf::from("hookyard-data"),
            database_url: String::new(),
            api_key: String::new(),
            public_url: String::new(),
            server: ServerConfig {
                max_connections: 1024,
                header_read_timeout_ms: 10_000,
                body_read_timeout_ms: 10_000,
                max_read_buffer_bytes: 64 << 10,
            },
            sqlite: SqliteConfig {
                synchronous: SqliteSync::Full,
            },
            ingest: IngestConfig {
                max_body_bytes: 10 * 1024 * 1024,
                disabled_source_status: 403,
                max_batch: 512,
                max_commit_bytes: 4 * 1024 * 1024,
                max_inflight_bytes: 512 * 1024 * 1024,
                budget_wait_ms: 2_000,
            },
            delivery: DeliveryConfig {
                timeout_ms: 30_000,
                concurrency: 256,
                response_body_limit: 64 * 1024,
                poll_interval_ms: 500,
                default_retry: DefaultRetry {
                    strategy: RetryStrategy::Exponential,
                    interval_ms: 60_000,
                    count: 5,
                },
                auto_disable_after: 100,
                cli_heartbeat_ms: 10_000,
            },
            alerts: AlertsConfig {
                check_interval_ms: 1000,
                digest_interval_secs: 900,
                webhook_url: String::new(),
                pagerduty_url: "https://events.pagerduty.com".into(),
                opsgenie_url: "https://api.opsgenie.com".into(),
                opsgenie_eu_url: "https://api.eu.opsgenie.com".into(),
                email: EmailConfig {
                    smtp_host: String::new(),
                    smtp_port: 587,
                    tls: SmtpTls::Starttls,
                    username: String::new(),
                    password: String::new(),
                    from: "Hookyard <hookyard@localhost>".into(),
                    to: Vec::new(),
                },
            },
            egress: EgressConfig {
                deny: DEFAULT_EGRESS_DENY
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect(),
                allow: Vec::new(),
                block_private: false,
            },
            edge: EdgeSettings {
                batch_secret: String::new(),
                max_batch_bytes: hookyard_core::edge::DEFAULT_MAX_BATCH_BYTES as usize,
            },
            transformations: TransformConfig {
                memory_limit_bytes: 32 * 1024 * 1024,
                max_memory_limit_bytes: 256 * 1024 * 1024,
                timeout_ms: 1_000,
                max_timeout_ms: 10_000,
                epoch_tick_ms: 5,
                max_output_bytes: 10 * 1024 * 1024,
                max_log_bytes: 64 * 1024,
                max_wasm_stack_bytes: 512 * 1024,
                pool_instances: 64,
                workers: 2,
            },
            retention: RetentionConfig {
                days: 30,
                interval_secs: 300,
                batch_size: 500,
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    #[error("configuration: {0}")]
    Value(String),
}

/// Values given on the command line; they win over everything else.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
}

/// `HOOKYARD_*` variables that are not settings: `HOOKYARD_CONFIG` names the file
/// (`--config`), `HOOKYARD_SOURCES` is the edge Worker's secret, `HOOKYARD_URL`
/// tells command-line clients where the gateway is. Read as settings they would
/// be unknown keys and stop the start.
const NOT_SETTINGS: &[&str] = &["config", "sources", "url"];

impl Config {
    /// Defaults → `file` (if given) → `HOOKYARD_*` env (`__` for nesting, e.g.
    /// `HOOKYARD_INGEST__MAX_BODY_BYTES`) → `overrides`.
    pub fn load(
        file: Option<&std::path::Path>,
        overrides: &Overrides,
    ) -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            if !f.exists() {
                return Err(ConfigError::Value(format!(
                    "config file {} does not exist",
                    f.display()
                )));
            }
            fig = fig.merge(Toml::file(f));
        }
        let cfg: Config = fig
            .merge(Env::prefixed("HOOKYARD_").ignore(NOT_SETTINGS).split("__"))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(Box::new)?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if axum::http::StatusCode::from_u16(self.ingest.disabled_source_status).is_err() {
            return Err(ConfigError::Value(
                "ingest.disabled_source_status must be an HTTP status (100-999)".into(),
            ));
        }
        if self.ingest.max_batch == 0
            || self.ingest.max_commit_bytes == 0
            || self.delivery.concurrency == 0
        {
            return Err(ConfigError::Value(
                "ingest.max_batch, ingest.max_commit_bytes and delivery.concurrency must be at \
                 least 1"
                    .into(),
            ));
        }
        let largest_item = self.ingest.max_body_bytes.saturating_mul(4) / 3 + (1 << 20);
        if self.edge.max_batch_bytes < largest_item {
            return Err(ConfigError::Value(format!(
                "edge.max_batch_bytes must be at least {largest_item} (ingest.max_body_bytes \
                 × 4/3 + 1 MiB: a body travels in base64), got {}",
                self.edge.max_batch_bytes
            )));
        }
        if self.server.max_connections == 0
            || self.server.header_read_timeout_ms == 0
            || self.server.body_read_timeout_ms == 0
        {
            return Err(ConfigError::Value(
                "server.max_connections, server.header_read_timeout_ms and \
                 server.body_read_timeout_ms must be at least 1"
                    .into(),
            ));
        }
        if self.server.max_read_buffer_bytes < MIN_READ_BUFFER_BYTES {
            return Err(ConfigError::Value(format!(
                "server.max_read_buffer_bytes must be at least {MIN_READ_BUFFER_BYTES}, got {}",
                self.server.max_read_buffer_bytes
            )));
        }
        if !(100..=300_000).contains(&self.delivery.cli_heartbeat_ms) {
            return Err(ConfigError::Value(
                "delivery.cli_heartbeat_ms must be between 100 and 300000".into(),
            ));
        }
        if self.delivery.auto_disable_after < 0 {
            return Err(ConfigError::Value(
                "delivery.auto_disable_after must be 0 (never) or more".into(),
            ));
        }
        for (key, value) in [
            ("alerts.pagerduty_url", &self.alerts.pagerduty_url),
            ("alerts.opsgenie_url", &self.alerts.opsgenie_url),
            ("alerts.opsgenie_eu_url", &self.alerts.opsgenie_eu_url),
        ] {
            match url::Url::parse(value) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => {
                    return Err(ConfigError::Value(format!(
                        "{key} must be an http(s) URL, got {value:?}"
                    )))
                }
            }
        }
        for addr in self.alerts.email.to.iter().chain([&self.alerts.email.from]) {
            addr.parse::<lettre::message::Mailbox>()
                .map_err(|e| ConfigError::Value(format!("alerts.email: {addr:?}: {e}")))?;
        }
        Ok(())
    }

    /// The database url in effect.
    pub fn database_url(&self) -> String {
        if self.database_url.is_empty() {
            sqlite_url_in(&self.data_dir)
        } else {
            self.database_url.clone()
        }
    }
}

/// The path prefix of the REST API: the version of Hookdeck's API it is shaped like.
pub const API_VERSION: &str = "2024-09-01";

/// The SQLite url for a database file in `data_dir`.
pub fn sqlite_url_in(data_dir: &std::path::Path) -> String {
    format!("sqlite://{}", data_dir.join("hookyard.db").display())
}

/// How SQLite syncs commits (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSync {
    /// fsync on every commit: a commit survives power loss.
    Full,
    /// fsync at checkpoints: a commit survives a process crash, the last ones may
    /// be lost on power loss.
    Normal,
}

impl FromStr for SqliteSync {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "full" => Ok(SqliteSync::Full),
            "normal" => Ok(SqliteSync::Normal),
            other => Err(format!(
                "unknown sqlite sync mode {other:?}: use full or normal"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_defaults_file_matches_the_built_in_defaults() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config.default.toml");
        let from_file: Config = Figment::new()
            .merge(Toml::file(&path))
            .extract()
            .expect("config.default.toml parses");
        assert_eq!(
            serde_json::to_value(&from_file).unwrap(),
            serde_json::to_value(Config::default()).unwrap()
        );
    }

    #[test]
    // figment's Jail closure returns its own (large) error type.
    #[allow(clippy::result_large_err)]
    fn egress_lists_and_flags_come_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("HOOKYARD_EGRESS__BLOCK_PRIVATE", "true");
            jail.set_env(
                "HOOKYARD_EGRESS__ALLOW",
                "[\"10.20.0.0/16\", \"127.0.0.1\"]",
            );
            let c = Config::load(None, &Overrides::default()).unwrap();
            assert!(c.egress.block_private);
            assert_eq!(c.egress.allow, ["10.20.0.0/16", "127.0.0.1"]);
            assert_eq!(c.egress.deny, DEFAULT_EGRESS_DENY);
            Ok(())
        });
    }

    #[test]
    // figment's Jail closure returns its own (large) error type.
    #[allow(clippy::result_large_err)]
    fn file_then_env_then_flags() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "h.toml",
                "listen = \"127.0.0.1:1\"\n[ingest]\nmax_batch = 7\n",
            )?;
            jail.set_env("HOOKYARD_INGEST__MAX_BATCH", "9");
            jail.set_env("HOOKYARD_LISTEN", "127.0.0.1:2");
            let o = Overrides {
                listen: Some("127.0.0.1:3".parse().unwrap()),
                ..Default::default()
            };
            let c = Config::load(Some(std::path::Path::new("h.toml")), &o).unwrap();
            assert_eq!(c.listen.port(), 3);
            assert_eq!(c.ingest.max_batch, 9);
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn the_documented_variables_that_are_not_settings_do_not_stop_the_start() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("h.toml", "[ingest]\nmax_batch = 7\n")?;
            jail.set_env("HOOKYARD_CONFIG", "h.toml");
            jail.set_env("HOOKYARD_SOURCES", "{}");
            jail.set_env("HOOKYARD_URL", "http://127.0.0.1:8600");
            let c = Config::load(Some(std::path::Path::new("h.toml")), &Overrides::default())
                .map_err(|e| e.to_string())?;
            assert_eq!(c.ingest.max_batch, 7);
            // A misspelt setting still stops it, with the name in the message.
            jail.set_env("HOOKYARD_INGEST__MAX_BACTH", "1");
            let err = Config::load(None, &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("max_bacth"), "{err}");
            Ok(())
        });
    }
}
