//! The queue consumer, for the ingest queue and its dead-letter queue: reads
//! messages (large bodies from R2) a byte budget at a time, hands them to
//! delivery, acks what delivery stored. The ingest queue retries the rest with a
//! delay; the dead-letter queue parks it (`parked`), so nothing is ever dropped.

use hookyard_core::edge::{BatchItem, QueueMessage};
use worker::{
    event, Bucket, Context, Date, Env, Message, MessageBatch, MessageExt, QueueRetryOptionsBuilder,
    Result,
};

use super::handover::{batch_limit, hand_over};
use super::{parked, var_u32};
use crate::push::{self, push_weight, READ_BUDGET_BYTES};

/// A message read, its body back in place.
struct Ready {
    index: usize,
    item: BatchItem,
    body_ref: Option<String>,
}

/// What one run of the consumer does with its messages.
struct Run<'a> {
    env: &'a Env,
    queue: String,
    dead_letter: bool,
    messages: &'a [Message<String>],
    bucket: Option<Bucket>,
    limit: usize,
    now_ms: i64,
    retry_bounds: (u32, u32),
    /// Indexes of messages to park (dead-letter queue only).
    to_park: Vec<usize>,
    stored: usize,
}

impl Run<'_> {
    fn retry(&self, m: &Message<String>, received_at_ms: i64) {
        let (min, max) = self.retry_bounds;
        let delay = push::retry_delay((self.now_ms - received_at_ms) / 1000, min, max);
        m.retry_with_options(
            &QueueRetryOptionsBuilder::new()
                .with_delay_seconds(delay)
                .build(),
        );
    }

    /// Not handed over this time: retried, or parked on the dead-letter queue.
    fn not_now(&mut self, index: usize, received_at_ms: i64) {
        if self.dead_letter {
            self.to_park.push(index);
        } else {
            self.retry(&self.messages[index], received_at_ms);
        }
    }

    async fn flush(&mut self, ready: &mut Vec<Ready>) {
        if ready.is_empty() {
            return;
        }
        let items: Vec<&BatchItem> = ready.iter().map(|r| &r.item).collect();
        let (stored, failure) = hand_over(self.env, &items, self.limit).await;
        if let Some(e) = failure {
            worker::console_error!("push from {} to delivery failed: {e}", self.queue);
        }
        for (r, stored) in ready.drain(..).zip(stored) {
            if !stored {
                self.not_now(r.index, r.item.envelope.received_at_ms);
                continue;
            }
            self.stored += 1;
            self.messages[r.index].ack();
            if let (Some(key), Some(b)) = (&r.body_ref, &self.bucket) {
                // A leftover object costs storage only; the webhook is stored.
                if let Err(e) = b.delete(key.clone()).await {
                    worker::console_warn!("could not delete {key} from R2: {e}");
                }
            }
        }
    }
}

#[event(queue)]
async fn queue(batch: MessageBatch<String>, env: Env, _ctx: Context) -> Result<()> {
    let messages: Vec<Message<String>> = batch.messages()?;
    let queue = batch.queue();
    let mut run = Run {
        env: &env,
        dead_letter: queue.ends_with("-dlq"),
        queue,
        messages: &messages,
        bucket: env.bucket("BODIES").ok(),
        limit: batch_limit(&env).await,
        now_ms: Date::now().as_millis() as i64,
        retry_bounds: (
            var_u32(&env, "RETRY_MIN_SECONDS", 5),
            var_u32(&env, "RETRY_MAX_SECONDS", 900),
        ),
        to_park: Vec::new(),
        stored: 0,
    };

    let mut ready: Vec<Ready> = Vec::new();
    let mut weight = 0;
    for (index, m) in messages.iter().enumerate() {
        let Ok(msg) = serde_json::from_str::<QueueMessage>(m.body()) else {
            // Not ours to read; parked on the dead-letter queue all the same,
            // for a person to look at.
            worker::console_error!("unreadable queue message {}", m.id());
            run.not_now(index, run.now_ms);
            continue;
        };
        let mut envelope = msg.envelope;
        // A large body is in R2: its size decides whether to push what is held
        // first, so that at most a budget's worth of bodies is in memory.
        let body = match &msg.body_ref {
            Some(key) => match run.bucket.as_ref() {
                Some(b) => b.get(key).execute().await.ok().flatten(),
                None => None,
            },
            None => None,
        };
        let body_len = match (&msg.body_ref, &body) {
            (None, _) => envelope.body.len(),
            (Some(_), Some(obj)) => obj.size() as usize,
            (Some(key), None) => {
                worker::console_error!("body {key} of {} not in R2", envelope.id);
                run.not_now(index, envelope.received_at_ms);
                continue;
            }
        };
        let w = push_weight(&envelope, body_len);
        if weight + w > READ_BUDGET_BYTES {
            run.flush(&mut ready).await;
            weight = 0;
        }
        if let (Some(key), Some(obj)) = (&msg.body_ref, body) {
            match obj.body() {
                Some(b) => match b.bytes().await {
                    Ok(bytes) => envelope.body = bytes,
                    Err(e) => {
                        worker::console_error!("body {key} not readable from R2: {e}");
                        run.not_now(index, envelope.received_at_ms);
                        continue;
                    }
                },
                None => {
                    worker::console_error!("body {key} has no content in R2");
                    run.not_now(index, envelope.received_at_ms);
                    continue;
                }
            }
        }
        weight += w;
        ready.push(Ready {
            index,
            item: BatchItem {
                envelope,
                dead_lettered: run.dead_letter,
            },
            body_ref: msg.body_ref,
        });
    }
    run.flush(&mut ready).await;

    if run.dead_letter {
        let parked_any = !run.to_park.is_empty();
        parked::park(&env, &run.queue, &messages, &run.to_park).await;
        // Delivery took what this run pushed: it is back, and what earlier runs
        // parked can go too.
        if run.stored > 0 && !parked_any {
            parked::push_parked(&env).await;
        }
    }
    Ok(())
}
