//! Conformance of the operations storage (issues, alert claims, destination
//! health, bulk-retry leases) on SQLite and PostgreSQL, including what two
//! replicas racing for the same claim get; and migration 0004 on data written
//! before it.

use crate::common;

use common::Backend;
use hookyard::model::Destination;
use hookyard::model::DestinationResults;
use hookyard::model::{BulkQuery, BulkRetry};
use hookyard::model::{Failure, IssueFilter, IssueStatus, IssueType};
use hookyard::store::{PageQuery, SqliteSync, Store};

const T0: i64 = 1_700_000_000_000;

fn failure(conn: &str, status: i64) -> Failure {
    Failure {
        issue_type: IssueType::Delivery,
        connection_id: Some(conn.into()),
        destination_id: Some("des_x".into()),
        source_id: None,
        response_status: Some(status),
        error_code: None,
        event_id: None,
        attempt_id: Some(format!("atm_{status}")),
        is_final: false,
    }
}

async fn issues_group_reopen_and_resolve(b: &Backend) {
    let st = &b.store;
    let touched = st
        .record_failures(
            &[
                failure("web_a", 500),
                failure("web_a", 500),
                failure("web_a", 502),
            ],
            T0,
        )
        .await
        .unwrap();
    assert_eq!(touched.len(), 2, "two causes, two issues");
    let i500 = touched
        .iter()
        .find(|i| i.response_status == Some(500))
        .unwrap();
    assert_eq!((i500.event_count, i500.opened_count), (2, 2));
    assert_eq!(i500.status, IssueStatus::Opened);

    assert!(st.claim_issue_alert(&i500.id, T0 + 1).await.unwrap());
    let resolved = st
        .resolve_delivery_issues(&["web_a".into()], T0 + 10)
        .await
        .unwrap();
    assert_eq!(resolved.len(), 2);
    assert!(resolved.iter().all(|i| i.status == IssueStatus::Resolved));
    assert_eq!(
        st.issues_awaiting_recovery().await.unwrap().len(),
        1,
        "only the alerted one"
    );

    // The same cause again opens the same issue again, with fresh counters.
    let again = st
        .record_failures(&[failure("web_a", 500)], T0 + 20)
        .await
        .unwrap();
    assert_eq!(again[0].id, i500.id);
    assert_eq!(again[0].status, IssueStatus::Opened);
    assert_eq!((again[0].event_count, again[0].opened_count), (3, 1));
    assert_eq!(again[0].opened_at, T0 + 20);
    assert_eq!(again[0].alerted_at, None, "a new opening is alerted anew");

    // An ignored issue keeps counting but stays ignored.
    st.set_issue_status(&i500.id, IssueStatus::Ignored, T0 + 30)
        .await
        .unwrap();
    let still = st
        .record_failures(&[failure("web_a", 500)], T0 + 40)
        .await
        .unwrap();
    assert_eq!(still[0].status, IssueStatus::Ignored);
    assert_eq!(still[0].event_count, 4);
}

fn source_failure(source: &str, code: &str) -> Failure {
    Failure {
        issue_type: IssueType::Source,
        source_id: Some(source.into()),
        connection_id: None,
        destination_id: None,
        response_status: None,
        error_code: Some(code.into()),
        event_id: None,
        attempt_id: None,
        is_final: false,
    }
}

/// A broker source that cannot be consumed: one issue per source and cause,
/// every open one resolved when the source is consumed again, and opened again
/// by the next failure.
async fn source_issues_open_resolve_and_reopen(b: &Backend) {
    let st = &b.store;
    let refused = source_failure("src_a", "CONNECTION_REFUSED");
    st.record_failures(std::slice::from_ref(&refused), T0)
        .await
        .unwrap();
    let touched = st
        .record_failures(std::slice::from_ref(&refused), T0 + 1)
        .await
        .unwrap();
    assert_eq!(touched.len(), 1);
    let issue = &touched[0];
    assert_eq!(issue.issue_type, IssueType::Source);
    assert_eq!(issue.fingerprint, "source:src_a:error:CONNECTION_REFUSED");
    assert_eq!(issue.source_id.as_deref(), Some("src_a"));
    assert_eq!((issue.event_count, issue.opened_count), (2, 2));
    assert_eq!(issue.status, IssueStatus::Opened);
    // Another cause on the same source, and another source.
    st.record_failures(
        &[
            source_failure("src_a", "BROKER_REFUSED"),
            source_failure("src_b", "CONNECTION_REFUSED"),
        ],
        T0 + 2,
    )
    .await
    .unwrap();
    let of_a = IssueFilter {
        source_id: Some("src_a".into()),
        ..Default::default()
    };
    let page = PageQuery {
        limit: 50,
        ..Default::default()
    };
    assert_eq!(st.list_issues(&of_a, &page).await.unwrap().models.len(), 2);
    assert_eq!(st.count_issues(&of_a).await.unwrap(), 2);

    assert!(st.claim_issue_alert(&issue.id, T0 + 3).await.unwrap());
    let resolved = st.resolve_source_issues("src_a", T0 + 10).await.unwrap();
    assert_eq!(
        resolved.len(),
        2,
        "every open issue of the source, whatever its cause"
    );
    assert!(resolved.iter().all(|i| i.status == IssueStatus::Resolved
        && i.resolved_at == Some(T0 + 10)
        && i.auto_resolved_at == Some(T0 + 10)));
    assert_eq!(
        st.issues_awaiting_recovery().await.unwrap().len(),
        1,
        "the alerted one is told of its recovery"
    );
    let b_open = st
        .list_issues(
            &IssueFilter {
                source_id: Some("src_b".into()),
                ..Default::default()
            },
            &page,
        )
        .await
        .unwrap();
    assert_eq!(
        b_open.models[0].status,
        IssueStatus::Opened,
        "other sources stay open"
    );
    assert!(
        st.resolve_source_issues("src_a", T0 + 11)
            .await
            .unwrap()
            .is_empty(),
        "nothing left to resolve"
    );

    let again = st.record_failures(&[refused], T0 + 20).await.unwrap();
    assert_eq!(again[0].id, issue.id);
    assert_eq!(again[0].status, IssueStatus::Opened);
    assert_eq!((again[0].event_count, again[0].opened_count), (3, 1));
    assert_eq!(again[0].alerted_at, None, "a new opening is alerted anew");
}

async fn claims_are_won_by_one_replica(b: &Backend) {
    let a = b.store.clone();
    let other = b.replica().await;
    let issue = a
        .record_failures(&[failure("web_c", 503)], T0)
        .await
        .unwrap()
        .remove(0);
    let (x, y) = tokio::join!(
        a.claim_issue_alert(&issue.id, T0 + 1),
        other.claim_issue_alert(&issue.id, T0 + 1)
    );
    assert!(
        x.unwrap() ^ y.unwrap(),
        "exactly one replica sends the alert"
    );
    let (x, y) = tokio::join!(
        a.claim_digest(T0 + 5, 1000),
        other.claim_digest(T0 + 5, 1000)
    );
    assert!(
        x.unwrap() ^ y.unwrap(),
        "exactly one replica sends the digest"
    );
    assert!(
        !a.claim_digest(T0 + 500, 1000).await.unwrap(),
        "not again within the interval"
    );

    a.insert_bulk_retry(&BulkRetry {
        id: "blk_1".into(),
        query: BulkQuery::Events(Box::default()),
        estimated_count: 0,
        processed_count: 0,
        retried_count: 0,
        cursor: None,
        cancelled_at: None,
        completed_at: None,
        created_at: T0,
        updated_at: T0,
    })
    .await
    .unwrap();
    let (x, y) = tokio::join!(
        a.claim_bulk_step(T0, T0 + 60_000),
        other.claim_bulk_step(T0, T0 + 60_000)
    );
    assert_eq!(
        [x.unwrap(), y.unwrap()]
            .iter()
            .filter(|s| s.is_some())
            .count(),
        1,
        "one replica takes a step at a time"
    );

    // Cancelled: no replica takes another step, even once the lease is over.
    let cancelled = a.cancel_bulk_retry("blk_1", T0 + 1).await.unwrap().unwrap();
    assert_eq!(cancelled.cancelled_at, Some(T0 + 1));
    assert!(a
        .claim_bulk_step(T0 + 120_000, T0 + 180_000)
        .await
        .unwrap()
        .is_none());
}

async fn failure_streaks_disable_a_destination(b: &Backend) {
    let st = &b.store;
    let mut d = Destination::new(
        "des_s".into(),
        "streaky".into(),
        Some("http://x".into()),
        T0,
    );
    d.auto_disable_after = Some(3);
    st.insert_destination(&d).await.unwrap();
    let res = |n: i64, ok: bool| DestinationResults {
        destination_id: "des_s".into(),
        trailing_failures: n,
        any_success: ok,
        reason: "consecutive failed attempts; the last: HTTP 500".into(),
    };
    assert!(st
        .record_destination_results(&[res(2, false)], 100, T0)
        .await
        .unwrap()
        .is_empty());
    // A success in between restarts the count.
    assert!(st
        .record_destination_results(&[res(1, true)], 100, T0)
        .await
        .unwrap()
        .is_empty());
    assert!(st
        .record_destination_results(&[res(1, false)], 100, T0)
        .await
        .unwrap()
        .is_empty());
    let disabled = st
        .record_destination_results(&[res(1, false)], 100, T0 + 5)
        .await
        .unwrap();
    assert_eq!(disabled, vec!["des_s".to_owned()]);
    let d = st.get_destination("des_s").await.unwrap().unwrap();
    assert_eq!(d.disabled_at, Some(T0 + 5));
    assert!(d.disabled_reason.unwrap().contains("HTTP 500"));
    assert_eq!(
        st.destinations_awaiting_disable_alert().await.unwrap(),
        vec!["des_s".to_owned()]
    );

    // 0 means never, whatever the streak.
    let mut never = Destination::new("des_n".into(), "never".into(), Some("http://x".into()), T0);
    never.auto_disable_after = Some(0);
    st.insert_destination(&never).await.unwrap();
    let r = DestinationResults {
        destination_id: "des_n".into(),
        ..res(50, false)
    };
    assert!(st
        .record_destination_results(&[r], 1, T0)
        .await
        .unwrap()
        .is_empty());
}

conformance! {
    issues_group_by_cause_reopen_and_resolve => issues_group_reopen_and_resolve;
    source_issues_open_resolve_and_reopen_by_source => source_issues_open_resolve_and_reopen;
    alert_and_bulk_claims_are_won_by_one_replica => claims_are_won_by_one_replica;
    failure_streaks_disable_a_destination_past_its_threshold => failure_streaks_disable_a_destination;
}

// ------------------------------------------------- migration 0004: delay in ms

/// Migration 0004 on a database that holds triggers written before it: a
/// `delay` in seconds (Hookyard's old unit) becomes the same time in
/// milliseconds; one already in milliseconds (over a day if read as seconds)
/// and an absent one stay as they are.
async fn trigger_delays_become_milliseconds(postgres: bool) {
    use sqlx::Connection;
    let dir = tempfile::tempdir().expect("temp dir");
    let pg = if postgres {
        match common::pg::TestDb::create().await {
            Some(db) => Some(db),
            None => return,
        }
    } else {
        None
    };
    let url = match &pg {
        Some(db) => db.url.clone(),
        None => Store::sqlite_url_in(dir.path()),
    };
    // The schema as it was before 0004, from the same migration files.
    let flavour = if postgres { "postgres" } else { "sqlite" };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(flavour);
    let mut before = sqlx::migrate::Migrator::new(path).await.unwrap();
    let up_to_3: Vec<_> = before
        .migrations
        .iter()
        .filter(|m| m.version < 4)
        .cloned()
        .collect();
    assert_eq!(up_to_3.len(), 3);
    before.migrations = up_to_3.into();
    sqlx::any::install_default_drivers();
    let raw_url = if postgres {
        url.clone()
    } else {
        format!("{url}?mode=rwc")
    };
    let mut db = sqlx::AnyConnection::connect(&raw_url).await.unwrap();
    before.run(&mut db).await.unwrap();
    for (id, ty, configs) in [
        (
            "itr_secs",
            "backpressure",
            r#"{"destinations":"*","delay":300}"#,
        ),
        (
            "itr_ms",
            "backpressure",
            r#"{"destinations":"*","delay":300000}"#,
        ),
        ("itr_none", "delivery", r#"{"connections":"orders-*"}"#),
    ] {
        sqlx::query(
            "INSERT INTO issue_triggers (id, name, type, configs, channels, disabled_at, \
             created_at, updated_at) VALUES ($1, NULL, $2, $3, '{}', NULL, 1, 1)",
        )
        .bind(id)
        .bind(ty)
        .bind(configs)
        .execute(&mut db)
        .await
        .unwrap();
    }
    db.close().await.unwrap();

    let store = Store::connect(&url, SqliteSync::Normal).await.unwrap();
    let delay = |t: Option<hookyard::model::IssueTrigger>| t.unwrap().configs.delay;
    assert_eq!(
        delay(store.get_trigger("itr_secs").await.unwrap()),
        Some(300_000)
    );
    assert_eq!(
        delay(store.get_trigger("itr_ms").await.unwrap()),
        Some(300_000)
    );
    let none = store.get_trigger("itr_none").await.unwrap().unwrap();
    assert_eq!(none.configs.delay, None);
    assert!(none.configs.connections.matches("web_x", Some("orders-eu")));
    drop(store);
    drop(pg);
}

#[tokio::test]
async fn migration_0004_reads_trigger_delays_in_milliseconds_sqlite() {
    trigger_delays_become_milliseconds(false).await;
}

#[tokio::test]
async fn migration_0004_reads_trigger_delays_in_milliseconds_postgres() {
    trigger_delays_become_milliseconds(true).await;
}
