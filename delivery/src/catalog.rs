//! Short-lived caches of sources, destinations and connections for the hot paths
//! (ingest looks up a source per request; dispatch a destination per event).
//!
//! Entries live `ttl` (one second by default): the API clears them on every change
//! it makes, and other replicas' changes show within the ttl.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::model::{Connection, Destination, Source};
use crate::signals::{Signal, Signals};
use crate::store::{Store, StoreResult};

/// When an entry was loaded, and what was found (`None`: nothing by that key).
type Entries<V> = HashMap<String, (Instant, Option<Arc<V>>)>;

struct TtlCache<V> {
    ttl: Duration,
    map: Mutex<Entries<V>>,
    /// Bumped by `clear`: a value loaded before a clear is not cached after it.
    generation: std::sync::atomic::AtomicU64,
}

impl<V> TtlCache<V> {
    fn new(ttl: Duration) -> Self {
        TtlCache {
            ttl,
            map: Mutex::new(HashMap::new()),
            generation: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The cached value for `key`, or what `load` gives (misses are cached too, so a
    /// flood of requests to an unknown source does not reach the database each time).
    async fn get<F>(&self, key: &str, load: F) -> StoreResult<Option<Arc<V>>>
    where
        F: Future<Output = StoreResult<Option<V>>>,
    {
        if let Some((at, v)) = self.lock().get(key) {
            if at.elapsed() < self.ttl {
                return Ok(v.clone());
            }
        }
        let generation = self.generation.load(std::sync::atomic::Ordering::Acquire);
        let v = load.await?.map(Arc::new);
        let mut map = self.lock();
        if self.generation.load(std::sync::atomic::Ordering::Acquire) != generation {
            // Changed while we loaded: use what we read, but do not keep it.
            return Ok(v);
        }
        if map.len() > 100_000 {
            map.clear();
        }
        map.insert(key.to_owned(), (Instant::now(), v.clone()));
        Ok(v)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries<V>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn clear(&self) {
        let mut map = self.lock();
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        map.clear();
    }
}

pub struct Catalog {
    store: Arc<Store>,
    signals: Signals,
    sources_by_name: TtlCache<Source>,
    destinations: TtlCache<Destination>,
    connections: TtlCache<Connection>,
    connections_of_source: TtlCache<Vec<Connection>>,
    limited_destinations: TtlCache<Vec<Arc<Destination>>>,
}

impl Catalog {
    pub fn new(store: Arc<Store>, ttl: Duration, signals: Signals) -> Self {
        Catalog {
            store,
            signals,
            sources_by_name: TtlCache::new(ttl),
            destinations: TtlCache::new(ttl),
            connections: TtlCache::new(ttl),
            connections_of_source: TtlCache::new(ttl),
            limited_destinations: TtlCache::new(ttl),
        }
    }

    pub async fn source_by_name(&self, name: &str) -> StoreResult<Option<Arc<Source>>> {
        self.sources_by_name
            .get(name, self.store.find_source_by_name(name))
            .await
    }

    pub async fn destination(&self, id: &str) -> StoreResult<Option<Arc<Destination>>> {
        self.destinations
            .get(id, self.store.get_destination(id))
            .await
    }

    pub async fn connection(&self, id: &str) -> StoreResult<Option<Arc<Connection>>> {
        self.connections
            .get(id, self.store.get_connection(id))
            .await
    }

    /// The source's connections (routing at ingest uses these).
    pub async fn connections_of_source(
        &self,
        source_id: &str,
    ) -> StoreResult<Arc<Vec<Connection>>> {
        let found = self
            .connections_of_source
            .get(source_id, async {
                self.store.connections_of_source(source_id).await.map(Some)
            })
            .await?;
        Ok(found.unwrap_or_default())
    }

    /// Active destinations with a rate or concurrency limit (the dispatcher asks
    /// before every lease round; a limit set on another replica applies within
    /// the cache's lifetime, as other catalog changes do).
    pub async fn limited_destinations(&self) -> StoreResult<Arc<Vec<Arc<Destination>>>> {
        let found = self
            .limited_destinations
            .get("", async {
                let all = self.store.limited_destinations().await?;
                Ok(Some(all.into_iter().map(Arc::new).collect()))
            })
            .await?;
        Ok(found.unwrap_or_default())
    }

    /// Forgets everything, and wakes the workers whose work a change of sources,
    /// destinations or connections may change: the monitor holds or releases
    /// events (pause, disable), dispatch delivers what became deliverable.
    fn changed(&self) {
        self.sources_by_name.clear();
        self.destinations.clear();
        self.connections.clear();
        self.connections_of_source.clear();
        self.limited_destinations.clear();
        self.signals.notify(Signal::Monitor);
        self.signals.notify(Signal::Dispatch);
    }

    pub async fn insert_source(&self, s: &Source) -> StoreResult<()> {
        self.store.insert_source(s).await?;
        self.changed();
        Ok(())
    }

    pub async fn update_source(&self, s: &Source) -> StoreResult<()> {
        self.store.update_source(s).await?;
        self.changed();
        Ok(())
    }

    /// Whether it existed.
    pub async fn delete_source(&self, id: &str) -> StoreResult<bool> {
        let found = self.store.delete_source(id).await?;
        self.changed();
        Ok(found)
    }

    pub async fn insert_destination(&self, d: &Destination) -> StoreResult<()> {
        self.store.insert_destination(d).await?;
        self.changed();
        Ok(())
    }

    pub async fn update_destination(&self, d: &Destination) -> StoreResult<()> {
        self.store.update_destination(d).await?;
        self.changed();
        Ok(())
    }

    /// Whether it existed.
    pub async fn delete_destination(&self, id: &str) -> StoreResult<bool> {
        let found = self.store.delete_destination(id).await?;
        self.changed();
        Ok(found)
    }

    /// Creates a connection with the source / destination given inline with it
    /// ([`Store::insert_connection`]).
    pub async fn insert_connection(
        &self,
        c: &Connection,
        new_source: Option<&Source>,
        new_destination: Option<&Destination>,
    ) -> StoreResult<()> {
        self.store
            .insert_connection(c, new_source, new_destination)
            .await?;
        self.changed();
        Ok(())
    }

    pub async fn update_connection(&self, c: &Connection) -> StoreResult<()> {
        self.store.update_connection(c).await?;
        self.changed();
        Ok(())
    }

    /// Whether it existed.
    pub async fn delete_connection(&self, id: &str) -> StoreResult<bool> {
        let found = self.store.delete_connection(id).await?;
        self.changed();
        Ok(found)
    }
}
