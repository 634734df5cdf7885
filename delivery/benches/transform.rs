//! One transformation call (fresh instance from the pre-instantiated component,
//! the call, reading the result back): the identity component and a 1 KB JSON
//! rewrite. Criterion measures the mean; a second pass records every call in a
//! histogram and prints p50/p99, the figures BENCHMARKS.md keeps.
//!
//! `./scripts/setup-wasm.sh && cargo bench -p hookyard --bench transform`
// A benchmark panics on a broken set-up, as a test does.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use hdrhistogram::Histogram;
use hookyard::config::Config;
use hookyard::model::HttpRequest;
use hookyard::transform::Transforms;

fn component(name: &str) -> Vec<u8> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join(format!("wasm32-wasip2/release/examples/{name}.wasm"));
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run scripts/setup-wasm.sh", path.display()))
}

/// A JSON object of about 1 KB.
fn one_kb_json() -> Vec<u8> {
    let mut fields = serde_json::Map::new();
    fields.insert("email".into(), "someone@example.com".into());
    for i in 0..30 {
        fields.insert(
            format!("field_{i:02}"),
            format!("value number {i:04}").into(),
        );
    }
    let body = serde_json::to_vec(&fields).unwrap_or_default();
    assert!((900..1200).contains(&body.len()), "{} bytes", body.len());
    body
}

fn request(body: Vec<u8>) -> HttpRequest {
    HttpRequest {
        method: "POST".into(),
        path: "/orders".into(),
        query: String::new(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("user-agent".into(), "bench".into()),
        ],
        body,
    }
}

fn bench(c: &mut Criterion) {
    let host = Transforms::new(Config::default().transformations, None);
    let limits = host.limits(None, None);
    for (name, body) in [("identity", one_kb_json()), ("rewrite_json", one_kb_json())] {
        let prepared = host
            .prepare(&component(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let req = request(body);
        let call = || {
            let out = host.run(&prepared, req.clone(), &[], &limits);
            assert!(out.result.is_ok(), "{name}: {:?}", out.result);
        };
        c.bench_function(&format!("transform/{name}/1KB"), |b| b.iter(call));

        let mut hist = Histogram::<u64>::new(3).unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..20_000 {
            let t = Instant::now();
            call();
            let _ = hist.record(t.elapsed().as_nanos() as u64);
        }
        println!(
            "transform/{name}/1KB: p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs over {} calls",
            hist.value_at_quantile(0.50) as f64 / 1000.0,
            hist.value_at_quantile(0.99) as f64 / 1000.0,
            hist.value_at_quantile(0.999) as f64 / 1000.0,
            hist.len()
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
