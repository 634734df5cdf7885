#!/usr/bin/env bash
# Transformations set-up: the wasm32-wasip2 target, then the SDK's examples and
# the host's test fixtures built as WebAssembly components into
# target/wasm32-wasip2/release/examples/*.wasm (tests load them from there).
# Idempotent: rustup skips an installed target, cargo rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
# The standard library on disk is what the build needs; rustup's list of installed
# components can lag behind it when two rustup runs share a toolchain.
libdir="$(rustc --print sysroot)/lib/rustlib/wasm32-wasip2/lib"
if ! ls "$libdir"/libstd-*.rlib >/dev/null 2>&1; then
  rustup target add wasm32-wasip2
fi
# The workspace's release profile splits native debug info into a .dwp file; wasm
# targets have no split debug info (rustc refuses the flag), so keep it inline.
# The rest is the profile the SDK tells users to build with (transforms-sdk/src/lib.rs):
# one codegen unit with LTO makes serde_json's parse/serialize in the guest ~2 µs
# faster per 1 KB call, and without debug info a component is ~100 KiB, not ~3 MiB.
CARGO_PROFILE_RELEASE_SPLIT_DEBUGINFO=off \
CARGO_PROFILE_RELEASE_LTO=true \
CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
CARGO_PROFILE_RELEASE_DEBUG=false \
CARGO_PROFILE_RELEASE_STRIP=debuginfo \
  cargo build --release --locked --target wasm32-wasip2 \
  -p hookyard-transforms-sdk -p hookyard-transform-fixtures --examples
