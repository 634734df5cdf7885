//! The transformation components the tests run, built by `scripts/setup-wasm.sh`
//! (SDK examples and `transforms-sdk/fixtures`).

use std::path::PathBuf;

/// The bytes of component `name` (`strip_fields`, `loop_forever`, …).
pub fn component(name: &str) -> Vec<u8> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let path = target
        .join("wasm32-wasip2/release/examples")
        .join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build the components with scripts/setup-wasm.sh",
            path.display()
        )
    })
}

/// A component as the API takes it (`code`: base64).
pub fn code(name: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(component(name))
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
