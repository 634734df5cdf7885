//! Named wake-ups between the steps: whoever creates work for a worker says so
//! with [`Signals::notify`], and the worker's [`crate::periodic`] loop wakes at
//! once instead of at its next poll. Workers still poll, so a lost wake-up (or
//! work made by another replica) only costs latency, never an event.

use std::sync::Arc;

use tokio::sync::Notify;

/// The worker a wake-up is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Requests were stored unrouted: the router.
    Route,
    /// Events became due: the dispatcher.
    Dispatch,
    /// Connections or destinations were paused, resumed, enabled or disabled:
    /// the monitor (hold and release).
    Monitor,
    /// Issues opened or changed: the alert notifier.
    Alerts,
    /// A bulk retry was created: its worker.
    BulkRetry,
    /// Nobody sends it: retention runs on its interval (and on shutdown stops).
    Retention,
    /// Sources were created, changed or deleted: the broker consumers' supervisor.
    Sources,
}

const COUNT: usize = 7;

/// The process's wake-ups; cheap to clone, every clone shares them.
#[derive(Clone, Default)]
pub struct Signals {
    inner: Arc<[Notify; COUNT]>,
}

impl Signals {
    pub fn notify(&self, s: Signal) {
        self.inner[s as usize].notify_one();
    }

    /// Resolves at the next [`Signals::notify`] of `s` (or at once if one came
    /// while nobody waited).
    pub async fn notified(&self, s: Signal) {
        self.inner[s as usize].notified().await
    }
}
