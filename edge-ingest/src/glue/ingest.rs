//! The fetch handler: admit, verify, queue, answer. The provider hears 200 only
//! once the queue has the message.

use hookyard_core::envelope::Envelope;
use hookyard_core::id::{make_id, IdKind};
use hookyard_core::ingest::{split_ingest_path, IngestPath, Refusal};
use worker::{event, Context, Date, Env, Headers, Request, Response, Result};

use super::{config, json_response, unavailable};
use crate::accept::{self, newer_config_may_admit, Incoming};

fn refuse(r: &Refusal) -> Result<Response> {
    json_response(r.status(), r.body())
}

/// 80 random bits for the request id (uniqueness, not secrecy, is what matters).
fn random_bits() -> u128 {
    let mut r: u128 = 0;
    for _ in 0..4 {
        r = (r << 20) | ((js_sys::Math::random() * f64::from(1u32 << 20)) as u128);
    }
    r
}

#[event(fetch)]
async fn fetch(mut req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let url = req.url()?;
    // `url.path()` is what the URL parser made of the request line: dot segments
    // are resolved already, but encoded backslashes or double-encoded dots are
    // not, and the core rule refuses those.
    let IngestPath {
        source: source_name,
        forwarded: path,
    } = match split_ingest_path(url.path()) {
        Ok(p) => p,
        Err(r) => return refuse(&r),
    };
    let mut config = match config::current(&env, false).await {
        Ok(c) => c,
        Err(e) => return unavailable(&e),
    };
    let method = req.method().to_string();
    let content_length = req
        .headers()
        .get("content-length")?
        .and_then(|v| v.parse::<u64>().ok());
    // What can be refused before the body is read, is; a source the copy does
    // not know is looked up again first (it may be new).
    if let Err(r) = accept::admit(&config, source_name, &method, content_length) {
        if !newer_config_may_admit(&r) || config::is_pinned(&env) {
            return refuse(&r);
        }
        config = match config::current(&env, true).await {
            Ok(c) => c,
            Err(_) => return refuse(&r),
        };
        if let Err(r) = accept::admit(&config, source_name, &method, content_length) {
            return refuse(&r);
        }
    }
    let body = req.bytes().await?;
    let headers: Vec<(String, String)> = req.headers().entries().collect();
    let now_ms = Date::now().as_millis() as i64;
    let incoming = Incoming {
        source_name,
        method: &method,
        content_length,
        url: url.as_str(),
        headers: &headers,
        body: &body,
        now_ms,
    };
    let source = match incoming.admit(&config) {
        Ok(s) => s.clone(),
        Err(r) if newer_config_may_admit(&r) && !config::is_pinned(&env) => {
            match config::current(&env, true).await {
                Ok(newer) => match incoming.admit(&newer) {
                    Ok(s) => s.clone(),
                    Err(r) => return refuse(&r),
                },
                Err(_) => return refuse(&r),
            }
        }
        Err(r) => return refuse(&r),
    };

    let envelope = Envelope {
        id: make_id(IdKind::Request, now_ms as u64, random_bits()),
        source: source_name.to_owned(),
        received_at_ms: now_ms,
        method,
        path: path.to_owned(),
        query: url.query().unwrap_or("").to_owned(),
        headers,
        body,
    };
    let id = envelope.id.clone();
    let accept::Outgoing { text, spill } = match accept::queue_message(envelope) {
        Ok(m) => m,
        Err(e) => return unavailable(&format!("could not encode the request: {e}")),
    };
    if let Some((key, body)) = spill {
        let stored = match env.bucket("BODIES") {
            Ok(bucket) => bucket.put(key, body).execute().await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = stored {
            return unavailable(&format!("the body could not be stored ({e})"));
        }
    }
    let sent = match env.queue("INGEST") {
        Ok(q) => q.send(text).await,
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        return unavailable(&format!("the request could not be queued ({e})"));
    }
    let (content_type, body) = accept::accepted(&source, &id);
    let headers = Headers::new();
    headers.set("content-type", &content_type)?;
    headers.set("x-hookyard-request-id", &id)?;
    Ok(Response::ok(body)?.with_headers(headers))
}
