"""psycopg against `auditfed serve sql`: connect with a password, run a
query with a bound parameter as a server-side prepared statement (extended
protocol), and the catalog query drivers and BI tools use. Prints JSON.

argv: port user password [sslmode [path]]: with a path, also tries to write
(COPY … TO path, INSERT, CREATE) and reports each refusal's SQLSTATE.
Exit 3 when psycopg is missing.
"""
import json
import sys

try:
    import psycopg
except ImportError as e:  # pragma: no cover
    print(f"missing package: {e}", file=sys.stderr)
    sys.exit(3)

port, user, password = sys.argv[1], sys.argv[2], sys.argv[3]
sslmode = sys.argv[4] if len(sys.argv) > 4 else "prefer"
forbidden_path = sys.argv[5] if len(sys.argv) > 5 else None
out = {}


def connect(password):
    return psycopg.connect(
        host="127.0.0.1", port=port, user=user, password=password, dbname="auditfed", sslmode=sslmode
    )


with connect(password) as conn:
    out["ssl_in_use"] = bool(conn.pgconn.ssl_in_use)
    if forbidden_path:
        out["writes"] = {}
        conn.autocommit = True
        for sql in [
            f"COPY (SELECT 1) TO '{forbidden_path}'",
            "INSERT INTO events SELECT * FROM events",
            "CREATE TABLE t AS SELECT 1",
        ]:
            try:
                conn.execute(sql)
                out["writes"][sql] = "accepted"
            except psycopg.Error as e:
                out["writes"][sql] = e.sqlstate
    with conn.cursor() as cur:
        cur.execute("SELECT source, count(*) AS n FROM events GROUP BY source ORDER BY source")
        out["per_source"] = {r[0]: r[1] for r in cur.fetchall()}
        # A bound parameter, prepared on the server (Parse/Bind/Execute), twice.
        for _ in range(2):
            cur.execute("SELECT count(*) FROM events WHERE source = %s", ("syslog",), prepare=True)
            out["syslog_prepared"] = cur.fetchone()[0]
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_name = %s", ("events",))
        out["information_schema"] = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT count(*) FROM pg_catalog.pg_class")
        out["pg_class_rows"] = cur.fetchone()[0]
try:
    connect(password + "x").close()
    out["wrong_password"] = "accepted"
except psycopg.OperationalError as e:
    out["wrong_password"] = str(e)
print(json.dumps(out))
