//! Transformations: user code compiled to WebAssembly components, run sandboxed
//! by wasmtime to rewrite a request before it is delivered.
//!
//! - [`engine`]: the one wasmtime engine (pooling allocator, epoch ticker).
//! - [`sandbox`]: what a component may import, and the linker that gives only that.
//! - [`deadline_clock`]: the monotonic clock, whose waits end by the call's deadline.
//! - [`compiled`]: validate + precompile on upload; artefacts cached by module hash.
//! - [`invoke`]: one call: a fresh store with its memory cap and deadline.
//!
//! This is the wasm host only: routing runs transformations through it
//! ([`crate::route`]), the records are in [`crate::model`].

pub mod compiled;
pub mod deadline_clock;
pub mod engine;
pub mod invoke;
pub mod sandbox;

pub use compiled::{module_hash, Transforms};
pub use invoke::{Limits, Outcome, TransformError};

/// Host bindings of `wit/transform.wit`.
pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "transformation",
    });
}
