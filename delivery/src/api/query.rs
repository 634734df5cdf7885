//! Query strings of the API: parsed into a handler's parameter types, and checked
//! against the parameters those types document (their `IntoParams`, the same list
//! the OpenAPI document shows). A parameter no type of the handler takes is a 422
//! naming it: a filter Hookyard does not know is refused, never silently ignored
//! (a list that looks filtered but is not is worse than an error).

use std::collections::BTreeSet;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::model::{Bounds, TimeMatch};
use utoipa::openapi::path::ParameterIn;
use utoipa::IntoParams;

use super::PageParams;
use crate::error::ApiError;

/// The query parameter names `T` documents.
pub fn names<T: IntoParams>() -> Vec<String> {
    T::into_params(|| Some(ParameterIn::Query))
        .into_iter()
        .map(|p| p.name)
        .collect()
}

/// Refuses a query string holding a parameter outside `known`.
pub fn refuse_unknown(query: &str, known: &[String]) -> Result<(), ApiError> {
    refuse_unknown_names(
        url::form_urlencoded::parse(query.as_bytes()).map(|(k, _)| k.into_owned()),
        known,
    )
}

/// Refuses any of `names` outside `known`.
fn refuse_unknown_names(
    names: impl Iterator<Item = String>,
    known: &[String],
) -> Result<(), ApiError> {
    let unknown: BTreeSet<String> = names.filter(|k| !known.iter().any(|n| n == k)).collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let quoted = |it: &mut dyn Iterator<Item = &String>| {
        it.map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
    };
    Err(ApiError::Unprocessable(format!(
        "unknown query parameter{} {}: nothing was listed, because an ignored filter would \
         look like a filtered list. This endpoint takes {}",
        if unknown.len() == 1 { "" } else { "s" },
        quoted(&mut unknown.iter()),
        quoted(&mut known.iter()),
    )))
}

/// Deserializes as axum's `Query` does, with the API's error shape.
fn parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let uri: axum::http::Uri = format!("/?{query}")
        .parse()
        .map_err(|e| ApiError::BadRequest(format!("invalid query string: {e}")))?;
    axum::extract::Query::<T>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|e| ApiError::Unprocessable(format!("invalid query string: {}", e.body_text())))
}

/// For a handler that takes no query parameters: any is refused (a list with no
/// filters or pages yet says so rather than answering as if it had applied them).
#[derive(Debug, Default, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NoParams {}

/// The query parameters of a handler that takes one parameter type.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned + IntoParams, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        refuse_unknown(query, &names::<T>())?;
        parse(query).map(QueryParams)
    }
}

/// The query parameters of a list: its filters `P` and the page.
pub struct ListQuery<P>(pub P, pub PageParams);

impl<P: DeserializeOwned + IntoParams, S: Send + Sync> FromRequestParts<S> for ListQuery<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let mut known = names::<P>();
        known.extend(names::<PageParams>());
        refuse_unknown(query, &known)?;
        Ok(ListQuery(parse(query)?, parse(query)?))
    }
}

/// Parameters whose value is JSON text (filter-language patterns). `path` may
/// also be plain text, which it must contain.
const JSON_PARAMS: [&str; 4] = ["body", "headers", "parsed_query", "path"];

/// Hookdeck's query strings as a JSON object, the shape its query types take:
/// `a=1&a=2` and `a[]=1` are lists, `a[gte]=x&a[lt]=y` an object of operators,
/// and the JSON parameters (`body`, `headers`, `parsed_query`) parsed.
pub fn deep_object(query: &str) -> Result<Map<String, Value>, ApiError> {
    enum Slot {
        Values(Vec<String>, bool),
        Operators(Map<String, Value>),
    }
    let mut slots: Vec<(String, Slot)> = Vec::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let (name, op) = match key.split_once('[') {
            None => (key.as_ref(), None),
            Some((name, rest)) => match rest.strip_suffix(']') {
                Some(op) if !op.contains(['[', ']']) => (name, Some(op)),
                _ => {
                    return Err(ApiError::Unprocessable(format!(
                        "query parameter `{key}`: write `name=value`, `name[]=value` or \
                         `name[operator]=value`"
                    )))
                }
            },
        };
        let idx = match slots.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                let slot = match op {
                    Some(o) if !o.is_empty() && !o.bytes().all(|b| b.is_ascii_digit()) => {
                        Slot::Operators(Map::new())
                    }
                    _ => Slot::Values(Vec::new(), false),
                };
                slots.push((name.to_owned(), slot));
                slots.len() - 1
            }
        };
        let list_item = op.is_none_or(|o| o.is_empty() || o.bytes().all(|b| b.is_ascii_digit()));
        match (&mut slots[idx].1, list_item) {
            (Slot::Values(values, forced), true) => {
                values.push(value.into_owned());
                *forced |= op.is_some();
            }
            (Slot::Operators(ops), false) => {
                let op = op.unwrap_or_default();
                if ops
                    .insert(op.to_owned(), Value::String(value.into_owned()))
                    .is_some()
                {
                    return Err(ApiError::Unprocessable(format!(
                        "query parameter `{name}[{op}]` is given twice"
                    )));
                }
            }
            _ => {
                return Err(ApiError::Unprocessable(format!(
                    "query parameter `{name}` is given both as a value and with operators \
                     (`{name}[gte]=…`); use one or the other"
                )))
            }
        }
    }
    let mut out = Map::new();
    for (name, slot) in slots {
        let v = match slot {
            Slot::Operators(ops) => Value::Object(ops),
            Slot::Values(mut values, forced) => {
                if values.len() == 1 && !forced {
                    Value::String(values.remove(0))
                } else {
                    Value::Array(values.into_iter().map(Value::String).collect())
                }
            }
        };
        let v = match (&v, JSON_PARAMS.contains(&name.as_str())) {
            (Value::String(text), true) => match serde_json::from_str::<Value>(text) {
                Ok(parsed @ Value::Object(_)) => parsed,
                Ok(parsed) if name != "path" => parsed,
                _ if name == "path" => v,
                Err(e) => {
                    return Err(ApiError::Unprocessable(format!(
                        "query parameter `{name}` must be JSON (a filter-language pattern, \
                         URL-encoded): {e}"
                    )))
                }
                Ok(_) => v,
            },
            _ => v,
        };
        out.insert(name, v);
    }
    Ok(out)
}

/// The bounds of a time parameter (none given: no bounds); a 422 names it.
pub fn time_bounds(name: &str, m: &Option<TimeMatch>) -> Result<Bounds, ApiError> {
    m.as_ref()
        .map(|m| m.bounds())
        .transpose()
        .map(Option::unwrap_or_default)
        .map_err(|e| ApiError::Unprocessable(format!("query parameter {name}{e}")))
}

/// The query of a searchable list (events, requests): its filters `Q` from a
/// Hookdeck query string (lists, operators, JSON patterns), the page, and
/// `include` (`data` adds each item's request data).
pub struct SearchQuery<Q> {
    pub filters: Q,
    pub page: PageParams,
    pub include_data: bool,
}

/// `include=data`: each item with its request data.
#[derive(Debug, Default, serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncludeParams {
    /// `data`: include each item's request data (headers, body, path, query).
    pub include: Option<String>,
}

impl<Q: DeserializeOwned + IntoParams, S: Send + Sync> FromRequestParts<S> for SearchQuery<Q> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let mut obj = deep_object(query)?;
        let page_names = names::<PageParams>();
        let mut known = names::<Q>();
        known.extend(page_names.iter().cloned());
        known.push("include".to_owned());
        refuse_unknown_names(obj.keys().cloned(), &known)?;
        let page: PageParams = parse(query)?;
        let include_data = match obj.remove("include") {
            None => false,
            Some(Value::String(s)) if s == "data" => true,
            Some(other) => {
                return Err(ApiError::Unprocessable(format!(
                    "include must be `data`, not {other}"
                )))
            }
        };
        obj.retain(|k, _| !page_names.contains(k));
        let filters = serde_path_to_error::deserialize(Value::Object(obj)).map_err(|e| {
            let path = e.path().to_string();
            ApiError::Unprocessable(format!("query parameter `{path}`: {}", e.into_inner()))
        })?;
        Ok(SearchQuery {
            filters,
            page,
            include_data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::issues::IssueListParams;
    use crate::model::EventQuery;
    use serde_json::json;

    #[test]
    fn the_names_are_the_documented_ones_renames_included() {
        let issues = names::<IssueListParams>();
        assert!(issues.contains(&"type".to_owned()), "{issues:?}");
        assert!(!issues.contains(&"issue_type".to_owned()));
        assert!(names::<PageParams>().contains(&"limit".to_owned()));
    }

    #[test]
    fn unknown_parameters_are_named_in_the_refusal() {
        let mut known = names::<IssueListParams>();
        known.extend(names::<PageParams>());
        assert!(refuse_unknown("status=OPENED&limit=5", &known).is_ok());
        assert!(refuse_unknown("", &known).is_ok());
        let e = refuse_unknown("status=OPENED&colour=1&created_at%5Bgte%5D=x", &known).unwrap_err();
        assert_eq!(e.status(), axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        let text = e.to_string();
        assert!(
            text.contains("`colour`, `created_at[gte]`") && text.contains("`status`"),
            "{text}"
        );
    }

    #[test]
    fn deep_objects_hold_lists_operators_and_json() {
        let o = deep_object(
            "status=FAILED&status=HOLD&id%5B%5D=evt_1&created_at%5Bgte%5D=2026-01-01T00:00:00Z\
             &created_at%5Blt%5D=2026-02-01T00:00:00Z&body=%7B%22a%22%3A1%7D&path=%2Forders&webhook_id=web_1",
        )
        .unwrap();
        assert_eq!(o["status"], json!(["FAILED", "HOLD"]));
        assert_eq!(o["id"], json!(["evt_1"]));
        assert_eq!(o["webhook_id"], json!("web_1"));
        assert_eq!(
            o["created_at"],
            json!({"gte": "2026-01-01T00:00:00Z", "lt": "2026-02-01T00:00:00Z"})
        );
        assert_eq!(o["body"], json!({"a": 1}));
        assert_eq!(o["path"], json!("/orders"));
        let q: EventQuery = serde_json::from_value(Value::Object(o)).unwrap();
        assert!(q.compile().is_ok());
    }

    #[test]
    fn malformed_deep_objects_are_refused_with_the_parameter_named() {
        for (query, needle) in [
            (
                "created_at=x&created_at%5Bgte%5D=y",
                "both as a value and with operators",
            ),
            ("a%5Bb%5D%5Bc%5D=1", "`a[b][c]`"),
            ("a%5Bgte%5D=1&a%5Bgte%5D=2", "`a[gte]` is given twice"),
            ("body=%7Bnot+json", "`body` must be JSON"),
        ] {
            let e = deep_object(query).unwrap_err().to_string();
            assert!(e.contains(needle), "{query}: {e}");
        }
    }
}
