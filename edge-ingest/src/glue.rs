//! The Workers runtime side: the fetch handler (ingest) and the queue consumer
//! (push to delivery), for both the ingest queue and its dead-letter queue.
//!
//! Bindings and variables (see `wrangler.toml`): queue `INGEST`, R2 bucket `BODIES`,
//! secret `HOOKYARD_SOURCES` (JSON from `hookyard edge config`), `DELIVERY_URL`,
//! secret `BATCH_SECRET`, optional `RETRY_MIN_SECONDS` / `RETRY_MAX_SECONDS`.

use hookyard_core::edge::{
    encode_batches, sign_batch, BatchItem, BatchResponse, EdgeConfig, QueueMessage,
    DEFAULT_MAX_BATCH_BYTES, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use hookyard_core::envelope::Envelope;
use hookyard_core::id::{make_id, IdKind};
use hookyard_core::ingest::{split_ingest_path, IngestPath, Refusal};
use hookyard_core::verify::SignedRequest;
use worker::{
    event, Context, Date, Env, Fetch, Headers, Message, MessageBatch, MessageExt, Method,
    QueueRetryOptionsBuilder, Request, RequestInit, Response, Result,
};

use crate::accept;
use crate::push;

fn json_response(status: u16, body: String) -> Result<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json")?;
    Ok(Response::ok(body)?
        .with_status(status)
        .with_headers(headers))
}

fn refuse(r: &Refusal) -> Result<Response> {
    json_response(r.status(), r.body())
}

fn unavailable(what: &str) -> Result<Response> {
    worker::console_error!("{what}");
    json_response(
        503,
        serde_json::json!({"code": "UNAVAILABLE", "status": 503,
            "message": format!("{what}; retry")})
        .to_string(),
    )
}

/// 80 random bits for the request id (uniqueness, not secrecy, is what matters).
fn random_bits() -> u128 {
    let mut r: u128 = 0;
    for _ in 0..4 {
        r = (r << 20) | ((js_sys::Math::random() * f64::from(1u32 << 20)) as u128);
    }
    r
}

fn load_config(env: &Env) -> std::result::Result<EdgeConfig, String> {
    let text = env
        .secret("HOOKYARD_SOURCES")
        .map(|s| s.to_string())
        .or_else(|_| env.var("HOOKYARD_SOURCES").map(|v| v.to_string()))
        .map_err(|_| "HOOKYARD_SOURCES is not set (run `hookyard edge config`)".to_owned())?;
    serde_json::from_str(&text).map_err(|e| format!("HOOKYARD_SOURCES is not valid: {e}"))
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
    let config = match load_config(&env) {
        Ok(c) => c,
        Err(e) => return unavailable(&e),
    };
    let method = req.method().to_string();
    let content_length = req
        .headers()
        .get("content-length")?
        .and_then(|v| v.parse::<u64>().ok());
    let (source, rules) = match accept::admit(&config, source_name, &method, content_length) {
        Ok(s) => s,
        Err(r) => return refuse(&r),
    };
    let body = req.bytes().await?;
    let headers: Vec<(String, String)> = req.headers().entries().collect();
    let now_ms = Date::now().as_millis() as i64;
    let signed = SignedRequest {
        url: url.as_str(),
        headers: &headers,
        body: &body,
        now_secs: now_ms / 1000,
    };
    if let Err(r) = rules.admit_body(&signed) {
        return refuse(&r);
    }

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
    // The provider hears 200 only once the queue has the message.
    let sent = match env.queue("INGEST") {
        Ok(q) => q.send(text).await,
        Err(e) => Err(e),
    };
    if let Err(e) = sent {
        return unavailable(&format!("the request could not be queued ({e})"));
    }
    let (content_type, body) = accept::accepted(source, &id);
    let headers = Headers::new();
    headers.set("content-type", &content_type)?;
    headers.set("x-hookyard-request-id", &id)?;
    Ok(Response::ok(body)?.with_headers(headers))
}

fn var_u32(env: &Env, name: &str, default: u32) -> u32 {
    env.var(name)
        .ok()
        .and_then(|v| v.to_string().parse().ok())
        .unwrap_or(default)
}

/// A message that could be read, with its body back in place.
struct Ready {
    index: usize,
    item: BatchItem,
    body_ref: Option<String>,
}

#[event(queue)]
async fn queue(batch: MessageBatch<String>, env: Env, _ctx: Context) -> Result<()> {
    // The dead-letter queue's consumer is this same handler; what it pushes is
    // marked so the operator sees the main consumer gave up on it.
    let dead_lettered = batch.queue().ends_with("-dlq");
    let messages: Vec<Message<String>> = batch.messages()?;
    let now_ms = Date::now().as_millis() as i64;
    let (min, max) = (
        var_u32(&env, "RETRY_MIN_SECONDS", 5),
        var_u32(&env, "RETRY_MAX_SECONDS", 900),
    );
    let retry = |m: &Message<String>, received_at_ms: i64| {
        let delay = push::retry_delay((now_ms - received_at_ms) / 1000, min, max);
        m.retry_with_options(
            &QueueRetryOptionsBuilder::new()
                .with_delay_seconds(delay)
                .build(),
        );
    };

    let bucket = env.bucket("BODIES").ok();
    let mut ready = Vec::with_capacity(messages.len());
    for (index, m) in messages.iter().enumerate() {
        let Ok(msg) = serde_json::from_str::<QueueMessage>(m.body()) else {
            worker::console_error!("unreadable queue message {}; retrying", m.id());
            retry(m, now_ms);
            continue;
        };
        let mut envelope = msg.envelope;
        if let Some(key) = &msg.body_ref {
            let body = match &bucket {
                Some(b) => match b.get(key.clone()).execute().await {
                    Ok(Some(obj)) => match obj.body() {
                        Some(body) => body.bytes().await.ok(),
                        None => None,
                    },
                    _ => None,
                },
                None => None,
            };
            match body {
                Some(b) => envelope.body = b,
                None => {
                    worker::console_error!("body {key} not readable from R2; retrying");
                    retry(m, envelope.received_at_ms);
                    continue;
                }
            }
        }
        ready.push(Ready {
            index,
            item: BatchItem {
                envelope,
                dead_lettered,
            },
            body_ref: msg.body_ref,
        });
    }
    if ready.is_empty() {
        return Ok(());
    }

    // Pushed in batches that fit delivery's `edge.max_batch_bytes` (from
    // `hookyard edge config`); a batch that fails only retries its own messages.
    let max_batch_bytes = load_config(&env)
        .map(|c| c.max_batch_bytes)
        .unwrap_or(DEFAULT_MAX_BATCH_BYTES);
    let max_batch_bytes = usize::try_from(max_batch_bytes).unwrap_or(usize::MAX);
    let batches = match encode_batches(ready.iter().map(|r| &r.item), max_batch_bytes) {
        Ok(b) => b,
        Err(e) => {
            worker::console_error!("cannot encode the batch: {e}; retrying {}", ready.len());
            for r in &ready {
                retry(&messages[r.index], r.item.envelope.received_at_ms);
            }
            return Ok(());
        }
    };
    for encoded in batches {
        let part = &ready[encoded.items.clone()];
        let outcome = post_batch(&env, encoded.body).await;
        for r in part {
            let m = &messages[r.index];
            let stored = match &outcome {
                Ok(resp) => push::stored_ids(resp)
                    .get(r.item.envelope.id.as_str())
                    .copied()
                    .unwrap_or(false),
                Err(_) => false,
            };
            if stored {
                m.ack();
                if let (Some(key), Some(b)) = (&r.body_ref, &bucket) {
                    // A leftover object costs storage only; the webhook is stored.
                    if let Err(e) = b.delete(key.clone()).await {
                        worker::console_warn!("could not delete {key} from R2: {e}");
                    }
                }
            } else {
                retry(m, r.item.envelope.received_at_ms);
            }
        }
        if let Err(e) = outcome {
            worker::console_error!(
                "push from {} to delivery failed: {e}; retrying {}",
                batch.queue(),
                part.len()
            );
        }
    }
    Ok(())
}

async fn post_batch(env: &Env, body: String) -> std::result::Result<BatchResponse, String> {
    let url = env
        .var("DELIVERY_URL")
        .map_err(|_| "DELIVERY_URL is not set".to_owned())?
        .to_string();
    let secret = env
        .secret("BATCH_SECRET")
        .map(|s| s.to_string())
        .or_else(|_| env.var("BATCH_SECRET").map(|v| v.to_string()))
        .map_err(|_| "BATCH_SECRET is not set".to_owned())?;
    let ts = (Date::now().as_millis() / 1000) as i64;
    let headers = Headers::new();
    let set = |k: &str, v: &str| headers.set(k, v).map_err(|e| e.to_string());
    set("content-type", "application/json")?;
    set(TIMESTAMP_HEADER, &ts.to_string())?;
    set(SIGNATURE_HEADER, &sign_batch(&secret, ts, body.as_bytes()))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(body.into()));
    let endpoint = format!("{}/edge/batch", url.trim_end_matches('/'));
    let req = Request::new_with_init(&endpoint, &init).map_err(|e| e.to_string())?;
    let mut resp = Fetch::Request(req)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status_code();
    let text = resp.text().await.map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("delivery answered {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("unreadable answer from delivery: {e}"))
}
