//! What users compile to WebAssembly to write transformations (filled by the
//! transformations issue): the WIT world bindings, a `#[transform]` macro and helpers.
