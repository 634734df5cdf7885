//! Short-lived caches of sources, destinations and connections for the hot paths
//! (ingest looks up a source per request; dispatch a destination per event).
//!
//! Entries live `ttl` (one second by default): the API clears them on every change
//! it makes, and other replicas' changes show within the ttl.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::model::{Connection, Destination, Source};
use crate::signals::{Signal, Signals};
use crate::store::{Store, StoreResult};

/// What a cache may hold, counted in bytes of keys plus [`ENTRY_OVERHEAD`] per
/// entry: at most 8 MiB and about 32,000 entries each, whatever names are asked
/// for (misses are cached too, so the bound is what keeps a scanner trying names
/// from growing it).
const CACHE_BYTES: u64 = 8 << 20;
/// What one entry is charged besides its key: the value, the map's own
/// bookkeeping.
const ENTRY_OVERHEAD: u32 = 256;

/// Loaded values by key, each kept for `ttl`, bounded by [`CACHE_BYTES`]
/// (moka evicts the least useful entries past it).
struct TtlCache<V> {
    /// What was found by each key (`None`: nothing).
    map: moka::sync::Cache<String, Option<Arc<V>>>,
    /// Bumped by `clear`: a value loaded before a clear is not cached after it.
    generation: AtomicU64,
}

impl<V: Send + Sync + 'static> TtlCache<V> {
    fn new(ttl: Duration) -> Self {
        TtlCache {
            map: moka::sync::Cache::builder()
                .time_to_live(ttl)
                .max_capacity(CACHE_BYTES)
                .weigher(|key: &String, _| {
                    u32::try_from(key.len())
                        .unwrap_or(u32::MAX)
                        .saturating_add(ENTRY_OVERHEAD)
                })
                .build(),
            generation: AtomicU64::new(0),
        }
    }

    /// The cached value for `key`, or what `load` gives (misses are cached too, so a
    /// flood of requests to an unknown source does not reach the database each time).
    async fn get<F>(&self, key: &str, load: F) -> StoreResult<Option<Arc<V>>>
    where
        F: Future<Output = StoreResult<Option<V>>>,
    {
        if let Some(v) = self.map.get(key) {
            return Ok(v);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let v = load.await?.map(Arc::new);
        if self.generation.load(Ordering::Acquire) == generation {
            self.map.insert(key.to_owned(), v.clone());
            // A clear between the check and the insert must still win.
            if self.generation.load(Ordering::Acquire) != generation {
                self.map.invalidate(key);
            }
        }
        Ok(v)
    }

    fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.map.invalidate_all();
    }

    /// Entries held and their weight, once pending evictions have run.
    #[cfg(test)]
    fn size(&self) -> (u64, u64) {
        self.map.run_pending_tasks();
        (self.map.entry_count(), self.map.weighted_size())
    }
}

pub struct Catalog {
    store: Arc<Store>,
    signals: Signals,
    sources_by_name: TtlCache<Source>,
    sources: TtlCache<Source>,
    destinations: TtlCache<Destination>,
    connections: TtlCache<Connection>,
    connections_of_source: TtlCache<Vec<Connection>>,
    limited_destinations: TtlCache<Vec<Arc<Destination>>>,
    publish_keys: TtlCache<crate::model::PublishKey>,
}

impl Catalog {
    pub fn new(store: Arc<Store>, ttl: Duration, signals: Signals) -> Self {
        Catalog {
            store,
            signals,
            sources_by_name: TtlCache::new(ttl),
            sources: TtlCache::new(ttl),
            destinations: TtlCache::new(ttl),
            connections: TtlCache::new(ttl),
            connections_of_source: TtlCache::new(ttl),
            limited_destinations: TtlCache::new(ttl),
            publish_keys: TtlCache::new(ttl),
        }
    }

    pub async fn source_by_name(&self, name: &str) -> StoreResult<Option<Arc<Source>>> {
        self.sources_by_name
            .get(name, self.store.find_source_by_name(name))
            .await
    }

    pub async fn source(&self, id: &str) -> StoreResult<Option<Arc<Source>>> {
        self.sources.get(id, self.store.get_source(id)).await
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

    /// The publish key with this SHA-256 (hex). A deleted key stops working
    /// within the cache's lifetime on other replicas, at once on this one.
    pub async fn publish_key(
        &self,
        hash: &str,
    ) -> StoreResult<Option<Arc<crate::model::PublishKey>>> {
        self.publish_keys
            .get(hash, self.store.publish_key_by_hash(hash))
            .await
    }

    pub async fn delete_publish_key(&self, id: &str) -> StoreResult<bool> {
        let found = self.store.delete_publish_key(id).await?;
        self.publish_keys.clear();
        Ok(found)
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
        self.sources.clear();
        self.destinations.clear();
        self.connections.clear();
        self.connections_of_source.clear();
        self.limited_destinations.clear();
        self.signals.notify(Signal::Monitor);
        self.signals.notify(Signal::Dispatch);
        self.signals.notify(Signal::Sources);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A scanner trying 20,000 different long names (80 MiB of names) leaves the
    /// cache within its bound; the unbounded map it replaces kept every one.
    #[tokio::test]
    async fn misses_for_many_long_names_stay_within_the_bound() {
        let cache: TtlCache<Source> = TtlCache::new(Duration::from_secs(60));
        for i in 0..20_000 {
            let name = format!("{i:08}{}", "x".repeat(4096));
            let found = cache.get(&name, async { Ok(None) }).await.unwrap();
            assert!(found.is_none());
        }
        let (entries, bytes) = cache.size();
        assert!(bytes <= CACHE_BYTES, "{bytes} bytes held");
        assert!(entries < 20_000 / 8, "{entries} entries held");
    }

    #[tokio::test]
    async fn a_clear_during_a_load_keeps_the_stale_value_out() {
        let cache: TtlCache<String> = TtlCache::new(Duration::from_secs(60));
        let v = cache
            .get("k", async {
                cache.clear();
                Ok(Some("stale".to_owned()))
            })
            .await
            .unwrap();
        assert_eq!(v.as_deref().map(String::as_str), Some("stale"));
        let again = cache
            .get("k", async { Ok(Some("fresh".to_owned())) })
            .await
            .unwrap();
        assert_eq!(again.as_deref().map(String::as_str), Some("fresh"));
    }
}
