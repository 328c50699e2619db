//! The `s3`, `gcs` and `azure_blob` collectors against the emulators of
//! `scripts/test.sh` (moto server for S3 and SQS, fake-gcs-server,
//! Azurite) and the real Kafka broker. Objects are put with each vendor's
//! own SDK (`tests/collector_objects.py`); every record must land in the
//! raw topic exactly once through backfills, kill -9s, redelivered
//! notifications and growing append blobs.

use crate::support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use support::kafka::{EventRecord, Pipeline, cloudtrail_lines};
use support::object_stores::{Store, stores};
use support::{KillOnDrop, Rng, assert_exactly_once, auditfed, run_python_args, serial};

pub(super) fn python(args: &[&str]) -> String {
    let (code, out) = run_python_args("collector_objects.py", args)
        .expect("tests/collector_objects.py needs boto3 and azure-storage-blob (scripts/test.sh installs them)");
    assert_eq!(code, 0, "collector_objects.py {args:?}: {out}");
    out.trim().to_owned()
}

pub(super) fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// Writes a CloudTrail log file of `n` records tagged `tag` under `dir/key`.
pub(super) fn trail_file(dir: &Path, key: &str, tag: &str, n: usize) {
    let path = dir.join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let records = cloudtrail_lines(tag, n).join(",");
    std::fs::write(
        path,
        gzip(format!("{{\"Records\":[{records}]}}").as_bytes()),
    )
    .unwrap();
}

/// The ids (`eventID` or `correlationId` or `insertId`) of the raw records, with their counts.
pub(super) fn counted(records: &[(String, EventRecord)]) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for (_, r) in records {
        let v: serde_json::Value = serde_json::from_slice(&r.payload)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&r.payload)));
        let id = ["eventID", "correlationId", "insertId"]
            .iter()
            .find_map(|k| v[k].as_str())
            .unwrap_or_else(|| panic!("no id in {v}"));
        *seen.entry(id.to_owned()).or_insert(0) += 1;
    }
    seen
}

pub(super) fn ids(tag: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{tag}-{i}")).collect()
}

pub(super) fn collector(store: &Store, config: &Path, extra: &[&str]) -> std::process::Command {
    let mut command = auditfed();
    command
        .args(["run", "ingest", "--config"])
        .arg(config)
        .args(extra)
        .envs(store.env.iter().map(|(k, v)| (k, v)));
    command
}

fn spawn(store: &Store, config: &Path) -> KillOnDrop {
    KillOnDrop(
        collector(store, config, &[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

pub(super) fn run_until_idle(store: &Store, config: &Path, extra: &[&str]) -> String {
    let out = collector(store, config, &[&["--exit-when-idle", "3"], extra].concat())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    err
}

pub(super) fn store_of(p: &Pipeline, kind: &str) -> Option<Store> {
    let store = stores(&p.dir).into_iter().find(|s| s.kind == kind);
    if store.is_none() {
        eprintln!("skipping: no {kind} emulator");
    }
    store
}

pub(super) fn unique(word: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{word}-{}-{nanos}", std::process::id())
}

#[test]
fn s3_listing_backfills_then_follows_accounts_and_regions_through_kill_dash_nine() {
    let _guard = serial();
    let Some(p) = Pipeline::new("s3list", "", "") else {
        return;
    };
    let Some(s3) = store_of(&p, "s3") else {
        return;
    };
    let bucket = unique("trail");
    s3.create_bucket(&bucket);
    let staged = p.dir.join("staged");
    let streams = [
        "AWSLogs/111122223333/CloudTrail/us-east-1",
        "AWSLogs/111122223333/CloudTrail/eu-west-1",
        "AWSLogs/o-exampleorg1/444455556666/CloudTrail/us-east-1",
    ];
    let mut expected = Vec::new();
    // Before start_date: never read.
    trail_file(
        &staged,
        &format!("{}/2026/10/31/old.json.gz", streams[0]),
        "old",
        5,
    );
    for (s, stream) in streams.iter().enumerate() {
        for day in ["01", "02"] {
            let tag = format!("b{s}d{day}");
            trail_file(
                &staged,
                &format!("{stream}/2026/11/{day}/111122223333_CloudTrail_{tag}.json.gz"),
                &tag,
                20,
            );
            expected.extend(ids(&tag, 20));
        }
    }
    let digest_key = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/01/111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20261101T010000Z.json.gz";
    let digest = br#"{"awsAccountId":"111122223333","digestStartTime":"2026-11-01T00:00:00Z","digestEndTime":"2026-11-01T01:00:00Z","digestS3Bucket":"b","digestS3Object":"k","logFiles":[]}"#;
    std::fs::create_dir_all(staged.join(digest_key).parent().unwrap()).unwrap();
    std::fs::write(staged.join(digest_key), gzip(digest)).unwrap();
    std::fs::write(
        staged.join(format!("{digest_key}.meta.json")),
        r#"{"signature": "9f3a6c", "signature-algorithm": "SHA256withRSA"}"#,
    )
    .unwrap();
    let garbage = format!("{}/2026/11/02/garbage.json.gz", streams[1]);
    std::fs::write(staged.join(&garbage), gzip(b"this is not JSON\n")).unwrap();
    python(&["s3-put", &s3.endpoint, &bucket, staged.to_str().unwrap()]);

    let config = p.dir.join("s3.toml");
    let text = std::fs::read_to_string(&p.config).unwrap()
        + &format!(
            "[collectors.trail]\ntype = \"s3\"\nurl = \"s3://{bucket}/AWSLogs/\"\nsource = \"aws_cloudtrail\"\n\
             start_date = \"2026-11-01\"\npoll_secs = 1\nsettle_secs = 2\nbatch_records = 30\n"
        );
    std::fs::write(&config, text).unwrap();

    // 1. Backfill: everything up to now, a progress bar, then exit.
    let err = run_until_idle(&s3, &config, &["--backfill"]);
    assert!(
        err.contains("backfill of s3://") && err.contains("records/s"),
        "{err}"
    );

    // 2. Follow while new days arrive, killed at random moments.
    let mut rng = Rng::new();
    for round in 0..3 {
        let mut running = spawn(&s3, &config);
        for (s, stream) in streams.iter().enumerate() {
            let staged = p.dir.join(format!("round{round}-{s}"));
            let tag = format!("r{round}s{s}");
            trail_file(
                &staged,
                &format!("{stream}/2026/11/03/111122223333_CloudTrail_{tag}.json.gz"),
                &tag,
                25,
            );
            expected.extend(ids(&tag, 25));
            python(&["s3-put", &s3.endpoint, &bucket, staged.to_str().unwrap()]);
            std::thread::sleep(Duration::from_millis(rng.below(900)));
        }
        running.0.kill().unwrap();
        running.0.wait().unwrap();
    }
    // A new region appears.
    let staged = p.dir.join("late");
    trail_file(
        &staged,
        "AWSLogs/111122223333/CloudTrail/ap-south-1/2026/11/03/late.json.gz",
        "late",
        7,
    );
    expected.extend(ids("late", 7));
    python(&["s3-put", &s3.endpoint, &bucket, staged.to_str().unwrap()]);
    run_until_idle(&s3, &config, &[]);

    let raw = format!("{}.raw.aws_cloudtrail", p.prefix);
    let records = p.read_topics(std::slice::from_ref(&raw));
    let (digests, events): (Vec<_>, Vec<_>) = records.into_iter().partition(|(_, r)| {
        r.headers.get("auditfed.kind").map(String::as_str) == Some("cloudtrail_digest")
    });
    assert_exactly_once("raw topic", &counted(&events), &expected);
    for (_, r) in &events {
        assert!(
            r.headers["auditfed.object"].starts_with(&format!("s3://{bucket}/AWSLogs/")),
            "{:?}",
            r.headers
        );
    }
    assert_eq!(digests.len(), 1, "the digest, once");
    let (_, d) = &digests[0];
    assert_eq!(d.payload, digest, "the digest's uncompressed bytes");
    assert_eq!(d.headers["auditfed.signature"], "9f3a6c");
    assert_eq!(
        d.headers["auditfed.object"],
        format!("s3://{bucket}/{digest_key}")
    );
    let dlq = p.read_topics(&[format!("{}.dlq", p.prefix)]);
    assert!(
        dlq.iter().any(
            |(_, r)| r.headers["auditfed.object"].ends_with("garbage.json.gz")
                && r.payload.starts_with(b"this is not JSON")
        ),
        "the garbage object's bytes are in the DLQ: {dlq:?}"
    );
}

#[test]
fn s3_notifications_through_sqs_are_read_once_and_deleted() {
    let _guard = serial();
    let Some(p) = Pipeline::new("s3sqs", "", "") else {
        return;
    };
    let Some(s3) = store_of(&p, "s3") else {
        return;
    };
    let bucket = unique("notified");
    s3.create_bucket(&bucket);
    let queue = python(&["s3-queue", &s3.endpoint, &bucket, &unique("trail-events")]);
    let config = p.dir.join("sqs.toml");
    let text = std::fs::read_to_string(&p.config).unwrap()
        + &format!(
            "[collectors.notified]\ntype = \"s3\"\nurl = \"s3://{bucket}/AWSLogs\"\nsource = \"aws_cloudtrail\"\n\
             sqs_queue_url = \"{queue}\"\n"
        );
    std::fs::write(&config, text).unwrap();

    let mut expected = Vec::new();
    // Keys S3 URL-encodes in its notifications: spaces, plus, equals, non-ASCII.
    let names = ["plain", "with space", "plus+sign", "eq=uals", "accentué"];
    let put = |round: usize, expected: &mut Vec<String>| -> Vec<String> {
        let staged = p.dir.join(format!("sqs{round}"));
        let mut keys = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let tag = format!("q{round}n{i}");
            let key = format!(
                "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/27/{name} {round}.json.gz"
            );
            trail_file(&staged, &key, &tag, 12);
            expected.extend(ids(&tag, 12));
            keys.push(key);
        }
        python(&["s3-put", &s3.endpoint, &bucket, staged.to_str().unwrap()]);
        keys
    };
    let first_keys = put(0, &mut expected);
    let mut running = spawn(&s3, &config);
    std::thread::sleep(Duration::from_secs(2));
    put(1, &mut expected);
    std::thread::sleep(Duration::from_millis(700));
    running.0.kill().unwrap();
    running.0.wait().unwrap();
    put(2, &mut expected);
    // Not a notification: dead-lettered, deleted.
    let body = p.dir.join("garbage.txt");
    std::fs::write(&body, "hello, not an event").unwrap();
    python(&["sqs-send", &s3.endpoint, &queue, body.to_str().unwrap()]);
    // CloudTrail's own SNS notification of an object read already: passed over.
    let again = serde_json::json!({
        "Type": "Notification",
        "Message": serde_json::json!({"s3Bucket": bucket, "s3ObjectKey": [first_keys[1]]}).to_string(),
    });
    std::fs::write(&body, again.to_string()).unwrap();
    python(&["sqs-send", &s3.endpoint, &queue, body.to_str().unwrap()]);
    run_until_idle(&s3, &config, &[]);

    let records = p.read_topics(&[format!("{}.raw.aws_cloudtrail", p.prefix)]);
    assert_exactly_once("raw topic", &counted(&records), &expected);
    assert!(
        records.iter().any(|(_, r)| r.headers["auditfed.object"]
            == format!("s3://{bucket}/AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/27/accentué 2.json.gz")),
        "the key is decoded"
    );
    let dlq = p.read_topics(&[format!("{}.dlq", p.prefix)]);
    assert!(
        dlq.iter().any(|(_, r)| r.payload == b"hello, not an event"
            && r.headers["auditfed.reason"].contains("SQS message")),
        "{dlq:?}"
    );
    assert_eq!(
        python(&["sqs-count", &s3.endpoint, &queue]),
        "0",
        "every message deleted"
    );
}

/// `n` Azure Activity records (JSON lines), each with a unique correlationId.
fn activity_lines(tag: &str, range: std::ops::Range<usize>) -> String {
    let fixture = support::root()
        .join("normalize/tests/fixtures/azure_activity/otel-contrib__administrative-log.json");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
    let record = doc["records"]
        .as_array()
        .map_or(doc.clone(), |r| r[0].clone());
    range
        .map(|i| {
            let mut r = record.clone();
            r["correlationId"] = serde_json::Value::String(format!("{tag}-{i}"));
            format!("{r}\n")
        })
        .collect()
}

#[test]
fn azure_append_blobs_are_read_from_their_last_byte_whole_lines_only() {
    let _guard = serial();
    let Some(p) = Pipeline::new("azblob", "", "") else {
        return;
    };
    let Some(azure) = store_of(&p, "azure") else {
        return;
    };
    let container = unique("insights-activity-logs");
    let hour10 = "resourceId=/SUBSCRIPTIONS/00000000-1111-2222-3333-444444444444/y=2026/m=11/d=27/h=10/m=00/PT1H.json";
    let append = |blob: &str, text: &str| {
        let file = p.dir.join("block");
        std::fs::write(&file, text).unwrap();
        python(&[
            "azure-append",
            &azure.endpoint,
            &container,
            blob,
            file.to_str().unwrap(),
        ]);
    };
    append(hour10, &activity_lines("h10", 0..40));
    let config = p.dir.join("azure.toml");
    let text = std::fs::read_to_string(&p.config).unwrap()
        + &format!(
            "[collectors.activity]\ntype = \"azure_blob\"\nurl = \"az://{container}\"\nsource = \"azure_activity\"\n\
             start_date = \"2026-11-27\"\npoll_secs = 1\nsettle_secs = 3600\n"
        );
    std::fs::write(&config, text).unwrap();
    run_until_idle(&azure, &config, &[]);

    // The blob grows; its last line is still being written.
    let more = activity_lines("h10", 40..61);
    let (whole, partial) = more.split_at(more.len() - 30);
    append(hour10, whole);
    run_until_idle(&azure, &config, &[]);
    append(hour10, partial);
    // Another hour, and another subscription.
    append(
        "resourceId=/SUBSCRIPTIONS/00000000-1111-2222-3333-444444444444/y=2026/m=11/d=27/h=11/m=00/PT1H.json",
        &activity_lines("h11", 0..15),
    );
    append(
        "resourceId=/SUBSCRIPTIONS/99999999-1111-2222-3333-444444444444/y=2026/m=11/d=27/h=11/m=00/PT1H.json",
        &activity_lines("s2", 0..15),
    );
    run_until_idle(&azure, &config, &[]);

    let records = p.read_topics(&[format!("{}.raw.azure_activity", p.prefix)]);
    let expected: Vec<String> = [ids("h10", 61), ids("h11", 15), ids("s2", 15)].concat();
    assert_exactly_once("raw topic", &counted(&records), &expected);
    let offsets: Vec<u64> = records
        .iter()
        .filter(|(_, r)| r.headers["auditfed.object"].ends_with("h=10/m=00/PT1H.json"))
        .map(|(_, r)| r.headers["auditfed.offset"].parse().unwrap())
        .collect();
    // Record 45 was read in the second pass, from the middle of the blob.
    let at = activity_lines("h10", 0..45).len() as u64;
    assert!(
        offsets.contains(&at),
        "offsets are positions in the blob: {at} not in {offsets:?}"
    );
}

#[test]
fn gcs_audit_log_exports_are_read_once_per_log_id() {
    let _guard = serial();
    let Some(p) = Pipeline::new("gcsaudit", "", "") else {
        return;
    };
    let Some(gcs) = store_of(&p, "gcs") else {
        return;
    };
    let bucket = unique("audit-export");
    gcs.create_bucket(&bucket);
    let fixture =
        support::root().join("normalize/tests/fixtures/gcp_audit/otel-contrib__system_event.json");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
    let put = |name: &str, tag: &str, n: usize| {
        let text: String = (0..n)
            .map(|i| {
                let mut r = record.clone();
                r["insertId"] = serde_json::Value::String(format!("{tag}-{i}"));
                format!("{r}\n")
            })
            .collect();
        let file = p.dir.join("export.json");
        std::fs::write(&file, text).unwrap();
        python(&[
            "gcs-put",
            &gcs.endpoint,
            &bucket,
            name,
            file.to_str().unwrap(),
        ]);
    };
    put(
        "cloudaudit.googleapis.com/activity/2026/11/26/23:00:00_23:59:59_S0.json",
        "old",
        4,
    );
    put(
        "cloudaudit.googleapis.com/activity/2026/11/27/08:00:00_08:59:59_S0.json",
        "act8",
        30,
    );
    put(
        "cloudaudit.googleapis.com/system_event/2026/11/27/08:00:00_08:59:59_S0.json",
        "sys8",
        10,
    );
    let config = p.dir.join("gcs.toml");
    let text = std::fs::read_to_string(&p.config).unwrap()
        + &format!(
            "[collectors.gcp]\ntype = \"gcs\"\nurl = \"gs://{bucket}\"\nsource = \"gcp_audit\"\n\
             start_date = \"2026-11-27\"\npoll_secs = 1\nsettle_secs = 0\n"
        );
    std::fs::write(&config, text).unwrap();
    run_until_idle(&gcs, &config, &[]);
    put(
        "cloudaudit.googleapis.com/activity/2026/11/27/09:00:00_09:59:59_S0.json",
        "act9",
        20,
    );
    put(
        "cloudaudit.googleapis.com/activity/2026/11/27/08:00:00_08:59:59_S1.json",
        "act8b",
        5,
    );
    put(
        "cloudaudit.googleapis.com/data_access/2026/11/27/09:00:00_09:59:59_S0.json",
        "data9",
        6,
    );
    run_until_idle(&gcs, &config, &[]);

    let records = p.read_topics(&[format!("{}.raw.gcp_audit", p.prefix)]);
    let expected: Vec<String> = [
        ids("act8", 30),
        ids("sys8", 10),
        ids("act9", 20),
        ids("act8b", 5),
        ids("data9", 6),
    ]
    .concat();
    assert_exactly_once("raw topic", &counted(&records), &expected);
}

/// Signs CloudTrail digests with the test-only RSA key of the normalizer's
/// upstream tests (not an AWS key), as AWS documents the signing string.
mod signer {
    use base64::Engine;
    use rsa::RsaPrivateKey;
    use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPublicKey};
    use rsa::pkcs1v15::SigningKey;
    use rsa::signature::{SignatureEncoding, Signer};
    use sha2::{Digest, Sha256};

    fn key() -> RsaPrivateKey {
        let pem = std::fs::read_to_string(
            super::support::root()
                .join("normalize/tests/fixtures/upstream/test-only-cloudtrail-rsa.pem"),
        )
        .unwrap();
        RsaPrivateKey::from_pkcs1_pem(&pem).unwrap()
    }

    /// `aws cloudtrail list-public-keys` output with the test key.
    pub fn public_keys() -> String {
        let der = key().to_public_key().to_pkcs1_der().unwrap();
        let value = base64::engine::general_purpose::STANDARD.encode(der.as_bytes());
        format!(
            r#"{{"PublicKeyList":[{{"Value":"{value}","ValidityStartTime":"2020-01-01T00:00:00Z","ValidityEndTime":"2035-01-01T00:00:00Z","Fingerprint":"abc123"}}]}}"#
        )
    }

    pub fn sha256_hex(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    /// A digest of `bucket`/`object` listing `(key, uncompressed bytes)`:
    /// its bytes and signature (hex).
    pub fn digest(
        bucket: &str,
        object: &str,
        end: &str,
        previous: Option<(&str, &str)>,
        files: &[(&str, String)],
    ) -> (Vec<u8>, String) {
        let logs: Vec<String> = files
            .iter()
            .map(|(key, hash)| {
                format!(r#"{{"s3Bucket":"{bucket}","s3Object":"{key}","hashValue":"{hash}","hashAlgorithm":"SHA-256","newestEventTime":"{end}","oldestEventTime":"{end}"}}"#)
            })
            .collect();
        let (prev_object, prev_sig) = match previous {
            Some((o, s)) => (format!("\"{o}\""), format!("\"{s}\"")),
            None => ("null".into(), "null".into()),
        };
        let bytes = format!(
            r#"{{"awsAccountId":"111122223333","digestStartTime":"2026-11-27T10:00:00Z","digestEndTime":"{end}","digestS3Bucket":"{bucket}","digestS3Object":"{object}","digestPublicKeyFingerprint":"abc123","digestSignatureAlgorithm":"SHA256withRSA","newestEventTime":"{end}","oldestEventTime":"{end}","previousDigestS3Bucket":"{bucket}","previousDigestS3Object":{prev_object},"previousDigestHashValue":null,"previousDigestHashAlgorithm":"SHA-256","previousDigestSignature":{prev_sig},"logFiles":[{}]}}"#,
            logs.join(",")
        )
        .into_bytes();
        // The documented signing string: end time, bucket/object, SHA-256 of the digest, previous signature.
        let signing = format!(
            "{end}\n{bucket}/{object}\n{}\n{}",
            sha256_hex(&bytes),
            previous.map_or("null", |(_, s)| s)
        );
        let signature = SigningKey::<Sha256>::new(key()).sign(signing.as_bytes());
        (bytes, hex::encode(signature.to_bytes()))
    }
}

#[test]
fn s3_cloudtrail_log_files_carry_their_digest_verdict() {
    let _guard = serial();
    let Some(p) = Pipeline::new("s3digest", "", "") else {
        return;
    };
    let Some(s3) = store_of(&p, "s3") else {
        return;
    };
    let bucket = unique("signed-trail");
    s3.create_bucket(&bucket);
    let logs = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/27";
    let digests = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/11/27";
    let log =
        |tag: &str, n: usize| format!("{{\"Records\":[{}]}}", cloudtrail_lines(tag, n).join(","));
    let put = |dir: &str, files: &[(String, Vec<u8>, Option<String>)]| {
        let staged = p.dir.join(dir);
        for (key, bytes, signature) in files {
            let path = staged.join(key);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, gzip(bytes)).unwrap();
            if let Some(signature) = signature {
                std::fs::write(
                    staged.join(format!("{key}.meta.json")),
                    format!(
                        r#"{{"signature": "{signature}", "signature-algorithm": "SHA256withRSA"}}"#
                    ),
                )
                .unwrap();
            }
        }
        python(&["s3-put", &s3.endpoint, &bucket, staged.to_str().unwrap()]);
    };
    let (a, b, c, late) = (
        log("okA", 5),
        log("okB", 4),
        log("tampered", 3),
        log("late", 6),
    );
    let key = |name: &str| {
        format!("{logs}/111122223333_CloudTrail_us-east-1_20261127T10{name}Z_x.json.gz")
    };
    let first = format!(
        "{digests}/111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20261127T110000Z.json.gz"
    );
    let (d1, s1) = signer::digest(
        &bucket,
        &first,
        "2026-11-27T11:00:00Z",
        None,
        &[
            (&key("05"), signer::sha256_hex(a.as_bytes())),
            (&key("10"), signer::sha256_hex(b.as_bytes())),
            // Listed with the hash of what CloudTrail wrote; the bucket holds something else.
            (
                &key("15"),
                signer::sha256_hex(c.replace("tampered", "original").as_bytes()),
            ),
        ],
    );
    put(
        "first",
        &[
            (key("05"), a.clone().into_bytes(), None),
            (key("10"), b.clone().into_bytes(), None),
            (key("15"), c.clone().into_bytes(), None),
            (key("20"), late.clone().into_bytes(), None),
            (first.clone(), d1, Some(s1.clone())),
        ],
    );
    let keys = p.dir.join("aws-public-keys.json");
    std::fs::write(&keys, signer::public_keys()).unwrap();
    let config = p.dir.join("digests.toml");
    let write_config = |wait: u64| {
        let text = std::fs::read_to_string(&p.config).unwrap()
            + &format!(
                "[collectors.trail]\ntype = \"s3\"\nurl = \"s3://{bucket}/AWSLogs\"\nsource = \"aws_cloudtrail\"\n\
                 start_date = \"2026-11-27\"\npoll_secs = 1\nsettle_secs = 0\ncloudtrail_public_keys = \"{}\"\ndigest_wait_secs = {wait}\n",
                keys.display()
            );
        std::fs::write(&config, text).unwrap();
    };
    write_config(3600);
    run_until_idle(&s3, &config, &[]);
    let verdicts = || -> BTreeMap<String, String> {
        p.read_topics(&[format!("{}.raw.aws_cloudtrail", p.prefix)])
            .into_iter()
            .filter(|(_, r)| !r.headers.contains_key("auditfed.kind"))
            .map(|(_, r)| {
                let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
                let id = v["eventID"].as_str().unwrap().to_owned();
                (
                    id,
                    r.headers
                        .get("auditfed.upstream_integrity")
                        .cloned()
                        .unwrap_or_default(),
                )
            })
            .collect()
    };
    let seen = verdicts();
    assert!(
        !seen.keys().any(|id| id.starts_with("late-")),
        "held until its digest arrives: {seen:?}"
    );

    // The next hour's digest lists the held file; a file no digest will list comes too.
    let second = format!(
        "{digests}/111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20261127T120000Z.json.gz"
    );
    let (d2, s2) = signer::digest(
        &bucket,
        &second,
        "2026-11-27T12:00:00Z",
        Some((&first, &s1)),
        &[(&key("20"), signer::sha256_hex(late.as_bytes()))],
    );
    let orphan = log("orphan", 2);
    put(
        "second",
        &[
            (second, d2, Some(s2)),
            (key("25"), orphan.into_bytes(), None),
        ],
    );
    run_until_idle(&s3, &config, &[]);
    std::thread::sleep(Duration::from_secs(2));
    write_config(1);
    run_until_idle(&s3, &config, &[]);

    let seen = verdicts();
    let expected: BTreeMap<String, String> = [
        ("okA", 5, "verified"),
        ("okB", 4, "verified"),
        ("tampered", 3, "failed"),
        ("late", 6, "verified"),
        ("orphan", 2, "unavailable"),
    ]
    .iter()
    .flat_map(|(tag, n, verdict)| {
        (0..*n).map(move |i| (format!("{tag}-{i}"), (*verdict).to_owned()))
    })
    .collect();
    assert_eq!(seen, expected);
    let records = p.read_topics(&[format!("{}.raw.aws_cloudtrail", p.prefix)]);
    assert_eq!(
        records.len(),
        expected.len() + 2,
        "every record once, and the two digests"
    );

    // The normalizer records the verdict on every sealed event.
    let out = auditfed()
        .args(["run", "normalize", "--exit-when-idle", "3", "--config"])
        .arg(&p.config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = p.read_committed().events;
    assert_eq!(events.len(), expected.len());
    for e in &events {
        let v: serde_json::Value = serde_json::from_slice(&e.payload).unwrap();
        let uid = v["metadata"]["uid"].as_str().unwrap_or_default();
        let verdict = &v["unmapped"]["_auditfed"]["upstream_integrity"];
        let id = expected
            .keys()
            .find(|id| v.to_string().contains(&format!("\"{id}\"")))
            .unwrap_or_else(|| panic!("{uid}: which record?"));
        assert_eq!(verdict, &serde_json::json!(expected[id]), "{id}");
    }
}
