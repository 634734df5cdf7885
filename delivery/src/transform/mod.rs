//! Transformations: user code compiled to WebAssembly components, run sandboxed
//! by wasmtime to rewrite a request before it is delivered.
//!
//! - [`engine`]: the one wasmtime engine (pooling allocator, epoch ticker).
//! - [`sandbox`]: what a component may import, and the linker that gives only that.
//! - [`compiled`]: validate + precompile on upload; artefacts cached by module hash.
//! - [`invoke`]: one call: a fresh store with its memory cap and deadline.
//! - [`delivered`]: the dispatcher delivers an event's transformed request.
//! - [`console`]: `hookyard transform test`.
//! - [`records`]: stored transformations and their executions.
//! - [`routing`]: routing requests whose connections transform them, off the
//!   async threads.

pub mod compiled;
pub mod console;
pub mod delivered;
pub mod engine;
pub mod invoke;
pub mod records;
pub mod routing;
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
