//! The filter language: any pattern and any input (two JSON documents, one per
//! line) parse and evaluate without panicking, and the compiled filter agrees
//! with the one-shot `matches`.
#![no_main]

use hookyard_core::filter::{matches, Filter};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (pattern, input) = text.split_once('\n').unwrap_or((&text, "null"));
    let (Ok(pattern), Ok(input)) = (
        serde_json::from_str::<Value>(pattern),
        serde_json::from_str::<Value>(input),
    ) else {
        return;
    };
    let compiled = Filter::parse(&pattern);
    let once = matches(&pattern, &input);
    match (compiled, once) {
        (Ok(f), Ok(m)) => assert_eq!(f.matches(&input), m),
        (Err(_), Err(_)) => {}
        (c, o) => panic!("parse and matches disagree: {:?} vs {:?}", c.is_ok(), o.is_ok()),
    }
});
