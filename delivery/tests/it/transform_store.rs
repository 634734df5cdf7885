//! The store's part for transformations, on SQLite and PostgreSQL: records,
//! executions, routing stored in one transaction (failed events, transformed
//! request data) and the dispatcher reading an event's transformed request.

use crate::common;

use std::collections::BTreeMap;

use common::{backends, Backend};
use hookyard::clock::new_id;
use hookyard::model::HttpRequest;
use hookyard::model::RouteResult;
use hookyard::model::{Connection, Destination, EventStatus, NewEvent, NewRequest, Rule, Source};
use hookyard::model::{
    Execution, ExecutionFilter, PreparedRoute, Transformation, TransformationFilter,
};
use hookyard::store::{PageQuery, StoreError};
use hookyard_core::envelope::Envelope;
use hookyard_core::id::IdKind;

const T0: i64 = 1_700_000_000_000;

fn page() -> PageQuery {
    PageQuery {
        limit: 50,
        ..Default::default()
    }
}

fn transformation(name: &str, module: &[u8]) -> Transformation {
    Transformation {
        id: new_id(IdKind::Transformation),
        name: name.into(),
        module: Some(module.to_vec()),
        module_hash: hookyard::transform::module_hash(module),
        module_size: module.len() as i64,
        env: BTreeMap::from([("A".to_owned(), "1".to_owned())]),
        memory_limit_bytes: Some(1 << 24),
        timeout_ms: None,
        created_at: T0,
        updated_at: T0,
    }
}

fn execution(
    t: &Transformation,
    ok: bool,
    request: Option<&str>,
    event: Option<&str>,
) -> Execution {
    Execution {
        id: new_id(IdKind::TransformationExecution),
        transformation_id: t.id.clone(),
        module_hash: t.module_hash.clone(),
        request_id: request.map(str::to_owned),
        event_id: event.map(str::to_owned),
        connection_id: None,
        ok,
        error: (!ok).then(|| "the transformation panicked: boom\0 (at x.rs:1:1)".to_owned()),
        logs: vec!["line one".into(), "line two".into()],
        duration_us: 42,
        created_at: T0,
    }
}

async fn records_body(b: &Backend) {
    let st = &b.store;
    let t = transformation("strip", b"\0asm-one");
    st.insert_transformation(&t).await.unwrap();
    match st
        .insert_transformation(&transformation("strip", b"other"))
        .await
    {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("{}: duplicate name: {other:?}", b.name),
    }
    assert_eq!(
        st.get_transformation(&t.id, true).await.unwrap(),
        Some(t.clone())
    );
    let listed = st
        .list_transformations(&TransformationFilter::default(), &page())
        .await
        .unwrap();
    assert_eq!(listed.count, 1);
    assert_eq!(
        listed.models[0].module, t.module,
        "listings carry the module (Hookdeck's `code`)"
    );
    assert_eq!(
        st.find_transformation_by_name("strip")
            .await
            .unwrap()
            .map(|x| x.id),
        Some(t.id.clone())
    );
    let mut changed = t.clone();
    changed.module = Some(b"\0asm-two".to_vec());
    changed.module_hash = hookyard::transform::module_hash(b"\0asm-two");
    changed.timeout_ms = Some(10);
    changed.updated_at = T0 + 1;
    st.update_transformation(&changed).await.unwrap();
    assert_eq!(
        st.get_transformation(&t.id, true).await.unwrap(),
        Some(changed)
    );

    let good = execution(&t, true, Some("req_a"), None);
    let bad = execution(&t, false, Some("req_b"), Some("evt_b"));
    st.insert_execution(&good).await.unwrap();
    st.insert_execution(&bad).await.unwrap();
    let got = st.get_execution(&bad.id).await.unwrap().unwrap();
    assert_eq!(got.logs, bad.logs);
    assert!(
        got.error.unwrap().contains("boom"),
        "{}: NUL stored",
        b.name
    );
    let f = ExecutionFilter {
        transformation_id: Some(t.id.clone()),
        ok: Some(false),
        ..Default::default()
    };
    let failed = st.list_executions(&f, &page()).await.unwrap();
    assert_eq!(
        failed.models.iter().map(|e| &e.id).collect::<Vec<_>>(),
        vec![&bad.id]
    );
    let by_event = ExecutionFilter {
        event_id: Some("evt_b".into()),
        ..Default::default()
    };
    assert_eq!(
        st.list_executions(&by_event, &page()).await.unwrap().count,
        1
    );
}

#[tokio::test]
async fn transformations_and_executions_are_stored() {
    for b in backends().await {
        records_body(&b).await;
    }
}

async fn prepared_routes_body(b: &Backend) {
    let st = &b.store;
    let s = Source::new(new_id(IdKind::Source), "src".into(), T0);
    let d = Destination::new(
        new_id(IdKind::Destination),
        "dst".into(),
        Some("http://127.0.0.1:9".into()),
        T0,
    );
    let t = transformation("t", b"m");
    st.insert_transformation(&t).await.unwrap();
    let c = Connection {
        id: new_id(IdKind::Connection),
        name: Some("c".into()),
        description: None,
        source_id: s.id.clone(),
        destination_id: d.id.clone(),
        rules: vec![Rule::Transform {
            transformation_id: Some(t.id.clone()),
            transformation: None,
        }],
        topics: None,
        disabled_at: None,
        paused_at: None,
        created_at: T0,
        updated_at: T0,
    };
    st.insert_connection(&c, Some(&s), Some(&d)).await.unwrap();
    let mut ids = Vec::new();
    for body in [&b"ok"[..], b"bad"] {
        let r = NewRequest {
            envelope: Envelope {
                id: new_id(IdKind::Request),
                source: s.name.clone(),
                received_at_ms: T0,
                method: "POST".into(),
                path: "/".into(),
                query: String::new(),
                headers: vec![("x".into(), "1".into())],
                body: body.to_vec(),
            },
            source_id: s.id.clone(),
            verified: None,
            rejection_cause: None,
            route: None,
            topic: None,
            dedup_key: None,
        };
        ids.push(r.envelope.id.clone());
        st.insert_requests(&[r], T0).await.unwrap();
    }
    let (pending, conns) = st.unrouted_requests(10).await.unwrap();
    assert_eq!(
        pending.iter().map(|r| &r.id).collect::<Vec<_>>(),
        ids.iter().collect::<Vec<_>>()
    );
    assert_eq!(pending[0].body.as_deref(), Some(&b"ok"[..]));
    assert_eq!(conns[&s.id], vec![c.clone()]);

    let event = |status| NewEvent {
        id: new_id(IdKind::Event),
        connection_id: c.id.clone(),
        destination_id: d.id.clone(),
        status,
        next_attempt_at: T0,
        lease_until: None,
    };
    let (ok_event, bad_event) = (event(EventStatus::Queued), event(EventStatus::Failed));
    let transformed = HttpRequest {
        method: "PUT".into(),
        path: "/new".into(),
        query: "q=1".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: vec![0, 159, b'{'],
    };
    let routes = vec![
        PreparedRoute {
            request_id: ids[0].clone(),
            source_id: s.id.clone(),
            route: RouteResult {
                events: vec![ok_event.clone()],
                ..Default::default()
            },
            failed_events: vec![],
            event_data: vec![(ok_event.id.clone(), transformed.clone())],
            executions: vec![execution(&t, true, Some(&ids[0]), Some(&ok_event.id))],
        },
        PreparedRoute {
            request_id: ids[1].clone(),
            source_id: s.id.clone(),
            route: RouteResult {
                events: vec![bad_event.clone()],
                ..Default::default()
            },
            failed_events: vec![bad_event.id.clone()],
            event_data: vec![],
            executions: vec![execution(&t, false, Some(&ids[1]), Some(&bad_event.id))],
        },
    ];
    assert_eq!(st.store_prepared_routes(&routes, T0).await.unwrap(), (2, 2));
    // Stored once: a second router with the same decisions stores nothing.
    assert_eq!(st.store_prepared_routes(&routes, T0).await.unwrap(), (0, 0));
    assert!(st.unrouted_requests(10).await.unwrap().0.is_empty());

    let failed = st.get_event(&bad_event.id).await.unwrap().unwrap();
    assert_eq!(failed.status, EventStatus::Failed);
    assert_eq!(failed.error_code.as_deref(), Some("TRANSFORMATION_FAILED"));
    assert_eq!(failed.next_attempt_at, None);
    let f = ExecutionFilter {
        transformation_id: Some(t.id.clone()),
        ..Default::default()
    };
    assert_eq!(
        st.list_executions(&f, &page()).await.unwrap().count,
        2,
        "{}",
        b.name
    );

    // The dispatcher gets the transformed request of the event, not the original.
    let due = st
        .lease_due_events_in(
            T0 + 1,
            10,
            T0 + 60_000,
            &hookyard::store::LeaseScope::All,
            &[],
        )
        .await
        .unwrap();
    assert_eq!(due.len(), 1, "{}: only the good event is due", b.name);
    assert_eq!(due[0].event.id, ok_event.id);
    assert_eq!(due[0].request.path, "/new");
    assert_eq!(due[0].request.method, "PUT");
    assert_eq!(due[0].request.body.as_deref(), Some(&[0u8, 159, b'{'][..]));
    let original = st.get_request(&ids[0], true).await.unwrap().unwrap();
    assert_eq!(
        original.body.as_deref(),
        Some(&b"ok"[..]),
        "the request stays as received"
    );
}

#[tokio::test]
async fn prepared_routes_store_failed_events_data_and_executions_once() {
    for b in backends().await {
        prepared_routes_body(&b).await;
    }
}
