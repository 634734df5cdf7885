//! What happens to an event after an attempt.

use crate::destinations::DeliveryResult;
use crate::model::EventStatus;
use crate::route::rules::RetryPolicy;

/// The event's next status and, when retried, when. A destination's `Retry-After`
/// wins over the schedule (it knows when it will be ready), but only while the
/// policy still has retries left: `Retry-After` cannot extend the retry count.
pub fn decide(
    result: &DeliveryResult,
    attempts_made: i64,
    policy: &RetryPolicy,
    now: i64,
) -> (EventStatus, Option<i64>) {
    if result.success {
        return (EventStatus::Successful, None);
    }
    if result.permanent || !policy.retries_status(result.response_status) {
        return (EventStatus::Failed, None);
    }
    let made = u32::try_from(attempts_made).unwrap_or(u32::MAX);
    match policy.schedule.delay_after(made) {
        Some(delay) => {
            let delay = result.retry_after_ms.unwrap_or(delay);
            (EventStatus::Scheduled, Some(now + delay as i64))
        }
        None => (EventStatus::Failed, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::rules::default_retry_policy;
    use hookyard_core::backoff::RetryStrategy;
    use hookyard_core::status_codes::StatusCodeSet;

    fn failed(status: Option<u16>, retry_after: Option<u64>) -> DeliveryResult {
        DeliveryResult {
            response_status: status,
            retry_after_ms: retry_after,
            ..Default::default()
        }
    }

    #[test]
    fn success_ends_the_event() {
        let p = default_retry_policy(RetryStrategy::Linear, 1000, 3);
        let ok = DeliveryResult {
            success: true,
            ..Default::default()
        };
        assert_eq!(decide(&ok, 1, &p, 0), (EventStatus::Successful, None));
    }

    #[test]
    fn failures_follow_the_schedule_then_give_up() {
        let p = default_retry_policy(RetryStrategy::Exponential, 1000, 2);
        assert_eq!(
            decide(&failed(Some(500), None), 1, &p, 10),
            (EventStatus::Scheduled, Some(1010))
        );
        assert_eq!(
            decide(&failed(None, None), 2, &p, 10),
            (EventStatus::Scheduled, Some(2010))
        );
        assert_eq!(
            decide(&failed(Some(500), None), 3, &p, 10),
            (EventStatus::Failed, None)
        );
    }

    #[test]
    fn retry_after_wins_but_not_past_the_count() {
        let p = default_retry_policy(RetryStrategy::Linear, 1000, 1);
        assert_eq!(
            decide(&failed(Some(429), Some(30_000)), 1, &p, 0),
            (EventStatus::Scheduled, Some(30_000))
        );
        assert_eq!(
            decide(&failed(Some(429), Some(30_000)), 2, &p, 0),
            (EventStatus::Failed, None)
        );
    }

    #[test]
    fn permanent_failures_are_not_retried() {
        let p = default_retry_policy(RetryStrategy::Linear, 1000, 5);
        let no_queue = DeliveryResult::permanent("NOT_FOUND", "no such queue");
        assert_eq!(decide(&no_queue, 1, &p, 0), (EventStatus::Failed, None));
        let refused = DeliveryResult::error("CONNECTION_REFUSED", "broker down");
        assert_eq!(decide(&refused, 1, &p, 0).0, EventStatus::Scheduled);
    }

    #[test]
    fn statuses_outside_the_rule_are_not_retried() {
        let mut p = default_retry_policy(RetryStrategy::Linear, 1000, 5);
        p.status_codes = Some(StatusCodeSet::parse(&["500-599"]).unwrap());
        assert_eq!(
            decide(&failed(Some(404), None), 1, &p, 0),
            (EventStatus::Failed, None)
        );
        assert_eq!(
            decide(&failed(Some(502), None), 1, &p, 0).0,
            EventStatus::Scheduled
        );
    }
}
