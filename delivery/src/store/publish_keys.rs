//! Publish keys: keys that can only publish. Only their SHA-256 is stored.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::sql::query::Query;
use super::sql::text::opt_json;
use super::{Store, StoreError, StoreResult};
use crate::model::PublishKey;

const COLS: &str = "id, name, key_hash, key_prefix, source_ids, created_at";

fn publish_key(row: &AnyRow) -> StoreResult<PublishKey> {
    let sources: Option<String> = row.try_get("source_ids")?;
    Ok(PublishKey {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        key_hash: row.try_get("key_hash")?,
        key_prefix: row.try_get("key_prefix")?,
        source_ids: sources
            .map(|s| {
                serde_json::from_str(&s)
                    .map_err(|e| StoreError::Corrupt(format!("publish_keys.source_ids: {e}")))
            })
            .transpose()?,
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    pub async fn insert_publish_key(&self, k: &PublishKey) -> StoreResult<()> {
        let mut q = Query::new(&format!("INSERT INTO publish_keys ({COLS}) VALUES "));
        q.values([k], |r, k| {
            r.bind(k.id.clone())
                .bind(k.name.clone())
                .bind(k.key_hash.clone())
                .bind(k.key_prefix.clone())
                .bind(opt_json(&k.source_ids)?)
                .bind(k.created_at);
            Ok(())
        })?;
        self.execute(q).await?;
        Ok(())
    }

    pub async fn publish_key_by_hash(&self, hash: &str) -> StoreResult<Option<PublishKey>> {
        self.get_one(COLS, "publish_keys", "key_hash", hash, publish_key)
            .await
    }

    /// Every publish key, newest first (a handful per project).
    pub async fn list_publish_keys(&self) -> StoreResult<Vec<PublishKey>> {
        let q = Query::new(&format!(
            "SELECT {COLS} FROM publish_keys ORDER BY id DESC LIMIT 1000"
        ));
        self.fetch_all(&self.read, q)
            .await?
            .iter()
            .map(publish_key)
            .collect()
    }

    /// Whether it existed.
    pub async fn delete_publish_key(&self, id: &str) -> StoreResult<bool> {
        let mut q = Query::new("DELETE FROM publish_keys WHERE id = ");
        q.bind(id.to_owned());
        Ok(self.execute(q).await? > 0)
    }
}
