//! Query strings of the API: parsed into a handler's parameter types, and checked
//! against the parameters those types document (their `IntoParams`, the same list
//! the OpenAPI document shows). A parameter no type of the handler takes is a 422
//! naming it: a filter Hookyard does not know is refused, never silently ignored
//! (a list that looks filtered but is not is worse than an error).

use std::collections::BTreeSet;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
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
    let unknown: BTreeSet<String> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, _)| k.into_owned())
        .filter(|k| !known.iter().any(|n| n == k))
        .collect();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::events::EventListParams;
    use crate::api::issues::IssueListParams;

    #[test]
    fn the_names_are_the_documented_ones_renames_included() {
        let issues = names::<IssueListParams>();
        assert!(issues.contains(&"type".to_owned()), "{issues:?}");
        assert!(!issues.contains(&"issue_type".to_owned()));
        assert!(names::<PageParams>().contains(&"limit".to_owned()));
    }

    #[test]
    fn unknown_parameters_are_named_in_the_refusal() {
        let mut known = names::<EventListParams>();
        known.extend(names::<PageParams>());
        assert!(refuse_unknown("status=FAILED&limit=5", &known).is_ok());
        assert!(refuse_unknown("", &known).is_ok());
        let e = refuse_unknown(
            "status=FAILED&response_status=500&created_at%5Bgte%5D=x",
            &known,
        )
        .unwrap_err();
        assert_eq!(e.status(), axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        let text = e.to_string();
        assert!(
            text.contains("`created_at[gte]`, `response_status`") && text.contains("`status`"),
            "{text}"
        );
    }
}
