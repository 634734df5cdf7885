//! A request as routing sees it: its parts ([`RouteInput`]) and the JSON view the
//! filter language matches ([`RequestView`]), built once per request.

use hookyard_core::envelope::Envelope;
use serde_json::{Map, Value};

use super::rules::CompiledFilter;
use crate::model::{HttpRequest, RequestRecord};

/// What routing looks at: a stored request or one about to be stored.
#[derive(Clone, Copy)]
pub struct RouteInput<'a> {
    pub request_id: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    /// What connections' topic subscriptions match.
    pub topic: Option<&'a str>,
}

impl<'a> From<&'a RequestRecord> for RouteInput<'a> {
    fn from(r: &'a RequestRecord) -> Self {
        RouteInput {
            request_id: &r.id,
            method: &r.method,
            path: &r.path,
            query: &r.query,
            headers: &r.headers,
            body: r.body.as_deref().unwrap_or_default(),
            topic: r.topic.as_deref(),
        }
    }
}

impl<'a> RouteInput<'a> {
    /// A request about to be stored, with its topic.
    pub fn of_envelope(e: &'a Envelope, topic: Option<&'a str>) -> RouteInput<'a> {
        RouteInput {
            request_id: &e.id,
            method: &e.method,
            path: &e.path,
            query: &e.query,
            headers: &e.headers,
            body: &e.body,
            topic,
        }
    }

    /// The request as a transformation receives it.
    pub fn to_http(&self) -> HttpRequest {
        HttpRequest {
            method: self.method.to_owned(),
            path: self.path.to_owned(),
            query: self.query.to_owned(),
            headers: self.headers.to_vec(),
            body: self.body.to_vec(),
        }
    }

    /// A transformed request, for the rules after the transformation (its
    /// topic is the original's: a transformation rewrites HTTP, not the topic).
    pub fn of_http(
        request_id: &'a str,
        r: &'a HttpRequest,
        topic: Option<&'a str>,
    ) -> RouteInput<'a> {
        RouteInput {
            request_id,
            method: &r.method,
            path: &r.path,
            query: &r.query,
            headers: &r.headers,
            body: &r.body,
            topic,
        }
    }
}

/// A request as the filter language sees it: body parsed once, however many
/// connections look at it. A body that is not JSON is matched as a string.
pub struct RequestView {
    pub body: Value,
    pub headers: Value,
    pub query: Value,
    pub path: Value,
}

impl RequestView {
    pub fn new(req: &RouteInput<'_>) -> Self {
        let body = if req.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(req.body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(req.body).into_owned()))
        };
        let headers = header_object(req.headers);
        RequestView {
            body,
            headers: Value::Object(headers),
            query: parse_query(req.query),
            path: Value::String(req.path.to_owned()),
        }
    }
}

/// Headers as JSON: names to values, a repeated header's values joined with `, `
/// (as HTTP allows), the shape filters match and the API shows.
pub fn header_object(pairs: &[(String, String)]) -> Map<String, Value> {
    let mut headers = Map::new();
    for (k, v) in pairs {
        match headers.get_mut(k) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(v);
            }
            _ => {
                headers.insert(k.clone(), Value::String(v.clone()));
            }
        }
    }
    headers
}

/// A query string as JSON: repeated keys become arrays.
pub fn parse_query(query: &str) -> Value {
    let mut map = Map::new();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let v = Value::String(v.into_owned());
        match map.get_mut(k.as_ref()) {
            Some(Value::Array(list)) => list.push(v),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, v]);
            }
            None => {
                map.insert(k.into_owned(), v);
            }
        }
    }
    Value::Object(map)
}

/// The parts of the request a filter rejected (empty: it matched).
pub fn failed_parts(f: &CompiledFilter, view: &RequestView) -> Vec<&'static str> {
    let parts = [
        ("body", &f.body, &view.body),
        ("headers", &f.headers, &view.headers),
        ("path", &f.path, &view.path),
        ("query", &f.query, &view.query),
    ];
    parts
        .into_iter()
        .filter(|(_, filter, input)| filter.as_ref().is_some_and(|f| !f.matches(input)))
        .map(|(name, _, _)| name)
        .collect()
}
