#!/usr/bin/env bash
# Set-up for the edge Worker and its tests (idempotent; slow steps are skipped when
# their result is already there):
#   - the wasm32 target, worker-build and wasm-bindgen-cli at the pinned versions
#     (installed from crates.io: worker-build's own downloads need GitHub);
#   - tests/edge/node_modules (wrangler + workerd, Node 22, binaryen, the
#     providers' libraries);
#   - the Worker, built and bundled into tests/edge/.worker for the tests.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

WORKER_BUILD_VERSION=0.8.7
# Must equal the `wasm-bindgen` version in Cargo.lock.
WASM_BINDGEN_VERSION=0.2.130

export WRANGLER_SEND_METRICS=false WRANGLER_SEND_ERROR_REPORTS=false
export CLOUDFLARE_CF_FETCH_ENABLED=false DO_NOT_TRACK=1

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
bin="$HOME/.cargo/bin"
if ! "$bin/worker-build" --version 2>/dev/null | grep -q "$WORKER_BUILD_VERSION"; then
  cargo install worker-build --version "=$WORKER_BUILD_VERSION"
fi
if ! "$bin/wasm-bindgen" --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
  # Not --locked: its lockfile pins a crate version the registry no longer serves.
  cargo install wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION"
fi

# `npm install`, not `npm ci`: the lockfile names workerd builds for other
# platforms that the registry does not serve at this version.
stamp=tests/edge/node_modules/.hookyard-installed
if [ ! -f "$stamp" ] || [ tests/edge/package.json -nt "$stamp" ] || [ tests/edge/package-lock.json -nt "$stamp" ]; then
  (cd tests/edge && npm install --no-audit --no-fund --loglevel=error)
  touch "$stamp"
fi

# The Worker bundle, rebuilt when its sources changed since the last build.
out=tests/edge/.worker
newest_src=$(find edge-ingest/src edge-ingest/Cargo.toml core/src core/Cargo.toml wrangler.toml Cargo.lock -type f -newer "$out/README.md" 2>/dev/null | head -n 1 || true)
if [ ! -f "$out/README.md" ] || [ -n "$newest_src" ]; then
  rm -rf "$out"
  PATH="$root/tests/edge/node_modules/.bin:$PATH" \
    tests/edge/node_modules/.bin/wrangler deploy --dry-run --outdir "$out"
fi
