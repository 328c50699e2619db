//! The normalizer against a real Kafka broker (`scripts/kafka.sh`): raw →
//! sealed events whose chains verify; exactly once across kill -9, a broker
//! restart and a rebalance; dead letters for malformed input. The archiver
//! is tested in `archiver.rs`.
//!
//! The tests share one broker and run one at a time (the broker-restart
//! test would disturb the others).

use crate::support;

use std::time::{Duration, Instant};

use support::kafka::{Pipeline, cloudtrail_lines, terminate};
use support::{Rng, serial};

fn expect_exactly(p: &Pipeline, committed: &support::kafka::Committed, tag: &str, n: usize) {
    let uids = committed.uids();
    let dups: Vec<_> = uids.iter().filter(|(_, c)| **c > 1).collect();
    assert!(dups.is_empty(), "events sealed twice: {dups:?}");
    let expected: std::collections::BTreeMap<String, usize> =
        (0..n).map(|i| (format!("{tag}-{i}"), 1)).collect();
    assert_eq!(
        uids, expected,
        "the sealed events are not exactly the ingested records"
    );
    committed.assert_gap_free();
    let report = committed.archive_and_verify(&p.dir.join("archive"), p.keyring());
    assert!(
        report.is_clean(),
        "the archive of what was committed does not verify: {:#?}",
        report.findings
    );
    assert_eq!(report.summary.events as usize, n);
}

#[test]
fn raw_records_become_sealed_events_whose_chains_verify() {
    let _guard = serial();
    let Some(p) = Pipeline::new("e2e", "checkpoint_every_events = 50", "") else {
        return;
    };
    let lines = cloudtrail_lines("ev", 300);
    p.ingest("aws_cloudtrail", "a.jsonl", &lines[..150]);
    let mut normalizer = p.spawn_normalizer("n1");
    p.ingest("aws_cloudtrail", "b.jsonl.gz", &lines[150..]);
    p.wait_for_events(300, Duration::from_secs(90));
    terminate(&mut normalizer);
    let committed = p.read_committed();
    expect_exactly(&p, &committed, "ev", 300);
    // The raw record travels with its event, unaltered.
    let first: serde_json::Value = serde_json::from_slice(&committed.events[0].payload).unwrap();
    let raw = first["raw_data"].as_str().unwrap();
    assert!(
        lines.iter().any(|l| l == raw),
        "raw_data is not one of the ingested lines"
    );
    assert!(
        committed.events[0].headers["auditfed.raw"]
            .starts_with(&format!("{}.raw.aws_cloudtrail/", p.prefix))
    );
    assert!(
        committed
            .seals
            .iter()
            .any(|s| s.contains("\nbatch\n") || s.contains("batch"))
    );
}

#[test]
fn malformed_input_goes_to_the_dead_letter_topic_with_the_reason() {
    let _guard = serial();
    let Some(p) = Pipeline::new("dlq", "", "") else {
        return;
    };
    let mut lines = cloudtrail_lines("ok", 3);
    lines.insert(1, "this is not json".into());
    lines.insert(2, r#"{"not":"a cloudtrail record"}"#.into());
    let out = p.ingest("aws_cloudtrail", "mixed.jsonl", &lines);
    assert_eq!(
        out.status.code(),
        Some(1),
        "ingest exits 1 when something was rejected"
    );
    let mut normalizer = p.spawn_normalizer("n1");
    p.wait_for_events(3, Duration::from_secs(90));
    terminate(&mut normalizer);
    let committed = p.read_committed();
    expect_exactly(&p, &committed, "ok", 3);
    let dl = &committed.dead_letters;
    assert_eq!(dl.len(), 2, "one dead letter per bad record");
    let ingest = dl
        .iter()
        .find(|d| d.headers["auditfed.stage"] == "ingest")
        .expect("ingest-stage dead letter");
    assert_eq!(ingest.payload, b"this is not json");
    assert!(ingest.headers["auditfed.reason"].contains("not the start of a JSON value"));
    assert!(ingest.headers["auditfed.object"].ends_with("mixed.jsonl"));
    let normalize = dl
        .iter()
        .find(|d| d.headers["auditfed.stage"] == "normalize")
        .expect("normalize-stage dead letter");
    assert_eq!(normalize.payload, br#"{"not":"a cloudtrail record"}"#);
    assert!(!normalize.headers["auditfed.reason"].is_empty());
    assert!(
        normalize.headers["auditfed.raw"].starts_with(&format!("{}.raw.aws_cloudtrail/", p.prefix))
    );
}

#[test]
fn kill_dash_nine_at_random_points_loses_and_duplicates_nothing() {
    let _guard = serial();
    let iterations: usize = std::env::var("AUDITFED_KILL_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let Some(p) = Pipeline::new(
        "kill9",
        "batch_max_records = 10\nbatch_max_ms = 50\ncheckpoint_every_events = 25\ncheckpoint_every_secs = 1",
        "",
    ) else {
        return;
    };
    let mut rng = Rng::new();
    // Small transactions over many records: kills land mid-stream, between and inside transactions.
    let per_round = 150;
    let total = iterations * per_round;
    let lines = cloudtrail_lines("k", total);
    for i in 0..iterations {
        p.ingest(
            "aws_cloudtrail",
            &format!("r{i}.jsonl"),
            &lines[i * per_round..(i + 1) * per_round],
        );
        let mut child = p.spawn_normalizer("victim");
        // Start-up (connect, fence, join, load chain state) takes about a second here.
        std::thread::sleep(Duration::from_millis(800 + rng.below(2500)));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    // The killed runs did work (not all of it killed before it started).
    let before = p.read_committed().uids().len();
    eprintln!("{before} of {total} events committed across {iterations} killed runs");
    assert!(
        before > 0,
        "no killed run committed anything: the kills came too early"
    );
    let mut child = p.spawn_normalizer("victim");
    p.wait_for_events(total, Duration::from_secs(180));
    terminate(&mut child);
    let committed = p.read_committed();
    expect_exactly(&p, &committed, "k", total);
    let logs = p.logs();
    assert!(!logs.contains("panicked"), "{logs}");
}

#[test]
fn a_second_instance_takes_over_partitions_in_a_rebalance() {
    let _guard = serial();
    let Some(p) = Pipeline::new(
        "rebalance",
        "batch_max_records = 50\nbatch_max_ms = 50\ncheckpoint_every_events = 30\ncheckpoint_every_secs = 1",
        "\"session.timeout.ms\" = 6000",
    ) else {
        return;
    };
    let lines = cloudtrail_lines("rb", 1200);
    p.ingest("aws_cloudtrail", "a.jsonl", &lines[..400]);
    let mut a = p.spawn_normalizer("a");
    std::thread::sleep(Duration::from_millis(2000));
    // B joins: the partitions are split between A and B.
    let mut b = p.spawn_normalizer("b");
    p.ingest("aws_cloudtrail", "b.jsonl", &lines[400..800]);
    std::thread::sleep(Duration::from_millis(2000));
    // A dies without a goodbye: its partitions move to B after the session timeout,
    // and B continues A's chains from the state A committed.
    a.kill().unwrap();
    a.wait().unwrap();
    p.ingest("aws_cloudtrail", "c.jsonl", &lines[800..]);
    p.wait_for_events(1200, Duration::from_secs(120));
    // Every chain's tail gets its checkpoint from its current owner.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let committed = p.read_committed();
        let report = committed.archive_and_verify(&p.dir.join("archive"), p.keyring());
        if report.is_clean() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{:#?}\n{}",
            report.findings,
            p.logs()
        );
        std::thread::sleep(Duration::from_millis(1000));
    }
    terminate(&mut b);
    let committed = p.read_committed();
    expect_exactly(&p, &committed, "rb", 1200);
    let logs_b = std::fs::read_to_string(p.dir.join("normalize-b.log")).unwrap();
    let resumed = logs_b
        .lines()
        .filter(|l| l.contains(".raw.aws_cloudtrail/") && l.contains("resuming"))
        .count();
    assert!(
        resumed >= 1,
        "B never continued a chain A had started:\n{logs_b}"
    );
}

#[test]
fn a_broker_restart_during_processing_loses_and_duplicates_nothing() {
    let _guard = serial();
    let Ok(script) = std::env::var("AUDITFED_KAFKA_SCRIPT") else {
        eprintln!("skipping: AUDITFED_KAFKA_SCRIPT (scripts/kafka.sh) not set");
        return;
    };
    let Some(p) = Pipeline::new(
        "brokerrestart",
        "batch_max_records = 10\nbatch_max_ms = 50",
        "",
    ) else {
        return;
    };
    let lines = cloudtrail_lines("br", 800);
    p.ingest("aws_cloudtrail", "a.jsonl", &lines[..600]);
    let mut n = p.spawn_normalizer("n1");
    std::thread::sleep(Duration::from_millis(1500));
    let restart = |cmd: &str| {
        let s = std::process::Command::new(&script)
            .arg(cmd)
            .status()
            .unwrap();
        assert!(s.success(), "kafka.sh {cmd}");
    };
    restart("stop");
    std::thread::sleep(Duration::from_secs(2));
    restart("start");
    let during = p.read_committed().uids().len();
    eprintln!("{during} of 600 events committed when the broker went down");
    p.ingest("aws_cloudtrail", "b.jsonl", &lines[600..]);
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    // librdkafka rides out a broker restart; should the process have given up
    // instead, it must have said why, and a restart must resume exactly.
    if let Some(status) = n.try_wait().unwrap() {
        eprintln!(
            "normalizer exited during the broker restart ({status}):\n{}",
            p.logs()
        );
        n = p.spawn_normalizer("n1");
    }
    p.wait_for_events(800, Duration::from_secs(180));
    eprintln!("caught up {:?} after the restart", started.elapsed());
    terminate(&mut n);
    let committed = p.read_committed();
    expect_exactly(&p, &committed, "br", 800);
}

#[test]
fn topics_are_created_as_configured_and_existing_ones_are_validated() {
    use rdkafka::admin::{
        AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication,
    };
    use rdkafka::client::DefaultClientContext;
    let _guard = serial();
    let Some(p) = Pipeline::new("topics", "", "") else {
        return;
    };
    let admin: AdminClient<DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &p.bootstrap)
        .create()
        .unwrap();
    // A pre-existing chain-state topic that is not compacted: refused, by name.
    let wrong = format!("{}.chain-state", p.prefix);
    let created = futures_executor::block_on(admin.create_topics(
        &[NewTopic::new(&wrong, 1, TopicReplication::Fixed(1)).set("cleanup.policy", "delete")],
        &AdminOptions::new(),
    ))
    .unwrap();
    assert!(created[0].is_ok(), "{created:?}");
    let out = p.ingest_output("aws_cloudtrail", "a.jsonl", &cloudtrail_lines("t", 1));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&wrong) && stderr.contains("must be compacted"),
        "{stderr}"
    );
    // Once fixed, the others are created with the configured partitions and policies.
    futures_executor::block_on(admin.delete_topics(&[&wrong], &AdminOptions::new())).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    p.ingest("aws_cloudtrail", "a.jsonl", &cloudtrail_lines("t", 1));
    let md = admin
        .inner()
        .fetch_metadata(None, Duration::from_secs(10))
        .unwrap();
    let ours: Vec<_> = md
        .topics()
        .iter()
        .filter(|t| t.name().starts_with(&format!("{}.", p.prefix)))
        .collect();
    assert_eq!(
        ours.len(),
        9 + 7,
        "9 raw topics, events, seals, dlq, receipts, coverage, chain-state, cursors"
    );
    assert!(ours.iter().all(|t| t.partitions().len() == 2));
    let configs = futures_executor::block_on(admin.describe_configs(
        &[
            ResourceSpecifier::Topic(&wrong),
            ResourceSpecifier::Topic(&format!("{}.events", p.prefix)),
        ],
        &AdminOptions::new(),
    ))
    .unwrap();
    let policy = |i: usize| {
        configs[i]
            .as_ref()
            .unwrap()
            .get("cleanup.policy")
            .unwrap()
            .value
            .clone()
            .unwrap()
    };
    assert_eq!(policy(0), "compact");
    assert_eq!(policy(1), "delete");
}

#[test]
fn a_zombie_with_the_same_instance_id_is_fenced() {
    let _guard = serial();
    let Some(p) = Pipeline::new("zombie", "batch_max_records = 20\nbatch_max_ms = 50", "") else {
        return;
    };
    let lines = cloudtrail_lines("z", 600);
    p.ingest("aws_cloudtrail", "a.jsonl", &lines[..300]);
    let mut old = p.spawn_normalizer("same");
    std::thread::sleep(Duration::from_millis(2500));
    // A second process claims the same identity (a restarted pod whose old
    // one is still alive, say): the old one must stop writing.
    let mut new = p.spawn_normalizer("same");
    p.ingest("aws_cloudtrail", "b.jsonl", &lines[300..]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = old.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the zombie was not fenced:\n{}",
            p.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        !status.success(),
        "the fenced instance must exit with an error"
    );
    let logs = p.logs().to_lowercase();
    assert!(logs.contains("fenced"), "{logs}");
    p.wait_for_events(600, Duration::from_secs(120));
    terminate(&mut new);
    let committed = p.read_committed();
    expect_exactly(&p, &committed, "z", 600);
}
