//! The Hookdeck-shaped API bodies of sources, destinations and connections: any
//! JSON parses into the input type or is refused, and a parsed one is checked
//! (`apply`, the rules compiled as routing will) without panicking. The first
//! byte picks the resource.
#![no_main]

use hookyard::api::connections::ConnectionIn;
use hookyard::api::destinations::DestinationIn;
use hookyard::api::sources::SourceIn;
use hookyard::route::rules::CompiledRules;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    match pick % 3 {
        0 => {
            if let Ok(s) = serde_json::from_slice::<SourceIn>(body) {
                let _ = s.apply(None, "");
            }
        }
        1 => {
            if let Ok(d) = serde_json::from_slice::<DestinationIn>(body) {
                let _ = d.apply(None, "");
            }
        }
        _ => {
            if let Ok(c) = serde_json::from_slice::<ConnectionIn>(body) {
                if let Some(s) = c.source {
                    let _ = s.apply(None, "source");
                }
                if let Some(d) = c.destination {
                    let _ = d.apply(None, "destination");
                }
                let _ = CompiledRules::compile(&c.rules.unwrap_or_default());
            }
        }
    }
});
