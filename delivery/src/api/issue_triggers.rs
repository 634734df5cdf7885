//! `/issue-triggers`: who hears about which issues, and when (Hookdeck's issue
//! triggers, with thresholds, a generic webhook channel and PagerDuty / Opsgenie
//! channels that carry their own keys added).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use hookyard_core::id::IdKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::issues::parse_type;
use super::{parse_field, parse_flag, validate, JsonBody, ListQuery, PageParams, Paginated};
use crate::clock::{new_id, now_ms, rfc3339};
use crate::error::ApiError;
use crate::model::{Channels, IssueTrigger, TriggerConfigs, TriggerFilter, BACKPRESSURE_DELAY_MS};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerIn {
    /// delivery, transformation, backpressure or source. Required to create; an
    /// update without it keeps the trigger's.
    #[serde(rename = "type")]
    pub issue_type: Option<String>,
    /// `{strategy: first_attempt|final_attempt, connections: "*" | [ids],
    /// destinations: "*" | [ids], sources: "*" | [ids], threshold:
    /// {consecutive_failures, failure_rate: {rate, window_secs, min_attempts}},
    /// delay}`.
    ///
    /// Which configs apply depends on the type: `connections` (delivery,
    /// transformation), `destinations` and `delay` (backpressure), `sources`
    /// (source: a broker source the gateway cannot consume; a name pattern
    /// with `*` or source ids). Each defaults to `"*"`.
    ///
    /// `delay` (backpressure): the oldest pending event's age that opens an
    /// issue, in **milliseconds** as in Hookdeck, from 60000 (1 minute) to
    /// 86400000 (1 day); default 300000 (5 minutes).
    #[schema(value_type = Option<Object>)]
    pub configs: Option<Value>,
    /// Where alerts go; any of:
    /// - `email: {to: [addresses]}` (none: `alerts.email.to`);
    /// - `webhook: {url}`: Slack-compatible `{"text"}` POSTs;
    /// - `slack: {channel_name, url}`: the same, to an incoming-webhook `url`;
    /// - `pagerduty: {routing_key}`: an Events API v2 integration key. An
    ///   incident is triggered when an issue alerts and resolved when the issue
    ///   resolves, is dismissed or is ignored (`dedup_key` `hookyard-<issue id>`);
    /// - `opsgenie: {api_key, region: "us"|"eu"}`: an API integration key
    ///   (region default `us`). An alert is created and closed the same way
    ///   (`alias` `hookyard-<issue id>`).
    ///
    /// Incident channels get no digests. Keys are shown back as given, as
    /// destination credentials are, so a trigger can be read and written back.
    #[schema(value_type = Option<Object>)]
    pub channels: Option<Value>,
    pub name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TriggerOut {
    pub id: String,
    pub team_id: &'static str,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub issue_type: String,
    #[schema(value_type = Object)]
    pub configs: TriggerConfigs,
    #[schema(value_type = Object)]
    pub channels: Channels,
    pub disabled_at: Option<String>,
    pub updated_at: String,
    pub created_at: String,
    pub deleted_at: Option<String>,
}

fn view(t: &IssueTrigger) -> TriggerOut {
    TriggerOut {
        id: t.id.clone(),
        team_id: super::views::TEAM_ID,
        name: t.name.clone(),
        issue_type: t.issue_type.as_str().into(),
        configs: t.configs.clone(),
        channels: t.channels.clone(),
        disabled_at: t.disabled_at.map(rfc3339),
        updated_at: rfc3339(t.updated_at),
        created_at: rfc3339(t.created_at),
        deleted_at: None,
    }
}

/// The longest integration key taken (PagerDuty's are 32 characters, Opsgenie's
/// 36): room to spare, but not a place to store a document.
const KEY_MAX: usize = 256;

/// A PagerDuty routing key or Opsgenie API key: printable ASCII without spaces,
/// so it fits in a JSON string and an HTTP header as given.
fn integration_key(field: &str, key: &str) -> Result<(), ApiError> {
    if key.is_empty() {
        return Err(ApiError::Unprocessable(format!(
            "{field} must not be empty"
        )));
    }
    if key.len() > KEY_MAX || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::Unprocessable(format!(
            "{field} must be 1 to {KEY_MAX} printable ASCII characters without spaces"
        )));
    }
    Ok(())
}

impl TriggerIn {
    fn apply(self, base: Option<IssueTrigger>) -> Result<IssueTrigger, ApiError> {
        let now = now_ms();
        // An update leaves out what it does not change (Hookdeck's update body has
        // no `type`); a new trigger needs its type and channels.
        let issue_type = match (&self.issue_type, &base) {
            (Some(t), _) => parse_type(t, "type")?,
            (None, Some(b)) => b.issue_type,
            (None, None) => {
                return Err(ApiError::Unprocessable(
                    "type is required: delivery, transformation, backpressure or source".into(),
                ))
            }
        };
        let configs: TriggerConfigs = match (self.configs, &base) {
            (Some(v), _) => parse_field("configs", v)?,
            (None, Some(b)) => b.configs.clone(),
            (None, None) => parse_field("configs", serde_json::json!({}))?,
        };
        if let Some(th) = &configs.threshold {
            if th.consecutive_failures.is_some_and(|n| n < 1) {
                return Err(ApiError::Unprocessable(
                    "configs.threshold.consecutive_failures must be at least 1".into(),
                ));
            }
            if let Some(r) = &th.failure_rate {
                if !(r.rate > 0.0 && r.rate <= 1.0) || r.window_secs == 0 {
                    return Err(ApiError::Unprocessable(
                        "configs.threshold.failure_rate needs 0 < rate <= 1 and window_secs > 0"
                            .into(),
                    ));
                }
            }
        }
        if let Some(d) = configs.delay {
            if !BACKPRESSURE_DELAY_MS.contains(&d) {
                return Err(ApiError::Unprocessable(format!(
                    "configs.delay is in milliseconds, from {} (1 minute) to {} (1 day); \
                     {d} is out of range",
                    BACKPRESSURE_DELAY_MS.start(),
                    BACKPRESSURE_DELAY_MS.end()
                )));
            }
        }
        let channels: Channels = match (self.channels, &base) {
            (Some(v), _) => parse_field("channels", v)?,
            (None, Some(b)) => b.channels.clone(),
            (None, None) => {
                return Err(ApiError::Unprocessable(
                    "channels is required: where alerts go (email, webhook, slack, pagerduty, \
                     opsgenie)"
                        .into(),
                ))
            }
        };
        if let Some(e) = &channels.email {
            for a in &e.to {
                crate::alerts::email::mailbox(a)
                    .map_err(|err| ApiError::Unprocessable(format!("channels.email.to: {err}")))?;
            }
        }
        for (n, w) in [("webhook", &channels.webhook), ("slack", &channels.slack)] {
            if let Some(w) = w {
                validate::url(&format!("channels.{n}.url"), &w.url)?;
            }
        }
        if let Some(p) = &channels.pagerduty {
            integration_key("channels.pagerduty.routing_key", &p.routing_key)?;
        }
        if let Some(o) = &channels.opsgenie {
            integration_key("channels.opsgenie.api_key", &o.api_key)?;
        }
        if let Some(n) = &self.name {
            validate::name("name", n)?;
        }
        Ok(match base {
            Some(mut t) => {
                t.issue_type = issue_type;
                t.configs = configs;
                t.channels = channels;
                if self.name.is_some() {
                    t.name = self.name;
                }
                t.updated_at = now;
                t
            }
            None => IssueTrigger {
                id: new_id(IdKind::IssueTrigger),
                name: self.name,
                issue_type,
                configs,
                channels,
                disabled_at: None,
                created_at: now,
                updated_at: now,
            },
        })
    }
}

/// Hookdeck's filters of `GET /issue-triggers`. `type` takes one type (an array
/// is refused), and `disabled_at` only its `any` operator; the other forms of
/// `disabled_at` (a time, `gt`, `gte`, `le`, `lte`) are refused with a 422, as
/// any parameter not listed here.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TriggerListParams {
    /// The trigger with this name.
    pub name: Option<String>,
    /// delivery, transformation, backpressure or source.
    #[serde(rename = "type")]
    pub issue_type: Option<String>,
    /// `true`: only disabled triggers; `false`: only enabled ones.
    #[serde(rename = "disabled_at[any]")]
    pub disabled_at_any: Option<String>,
}

impl TriggerListParams {
    fn filter(self) -> Result<TriggerFilter, ApiError> {
        Ok(TriggerFilter {
            issue_type: self
                .issue_type
                .as_deref()
                .map(|t| parse_type(t, "type"))
                .transpose()?,
            disabled: parse_flag("disabled_at[any]", &self.disabled_at_any)?,
            name: self.name,
        })
    }
}

#[utoipa::path(get, path = "/issue-triggers", tag = "issue-triggers",
    params(TriggerListParams, PageParams),
    responses((status = 200, description = "A page of issue triggers"),
        (status = 422, description = "an unknown parameter or a bad value, named")))]
pub async fn list(
    State(st): State<Arc<AppState>>,
    ListQuery(p, page): ListQuery<TriggerListParams>,
) -> Result<Json<Paginated<TriggerOut>>, ApiError> {
    let q = page.to_query_sorted(&[crate::store::SortColumn::TriggerType])?;
    let page = st.store.list_triggers_page(&p.filter()?, &q).await?;
    Ok(Json(Paginated::from_page(page, &q, |t| view(&t))))
}

#[utoipa::path(post, path = "/issue-triggers", tag = "issue-triggers", request_body = TriggerIn,
    responses((status = 200, body = TriggerOut), (status = 422, description = "invalid trigger")))]
pub async fn create(
    State(st): State<Arc<AppState>>,
    JsonBody(input): JsonBody<TriggerIn>,
) -> Result<Json<TriggerOut>, ApiError> {
    let t = input.apply(None)?;
    st.store.insert_trigger(&t).await?;
    Ok(Json(view(&t)))
}

#[utoipa::path(put, path = "/issue-triggers", tag = "issue-triggers", request_body = TriggerIn,
    responses((status = 200, body = TriggerOut)))]
/// Creates or replaces the trigger with this `name`.
pub async fn upsert(
    State(st): State<Arc<AppState>>,
    JsonBody(input): JsonBody<TriggerIn>,
) -> Result<Json<TriggerOut>, ApiError> {
    let Some(name) = input.name.clone() else {
        return Err(ApiError::Unprocessable("name is required to upsert".into()));
    };
    let existing = st.store.find_trigger_by_name(&name).await?;
    let is_new = existing.is_none();
    let t = input.apply(existing)?;
    if is_new {
        st.store.insert_trigger(&t).await?;
    } else {
        st.store.update_trigger(&t).await?;
    }
    Ok(Json(view(&t)))
}

async fn load(st: &AppState, id: &str) -> Result<IssueTrigger, ApiError> {
    st.store
        .get_trigger(id)
        .await?
        .ok_or_else(|| ApiError::not_found("issue trigger", id))
}

#[utoipa::path(get, path = "/issue-triggers/{id}", tag = "issue-triggers",
    responses((status = 200, body = TriggerOut), (status = 404, description = "no such trigger")))]
pub async fn retrieve(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<TriggerOut>, ApiError> {
    Ok(Json(view(&load(&st, &id).await?)))
}

#[utoipa::path(put, path = "/issue-triggers/{id}", tag = "issue-triggers", request_body = TriggerIn,
    responses((status = 200, body = TriggerOut)))]
pub async fn update(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<TriggerIn>,
) -> Result<Json<TriggerOut>, ApiError> {
    let t = input.apply(Some(load(&st, &id).await?))?;
    st.store.update_trigger(&t).await?;
    Ok(Json(view(&t)))
}

#[utoipa::path(delete, path = "/issue-triggers/{id}", tag = "issue-triggers",
    responses((status = 200, description = "`{\"id\"}` of the deleted trigger")))]
pub async fn delete(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !st.store.delete_trigger(&id).await? {
        return Err(ApiError::not_found("issue trigger", &id));
    }
    Ok(Json(serde_json::json!({ "id": id })))
}

async fn set_disabled(
    st: &AppState,
    id: &str,
    disabled: bool,
) -> Result<Json<TriggerOut>, ApiError> {
    let mut t = load(st, id).await?;
    let now = now_ms();
    t.disabled_at = if disabled {
        t.disabled_at.or(Some(now))
    } else {
        None
    };
    t.updated_at = now;
    st.store.update_trigger(&t).await?;
    Ok(Json(view(&t)))
}

#[utoipa::path(put, path = "/issue-triggers/{id}/disable", tag = "issue-triggers",
    responses((status = 200, body = TriggerOut)))]
pub async fn disable(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<TriggerOut>, ApiError> {
    set_disabled(&st, &id, true).await
}

#[utoipa::path(put, path = "/issue-triggers/{id}/enable", tag = "issue-triggers",
    responses((status = 200, body = TriggerOut)))]
pub async fn enable(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<TriggerOut>, ApiError> {
    set_disabled(&st, &id, false).await
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/issue-triggers", get(list).post(create).put(upsert))
        .route(
            "/issue-triggers/{id}",
            get(retrieve).put(update).delete(delete),
        )
        .route("/issue-triggers/{id}/disable", put(disable))
        .route("/issue-triggers/{id}/enable", put(enable))
}
