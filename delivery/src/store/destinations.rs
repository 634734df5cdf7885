//! Destinations: where events are delivered.

use super::sql::connect::conflict_as_typed;
use super::sql::query::{update_all, Query};
use super::sql::rows::{self, DESTINATION_COLS};
use super::sql::text::opt_json;
use super::{DestinationFilter, Page, PageQuery, Store, StoreError, StoreResult};
use crate::model::Destination;

fn destination_values(q: &mut Query, d: &Destination) -> StoreResult<()> {
    let period = d
        .rate_limit_period
        .map(|p| match serde_json::to_value(p) {
            Ok(serde_json::Value::String(s)) => Ok(s),
            _ => Err(StoreError::Corrupt("rate_limit_period".into())),
        })
        .transpose()?;
    let config = d.kind.config_json().map(|c| c.to_string());
    q.values([d], |r, d| {
        r.bind(d.id.clone())
            .bind(d.name.clone())
            .bind(d.description.clone())
            .bind(d.url.clone())
            .bind(d.cli_path.clone())
            .bind(d.http_method.clone())
            .bind(opt_json(&d.auth_method)?)
            .bind(d.rate_limit)
            .bind(period.clone())
            .bind(i64::from(d.path_forwarding_disabled))
            .bind(d.disabled_at)
            .bind(d.created_at)
            .bind(d.updated_at)
            .bind(d.max_concurrency)
            .bind(d.auto_disable_after)
            .bind(d.disabled_reason.clone())
            .bind(d.kind.type_name())
            .bind(config.clone());
        Ok(())
    })?;
    Ok(())
}

pub(super) fn destination_insert(
    d: &Destination,
) -> StoreResult<(String, sqlx::any::AnyArguments<'static>)> {
    let mut q = Query::new(&format!(
        "INSERT INTO destinations ({DESTINATION_COLS}) VALUES "
    ));
    destination_values(&mut q, d)?;
    q.build()
}

impl Store {
    pub async fn insert_destination(&self, d: &Destination) -> StoreResult<()> {
        let (sql, args) = destination_insert(d)?;
        sqlx::query_with(&sql, args)
            .execute(&self.write)
            .await
            .map_err(conflict_as_typed)?;
        Ok(())
    }

    pub async fn update_destination(&self, d: &Destination) -> StoreResult<()> {
        let q = update_all("destinations", DESTINATION_COLS, |q| {
            destination_values(q, d)
        })?;
        self.execute(q).await?;
        Ok(())
    }

    pub async fn get_destination(&self, id: &str) -> StoreResult<Option<Destination>> {
        self.get_one(
            DESTINATION_COLS,
            "destinations",
            "id",
            id,
            rows::destination,
        )
        .await
    }

    pub async fn find_destination_by_name(&self, name: &str) -> StoreResult<Option<Destination>> {
        self.get_one(
            DESTINATION_COLS,
            "destinations",
            "name",
            name,
            rows::destination,
        )
        .await
    }

    pub async fn list_destinations(
        &self,
        f: &DestinationFilter,
        page: &PageQuery,
    ) -> StoreResult<Page<Destination>> {
        let filters = |q: &mut Query| {
            q.and_eq("id", &f.id)
                .and_eq("name", &f.name)
                .and_eq("url", &f.url)
                .and_set("disabled_at", f.disabled);
        };
        self.list(
            DESTINATION_COLS,
            "destinations",
            &filters,
            page,
            rows::destination,
            |d| &d.id,
        )
        .await
    }

    /// Deletes the destination and its connections (their pending events end as
    /// FAILED, `CANCELLED`).
    pub async fn delete_destination(&self, id: &str) -> StoreResult<bool> {
        self.delete_with_connections("destinations", "destination_id", id)
            .await
    }
}
