#!/usr/bin/env bash
# auditfed's full test command (the one README.md names and .ci/run calls).
#
# It installs what the tests need into ./.cache (git-ignored), runs the format
# and lint gates, builds every test once, then runs them. Later issues add the
# real services here (object-store emulators next): each is started before
# the tests that need it and stopped by the EXIT trap, also when tests fail.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cache=${AUDITFED_CACHE:-$root/.cache}
mkdir -p "$cache"

kafka_started=
moto_pid=
cleanup() {
  local status=$?
  if [ -n "$moto_pid" ]; then
    kill "$moto_pid" 2>/dev/null || true
  fi
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
  'duckdb>=1.1,<3' 'pyarrow>=17' 'psycopg[binary]>=3.1,<4' 'moto[server]>=5,<6'
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

step "S3 and SQS emulator (moto server) on 127.0.0.1:${AUDITFED_MOTO_PORT:-5055}"
"$cache/venv/bin/moto_server" -H 127.0.0.1 -p "${AUDITFED_MOTO_PORT:-5055}" >"$cache/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 1 50); do
  curl -sf "http://127.0.0.1:${AUDITFED_MOTO_PORT:-5055}/" >/dev/null && break
  sleep 0.2
done
export AUDITFED_S3_ENDPOINT=http://127.0.0.1:${AUDITFED_MOTO_PORT:-5055}
export AUDITFED_REQUIRE_S3=1

step "run the tests"
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked

step "all tests passed"
