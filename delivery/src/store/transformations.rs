//! Transformations, their executions and the transformed requests events deliver.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::Row;

use super::sql::query::{update_all, Query, INSERT_CHUNK};
use super::sql::rows::{self, CONNECTION_COLS};
use super::sql::text::{storable_text, to_json};
use super::{Page, PageQuery, Store, StoreError, StoreResult};
use crate::model::HttpRequest;
use crate::model::{Connection, Execution, ExecutionFilter, Transformation, TransformationFilter};

const TRANSFORMATION_COLS: &str = "id, name, module_hash, module_size, env, \
     memory_limit_bytes, timeout_ms, created_at, updated_at";
const EXECUTION_COLS: &str = "id, transformation_id, module_hash, request_id, event_id, \
     connection_id, ok, error, logs, duration_us, created_at";

fn corrupt(col: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("column {col}: {e}"))
}

fn transformation(row: &AnyRow, with_module: bool) -> StoreResult<Transformation> {
    let env: String = row.try_get("env")?;
    Ok(Transformation {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        module: if with_module {
            Some(row.try_get("module")?)
        } else {
            None
        },
        module_hash: row.try_get("module_hash")?,
        module_size: row.try_get("module_size")?,
        env: serde_json::from_str(&env).map_err(|e| corrupt("env", e))?,
        memory_limit_bytes: row.try_get("memory_limit_bytes")?,
        timeout_ms: row.try_get("timeout_ms")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn transformation_row(row: &AnyRow) -> StoreResult<Transformation> {
    transformation(row, false)
}

fn execution(row: &AnyRow) -> StoreResult<Execution> {
    let logs: String = row.try_get("logs")?;
    Ok(Execution {
        id: row.try_get("id")?,
        transformation_id: row.try_get("transformation_id")?,
        module_hash: row.try_get("module_hash")?,
        request_id: row.try_get("request_id")?,
        event_id: row.try_get("event_id")?,
        connection_id: row.try_get("connection_id")?,
        ok: row.try_get::<i64, _>("ok")? != 0,
        error: row.try_get("error")?,
        logs: serde_json::from_str(&logs).map_err(|e| corrupt("logs", e))?,
        duration_us: row.try_get("duration_us")?,
        created_at: row.try_get("created_at")?,
    })
}

fn transformation_values(q: &mut Query, t: &Transformation) -> StoreResult<()> {
    let module = t
        .module
        .clone()
        .ok_or_else(|| StoreError::Corrupt("a transformation is stored with its module".into()))?;
    q.values([t], |r, t| {
        r.bind(t.id.clone())
            .bind(t.name.clone())
            .bind(module.clone())
            .bind(t.module_hash.clone())
            .bind(t.module_size)
            .bind(to_json(&t.env)?)
            .bind(t.memory_limit_bytes)
            .bind(t.timeout_ms)
            .bind(t.created_at)
            .bind(t.updated_at);
        Ok(())
    })?;
    Ok(())
}

const TRANSFORMATION_WRITE_COLS: &str = "id, name, module, module_hash, module_size, env, \
     memory_limit_bytes, timeout_ms, created_at, updated_at";

pub(super) fn push_executions(q: &mut Query, chunk: &[&Execution]) -> StoreResult<()> {
    q.push(&format!(
        "INSERT INTO transformation_executions ({EXECUTION_COLS}) VALUES "
    ));
    q.values(chunk.iter().copied(), |r, e| {
        r.bind(e.id.clone())
            .bind(e.transformation_id.clone())
            .bind(e.module_hash.clone())
            .bind(e.request_id.clone())
            .bind(e.event_id.clone())
            .bind(e.connection_id.clone())
            .bind(i64::from(e.ok))
            .bind(e.error.as_deref().map(storable_text))
            .bind(to_json(&e.logs)?)
            .bind(e.duration_us)
            .bind(e.created_at);
        Ok(())
    })?;
    Ok(())
}

/// What deleting a transformation did.
#[derive(Debug, Clone, PartialEq)]
pub enum TransformationDeletion {
    Deleted,
    NotFound,
    /// Refused: these connections' rules run it (deleting it would fail their
    /// events with `TRANSFORMATION_FAILED` from then on).
    InUse(Vec<Connection>),
}

/// The connections that may name transformation `id`: `rules` is JSON text,
/// and the LIKE only narrows the rows to parse (a `_` in the id matches itself
/// among others); [`naming`] keeps those that do.
fn using_transformation(id: &str) -> Query {
    let mut q = Query::new(&format!(
        "SELECT {CONNECTION_COLS} FROM connections WHERE rules LIKE "
    ));
    q.bind(format!("%{id}%")).push(" ORDER BY id");
    q
}

fn naming(found: &[AnyRow], id: &str) -> StoreResult<Vec<Connection>> {
    found
        .iter()
        .map(rows::connection)
        .filter(|c| !matches!(c, Ok(c) if c.transformation_id() != Some(id)))
        .collect()
}

impl Store {
    /// The connections whose rules run transformation `id`.
    pub async fn connections_using_transformation(&self, id: &str) -> StoreResult<Vec<Connection>> {
        let rows = self.fetch_all(&self.read, using_transformation(id)).await?;
        naming(&rows, id)
    }

    /// Deletes the transformation unless a connection's rules name it. Its
    /// executions stay: they are the history of events that were delivered.
    ///
    /// The check and the delete share a transaction; a connection saved with
    /// this id in between still routes safely (a transformation that does not
    /// exist fails that connection's events, it never delivers them untransformed).
    pub async fn delete_transformation(&self, id: &str) -> StoreResult<TransformationDeletion> {
        let mut tx = self.begin_write().await?;
        let (sql, args) = using_transformation(id).build()?;
        let rows = sqlx::query_with(&sql, args).fetch_all(&mut *tx).await?;
        let users = naming(&rows, id)?;
        if !users.is_empty() {
            return Ok(TransformationDeletion::InUse(users));
        }
        let mut q = Query::new("DELETE FROM transformations WHERE id = ");
        q.bind(id.to_owned());
        let (sql, args) = q.build()?;
        let n = sqlx::query_with(&sql, args).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(if n.rows_affected() > 0 {
            TransformationDeletion::Deleted
        } else {
            TransformationDeletion::NotFound
        })
    }

    pub async fn insert_transformation(&self, t: &Transformation) -> StoreResult<()> {
        let mut q = Query::new(&format!(
            "INSERT INTO transformations ({TRANSFORMATION_WRITE_COLS}) VALUES "
        ));
        transformation_values(&mut q, t)?;
        self.execute(q).await?;
        Ok(())
    }

    pub async fn update_transformation(&self, t: &Transformation) -> StoreResult<()> {
        let q = update_all("transformations", TRANSFORMATION_WRITE_COLS, |q| {
            transformation_values(q, t)
        })?;
        self.execute(q).await?;
        Ok(())
    }

    pub async fn get_transformation(
        &self,
        id: &str,
        with_module: bool,
    ) -> StoreResult<Option<Transformation>> {
        let mut q = Query::new(&format!(
            "SELECT {TRANSFORMATION_COLS}{} FROM transformations WHERE id = ",
            if with_module { ", module" } else { "" }
        ));
        q.bind(id.to_owned());
        self.fetch_optional(&self.read, q)
            .await?
            .as_ref()
            .map(|r| transformation(r, with_module))
            .transpose()
    }

    pub async fn find_transformation_by_name(
        &self,
        name: &str,
    ) -> StoreResult<Option<Transformation>> {
        self.get_one(
            TRANSFORMATION_COLS,
            "transformations",
            "name",
            name,
            transformation_row,
        )
        .await
    }

    /// Listed without their modules.
    pub async fn list_transformations(
        &self,
        f: &TransformationFilter,
        page: &PageQuery,
    ) -> StoreResult<Page<Transformation>> {
        let filters = |q: &mut Query| {
            q.and_eq("id", &f.id).and_eq("name", &f.name);
        };
        // With their modules: Hookdeck's Transformation always carries its `code`.
        self.list(
            &format!("{TRANSFORMATION_COLS}, module"),
            "transformations",
            &filters,
            page,
            |r| transformation(r, true),
            |t| &t.id,
        )
        .await
    }

    pub async fn insert_execution(&self, e: &Execution) -> StoreResult<()> {
        let mut q = Query::new("");
        push_executions(&mut q, &[e])?;
        self.execute(q).await?;
        Ok(())
    }

    pub async fn get_execution(&self, id: &str) -> StoreResult<Option<Execution>> {
        self.get_one(
            EXECUTION_COLS,
            "transformation_executions",
            "id",
            id,
            execution,
        )
        .await
    }

    pub async fn list_executions(
        &self,
        f: &ExecutionFilter,
        page: &PageQuery,
    ) -> StoreResult<Page<Execution>> {
        let filters = |q: &mut Query| {
            q.and_eq("transformation_id", &f.transformation_id)
                .and_eq("request_id", &f.request_id)
                .and_eq("event_id", &f.event_id)
                .and_eq("connection_id", &f.connection_id);
            if let Some(ok) = f.ok {
                q.push(" AND ok = ").bind(i64::from(ok));
            }
        };
        self.list(
            EXECUTION_COLS,
            "transformation_executions",
            &filters,
            page,
            execution,
            |e| &e.id,
        )
        .await
    }
    /// The transformed requests of those events that have one.
    pub async fn transformed_requests(
        &self,
        event_ids: &[String],
    ) -> StoreResult<HashMap<String, HttpRequest>> {
        let mut out = HashMap::new();
        for chunk in event_ids.chunks(INSERT_CHUNK) {
            let mut q = Query::in_order(
                self.dialect,
                "SELECT event_id, request FROM event_data WHERE event_id IN ",
            );
            q.bind_list(chunk.iter().cloned());
            for row in self.fetch_all(&self.read, q).await? {
                let text: String = row.try_get("request")?;
                let req = serde_json::from_str(&text).map_err(|e| corrupt("request", e))?;
                out.insert(row.try_get("event_id")?, req);
            }
        }
        Ok(out)
    }
}
