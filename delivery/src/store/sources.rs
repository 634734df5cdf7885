//! Sources: where requests come in.

use super::sql::connect::conflict_as_typed;
use super::sql::query::{update_all, Query};
use super::sql::rows::{self, SOURCE_COLS};
use super::sql::text::opt_json;
use super::{Page, PageQuery, SourceFilter, Store, StoreResult};
use crate::model::Source;

fn source_values(q: &mut Query, s: &Source) -> StoreResult<()> {
    q.values([s], |r, s| {
        r.bind(s.id.clone())
            .bind(s.name.clone())
            .bind(s.description.clone())
            .bind(opt_json(&s.allowed_http_methods)?)
            .bind(opt_json(&s.custom_response)?)
            .bind(opt_json(&s.verification)?)
            .bind(s.max_body_bytes)
            .bind(s.disabled_at)
            .bind(s.created_at)
            .bind(s.updated_at)
            .bind(s.kind.type_name())
            .bind(opt_json(&s.kind.config_json())?)
            .bind(opt_json(&s.topic_from)?);
        Ok(())
    })?;
    Ok(())
}

pub(super) fn source_insert(s: &Source) -> StoreResult<(String, sqlx::any::AnyArguments<'static>)> {
    let mut q = Query::new(&format!("INSERT INTO sources ({SOURCE_COLS}) VALUES "));
    source_values(&mut q, s)?;
    q.build()
}

impl Store {
    pub async fn insert_source(&self, s: &Source) -> StoreResult<()> {
        let (sql, args) = source_insert(s)?;
        sqlx::query_with(&sql, args)
            .execute(&self.write)
            .await
            .map_err(conflict_as_typed)?;
        Ok(())
    }

    pub async fn update_source(&self, s: &Source) -> StoreResult<()> {
        let q = update_all("sources", SOURCE_COLS, |q| source_values(q, s))?;
        self.execute(q).await?;
        Ok(())
    }

    pub async fn get_source(&self, id: &str) -> StoreResult<Option<Source>> {
        self.get_one(SOURCE_COLS, "sources", "id", id, rows::source)
            .await
    }

    pub async fn find_source_by_name(&self, name: &str) -> StoreResult<Option<Source>> {
        self.get_one(SOURCE_COLS, "sources", "name", name, rows::source)
            .await
    }

    pub async fn list_sources(
        &self,
        f: &SourceFilter,
        page: &PageQuery,
    ) -> StoreResult<Page<Source>> {
        let filters = |q: &mut Query| {
            q.and_eq("id", &f.id)
                .and_eq("name", &f.name)
                .and_set("disabled_at", f.disabled);
        };
        self.list(SOURCE_COLS, "sources", &filters, page, rows::source, |s| {
            &s.id
        })
        .await
    }

    /// The enabled sources the gateway consumes from a broker (every replica
    /// runs their consumers): those with an enabled connection. Until a source
    /// has one, its messages wait in the broker rather than being taken to be
    /// stored as requests nothing routes.
    pub async fn broker_sources(&self) -> StoreResult<Vec<Source>> {
        let q = Query::new(&format!(
            "SELECT {SOURCE_COLS} FROM sources \
             WHERE type <> 'WEBHOOK' AND disabled_at IS NULL \
             AND EXISTS (SELECT 1 FROM connections c \
                         WHERE c.source_id = sources.id AND c.disabled_at IS NULL) \
             ORDER BY id"
        ));
        self.fetch_all(&self.read, q)
            .await?
            .iter()
            .map(rows::source)
            .collect()
    }

    /// Deletes the source and its connections (their pending events end as
    /// FAILED, `CANCELLED`).
    pub async fn delete_source(&self, id: &str) -> StoreResult<bool> {
        self.delete_with_connections("sources", "source_id", id)
            .await
    }
}
