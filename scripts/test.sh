#!/usr/bin/env bash
# auditfed's full test command (the one README.md names and .ci/run calls).
#
# It installs what the tests need into ./.cache (git-ignored), runs the format
# and lint gates, builds every test once, then runs them against real
# services: Apache Kafka (scripts/kafka.sh), moto server (S3, SQS), Azurite
# (Azure Blob) and fake-gcs-server (GCS). Each is started before the tests
# and stopped by the EXIT trap, also when tests fail.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cache=${AUDITFED_CACHE:-$root/.cache}
mkdir -p "$cache"

kafka_started=
emulator_pids=()
cleanup() {
  local status=$?
  for pid in "${emulator_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  if [ -n "$kafka_started" ]; then
    scripts/kafka.sh stop || true
  fi
  exit "$status"
}
trap cleanup EXIT

step() { printf '\n==> %s\n' "$*"; }

step "Python for the independent checks: OCSF JSON Schemas, seal vectors, DuckDB and pyarrow ($cache/venv)"
if [ ! -x "$cache/venv/bin/python" ]; then
  python3 -m venv "$cache/venv"
fi
"$cache/venv/bin/pip" install --quiet --disable-pip-version-check \
  'ocsf-json-schema==1.2.0' 'jsonschema>=4.23,<5' 'cryptography>=42' \
  'duckdb>=1.1,<3' 'pyarrow>=17' 'psycopg[binary]>=3.1,<4' 'moto[server]>=5,<6' \
  'azure-storage-blob>=12.19,<13' 'aiosmtpd>=1.4,<2'

step "openssl and curl (receivers' tests), Chromium and poppler (reports opened in a browser and as PDF pages)"
if ! command -v openssl >/dev/null || ! command -v curl >/dev/null \
  || ! command -v chromium >/dev/null || ! command -v pdftoppm >/dev/null; then
  apt-get update -qq && apt-get install -y -qq openssl curl chromium poppler-utils
fi
export AUDITFED_REQUIRE_BROWSER=1

step "Azure Blob emulator (Azurite) and GCS emulator (fake-gcs-server), into $cache"
if [ ! -x "$cache/azurite/node_modules/.bin/azurite-blob" ]; then
  npm install --prefix "$cache/azurite" --no-audit --no-fund --silent 'azurite@3.37.0'
fi
if [ ! -x "$cache/bin/fake-gcs-server" ]; then
  GOBIN="$cache/bin" go install github.com/fsouza/fake-gcs-server@v1.56.1
fi
export AUDITFED_PYTHON="$cache/venv/bin/python"
export AUDITFED_REQUIRE_PYTHON=1

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (warnings denied)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo doc (the crate docs are the manual: broken links fail)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "build the tests once"
cargo test --workspace --all-targets --locked --no-run

step "Apache Kafka (KRaft, one node) for the Kafka tests: scripts/kafka.sh"
kafka_started=1
scripts/kafka.sh start
export AUDITFED_KAFKA_BOOTSTRAP=127.0.0.1:${AUDITFED_KAFKA_PORT:-9092}
export AUDITFED_KAFKA_SCRIPT=$root/scripts/kafka.sh
export AUDITFED_REQUIRE_KAFKA=1

# Waits until URL answers (any HTTP status) or gives up after 15 s.
await_http() {
  for _ in $(seq 1 75); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.2
  done
  echo "$2 did not start: see $3" >&2
  exit 1
}

moto_port=${AUDITFED_MOTO_PORT:-5055}
step "S3 and SQS emulator (moto server) on 127.0.0.1:$moto_port"
"$cache/venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$cache/moto.log" 2>&1 &
emulator_pids+=($!)
await_http "http://127.0.0.1:$moto_port/" "moto server" "$cache/moto.log"
export AUDITFED_S3_ENDPOINT=http://127.0.0.1:$moto_port

azurite_port=${AUDITFED_AZURITE_PORT:-10000}
step "Azure Blob emulator (Azurite) on 127.0.0.1:$azurite_port"
"$cache/azurite/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$azurite_port" \
  --inMemoryPersistence --skipApiVersionCheck --disableTelemetry >"$cache/azurite.log" 2>&1 &
emulator_pids+=($!)
await_http "http://127.0.0.1:$azurite_port/devstoreaccount1?comp=list" "Azurite" "$cache/azurite.log"
export AUDITFED_AZURE_ENDPOINT=http://127.0.0.1:$azurite_port/devstoreaccount1

gcs_port=${AUDITFED_GCS_PORT:-4443}
step "GCS emulator (fake-gcs-server behind scripts/emulators/gcs-xml-put.py) on 127.0.0.1:$gcs_port"
"$cache/bin/fake-gcs-server" -scheme http -host 127.0.0.1 -port $((gcs_port + 1)) -backend memory \
  -public-host "127.0.0.1:$gcs_port" -log-level warn >"$cache/fake-gcs-server.log" 2>&1 &
emulator_pids+=($!)
"$cache/venv/bin/python" scripts/emulators/gcs-xml-put.py "$gcs_port" $((gcs_port + 1)) 2>"$cache/gcs-xml-put.log" &
emulator_pids+=($!)
await_http "http://127.0.0.1:$gcs_port/storage/v1/b" "fake-gcs-server" "$cache/fake-gcs-server.log"
export AUDITFED_GCS_ENDPOINT=http://127.0.0.1:$gcs_port
export AUDITFED_REQUIRE_OBJECT_STORES=1

step "run the tests"
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked

step "all tests passed"
