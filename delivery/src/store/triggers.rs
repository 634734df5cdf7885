//! Issue triggers: which issues alert, when, and on which channels.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::sql::connect::conflict_as_typed;
use super::sql::query::{update_all, Query};
use super::sql::rows::json_col;
use super::sql::text::to_json;
use super::{Page, PageQuery, Store, StoreError, StoreResult};
use crate::model::{Channels, IssueTrigger, IssueType, TriggerConfigs, TriggerFilter};

const TRIGGER_COLS: &str = "id, name, type, configs, channels, disabled_at, created_at, updated_at";

fn trigger(row: &AnyRow) -> StoreResult<IssueTrigger> {
    let t: String = row.try_get("type")?;
    Ok(IssueTrigger {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        issue_type: IssueType::parse(&t)
            .ok_or_else(|| StoreError::Corrupt(format!("trigger type {t:?}")))?,
        configs: json_col::<TriggerConfigs>(row, "configs")?,
        channels: json_col::<Channels>(row, "channels")?,
        disabled_at: row.try_get("disabled_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn trigger_values(q: &mut Query, t: &IssueTrigger) -> StoreResult<()> {
    q.values([t], |r, t| {
        r.bind(t.id.clone())
            .bind(t.name.clone())
            .bind(t.issue_type.as_str())
            .bind(to_json(&t.configs)?)
            .bind(to_json(&t.channels)?)
            .bind(t.disabled_at)
            .bind(t.created_at)
            .bind(t.updated_at);
        Ok(())
    })?;
    Ok(())
}

impl Store {
    pub async fn insert_trigger(&self, t: &IssueTrigger) -> StoreResult<()> {
        let mut q = Query::new(&format!(
            "INSERT INTO issue_triggers ({TRIGGER_COLS}) VALUES "
        ));
        trigger_values(&mut q, t)?;
        let (sql, args) = q.build()?;
        sqlx::query_with(&sql, args)
            .execute(&self.write)
            .await
            .map_err(conflict_as_typed)?;
        Ok(())
    }

    pub async fn update_trigger(&self, t: &IssueTrigger) -> StoreResult<()> {
        let q = update_all("issue_triggers", TRIGGER_COLS, |q| trigger_values(q, t))?;
        self.execute(q).await?;
        Ok(())
    }

    pub async fn get_trigger(&self, id: &str) -> StoreResult<Option<IssueTrigger>> {
        self.get_one(TRIGGER_COLS, "issue_triggers", "id", id, trigger)
            .await
    }

    pub async fn find_trigger_by_name(&self, name: &str) -> StoreResult<Option<IssueTrigger>> {
        self.get_one(TRIGGER_COLS, "issue_triggers", "name", name, trigger)
            .await
    }

    /// Every trigger, for the monitor and the notifier.
    pub async fn list_triggers(&self) -> StoreResult<Vec<IssueTrigger>> {
        let q = Query::new(&format!(
            "SELECT {TRIGGER_COLS} FROM issue_triggers ORDER BY id"
        ));
        self.fetch_all(&self.read, q)
            .await?
            .iter()
            .map(trigger)
            .collect()
    }

    /// One page of the triggers that match `f`, for the API.
    pub async fn list_triggers_page(
        &self,
        f: &TriggerFilter,
        page: &PageQuery,
    ) -> StoreResult<Page<IssueTrigger>> {
        let filters = |q: &mut Query| {
            q.and_eq("name", &f.name)
                .and_eq("type", &f.issue_type.map(|t| t.as_str().to_owned()))
                .and_set("disabled_at", f.disabled);
        };
        self.list(
            TRIGGER_COLS,
            "issue_triggers",
            &filters,
            page,
            trigger,
            |t| &t.id,
        )
        .await
    }

    pub async fn delete_trigger(&self, id: &str) -> StoreResult<bool> {
        let mut q = Query::new("DELETE FROM issue_triggers WHERE id = ");
        q.bind(id.to_owned());
        Ok(self.execute(q).await? > 0)
    }
}
