//! Parse + map throughput per source, single-threaded.
//!
//! `cargo bench -p auditfed-normalize --bench parse_map` prints, per source,
//! events/s and µs/event for `map_record` (JSON parse, mapping, lineage with
//! the raw record's SHA-256). The CloudTrail input is generated: 1 KB records
//! varied in user, operation, IP and request parameters, as the design's
//! budget assumes. Other sources cycle through their golden fixtures.
//! Under `cargo test` it runs a few iterations only, as a smoke test.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use auditfed_normalize::framing::{json_frames, text_frames};
use auditfed_normalize::{Position, map_record};
use auditfed_schemas::{SourceMeta, SourceType};

// The allocator the `auditfed` binary uses: mapping is allocation-heavy.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A CloudTrail record of about 1 KB, varied by `i`.
fn cloudtrail_record(i: usize) -> Vec<u8> {
    let ops = [
        "GetObject",
        "PutObject",
        "DescribeInstances",
        "CreateUser",
        "AssumeRole",
        "DeleteBucket",
        "ListRoles",
    ];
    let sources = [
        "s3.amazonaws.com",
        "ec2.amazonaws.com",
        "iam.amazonaws.com",
        "sts.amazonaws.com",
    ];
    let op = ops[i % ops.len()];
    let source = sources[i % sources.len()];
    format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"AssumedRole","principalId":"AROAEXAMPLE{i:08}:session-{i}","arn":"arn:aws:sts::111122223333:assumed-role/Deployer/session-{i}","accountId":"111122223333","accessKeyId":"ASIAEXAMPLE{i:09}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROAEXAMPLE{i:08}","arn":"arn:aws:iam::111122223333:role/Deployer","accountId":"111122223333","userName":"Deployer"}},"attributes":{{"creationDate":"2024-05-01T11:00:00Z","mfaAuthenticated":"false"}}}}}},"eventTime":"2024-05-01T12:{:02}:{:02}Z","eventSource":"{source}","eventName":"{op}","awsRegion":"eu-west-1","sourceIPAddress":"203.0.113.{}","userAgent":"aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.ubuntu.22 prompt/off command/{op}","requestParameters":{{"bucketName":"audit-bucket-{}","key":"logs/2024/05/01/object-{i}.json","userName":"user-{}"}},"responseElements":null,"requestID":"REQ{i:016}","eventID":"{:08x}-0000-4000-8000-{:012x}","readOnly":{},"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management","tlsDetails":{{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"{source}"}}}}"#,
        (i / 60) % 60,
        i % 60,
        i % 250,
        i % 17,
        i % 101,
        i,
        i,
        i.is_multiple_of(3)
    )
    .into_bytes()
}

fn fixture_records(source: SourceType) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(source.as_str());
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        let frames = if source == SourceType::Syslog {
            text_frames(&bytes)
        } else {
            json_frames(&bytes)
        };
        for frame in frames.into_iter().flatten() {
            if !frame.is_cloudtrail_digest
                && map_record(source, frame.bytes, frame.position, &meta()).is_ok()
            {
                out.push(frame.bytes.to_vec());
            }
        }
    }
    out
}

fn meta() -> SourceMeta {
    SourceMeta {
        object: Some("bench".into()),
        assumed_year: Some(2024),
        ..Default::default()
    }
}

/// Runs `map_record` over `records` for about `budget`; returns (events, elapsed).
fn measure(
    source: SourceType,
    records: &[Vec<u8>],
    budget: Duration,
    min_events: usize,
) -> (usize, Duration) {
    let meta = meta();
    let start = Instant::now();
    let mut n = 0;
    while n < min_events || start.elapsed() < budget {
        for r in records {
            let event =
                map_record(source, r, Position::default(), &meta).expect("bench records map");
            black_box(event);
        }
        n += records.len();
    }
    (n, start.elapsed())
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (budget, min_events) = if full {
        (Duration::from_secs(2), 50_000)
    } else {
        (Duration::ZERO, 1)
    };
    let cloudtrail: Vec<Vec<u8>> = (0..4096).map(cloudtrail_record).collect();
    let avg = cloudtrail.iter().map(Vec::len).sum::<usize>() / cloudtrail.len();
    println!(
        "parse+map, one thread (map_record: JSON parse, OCSF mapping, lineage incl. SHA-256 of the raw record)"
    );
    println!(
        "{:<34} {:>8} {:>12} {:>10} {:>10}",
        "source (input)", "avg B", "events/s", "µs/event", "MB/s"
    );
    let report = |label: &str, source: SourceType, records: &[Vec<u8>]| {
        // Warm up caches and the allocator.
        measure(source, records, Duration::ZERO, 1);
        let (n, elapsed) = measure(source, records, budget, min_events);
        let bytes: usize = records.iter().map(Vec::len).sum::<usize>() * n / records.len();
        let secs = elapsed.as_secs_f64();
        println!(
            "{label:<34} {:>8} {:>12.0} {:>10.2} {:>10.1}",
            bytes / n,
            n as f64 / secs,
            secs * 1e6 / n as f64,
            bytes as f64 / secs / 1e6
        );
    };
    report(
        "aws_cloudtrail (generated 1 KB)",
        SourceType::AwsCloudtrail,
        &cloudtrail,
    );
    for source in SourceType::ALL {
        let records = fixture_records(source);
        if !records.is_empty() {
            report(
                &format!("{source} (fixtures, {} records)", records.len()),
                source,
                &records,
            );
        }
    }
    // The parse step alone, for the design's per-stage budget.
    let start = Instant::now();
    let mut n = 0;
    while n < min_events || start.elapsed() < budget {
        for r in &cloudtrail {
            black_box(serde_json::from_slice::<serde_json::Value>(r).unwrap());
        }
        n += cloudtrail.len();
    }
    println!(
        "{:<34} {avg:>8} {:>12.0} {:>10.2}",
        "  of which JSON parse (serde_json)",
        n as f64 / start.elapsed().as_secs_f64(),
        start.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}
