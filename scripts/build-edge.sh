#!/usr/bin/env bash
# Builds the edge Worker (edge-ingest/) into edge-ingest/build/ with worker-build,
# using the tools scripts/setup-edge.sh installed (no downloads at build time).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
nm="$root/tests/edge/node_modules/.bin"
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$HOME/.cargo/bin/wasm-bindgen}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$nm/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$nm/esbuild}"
# Small and fast wasm for the Worker only; the workspace's release profile stays as is.
export CARGO_PROFILE_RELEASE_OPT_LEVEL=s
export CARGO_PROFILE_RELEASE_LTO=true
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
export CARGO_PROFILE_RELEASE_DEBUG=false
cd "$root/edge-ingest"
"${WORKER_BUILD_BIN:-$HOME/.cargo/bin/worker-build}" --release
