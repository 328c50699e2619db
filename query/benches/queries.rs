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
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use auditfed_normalize::sealer::{Sealer, SealerConfig};
use auditfed_normalize::{Output, normalize};
use auditfed_query::sql::{Archive, Catalog};
use auditfed_query::store::LocalDir;
use auditfed_query::writer::{SealedRow, write_checkpoint, write_rows};
use auditfed_schemas::seal::{FileSigner, format_time};
use auditfed_schemas::{SourceMeta, SourceType};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// 2026-10-01T00:00:00Z: the generated month starts here.
const START_MS: i64 = 1_790_812_800_000;
const DAYS: i64 = 30;
const BATCH: usize = 50_000;

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

/// xorshift64*: deterministic data, so reruns build the same archive.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// (service, operation, weight in 10 000ths).
const OPERATIONS: &[(&str, &str, u64)] = &[
    ("s3", "GetObject", 2_800),
    ("ec2", "DescribeInstances", 2_000),
    ("sts", "AssumeRole", 1_500),
    ("kms", "Decrypt", 1_000),
    ("s3", "PutObject", 900),
    ("lambda", "Invoke", 700),
    ("signin", "ConsoleLogin", 500),
    ("iam", "AttachUserPolicy", 150),
    ("iam", "PutRolePolicy", 150),
    ("iam", "CreateUser", 100),
    ("iam", "AddUserToGroup", 100),
    ("iam", "CreateAccessKey", 98),
    ("cloudtrail", "StopLogging", 1),
    ("cloudtrail", "PutEventSelectors", 1),
];

fn operation(rng: &mut Rng) -> (&'static str, &'static str) {
    let mut pick = rng.below(10_000);
    for (service, op, weight) in OPERATIONS {
        if pick < *weight {
            return (service, op);
        }
        pick -= weight;
    }
    ("s3", "GetObject")
}

/// One CloudTrail record as JSON text.
fn cloudtrail_record(rng: &mut Rng, chain: usize, i: u64, time_ms: i64) -> String {
    let user = rng.below(400);
    let account = 100_000_000_000 + user % 40;
    let region = [
        "us-east-1",
        "us-west-2",
        "eu-west-1",
        "eu-central-1",
        "ap-southeast-1",
        "ap-northeast-1",
        "sa-east-1",
        "ca-central-1",
    ][rng.below(8) as usize];
    // A few audit-logging changes in every run, however small.
    let (service, op) = if i % 5_000 == 1 {
        ("cloudtrail", "StopLogging")
    } else {
        operation(rng)
    };
    let root = rng.below(200) == 0;
    let identity = if root {
        format!(
            r#"{{"type":"Root","principalId":"{account}","arn":"arn:aws:iam::{account}:root","accountId":"{account}","accessKeyId":"ASIAROOT{account}"}}"#
        )
    } else {
        format!(
            r#"{{"type":"IAMUser","principalId":"AIDAEXAMPLE{user:08}","arn":"arn:aws:iam::{account}:user/user-{user}","accountId":"{account}","accessKeyId":"AKIAEXAMPLE{user:08}","userName":"user-{user}"}}"#
        )
    };
    let time = format_time(time_ms);
    let ip = format!("10.{}.{}.{}", user % 250, rng.below(250), rng.below(250));
    let event_id = format!("evt-{chain}-{i:013}");
    let (source, extra) = if op == "ConsoleLogin" {
        let outcome = if rng.below(10) == 0 {
            "Failure"
        } else {
            "Success"
        };
        (
            "signin.amazonaws.com".to_owned(),
            format!(
                r#","eventType":"AwsConsoleSignIn","responseElements":{{"ConsoleLogin":"{outcome}"}},"additionalEventData":{{"MFAUsed":"No","LoginTo":"https://console.aws.amazon.com/"}}"#
            ),
        )
    } else {
        let denied = if rng.below(33) == 0 {
            r#","errorCode":"AccessDenied","errorMessage":"User is not authorized to perform this operation""#
        } else {
            ""
        };
        (
            format!("{service}.amazonaws.com"),
            format!(
                r#","eventType":"AwsApiCall","requestParameters":{{"bucketName":"data-{}","key":"reports/{}.csv","userName":"user-{}"}},"responseElements":null{denied}"#,
                account % 7,
                rng.below(100_000),
                rng.below(400)
            ),
        )
    };
    format!(
        r#"{{"eventVersion":"1.08","userIdentity":{identity},"eventTime":"{time}","eventSource":"{source}","eventName":"{op}","awsRegion":"{region}","sourceIPAddress":"{ip}","userAgent":"aws-cli/2.15.30 Python/3.11.8","requestID":"{:016x}","eventID":"{event_id}","readOnly":false,"managementEvent":true,"recipientAccountId":"{account}","eventCategory":"Management"{extra}}}"#,
        rng.next()
    )
}

/// Time spent per stage by one chain's thread.
#[derive(Default, Clone, Copy)]
struct Stages {
    events: u64,
    map: Duration,
    seal: Duration,
    write: Duration,
}

/// Builds one chain's share of the archive; returns its stage times.
fn build_chain(store: &LocalDir, chain: usize, events: u64, signer: Arc<FileSigner>) -> Stages {
    let config = SealerConfig {
        checkpoint_every_events: 10_000,
        ..SealerConfig::default()
    };
    let mut sealer = Sealer::new(&format!("bench/{chain}"), config, signer, 0).unwrap();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (chain as u64 + 1));
    let span = DAYS * 86_400_000;
    let mut stages = Stages::default();
    let mut i = 0u64;
    while i < events {
        let n = BATCH.min((events - i) as usize);
        let mut input = Vec::with_capacity(n * 900);
        for k in 0..n as u64 {
            let t = START_MS + ((i + k) as i128 * span as i128 / events as i128) as i64;
            input.extend_from_slice(cloudtrail_record(&mut rng, chain, i + k, t).as_bytes());
            input.push(b'\n');
        }
        let started = Instant::now();
        let mapped: Vec<_> = normalize(
            Some(SourceType::AwsCloudtrail),
            &input,
            &SourceMeta::default(),
        )
        .into_iter()
        .map(|o| match o {
            Ok(Output::Event(e)) => *e,
            other => panic!("a generated record did not map: {other:?}"),
        })
        .collect();
        let mapped_at = Instant::now();
        let mut rows = Vec::with_capacity(mapped.len());
        let mut notes = Vec::new();
        for event in mapped {
            let (sealed, note) = sealer.seal(&event, event.time).unwrap();
            notes.extend(note);
            rows.push(SealedRow {
                raw_record: event.raw_data.as_ref().map(|r| r.as_bytes().to_vec()),
                event,
                event_json: sealed.canonical,
                source: "aws_cloudtrail".into(),
                chain: sealed.chain,
                seq: sealed.seq,
                leaf: sealed.leaf,
                chain_hash: sealed.chain_hash,
            });
        }
        if i + n as u64 >= events {
            notes.extend(sealer.flush(START_MS + span).unwrap());
        }
        let sealed_at = Instant::now();
        write_rows(store, &rows).unwrap();
        for note in &notes {
            write_checkpoint(store, note).unwrap();
        }
        let written_at = Instant::now();
        stages.events += n as u64;
        stages.map += mapped_at - started;
        stages.seal += sealed_at - mapped_at;
        stages.write += written_at - sealed_at;
        i += n as u64;
    }
    stages
}

fn build_archive(dir: &Path, events: u64, cores: usize) {
    let store = LocalDir::new(dir);
    let signer = Arc::new(FileSigner::from_seed("bench", &[7; 32]).unwrap());
    let started = Instant::now();
    let per_chain: Vec<Stages> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..cores)
            .map(|chain| {
                let share =
                    events / cores as u64 + u64::from((chain as u64) < events % cores as u64);
                let (store, signer) = (&store, signer.clone());
                scope.spawn(move || build_chain(store, chain, share, signer))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let wall = started.elapsed().as_secs_f64();
    let total = per_chain.iter().fold(Stages::default(), |a, s| Stages {
        events: a.events + s.events,
        map: a.map + s.map,
        seal: a.seal + s.seal,
        write: a.write + s.write,
    });
    let busy = (total.map + total.seal + total.write).as_secs_f64();
    let per_core = total.events as f64 / busy;
    println!(
        "build: {} events, {cores} chains on {cores} cores, {wall:.1} s wall (record generation included)",
        total.events
    );
    println!(
        "end-to-end raw → OCSF → sealed → Parquet: {per_core:.0} events/s per core (stage time {busy:.1} core-s: map {:.1} s, seal {:.1} s, write Parquet {:.1} s)",
        total.map.as_secs_f64(),
        total.seal.as_secs_f64(),
        total.write.as_secs_f64()
    );
    println!(
        "  per stage per core: map {:.0}/s, seal {:.0}/s, write {:.0}/s",
        total.events as f64 / total.map.as_secs_f64(),
        total.events as f64 / total.seal.as_secs_f64(),
        total.events as f64 / total.write.as_secs_f64()
    );
    std::fs::write(dir.join(".bench-events"), events.to_string()).unwrap();
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
    let events: u64 = std::env::var("AUDITFED_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 10_000_000 } else { 4_000 });
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (dir, keep): (PathBuf, bool) = match std::env::var("AUDITFED_BENCH_DIR") {
        Ok(d) => (PathBuf::from(d), true),
        Err(_) => (
            std::env::temp_dir().join(format!("auditfed-query-bench-{}", std::process::id())),
            false,
        ),
    };
    let reuse = std::fs::read_to_string(dir.join(".bench-events")).ok() == Some(events.to_string());
    if reuse {
        println!("reusing the {events}-event archive in {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
        build_archive(&dir, events, cores);
    }

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
