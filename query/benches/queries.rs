//! Compliance queries over a generated archive, auditfed (DataFusion) against
//! DuckDB over the same files in the same run, and the end-to-end
//! raw → OCSF → sealed → Parquet throughput that builds the archive.
//!
//! ```sh
//! cargo bench -p auditfed-query --bench queries                  # 10 M events
//! AUDITFED_BENCH_EVENTS=1000000 cargo bench -p auditfed-query --bench queries
//! AUDITFED_BENCH_DIR=/data/bench cargo bench …                   # keep (and reuse) the archive
//! ```
//!
//! The archive: CloudTrail records generated with a realistic mix (reads,
//! writes, sign-ins with 10 % failures, IAM changes, ~3 % AccessDenied, a
//! little root activity, rare StopLogging) from 400 users in 40 accounts and
//! 8 regions over 30 days, mapped by the real mapper, sealed by the real
//! sealer (one chain per core, a checkpoint every 10 000 events), written by
//! the archive writer (zstd, statistics, page indexes). DuckDB runs through
//! `query/benches/duckdb_queries.py` with the Python of AUDITFED_PYTHON
//! (scripts/test.sh's venv has duckdb); both engines use all cores; each
//! query is run once cold and three times warm, the median warm time is
//! compared, and the results of both engines must agree.
//!
//! Under `cargo test` it builds a 4 000-event archive and runs every query
//! once with auditfed only, as a smoke test.

use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use auditfed_query::sql::{Archive, Catalog};

mod generate;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// An event picked from the archive for the time-bounded lookups.
struct Target {
    uid: String,
    user: String,
    /// `YYYY-MM-DD HH:00:00` of its hour.
    hour: String,
    /// `YYYY-MM-DD` of its day.
    day: String,
}

/// The compliance questions, in SQL both engines accept. Each returns rows
/// ending in an integer `n`, fully ordered, so the engines can be compared.
fn queries(t: &Target) -> Vec<(&'static str, String)> {
    let key = format!(
        "AKIAEXAMPLE{:08}",
        t.user
            .trim_start_matches("user-")
            .parse::<u64>()
            .unwrap_or(0)
    );
    let fixed: &[(&'static str, &str)] = &[
        (
            "failed sign-ins by user (top 20)",
            "SELECT actor_user_name, count(*) AS n FROM events WHERE class_uid = 3002 AND status_id = 2 \
         GROUP BY actor_user_name ORDER BY n DESC, actor_user_name LIMIT 20",
        ),
        (
            "root activity per account",
            "SELECT cloud_account_uid, count(*) AS n FROM events WHERE actor_user_uid LIKE '%:root' \
         GROUP BY cloud_account_uid ORDER BY n DESC, cloud_account_uid",
        ),
        (
            "audit logging disabled",
            "SELECT cloud_account_uid, api_operation, count(*) AS n FROM events \
         WHERE api_operation IN ('StopLogging', 'DeleteTrail', 'UpdateTrail', 'PutEventSelectors') \
         GROUP BY cloud_account_uid, api_operation ORDER BY n DESC, cloud_account_uid, api_operation",
        ),
        (
            "privilege and policy changes per day",
            "SELECT CAST(date AS VARCHAR) AS day, count(*) AS n FROM events WHERE class_uid IN (3001, 3005, 3006) \
         OR (class_uid = 3004 AND api_operation LIKE '%Polic%') GROUP BY 1 ORDER BY 1",
        ),
        (
            "access denied by principal (top 20)",
            "SELECT actor_user_name, count(*) AS n FROM events WHERE status_code = 'AccessDenied' \
         GROUP BY actor_user_name ORDER BY n DESC, actor_user_name LIMIT 20",
        ),
        (
            "access denied bursts (>= 3 per user-hour)",
            "SELECT actor_user_name, date_trunc('hour', time) AS hour, count(*) AS n FROM events \
         WHERE status_code = 'AccessDenied' GROUP BY 1, 2 HAVING count(*) >= 3 \
         ORDER BY n DESC, actor_user_name, hour LIMIT 50",
        ),
        (
            "activity per region in one account",
            "SELECT cloud_region, count(*) AS n FROM events WHERE cloud_account_uid = '100000000007' \
         GROUP BY cloud_region ORDER BY n DESC, cloud_region",
        ),
        (
            "distinct source IPs per user (top 20)",
            "SELECT actor_user_name, count(DISTINCT src_ip) AS n FROM events \
         GROUP BY actor_user_name ORDER BY n DESC, actor_user_name LIMIT 20",
        ),
        (
            "operations per service",
            "SELECT api_service, api_operation, count(*) AS n FROM events \
         GROUP BY api_service, api_operation ORDER BY n DESC, api_service, api_operation",
        ),
    ];
    let mut all: Vec<(&'static str, String)> =
        fixed.iter().map(|(n, q)| (*n, (*q).to_owned())).collect();
    let (hour, day) = (&t.hour, &t.day);
    all.push((
        "time-bounded: one user's hour",
        format!(
            "SELECT api_operation, count(*) AS n FROM events \
             WHERE time >= TIMESTAMP '{hour}' AND time < TIMESTAMP '{hour}' + INTERVAL '1 hour' \
             AND actor_user_name = '{}' GROUP BY api_operation ORDER BY n DESC, api_operation",
            t.user
        ),
    ));
    all.push((
        "time-bounded: one event by uid within a day",
        format!(
            "SELECT event_uid, api_operation, 1 AS n FROM events \
             WHERE time >= TIMESTAMP '{day} 00:00:00' AND time < TIMESTAMP '{day} 00:00:00' + INTERVAL '1 day' \
             AND event_uid = '{}' ORDER BY event_uid",
            t.uid
        ),
    ));
    all.push((
        "time-bounded: an access key's trail in one day (full text)",
        format!(
            "SELECT api_operation, count(*) AS n FROM events \
             WHERE time >= TIMESTAMP '{day} 00:00:00' AND time < TIMESTAMP '{day} 00:00:00' + INTERVAL '1 day' \
             AND event_json LIKE '%{key}%' GROUP BY api_operation ORDER BY n DESC, api_operation"
        ),
    ));
    all
}

/// Rows as strings, for comparing engines (numbers and text alike).
type Rows = Vec<Vec<String>>;

fn auditfed_rows(catalog: &Catalog, sql: &str) -> Rows {
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    let batches = catalog.query(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for batch in &batches {
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for row in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .map(|f| normalize_cell(&serde_json::Value::String(f.value(row).to_string())))
                    .collect(),
            );
        }
    }
    rows
}

/// One spelling per value: timestamps as `YYYY-MM-DD HH:MM:SS`, numbers plain.
fn normalize_cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s
            .trim_end_matches('Z')
            .trim_end_matches("+00:00")
            .replace('T', " "),
        serde_json::Value::Null => "NULL".into(),
        other => other.to_string(),
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (events, dir, keep) = generate::prepare("query");

    let catalog = Catalog::new(&[Archive::new("bench", &dir.display().to_string())]).unwrap();
    let middle = events / cores as u64 / 2;
    let picked = auditfed_rows(
        &catalog,
        &format!(
            "SELECT event_uid, actor_user_name, CAST(date_trunc('hour', time) AS VARCHAR), n \
             FROM (SELECT *, 1 AS n FROM events WHERE chain_id = 'bench/0' AND seq = {middle})"
        ),
    );
    let target = Target {
        uid: picked[0][0].clone(),
        user: picked[0][1].clone(),
        hour: picked[0][2][..19].to_owned(),
        day: picked[0][2][..10].to_owned(),
    };
    let queries = queries(&target);
    let runs = if full { 3 } else { 1 };
    let mut ours = Vec::new();
    for (name, sql) in &queries {
        let started = Instant::now();
        let rows = auditfed_rows(&catalog, sql);
        let cold = started.elapsed().as_secs_f64();
        let mut warm = Vec::new();
        for _ in 0..runs {
            let started = Instant::now();
            let again = auditfed_rows(&catalog, sql);
            warm.push(started.elapsed().as_secs_f64());
            assert_eq!(again, rows, "{name}: not deterministic");
        }
        // Small smoke-test archives are too sparse for every question.
        assert!(
            events < 100_000 || !rows.is_empty(),
            "{name}: no rows (the generator and the query disagree)"
        );
        ours.push((cold, median(warm), rows));
    }

    let duckdb = if full {
        run_duckdb(&dir, runs, &queries)
    } else {
        None
    };
    println!(
        "\n{:<58} {:>12} {:>12} {:>12} {:>12}",
        "query", "auditfed ms", "(cold)", "DuckDB ms", "(cold)"
    );
    let (mut total_ours, mut total_duck) = (0.0, 0.0);
    for (i, (name, _)) in queries.iter().enumerate() {
        let (cold, warm, rows) = &ours[i];
        total_ours += warm;
        let duck = duckdb.as_ref().map(|d| &d[i]);
        if let Some((_, _, duck_rows)) = duck {
            assert_eq!(rows, duck_rows, "{name}: auditfed and DuckDB disagree");
        }
        let (dw, dc) = duck.map_or((String::from("-"), String::from("-")), |(c, w, _)| {
            total_duck += w;
            (format!("{:.1}", w * 1e3), format!("{:.1}", c * 1e3))
        });
        println!(
            "{name:<58} {:>12.1} {:>12.1} {dw:>12} {dc:>12}",
            warm * 1e3,
            cold * 1e3
        );
    }
    println!(
        "{:<58} {:>12.1} {:>12} {:>12}",
        "total (median of warm runs)",
        total_ours * 1e3,
        "",
        if duckdb.is_some() {
            format!("{:.1}", total_duck * 1e3)
        } else {
            "-".into()
        }
    );
    if duckdb.is_some() {
        println!(
            "results: auditfed and DuckDB agree on all {} queries",
            queries.len()
        );
    }
    if !keep {
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_file(generate::marker(&dir));
    }
}

/// Runs the queries with DuckDB: `(cold s, median warm s, rows)` per query,
/// or `None` when no Python with duckdb is available.
fn run_duckdb(
    dir: &Path,
    runs: usize,
    queries: &[(&str, String)],
) -> Option<Vec<(f64, f64, Rows)>> {
    let python = std::env::var("AUDITFED_PYTHON").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../.cache/venv/bin/python").to_owned()
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/duckdb_queries.py");
    let request = serde_json::json!({
        "dir": dir,
        "runs": runs,
        "queries": queries.iter().map(|(_, sql)| sql).collect::<Vec<_>>(),
    });
    let mut child = std::process::Command::new(&python)
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| eprintln!("DuckDB comparison skipped: cannot run {python}: {e}"))
        .ok()?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if !out.status.success() {
        eprintln!("DuckDB comparison skipped: {python} {script} failed");
        return None;
    }
    let answer: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    Some(
        answer
            .into_iter()
            .map(|q| {
                let rows = q["rows"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r.as_array().unwrap().iter().map(normalize_cell).collect())
                    .collect();
                (
                    q["cold"].as_f64().unwrap(),
                    q["warm"].as_f64().unwrap(),
                    rows,
                )
            })
            .collect(),
    )
}
