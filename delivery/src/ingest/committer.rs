//! Group commit for ingest: concurrent requests wait on one channel; one task writes
//! everything waiting in a single transaction and answers each only after commit.
//!
//! One fsync then covers a whole batch, which is how ingest reaches tens of
//! thousands of requests per second without acknowledging anything that is not on
//! disk. Under light load a batch is one request and adds no waiting: the task
//! never sleeps to fill a batch, it takes whatever is already queued.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, Notify};

use crate::clock::now_ms;
use crate::model::NewRequest;
use crate::store::{Store, StoreError};

type Reply = oneshot::Sender<Result<(), Arc<StoreError>>>;

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("storage failed: {0}")]
    Store(Arc<StoreError>),
    #[error("the gateway is shutting down")]
    Closed,
}

/// Handle to the commit task; cheap to clone.
#[derive(Clone)]
pub struct Committer {
    tx: mpsc::Sender<(NewRequest, Reply)>,
}

impl Committer {
    /// Starts the commit task. `wake` is notified after each commit (the router).
    pub fn start(store: Arc<dyn Store>, max_batch: usize, wake: Arc<Notify>) -> Self {
        let (tx, rx) = mpsc::channel(max_batch * 8);
        tokio::spawn(run(store, rx, max_batch, wake));
        Committer { tx }
    }

    /// Stores the request durably (idempotent on its id); returns once committed.
    pub async fn commit(&self, req: NewRequest) -> Result<(), CommitError> {
        let (reply, done) = oneshot::channel();
        self.tx
            .send((req, reply))
            .await
            .map_err(|_| CommitError::Closed)?;
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(CommitError::Store(e)),
            Err(_) => Err(CommitError::Closed),
        }
    }
}

async fn run(
    store: Arc<dyn Store>,
    mut rx: mpsc::Receiver<(NewRequest, Reply)>,
    max_batch: usize,
    wake: Arc<Notify>,
) {
    let mut batch = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut batch, max_batch).await > 0 {
        let (reqs, replies): (Vec<NewRequest>, Vec<Reply>) = batch.drain(..).unzip();
        let result = store.insert_requests(&reqs, now_ms()).await;
        let outcome = match result {
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::error!(error = %e, batch = reqs.len(), "ingest commit failed");
                Err(Arc::new(e))
            }
        };
        for reply in replies {
            let _ = reply.send(outcome.clone());
        }
        if outcome.is_ok() {
            wake.notify_one();
        }
    }
}
