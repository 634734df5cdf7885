//! The request path splitter and the forwarded-path rule: any path splits or is
//! refused, and a forwarded path that is accepted never leaves the destination's
//! path once a URL parser has resolved it under one.
#![no_main]

use hookyard_core::ingest::split_ingest_path;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = format!("/e/src/{text}");
    let Ok(split) = split_ingest_path(&path) else {
        return;
    };
    assert_eq!(split.source, "src");
    let Ok(mut url) = url::Url::parse("http://destination.example/base") else {
        return;
    };
    url.set_path(&format!("/base{}", split.forwarded));
    assert_eq!(url.host_str(), Some("destination.example"), "{path:?} -> {url}");
    assert!(
        url.path() == "/base" || url.path().starts_with("/base/"),
        "{path:?} accepted but resolved to {url}"
    );
});
