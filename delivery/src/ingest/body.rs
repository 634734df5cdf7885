//! Receiving a webhook's body. Room in the in-flight budget
//! (`ingest.max_inflight_bytes`) is taken for the bytes that have arrived, as they
//! arrive, never for what a `Content-Length` announces: a client that announces
//! 10 MiB and sends nothing holds nothing.

use std::time::Duration;

use axum::body::{Body, HttpBody};
use futures::StreamExt;
use hookyard_core::ingest::{AdmissionRules, Refusal};
use tokio::sync::{Semaphore, SemaphorePermit};
use tower_http::timeout::TimeoutError;

/// Why a body was not received whole.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// No data for `server.body_read_timeout_ms` (the server's body timeout).
    #[error(
        "the request body stopped arriving (nothing for {idle_ms} ms); send it without \
         pauses. The connection is closed"
    )]
    TimedOut { idle_ms: u64 },
    /// More bytes than the source accepts.
    #[error(transparent)]
    TooLarge(Refusal),
    /// The budget stayed full for `ingest.budget_wait_ms`.
    #[error("the gateway is receiving as many request bodies as it can hold; retry shortly")]
    Busy,
    #[error("the gateway is shutting down; retry")]
    ShuttingDown,
    /// The client went away, or sent a body that does not parse as HTTP.
    #[error("the request body could not be read: {0}")]
    Broken(axum::Error),
}

/// The in-flight budget, as one request draws on it.
pub struct Budget<'a> {
    /// Permits are KiB.
    pub room: &'a Semaphore,
    /// The budget's size in KiB: a body larger than the whole budget takes all of
    /// it rather than waiting for room that can never be.
    pub total_kib: usize,
    /// How long to wait for room before answering 503.
    pub wait: Duration,
    /// `server.body_read_timeout_ms`, to name it when it fires.
    pub idle_ms: u64,
}

/// A body received whole, and the room it holds until dropped (after its commit).
pub struct Received<'a> {
    pub bytes: Vec<u8>,
    pub room: Room<'a>,
}

/// Room held in the in-flight budget; given back when dropped.
pub struct Room<'a> {
    _permit: Option<SemaphorePermit<'a>>,
}

/// Reads `body` to its end, up to the source's limit, drawing on `budget` as
/// bytes arrive.
pub async fn receive<'a>(
    body: Body,
    rules: &AdmissionRules<'_>,
    budget: &Budget<'a>,
) -> Result<Received<'a>, BodyError> {
    receive_up_to(
        body,
        rules.max_body_bytes,
        || BodyError::TooLarge(rules.too_large()),
        budget,
    )
    .await
}

/// Reads `body` to its end, at most `max_bytes` (past it: `too_large()`),
/// drawing on `budget` as bytes arrive.
///
/// Waiting for room can deadlock in principle (bodies holding part of the budget,
/// each waiting for more); the bounded wait is what breaks it: the one that
/// gives up answers 503 and frees what it held.
pub async fn receive_up_to<'a>(
    body: Body,
    max_bytes: u64,
    too_large: impl Fn() -> BodyError,
    budget: &Budget<'a>,
) -> Result<Received<'a>, BodyError> {
    let mut room = None;
    // One buffer the body is copied into as it arrives, each chunk dropped at
    // once: holding the chunks and joining them at the end held the body twice.
    // A Content-Length within the limit sizes it, so it is never copied to grow:
    // that reserves address space, not memory (pages are taken as bytes are
    // written), and a client that announces a large body and sends nothing still
    // holds nothing. Where even the address space is refused (strict
    // overcommit), it grows as bytes come instead.
    let announced = HttpBody::size_hint(&body)
        .exact()
        .filter(|n| *n <= max_bytes)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0);
    let mut bytes = Vec::new();
    let _ = bytes.try_reserve_exact(announced);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| read_error(e, budget.idle_ms))?;
        let len = (bytes.len() + chunk.len()) as u64;
        if len > max_bytes {
            return Err(too_large());
        }
        budget.charge(&mut room, len).await?;
        bytes.extend_from_slice(&chunk);
    }
    Ok(Received {
        bytes,
        room: Room { _permit: room },
    })
}

impl<'a> Budget<'a> {
    /// Grows `room` to cover `len` bytes (in whole KiB, at most the whole budget).
    async fn charge(
        &self,
        room: &mut Option<SemaphorePermit<'a>>,
        len: u64,
    ) -> Result<(), BodyError> {
        let want = usize::try_from(len.div_ceil(1024))
            .unwrap_or(usize::MAX)
            .min(self.total_kib);
        let held = room.as_ref().map_or(0, |p| p.num_permits());
        let Some(more) = want.checked_sub(held).filter(|m| *m > 0) else {
            return Ok(());
        };
        // `total_kib` fits in u32 (the semaphore was made with it).
        let more = u32::try_from(more).unwrap_or(u32::MAX);
        let permit = tokio::time::timeout(self.wait, self.room.acquire_many(more))
            .await
            .map_err(|_| BodyError::Busy)?
            .map_err(|_| BodyError::ShuttingDown)?;
        match room {
            Some(held) => held.merge(permit),
            None => *room = Some(permit),
        }
        Ok(())
    }
}

/// The server's body timeout (`tower_http`'s `TimeoutBody`, see `crate::server`)
/// reaches us as an error inside axum's; everything else is the client's.
fn read_error(e: axum::Error, idle_ms: u64) -> BodyError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(c) = cause {
        if c.is::<TimeoutError>() {
            return BodyError::TimedOut { idle_ms };
        }
        cause = c.source();
    }
    BodyError::Broken(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(max_body_bytes: u64) -> AdmissionRules<'static> {
        AdmissionRules {
            source: "s",
            allowed_methods: &[],
            max_body_bytes,
            verification: None,
            disabled: false,
            disabled_status: 403,
        }
    }

    fn chunked(chunks: &[usize]) -> Body {
        use axum::body::Bytes;
        let frames: Vec<Result<Bytes, std::io::Error>> = chunks
            .iter()
            .map(|n| Ok(Bytes::from(vec![b'x'; *n])))
            .collect();
        Body::from_stream(futures::stream::iter(frames))
    }

    fn budget(room: &Semaphore, total_kib: usize) -> Budget<'_> {
        Budget {
            room,
            total_kib,
            wait: Duration::from_millis(20),
            idle_ms: 1000,
        }
    }

    #[tokio::test]
    async fn room_is_what_arrived_in_whole_kib_and_given_back_on_drop() {
        let room = Semaphore::new(8);
        let b = budget(&room, 8);
        let got = receive(chunked(&[600, 600, 600]), &rules(10_000), &b)
            .await
            .unwrap();
        assert_eq!(got.bytes.len(), 1800);
        assert_eq!(room.available_permits(), 6, "1800 bytes hold 2 KiB");
        drop(got);
        assert_eq!(room.available_permits(), 8);
    }

    #[tokio::test]
    async fn a_body_larger_than_the_budget_takes_all_of_it() {
        let room = Semaphore::new(2);
        let got = receive(chunked(&[3000, 3000]), &rules(10_000), &budget(&room, 2))
            .await
            .unwrap();
        assert_eq!(got.bytes.len(), 6000);
        assert_eq!(room.available_permits(), 0);
    }

    #[tokio::test]
    async fn a_full_budget_gives_up_after_the_wait() {
        let room = Semaphore::new(2);
        let _other = room.acquire_many(2).await.unwrap();
        let err = receive(chunked(&[10]), &rules(10_000), &budget(&room, 2))
            .await
            .err()
            .unwrap();
        assert!(matches!(err, BodyError::Busy), "{err:?}");
    }

    #[tokio::test]
    async fn past_the_limit_is_too_large_and_holds_nothing() {
        let room = Semaphore::new(8);
        let err = receive(chunked(&[600, 600]), &rules(1000), &budget(&room, 8))
            .await
            .err()
            .unwrap();
        assert!(matches!(err, BodyError::TooLarge(_)), "{err:?}");
        assert_eq!(room.available_permits(), 8);
    }
}
