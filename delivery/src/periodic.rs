//! The loop every background worker runs: do a step, then wait for its signal,
//! its poll interval or shutdown, whichever comes first.

use std::future::Future;
use std::time::Duration;

use crate::shutdown::Shutdown;
use crate::signals::{Signal, Signals};

/// What a step found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// There may be more to do right away: step again without waiting.
    More,
    /// Nothing left for now: wait.
    Idle,
}

/// A background worker: one step of its work at a time.
pub trait Periodic: Send {
    fn step(&mut self) -> impl Future<Output = Step> + Send;
}

/// Runs `worker` until shutdown, waking on `signal`, or every `poll` at the
/// latest (work another replica created, or a wake-up that came between two
/// steps).
pub async fn every(
    poll: Duration,
    signals: &Signals,
    signal: Signal,
    mut shutdown: Shutdown,
    worker: &mut impl Periodic,
) {
    loop {
        if shutdown.is_triggered() {
            return;
        }
        if worker.step().await == Step::More {
            continue;
        }
        tokio::select! {
            _ = signals.notified(signal) => {}
            _ = tokio::time::sleep(poll) => {}
            _ = shutdown.recv() => return,
        }
    }
}
