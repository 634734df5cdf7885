//! Attempt results on their way to the store: the dispatcher queues each batch,
//! and ingest's committer writes it in its next transaction, so the one SQLite
//! writer runs one transaction per cycle for stored requests and recorded
//! attempts instead of one for each (on PostgreSQL, one commit instead of two).
//!
//! A batch is written by exactly one party. The committer takes it and answers
//! once it is committed (or failed), handing the results back either way; when
//! no committer takes batches (it has stopped), the dispatcher writes them itself.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::store::{AttemptOutcome, StoreError};

/// What became of a batch: its results, handed back, and whether they are stored.
pub type Recorded = (Vec<AttemptOutcome>, Result<(), Arc<StoreError>>);

/// One batch of results waiting for a transaction.
pub struct ResultBatch {
    pub outcomes: Vec<AttemptOutcome>,
    /// Answered after the transaction that held the batch ended.
    pub done: oneshot::Sender<Recorded>,
}

impl ResultBatch {
    /// Answers the dispatcher.
    pub fn finish(self, result: Result<(), Arc<StoreError>>) {
        // A dispatcher that stopped waiting has nothing left to do with them.
        let _ = self.done.send((self.outcomes, result));
    }
}

/// The dispatcher's side: queues batches for the committer.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<ResultBatch>,
}

/// The committer's side.
pub type RecorderQueue = mpsc::Receiver<ResultBatch>;

impl Recorder {
    /// A recorder and the queue the committer reads.
    pub fn new() -> (Self, RecorderQueue) {
        // The dispatcher waits for each batch before it sends the next one.
        let (tx, rx) = mpsc::channel(1);
        (Recorder { tx }, rx)
    }

    /// Has the committer write `outcomes`. `Err` hands them back unwritten when
    /// no committer takes batches any more.
    pub async fn record(
        &self,
        outcomes: Vec<AttemptOutcome>,
    ) -> Result<Recorded, Vec<AttemptOutcome>> {
        let (done, answer) = oneshot::channel();
        if let Err(mpsc::error::SendError(batch)) =
            self.tx.send(ResultBatch { outcomes, done }).await
        {
            return Err(batch.outcomes);
        }
        // The committer answers every batch it takes: it reads this queue until
        // every recorder is gone. Only a committer task that died (a panic) drops
        // a batch unanswered; its events' leases lapse and they are delivered
        // again, as after a crash.
        answer.await.map_err(|_| Vec::new())
    }
}
