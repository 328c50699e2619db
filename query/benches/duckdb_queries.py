"""DuckDB's side of `cargo bench -p auditfed-query --bench queries`.

Reads {"dir", "runs", "queries"} as JSON on stdin; over the archive's Parquet
files (hive partitions source=/date=) it runs each query once cold and `runs`
times warm, and prints [{"cold", "warm" (median), "rows"}] as JSON.
"""

import json
import statistics
import sys
import time

import duckdb

request = json.load(sys.stdin)
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
glob = (request["dir"] + "/**/*.parquet").replace("'", "''")
con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{glob}', hive_partitioning = true)")


def cell(v):
    if v is None:
        return None
    if isinstance(v, (int, float, str)):
        return v
    return str(v)


out = []
for sql in request["queries"]:
    started = time.perf_counter()
    rows = con.execute(sql).fetchall()
    cold = time.perf_counter() - started
    warm = []
    for _ in range(request["runs"]):
        started = time.perf_counter()
        con.execute(sql).fetchall()
        warm.append(time.perf_counter() - started)
    out.append(
        {
            "cold": cold,
            "warm": statistics.median(warm),
            "rows": [[cell(v) for v in row] for row in rows],
        }
    )
json.dump(out, sys.stdout)
