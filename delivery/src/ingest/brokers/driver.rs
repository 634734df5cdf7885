//! One consumer's loop, the same for every broker: connect (again, with
//! backoff), receive a batch, commit each message as a request, then
//! acknowledge what was committed and give back what was not.
//!
//! The acknowledgement comes only after the commit, so a crash between the two
//! redelivers a message that is already stored; its dedup key (the broker's
//! message id) makes the second copy answer with the first request's id
//! instead of storing it again.

use std::sync::Arc;
use std::time::Duration;

use hookyard_core::envelope::Envelope;
use hookyard_core::id::IdKind;

use super::health::Health;
use super::{connect, in_time, AckToken, BrokerError, BrokerLimits, BrokerMessage, Consumer};
use crate::clock::{new_id, now_ms};
use crate::ingest::committer::Committer;
use crate::model::{check_topic, NewRequest, RejectionCause, Source};
use crate::shutdown::Shutdown;

/// The most messages taken from the broker at once (and committed together).
pub(super) const BATCH: usize = 100;
/// The first wait before connecting again; doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(15);

/// On a message rejected as too large (stored without its body): its size.
pub const DROPPED_BODY_HEADER: &str = "x-hookyard-dropped-body-bytes";

/// One consumer of one broker source.
pub struct Driver {
    pub source: Arc<Source>,
    pub index: u16,
    pub committer: Committer,
    pub health: Arc<Health>,
    pub limits: BrokerLimits,
    /// `ingest.max_body_bytes`, for sources that set no `max_body_bytes`.
    pub max_body_bytes: usize,
}

impl Driver {
    /// Consumes until `stop` fires (the source was disabled, changed or
    /// deleted, or the gateway stops). A batch being committed is finished and
    /// acknowledged first.
    pub async fn run(self, mut stop: Shutdown) {
        let mut backoff = FIRST_BACKOFF;
        while !stop.is_triggered() {
            let connected = tokio::select! {
                c = connect(&self.source, self.index, &self.limits) => c,
                _ = stop.recv() => return,
            };
            let error = match connected {
                Ok(mut consumer) => {
                    self.health.up(&self.source.id).await;
                    backoff = FIRST_BACKOFF;
                    crate::telemetry::broker_consumer_connected(&self.source.id, true);
                    let consumed = self.consume(consumer.as_mut(), &mut stop).await;
                    crate::telemetry::broker_consumer_connected(&self.source.id, false);
                    match consumed {
                        Ok(()) => return,
                        Err(e) => e,
                    }
                }
                Err(e) => e,
            };
            tracing::warn!(source = %self.source.name, consumer = self.index,
                code = error.code, error = %error, "broker source cannot be consumed; connecting again");
            self.health.down(&self.source.id, &error).await;
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = stop.recv() => return,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Receives and commits until `stop` (`Ok`) or the broker fails (`Err`).
    async fn consume(
        &self,
        consumer: &mut dyn Consumer,
        stop: &mut Shutdown,
    ) -> Result<(), BrokerError> {
        loop {
            let batch = tokio::select! {
                b = consumer.receive(BATCH) => b?,
                _ = stop.recv() => return Ok(()),
            };
            if batch.is_empty() {
                continue;
            }
            let (messages, tokens): (Vec<BrokerMessage>, Vec<AckToken>) = batch.into_iter().unzip();
            let commits = messages.into_iter().map(|m| {
                let req = self.request(m);
                let committer = self.committer.clone();
                async move { committer.commit(req).await }
            });
            let results = futures::future::join_all(commits).await;
            let (mut done, mut failed) = (Vec::new(), Vec::new());
            let mut first_error = None;
            for (token, result) in tokens.into_iter().zip(results) {
                match result {
                    Ok(_) => done.push(token),
                    Err(e) => {
                        first_error.get_or_insert(e);
                        failed.push(token);
                    }
                }
            }
            crate::telemetry::broker_messages(&self.source.id, done.len(), failed.len());
            if !done.is_empty() {
                self.answered("acknowledging", consumer.ack(done)).await?;
            }
            if let Some(e) = first_error {
                tracing::error!(source = %self.source.name, error = %e, failed = failed.len(),
                    "broker messages not stored; the broker will deliver them again");
                self.answered("giving back", consumer.nack(failed)).await?;
                // The store is failing: give it a moment rather than spin.
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.recv() => return Ok(()),
                }
            }
        }
    }

    /// A call to the broker that is not a long poll, within `limits.timeout`.
    /// A client may hold an acknowledgement until its connection comes back
    /// (NATS flushes only once reconnected), so without a bound a broker gone
    /// mid-acknowledgement would stall the consumer with no issue opened. The
    /// messages left unacknowledged come again and are stored once (dedup key).
    async fn answered(
        &self,
        what: &str,
        call: impl std::future::Future<Output = Result<(), BrokerError>>,
    ) -> Result<(), BrokerError> {
        in_time(self.limits.timeout, call, || {
            format!(
                "{}: no answer in time {what} messages",
                self.source.kind.type_name()
            )
        })
        .await
    }

    /// The request a message becomes: rejected (and stored without its body)
    /// when it is larger than the source accepts, rejected with its body when
    /// the consumer found it invalid.
    fn request(&self, mut m: BrokerMessage) -> NewRequest {
        let limit = self
            .source
            .max_body_bytes
            .map(|l| l.max(0) as usize)
            .unwrap_or(self.max_body_bytes);
        let (body, rejection_cause) = if m.body.len() > limit {
            tracing::warn!(source = %self.source.name, bytes = m.body.len(), limit,
                "broker message larger than the source accepts; stored as rejected");
            // What was left out, for whoever looks at the rejected request.
            m.headers
                .push((DROPPED_BODY_HEADER.into(), m.body.len().to_string()));
            (Vec::new(), Some(RejectionCause::PayloadTooLarge))
        } else if let Some(why) = &m.invalid {
            tracing::warn!(source = %self.source.name, reason = %why,
                "broker message cannot become a request; stored as rejected");
            (m.body, Some(RejectionCause::InvalidMessage))
        } else {
            (m.body, None)
        };
        // A source's own `topic_from` wins over the broker's (a routing key is
        // often only the queue's name); the committer applies it.
        let topic = match &self.source.topic_from {
            Some(_) => None,
            None => m.topic.filter(|t| check_topic(t).is_ok()),
        };
        NewRequest {
            envelope: Envelope {
                id: new_id(IdKind::Request),
                source: self.source.name.clone(),
                received_at_ms: now_ms(),
                method: "POST".into(),
                path: "/".into(),
                query: String::new(),
                headers: m.headers,
                body,
            },
            source_id: self.source.id.clone(),
            verified: None,
            rejection_cause,
            route: None,
            topic,
            dedup_key: m.dedup_key,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::results::Recorder;
    use crate::egress::EgressPolicy;
    use crate::ingest::committer::{BatchLimits, CommitContext};
    use async_trait::async_trait;

    /// A broker that hands out one message, then holds every acknowledgement
    /// (as a NATS client does while it reconnects to a broker that is gone).
    struct AckNeverAnswered {
        given: bool,
    }

    #[async_trait]
    impl super::Consumer for AckNeverAnswered {
        async fn receive(
            &mut self,
            _max: usize,
        ) -> Result<Vec<(BrokerMessage, AckToken)>, BrokerError> {
            if std::mem::replace(&mut self.given, true) {
                tokio::time::sleep(Duration::from_millis(20)).await;
                return Ok(Vec::new());
            }
            let m = BrokerMessage {
                dedup_key: Some("m-1".into()),
                body: b"{}".to_vec(),
                ..Default::default()
            };
            Ok(vec![(m, Box::new(()) as AckToken)])
        }
        async fn ack(&mut self, _tokens: Vec<AckToken>) -> Result<(), BrokerError> {
            std::future::pending().await
        }
        async fn nack(&mut self, _tokens: Vec<AckToken>) -> Result<(), BrokerError> {
            std::future::pending().await
        }
    }

    #[tokio::test]
    async fn a_broker_that_stops_answering_an_acknowledgement_ends_the_consumer() {
        let dir = tempfile::tempdir().unwrap();
        let (ctx, _handed) = CommitContext::for_test(dir.path()).await;
        let (store, signals) = (ctx.store.clone(), ctx.signals.clone());
        let source = Source::new("src_1".into(), "broker".into(), now_ms());
        store.insert_source(&source).await.unwrap();
        let (_recorder, results) = Recorder::new();
        let limits = BatchLimits {
            max_requests: 8,
            max_bytes: 1 << 20,
        };
        let driver = Driver {
            source: Arc::new(source),
            index: 0,
            committer: Committer::start(ctx, limits, results),
            health: Arc::new(Health::new(store.clone(), signals)),
            limits: BrokerLimits {
                timeout: Duration::from_millis(300),
                egress: Arc::new(
                    EgressPolicy::from_config(&crate::config::Config::default().egress).unwrap(),
                ),
            },
            max_body_bytes: 1 << 20,
        };
        let (_trigger, mut stop) = crate::shutdown::channel();
        let mut broker = AckNeverAnswered { given: false };

        let consumed = tokio::time::timeout(
            Duration::from_secs(10),
            driver.consume(&mut broker, &mut stop),
        )
        .await
        .expect("the consumer is still waiting for the acknowledgement");
        let error = consumed.expect_err("an acknowledgement never answered is an error");
        assert_eq!(error.code, "TIMEOUT", "{error}");
        assert!(error.message.contains("acknowledging"), "{error}");
    }
}
