//! The generated CloudTrail archive both benches measure on: realistic
//! records mapped by the real mapper, sealed by the real sealer, written by
//! the archive writer (see `queries.rs` for the mix).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use auditfed_normalize::sealer::{Sealer, SealerConfig};
use auditfed_normalize::{Output, normalize};
use auditfed_query::store::LocalDir;
use auditfed_query::writer::{SealedRow, write_checkpoint, write_rows};
use auditfed_schemas::seal::{FileSigner, format_time};
use auditfed_schemas::{SourceMeta, SourceType};

/// 2026-10-01T00:00:00Z: the generated month starts here.
pub const START_MS: i64 = 1_790_812_800_000;
pub const DAYS: i64 = 30;
pub const BATCH: usize = 50_000;

/// xorshift64*: deterministic data, so reruns build the same archive.
pub struct Rng(u64);
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

pub fn build_archive(dir: &Path, events: u64, cores: usize) {
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
    std::fs::write(marker(dir), events.to_string()).unwrap();
}

/// Beside the archive (not in it: the verifier would report a stray file),
/// the number of events it was built with, so a later run can reuse it.
pub fn marker(dir: &Path) -> std::path::PathBuf {
    let name = dir
        .file_name()
        .map_or_else(|| "archive".into(), |n| n.to_string_lossy().into_owned());
    dir.with_file_name(format!("{name}.bench-events"))
}

/// The archive a bench measures, `(events, directory, keep it afterwards)`:
/// AUDITFED_BENCH_EVENTS events (10 M under `cargo bench`, 4 000 as a
/// smoke test), in AUDITFED_BENCH_DIR (kept, and reused when it holds as
/// many events) or a temporary directory named after `bench`.
pub fn prepare(bench: &str) -> (u64, PathBuf, bool) {
    let full = std::env::args().any(|a| a == "--bench");
    let events: u64 = std::env::var("AUDITFED_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 10_000_000 } else { 4_000 });
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let (dir, keep): (PathBuf, bool) = match std::env::var("AUDITFED_BENCH_DIR") {
        Ok(d) => (PathBuf::from(d), true),
        Err(_) => (
            std::env::temp_dir().join(format!("auditfed-{bench}-bench-{}", std::process::id())),
            false,
        ),
    };
    let reuse = std::fs::read_to_string(marker(&dir)).ok() == Some(events.to_string());
    if reuse {
        println!("reusing the {events}-event archive in {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
        build_archive(&dir, events, cores);
    }
    (events, dir, keep)
}
