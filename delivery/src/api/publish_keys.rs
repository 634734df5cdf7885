//! `/publish-keys`: keys for producers, which can publish and nothing else. The
//! key is shown once, when it is created; only its SHA-256 is kept.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::{delete, get};
use axum::{Json, Router};
use hookyard_core::id::IdKind;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{validate, JsonBody};
use crate::clock::{new_id, now_ms, rfc3339};
use crate::error::ApiError;
use crate::ingest::publish::{key_hash, PUBLISH_KEY_PREFIX};
use crate::model::PublishKey;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishKeyIn {
    pub name: String,
    /// The sources it may publish to (ids); absent: every source.
    pub source_ids: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublishKeyOut {
    pub id: String,
    pub name: String,
    /// Only in the answer to its creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The key's first characters, to recognise it.
    pub key_prefix: String,
    pub source_ids: Option<Vec<String>>,
    pub created_at: String,
}

fn view(k: &PublishKey, key: Option<String>) -> PublishKeyOut {
    PublishKeyOut {
        id: k.id.clone(),
        name: k.name.clone(),
        key,
        key_prefix: k.key_prefix.clone(),
        source_ids: k.source_ids.clone(),
        created_at: rfc3339(k.created_at),
    }
}

#[utoipa::path(post, path = "/publish-keys", tag = "publish", request_body = PublishKeyIn,
    responses((status = 200, body = PublishKeyOut, description = "the key is in `key`, this once"),
              (status = 422, description = "invalid field")))]
pub async fn create(
    State(st): State<Arc<AppState>>,
    JsonBody(input): JsonBody<PublishKeyIn>,
) -> Result<Json<PublishKeyOut>, ApiError> {
    validate::name("name", &input.name)?;
    if let Some(ids) = &input.source_ids {
        if ids.is_empty() {
            return Err(ApiError::Unprocessable(
                "invalid field `source_ids`: list at least one source, or leave it out for every source"
                    .into(),
            ));
        }
        for (i, id) in ids.iter().enumerate() {
            if st.store.get_source(id).await?.is_none() {
                return Err(ApiError::Unprocessable(format!(
                    "invalid field `source_ids[{i}]`: source {id:?} does not exist"
                )));
            }
        }
    }
    let mut secret = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut secret);
    let key = format!("{PUBLISH_KEY_PREFIX}{}", hex::encode(secret));
    let k = PublishKey {
        id: new_id(IdKind::PublishKey),
        name: input.name,
        key_hash: key_hash(&key),
        key_prefix: key[..PUBLISH_KEY_PREFIX.len() + 6].to_owned(),
        source_ids: input.source_ids,
        created_at: now_ms(),
    };
    st.store.insert_publish_key(&k).await?;
    Ok(Json(view(&k, Some(key))))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublishKeyList {
    pub models: Vec<PublishKeyOut>,
    pub count: usize,
}

#[utoipa::path(get, path = "/publish-keys", tag = "publish",
    responses((status = 200, body = PublishKeyList)))]
pub async fn list(State(st): State<Arc<AppState>>) -> Result<Json<PublishKeyList>, ApiError> {
    let models: Vec<PublishKeyOut> = st
        .store
        .list_publish_keys()
        .await?
        .iter()
        .map(|k| view(k, None))
        .collect();
    Ok(Json(PublishKeyList {
        count: models.len(),
        models,
    }))
}

#[utoipa::path(delete, path = "/publish-keys/{id}", tag = "publish",
    responses((status = 200, description = "`{\"id\"}` of the deleted key; it stops working at once on this replica, within a second on others"),
              (status = 404, description = "no such key")))]
pub async fn remove(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    if !st.catalog.delete_publish_key(&id).await? {
        return Err(ApiError::not_found("publish key", &id));
    }
    Ok(Json(serde_json::json!({ "id": id })))
}

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/publish-keys", get(list).post(create))
        .route("/publish-keys/{id}", delete(remove))
}
