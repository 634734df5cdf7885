//! Every provider verification scheme on hostile requests: any headers, body and
//! URL give a verdict, never a panic. The first byte picks the scheme; then
//! `name: value` header lines, a blank line, and the body.
#![no_main]

use hookyard_core::verify::{SignedRequest, Verification};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

const SCHEMES: &[&str] = &[
    "stripe", "github", "shopify", "standard_webhooks", "svix", "twilio", "slack", "paddle",
    "linear", "hmac", "basic_auth", "api_key",
];

fn config(scheme: &str) -> serde_json::Value {
    match scheme {
        "standard_webhooks" | "svix" => {
            json!({"type": scheme, "configs": {"webhook_secret_key": "whsec_c2VjcmV0c2VjcmV0"}})
        }
        "hmac" => json!({"type": "hmac", "configs": {"webhook_secret_key": "s",
            "algorithm": "sha256", "header_key": "x-sig", "encoding": "base64"}}),
        "basic_auth" => json!({"type": "basic_auth", "configs": {"username": "u", "password": "p"}}),
        "api_key" => json!({"type": "api_key", "configs": {"header_key": "authorization", "api_key": "k"}}),
        _ => json!({"type": scheme, "configs": {"webhook_secret_key": "secret"}}),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let scheme = SCHEMES[usize::from(pick) % SCHEMES.len()];
    let Ok(verification) = Verification::from_json(&config(scheme)) else {
        panic!("the fixed {scheme} configuration is valid");
    };
    let split = rest
        .windows(2)
        .position(|w| w == b"\n\n")
        .unwrap_or(rest.len());
    let (head, body) = rest.split_at(split);
    let body = body.get(2..).unwrap_or_default();
    let headers: Vec<(String, String)> = String::from_utf8_lossy(head)
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let url = format!("https://example.com/e/src?{}", String::from_utf8_lossy(body));
    let _ = verification.verify(&SignedRequest {
        url: &url,
        headers: &headers,
        body,
        now_secs: 1_700_000_000,
    });
});
