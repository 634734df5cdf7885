//! What the edge Worker's configuration costs per webhook (`cargo bench -p
//! hookyard-core --bench edge_config`): parsing it, which the Worker did for every
//! webhook while the configuration lived in the `HOOKYARD_SOURCES` secret and now
//! does once per isolate and version, against looking a source up in the parsed copy.
// A benchmark panics on a broken set-up, as a test does.
#![allow(clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use hookyard_core::edge::{config_version, EdgeConfig};
use serde_json::json;

/// `n` sources with GitHub verification, as `hookyard edge config` prints them.
fn config_text(n: usize) -> String {
    let mut sources = serde_json::Map::new();
    for i in 0..n {
        sources.insert(
            format!("src-{i:03}"),
            json!({"allowed_http_methods": ["POST", "PUT", "PATCH", "DELETE"],
                   "verification": {"type": "github",
                     "configs": {"webhook_secret_key": format!("secret-{i}-{}", "x".repeat(24))}}}),
        );
    }
    json!({"max_body_bytes": 10485760, "sources": sources}).to_string()
}

fn bench(c: &mut Criterion) {
    for n in [1, 200, 1000] {
        let text = config_text(n);
        let parsed: EdgeConfig = serde_json::from_str(&text).unwrap();
        c.bench_function(&format!("parse {n} sources ({} B)", text.len()), |b| {
            b.iter(|| serde_json::from_str::<EdgeConfig>(&text).unwrap())
        });
        c.bench_function(&format!("look up a source among {n}"), |b| {
            b.iter(|| parsed.sources.get("src-000").map(|s| s.disabled))
        });
        c.bench_function(&format!("version of {n} sources"), |b| {
            b.iter(|| config_version(&parsed).unwrap())
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
