//! Long-lived clients per destination (a broker connection and channel, an AWS
//! SDK client): made on first use and shared by every attempt after it; keyed by
//! the destination's id and config, so an edited destination gets a new client;
//! dropped when it fails, so the next attempt reconnects (after a broker restart,
//! say). Attempts that arrive while a client is being made wait for that one.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use super::DeliveryResult;
use crate::model::Destination;

/// Idle clients are closed after this long (a destination no longer used).
const IDLE: Duration = Duration::from_secs(600);

/// A client the pool holds.
pub trait Client: Send + Sync + 'static {
    /// Called when the pool lets the client go (failed, idle, config changed):
    /// closes what dropping alone would leave open.
    fn close(self: Arc<Self>) {}
}

pub struct Clients<C> {
    cache: moka::future::Cache<String, Arc<C>>,
}

impl<C: Client> Default for Clients<C> {
    fn default() -> Self {
        Clients {
            cache: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_idle(IDLE)
                .eviction_listener(|_key, client: Arc<C>, _cause| client.close())
                .build(),
        }
    }
}

/// The key of a destination's client: its id and a hash of its config.
pub fn key(d: &Destination) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    d.kind
        .config_json()
        .map(|c| c.to_string())
        .unwrap_or_default()
        .hash(&mut h);
    format!("{}:{:x}", d.id, h.finish())
}

impl<C: Client> Clients<C> {
    /// The client for `key`, made with `connect` if there is none. A failure to
    /// connect is the attempt's result (already classified by `connect`).
    pub async fn get(
        &self,
        key: &str,
        connect: impl std::future::Future<Output = Result<C, DeliveryResult>>,
    ) -> Result<Arc<C>, DeliveryResult> {
        self.cache
            .try_get_with(key.to_owned(), async { connect.await.map(Arc::new) })
            .await
            .map_err(|e: Arc<DeliveryResult>| (*e).clone())
    }

    /// Drops the client of `key` (it failed; the next attempt makes a new one).
    pub async fn forget(&self, key: &str) {
        self.cache.invalidate(key).await;
    }
}

/// Runs `f` for at most `limit`; when it takes longer the attempt is a
/// `TIMEOUT` (retried), and whatever it was waiting for is abandoned.
pub async fn within<T>(
    limit: Duration,
    what: &str,
    f: impl std::future::Future<Output = Result<T, DeliveryResult>>,
) -> Result<T, DeliveryResult> {
    match tokio::time::timeout(limit, f).await {
        Ok(r) => r,
        Err(_) => Err(DeliveryResult::error(
            "TIMEOUT",
            format!("{what} took more than {} ms", limit.as_millis()),
        )),
    }
}
