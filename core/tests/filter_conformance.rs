//! Runs the shared filter conformance cases (Hookdeck's behaviour, case by case)
//! against `hookyard_core::filter`.

use std::path::{Path, PathBuf};

use hookyard_core::filter::Filter;
use serde_json::Value;

fn in_repo_cases() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/filter-cases.json")
}

fn shared_cases() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/filter-cases.json")
}

#[test]
fn every_conformance_case_passes() {
    let text = std::fs::read_to_string(in_repo_cases()).expect("read filter-cases.json");
    let cases: Vec<Value> = serde_json::from_str(&text).expect("filter-cases.json is JSON");
    assert!(!cases.is_empty(), "no cases in filter-cases.json");

    // Collect every failure before failing, so one run shows the whole picture.
    let mut failures = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        let (input, filter, expected) = (&case["input"], &case["filter"], &case["expected"]);
        let Some(expected) = expected.as_bool() else {
            failures.push(format!("#{index}: `expected` is not a boolean: {case}"));
            continue;
        };
        let outcome = match Filter::parse(filter) {
            Ok(parsed) => parsed.matches(input).to_string(),
            Err(e) => format!("parse error: {e}"),
        };
        if outcome != expected.to_string() {
            failures.push(format!(
                "#{index}: input {input}\n    filter   {filter}\n    expected {expected}, got {outcome}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} conformance cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn in_repo_copy_matches_the_shared_file() {
    let shared = shared_cases();
    // CI sometimes checks out the repository without `shared/`; then there is nothing
    // to compare against.
    let Ok(shared_bytes) = std::fs::read(&shared) else {
        eprintln!("{} not present; skipping drift check", shared.display());
        return;
    };
    let ours = std::fs::read(in_repo_cases()).expect("read tests/data/filter-cases.json");
    assert!(
        ours == shared_bytes,
        "core/tests/data/filter-cases.json differs from {}; copy the shared file over it",
        shared.display()
    );
}
