"""Reads an auditfed archive with DuckDB and with pyarrow, independently of
auditfed, and prints what each sees as JSON: row count, rows per source,
and per-row (chain_id, seq, event_uid, time in ms, leaf hash hex).

Exit 3 when duckdb or pyarrow is missing (the test decides whether to skip).
"""
import json
import sys

try:
    import duckdb
    import pyarrow.dataset as ds
except ImportError as e:  # pragma: no cover
    print(f"missing package: {e}", file=sys.stderr)
    sys.exit(3)

archive = sys.argv[1]

con = duckdb.connect()
rows = con.execute(
    f"""SELECT chain_id, seq, event_uid, epoch_ms(time), hex(leaf_hash), source
        FROM read_parquet('{archive}/source=*/date=*/*.parquet', hive_partitioning = true)
        ORDER BY chain_id, seq"""
).fetchall()
duck = {
    "count": len(rows),
    "per_source": {},
    "rows": [[r[0], r[1], r[2], r[3], r[4].lower()] for r in rows],
}
for r in rows:
    duck["per_source"][r[5]] = duck["per_source"].get(r[5], 0) + 1

dataset = ds.dataset(archive, format="parquet", partitioning="hive",
                     exclude_invalid_files=True, ignore_prefixes=["_", "."])
table = dataset.to_table(columns=["chain_id", "seq", "event_uid", "time", "leaf_hash", "source"])
records = sorted(
    zip(*(table.column(c).to_pylist() for c in ["chain_id", "seq", "event_uid", "time", "leaf_hash", "source"])),
    key=lambda r: (r[0], r[1]),
)
arrow = {
    "count": table.num_rows,
    "per_source": {},
    "rows": [[r[0], r[1], r[2], int(r[3].timestamp() * 1000), r[4].hex()] for r in records],
}
for r in records:
    arrow["per_source"][r[5]] = arrow["per_source"].get(r[5], 0) + 1

print(json.dumps({"duckdb": duck, "pyarrow": arrow}))
