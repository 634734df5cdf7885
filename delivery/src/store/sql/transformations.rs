//! Transformations, their executions and the transformed requests events deliver.

use std::collections::{BTreeSet, HashMap};

use sqlx::any::AnyRow;
use sqlx::Row;

use super::*;
use crate::model::HttpRequest;
use crate::model::{
    Execution, ExecutionFilter, PreparedRoute, RouteResult, Transformation, TransformationFilter,
};

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

fn push_executions(q: &mut Query, chunk: &[&Execution]) -> StoreResult<()> {
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

impl Store {
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

    pub async fn find_transformation_by_name(&self, name: &str) -> StoreResult<Option<Transformation>> {
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
        self.list(
            TRANSFORMATION_COLS,
            "transformations",
            &filters,
            page,
            transformation_row,
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

    /// Up to `limit` unrouted requests (with bodies), oldest first, and the
    /// connections of their sources. Reads only: nothing is locked.
    pub async fn unrouted_requests(
        &self,
        limit: i64,
    ) -> StoreResult<(Vec<RequestRecord>, HashMap<String, Vec<Connection>>)> {
        let mut q = Query::new(&format!(
            "SELECT {REQUEST_COLS}, body FROM requests WHERE routed = 0 ORDER BY id LIMIT "
        ));
        q.bind(limit);
        let pending = self
            .fetch_all(&self.write, q)
            .await?
            .iter()
            .map(|r| rows::request(r, true))
            .collect::<StoreResult<Vec<_>>>()?;
        let mut by_source: HashMap<String, Vec<Connection>> = HashMap::new();
        if pending.is_empty() {
            return Ok((pending, by_source));
        }
        let source_ids: BTreeSet<&str> = pending.iter().map(|r| r.source_id.as_str()).collect();
        let mut q = Query::new(&format!(
            "SELECT {CONNECTION_COLS} FROM connections WHERE source_id IN "
        ));
        q.bind_list(source_ids.iter().map(|s| s.to_string()));
        q.push(" ORDER BY id");
        for row in self.fetch_all(&self.write, q).await? {
            let c = rows::connection(&row)?;
            by_source.entry(c.source_id.clone()).or_default().push(c);
        }
        Ok((pending, by_source))
    }

    /// Stores prepared routes in one transaction: for each request still
    /// unrouted (another replica may have routed it meanwhile), its events,
    /// ignored events, failed events, event data and executions. Returns how many
    /// requests were routed and events created.
    pub async fn store_prepared_routes(
        &self,
        routes: &[PreparedRoute],
        now: i64,
    ) -> StoreResult<(usize, usize)> {
        if routes.is_empty() {
            return Ok((0, 0));
        }
        let mut tx = self.write.begin().await?;
        // Only requests nobody routed meanwhile (locked so a replica routing the
        // same ones waits, then finds them routed).
        let mut q = Query::new("SELECT id FROM requests r WHERE routed = 0 AND id IN ");
        q.bind_list(routes.iter().map(|r| r.request_id.clone()));
        q.push(&self.dialect.skip_locked("r"));
        let (sql, args) = q.build()?;
        let still: std::collections::HashSet<String> = sqlx::query_with(&sql, args)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>("id"))
            .collect::<Result<_, _>>()?;
        let mine: Vec<&PreparedRoute> = routes
            .iter()
            .filter(|r| still.contains(&r.request_id))
            .collect();
        if mine.is_empty() {
            tx.rollback().await?;
            return Ok((0, 0));
        }
        let routed: Vec<(&str, &str, &RouteResult)> = mine
            .iter()
            .map(|r| (r.request_id.as_str(), r.source_id.as_str(), &r.route))
            .collect();
        let events = Self::store_routes_tx(self.dialect, &mut tx, &routed, now).await?;

        Self::write_route_extras_tx(&mut tx, &mine).await?;
        tx.commit().await?;
        Ok((mine.len(), events))
    }

    /// Writes what routing made besides events: the events whose transformation
    /// failed (FAILED, `TRANSFORMATION_FAILED`), the transformed request each
    /// event delivers, and the executions.
    pub(crate) async fn write_route_extras_tx(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        mine: &[&PreparedRoute],
    ) -> StoreResult<()> {
        let failed: Vec<String> = mine.iter().flat_map(|r| r.failed_events.clone()).collect();
        for chunk in failed.chunks(INSERT_CHUNK) {
            let mut q = Query::new("UPDATE events SET status = ");
            q.bind(EventStatus::Failed.as_str())
                .push(", error_code = 'TRANSFORMATION_FAILED', next_attempt_at = NULL WHERE id IN ")
                .bind_list(chunk.iter().cloned());
            let (sql, args) = q.build()?;
            sqlx::query_with(&sql, args).execute(&mut **tx).await?;
        }
        let data: Vec<(String, String)> = mine
            .iter()
            .flat_map(|r| r.event_data.iter())
            .map(|(id, req)| Ok((id.clone(), to_json(req)?)))
            .collect::<StoreResult<_>>()?;
        for chunk in data.chunks(INSERT_CHUNK) {
            let mut q = Query::new("INSERT INTO event_data (event_id, request) VALUES ");
            q.values(chunk, |r, (id, req)| {
                r.bind(id.clone()).bind(req.clone());
                Ok(())
            })?;
            let (sql, args) = q.build()?;
            sqlx::query_with(&sql, args).execute(&mut **tx).await?;
        }
        let executions: Vec<&Execution> = mine.iter().flat_map(|r| &r.executions).collect();
        for chunk in executions.chunks(INSERT_CHUNK) {
            let mut q = Query::new("");
            push_executions(&mut q, chunk)?;
            let (sql, args) = q.build()?;
            sqlx::query_with(&sql, args).execute(&mut **tx).await?;
        }
        Ok(())
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
