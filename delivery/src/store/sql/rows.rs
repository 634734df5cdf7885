//! Turning rows into records. JSON columns are parsed here; a row that does not
//! parse is reported as corrupt rather than half-read.

use serde::de::DeserializeOwned;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::model::{
    Attempt, AttemptStatus, AttemptTrigger, Connection, Destination, Event, EventStatus,
    IgnoredEvent, RateLimitPeriod, RejectionCause, RequestRecord, Source,
};
use crate::store::{StoreError, StoreResult};

pub const SOURCE_COLS: &str = "id, name, description, allowed_http_methods, custom_response, \
     verification, max_body_bytes, disabled_at, created_at, updated_at, type, config, topic_from";
pub const DESTINATION_COLS: &str = "id, name, description, url, cli_path, http_method, \
     auth_method, rate_limit, rate_limit_period, path_forwarding_disabled, disabled_at, \
     created_at, updated_at, max_concurrency, auto_disable_after, disabled_reason, type, config";
pub const CONNECTION_COLS: &str = "id, name, description, source_id, destination_id, rules, \
     disabled_at, paused_at, created_at, updated_at, topics";
pub const REQUEST_COLS: &str = "id, source_id, method, path, query, headers, body_size, \
     verified, rejection_cause, events_count, ignored_count, routed, received_at, created_at, \
     updated_at, topic";
pub const EVENT_COLS: &str = "id, request_id, connection_id, source_id, destination_id, status, \
     attempts, next_attempt_at, next_trigger, last_attempt_at, response_status, error_code, \
     successful_at, created_at, updated_at, issue_id, muted_at, bulk_retry_id";
pub const ATTEMPT_COLS: &str = "id, event_id, destination_id, attempt_number, trigger, status, \
     response_status, response_headers, response_body, error_code, error_message, \
     requested_url, http_method, duration_ms, created_at, bulk_retry_id";
pub const IGNORED_COLS: &str = "id, request_id, connection_id, cause, meta, created_at";

fn json<T: DeserializeOwned>(row: &AnyRow, col: &str) -> StoreResult<Option<T>> {
    let text: Option<String> = row.try_get(col)?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
    })
    .transpose()
}

fn required_json<T: DeserializeOwned>(row: &AnyRow, col: &str) -> StoreResult<T> {
    json(row, col)?.ok_or_else(|| StoreError::Corrupt(format!("column {col} is null")))
}

fn parsed<T>(value: String, col: &str, parse: fn(&str) -> Option<T>) -> StoreResult<T> {
    parse(&value).ok_or_else(|| StoreError::Corrupt(format!("column {col}: unknown {value:?}")))
}

pub fn source(row: &AnyRow) -> StoreResult<Source> {
    Ok(Source {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        allowed_http_methods: json(row, "allowed_http_methods")?,
        custom_response: json(row, "custom_response")?,
        verification: json(row, "verification")?,
        max_body_bytes: row.try_get("max_body_bytes")?,
        kind: typed_kind(row, "source")?,
        topic_from: json(row, "topic_from")?,
        disabled_at: row.try_get("disabled_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// `type` and `config` read back into a typed kind (not re-checked: it was at write).
fn typed_kind<T: DeserializeOwned>(row: &AnyRow, what: &str) -> StoreResult<T> {
    let type_name: String = row.try_get("type")?;
    let config: Option<serde_json::Value> = json(row, "config")?;
    let mut whole = serde_json::Map::new();
    whole.insert("type".into(), type_name.into());
    if let Some(c) = config {
        whole.insert("config".into(), c);
    }
    serde_json::from_value(serde_json::Value::Object(whole))
        .map_err(|e| StoreError::Corrupt(format!("{what} type/config: {e}")))
}

pub fn destination(row: &AnyRow) -> StoreResult<Destination> {
    let period: Option<String> = row.try_get("rate_limit_period")?;
    let rate_limit_period = period
        .map(|p| {
            serde_json::from_value::<RateLimitPeriod>(serde_json::Value::String(p.clone()))
                .map_err(|_| StoreError::Corrupt(format!("rate_limit_period {p:?}")))
        })
        .transpose()?;
    Ok(Destination {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        kind: typed_kind(row, "destination")?,
        url: row.try_get("url")?,
        cli_path: row.try_get("cli_path")?,
        http_method: row.try_get("http_method")?,
        auth_method: json(row, "auth_method")?,
        rate_limit: row.try_get("rate_limit")?,
        rate_limit_period,
        path_forwarding_disabled: row.try_get::<i64, _>("path_forwarding_disabled")? != 0,
        max_concurrency: row.try_get("max_concurrency")?,
        auto_disable_after: row.try_get("auto_disable_after")?,
        disabled_at: row.try_get("disabled_at")?,
        disabled_reason: row.try_get("disabled_reason")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub fn connection(row: &AnyRow) -> StoreResult<Connection> {
    Ok(Connection {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        source_id: row.try_get("source_id")?,
        destination_id: row.try_get("destination_id")?,
        rules: required_json(row, "rules")?,
        topics: json(row, "topics")?,
        disabled_at: row.try_get("disabled_at")?,
        paused_at: row.try_get("paused_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub fn request(row: &AnyRow, with_body: bool) -> StoreResult<RequestRecord> {
    let cause: Option<String> = row.try_get("rejection_cause")?;
    Ok(RequestRecord {
        id: row.try_get("id")?,
        source_id: row.try_get("source_id")?,
        method: row.try_get("method")?,
        path: row.try_get("path")?,
        query: row.try_get("query")?,
        headers: required_json(row, "headers")?,
        body: if with_body {
            Some(row.try_get("body")?)
        } else {
            None
        },
        body_size: row.try_get("body_size")?,
        verified: row.try_get::<Option<i64>, _>("verified")?.map(|v| v != 0),
        rejection_cause: cause
            .map(|c| parsed(c, "rejection_cause", RejectionCause::parse))
            .transpose()?,
        topic: row.try_get("topic")?,
        events_count: row.try_get("events_count")?,
        ignored_count: row.try_get("ignored_count")?,
        routed: row.try_get::<i64, _>("routed")? != 0,
        received_at: row.try_get("received_at")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub fn event(row: &AnyRow) -> StoreResult<Event> {
    Ok(Event {
        id: row.try_get("id")?,
        request_id: row.try_get("request_id")?,
        connection_id: row.try_get("connection_id")?,
        source_id: row.try_get("source_id")?,
        destination_id: row.try_get("destination_id")?,
        status: parsed(row.try_get("status")?, "status", EventStatus::parse)?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        next_trigger: parsed(
            row.try_get("next_trigger")?,
            "next_trigger",
            AttemptTrigger::parse,
        )?,
        last_attempt_at: row.try_get("last_attempt_at")?,
        response_status: row.try_get("response_status")?,
        error_code: row.try_get("error_code")?,
        successful_at: row.try_get("successful_at")?,
        issue_id: row.try_get("issue_id")?,
        muted_at: row.try_get("muted_at")?,
        bulk_retry_id: row.try_get("bulk_retry_id")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub fn attempt(row: &AnyRow) -> StoreResult<Attempt> {
    let status: String = row.try_get("status")?;
    Ok(Attempt {
        id: row.try_get("id")?,
        event_id: row.try_get("event_id")?,
        destination_id: row.try_get("destination_id")?,
        attempt_number: row.try_get("attempt_number")?,
        trigger: parsed(row.try_get("trigger")?, "trigger", AttemptTrigger::parse)?,
        status: if status == AttemptStatus::Successful.as_str() {
            AttemptStatus::Successful
        } else {
            AttemptStatus::Failed
        },
        response_status: row.try_get("response_status")?,
        response_headers: json(row, "response_headers")?,
        response_body: row.try_get("response_body")?,
        error_code: row.try_get("error_code")?,
        error_message: row.try_get("error_message")?,
        requested_url: row.try_get("requested_url")?,
        http_method: row.try_get("http_method")?,
        duration_ms: row.try_get("duration_ms")?,
        created_at: row.try_get("created_at")?,
        bulk_retry_id: row.try_get("bulk_retry_id")?,
    })
}

pub fn ignored(row: &AnyRow) -> StoreResult<IgnoredEvent> {
    Ok(IgnoredEvent {
        id: row.try_get("id")?,
        request_id: row.try_get("request_id")?,
        connection_id: row.try_get("connection_id")?,
        cause: row.try_get("cause")?,
        meta: json(row, "meta")?,
        created_at: row.try_get("created_at")?,
    })
}

pub fn json_col<T: serde::de::DeserializeOwned>(row: &AnyRow, col: &str) -> StoreResult<T> {
    let text: String = row.try_get(col)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
}
