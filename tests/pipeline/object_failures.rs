//! Object collectors when objects or the store fail: objects that fail
//! the same way every time are set aside once in the dead-letter topic and
//! their stream moves on; a store outage is waited out without loss. Run
//! against moto server and the real broker, with the helpers of
//! [`super::object_collectors`].

use std::process::Stdio;
use std::time::Duration;

use crate::support;

use super::object_collectors::{
    collector, counted, gzip, ids, python, run_until_idle, store_of, trail_file, unique,
};
use support::kafka::{Pipeline, cloudtrail_lines};
use support::outage::Outage;
use support::{KillOnDrop, assert_exactly_once, serial};

/// Objects that fail the same way at every try — a truncated gzip log
/// file, a digest that is not gzip, an object archived to Glacier — go to
/// the dead-letter topic once, with the reason, and the objects after them
/// in the same stream are read: in a backfill and while following.
#[test]
fn s3_objects_that_always_fail_are_dead_lettered_once_and_their_stream_moves_on() {
    let _guard = serial();
    let Some(p) = Pipeline::new("s3bad", "", "") else {
        return;
    };
    let Some(s3) = store_of(&p, "s3") else {
        return;
    };
    let bucket = unique("bad");
    s3.create_bucket(&bucket);
    let stream = "AWSLogs/111122223333/CloudTrail/us-east-1";
    let digests = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1";
    let mut expected = Vec::new();
    let mut bad = Vec::new();
    for (round, day) in ["01", "02"].iter().enumerate() {
        let staged = p.dir.join(format!("bad{round}"));
        let tag = format!("good-a{round}");
        trail_file(
            &staged,
            &format!("{stream}/2026/11/{day}/a.json.gz"),
            &tag,
            10,
        );
        expected.extend(ids(&tag, 10));
        // A log file cut short in the middle of its gzip stream.
        let whole = gzip(
            format!(
                "{{\"Records\":[{}]}}",
                cloudtrail_lines("cut", 40).join(",")
            )
            .as_bytes(),
        );
        let truncated = format!("{stream}/2026/11/{day}/b-truncated.json.gz");
        std::fs::write(staged.join(&truncated), &whole[..whole.len() / 2]).unwrap();
        // A digest that starts like gzip and is not.
        let digest = format!(
            "{digests}/2026/11/{day}/111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_202611{day}T010000Z.json.gz"
        );
        std::fs::create_dir_all(staged.join(&digest).parent().unwrap()).unwrap();
        std::fs::write(
            staged.join(&digest),
            b"\x1f\x8b\x08\x00garbage, not deflate",
        )
        .unwrap();
        // A log file archived to Glacier: listed, but GET answers 403 InvalidObjectState.
        let glacier = format!("{stream}/2026/11/{day}/c-glacier.json.gz");
        trail_file(&staged, &glacier, &format!("glacier{round}"), 5);
        std::fs::write(
            staged.join(format!("{glacier}.meta.json")),
            r#"{"__storage_class": "GLACIER"}"#,
        )
        .unwrap();
        let tag = format!("good-d{round}");
        trail_file(
            &staged,
            &format!("{stream}/2026/11/{day}/d.json.gz"),
            &tag,
            10,
        );
        expected.extend(ids(&tag, 10));
        python(&["s3-put", &s3.endpoint, &bucket, staged.to_str().unwrap()]);
        bad.extend([
            (truncated, "not gzip"),
            (digest, "not gzip"),
            (glacier, "cannot read"),
        ]);

        let config = p.dir.join("bad.toml");
        let text = std::fs::read_to_string(&p.config).unwrap()
            + &format!(
                "[collectors.trail]\ntype = \"s3\"\nurl = \"s3://{bucket}/AWSLogs/\"\nsource = \"aws_cloudtrail\"\n\
                 start_date = \"2026-11-01\"\npoll_secs = 1\nsettle_secs = 0\n"
            );
        std::fs::write(&config, text).unwrap();
        // Round 0 as a backfill (it used to abort), round 1 while following;
        // then once more: nothing is read or dead-lettered again.
        if round == 0 {
            run_until_idle(&s3, &config, &["--backfill"]);
        } else {
            run_until_idle(&s3, &config, &[]);
            run_until_idle(&s3, &config, &[]);
        }
    }

    let raw = format!("{}.raw.aws_cloudtrail", p.prefix);
    let records = p.read_topics(std::slice::from_ref(&raw));
    assert_exactly_once("raw topic", &counted(&records), &expected);
    let dlq = p.read_topics(&[format!("{}.dlq", p.prefix)]);
    for (key, reason) in &bad {
        let letters: Vec<_> = dlq
            .iter()
            .filter(|(_, r)| r.headers["auditfed.object"] == format!("s3://{bucket}/{key}"))
            .collect();
        assert_eq!(letters.len(), 1, "{key}: one dead letter: {dlq:?}");
        let why = &letters[0].1.headers["auditfed.reason"];
        assert!(why.contains(reason), "{key}: {why}");
    }
    assert_eq!(dlq.len(), bad.len(), "nothing else dead-lettered: {dlq:?}");
}

/// The store goes away for longer than `object_store`'s own retries while
/// days arrive: the collector keeps running and retries at its next pass,
/// and once the store is back every record arrives once.
#[test]
fn an_s3_outage_is_retried_without_loss() {
    let _guard = serial();
    let Some(p) = Pipeline::new("s3down", "", "") else {
        return;
    };
    let Some(s3) = store_of(&p, "s3") else {
        return;
    };
    let bucket = unique("down");
    s3.create_bucket(&bucket);
    let stream = "AWSLogs/111122223333/CloudTrail/us-east-1";
    let mut expected = Vec::new();
    let mut put = |name: &str, day: &str| {
        let staged = p.dir.join(format!("outage-{name}"));
        trail_file(
            &staged,
            &format!("{stream}/2026/11/{day}/{name}.json.gz"),
            name,
            20,
        );
        expected.extend(ids(name, 20));
        python(&["s3-put", &s3.endpoint, &bucket, staged.to_str().unwrap()]);
    };
    put("before", "01");
    let outage = Outage::new(s3.endpoint.trim_start_matches("http://"));
    let config = p.dir.join("down.toml");
    let text = std::fs::read_to_string(&p.config).unwrap()
        + &format!(
            "[collectors.trail]\ntype = \"s3\"\nurl = \"s3://{bucket}/AWSLogs/\"\nsource = \"aws_cloudtrail\"\n\
             start_date = \"2026-11-01\"\npoll_secs = 1\nsettle_secs = 0\n"
        );
    std::fs::write(&config, text).unwrap();
    let log = p.dir.join("collector.log");
    let mut running = KillOnDrop(
        collector(&s3, &config, &[])
            .env("AWS_ENDPOINT_URL", outage.endpoint())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_secs(5));
    outage.down();
    put("during-1", "02");
    std::thread::sleep(Duration::from_secs(10));
    put("during-2", "02");
    std::thread::sleep(Duration::from_secs(10));
    let logs = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        running.0.try_wait().unwrap().is_none(),
        "the collector stopped during the outage:\n{}",
        logs()
    );
    outage.up();
    put("after", "03");
    std::thread::sleep(Duration::from_secs(8));
    running.0.kill().unwrap();
    running.0.wait().unwrap();
    assert!(
        logs().contains("retrying at the next pass"),
        "the outage reached the collector's own retry:\n{}",
        logs()
    );
    run_until_idle(&s3, &config, &[]);

    let raw = format!("{}.raw.aws_cloudtrail", p.prefix);
    let records = p.read_topics(std::slice::from_ref(&raw));
    assert_exactly_once("raw topic", &counted(&records), &expected);
    let dlq = p.read_topics(&[format!("{}.dlq", p.prefix)]);
    assert!(dlq.is_empty(), "an outage dead-letters nothing: {dlq:?}");
}
