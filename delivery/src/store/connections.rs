//! Connections: which source's requests go to which destination, under which rules;
//! and deleting them (with their source or destination).

use super::destinations::destination_insert;
use super::sources::source_insert;
use super::sql::connect::conflict_as_typed;
use super::sql::query::Query;
use super::sql::rows::{self, CONNECTION_COLS};
use super::sql::text::{opt_json, to_json};
use super::{ConnectionFilter, Page, PageQuery, Store, StoreResult};
use crate::model::{Connection, Destination, Source};

impl Store {
    async fn insert_connection_rows(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        c: &Connection,
        s: Option<&Source>,
        d: Option<&Destination>,
    ) -> StoreResult<()> {
        if let Some(s) = s {
            let (sql, args) = source_insert(s)?;
            sqlx::query_with(&sql, args)
                .execute(&mut **tx)
                .await
                .map_err(conflict_as_typed)?;
        }
        if let Some(d) = d {
            let (sql, args) = destination_insert(d)?;
            sqlx::query_with(&sql, args)
                .execute(&mut **tx)
                .await
                .map_err(conflict_as_typed)?;
        }
        let rules = to_json(&c.rules)?;
        let mut q = Query::new(&format!(
            "INSERT INTO connections ({CONNECTION_COLS}) VALUES "
        ));
        q.values([c], |r, c| {
            r.bind(c.id.clone())
                .bind(c.name.clone())
                .bind(c.description.clone())
                .bind(c.source_id.clone())
                .bind(c.destination_id.clone())
                .bind(rules.clone())
                .bind(c.disabled_at)
                .bind(c.paused_at)
                .bind(c.created_at)
                .bind(c.updated_at)
                .bind(opt_json(&c.topics)?);
            Ok(())
        })?;
        let (sql, args) = q.build()?;
        sqlx::query_with(&sql, args)
            .execute(&mut **tx)
            .await
            .map_err(conflict_as_typed)?;
        Ok(())
    }

    /// Deletes the connections whose `column` is `value`. Their pending events
    /// have nowhere to go any more: they end as FAILED with `CANCELLED`, so they
    /// show as failed rather than waiting for ever.
    async fn delete_connections_tx(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        column: &str,
        value: &str,
    ) -> StoreResult<u64> {
        let mut q = Query::new(
            "UPDATE events SET status = 'FAILED', error_code = 'CANCELLED', \
             next_attempt_at = NULL, lease_until = NULL, updated_at = ",
        );
        q.bind(crate::clock::now_ms()).push(&format!(
            " WHERE status IN ('QUEUED', 'SCHEDULED', 'HOLD') AND connection_id IN \
             (SELECT id FROM connections WHERE {column} = "
        ));
        q.bind(value.to_owned()).push(")");
        let (sql, args) = q.build()?;
        sqlx::query_with(&sql, args).execute(&mut **tx).await?;
        let mut q = Query::new(&format!("DELETE FROM connections WHERE {column} = "));
        q.bind(value.to_owned());
        let (sql, args) = q.build()?;
        Ok(sqlx::query_with(&sql, args)
            .execute(&mut **tx)
            .await?
            .rows_affected())
    }

    /// Deletes a source or destination (`table`) with its connections.
    pub(super) async fn delete_with_connections(
        &self,
        table: &str,
        column: &str,
        id: &str,
    ) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        Self::delete_connections_tx(&mut tx, column, id).await?;
        let mut q = Query::new(&format!("DELETE FROM {table} WHERE id = "));
        q.bind(id.to_owned());
        let (sql, args) = q.build()?;
        let n = sqlx::query_with(&sql, args).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(n.rows_affected() > 0)
    }
}

/// The conditions of a [`ConnectionFilter`], for lists and counts alike.
fn connection_filters(q: &mut Query, f: &ConnectionFilter) {
    q.and_eq("id", &f.id)
        .and_eq("name", &f.name)
        .and_eq("source_id", &f.source_id)
        .and_eq("destination_id", &f.destination_id)
        .and_set("disabled_at", f.disabled)
        .and_set("paused_at", f.paused);
}

impl Store {
    /// Creates a connection, and the source / destination given inline with it, in
    /// one transaction (so a failed connection leaves no half-made source behind).
    pub async fn insert_connection(
        &self,
        c: &Connection,
        new_source: Option<&Source>,
        new_destination: Option<&Destination>,
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await?;
        Self::insert_connection_rows(&mut tx, c, new_source, new_destination).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn update_connection(&self, c: &Connection) -> StoreResult<()> {
        let rules = to_json(&c.rules)?;
        let mut q = Query::new("UPDATE connections SET name = ");
        q.bind(c.name.clone())
            .push(", description = ")
            .bind(c.description.clone())
            .push(", rules = ")
            .bind(rules)
            .push(", disabled_at = ")
            .bind(c.disabled_at)
            .push(", paused_at = ")
            .bind(c.paused_at)
            .push(", topics = ")
            .bind(opt_json(&c.topics)?)
            .push(", updated_at = ")
            .bind(c.updated_at)
            .push(" WHERE id = ")
            .bind(c.id.clone());
        self.execute(q).await?;
        Ok(())
    }

    pub async fn get_connection(&self, id: &str) -> StoreResult<Option<Connection>> {
        self.get_one(CONNECTION_COLS, "connections", "id", id, rows::connection)
            .await
    }

    pub async fn list_connections(
        &self,
        f: &ConnectionFilter,
        page: &PageQuery,
    ) -> StoreResult<Page<Connection>> {
        let filters = |q: &mut Query| connection_filters(q, f);
        self.list(
            CONNECTION_COLS,
            "connections",
            &filters,
            page,
            rows::connection,
            |c| &c.id,
        )
        .await
    }

    /// How many connections match.
    pub async fn count_connections(&self, f: &ConnectionFilter) -> StoreResult<i64> {
        let mut q = Query::new("SELECT COUNT(*) AS n FROM connections WHERE 1 = 1");
        connection_filters(&mut q, f);
        self.count_rows(q).await
    }

    pub async fn connections_of_source(&self, source_id: &str) -> StoreResult<Vec<Connection>> {
        let mut q = Query::new(&format!(
            "SELECT {CONNECTION_COLS} FROM connections WHERE source_id = "
        ));
        q.bind(source_id.to_owned()).push(" ORDER BY id");
        self.fetch_all(&self.read, q)
            .await?
            .iter()
            .map(rows::connection)
            .collect()
    }

    /// Deletes the connection; its pending events end as FAILED, `CANCELLED`.
    pub async fn delete_connection(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.begin_write().await?;
        let n = Self::delete_connections_tx(&mut tx, "id", id).await?;
        tx.commit().await?;
        Ok(n > 0)
    }
}
