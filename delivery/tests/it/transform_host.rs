//! The transformation host on its own: the SDK's examples do what they say, and
//! every kind of hostile component is refused at upload or stopped with an error
//! that says why — never a crash of the host.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::wasm::component;
use hookyard::config::Config;
use hookyard::model::HttpRequest;
use hookyard::transform::compiled::UploadError;
use hookyard::transform::{Outcome, TransformError, Transforms};
use serde_json::{json, Value};

fn host() -> Transforms {
    Transforms::new(Config::default().transformations, None)
}

fn post(headers: &[(&str, &str)], body: &[u8]) -> HttpRequest {
    HttpRequest {
        method: "POST".into(),
        path: "/".into(),
        query: "a=1".into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.to_vec(),
    }
}

fn run(t: &Transforms, name: &str, req: HttpRequest, env: &[(&str, &str)]) -> Outcome {
    run_limited(t, name, req, env, None, None)
}

fn run_limited(
    t: &Transforms,
    name: &str,
    req: HttpRequest,
    env: &[(&str, &str)],
    memory: Option<i64>,
    timeout_ms: Option<i64>,
) -> Outcome {
    let prepared = t
        .prepare(&component(name))
        .unwrap_or_else(|e| panic!("{name} refused: {e}"));
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    t.run(&prepared, req, &env, &t.limits(memory, timeout_ms))
}

fn body_json(o: &Outcome) -> Value {
    let r = o
        .result
        .as_ref()
        .unwrap_or_else(|e| panic!("failed: {e}; logs {:?}", o.logs));
    serde_json::from_slice(&r.body).expect("JSON body")
}

#[test]
fn strip_fields_removes_fields_at_any_depth_and_logs() {
    let t = host();
    let body = br#"{"name":"a","password":"x","card":{"card_number":"4242","exp":"12/30"},"items":[{"ssn":"1","n":2}]}"#;
    let o = run(&t, "strip_fields", post(&[], body), &[]);
    assert_eq!(
        body_json(&o),
        json!({"name":"a","card":{"exp":"12/30"},"items":[{"n":2}]})
    );
    assert_eq!(o.logs, vec!["stripped password,ssn,card_number"]);
    let o = run(&t, "strip_fields", post(&[], body), &[("FIELDS", "name")]);
    assert!(body_json(&o).get("name").is_none());
    let r = o.result.unwrap();
    assert!(r
        .headers
        .contains(&("content-type".into(), "application/json".into())));
    assert_eq!(r.query, "a=1", "untouched parts stay");
}

#[test]
fn envelope_wraps_shopify_and_woocommerce_orders_alike() {
    let t = host();
    let shopify = run(
        &t,
        "envelope",
        post(
            &[("x-shopify-topic", "orders/create")],
            br#"{"id":1,"total_price":"10.00","currency":"EUR"}"#,
        ),
        &[],
    );
    let woo = run(
        &t,
        "envelope",
        post(
            &[("x-wc-webhook-topic", "order.created")],
            br#"{"id":2,"total":"5.00","currency":"USD"}"#,
        ),
        &[],
    );
    let (s, w) = (body_json(&shopify), body_json(&woo));
    assert_eq!(s["provider"], "shopify");
    assert_eq!(s["total"], "10.00");
    assert_eq!(w["provider"], "woocommerce");
    assert_eq!(w["topic"], "order.created");
    assert_eq!(w["data"]["id"], 2);
    let neither = run(&t, "envelope", post(&[], b"{}"), &[]);
    assert_eq!(
        neither.result.unwrap_err(),
        TransformError::Returned("neither x-shopify-topic nor x-wc-webhook-topic is set".into())
    );
}

#[test]
fn jwt_decode_delivers_header_and_claims() {
    use base64::Engine as _;
    let enc = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let jwt = format!(
        "{}.{}.sig",
        enc(json!({"alg":"HS256"})),
        enc(json!({"sub":"42","event":"paid"}))
    );
    let t = host();
    let o = run(&t, "jwt_decode", post(&[], jwt.as_bytes()), &[]);
    let v = body_json(&o);
    assert_eq!(v["header"]["alg"], "HS256");
    assert_eq!(v["claims"]["event"], "paid");
    let bad = run(&t, "jwt_decode", post(&[], b"not-a-jwt"), &[]);
    assert!(matches!(bad.result, Err(TransformError::Returned(m)) if m.contains("compact JWT")));
}

#[test]
fn gunzip_decompresses_gzipped_bodies() {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(br#"{"big":"payload"}"#).unwrap();
    let zipped = gz.finish().unwrap();
    let t = host();
    let o = run(
        &t,
        "gunzip",
        post(&[("content-encoding", "gzip")], &zipped),
        &[],
    );
    assert_eq!(body_json(&o), json!({"big":"payload"}));
    let r = o.result.unwrap();
    assert!(r.headers.iter().all(|(k, _)| k != "content-encoding"));
    let plain = run(&t, "gunzip", post(&[], b"plain"), &[]);
    assert_eq!(plain.result.unwrap().body, b"plain");
}

#[test]
fn route_by_header_sets_the_path() {
    let t = host();
    let o = run(
        &t,
        "route_by_header",
        post(&[("x-event-type", "order.created")], b"{}"),
        &[("PREFIX", "/v2")],
    );
    assert_eq!(o.result.unwrap().path, "/v2/order/created");
    let missing = run(&t, "route_by_header", post(&[], b"{}"), &[]);
    assert!(
        matches!(missing.result, Err(TransformError::Returned(m)) if m.contains("x-event-type"))
    );
}

#[test]
fn what_is_not_a_component_of_our_world_is_refused_at_upload() {
    let t = host();
    assert_eq!(t.prepare(b"hello").err(), Some(UploadError::NotWasm));
    let core = wat::parse_str("(module)").unwrap();
    assert_eq!(t.prepare(&core).err(), Some(UploadError::CoreModule));
    let empty = wat::parse_str("(component)").unwrap();
    match t.prepare(&empty) {
        Err(e @ UploadError::WrongWorld(_)) => {
            assert!(e.to_string().contains("export `transform"), "{e}")
        }
        other => panic!("expected WrongWorld, got {:?}", other.err()),
    }
    let mut broken = component("identity");
    broken.truncate(broken.len() / 2);
    assert!(matches!(t.prepare(&broken), Err(UploadError::Invalid(_))));
}

#[test]
fn components_importing_network_or_files_are_refused_at_upload() {
    let t = host();
    for (name, wanted) in [
        ("opens_socket", "wasi:sockets/"),
        ("reads_file", "wasi:filesystem/"),
    ] {
        match t.prepare(&component(name)) {
            Err(UploadError::ForbiddenImports(list)) => {
                assert!(
                    list.iter().any(|i| i.starts_with(wanted)),
                    "{name}: {list:?}"
                )
            }
            other => panic!("{name} was not refused: {:?}", other.err()),
        }
    }
    // The same for a component written by hand, importing nothing but a socket.
    let raw =
        wat::parse_str(r#"(component (import "wasi:sockets/tcp@0.2.0" (instance)))"#).unwrap();
    let e = t.prepare(&raw).err().expect("refused");
    assert!(e.to_string().contains("wasi:sockets/tcp@0.2.0"), "{e}");
}

#[test]
fn an_infinite_loop_is_stopped_at_the_deadline() {
    let t = host();
    let o = run_limited(&t, "loop_forever", post(&[], b"{}"), &[], None, Some(100));
    assert_eq!(o.result.unwrap_err(), TransformError::Deadline(100));
    assert!(o.duration < Duration::from_secs(5), "{:?}", o.duration);
}

/// Runs `name` under a `timeout_ms` deadline; the wall time is of the call
/// alone (compiling the component is not the call's).
fn run_timed(
    t: &Transforms,
    name: &str,
    env: &[(&str, &str)],
    timeout_ms: i64,
) -> (Outcome, Duration) {
    let prepared = t
        .prepare(&component(name))
        .unwrap_or_else(|e| panic!("{name} refused: {e}"));
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let started = std::time::Instant::now();
    let o = t.run(
        &prepared,
        post(&[], b"{}"),
        &env,
        &t.limits(None, Some(timeout_ms)),
    );
    (o, started.elapsed())
}

#[test]
fn a_guest_sleeping_in_the_host_is_stopped_at_the_deadline() {
    // A 30 s sleep under a 1 s deadline: blocked in a host call, where no epoch
    // check runs, it must still give its thread back at about 1 s.
    let t = host();
    let (o, took) = run_timed(&t, "sleeps", &[], 1_000);
    assert_eq!(o.result.unwrap_err(), TransformError::Deadline(1_000));
    assert!(took < Duration::from_secs(3), "held its thread {took:?}");
    assert!(o.duration < Duration::from_secs(3), "{:?}", o.duration);
}

#[test]
fn guests_blocking_on_far_off_clocks_and_polls_are_stopped_at_the_deadline() {
    let t = host();
    for wait in ["instant", "forever", "poll"] {
        let (o, took) = run_timed(&t, "waits_on_clocks", &[("WAIT", wait)], 300);
        assert_eq!(
            o.result.unwrap_err(),
            TransformError::Deadline(300),
            "WAIT={wait}"
        );
        assert!(took < Duration::from_secs(3), "WAIT={wait} held {took:?}");
    }
}

#[test]
fn reading_stdin_returns_at_once_with_nothing() {
    // stdin is closed, not a stream that could keep a reader waiting.
    let t = host();
    let (o, _) = run_timed(&t, "waits_on_clocks", &[("WAIT", "stdin")], 1_000);
    assert_eq!(o.result.unwrap().body, b"");
}

#[test]
fn a_memory_bomb_is_stopped_at_the_cap() {
    let t = host();
    let cap = 16 * 1024 * 1024;
    let o = run_limited(&t, "memory_bomb", post(&[], b"{}"), &[], Some(cap), None);
    assert_eq!(
        o.result.unwrap_err(),
        TransformError::MemoryCap(cap as usize)
    );
}

#[test]
fn deep_recursion_is_an_error_with_a_message() {
    let t = host();
    let o = run(&t, "deep_recursion", post(&[], b"{}"), &[]);
    match o.result {
        Err(TransformError::Trap(m)) => assert!(!m.is_empty()),
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn a_panic_is_an_error_with_the_panic_message_and_the_logs_before_it() {
    let t = host();
    let o = run(&t, "panics", post(&[], b"{}"), &[]);
    match &o.result {
        Err(TransformError::Panic(m)) => {
            assert!(m.contains("customer record is missing its id"), "{m}")
        }
        other => panic!("expected a panic, got {other:?}"),
    }
    assert_eq!(
        o.logs.first().map(String::as_str),
        Some("about to fail on /")
    );
}

#[test]
fn a_huge_output_is_refused() {
    let t = host();
    let o = run(&t, "huge_output", post(&[], b"{}"), &[]);
    match o.result {
        Err(TransformError::OutputTooLarge { size, limit }) => assert!(size > limit),
        other => panic!("expected OutputTooLarge, got {other:?}"),
    }
}

#[test]
fn every_call_gets_a_fresh_instance_and_hostile_calls_leave_the_host_usable() {
    let t = Arc::new(host());
    let _ = run_limited(
        &t,
        "memory_bomb",
        post(&[], b"{}"),
        &[],
        Some(16 << 20),
        None,
    );
    let _ = run_limited(&t, "loop_forever", post(&[], b"{}"), &[], None, Some(20));
    let _ = run(&t, "panics", post(&[], b"{}"), &[]);
    // Many calls, more than the pool has slots: instances are returned to it.
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let t = t.clone();
            std::thread::spawn(move || {
                for i in 0..40 {
                    let body = format!(r#"{{"email":"a@b","n":{i}}}"#);
                    let o = run(&t, "rewrite_json", post(&[], body.as_bytes()), &[]);
                    let v = body_json(&o);
                    assert_eq!(v["contact"], "a@b");
                    assert_eq!(v["n"], i);
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
}

/// Pool slots keep pages resident between calls (and copy back only the dirty
/// ones): a guest must still find its statics and memory as its image left them.
#[test]
fn a_reused_pool_slot_carries_nothing_from_the_previous_call() {
    let t = host();
    for i in 0..64 {
        let o = run(&t, "remembers", post(&[], b"{}"), &[]);
        let r = o
            .result
            .unwrap_or_else(|e| panic!("call {i} failed: {e}; logs {:?}", o.logs));
        let header = |name: &str| {
            r.headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(header("x-calls").as_deref(), Some("1"), "call {i}");
        assert_eq!(
            header("x-dirty-seen"),
            None,
            "call {i} saw an earlier call's memory"
        );
    }
}

#[test]
fn precompiled_artefacts_are_cached_by_module_hash_in_memory_and_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::default().transformations;
    let module = component("identity");
    let first = Transforms::new(cfg.clone(), Some(dir.path().to_path_buf()));
    let a = first.prepare(&module).unwrap();
    let b = first.prepare(&module).unwrap();
    assert!(Arc::ptr_eq(&a, &b), "the second prepare is a cache hit");
    assert_eq!(a.hash, hookyard::transform::module_hash(&module));
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 1, "one precompiled artefact on disk");
    // A new host (a restarted gateway) loads the artefact instead of compiling.
    let second = Transforms::new(cfg, Some(dir.path().to_path_buf()));
    let c = second.prepare(&module).unwrap();
    let o = second.run(&c, post(&[], b"x"), &[], &second.limits(None, None));
    assert_eq!(o.result.unwrap().body, b"x");
}
