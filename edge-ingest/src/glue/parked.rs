//! Parked webhooks (see `crate::parking`): written to R2 by the dead-letter
//! queue's consumer, pushed to delivery again by the scheduled handler (and by
//! that consumer once delivery takes its pushes), deleted once stored.

use hookyard_core::edge::{BatchItem, QueueMessage};
use worker::{
    event, Date, Env, Fetch, Headers, Message, MessageExt, Method, Request, RequestInit,
    ScheduleContext, ScheduledEvent,
};

use super::handover::{batch_limit, hand_over};
use super::var_u32;
use crate::parking::{
    alert_due, parked_alert, parked_key, ALERT_STATE_KEY, DEFAULT_ALERT_INTERVAL_SECONDS,
    PARKED_PREFIX,
};
use crate::push::{push_weight, READ_BUDGET_BYTES};

/// Parks the messages at `indexes` (acking each once R2 has it; one R2 refuses
/// is retried by the queue) and raises the alert.
pub async fn park(env: &Env, queue: &str, messages: &[Message<String>], indexes: &[usize]) {
    if indexes.is_empty() {
        return;
    }
    let bucket = match env.bucket("BODIES") {
        Ok(b) => Some(b),
        Err(e) => {
            worker::console_error!("cannot park: no R2 bucket BODIES ({e})");
            None
        }
    };
    let mut parked = Vec::new();
    let mut oldest = i64::MAX;
    for &i in indexes {
        let m = &messages[i];
        let (id, received_at) = match serde_json::from_str::<QueueMessage>(m.body()) {
            Ok(q) => (q.envelope.id, q.envelope.received_at_ms),
            // Kept under the queue's own message id for a person to look at.
            Err(_) => (
                format!("unreadable-{}", m.id()),
                Date::now().as_millis() as i64,
            ),
        };
        let put = match &bucket {
            Some(b) => b
                .put(parked_key(&id), m.body().clone())
                .execute()
                .await
                .map(|_| ()),
            None => Err(worker::Error::RustError("no bucket".into())),
        };
        match put {
            Ok(()) => {
                m.ack();
                oldest = oldest.min(received_at);
                parked.push(id);
            }
            Err(e) => {
                worker::console_error!("could not park {id} in R2 ({e}); the queue retries it");
                m.retry();
            }
        }
    }
    if parked.is_empty() {
        return;
    }
    worker::console_error!(
        "parked {} webhooks from {queue} in R2 under {PARKED_PREFIX}: delivery did not take them",
        parked.len()
    );
    let Some(bucket) = bucket else {
        return;
    };
    let now = Date::now().as_millis() as i64;
    let interval_ms = i64::from(var_u32(
        env,
        "PARKING_ALERT_INTERVAL_SECONDS",
        DEFAULT_ALERT_INTERVAL_SECONDS,
    )) * 1000;
    if !alert_due(last_alert_ms(&bucket).await, now, interval_ms) {
        return;
    }
    // Recorded before sending: two runs at once may both alert, but a failing
    // alert endpoint is not retried on every run.
    if let Err(e) = bucket.put(ALERT_STATE_KEY, now.to_string()).execute().await {
        worker::console_warn!("could not record the parking alert's time: {e}");
    }
    let ids: Vec<&str> = parked.iter().map(String::as_str).collect();
    alert(env, parked_alert(queue, &ids, oldest)).await;
}

async fn last_alert_ms(bucket: &worker::Bucket) -> Option<i64> {
    let obj = bucket.get(ALERT_STATE_KEY).execute().await.ok()??;
    obj.body()?.text().await.ok()?.trim().parse().ok()
}

/// POSTs `body` to `ALERT_WEBHOOK_URL`, if set.
async fn alert(env: &Env, body: String) {
    let Ok(url) = env.var("ALERT_WEBHOOK_URL").map(|v| v.to_string()) else {
        return;
    };
    if url.is_empty() {
        return;
    }
    let headers = Headers::new();
    let sent = async {
        headers.set("content-type", "application/json")?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(body.into()));
        let resp = Fetch::Request(Request::new_with_init(&url, &init)?)
            .send()
            .await?;
        Ok::<_, worker::Error>(resp.status_code())
    };
    match sent.await {
        Ok(s) if (200..300).contains(&s) => {}
        Ok(s) => worker::console_error!("the parking alert to ALERT_WEBHOOK_URL got {s}"),
        Err(e) => worker::console_error!("the parking alert to ALERT_WEBHOOK_URL failed: {e}"),
    }
}

/// One parked webhook, read back.
struct Parked {
    key: String,
    body_ref: Option<String>,
    item: BatchItem,
}

/// Pushes parked webhooks to delivery until none are left, delivery fails, or
/// `PARKED_PER_RUN` were tried; deletes each once stored.
pub async fn push_parked(env: &Env) {
    let Ok(bucket) = env.bucket("BODIES") else {
        return;
    };
    let limit = batch_limit(env).await;
    let mut budget = var_u32(env, "PARKED_PER_RUN", 1000) as usize;
    let mut pushed = 0usize;
    let mut cursor: Option<String> = None;
    while budget > 0 {
        let mut list = bucket.list().prefix(PARKED_PREFIX).limit(100);
        if let Some(c) = cursor.take() {
            list = list.cursor(c);
        }
        let page = match list.execute().await {
            Ok(p) => p,
            Err(e) => {
                worker::console_error!("cannot list parked webhooks: {e}");
                return;
            }
        };
        let mut group: Vec<Parked> = Vec::new();
        let mut weight = 0;
        for obj in page.objects() {
            if budget == 0 {
                break;
            }
            budget -= 1;
            let key = obj.key();
            let Some(p) = read_parked(&bucket, key).await else {
                continue;
            };
            let w = push_weight(&p.item.envelope, p.item.envelope.body.len());
            if weight + w > READ_BUDGET_BYTES && !group.is_empty() {
                match push_group(env, &bucket, &mut group, limit).await {
                    Some(n) => pushed += n,
                    None => return,
                }
                weight = 0;
            }
            weight += w;
            group.push(p);
        }
        match push_group(env, &bucket, &mut group, limit).await {
            Some(n) => pushed += n,
            None => return,
        }
        match (page.truncated(), page.cursor()) {
            (true, Some(c)) => cursor = Some(c),
            _ => break,
        }
    }
    if pushed > 0 {
        worker::console_log!("pushed {pushed} parked webhooks to delivery");
    }
}

async fn read_parked(bucket: &worker::Bucket, key: String) -> Option<Parked> {
    let obj = bucket.get(key.clone()).execute().await.ok()??;
    let text = obj.body()?.text().await.ok()?;
    let msg: QueueMessage = match serde_json::from_str(&text) {
        Ok(m) => m,
        Err(e) => {
            worker::console_error!("parked {key} is not a queue message ({e}); left for a person");
            return None;
        }
    };
    let mut envelope = msg.envelope;
    if let Some(body_key) = &msg.body_ref {
        let body = bucket.get(body_key.clone()).execute().await.ok()??;
        envelope.body = body.body()?.bytes().await.ok()?;
    }
    Some(Parked {
        key,
        body_ref: msg.body_ref,
        item: BatchItem {
            envelope,
            dead_lettered: true,
        },
    })
}

/// Pushes a group; `None` when delivery took none of it (still down: stop).
async fn push_group(
    env: &Env,
    bucket: &worker::Bucket,
    group: &mut Vec<Parked>,
    limit: usize,
) -> Option<usize> {
    if group.is_empty() {
        return Some(0);
    }
    let items: Vec<&BatchItem> = group.iter().map(|p| &p.item).collect();
    let (stored, failure) = hand_over(env, &items, limit).await;
    if let Some(e) = &failure {
        worker::console_error!("pushing parked webhooks to delivery failed: {e}");
    }
    let mut n = 0;
    for (p, stored) in group.drain(..).zip(stored) {
        if !stored {
            continue;
        }
        n += 1;
        for key in std::iter::once(&p.key).chain(p.body_ref.as_ref()) {
            if let Err(e) = bucket.delete(key.clone()).await {
                worker::console_warn!("could not delete {key} from R2: {e}");
            }
        }
    }
    (n > 0 || failure.is_none()).then_some(n)
}

#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    push_parked(&env).await;
}
