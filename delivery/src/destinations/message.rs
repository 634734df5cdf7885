//! The message a broker, queue or bus destination sends for one event: the body as
//! delivered (byte-exact) and the request's headers plus Hookyard's ids, the same
//! headers an HTTP destination gets.

use super::Delivery;

/// Headers that describe one hop of an HTTP request, not the message; they are
/// not forwarded (to an HTTP destination or into a message).
pub const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "expect",
];

/// Hookyard's own headers on every delivery: the event id (stable across retries,
/// for de-duplication), the request id, the attempt number, and the topic when
/// the request has one.
pub fn id_headers(d: &Delivery<'_>) -> Vec<(&'static str, String)> {
    let mut out = vec![
        ("x-hookyard-event-id", d.event_id.to_owned()),
        ("x-hookyard-request-id", d.request.id.clone()),
        ("x-hookyard-attempt", d.attempt_number.to_string()),
    ];
    if let Some(t) = &d.request.topic {
        out.push(("x-hookyard-topic", t.clone()));
    }
    out
}

/// The request's headers (without hop-by-hop ones and without any `x-hookyard-*`
/// a provider sent), then Hookyard's id headers.
pub fn headers(d: &Delivery<'_>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = d
        .request
        .headers
        .iter()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            !HOP_BY_HOP.contains(&k.as_str()) && !k.starts_with("x-hookyard-")
        })
        .cloned()
        .collect();
    out.extend(id_headers(d).into_iter().map(|(k, v)| (k.to_owned(), v)));
    out
}

/// The body as delivered (after the connection's transformation, if any).
pub fn body<'a>(d: &Delivery<'a>) -> &'a [u8] {
    d.request.body.as_deref().unwrap_or_default()
}

/// The message's headers as one JSON object (`{"name": "value"}`, a repeated
/// header's values joined with `, `, as filters see them), for brokers that carry
/// few attributes.
pub fn headers_object(d: &Delivery<'_>) -> serde_json::Map<String, serde_json::Value> {
    crate::route::header_object(&headers(d))
}

/// [`headers_object`] as JSON text.
pub fn headers_json(d: &Delivery<'_>) -> String {
    serde_json::Value::Object(headers_object(d)).to_string()
}

/// The request's topic, else the first of the usual "what happened" headers
/// providers send (GitHub, Shopify, generic), to name an event where a broker
/// wants a type.
pub fn topic<'a>(d: &Delivery<'a>) -> Option<&'a str> {
    if let Some(t) = &d.request.topic {
        return Some(t);
    }
    const TOPIC_HEADERS: [&str; 4] = [
        "x-github-event",
        "x-shopify-topic",
        "x-event-type",
        "x-topic",
    ];
    TOPIC_HEADERS.iter().find_map(|name| {
        d.request
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    })
}
