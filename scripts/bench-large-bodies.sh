#!/usr/bin/env bash
# Memory under a flood of large webhooks (BENCHMARKS.md, issue 17): N concurrent
# requests with a body of SIZE MiB each against `hookyard serve` (SQLite in a
# temporary directory) whose ingest.max_inflight_bytes is BUDGET MiB. Prints the
# gateway's RSS before, its peak (VmHWM) and the answers by status code.
#
# Usage: scripts/bench-large-bodies.sh [hookyard binary] [N] [SIZE_MIB] [BUDGET_MIB]
#        (defaults: target/release/hookyard 200 10 100)
# Extra environment (e.g. HOOKYARD_INGEST__MAX_COMMIT_BYTES) is passed to serve.
set -euo pipefail

bin=${1:-target/release/hookyard}
n=${2:-200}
size_mib=${3:-10}
budget_mib=${4:-100}

work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
key=bench-large-bodies-key

HOOKYARD_API_KEY=$key \
  HOOKYARD_INGEST__MAX_INFLIGHT_BYTES=$((budget_mib * 1024 * 1024)) \
  HOOKYARD_INGEST__MAX_BODY_BYTES=$(((size_mib + 1) * 1024 * 1024)) \
  "$bin" serve --listen "127.0.0.1:$port" --data-dir "$work/data" >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  curl -fs "$base/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "$base/healthz" >/dev/null || { cat "$work/serve.log"; exit 1; }

# A source with no connection: what is measured is receiving and storing.
curl -fs "$base/2024-09-01/sources" -H "Authorization: Bearer $key" \
  -H 'content-type: application/json' -d '{"name": "large"}' >/dev/null
# Base64 of random bytes: SIZE MiB of text that does not compress.
head -c $((size_mib * 1024 * 1024 * 3 / 4)) /dev/urandom | base64 -w0 >"$work/body"

rss() { awk -v k="$1:" '$1 == k { print int($2 / 1024) }' "/proc/$pid/status"; }
before=$(rss VmRSS)
seq "$n" | xargs -P "$n" -I{} curl -s -o /dev/null -w '%{http_code}\n' \
  --data-binary @"$work/body" -H 'content-type: text/plain' "$base/e/large" >"$work/codes"
peak=$(rss VmHWM)
after=$(rss VmRSS)

echo "requests:        $n x $size_mib MiB, ingest.max_inflight_bytes $budget_mib MiB"
echo "answers:         $(sort "$work/codes" | uniq -c | awk '{ printf "%s x %s  ", $1, $2 }')"
echo "RSS before:      $before MiB"
echo "RSS peak:        $peak MiB (budget + $((peak - budget_mib)) MiB)"
echo "RSS after:       $after MiB"
