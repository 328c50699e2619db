#!/usr/bin/env bash
# Soak test of the normalizer's exactly-once guarantee, outside CI:
# many kill -9s at random points against the real broker, then the chains
# are checked gap- and duplicate-free and the archive verified.
#   scripts/soak-normalizer.sh [iterations, default 200]
# Reproduce a run with AUDITFED_TEST_SEED=<the printed seed>.
set -euo pipefail
cd "$(dirname "$0")/.."
started=
if ! scripts/kafka.sh status >/dev/null 2>&1; then
  scripts/kafka.sh start
  started=1
fi
trap '[ -n "$started" ] && scripts/kafka.sh stop' EXIT
AUDITFED_KAFKA_BOOTSTRAP=127.0.0.1:${AUDITFED_KAFKA_PORT:-9092} \
AUDITFED_REQUIRE_KAFKA=1 \
AUDITFED_KILL_ITERATIONS="${1:-200}" \
  cargo test --release --test pipeline normalizer_kafka::kill_dash_nine -- --nocapture
