//! Store conformance suite: every test runs, with the same code, against SQLite (a
//! fresh file in a temp dir) and PostgreSQL (a fresh database on 127.0.0.1:5432; see
//! `common::pg` for what happens when the server is not there).

use crate::common;

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};

use common::Backend;
use hookyard::clock::new_id;
use hookyard::model::{
    ApiKeyConfig, ApiKeyLocation, Attempt, AttemptStatus, AttemptTrigger, AuthMethod,
    BasicAuthConfig, Connection, CustomContentType, CustomResponse, Destination, Event,
    EventStatus, IgnoredEvent, NewEvent, NewRequest, PreparedRoute, RateLimitPeriod,
    RejectionCause, RequestRecord, RouteResult, Rule, Source,
};
use hookyard::store::{
    AttemptFilter, AttemptOutcome, ConnectionFilter, DestinationFilter, Direction, EventFilter,
    Page, PageQuery, RequestFilter, RetryOutcome, SourceFilter, Store, StoreError,
};
use hookyard_core::backoff::RetryStrategy;
use hookyard_core::envelope::Envelope;
use hookyard_core::id::IdKind;
use serde_json::json;

/// A fixed "now" for the records the tests make; times below are offsets from it.
const T0: i64 = 1_700_000_000_000;

conformance! {
    sources_crud => sources_crud_body;
    destinations_crud => destinations_crud_body;
    connections_crud => connections_crud_body;
    insert_connection_is_atomic => insert_connection_is_atomic_body;
    pagination => pagination_body;
    insert_requests_is_idempotent_and_exact => insert_requests_body;
    routing_write_stores_events => route_pending_body;
    lease_due_events => lease_due_events_body;
    record_attempts => record_attempts_body;
    requests_and_attempt_results_in_one_transaction => requests_with_results_body;
    retry_event => retry_event_body;
    add_events_to_a_routed_request => add_events_body;
    requests_stored_with_their_routes => routed_insert_body;
    events_stored_leased_only_where_the_lease_query_would_take_them => leased_insert_body;
    concurrent_leases_never_overlap => concurrent_leases_body;
    concurrent_routing_routes_each_request_once => concurrent_routing_body;
}

// ---------------------------------------------------------------------------------
// The store's routing writes, as production calls them
// ---------------------------------------------------------------------------------

/// Routes up to `limit` unrouted requests with `route` deciding, through the
/// calls the router worker makes: `unrouted_requests`, then
/// `store_prepared_routes` (which writes only requests still unrouted).
async fn route_pending(
    st: &Store,
    limit: i64,
    now: i64,
    route: &(dyn Fn(&RequestRecord, &[Connection]) -> RouteResult + Sync),
) -> hookyard::store::StoreResult<(usize, usize)> {
    let (pending, by_source) = st.unrouted_requests(limit).await?;
    let routes: Vec<PreparedRoute> = pending
        .iter()
        .map(|r| PreparedRoute {
            request_id: r.id.clone(),
            source_id: r.source_id.clone(),
            route: route(
                r,
                by_source
                    .get(&r.source_id)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]),
            ),
            ..Default::default()
        })
        .collect();
    st.store_prepared_routes(&routes, now).await
}

/// Adds `events` to a routed request, as a manual request retry does.
async fn add_events(
    st: &Store,
    request_id: &str,
    source_id: &str,
    events: &[NewEvent],
    now: i64,
) -> hookyard::store::StoreResult<Vec<Event>> {
    let route = PreparedRoute {
        request_id: request_id.to_owned(),
        source_id: source_id.to_owned(),
        route: RouteResult {
            events: events.to_vec(),
            ..Default::default()
        },
        ..Default::default()
    };
    st.add_events(&route, now).await
}

// ---------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------

fn source(name: &str) -> Source {
    Source::new(new_id(IdKind::Source), name.to_owned(), T0)
}

fn destination(name: &str) -> Destination {
    let url = Some(format!("https://example.com/{name}"));
    Destination::new(new_id(IdKind::Destination), name.to_owned(), url, T0)
}

fn connection(s: &Source, d: &Destination, name: Option<&str>) -> Connection {
    Connection {
        id: new_id(IdKind::Connection),
        name: name.map(str::to_owned),
        description: None,
        source_id: s.id.clone(),
        destination_id: d.id.clone(),
        rules: Vec::new(),
        topics: None,
        disabled_at: None,
        paused_at: None,
        created_at: T0,
        updated_at: T0,
    }
}

fn request(s: &Source, body: &[u8], headers: &[(&str, &str)]) -> NewRequest {
    NewRequest {
        envelope: Envelope {
            id: new_id(IdKind::Request),
            source: s.name.clone(),
            received_at_ms: T0 - 5,
            method: "POST".into(),
            path: "/hook/a b".into(),
            query: "a=1&a=2".into(),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.to_vec(),
        },
        source_id: s.id.clone(),
        verified: Some(true),
        rejection_cause: None,
        route: None,
        topic: None,
        dedup_key: None,
    }
}

fn new_event(c: &Connection, status: EventStatus, next_attempt_at: i64) -> NewEvent {
    NewEvent {
        id: new_id(IdKind::Event),
        connection_id: c.id.clone(),
        destination_id: c.destination_id.clone(),
        status,
        next_attempt_at,
        lease_until: None,
    }
}

fn page(limit: i64) -> PageQuery {
    PageQuery {
        limit,
        ..Default::default()
    }
}

fn sorted<T: Ord + Clone>(v: &[T]) -> Vec<T> {
    let mut v = v.to_vec();
    v.sort();
    v
}

fn source_ids(p: &Page<Source>) -> Vec<String> {
    p.models.iter().map(|m| m.id.clone()).collect()
}

fn expect_conflict<T: std::fmt::Debug>(what: &str, r: Result<T, StoreError>) {
    match r {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("{what}: expected StoreError::Conflict, got {other:?}"),
    }
}

/// A source, a destination and a connection between them.
struct World {
    s: Source,
    d: Destination,
    c: Connection,
}

async fn world(st: &Store, tag: &str) -> World {
    let s = source(&format!("src-{tag}"));
    let d = destination(&format!("dst-{tag}"));
    let c = connection(&s, &d, Some(&format!("conn-{tag}")));
    st.insert_connection(&c, Some(&s), Some(&d)).await.unwrap();
    World { s, d, c }
}

/// Stores a request for `s` and routes it (with no events), as ingest + routing
/// would before a manual retry adds events to it.
async fn routed_request(st: &Store, s: &Source, body: &[u8]) -> RequestRecord {
    let r = request(s, body, &[("content-type", "application/octet-stream")]);
    assert_eq!(
        st.insert_requests(std::slice::from_ref(&r), T0)
            .await
            .unwrap(),
        vec![r.envelope.id.clone()]
    );
    let nothing = |_: &RequestRecord, _: &[Connection]| RouteResult::default();
    route_pending(st, 100, T0, &nothing).await.unwrap();
    let rec = st
        .get_request(&r.envelope.id, false)
        .await
        .unwrap()
        .unwrap();
    assert!(rec.routed);
    rec
}

async fn lease_ids(st: &Store, now: i64, limit: i64, lease_until: i64) -> Vec<String> {
    st.lease_due_events(now, limit, lease_until)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.event.id)
        .collect()
}

async fn event(st: &Store, id: &str) -> Event {
    st.get_event(id)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("event {id} missing"))
}

// ---------------------------------------------------------------------------------
// 1. Sources, destinations, connections
// ---------------------------------------------------------------------------------

async fn sources_crud_body(b: &Backend) {
    let st = &*b.store;
    let mut stripe = Source {
        description: Some("Stripe events".into()),
        allowed_http_methods: Some(vec!["POST".into(), "PUT".into()]),
        custom_response: Some(CustomResponse {
            content_type: CustomContentType::Json,
            body: r#"{"ok":true}"#.into(),
        }),
        verification: Some(json!({"type": "stripe", "configs": {"webhook_secret_key": "whsec_1"}})),
        max_body_bytes: Some(1 << 20),
        ..source("stripe")
    };
    let github = source("github");
    st.insert_source(&stripe).await.unwrap();
    st.insert_source(&github).await.unwrap();

    assert_eq!(
        st.get_source(&stripe.id).await.unwrap(),
        Some(stripe.clone())
    );
    assert_eq!(
        st.get_source(&github.id).await.unwrap(),
        Some(github.clone())
    );
    assert_eq!(
        st.find_source_by_name("stripe").await.unwrap(),
        Some(stripe.clone())
    );
    assert_eq!(st.find_source_by_name("nope").await.unwrap(), None);
    assert_eq!(st.get_source(&new_id(IdKind::Source)).await.unwrap(), None);

    // Names are unique.
    let dup = source("stripe");
    expect_conflict("insert a second 'stripe'", st.insert_source(&dup).await);
    assert_eq!(st.get_source(&dup.id).await.unwrap(), None);

    // Update: every field but id and created_at changes.
    stripe.name = "stripe-live".into();
    stripe.description = None;
    stripe.allowed_http_methods = None;
    stripe.custom_response = Some(CustomResponse {
        content_type: CustomContentType::Text,
        body: "thanks".into(),
    });
    stripe.verification = None;
    stripe.max_body_bytes = Some(42);
    stripe.disabled_at = Some(T0 + 5);
    stripe.updated_at = T0 + 10;
    st.update_source(&stripe).await.unwrap();
    let got = st.get_source(&stripe.id).await.unwrap().unwrap();
    assert_eq!(got, stripe);
    assert_eq!(got.created_at, T0);
    assert_eq!(got.updated_at, T0 + 10);
    assert_eq!(st.find_source_by_name("stripe").await.unwrap(), None);
    assert_eq!(
        st.find_source_by_name("stripe-live").await.unwrap(),
        Some(stripe.clone())
    );

    // Renaming onto a taken name conflicts and changes nothing.
    let renamed = Source {
        name: "stripe-live".into(),
        updated_at: T0 + 20,
        ..github.clone()
    };
    expect_conflict(
        "rename github to stripe-live",
        st.update_source(&renamed).await,
    );
    assert_eq!(
        st.get_source(&github.id).await.unwrap(),
        Some(github.clone())
    );

    // Listing with filters.
    let all = st
        .list_sources(&SourceFilter::default(), &page(10))
        .await
        .unwrap();
    assert_eq!(all.count, 2);
    assert_eq!(source_ids(&all), {
        let mut v = sorted(&[stripe.id.clone(), github.id.clone()]);
        v.reverse();
        v
    });
    for (f, want) in [
        (
            SourceFilter {
                disabled: Some(true),
                ..Default::default()
            },
            vec![stripe.id.clone()],
        ),
        (
            SourceFilter {
                disabled: Some(false),
                ..Default::default()
            },
            vec![github.id.clone()],
        ),
        (
            SourceFilter {
                name: Some("github".into()),
                ..Default::default()
            },
            vec![github.id.clone()],
        ),
        (
            SourceFilter {
                id: Some(stripe.id.clone()),
                ..Default::default()
            },
            vec![stripe.id.clone()],
        ),
        (
            SourceFilter {
                name: Some("stripe".into()),
                ..Default::default()
            },
            vec![],
        ),
    ] {
        let p = st.list_sources(&f, &page(10)).await.unwrap();
        assert_eq!(source_ids(&p), want, "filter {f:?}");
        assert_eq!(p.count, want.len() as i64, "count for filter {f:?}");
    }

    // Delete.
    assert!(st.delete_source(&github.id).await.unwrap());
    assert!(!st.delete_source(&github.id).await.unwrap());
    assert_eq!(st.get_source(&github.id).await.unwrap(), None);
    assert_eq!(st.find_source_by_name("github").await.unwrap(), None);
    let left = st
        .list_sources(&SourceFilter::default(), &page(10))
        .await
        .unwrap();
    assert_eq!(source_ids(&left), vec![stripe.id.clone()]);
    assert_eq!(left.count, 1);
    // The name is free again.
    st.insert_source(&source("github")).await.unwrap();
}

async fn destinations_crud_body(b: &Backend) {
    let st = &*b.store;
    let mut api = Destination {
        description: Some("the API".into()),
        http_method: Some("PUT".into()),
        auth_method: Some(AuthMethod::BasicAuth(BasicAuthConfig {
            username: "u".into(),
            password: "p:w".into(),
        })),
        rate_limit: Some(10),
        rate_limit_period: Some(RateLimitPeriod::Minute),
        path_forwarding_disabled: true,
        ..destination("api")
    };
    let cli = Destination {
        url: None,
        cli_path: Some("/webhooks".into()),
        ..destination("cli")
    };
    st.insert_destination(&api).await.unwrap();
    st.insert_destination(&cli).await.unwrap();
    assert_eq!(
        st.get_destination(&api.id).await.unwrap(),
        Some(api.clone())
    );
    assert_eq!(
        st.get_destination(&cli.id).await.unwrap(),
        Some(cli.clone())
    );
    assert_eq!(
        st.find_destination_by_name("cli").await.unwrap(),
        Some(cli.clone())
    );
    assert_eq!(st.find_destination_by_name("nope").await.unwrap(), None);

    expect_conflict(
        "insert a second 'api'",
        st.insert_destination(&destination("api")).await,
    );

    api.name = "api-v2".into();
    api.url = Some("https://example.com/v2".into());
    api.http_method = None;
    api.auth_method = Some(AuthMethod::ApiKey(ApiKeyConfig {
        key: "x-api-key".into(),
        api_key: "k".into(),
        to: ApiKeyLocation::Query,
    }));
    api.rate_limit = None;
    api.rate_limit_period = None;
    api.path_forwarding_disabled = false;
    api.disabled_at = Some(T0 + 1);
    api.updated_at = T0 + 2;
    st.update_destination(&api).await.unwrap();
    assert_eq!(
        st.get_destination(&api.id).await.unwrap(),
        Some(api.clone())
    );
    assert_eq!(st.find_destination_by_name("api").await.unwrap(), None);

    expect_conflict(
        "rename cli to api-v2",
        st.update_destination(&Destination {
            name: "api-v2".into(),
            ..cli.clone()
        })
        .await,
    );
    assert_eq!(
        st.get_destination(&cli.id).await.unwrap(),
        Some(cli.clone())
    );

    let list = |f: DestinationFilter| async move {
        let p = st.list_destinations(&f, &page(10)).await.unwrap();
        assert_eq!(p.count, p.models.len() as i64, "count for {f:?}");
        p.models.into_iter().map(|d| d.id).collect::<Vec<_>>()
    };
    let mut both = sorted(&[api.id.clone(), cli.id.clone()]);
    both.reverse();
    assert_eq!(list(DestinationFilter::default()).await, both);
    assert_eq!(
        list(DestinationFilter {
            url: Some("https://example.com/v2".into()),
            ..Default::default()
        })
        .await,
        vec![api.id.clone()]
    );
    assert_eq!(
        list(DestinationFilter {
            disabled: Some(false),
            ..Default::default()
        })
        .await,
        vec![cli.id.clone()]
    );
    assert_eq!(
        list(DestinationFilter {
            name: Some("api-v2".into()),
            disabled: Some(true),
            ..Default::default()
        })
        .await,
        vec![api.id.clone()]
    );

    assert!(st.delete_destination(&cli.id).await.unwrap());
    assert!(!st.delete_destination(&cli.id).await.unwrap());
    assert_eq!(st.get_destination(&cli.id).await.unwrap(), None);
    assert_eq!(
        list(DestinationFilter::default()).await,
        vec![api.id.clone()]
    );
}

async fn connections_crud_body(b: &Backend) {
    let st = &*b.store;
    let s1 = source("s1");
    let s2 = source("s2");
    let d1 = destination("d1");
    let d2 = destination("d2");
    for s in [&s1, &s2] {
        st.insert_source(s).await.unwrap();
    }
    for d in [&d1, &d2] {
        st.insert_destination(d).await.unwrap();
    }

    let mut c1 = Connection {
        description: Some("first".into()),
        rules: vec![
            Rule::Retry {
                strategy: RetryStrategy::Exponential,
                interval: Some(1000),
                count: Some(5),
                response_status_codes: Some(vec!["500-599".into(), "!501".into()]),
            },
            Rule::Filter {
                headers: None,
                body: Some(json!({"type": "invoice.paid"})),
                query: None,
                path: None,
            },
            Rule::Delay { delay: 2500 },
        ],
        ..connection(&s1, &d1, Some("main"))
    };
    st.insert_connection(&c1, None, None).await.unwrap();
    assert_eq!(st.get_connection(&c1.id).await.unwrap(), Some(c1.clone()));
    assert_eq!(
        st.get_connection(&new_id(IdKind::Connection))
            .await
            .unwrap(),
        None
    );

    // Names are unique per source: the same name on s1 conflicts, on s2 it does not.
    expect_conflict(
        "second 'main' on s1",
        st.insert_connection(&connection(&s1, &d2, Some("main")), None, None)
            .await,
    );
    let c2 = connection(&s2, &d1, Some("main"));
    st.insert_connection(&c2, None, None).await.unwrap();
    let c3 = connection(&s1, &d2, Some("other"));
    st.insert_connection(&c3, None, None).await.unwrap();

    // A connection must point at a source and a destination that exist.
    let ghost_d = destination("ghost");
    let dangling = connection(&s1, &ghost_d, Some("dangling"));
    assert!(
        st.insert_connection(&dangling, None, None).await.is_err(),
        "a connection to a missing destination was stored"
    );
    let ghost_s = source("ghost");
    let dangling = connection(&ghost_s, &d1, Some("dangling"));
    assert!(
        st.insert_connection(&dangling, None, None).await.is_err(),
        "a connection from a missing source was stored"
    );
    assert_eq!(st.get_connection(&dangling.id).await.unwrap(), None);

    // Update.
    c1.name = Some("renamed".into());
    c1.description = None;
    c1.rules = vec![Rule::Delay { delay: 10 }];
    c1.paused_at = Some(T0 + 3);
    c1.disabled_at = Some(T0 + 4);
    c1.updated_at = T0 + 5;
    st.update_connection(&c1).await.unwrap();
    let got = st.get_connection(&c1.id).await.unwrap().unwrap();
    assert_eq!(got, c1);
    assert_eq!((got.created_at, got.updated_at), (T0, T0 + 5));
    expect_conflict(
        "rename c3 onto c1's name",
        st.update_connection(&Connection {
            name: Some("renamed".into()),
            ..c3.clone()
        })
        .await,
    );
    assert_eq!(st.get_connection(&c3.id).await.unwrap(), Some(c3.clone()));

    // Listing.
    assert_eq!(
        st.connections_of_source(&s1.id)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect::<Vec<_>>(),
        sorted(&[c1.id.clone(), c3.id.clone()])
    );
    let list = |f: ConnectionFilter| async move {
        let p = st.list_connections(&f, &page(10)).await.unwrap();
        assert_eq!(p.count, p.models.len() as i64, "count for {f:?}");
        sorted(&p.models.into_iter().map(|c| c.id).collect::<Vec<_>>())
    };
    assert_eq!(
        list(ConnectionFilter::default()).await,
        sorted(&[c1.id.clone(), c2.id.clone(), c3.id.clone()])
    );
    assert_eq!(
        list(ConnectionFilter {
            source_id: Some(s1.id.clone()),
            ..Default::default()
        })
        .await,
        sorted(&[c1.id.clone(), c3.id.clone()])
    );
    assert_eq!(
        list(ConnectionFilter {
            destination_id: Some(d1.id.clone()),
            ..Default::default()
        })
        .await,
        sorted(&[c1.id.clone(), c2.id.clone()])
    );
    assert_eq!(
        list(ConnectionFilter {
            name: Some("main".into()),
            ..Default::default()
        })
        .await,
        vec![c2.id.clone()]
    );
    assert_eq!(
        list(ConnectionFilter {
            paused: Some(true),
            ..Default::default()
        })
        .await,
        vec![c1.id.clone()]
    );
    assert_eq!(
        list(ConnectionFilter {
            disabled: Some(false),
            source_id: Some(s1.id.clone()),
            ..Default::default()
        })
        .await,
        vec![c3.id.clone()]
    );

    // Deleting a source deletes its connections, and only those.
    assert!(st.delete_source(&s1.id).await.unwrap());
    assert_eq!(st.get_connection(&c1.id).await.unwrap(), None);
    assert_eq!(st.get_connection(&c3.id).await.unwrap(), None);
    assert!(st.connections_of_source(&s1.id).await.unwrap().is_empty());
    assert_eq!(st.get_connection(&c2.id).await.unwrap(), Some(c2.clone()));
    // Its destinations stay.
    assert!(st.get_destination(&d2.id).await.unwrap().is_some());

    // Deleting a destination deletes the connections to it.
    let c4 = connection(&s2, &d2, Some("to-d2"));
    st.insert_connection(&c4, None, None).await.unwrap();
    assert!(st.delete_destination(&d1.id).await.unwrap());
    assert_eq!(st.get_connection(&c2.id).await.unwrap(), None);
    assert_eq!(st.get_connection(&c4.id).await.unwrap(), Some(c4.clone()));

    // Deleting a connection.
    assert!(st.delete_connection(&c4.id).await.unwrap());
    assert!(!st.delete_connection(&c4.id).await.unwrap());
    assert_eq!(
        list(ConnectionFilter::default()).await,
        Vec::<String>::new()
    );
    assert!(st.get_source(&s2.id).await.unwrap().is_some());
}

async fn insert_connection_is_atomic_body(b: &Backend) {
    let st = &*b.store;
    let w = world(st, "a").await;
    // Inline creation stores all three.
    assert_eq!(st.get_source(&w.s.id).await.unwrap(), Some(w.s.clone()));
    assert_eq!(
        st.get_destination(&w.d.id).await.unwrap(),
        Some(w.d.clone())
    );
    assert_eq!(st.get_connection(&w.c.id).await.unwrap(), Some(w.c.clone()));

    // A duplicate connection name (on the existing source) fails the connection:
    // the inline new destination must not be left behind.
    let d_new = destination("inline-d");
    let dup_name = connection(&w.s, &d_new, w.c.name.as_deref());
    expect_conflict(
        "duplicate connection name with an inline destination",
        st.insert_connection(&dup_name, None, Some(&d_new)).await,
    );
    assert_eq!(st.get_destination(&d_new.id).await.unwrap(), None);
    assert_eq!(st.find_destination_by_name("inline-d").await.unwrap(), None);
    assert_eq!(st.get_connection(&dup_name.id).await.unwrap(), None);

    // A duplicate connection id fails after the inline source and destination were
    // written: neither may remain.
    let s_new = source("inline-s");
    let d_new = destination("inline-d");
    let dup_id = Connection {
        id: w.c.id.clone(),
        ..connection(&s_new, &d_new, Some("fresh"))
    };
    assert!(
        st.insert_connection(&dup_id, Some(&s_new), Some(&d_new))
            .await
            .is_err(),
        "a connection with a taken id must not be inserted"
    );
    assert_eq!(st.get_source(&s_new.id).await.unwrap(), None);
    assert_eq!(st.find_source_by_name("inline-s").await.unwrap(), None);
    assert_eq!(st.get_destination(&d_new.id).await.unwrap(), None);
    assert_eq!(st.get_connection(&w.c.id).await.unwrap(), Some(w.c.clone()));

    // An inline source whose name is taken: conflict, and no destination/connection.
    let s_taken = source(&w.s.name);
    let d_new = destination("inline-d2");
    let c = connection(&s_taken, &d_new, Some("x"));
    expect_conflict(
        "inline source with a taken name",
        st.insert_connection(&c, Some(&s_taken), Some(&d_new)).await,
    );
    assert_eq!(st.get_destination(&d_new.id).await.unwrap(), None);
    assert_eq!(st.get_connection(&c.id).await.unwrap(), None);

    // After the failures the store still works, and only the first world is there.
    let w2 = world(st, "b").await;
    let sources = st
        .list_sources(&SourceFilter::default(), &page(10))
        .await
        .unwrap();
    assert_eq!(sources.count, 2);
    assert_eq!(
        sorted(&source_ids(&sources)),
        sorted(&[w.s.id.clone(), w2.s.id.clone()])
    );
    let dests = st
        .list_destinations(&DestinationFilter::default(), &page(10))
        .await
        .unwrap();
    assert_eq!(dests.count, 2);
}

// ---------------------------------------------------------------------------------
// 2. Pagination
// ---------------------------------------------------------------------------------

/// Walks a listing forward with `next` and back with `prev`, checking each page
/// against `expected` (all matching ids, in the listing's order).
async fn walk_sources(
    st: &Store,
    f: &SourceFilter,
    dir: Direction,
    limit: usize,
    expected: &[String],
) {
    let chunks: Vec<Vec<String>> = expected.chunks(limit).map(<[String]>::to_vec).collect();
    let mut q = PageQuery {
        limit: limit as i64,
        dir,
        ..Default::default()
    };
    let mut pages = Vec::new();
    loop {
        let p = st.list_sources(f, &q).await.unwrap();
        assert_eq!(p.count, expected.len() as i64, "count on every page");
        let at_start = pages.is_empty();
        pages.push(source_ids(&p));
        assert!(
            pages.len() <= chunks.len(),
            "more pages than expected: {pages:?}"
        );
        assert_eq!(p.prev.is_none(), at_start, "prev only after the first page");
        match p.next {
            Some(n) => {
                q = PageQuery {
                    limit: limit as i64,
                    dir,
                    next: Some(n),
                    prev: None,
                    ..Default::default()
                }
            }
            None => {
                q = PageQuery {
                    limit: limit as i64,
                    dir,
                    next: None,
                    prev: p.prev,
                    ..Default::default()
                };
                break;
            }
        }
    }
    assert_eq!(pages, chunks, "pages forward ({dir:?}, limit {limit})");
    let all: Vec<String> = pages.concat();
    assert_eq!(all.len(), all.iter().collect::<HashSet<_>>().len());

    // And back to the start.
    let mut i = chunks.len() - 1;
    while i > 0 {
        i -= 1;
        let p = st.list_sources(f, &q).await.unwrap();
        assert_eq!(p.count, expected.len() as i64);
        assert_eq!(source_ids(&p), chunks[i], "page {i} going back ({dir:?})");
        assert!(p.next.is_some(), "a page before the last has a next");
        assert_eq!(
            p.prev.is_none(),
            i == 0,
            "prev is None only on the first page"
        );
        q = PageQuery {
            limit: limit as i64,
            dir,
            next: None,
            prev: p.prev,
            ..Default::default()
        };
    }
}

async fn pagination_body(b: &Backend) {
    let st = &*b.store;
    let mut ids = Vec::new();
    for i in 0..7 {
        let s = Source {
            disabled_at: (i % 3 == 0).then_some(T0),
            ..source(&format!("page-{i}"))
        };
        st.insert_source(&s).await.unwrap();
        ids.push(s.id);
        // Ids of one millisecond order randomly; a pause keeps them in creation order.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let asc = sorted(&ids);
    assert_eq!(asc, ids, "ids sort by creation time");
    let desc: Vec<String> = asc.iter().rev().cloned().collect();
    let all = SourceFilter::default();

    walk_sources(st, &all, Direction::Desc, 3, &desc).await;
    walk_sources(st, &all, Direction::Asc, 3, &asc).await;
    walk_sources(st, &all, Direction::Desc, 1, &desc).await;
    walk_sources(st, &all, Direction::Asc, 7, &asc).await;
    walk_sources(st, &all, Direction::Asc, 100, &asc).await;

    // A filtered listing pages within its matches (i = 1, 2, 4, 5 are enabled).
    let enabled = SourceFilter {
        disabled: Some(false),
        ..Default::default()
    };
    let enabled_asc: Vec<String> = [1, 2, 4, 5].iter().map(|&i| ids[i].clone()).collect();
    walk_sources(st, &enabled, Direction::Asc, 2, &enabled_asc).await;
    let enabled_desc: Vec<String> = enabled_asc.iter().rev().cloned().collect();
    walk_sources(st, &enabled, Direction::Desc, 3, &enabled_desc).await;

    // The first page of a desc listing holds the newest.
    let p = st
        .list_sources(
            &all,
            &PageQuery {
                limit: 3,
                dir: Direction::Desc,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(source_ids(&p), desc[..3].to_vec());
    assert_eq!(p.next.as_deref(), Some(desc[2].as_str()));
    assert_eq!(p.prev, None);
    assert_eq!(p.count, 7);
}

// ---------------------------------------------------------------------------------
// 3. insert_requests
// ---------------------------------------------------------------------------------

async fn insert_requests_body(b: &Backend) {
    let st = &*b.store;
    let w = world(st, "r").await;
    let binary: Vec<u8> = vec![0, 0xff, 0xfe, 0x80, b'{', 0xc3, 0x28, 0, b'\n', 0xed, 0xa0];
    let every_byte: Vec<u8> = (0..64 * 1024).map(|i| (i % 256) as u8).collect();
    let headers = [
        ("x-dup", "1"),
        ("content-type", "application/json"),
        ("x-dup", "2"),
        ("X-Case", "Kept"),
        ("x-dup", ""),
    ];
    let r_bin = request(&w.s, &binary, &headers);
    let r_empty = NewRequest {
        verified: None,
        ..request(&w.s, b"", &[])
    };
    let r_big = NewRequest {
        verified: Some(false),
        ..request(&w.s, &every_byte, &[("x", "y")])
    };
    let batch = vec![r_bin.clone(), r_empty.clone(), r_big.clone()];
    let batch_ids: Vec<String> = batch.iter().map(|r| r.envelope.id.clone()).collect();

    let new = st.insert_requests(&batch, T0).await.unwrap();
    assert_eq!(sorted(&new), sorted(&batch_ids));
    // Redelivered: nothing is new, nothing is duplicated.
    assert_eq!(
        st.insert_requests(&batch, T0 + 1).await.unwrap(),
        Vec::<String>::new()
    );
    // A batch mixing old and new ids returns the new ones only, also when an id
    // appears twice in the same batch.
    let r_new = request(&w.s, b"{\"n\":1}", &[]);
    let mixed = vec![r_bin.clone(), r_new.clone(), r_new.clone()];
    assert_eq!(
        st.insert_requests(&mixed, T0 + 2).await.unwrap(),
        vec![r_new.envelope.id.clone()]
    );
    let listed = st
        .list_requests(&RequestFilter::default(), &page(50), false)
        .await
        .unwrap();
    assert_eq!(listed.count, 4);
    assert_eq!(
        sorted(
            &listed
                .models
                .iter()
                .map(|r| r.id.clone())
                .collect::<Vec<_>>()
        ),
        sorted(&[batch_ids.clone(), vec![r_new.envelope.id.clone()]].concat())
    );
    assert!(listed.models.iter().all(|r| r.body.is_none()));

    // What was stored is what came in, byte for byte.
    for (r, verified) in [
        (&r_bin, Some(true)),
        (&r_empty, None),
        (&r_big, Some(false)),
    ] {
        let e = &r.envelope;
        let got = st.get_request(&e.id, true).await.unwrap().unwrap();
        let expected = RequestRecord {
            id: e.id.clone(),
            source_id: w.s.id.clone(),
            method: "POST".into(),
            path: "/hook/a b".into(),
            query: "a=1&a=2".into(),
            headers: e.headers.clone(),
            body: Some(e.body.clone()),
            body_size: e.body.len() as i64,
            verified,
            rejection_cause: None,
            topic: None,
            events_count: 0,
            ignored_count: 0,
            routed: false,
            received_at: T0 - 5,
            created_at: T0,
            updated_at: T0,
        };
        assert_eq!(got, expected, "request {}", e.id);
        let no_body = st.get_request(&e.id, false).await.unwrap().unwrap();
        assert_eq!(no_body.body, None);
        assert_eq!(no_body.body_size, e.body.len() as i64);
    }
    let got = st
        .get_request(&r_bin.envelope.id, true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.body.as_deref(), Some(&binary[..]));
    assert_eq!(
        got.headers,
        vec![
            ("x-dup".to_owned(), "1".to_owned()),
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-dup".to_owned(), "2".to_owned()),
            ("X-Case".to_owned(), "Kept".to_owned()),
            ("x-dup".to_owned(), "".to_owned()),
        ]
    );
    let empty = st
        .get_request(&r_empty.envelope.id, true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(empty.body, Some(Vec::new()));
    assert_eq!(empty.headers, Vec::<(String, String)>::new());
    assert_eq!(
        st.get_request(&new_id(IdKind::Request), true)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        st.insert_requests(&[], T0).await.unwrap(),
        Vec::<String>::new()
    );

    // Text with a NUL (axum's Path extractor decodes `%00`; an edge may send
    // anything) is stored the same on both backends (PostgreSQL TEXT cannot hold
    // NUL), and does not fail the other requests of its batch.
    let mut nul = request(&w.s, b"\0", &[("x-nul", "a\0b")]);
    nul.envelope.path = "/a\0b".into();
    nul.envelope.query = "q=\0".into();
    let fine = request(&w.s, b"fine", &[]);
    let ids = st
        .insert_requests(&[nul.clone(), fine.clone()], T0)
        .await
        .expect("a request with NUL in its text fails its batch");
    assert_eq!(ids.len(), 2);
    let got = st
        .get_request(&nul.envelope.id, true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.path, "/a\u{fffd}b");
    assert_eq!(got.query, "q=\u{fffd}");
    assert_eq!(
        got.body.as_deref(),
        Some(&b"\0"[..]),
        "bodies stay byte-exact"
    );
    assert_eq!(got.headers, vec![("x-nul".to_owned(), "a\0b".to_owned())]);
    assert!(st
        .get_request(&fine.envelope.id, false)
        .await
        .unwrap()
        .is_some());

    // More than one multi-row INSERT's worth, in one call.
    let many: Vec<NewRequest> = (0..450).map(|_| request(&w.s, b"m", &[])).collect();
    assert_eq!(st.insert_requests(&many, T0).await.unwrap().len(), 450);
    assert_eq!(st.insert_requests(&many, T0).await.unwrap().len(), 0);

    // A rejected request is stored (to be seen) but never routed.
    let rejected = NewRequest {
        verified: Some(false),
        rejection_cause: Some(RejectionCause::VerificationFailed),
        route: None,
        ..request(&w.s, b"bad signature", &[])
    };
    assert_eq!(
        st.insert_requests(std::slice::from_ref(&rejected), T0 + 3)
            .await
            .unwrap(),
        vec![rejected.envelope.id.clone()]
    );
    let got = st
        .get_request(&rejected.envelope.id, true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got.rejection_cause,
        Some(RejectionCause::VerificationFailed)
    );
    assert_eq!(got.body.as_deref(), Some(&b"bad signature"[..]));
    let seen = Mutex::new(Vec::new());
    let record = |r: &RequestRecord, _: &[Connection]| {
        seen.lock().unwrap().push(r.id.clone());
        RouteResult::default()
    };
    let (routed, events) = route_pending(st, 1000, T0 + 4, &record).await.unwrap();
    assert_eq!((routed, events), (456, 0));
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.len(), 456);
    assert!(
        !seen.contains(&rejected.envelope.id),
        "route_pending offered the rejected request"
    );
    let got = st
        .get_request(&rejected.envelope.id, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got.rejection_cause,
        Some(RejectionCause::VerificationFailed)
    );
    assert_eq!((got.events_count, got.ignored_count), (0, 0));

    let only_rejected = st
        .list_requests(
            &RequestFilter {
                rejected: Some(true),
                ..Default::default()
            },
            &page(50),
            false,
        )
        .await
        .unwrap();
    assert_eq!(only_rejected.count, 1);
    assert_eq!(only_rejected.models[0].id, rejected.envelope.id);
    let accepted = st
        .list_requests(
            &RequestFilter {
                rejected: Some(false),
                source_ids: vec![w.s.id.clone()],
                ..Default::default()
            },
            &page(50),
            false,
        )
        .await
        .unwrap();
    assert_eq!(accepted.count, 456);
    let other_source = st
        .list_requests(
            &RequestFilter {
                source_ids: vec![new_id(IdKind::Source)],
                ..Default::default()
            },
            &page(50),
            false,
        )
        .await
        .unwrap();
    assert_eq!(other_source.count, 0);
}

// ---------------------------------------------------------------------------------
// 4. route_pending
// ---------------------------------------------------------------------------------

/// Routing as the tests want it: no connection → NO_CONNECTION; a disabled
/// connection → ignored (FILTERED, with meta); any other → one QUEUED event due now.
fn route_each(now: i64) -> impl Fn(&RequestRecord, &[Connection]) -> RouteResult + Send + Sync {
    move |req, conns| {
        assert!(req.body.is_some(), "routing sees the body");
        assert!(!req.routed);
        assert!(
            conns.iter().all(|c| c.source_id == req.source_id),
            "routing sees only the request's source's connections"
        );
        if conns.is_empty() {
            return RouteResult {
                rejection: Some(RejectionCause::NoConnection),
                ..Default::default()
            };
        }
        let mut out = RouteResult::default();
        for c in conns {
            if c.disabled_at.is_some() {
                out.ignored.push(IgnoredEvent {
                    id: new_id(IdKind::IgnoredEvent),
                    request_id: req.id.clone(),
                    connection_id: c.id.clone(),
                    cause: "FILTERED".into(),
                    meta: Some(json!(["body", "headers"])),
                    created_at: now,
                });
            } else {
                out.events.push(new_event(c, EventStatus::Queued, now));
            }
        }
        out
    }
}

async fn route_pending_body(b: &Backend) {
    let st = &*b.store;
    let w = world(st, "route").await;
    let d2 = destination("second");
    let c2 = connection(&w.s, &d2, Some("second"));
    st.insert_connection(&c2, None, Some(&d2)).await.unwrap();
    let off = Connection {
        disabled_at: Some(T0),
        ..connection(&w.s, &w.d, Some("off"))
    };
    st.insert_connection(&off, None, None).await.unwrap();
    let lonely = source("lonely");
    st.insert_source(&lonely).await.unwrap();

    // Ids of one millisecond order randomly; pauses keep r1 < r2 < r3.
    let r1 = request(&w.s, b"one", &[]);
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let r2 = request(&w.s, b"two", &[]);
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let r3 = request(&lonely, b"three", &[]);
    let reqs = vec![r1.clone(), r2.clone(), r3.clone()];
    st.insert_requests(&reqs, T0).await.unwrap();

    let now = T0 + 100;
    let route = route_each(now);
    // A limit routes at most that many, oldest first.
    let (routed, events) = route_pending(st, 1, now, &route).await.unwrap();
    assert_eq!((routed, events), (1, 2));
    let first = sorted(&[
        r1.envelope.id.clone(),
        r2.envelope.id.clone(),
        r3.envelope.id.clone(),
    ])
    .remove(0);
    assert!(st.get_request(&first, false).await.unwrap().unwrap().routed);
    let (routed, events) = route_pending(st, 100, now, &route).await.unwrap();
    let expected_events = 4 - if first == r3.envelope.id { 0 } else { 2 };
    assert_eq!((routed, events), (2, expected_events));
    // Nothing is left.
    assert_eq!(route_pending(st, 100, now, &route).await.unwrap(), (0, 0));

    for r in [&r1, &r2] {
        let id = &r.envelope.id;
        let rec = st.get_request(id, false).await.unwrap().unwrap();
        assert!(rec.routed);
        assert_eq!(rec.events_count, 2);
        assert_eq!(rec.ignored_count, 1);
        assert_eq!(rec.rejection_cause, None);
        assert_eq!(rec.updated_at, now);
        assert_eq!(rec.created_at, T0);

        let evs = st
            .list_events(
                &EventFilter {
                    request_ids: vec![id.clone()],
                    ..Default::default()
                },
                &page(50),
            )
            .await
            .unwrap();
        assert_eq!(evs.count, 2);
        let mut got: Vec<(String, String, String)> = evs
            .models
            .iter()
            .map(|e| {
                assert_eq!(&e.request_id, id);
                assert_eq!(e.source_id, w.s.id);
                assert_eq!(e.status, EventStatus::Queued);
                assert_eq!(e.attempts, 0);
                assert_eq!(e.next_attempt_at, Some(now));
                assert_eq!(e.next_trigger, AttemptTrigger::Initial);
                assert_eq!(e.last_attempt_at, None);
                assert_eq!(e.response_status, None);
                assert_eq!(e.successful_at, None);
                assert_eq!((e.created_at, e.updated_at), (now, now));
                (
                    e.source_id.clone(),
                    e.connection_id.clone(),
                    e.destination_id.clone(),
                )
            })
            .collect();
        got.sort();
        let mut want = vec![
            (w.s.id.clone(), w.c.id.clone(), w.d.id.clone()),
            (w.s.id.clone(), c2.id.clone(), d2.id.clone()),
        ];
        want.sort();
        assert_eq!(got, want);

        let ignored = st.ignored_events_of_request(id).await.unwrap();
        assert_eq!(ignored.len(), 1);
        let ig = &ignored[0];
        assert_eq!(ig.request_id, *id);
        assert_eq!(ig.connection_id, off.id);
        assert_eq!(ig.cause, "FILTERED");
        assert_eq!(ig.meta, Some(json!(["body", "headers"])));
        assert_eq!(ig.created_at, now);
    }

    // The source without connections: rejected, no events.
    let rec = st
        .get_request(&r3.envelope.id, false)
        .await
        .unwrap()
        .unwrap();
    assert!(rec.routed);
    assert_eq!(rec.rejection_cause, Some(RejectionCause::NoConnection));
    assert_eq!((rec.events_count, rec.ignored_count), (0, 0));
    assert!(st
        .ignored_events_of_request(&r3.envelope.id)
        .await
        .unwrap()
        .is_empty());

    // Event listings by connection / destination / source / status.
    let count = |f: EventFilter| async move { st.list_events(&f, &page(50)).await.unwrap().count };
    assert_eq!(count(EventFilter::default()).await, 4);
    assert_eq!(
        count(EventFilter {
            connection_ids: vec![c2.id.clone()],
            ..Default::default()
        })
        .await,
        2
    );
    assert_eq!(
        count(EventFilter {
            destination_ids: vec![w.d.id.clone()],
            ..Default::default()
        })
        .await,
        2
    );
    assert_eq!(
        count(EventFilter {
            source_ids: vec![lonely.id.clone()],
            ..Default::default()
        })
        .await,
        0
    );
    assert_eq!(
        count(EventFilter {
            statuses: vec![EventStatus::Queued],
            ..Default::default()
        })
        .await,
        4
    );
    assert_eq!(
        count(EventFilter {
            statuses: vec![EventStatus::Successful],
            ..Default::default()
        })
        .await,
        0
    );
}

// ---------------------------------------------------------------------------------
// 5. lease_due_events
// ---------------------------------------------------------------------------------

async fn lease_due_events_body(b: &Backend) {
    let st = &*b.store;
    let w = world(st, "lease").await;
    let paused = Connection {
        paused_at: Some(T0 - 10),
        ..connection(&w.s, &w.d, Some("paused"))
    };
    st.insert_connection(&paused, None, None).await.unwrap();
    let disabled_conn = Connection {
        disabled_at: Some(T0 - 10),
        ..connection(&w.s, &w.d, Some("disabled"))
    };
    st.insert_connection(&disabled_conn, None, None)
        .await
        .unwrap();
    let off_d = Destination {
        disabled_at: Some(T0 - 10),
        ..destination("off")
    };
    let to_off = connection(&w.s, &off_d, Some("to-off"));
    st.insert_connection(&to_off, None, Some(&off_d))
        .await
        .unwrap();

    let body = vec![0xde, 0xad, 0xbe, 0xef, 0];
    let req = routed_request(st, &w.s, &body).await;
    let past = new_event(&w.c, EventStatus::Queued, T0 - 1000);
    let due = new_event(&w.c, EventStatus::Scheduled, T0);
    let future = new_event(&w.c, EventStatus::Scheduled, T0 + 60_000);
    let held = new_event(&w.c, EventStatus::Hold, T0 - 2000);
    let on_paused = new_event(&paused, EventStatus::Queued, T0 - 3000);
    let on_disabled = new_event(&disabled_conn, EventStatus::Queued, T0 - 3000);
    let on_off_dest = new_event(&to_off, EventStatus::Queued, T0 - 3000);
    let all = [
        &past,
        &due,
        &future,
        &held,
        &on_paused,
        &on_disabled,
        &on_off_dest,
    ]
    .map(Clone::clone);
    add_events(st, &req.id, &w.s.id, &all, T0 - 5000)
        .await
        .unwrap();

    // The earliest due event first; the limit is respected.
    let lease1 = T0 + 30_000;
    let got = st.lease_due_events(T0, 1, lease1).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event.id, past.id);
    // The event carries its request, with the body.
    let d = &got[0];
    assert_eq!(d.event.request_id, req.id);
    assert_eq!(d.event.connection_id, w.c.id);
    assert_eq!(d.event.destination_id, w.d.id);
    assert_eq!(d.event.status, EventStatus::Queued);
    assert_eq!(d.request.id, req.id);
    assert_eq!(d.request.body.as_deref(), Some(&body[..]));
    assert_eq!(d.request.body_size, body.len() as i64);
    assert_eq!(d.request.headers, req.headers);
    assert_eq!(d.request.source_id, w.s.id);

    // The leased one is not leased again; the other due one is.
    assert_eq!(lease_ids(st, T0, 10, lease1).await, vec![due.id.clone()]);
    assert_eq!(
        lease_ids(st, T0 + 1, 10, T0 + 1 + 30_000).await,
        Vec::<String>::new()
    );
    // Not before the lease ends...
    assert_eq!(
        lease_ids(st, lease1 - 1, 10, lease1 + 30_000).await,
        Vec::<String>::new()
    );
    // ...but after it, both again (by due time), and still not the future one.
    let lease2 = T0 + 200_000;
    assert_eq!(
        lease_ids(st, lease1 + 1, 10, lease2).await,
        vec![past.id.clone(), due.id.clone()]
    );
    // The future event once due; the others are leased until lease2.
    assert_eq!(
        lease_ids(st, T0 + 60_000, 10, T0 + 90_000).await,
        vec![future.id.clone()]
    );

    // Paused connection, disabled connection, disabled destination and HOLD events
    // were never leased; unpausing the connection makes its event due.
    let paused_now = Connection {
        paused_at: None,
        updated_at: T0 + 1,
        ..paused.clone()
    };
    st.update_connection(&paused_now).await.unwrap();
    assert_eq!(
        lease_ids(st, T0 + 60_001, 10, T0 + 90_000).await,
        vec![on_paused.id.clone()]
    );
    // Re-enabling the destination does the same for its event.
    st.update_destination(&Destination {
        disabled_at: None,
        updated_at: T0 + 2,
        ..off_d.clone()
    })
    .await
    .unwrap();
    assert_eq!(
        lease_ids(st, T0 + 60_002, 10, T0 + 90_000).await,
        vec![on_off_dest.id.clone()]
    );
    // The disabled connection's event and the held one stay put.
    assert_eq!(
        sorted(&lease_ids(st, T0 + 1_000_000, 10, T0 + 2_000_000).await),
        sorted(&[
            past.id.clone(),
            due.id.clone(),
            future.id.clone(),
            on_paused.id.clone(),
            on_off_dest.id.clone(),
        ]),
        "all leases over: every active event again, not the disabled connection's or HOLD"
    );
    assert_eq!(
        lease_ids(st, T0 + 1_000_000, 10, T0 + 2_000_000).await,
        Vec::<String>::new()
    );
    let held_now = event(st, &held.id).await;
    assert_eq!(held_now.status, EventStatus::Hold);

    // Leasing changes nothing visible on the event.
    let e = event(st, &past.id).await;
    assert_eq!(e.status, EventStatus::Queued);
    assert_eq!(e.attempts, 0);
    assert_eq!(e.next_attempt_at, Some(T0 - 1000));
}

// ---------------------------------------------------------------------------------
// 6. record_attempts
// ---------------------------------------------------------------------------------

fn attempt(e: &Event, n: i64, status: AttemptStatus, code: Option<i64>, at: i64) -> Attempt {
    Attempt {
        id: new_id(IdKind::Attempt),
        event_id: e.id.clone(),
        destination_id: e.destination_id.clone(),
        attempt_number: n,
        trigger: if n == 1 {
            AttemptTrigger::Initial
        } else {
            AttemptTrigger::Automatic
        },
        status,
        response_status: code,
        response_headers: code.map(|_| {
            vec![
                ("set-cookie".to_owned(), "a=1".to_owned()),
                ("set-cookie".to_owned(), "b=2".to_owned()),
            ]
        }),
        response_body: code.map(|c| format!("status {c} ✓")),
        error_code: if status == AttemptStatus::Failed {
            Some("BAD_RESPONSE".into())
        } else {
            None
        },
        error_message: None,
        requested_url: Some("https://example.com/x?y=1".into()),
        http_method: Some("POST".into()),
        duration_ms: 12,
        bulk_retry_id: None,
        created_at: at,
    }
}

async fn record_attempts_body(b: &Backend) {
    let st = &*b.store;
    let w = world(st, "att").await;
    let req = routed_request(st, &w.s, b"{}").await;
    let evs = add_events(
        st,
        &req.id,
        &w.s.id,
        &[
            new_event(&w.c, EventStatus::Queued, T0),
            new_event(&w.c, EventStatus::Queued, T0),
        ],
        T0,
    )
    .await
    .unwrap();
    let (e, other) = (&evs[0], &evs[1]);

    let leased = lease_ids(st, T0, 10, T0 + 30_000).await;
    assert_eq!(sorted(&leased), sorted(&[e.id.clone(), other.id.clone()]));

    // A failed attempt, retried later.
    let a1 = attempt(e, 1, AttemptStatus::Failed, Some(500), T0 + 10);
    let o1 = attempt(other, 1, AttemptStatus::Failed, None, T0 + 10);
    st.record_attempts(
        &[
            AttemptOutcome {
                connection_id: String::new(),
                attempt: a1.clone(),
                status: EventStatus::Queued,
                next_attempt_at: Some(T0 + 5000),
                lease_until: T0 + 30_000,
            },
            AttemptOutcome {
                connection_id: String::new(),
                attempt: o1.clone(),
                status: EventStatus::Failed,
                next_attempt_at: None,
                lease_until: T0 + 30_000,
            },
        ],
        T0 + 20,
    )
    .await
    .unwrap();
    let got = event(st, &e.id).await;
    assert_eq!(got.status, EventStatus::Queued);
    assert_eq!(got.attempts, 1);
    assert_eq!(got.response_status, Some(500));
    assert_eq!(got.error_code.as_deref(), Some("BAD_RESPONSE"));
    assert_eq!(got.last_attempt_at, Some(T0 + 10));
    assert_eq!(got.next_attempt_at, Some(T0 + 5000));
    assert_eq!(got.next_trigger, AttemptTrigger::Automatic);
    assert_eq!(got.successful_at, None);
    assert_eq!(got.updated_at, T0 + 20);
    let got_other = event(st, &other.id).await;
    assert_eq!(got_other.status, EventStatus::Failed);
    assert_eq!(got_other.next_attempt_at, None);
    assert_eq!(got_other.response_status, None);

    // The lease is cleared: the retry is leased when due, well before lease_until.
    assert_eq!(
        lease_ids(st, T0 + 4999, 10, T0 + 60_000).await,
        Vec::<String>::new()
    );
    assert_eq!(
        lease_ids(st, T0 + 5000, 10, T0 + 60_000).await,
        vec![e.id.clone()]
    );

    // The second attempt succeeds.
    let a2 = attempt(e, 2, AttemptStatus::Successful, Some(204), T0 + 5010);
    st.record_attempts(
        &[AttemptOutcome {
            connection_id: String::new(),
            attempt: a2.clone(),
            status: EventStatus::Successful,
            next_attempt_at: None,
            lease_until: T0 + 60_000,
        }],
        T0 + 5020,
    )
    .await
    .unwrap();
    let got = event(st, &e.id).await;
    assert_eq!(got.status, EventStatus::Successful);
    assert_eq!(got.attempts, 2);
    assert_eq!(got.response_status, Some(204));
    assert_eq!(got.error_code, None);
    assert_eq!(got.last_attempt_at, Some(T0 + 5010));
    assert_eq!(got.next_attempt_at, None);
    assert_eq!(got.successful_at, Some(T0 + 5020));
    assert_eq!(got.updated_at, T0 + 5020);
    assert_eq!(got.created_at, T0);
    // Done events are not leased, whenever.
    assert_eq!(
        lease_ids(st, T0 + 10_000_000, 10, T0 + 20_000_000).await,
        Vec::<String>::new()
    );
    assert_eq!(st.next_due_at(T0, &[]).await.unwrap(), None);
    // Recording nothing is fine.
    st.record_attempts(&[], T0).await.unwrap();

    // Attempts are stored as given and listed per event.
    assert_eq!(st.get_attempt(&a1.id).await.unwrap(), Some(a1.clone()));
    assert_eq!(st.get_attempt(&a2.id).await.unwrap(), Some(a2.clone()));
    assert_eq!(st.get_attempt(&o1.id).await.unwrap(), Some(o1.clone()));
    assert_eq!(
        st.get_attempt(&new_id(IdKind::Attempt)).await.unwrap(),
        None
    );
    let mine = st
        .list_attempts(
            &AttemptFilter {
                event_ids: vec![e.id.clone()],
                ..Default::default()
            },
            &PageQuery {
                limit: 10,
                dir: Direction::Asc,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(mine.count, 2);
    let mut want = vec![a1.clone(), a2.clone()];
    want.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(mine.models, want);
    let by_dest = st
        .list_attempts(
            &AttemptFilter {
                destination_id: Some(w.d.id.clone()),
                ..Default::default()
            },
            &page(10),
        )
        .await
        .unwrap();
    assert_eq!(by_dest.count, 3);
    let none = st
        .list_attempts(
            &AttemptFilter {
                event_ids: vec![new_id(IdKind::Event)],
                ..Default::default()
            },
            &page(10),
        )
        .await
        .unwrap();
    assert_eq!((none.count, none.models.len()), (0, 0));

    // Text a destination sent back, NUL included (a binary response body read
    // lossily), is recorded the same on both backends (PostgreSQL TEXT cannot hold
    // NUL) and does not fail the batch it came in: the dispatcher retries a failed
    // batch forever.
    let third = add_events(
        st,
        &req.id,
        &w.s.id,
        &[new_event(&w.c, EventStatus::Queued, T0)],
        T0,
    )
    .await
    .unwrap()
    .remove(0);
    assert_eq!(
        lease_ids(st, T0 + 6999, 10, T0 + 90_000).await,
        vec![third.id.clone()]
    );
    let mut nul = attempt(&third, 1, AttemptStatus::Failed, Some(500), T0 + 7000);
    nul.response_body = Some("PK\0\u{3}\0".into());
    nul.error_message = Some("bad\0".into());
    st.record_attempts(
        &[AttemptOutcome {
            connection_id: String::new(),
            attempt: nul.clone(),
            status: EventStatus::Failed,
            next_attempt_at: None,
            lease_until: T0 + 90_000,
        }],
        T0 + 7001,
    )
    .await
    .expect("an attempt with NUL in its response fails its batch");
    let got = st.get_attempt(&nul.id).await.unwrap().unwrap();
    assert_eq!(
        got.response_body.as_deref(),
        Some("PK\u{fffd}\u{3}\u{fffd}")
    );
    assert_eq!(got.error_message.as_deref(), Some("bad\u{fffd}"));
    assert_eq!(event(st, &third.id).await.status, EventStatus::Failed);
}

// ---------------------------------------------------------------------------------
// 7. retry_event
// ---------------------------------------------------------------------------------

/// Ingest's commit with the attempt results waiting: both stored, or (when one
/// part fails) neither.
async fn requests_with_results_body(b: &Backend) {
    let st = &*b.store;
    let w = world(st, "rwr").await;
    let req = routed_request(st, &w.s, b"{}").await;
    let evs = add_events(
        st,
        &req.id,
        &w.s.id,
        &[new_event(&w.c, EventStatus::Queued, T0)],
        T0,
    )
    .await
    .unwrap();
    let e = &evs[0];
    assert_eq!(lease_ids(st, T0, 10, T0 + 30_000).await, vec![e.id.clone()]);
    let outcome = |a: Attempt| AttemptOutcome {
        connection_id: w.c.id.clone(),
        attempt: a,
        status: EventStatus::Successful,
        next_attempt_at: None,
        lease_until: T0 + 30_000,
    };

    let a1 = attempt(e, 1, AttemptStatus::Successful, Some(200), T0 + 10);
    let r1 = request(&w.s, b"first", &[]);
    let stored = st
        .store_requests_and_record(std::slice::from_ref(&r1), &[outcome(a1.clone())], T0 + 20)
        .await
        .unwrap();
    assert_eq!(stored.new_ids, vec![r1.envelope.id.clone()]);
    assert_eq!(st.get_attempt(&a1.id).await.unwrap(), Some(a1.clone()));
    let got = event(st, &e.id).await;
    assert_eq!(got.status, EventStatus::Successful);
    assert_eq!(got.attempts, 1);
    assert_eq!(got.successful_at, Some(T0 + 20));
    assert!(st
        .get_request(&r1.envelope.id, false)
        .await
        .unwrap()
        .is_some());

    // The same attempt again cannot be stored (its id is taken): the request that
    // came with it is not stored either, and a commit without it is.
    let r2 = request(&w.s, b"second", &[]);
    let failed = st
        .store_requests_and_record(std::slice::from_ref(&r2), &[outcome(a1.clone())], T0 + 30)
        .await;
    assert!(failed.is_err(), "{failed:?}");
    assert!(st
        .get_request(&r2.envelope.id, false)
        .await
        .unwrap()
        .is_none());
    let stored = st
        .store_requests_and_record(std::slice::from_ref(&r2), &[], T0 + 40)
        .await
        .unwrap();
    assert_eq!(stored.new_ids, vec![r2.envelope.id.clone()]);
}

async fn retry_event_body(b: &Backend) {
    let st = &*b.store;
    let w = world(st, "retry").await;
    let req = routed_request(st, &w.s, b"x").await;
    let evs = add_events(
        st,
        &req.id,
        &w.s.id,
        &[
            new_event(&w.c, EventStatus::Queued, T0),
            new_event(&w.c, EventStatus::Queued, T0),
        ],
        T0,
    )
    .await
    .unwrap();
    let (failed, leased) = (&evs[0], &evs[1]);
    assert_eq!(
        sorted(&lease_ids(st, T0, 10, T0 + 60_000).await),
        sorted(&[failed.id.clone(), leased.id.clone()])
    );
    st.record_attempts(
        &[AttemptOutcome {
            connection_id: String::new(),
            attempt: attempt(failed, 1, AttemptStatus::Failed, Some(404), T0 + 1),
            status: EventStatus::Failed,
            next_attempt_at: None,
            lease_until: T0 + 60_000,
        }],
        T0 + 2,
    )
    .await
    .unwrap();
    assert_eq!(event(st, &failed.id).await.status, EventStatus::Failed);

    let now = T0 + 1000;
    let RetryOutcome::Queued(got) = st.retry_event(&failed.id, now).await.unwrap() else {
        panic!("a failed event is retried");
    };
    assert_eq!(got.id, failed.id);
    assert_eq!(got.status, EventStatus::Queued);
    assert_eq!(got.next_attempt_at, Some(now));
    assert_eq!(got.next_trigger, AttemptTrigger::Manual);
    assert_eq!(got.updated_at, now);
    assert_eq!(got.attempts, 1, "a retry keeps the attempt count");
    assert_eq!(got.response_status, Some(404));
    assert_eq!(event(st, &failed.id).await, *got);

    // An event whose attempt is under way is not retried (it would be delivered
    // twice at once)…
    assert_eq!(
        st.retry_event(&leased.id, now).await.unwrap(),
        RetryOutcome::InFlight {
            lease_until: T0 + 60_000
        }
    );
    assert_eq!(
        event(st, &leased.id).await.next_trigger,
        AttemptTrigger::Initial
    );
    // …until its lease has run out (a delivery that died with its process).
    let later = T0 + 60_000;
    let RetryOutcome::Queued(got) = st.retry_event(&leased.id, later).await.unwrap() else {
        panic!("an expired lease does not block a retry");
    };
    assert_eq!(got.next_trigger, AttemptTrigger::Manual);
    assert_eq!(
        sorted(&lease_ids(st, later, 10, later + 30_000).await),
        sorted(&[failed.id.clone(), leased.id.clone()])
    );

    // A result that comes back after its event was retried does not overwrite it.
    st.record_attempts(
        &[AttemptOutcome {
            connection_id: String::new(),
            attempt: attempt(&got, 2, AttemptStatus::Failed, Some(500), later + 1),
            status: EventStatus::Failed,
            next_attempt_at: None,
            lease_until: T0 + 60_000,
        }],
        later + 2,
    )
    .await
    .unwrap();
    let after = event(st, &leased.id).await;
    assert_eq!(
        after.status,
        EventStatus::Queued,
        "a stale result is ignored"
    );
    assert_eq!(after.attempts, 0);

    assert_eq!(
        st.retry_event(&new_id(IdKind::Event), now).await.unwrap(),
        RetryOutcome::NotFound
    );
}

// ---------------------------------------------------------------------------------
// 8. add_events
// ---------------------------------------------------------------------------------

async fn add_events_body(b: &Backend) {
    let st = &*b.store;
    let w = world(st, "add").await;
    let r = request(&w.s, b"payload", &[]);
    st.insert_requests(std::slice::from_ref(&r), T0)
        .await
        .unwrap();
    let route = route_each(T0 + 1);
    assert_eq!(route_pending(st, 10, T0 + 1, &route).await.unwrap(), (1, 1));
    let rec = st
        .get_request(&r.envelope.id, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.events_count, 1);

    let new = [
        new_event(&w.c, EventStatus::Queued, T0 + 10),
        new_event(&w.c, EventStatus::Scheduled, T0 + 20),
    ];
    let added = add_events(st, &r.envelope.id, &w.s.id, &new, T0 + 5)
        .await
        .unwrap();
    assert_eq!(added.len(), 2);
    let mut want: Vec<&NewEvent> = new.iter().collect();
    want.sort_by(|x, y| x.id.cmp(&y.id));
    let mut added_sorted = added.clone();
    added_sorted.sort_by(|x, y| x.id.cmp(&y.id));
    for (e, n) in added_sorted.iter().zip(want) {
        assert_eq!(e.id, n.id);
        assert_eq!(e.request_id, r.envelope.id);
        assert_eq!(e.source_id, w.s.id);
        assert_eq!(e.connection_id, w.c.id);
        assert_eq!(e.destination_id, w.d.id);
        assert_eq!(e.status, n.status);
        assert_eq!(e.next_attempt_at, Some(n.next_attempt_at));
        assert_eq!(e.next_trigger, AttemptTrigger::Initial);
        assert_eq!(e.attempts, 0);
        assert_eq!((e.created_at, e.updated_at), (T0 + 5, T0 + 5));
        assert_eq!(&event(st, &e.id).await, e);
    }
    let rec = st
        .get_request(&r.envelope.id, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.events_count, 3);
    assert_eq!(rec.updated_at, T0 + 5);
    let listed = st
        .list_events(
            &EventFilter {
                request_ids: vec![r.envelope.id.clone()],
                ..Default::default()
            },
            &page(10),
        )
        .await
        .unwrap();
    assert_eq!(listed.count, 3);
    // The dispatcher sleeps until the earliest pending event is due.
    assert_eq!(st.next_due_at(T0, &[]).await.unwrap(), Some(T0 + 1));

    // Adding again counts again.
    add_events(
        st,
        &r.envelope.id,
        &w.s.id,
        &[new_event(&w.c, EventStatus::Queued, T0)],
        T0 + 6,
    )
    .await
    .unwrap();
    let rec = st
        .get_request(&r.envelope.id, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rec.events_count, 4);
}

// ---------------------------------------------------------------------------------
// 9. Concurrent leases
// ---------------------------------------------------------------------------------

const CONCURRENT_EVENTS: usize = 200;

/// Leases 20 at a time until nothing is due; returns what it got.
async fn lease_until_empty(st: Arc<Store>, start: Arc<tokio::sync::Barrier>) -> Vec<String> {
    start.wait().await;
    let mut got = Vec::new();
    loop {
        let batch = lease_ids(&st, T0, 20, T0 + 600_000).await;
        if batch.is_empty() {
            return got;
        }
        assert!(batch.len() <= 20);
        got.extend(batch);
        tokio::task::yield_now().await;
    }
}

/// Two lease loops racing over `CONCURRENT_EVENTS` due events: together they get
/// every event, and never the same one.
async fn race(a: Arc<Store>, b: Arc<Store>, what: &str) {
    let st = &*a;
    let w = world(st, what).await;
    let req = routed_request(st, &w.s, b"race").await;
    let events: Vec<NewEvent> = (0..CONCURRENT_EVENTS)
        .map(|i| new_event(&w.c, EventStatus::Queued, T0 - i as i64))
        .collect();
    add_events(st, &req.id, &w.s.id, &events, T0).await.unwrap();

    let start = Arc::new(tokio::sync::Barrier::new(2));
    let ta = tokio::spawn(lease_until_empty(a.clone(), start.clone()));
    let tb = tokio::spawn(lease_until_empty(b.clone(), start));
    let (ga, gb) = (ta.await.unwrap(), tb.await.unwrap());

    let sa: HashSet<&String> = ga.iter().collect();
    let sb: HashSet<&String> = gb.iter().collect();
    assert_eq!(sa.len(), ga.len(), "{what}: task A leased an event twice");
    assert_eq!(sb.len(), gb.len(), "{what}: task B leased an event twice");
    let both: Vec<&&String> = sa.intersection(&sb).collect();
    assert!(both.is_empty(), "{what}: leased by both tasks: {both:?}");
    let union: BTreeSet<String> = ga.iter().chain(&gb).cloned().collect();
    let want: BTreeSet<String> = events.iter().map(|e| e.id.clone()).collect();
    assert_eq!(union, want, "{what}: together the tasks lease every event");
    println!("{what}: task A leased {}, task B {}", ga.len(), gb.len());
}

async fn concurrent_leases_body(b: &Backend) {
    // Two tasks sharing one store (one process).
    race(b.store.clone(), b.store.clone(), "one-store").await;
    if b.is_postgres() {
        // Two stores on one database, as two replicas would run.
        let replica = b.replica().await;
        race(b.store.clone(), replica, "two-replicas").await;
    }
}

/// Routes 7 at a time until nothing is pending; returns (requests, events) routed.
async fn route_until_empty(st: Arc<Store>, start: Arc<tokio::sync::Barrier>) -> (usize, usize) {
    start.wait().await;
    let route = route_each(T0);
    let mut total = (0, 0);
    loop {
        let (r, e) = route_pending(&st, 7, T0, &route).await.unwrap();
        if r == 0 {
            return total;
        }
        total = (total.0 + r, total.1 + e);
        tokio::task::yield_now().await;
    }
}

async fn concurrent_routing_body(b: &Backend) {
    let st = &*b.store;
    let w = world(st, "routing").await;
    let reqs: Vec<NewRequest> = (0..60).map(|_| request(&w.s, b"r", &[])).collect();
    st.insert_requests(&reqs, T0).await.unwrap();
    let other = if b.is_postgres() {
        b.replica().await
    } else {
        b.store.clone()
    };
    let start = Arc::new(tokio::sync::Barrier::new(2));
    let ta = tokio::spawn(route_until_empty(b.store.clone(), start.clone()));
    let tb = tokio::spawn(route_until_empty(other, start));
    let (ra, rb) = (ta.await.unwrap(), tb.await.unwrap());
    assert_eq!(
        ra.0 + rb.0,
        60,
        "every request routed once: {ra:?} + {rb:?}"
    );
    assert_eq!(ra.1 + rb.1, 60, "one event per request: {ra:?} + {rb:?}");
    let events = st
        .list_events(&EventFilter::default(), &page(1))
        .await
        .unwrap();
    assert_eq!(events.count, 60);
    for r in &reqs {
        let rec = st
            .get_request(&r.envelope.id, false)
            .await
            .unwrap()
            .unwrap();
        assert!(rec.routed);
        assert_eq!(rec.events_count, 1, "request {} routed twice?", rec.id);
    }
}

/// Local ingest routes before storing: the request, its events and ignored events
/// commit together; a redelivered request creates nothing twice.
async fn routed_insert_body(b: &Backend) {
    let st = &*b.store;
    let w = world(st, "routed").await;
    let mut r = request(&w.s, br#"{"a":1}"#, &[]);
    let ignored = IgnoredEvent {
        id: new_id(IdKind::IgnoredEvent),
        request_id: r.envelope.id.clone(),
        connection_id: w.c.id.clone(),
        cause: "FILTERED".into(),
        meta: Some(json!(["body"])),
        created_at: T0,
    };
    r.route = Some(RouteResult {
        events: vec![
            new_event(&w.c, EventStatus::Queued, T0),
            new_event(&w.c, EventStatus::Hold, T0),
        ],
        ignored: vec![ignored.clone()],
        rejection: None,
    });
    let mut no_conn = request(&w.s, b"x", &[]);
    no_conn.route = Some(RouteResult {
        rejection: Some(RejectionCause::NoConnection),
        ..Default::default()
    });
    // The same request twice in one batch is stored once, its events once.
    let batch = [r.clone(), no_conn.clone(), r.clone()];
    assert_eq!(st.insert_requests(&batch, T0).await.unwrap().len(), 2);
    // Redelivered: nothing new.
    assert!(st.insert_requests(&batch, T0 + 1).await.unwrap().is_empty());

    let rec = st
        .get_request(&r.envelope.id, false)
        .await
        .unwrap()
        .unwrap();
    assert!(rec.routed);
    assert_eq!((rec.events_count, rec.ignored_count), (2, 1));
    let events = st
        .list_events(
            &EventFilter {
                request_ids: vec![r.envelope.id.clone()],
                ..Default::default()
            },
            &page(10),
        )
        .await
        .unwrap();
    assert_eq!(events.count, 2, "no duplicate events after redelivery");
    let mut statuses: Vec<&str> = events.models.iter().map(|e| e.status.as_str()).collect();
    statuses.sort();
    assert_eq!(statuses, ["HOLD", "QUEUED"]);
    assert_eq!(
        st.ignored_events_of_request(&r.envelope.id).await.unwrap(),
        vec![ignored]
    );
    let rec = st
        .get_request(&no_conn.envelope.id, false)
        .await
        .unwrap()
        .unwrap();
    assert!(rec.routed);
    assert_eq!(rec.rejection_cause, Some(RejectionCause::NoConnection));
    // Nothing is left for the router.
    let route = route_each(T0);
    assert_eq!(route_pending(st, 10, T0, &route).await.unwrap(), (0, 0));
}

/// Ingest asks for a lease on the events it hands to its own dispatcher; the
/// store grants it only where the dispatcher's lease would take the event now.
async fn leased_insert_body(b: &Backend) {
    let st = &*b.store;
    let lease_until = T0 + 60_000;
    let asking = |c: &Connection| NewEvent {
        lease_until: Some(lease_until),
        ..new_event(c, EventStatus::Queued, T0)
    };
    let free = world(st, "lease-free").await;
    // Each of these would be held back by the lease query: a rate limit, a
    // concurrency cap, a disabled destination, a paused connection.
    let mut worlds = Vec::new();
    for (tag, change) in [
        ("lease-rate", 0),
        ("lease-cap", 1),
        ("lease-disabled", 2),
        ("lease-paused", 3),
    ] {
        let s = source(&format!("src-{tag}"));
        let mut d = destination(&format!("dst-{tag}"));
        let mut c = connection(&s, &d, Some(&format!("conn-{tag}")));
        match change {
            0 => {
                d.rate_limit = Some(20);
                d.rate_limit_period = Some(RateLimitPeriod::Second);
            }
            1 => d.max_concurrency = Some(2),
            2 => d.disabled_at = Some(T0 - 1),
            _ => c.paused_at = Some(T0 - 1),
        }
        st.insert_connection(&c, Some(&s), Some(&d)).await.unwrap();
        worlds.push((s, c));
    }
    let mut granted = request(&free.s, b"{}", &[]);
    let not_asked = new_event(&free.c, EventStatus::Queued, T0);
    granted.route = Some(RouteResult {
        events: vec![asking(&free.c), not_asked.clone()],
        ..Default::default()
    });
    let mut batch = vec![granted.clone()];
    let mut refused = Vec::new();
    for (s, c) in &worlds {
        let mut r = request(s, b"{}", &[]);
        let e = asking(c);
        refused.push(e.id.clone());
        r.route = Some(RouteResult {
            events: vec![e],
            ..Default::default()
        });
        batch.push(r);
    }
    let stored = st.store_requests(&batch, T0).await.unwrap();
    assert_eq!(stored.new_ids.len(), batch.len());
    let leased_id = granted.route.as_ref().unwrap().events[0].id.clone();
    assert_eq!(stored.leased_events, vec![leased_id.clone()]);

    // The leased event is not leased again while its lease holds; the one that
    // did not ask, and those refused, are the dispatcher's as before.
    let due: BTreeSet<String> = st
        .lease_due_events(T0 + 1, 100, T0 + 30_000)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.event.id)
        .collect();
    assert!(!due.contains(&leased_id), "{due:?}");
    assert!(due.contains(&not_asked.id), "{due:?}");
    for id in &refused[..2] {
        assert!(due.contains(id), "limited, not leased at insert: {due:?}");
    }
    let event = st.get_event(&leased_id).await.unwrap().unwrap();
    assert_eq!((event.status, event.attempts), (EventStatus::Queued, 0));
    // Redelivered: nothing new, nothing leased.
    let again = st.store_requests(&batch, T0 + 2).await.unwrap();
    assert!(again.new_ids.is_empty() && again.leased_events.is_empty());
    // After the lease lapses the event is due again, like any lease.
    let later: Vec<String> = st
        .lease_due_events(lease_until, 100, lease_until + 1_000)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.event.id)
        .collect();
    assert!(later.contains(&leased_id), "{later:?}");
}
