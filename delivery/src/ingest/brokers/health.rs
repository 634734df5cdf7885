//! Whether each broker source can be consumed, as `source` issues: opened (and
//! alerted on by the issue triggers) when a consumer cannot connect or read,
//! resolved when one connects again.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use super::BrokerError;
use crate::clock::now_ms;
use crate::model::{Failure, IssueType};
use crate::signals::{Signal, Signals};
use crate::store::Store;

pub struct Health {
    store: Arc<Store>,
    signals: Signals,
    /// Sources this process has seen connected since their last failure: a
    /// connect resolves issues only for a source not in it (its first connect
    /// here, or the first after a failure), so consumers of a healthy source
    /// do not write to the store each time one connects.
    connected: Mutex<HashSet<String>>,
}

impl Health {
    pub fn new(store: Arc<Store>, signals: Signals) -> Self {
        Health {
            store,
            signals,
            connected: Mutex::default(),
        }
    }

    /// A consumer of `source_id` connected: its source issues (opened here or
    /// by another replica, or before a restart) are resolved.
    pub async fn up(&self, source_id: &str) {
        if lock(&self.connected).insert(source_id.to_owned()) {
            self.resolve(source_id).await;
        }
    }

    /// A consumer of `source_id` could not connect or lost its broker.
    pub async fn down(&self, source_id: &str, error: &BrokerError) {
        lock(&self.connected).remove(source_id);
        let failure = Failure {
            issue_type: IssueType::Source,
            source_id: Some(source_id.to_owned()),
            connection_id: None,
            destination_id: None,
            response_status: None,
            error_code: Some(error.code.to_owned()),
            event_id: None,
            attempt_id: None,
            is_final: false,
        };
        match self.store.record_failures(&[failure], now_ms()).await {
            Ok(_) => self.signals.notify(Signal::Alerts),
            Err(e) => tracing::error!(error = %e, "recording a source issue failed"),
        }
    }

    /// The source is no longer consumed (deleted or disabled): its issues end.
    pub async fn forget(&self, source_id: &str) {
        lock(&self.connected).remove(source_id);
        self.resolve(source_id).await;
    }

    async fn resolve(&self, source_id: &str) {
        match self.store.resolve_source_issues(source_id, now_ms()).await {
            Ok(resolved) if !resolved.is_empty() => {
                tracing::info!(source_id, "broker source consumed again; issue resolved");
                self.signals.notify(Signal::Alerts);
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "resolving a source issue failed"),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere while holding it leaves a set that is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}
