//! After each batch of attempt results is stored: group failures into issues,
//! resolve issues whose connection delivers again, count each destination's
//! failure streak (auto-disable), and count the metrics.

use std::sync::Arc;
use std::time::Duration;

use crate::model::DestinationResults;
use crate::model::{AttemptStatus, EventStatus, Failure, IssueStatus, IssueType};
use crate::store::{AttemptOutcome, Store};
use crate::telemetry;

pub struct Tracker {
    pub store: Arc<Store>,
    /// `delivery.auto_disable_after`: the streak that disables a destination
    /// that sets none of its own (0: never).
    pub auto_disable_after: i64,
    /// Woken when something may need an alert.
    pub signals: crate::signals::Signals,
}

impl Tracker {
    /// Issue bookkeeping is best effort: a failure here is logged, never allowed
    /// to hold up delivery (the attempts themselves are already stored).
    pub async fn observe(&self, batch: &[AttemptOutcome]) {
        let now = crate::clock::now_ms();
        let mut failures = Vec::new();
        let mut recovered: Vec<String> = Vec::new();
        for o in batch {
            let a = &o.attempt;
            let success = a.status == AttemptStatus::Successful;
            telemetry::attempt_finished(
                &a.destination_id,
                success,
                Duration::from_millis(a.duration_ms.max(0) as u64),
            );
            if success {
                if !recovered.contains(&o.connection_id) {
                    recovered.push(o.connection_id.clone());
                }
                continue;
            }
            match o.status {
                EventStatus::Failed => telemetry::event_failed(&a.destination_id),
                _ => telemetry::event_retried(&a.destination_id),
            }
            failures.push(Failure {
                issue_type: IssueType::Delivery,
                connection_id: Some(o.connection_id.clone()),
                destination_id: Some(a.destination_id.clone()),
                source_id: None,
                response_status: a.response_status,
                error_code: a.error_code.clone(),
                event_id: Some(a.event_id.clone()),
                attempt_id: Some(a.id.clone()),
                is_final: o.status == EventStatus::Failed,
            });
        }
        let mut wake = false;
        // Resolve first: in a batch with both, the later failure reopens.
        match self.store.resolve_delivery_issues(&recovered, now).await {
            Ok(resolved) => wake |= !resolved.is_empty(),
            Err(e) => tracing::error!(error = %e, "resolving issues failed"),
        }
        if !failures.is_empty() {
            match self.store.record_failures(&failures, now).await {
                Ok(issues) => {
                    for i in issues {
                        if i.status == IssueStatus::Opened
                            && i.opened_count as usize <= failures.len()
                        {
                            telemetry::issue_opened(i.issue_type.as_str());
                        }
                        wake = true;
                    }
                }
                Err(e) => tracing::error!(error = %e, "grouping failures into issues failed"),
            }
        }
        let results = destination_results(batch);
        match self
            .store
            .record_destination_results(&results, self.auto_disable_after, now)
            .await
        {
            Ok(disabled) => {
                for id in &disabled {
                    tracing::warn!(destination_id = %id, "destination disabled after consecutive failures");
                    telemetry::destination_auto_disabled(id);
                }
                wake |= !disabled.is_empty();
            }
            Err(e) => tracing::error!(error = %e, "recording destination health failed"),
        }
        if wake {
            self.signals.notify(crate::signals::Signal::Alerts);
        }
    }
}

/// Per destination, in batch order: the failure streak at the end of the batch.
fn destination_results(batch: &[AttemptOutcome]) -> Vec<DestinationResults> {
    let mut out: Vec<DestinationResults> = Vec::new();
    for o in batch {
        let a = &o.attempt;
        let i = match out
            .iter()
            .position(|r| r.destination_id == a.destination_id)
        {
            Some(i) => i,
            None => {
                out.push(DestinationResults {
                    destination_id: a.destination_id.clone(),
                    trailing_failures: 0,
                    any_success: false,
                    reason: String::new(),
                });
                out.len() - 1
            }
        };
        let r = &mut out[i];
        if a.status == AttemptStatus::Successful {
            r.any_success = true;
            r.trailing_failures = 0;
        } else {
            r.trailing_failures += 1;
            r.reason = failure_reason(
                a.response_status,
                a.error_code.as_deref(),
                a.error_message.as_deref(),
            );
        }
    }
    out
}

/// A short account of the last failure, kept as the reason a destination was
/// disabled.
fn failure_reason(status: Option<i64>, code: Option<&str>, message: Option<&str>) -> String {
    let what = match (status, code) {
        (Some(s), _) => format!("HTTP {s}"),
        (None, Some(c)) => c.to_owned(),
        (None, None) => "an unknown error".to_owned(),
    };
    match message {
        Some(m) if !m.is_empty() => format!("consecutive failed attempts; the last: {what} ({m})"),
        _ => format!("consecutive failed attempts; the last: {what}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Attempt, AttemptTrigger};

    fn outcome(dest: &str, ok: bool) -> AttemptOutcome {
        AttemptOutcome {
            attempt: Attempt {
                id: "atm".into(),
                event_id: "evt".into(),
                destination_id: dest.into(),
                attempt_number: 1,
                trigger: AttemptTrigger::Initial,
                status: if ok {
                    AttemptStatus::Successful
                } else {
                    AttemptStatus::Failed
                },
                response_status: if ok { Some(200) } else { Some(500) },
                response_headers: None,
                response_body: None,
                error_code: None,
                error_message: None,
                requested_url: None,
                http_method: None,
                duration_ms: 1,
                bulk_retry_id: None,
                created_at: 0,
            },
            connection_id: "web".into(),
            status: EventStatus::Scheduled,
            next_attempt_at: None,
            lease_until: 0,
        }
    }

    #[test]
    fn streaks_count_failures_after_the_last_success() {
        let r = destination_results(&[
            outcome("a", false),
            outcome("b", false),
            outcome("a", true),
            outcome("a", false),
            outcome("a", false),
        ]);
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].any_success, r[0].trailing_failures), (true, 2));
        assert_eq!((r[1].any_success, r[1].trailing_failures), (false, 1));
        assert!(r[1].reason.contains("HTTP 500"), "{}", r[1].reason);
    }
}
