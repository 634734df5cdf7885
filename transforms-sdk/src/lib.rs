//! Write Hookyard transformations in Rust: one function over friendly types,
//! compiled to a WebAssembly component.
//!
//! ```ignore
//! use hookyard_transforms_sdk::{transform, Env, Request};
//!
//! #[transform]
//! fn run(mut req: Request, env: &Env) -> Result<Request, String> {
//!     let mut body: serde_json::Value = req.json().map_err(|e| e.to_string())?;
//!     body["seen_by"] = env.get("NAME").unwrap_or("hookyard").into();
//!     req.set_json(&body).map_err(|e| e.to_string())?;
//!     println!("rewrote {}", req.path); // becomes a log line of the execution
//!     Ok(req)
//! }
//! ```
//!
//! Build it into a component with one command (the crate is a `cdylib`):
//!
//! ```text
//! cargo build --release --target wasm32-wasip2
//! ```
//!
//! with this release profile in the crate's `Cargo.toml` (one codegen unit and LTO
//! make the JSON handling of a call measurably faster, ~6% of a 1 KB rewrite; no
//! debug info makes the component ~100 KiB instead of ~3 MiB):
//!
//! ```toml
//! [profile.release]
//! lto = true
//! codegen-units = 1
//! debug = false
//! strip = "debuginfo"
//! ```
//!
//! and upload `target/wasm32-wasip2/release/<crate>.wasm` (base64, in the `code`
//! field of `POST /2024-09-01/transformations`). Returning `Err(message)` fails
//! the event with that message; a panic does too, with the panic message.

use std::fmt::Display;

pub use hookyard_transforms_macro::transform;

/// The request a transformation receives and returns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Request {
    /// Upper-case HTTP method.
    pub method: String,
    /// Path after the source's URL, starting with `/` (may be empty).
    pub path: String,
    /// Raw query string, without `?`.
    pub query: String,
    /// Headers in order; names are lower-case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of the header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Replaces every value of the header `name` with `value`.
    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        self.remove_header(name);
        self.headers.push((name.to_ascii_lowercase(), value.into()));
    }

    /// Removes every value of the header `name`.
    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    }

    /// The body parsed as JSON into `T` (e.g. `serde_json::Value`).
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// Replaces the body with `value` as JSON and sets `content-type` to JSON.
    pub fn set_json<T: serde::Serialize>(&mut self, value: &T) -> Result<(), serde_json::Error> {
        // Sized like the body it replaces (a rewrite is usually about as long):
        // `to_vec` starts at 128 bytes and regrows, copying, on the way to 1 KiB.
        // Capped, so replacing a large body with a small one costs no large buffer.
        let mut body = Vec::with_capacity(self.body.len().clamp(128, 64 << 10));
        serde_json::to_writer(&mut body, value)?;
        self.body = body;
        self.set_header("content-type", "application/json");
        Ok(())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The transformation's env map, as set on the transformation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env(Vec<(String, String)>);

impl Env {
    pub fn new(vars: Vec<(String, String)>) -> Self {
        Env(vars)
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// What the `#[transform]` macro expands to; not a stable API.
#[doc(hidden)]
pub mod __private {
    use super::*;

    // Generated code (the lifting of a record is one function per field).
    #[allow(clippy::too_many_arguments)]
    pub mod bindings {
        wit_bindgen::generate!({
            path: "../wit",
            world: "transformation",
            pub_export_macro: true,
            export_macro_name: "export",
            default_bindings_module: "::hookyard_transforms_sdk::__private::bindings",
        });
    }

    pub use bindings::export;
    pub use bindings::hookyard::transform::types::Request as WitRequest;
    pub use bindings::Guest;

    /// Calls the user's function with friendly types.
    pub fn run<E: Display>(
        f: impl FnOnce(Request, &Env) -> Result<Request, E>,
        req: WitRequest,
        env: Vec<(String, String)>,
    ) -> Result<WitRequest, String> {
        let req = Request {
            method: req.method,
            path: req.path,
            query: req.query,
            headers: req.headers,
            body: req.body,
        };
        f(req, &Env(env))
            .map(|r| WitRequest {
                method: r.method,
                path: r.path,
                query: r.query,
                headers: r.headers,
                body: r.body,
            })
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_case_insensitive_and_set_json_sets_the_type() {
        let mut r = Request {
            headers: vec![("X-Kind".into(), "a".into())],
            ..Default::default()
        };
        assert_eq!(r.header("x-kind"), Some("a"));
        r.set_json(&serde_json::json!({"a": 1})).unwrap();
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert_eq!(r.json::<serde_json::Value>().unwrap()["a"], 1);
        r.remove_header("X-KIND");
        assert_eq!(r.header("x-kind"), None);
    }
}
