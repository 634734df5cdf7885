//! Queries over events and requests as Hookdeck's API takes them, in list query
//! strings and in bulk retry bodies alike: one value or a list, numbers and times
//! with operators (`gt`, `gte`, `lt`, `lte`, `any`), and filter-language patterns
//! on content. The same [`EventQuery`] filters `GET /events` and selects what a
//! bulk retry retries, so a list and a bulk retry of its filters agree.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// One value or a list (`status=FAILED`, or `status=FAILED&status=HOLD`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    pub fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::One(v) => vec![v.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// The values of an optional list filter (empty: no filter).
pub fn values<T: Clone>(v: &Option<OneOrMany<T>>) -> Vec<T> {
    v.as_ref().map(OneOrMany::to_vec).unwrap_or_default()
}

/// An integer given as a JSON number or as text (a query string carries only text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Int(pub i64);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Number(n) => n
                .as_i64()
                .map(Int)
                .ok_or_else(|| D::Error::custom(format!("{n} is not a whole number"))),
            Value::String(s) => s
                .trim()
                .parse()
                .map(Int)
                .map_err(|_| D::Error::custom(format!("{s:?} is not a whole number"))),
            other => Err(D::Error::custom(format!(
                "expected a whole number, not {other}"
            ))),
        }
    }
}

/// `true` or `false`, as JSON or as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Bool(b) => Ok(Flag(b)),
            Value::String(s) if s == "true" => Ok(Flag(true)),
            Value::String(s) if s == "false" => Ok(Flag(false)),
            other => Err(D::Error::custom(format!(
                "expected true or false, not {other}"
            ))),
        }
    }
}

/// Hookdeck's comparison operators. `le` is taken as `lte` (Hookdeck's schema lists
/// `le` beside `lte`); `any: true` means "has a value", `any: false` "has none".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "T: Deserialize<'de>"))]
pub struct Operators<T> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gt: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gte: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lt: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "le")]
    pub lte: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any: Option<Flag>,
}

/// What a number or time column must satisfy; every part given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bounds {
    /// One of these values (empty: any).
    pub one_of: Vec<i64>,
    pub gt: Option<i64>,
    pub gte: Option<i64>,
    pub lt: Option<i64>,
    pub lte: Option<i64>,
    /// `Some(true)`: the column has a value; `Some(false)`: it is null.
    pub set: Option<bool>,
}

impl Bounds {
    pub fn is_empty(&self) -> bool {
        *self == Bounds::default()
    }

    fn from_operators(o: &Operators<i64>) -> Self {
        Bounds {
            one_of: Vec::new(),
            gt: o.gt,
            gte: o.gte,
            lt: o.lt,
            lte: o.lte,
            set: o.any.map(|f| f.0),
        }
    }
}

/// A number filter: a value, a list, or operators (`response_status[gte]=500`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum NumberMatch {
    One(Int),
    Many(Vec<Int>),
    Operators(Operators<Int>),
}

impl<'de> Deserialize<'de> for NumberMatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let r = match v {
            Value::Array(_) => serde_json::from_value(v).map(NumberMatch::Many),
            Value::Object(_) => serde_json::from_value(v).map(NumberMatch::Operators),
            _ => serde_json::from_value(v).map(NumberMatch::One),
        };
        r.map_err(D::Error::custom)
    }
}

impl NumberMatch {
    pub fn bounds(&self) -> Bounds {
        match self {
            NumberMatch::One(n) => Bounds {
                one_of: vec![n.0],
                ..Bounds::default()
            },
            NumberMatch::Many(list) => Bounds {
                one_of: list.iter().map(|n| n.0).collect(),
                ..Bounds::default()
            },
            NumberMatch::Operators(o) => Bounds::from_operators(&Operators {
                gt: o.gt.map(|n| n.0),
                gte: o.gte.map(|n| n.0),
                lt: o.lt.map(|n| n.0),
                lte: o.lte.map(|n| n.0),
                any: o.any,
            }),
        }
    }
}

/// A time filter: an exact RFC 3339 time, or operators on times
/// (`created_at[gte]=2026-01-01T00:00:00Z`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum TimeMatch {
    At(String),
    Operators(Operators<String>),
}

impl<'de> Deserialize<'de> for TimeMatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let r = match v {
            Value::Object(_) => serde_json::from_value(v).map(TimeMatch::Operators),
            _ => serde_json::from_value(v).map(TimeMatch::At),
        };
        r.map_err(D::Error::custom)
    }
}

impl TimeMatch {
    /// The bounds in Unix ms; the error names the operator whose time is invalid.
    pub fn bounds(&self) -> Result<Bounds, String> {
        let ms = |op: &str, t: &Option<String>| -> Result<Option<i64>, String> {
            t.as_deref()
                .map(|t| {
                    chrono::DateTime::parse_from_rfc3339(t)
                        .map(|t| t.timestamp_millis())
                        .map_err(|_| {
                            let at = if op.is_empty() {
                                String::new()
                            } else {
                                format!(".{op}")
                            };
                            format!(
                                "{at}: {t:?} is not an RFC 3339 time (e.g. 2026-01-31T12:00:00Z)"
                            )
                        })
                })
                .transpose()
        };
        Ok(match self {
            TimeMatch::At(t) => Bounds {
                one_of: ms("", &Some(t.clone()))?.into_iter().collect(),
                ..Bounds::default()
            },
            TimeMatch::Operators(o) => Bounds::from_operators(&Operators {
                gt: ms("gt", &o.gt)?,
                gte: ms("gte", &o.gte)?,
                lt: ms("lt", &o.lt)?,
                lte: ms("lte", &o.lte)?,
                any: o.any,
            }),
        })
    }
}

/// Which events: Hookdeck's event query (`GET /events`'s filters, and the `query`
/// of a bulk retry), with `request_id` added. `body`, `headers` and
/// `parsed_query` are filter-language patterns (JSON; in a query string, JSON
/// text); `path` is a pattern, or text the path must contain; `search_term` is
/// text the body, headers, path or query must contain.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// The request's topic (`invoice.created`); one or several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Vec<String>>)]
    pub topic: Option<OneOrMany<String>>,
    /// Event ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Vec<String>>)]
    pub id: Option<OneOrMany<String>>,
    /// SCHEDULED, QUEUED, HOLD, SUCCESSFUL or FAILED; one or several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Vec<String>>)]
    pub status: Option<OneOrMany<String>>,
    /// Connection ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Vec<String>>)]
    pub webhook_id: Option<OneOrMany<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Vec<String>>)]
    pub source_id: Option<OneOrMany<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Vec<String>>)]
    pub destination_id: Option<OneOrMany<String>>,
    /// Hookyard's addition: events of these requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Vec<String>>)]
    pub request_id: Option<OneOrMany<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Vec<String>>)]
    pub issue_id: Option<OneOrMany<String>>,
    /// Events a bulk retry queued (or, for a bulk retry of requests, created) last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Vec<String>>)]
    pub bulk_retry_id: Option<OneOrMany<String>>,
    /// Number of attempts: a number, or operators (`attempts[gte]=3`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Object>, style = DeepObject, explode)]
    pub attempts: Option<NumberMatch>,
    /// Last response status: a status, a list, or operators
    /// (`response_status[gte]=500&response_status[lte]=599`; `[any]=false` for none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Object>, style = DeepObject, explode)]
    pub response_status: Option<NumberMatch>,
    /// Last error code; one or several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Vec<String>>)]
    pub error_code: Option<OneOrMany<String>>,
    /// RFC 3339 time, or operators (`created_at[gte]=…&created_at[lt]=…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Object>, style = DeepObject, explode)]
    pub created_at: Option<TimeMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Object>, style = DeepObject, explode)]
    pub successful_at: Option<TimeMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Object>, style = DeepObject, explode)]
    pub last_attempt_at: Option<TimeMatch>,
    /// Text (3 characters or more) the body, headers, path or query contains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_term: Option<String>,
    /// Filter-language pattern on the body (JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>)]
    pub body: Option<Value>,
    /// Filter-language pattern on the headers (JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>)]
    pub headers: Option<Value>,
    /// Text the path contains, or a filter-language pattern (JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>)]
    pub path: Option<Value>,
    /// Filter-language pattern on the parsed query string (JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>)]
    pub parsed_query: Option<Value>,
}

/// Which requests: Hookdeck's request query (`GET /requests`'s filters).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RequestQuery {
    /// The request's topic (`invoice.created`); one or several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Vec<String>>)]
    pub topic: Option<OneOrMany<String>>,
    /// Request ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Vec<String>>)]
    pub id: Option<OneOrMany<String>>,
    /// `accepted` or `rejected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Why a request was rejected; one or several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Vec<String>>)]
    pub rejection_cause: Option<OneOrMany<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Vec<String>>)]
    pub source_id: Option<OneOrMany<String>>,
    /// Whether its signature was verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<bool>)]
    pub verified: Option<Flag>,
    /// Number of events it made: a number, a list or operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Object>, style = DeepObject, explode)]
    pub events_count: Option<NumberMatch>,
    /// Number of ignored events it made: a number, a list or operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Object>, style = DeepObject, explode)]
    pub ignored_count: Option<NumberMatch>,
    /// When it was received: RFC 3339 time or operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<Object>, style = DeepObject, explode)]
    pub ingested_at: Option<TimeMatch>,
    /// Text (3 characters or more) the body, headers, path or query contains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_term: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>)]
    pub body: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>)]
    pub headers: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>)]
    pub path: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(value_type = Option<String>)]
    pub parsed_query: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_come_as_values_lists_or_operators_in_json_or_text() {
        let m: NumberMatch = serde_json::from_value(json!("500")).unwrap();
        assert_eq!(m.bounds().one_of, vec![500]);
        let m: NumberMatch = serde_json::from_value(json!(["500", 502])).unwrap();
        assert_eq!(m.bounds().one_of, vec![500, 502]);
        let m: NumberMatch =
            serde_json::from_value(json!({"gte": "500", "lt": 600, "any": "true"})).unwrap();
        let b = m.bounds();
        assert_eq!((b.gte, b.lt, b.set), (Some(500), Some(600), Some(true)));
        let e = serde_json::from_value::<NumberMatch>(json!({"between": 1})).unwrap_err();
        assert!(e.to_string().contains("unknown field `between`"), "{e}");
        let e = serde_json::from_value::<NumberMatch>(json!("five")).unwrap_err();
        assert!(e.to_string().contains("not a whole number"), "{e}");
    }

    #[test]
    fn times_are_rfc3339_and_a_bad_one_is_named() {
        let m: TimeMatch = serde_json::from_value(
            json!({"gte": "2026-01-01T00:00:00Z", "le": "2026-01-02T00:00:00Z"}),
        )
        .unwrap();
        let b = m.bounds().unwrap();
        assert_eq!(b.gte, Some(1_767_225_600_000));
        assert_eq!(b.lte, Some(1_767_312_000_000));
        let m: TimeMatch = serde_json::from_value(json!({"lt": "yesterday"})).unwrap();
        assert!(m.bounds().unwrap_err().starts_with(".lt:"));
    }

    #[test]
    fn a_stored_query_of_the_earlier_shape_still_reads() {
        let q: EventQuery = serde_json::from_value(json!({
            "webhook_id": "web_1",
            "response_status": {"gte": 500, "lte": 599},
            "created_at": {"gte": "2026-01-01T00:00:00Z"}
        }))
        .unwrap();
        assert_eq!(values(&q.webhook_id), vec!["web_1".to_owned()]);
        let back = serde_json::to_value(&q).unwrap();
        assert_eq!(back["response_status"], json!({"gte": 500, "lte": 599}));
    }
}
