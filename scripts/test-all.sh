#!/usr/bin/env bash
# The whole test suite, set-up included: what `.ci/run` calls.
#
# Needs: a Rust toolchain, Node.js 20+ with npm, Python 3 with pip, PostgreSQL
# on 127.0.0.1:5432 (trust auth, database `test`), and apt (root) when Chromium is
# not installed yet; RabbitMQ (5672, guest/guest), NATS with JetStream (4222)
# and Redis (6379) on 127.0.0.1 for the destination tests. With CI=true a missing
# PostgreSQL, broker or SMTP test server fails the run; elsewhere those tests
# (or their halves) are skipped with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==> %s\n' "$*"; }

# The test runner, pinned like the toolchain (rust-toolchain.toml); config in
# .config/nextest.toml.
NEXTEST_VERSION=0.9.143
target_dir="${CARGO_TARGET_DIR:-target}"

step "set-up: cargo-nextest $NEXTEST_VERSION"
if ! cargo nextest --version 2>/dev/null | grep -q "^cargo-nextest $NEXTEST_VERSION "; then
  # From crates.io, built with its own lockfile (a few minutes, once per machine).
  cargo install cargo-nextest --version "=$NEXTEST_VERSION" --locked
fi

step "set-up: npm packages for the SDK compatibility test"
(cd tests/sdk && npm ci --no-audit --no-fund --loglevel=error)

step "set-up: Chromium (Debian's) and playwright-core for the dashboard tests"
if ! command -v /usr/bin/chromium >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
(cd tests/dashboard && npm ci --no-audit --no-fund --loglevel=error)

step "set-up: Python packages (aiosmtpd, the SMTP server of the alert email tests; standardwebhooks, the reference verifier of signed deliveries)"
python3 -c 'import aiosmtpd, standardwebhooks' 2>/dev/null ||
  python3 -m pip install --quiet --disable-pip-version-check 'aiosmtpd==1.4.6' 'standardwebhooks==1.1.0'

step "set-up: moto (a local AWS endpoint: the SQS and EventBridge destination tests start it)"
python3 -c 'import moto.server, flask' 2>/dev/null ||
  python3 -m pip install --quiet --disable-pip-version-check 'moto[server]==5.2.5'

step "set-up: edge Worker toolchain, npm packages and the Worker bundle"
./scripts/setup-edge.sh
step "set-up: transformation components (SDK examples, test fixtures)"
./scripts/setup-wasm.sh

step "format, lints and layering"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# No import cycles between delivery's files; store/ and model/ import no step.
python3 scripts/import-cycles.py delivery/src

step "Rust tests: unit, filter conformance, store (SQLite + PostgreSQL), end to end"
cargo nextest run --workspace --locked --profile ci
# nextest does not run doctests.
cargo test --workspace --locked --doc

step "edge Worker in workerd (wrangler) against a running hookyard"
(cd tests/edge && PATH="$PWD/node_modules/.bin:$PATH" WRANGLER_SEND_METRICS=false \
  WRANGLER_SEND_ERROR_REPORTS=false CLOUDFLARE_CF_FETCH_ENABLED=false DO_NOT_TRACK=1 npm test --silent)

step "dashboard in Chromium (playwright-core) against a running hookyard"
target_abs="$(realpath "$target_dir")"
(cd tests/dashboard && HOOKYARD_BIN="$target_abs/debug/hookyard" \
  DASHBOARD_SHOTS="$target_abs/dashboard-screenshots" npm test --silent)

step "Hookdeck SDK (@hookdeck/sdk) against a running hookyard"
data_dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
key="sdk-test-key-$RANDOM"
HOOKYARD_API_KEY="$key" "$target_dir/debug/hookyard" serve --listen "127.0.0.1:$port" \
  --data-dir "$data_dir" >"$data_dir/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$data_dir"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.1
done
(cd tests/sdk && HOOKYARD_URL="http://127.0.0.1:$port" HOOKYARD_API_KEY="$key" npm test --silent)
