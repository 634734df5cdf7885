//! Handing envelopes to delivery: in batches that fit its `edge.max_batch_bytes`,
//! each item reported stored or not, for the queue consumer and for parked
//! webhooks alike.

use hookyard_core::edge::{encode_batches, BatchItem, DEFAULT_MAX_BATCH_BYTES};
use worker::Env;

use super::{config, delivery};
use crate::push;

/// The largest batch delivery reads, as its configuration says.
pub async fn batch_limit(env: &Env) -> usize {
    let from_config = match config::held(env) {
        Some(c) => Some(c.max_batch_bytes),
        None => config::current(env, false)
            .await
            .ok()
            .map(|c| c.max_batch_bytes),
    };
    usize::try_from(from_config.unwrap_or(DEFAULT_MAX_BATCH_BYTES)).unwrap_or(usize::MAX)
}

/// Pushes `items`; for each, whether delivery stored it, and why a batch failed
/// as a whole (delivery down, refused), for the log.
pub async fn hand_over(
    env: &Env,
    items: &[&BatchItem],
    limit: usize,
) -> (Vec<bool>, Option<String>) {
    let mut stored = vec![false; items.len()];
    let batches = match encode_batches(items.iter().copied(), limit) {
        Ok(b) => b,
        Err(e) => return (stored, Some(format!("cannot encode the batch: {e}"))),
    };
    let mut failure = None;
    for encoded in batches {
        match delivery::post_batch(env, encoded.body).await {
            Ok(resp) => {
                let ids = push::stored_ids(&resp);
                for i in encoded.items {
                    stored[i] = ids
                        .get(items[i].envelope.id.as_str())
                        .copied()
                        .unwrap_or(false);
                }
            }
            Err(e) => failure = Some(e),
        }
    }
    (stored, failure)
}
