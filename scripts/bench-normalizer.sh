#!/usr/bin/env bash
# Throughput of `auditfed ingest file` and `auditfed run normalize` against
# the real broker of scripts/kafka.sh (started if needed), release build.
#   scripts/bench-normalizer.sh [records, default 200000]
# Records: real CloudTrail records (the otel-contrib fixture) with unique
# eventIDs, as JSON lines. The normalizer maps, seals and commits in
# transactions with the batch settings of examples/auditfed.toml; the time
# reported excludes the final idle second that ends the run.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
n=${1:-200000}
started=
if ! scripts/kafka.sh status >/dev/null 2>&1; then
  scripts/kafka.sh start
  started=1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"; [ -n "$started" ] && scripts/kafka.sh stop' EXIT
cargo build --release --quiet
bin=$repo/target/release/auditfed
cd "$work"
python3 - "$n" "$repo/normalize/tests/fixtures/aws_cloudtrail/otel-contrib__cloudtrail_log.json" >records.jsonl <<'PY'
import json, sys
n, fixture = int(sys.argv[1]), sys.argv[2]
records = json.load(open(fixture))["Records"]
for i in range(n):
    r = dict(records[i % len(records)])
    r["eventID"] = f"bench-{i}"
    print(json.dumps(r, separators=(",", ":")))
PY
"$bin" keygen --out ./auditfed-data/keys >/dev/null
sed "s/topic_prefix = \"auditfed\"/topic_prefix = \"bench$(date +%s)\"/" "$repo/examples/auditfed.toml" >auditfed.toml
bytes=$(stat -c %s records.jsonl)
echo "records: $n, $((bytes / n)) bytes each on average"
t0=$(date +%s.%N)
"$bin" ingest file --config auditfed.toml --source aws_cloudtrail records.jsonl 2>&1 | tail -1
t1=$(date +%s.%N)
"$bin" run normalize --config auditfed.toml --exit-when-idle 1 2>&1 | tail -1
t2=$(date +%s.%N)
python3 - "$n" "$t0" "$t1" "$t2" <<'PY'
import sys
n, t0, t1, t2 = int(sys.argv[1]), *map(float, sys.argv[2:])
print(f"ingest file:     {t1 - t0:6.1f} s  {n / (t1 - t0):8.0f} records/s")
print(f"run normalize:   {t2 - t1 - 1:6.1f} s  {n / (t2 - t1 - 1):8.0f} records/s (map + seal + transactions, start-up included)")
PY
