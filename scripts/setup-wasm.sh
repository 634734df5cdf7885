#!/usr/bin/env bash
# Transformations set-up: the wasm32-wasip2 target, then the SDK's examples and
# the host's test fixtures built as WebAssembly components into
# target/wasm32-wasip2/release/examples/*.wasm (tests load them from there).
# Idempotent: rustup skips an installed target, cargo rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  rustup target add wasm32-wasip2
fi
cargo build --release --locked --target wasm32-wasip2 \
  -p hookyard-transforms-sdk -p hookyard-transform-fixtures --examples
