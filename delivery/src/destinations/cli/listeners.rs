//! The `hookyard listen` sessions connected to this process, and which of them an
//! event goes to.
//!
//! A session listens for one CLI destination on some of its connections (one per
//! source it was started with). An event goes to a session of its destination
//! that listens on its connection; when several do, to the one with the fewest
//! deliveries in flight (so two terminals on the same source share the work, and
//! each event reaches exactly one of them). Events nobody listens for are not
//! leased at all ([`Listeners::connections`]): they wait in the store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::protocol::{self, EventFrame, ReplyFrame};
use crate::signals::{Signal, Signals};

/// What went out on a session's socket.
pub type Outgoing = Vec<u8>;

/// The local target's answer to one delivery.
#[derive(Debug)]
pub struct Reply {
    pub frame: ReplyFrame,
    pub body: Bytes,
}

/// The session closed before answering (the CLI left, or its connection died).
#[derive(Debug, thiserror::Error)]
#[error("the CLI disconnected before answering")]
pub struct Gone;

/// One connected `hookyard listen`.
pub struct Session {
    pub id: String,
    pub destination_id: String,
    pub connections: Vec<String>,
    /// What the CLI said it is (`user@host`), for the API and logs.
    pub client: String,
    pub connected_at: i64,
    outbox: mpsc::Sender<Outgoing>,
    pending: Mutex<HashMap<u64, oneshot::Sender<Reply>>>,
    next_id: AtomicU64,
    draining: AtomicBool,
}

impl Session {
    /// A session and the receiving end of its outbox, which the socket writes.
    pub fn new(
        id: String,
        destination_id: String,
        connections: Vec<String>,
        client: String,
        connected_at: i64,
    ) -> (Arc<Self>, mpsc::Receiver<Outgoing>) {
        // Deliveries in flight are bounded by the dispatcher's concurrency; this
        // only bounds what waits for the socket.
        let (tx, rx) = mpsc::channel(64);
        let s = Session {
            id,
            destination_id,
            connections,
            client,
            connected_at,
            outbox: tx,
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            draining: AtomicBool::new(false),
        };
        (Arc::new(s), rx)
    }

    /// The id the next delivery's frame must carry.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends one delivery and waits for its answer. The caller bounds the wait and
    /// calls [`Session::forget`] when it gives up.
    pub async fn deliver(&self, frame: &EventFrame, body: &[u8]) -> Result<Reply, Gone> {
        let (tx, rx) = oneshot::channel();
        self.pending_map().insert(frame.id, tx);
        if self
            .outbox
            .send(protocol::encode(frame, body))
            .await
            .is_err()
        {
            self.forget(frame.id);
            return Err(Gone);
        }
        rx.await.map_err(|_| Gone)
    }

    /// Hands an answer to the delivery waiting for it; an answer nobody waits for
    /// (given up on, or a CLI's mistake) is dropped.
    pub fn answer(&self, reply: Reply) {
        if let Some(tx) = self.pending_map().remove(&reply.frame.id) {
            let _ = tx.send(reply);
        }
    }

    pub fn forget(&self, id: u64) {
        self.pending_map().remove(&id);
    }

    /// Deliveries sent and not answered yet.
    pub fn in_flight(&self) -> usize {
        self.pending_map().len()
    }

    /// The CLI is leaving: no new deliveries, answers still count.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Fails every delivery still waiting ([`Gone`]): their events go back to the
    /// store without an attempt.
    fn close(&self) {
        self.pending_map().clear();
    }

    fn pending_map(&self) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<Reply>>> {
        // A panic while holding this lock leaves a map that is still valid.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The sessions of this process.
pub struct Listeners {
    sessions: RwLock<Vec<Arc<Session>>>,
    signals: Signals,
}

impl Listeners {
    pub fn new(signals: Signals) -> Self {
        Listeners {
            sessions: RwLock::new(Vec::new()),
            signals,
        }
    }

    /// Adds a session; the dispatcher wakes to lease what waited for it.
    pub fn add(&self, s: Arc<Session>) {
        self.write().push(s);
        self.signals.notify(Signal::Dispatch);
    }

    /// Removes a session and fails what it had in flight.
    pub fn remove(&self, s: &Arc<Session>) {
        self.write().retain(|x| !Arc::ptr_eq(x, s));
        s.close();
        // What it had in flight is due again, for another session if any.
        self.signals.notify(Signal::Dispatch);
    }

    /// Every connection some session listens on (the events that may be leased).
    pub fn connections(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .read()
            .iter()
            .filter(|s| !s.is_draining())
            .flat_map(|s| s.connections.iter().cloned())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The session an event of `connection_id` on `destination_id` goes to: the
    /// least busy of those listening for it. An empty `connection_id` (a test
    /// message) takes any session of the destination.
    pub fn pick(&self, destination_id: &str, connection_id: &str) -> Option<Arc<Session>> {
        self.read()
            .iter()
            .filter(|s| s.destination_id == destination_id && !s.is_draining())
            .filter(|s| {
                connection_id.is_empty() || s.connections.iter().any(|c| c == connection_id)
            })
            .min_by_key(|s| s.in_flight())
            .cloned()
    }

    /// Every session, oldest first.
    pub fn all(&self) -> Vec<Arc<Session>> {
        self.read().clone()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<Session>>> {
        self.sessions.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Arc<Session>>> {
        self.sessions.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(dest: &str, conns: &[&str]) -> Arc<Session> {
        let (s, rx) = Session::new(
            format!("cls_{dest}{}", conns.join("")),
            dest.into(),
            conns.iter().map(|c| c.to_string()).collect(),
            "test".into(),
            0,
        );
        std::mem::forget(rx);
        s
    }

    #[test]
    fn an_event_goes_to_a_session_listening_on_its_connection() {
        let l = Listeners::new(Signals::default());
        assert!(l.pick("des_1", "web_a").is_none());
        assert!(l.connections().is_empty());
        let a = session("des_1", &["web_a"]);
        let b = session("des_1", &["web_b"]);
        l.add(a.clone());
        l.add(b.clone());
        assert!(Arc::ptr_eq(&l.pick("des_1", "web_a").unwrap(), &a));
        assert!(Arc::ptr_eq(&l.pick("des_1", "web_b").unwrap(), &b));
        assert!(l.pick("des_2", "web_a").is_none());
        assert_eq!(l.connections(), vec!["web_a", "web_b"]);
        a.drain();
        assert!(l.pick("des_1", "web_a").is_none());
        assert_eq!(l.connections(), vec!["web_b"]);
        l.remove(&b);
        assert!(l.pick("des_1", "").is_none());
    }

    #[tokio::test]
    async fn the_least_busy_session_gets_the_next_event() {
        let l = Listeners::new(Signals::default());
        let a = session("des_1", &["web_a"]);
        let b = session("des_1", &["web_a"]);
        l.add(a.clone());
        l.add(b.clone());
        let (tx, _rx) = oneshot::channel();
        a.pending_map().insert(1, tx);
        assert!(Arc::ptr_eq(&l.pick("des_1", "web_a").unwrap(), &b));
        l.remove(&a);
        assert_eq!(a.in_flight(), 0, "closing fails what was in flight");
    }
}
