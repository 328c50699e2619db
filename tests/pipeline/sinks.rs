//! `auditfed run sinks` against the HEC server of `tests/hec_server.py`
//! (written from Splunk's documented protocol: tokens, channels, ackIds,
//! busy replies, delayed and lost acknowledgements) and the real Kafka
//! broker: after busy replies, a HEC restart and kill -9s of the sink
//! mid-batch, the events Splunk indexed are exactly the archived ones
//! (duplicates only where the protocol cannot prevent them, counted); a
//! refused token stops the sink with the key to fix and loses nothing.

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::kafka::{Pipeline, cloudtrail_lines, terminate};
use support::{KillOnDrop, Rng, auditfed, await_listening, free_port, serial};

/// `tests/hec_server.py` on `port`, state in `state`, once it listens.
fn hec(port: u16, state: &Path, extra: &[&str]) -> KillOnDrop {
    let python = std::env::var("AUDITFED_PYTHON").unwrap_or_else(|_| "python3".into());
    let child = Command::new(python)
        .arg(support::root().join("tests/hec_server.py"))
        .arg(port.to_string())
        .arg(state)
        .args(["--token", "good-token", "--index", "audit"])
        .args(extra)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = KillOnDrop(child);
    await_listening(&mut server, port, Duration::from_secs(20));
    server
}

/// `auditfed run sinks [extra] --config CONFIG` as member `sink-1`.
fn run_sinks(config: &Path, extra: &[&str]) -> Command {
    let mut command = auditfed();
    command
        .args(["run", "sinks"])
        .args(extra)
        .arg("--config")
        .arg(config)
        .env("HOSTNAME", "sink-1");
    command
}

/// The pipeline's config plus a `[sinks.splunk]` table.
fn sink_config(p: &Pipeline, port: u16, token: &str) -> std::path::PathBuf {
    let path = p.dir.join(format!("sinks-{token}.toml"));
    let mut text = std::fs::read_to_string(&p.config).unwrap();
    text += &format!(
        "\n[sinks.splunk]\ntype = \"splunk_hec\"\nendpoint = \"http://127.0.0.1:{port}\"\n\
         token = \"{token}\"\nindex = \"audit\"\nack_timeout_secs = 3\nack_poll_ms = 100\n\
         [sinks.splunk.batch]\nmax_events = 40\nmax_ms = 200\nmax_backoff_ms = 1000\n\
         [sinks.residency]\ntype = \"splunk_hec\"\nendpoint = \"http://127.0.0.1:{port}\"\n\
         token = \"{token}\"\nindex = \"audit\"\n[sinks.residency.policy]\nregions = [\"nowhere-1\"]\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Event uid → how many times the HEC server indexed it.
fn indexed(state: &Path) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    let text = std::fs::read_to_string(state.join("indexed.jsonl")).unwrap_or_default();
    for line in text.lines() {
        let envelope: serde_json::Value = serde_json::from_str(line).unwrap();
        let uid = envelope["fields"]["auditfed_event_uid"].as_str().unwrap();
        assert_eq!(envelope["index"], "audit");
        assert_eq!(
            envelope["event"]["metadata"]["uid"], uid,
            "the indexed event is not the one its fields name"
        );
        *seen.entry(uid.to_owned()).or_insert(0) += 1;
    }
    seen
}

#[test]
fn every_archived_event_reaches_splunk_through_failures_and_kill_dash_nine() {
    let _guard = serial();
    let Some(p) = Pipeline::new(
        "sinks",
        "checkpoint_every_events = 100\ncheckpoint_every_secs = 1",
        "",
    ) else {
        return;
    };
    let n = 600;
    p.ingest("aws_cloudtrail", "a.jsonl", &cloudtrail_lines("hec", n));
    let mut normalizer = p.spawn_normalizer("n1");
    let committed = p.wait_for_events(n, Duration::from_secs(120));
    terminate(&mut normalizer);
    let sealed: BTreeMap<String, serde_json::Value> = committed
        .events
        .iter()
        .map(|e| {
            let v: serde_json::Value = serde_json::from_slice(&e.payload).unwrap();
            (v["metadata"]["uid"].as_str().unwrap().to_owned(), v)
        })
        .collect();
    assert_eq!(sealed.len(), n);

    let state = p.dir.join("hec");
    std::fs::create_dir_all(&state).unwrap();
    let port = free_port();
    let flaky = [
        "--busy",
        "0.2",
        "--ack-delay-ms",
        "20:300",
        "--lose-acks",
        "0.05",
    ];

    // A refused token: the sink stops at once, naming the key, and commits nothing.
    let server = hec(port, &state, &flaky);
    let out = run_sinks(
        &sink_config(&p, port, "wrong-token"),
        &["--exit-when-idle", "3"],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sinks.splunk.token"), "{err}");
    assert!(indexed(&state).is_empty());

    // kill -9 of the sink mid-batch, a HEC restart in between.
    let config = sink_config(&p, port, "good-token");
    let mut rng = Rng::new();
    let mut server = Some(server);
    for round in 0..4 {
        let mut sink = run_sinks(&config, &[])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(500 + rng.below(1500)));
        sink.kill().unwrap();
        sink.wait().unwrap();
        if round == 1 {
            drop(server.take());
            server = Some(hec(port, &state, &flaky));
        }
    }
    let out = run_sinks(&config, &["--exit-when-idle", "5"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Acknowledged requests are indexed a moment later (the server's indexer thread).
    std::thread::sleep(Duration::from_millis(500));
    let got = indexed(&state);
    let missing: Vec<&String> = sealed.keys().filter(|u| !got.contains_key(*u)).collect();
    assert!(missing.is_empty(), "not in Splunk: {missing:?}");
    let extra: Vec<&String> = got.keys().filter(|u| !sealed.contains_key(*u)).collect();
    assert!(extra.is_empty(), "in Splunk but never sealed: {extra:?}");
    let duplicates: usize = got.values().map(|c| c - 1).sum();
    eprintln!("{n} events indexed, {duplicates} duplicates (kill -9 after indexing, lost acks)");

    // Every event has a delivered receipt naming the sink and its ack.
    let receipts = p.read_topics(&[format!("{}.receipts", p.prefix)]);
    let mut delivered: BTreeMap<String, usize> = BTreeMap::new();
    let mut withheld: BTreeMap<String, usize> = BTreeMap::new();
    for (_, r) in &receipts {
        let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
        if v["sink"] == "residency" {
            // Its policy admits no region: everything withheld, nothing sent.
            assert_eq!(v["outcome"], "withheld", "{v}");
            assert!(v["reason"].as_str().unwrap().contains("policy.regions"));
            *withheld
                .entry(v["event_uid"].as_str().unwrap().to_owned())
                .or_insert(0) += 1;
            continue;
        }
        assert_eq!(v["sink"], "splunk");
        if v["outcome"] == "delivered" {
            assert!(v["batch"].as_str().unwrap().contains('/'), "{v}");
            *delivered
                .entry(v["event_uid"].as_str().unwrap().to_owned())
                .or_insert(0) += 1;
        }
    }
    assert_eq!(
        delivered.keys().collect::<Vec<_>>(),
        sealed.keys().collect::<Vec<_>>(),
        "a delivered receipt for every event"
    );
    assert_eq!(
        withheld.keys().collect::<Vec<_>>(),
        sealed.keys().collect::<Vec<_>>(),
        "a withheld receipt for every event of the residency sink"
    );
    drop(server);
}

#[test]
fn replay_reforwards_a_time_range_from_the_topic_and_from_the_archive() {
    let _guard = serial();
    let Some(p) = Pipeline::new("replay", "checkpoint_every_events = 50", "") else {
        return;
    };
    let n = 150;
    p.ingest("aws_cloudtrail", "a.jsonl", &cloudtrail_lines("rpl", n));
    let mut normalizer = p.spawn_normalizer("n1");
    let committed = p.wait_for_events(n, Duration::from_secs(120));
    terminate(&mut normalizer);
    let mut times: Vec<(i64, String, String)> = committed
        .events
        .iter()
        .map(|e| {
            let v: serde_json::Value = serde_json::from_slice(&e.payload).unwrap();
            (
                v["time"].as_i64().unwrap(),
                v["time_dt"].as_str().unwrap().to_owned(),
                v["metadata"]["uid"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    times.sort();
    // A range holding some events, not all: [third, two thirds).
    let (from, to) = (&times[n / 3], &times[2 * n / 3]);
    assert!(
        from.0 < to.0,
        "the fixture's times are not spread: {from:?} {to:?}"
    );
    let expected: std::collections::BTreeSet<&str> = times
        .iter()
        .filter(|(t, _, _)| *t >= from.0 && *t < to.0)
        .map(|(_, _, uid)| uid.as_str())
        .collect();
    assert!(!expected.is_empty() && expected.len() < n);

    let archive = p.dir.join("archive");
    let report = committed.archive_and_verify(&archive, p.keyring());
    assert!(report.findings.is_empty(), "{:?}", report.findings);

    let state = p.dir.join("hec");
    std::fs::create_dir_all(&state).unwrap();
    let port = free_port();
    let server = hec(port, &state, &[]);
    let config = sink_config(&p, port, "good-token");
    let replay = |extra: &[&str]| {
        let out = auditfed()
            .args([
                "replay", "--sink", "splunk", "--from", &from.1, "--to", &to.1, "--config",
            ])
            .arg(&config)
            .args(extra)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{err}");
        err
    };
    // From the events topic, then from the archive: the range, twice.
    let err = replay(&[]);
    assert!(
        err.contains(&format!("{} delivered", expected.len())),
        "{err}"
    );
    std::thread::sleep(Duration::from_millis(500));
    let got = indexed(&state);
    assert_eq!(
        got.keys()
            .map(String::as_str)
            .collect::<std::collections::BTreeSet<_>>(),
        expected
    );
    let archive_arg = archive.display().to_string();
    let err = replay(&["--source", "archive", "--archive", &archive_arg]);
    assert!(
        err.contains(&format!("{} delivered", expected.len())),
        "{err}"
    );
    std::thread::sleep(Duration::from_millis(500));
    let got = indexed(&state);
    assert_eq!(got.len(), expected.len());
    assert!(got.values().all(|&c| c == 2), "{got:?}");

    // The sink's own group was not moved: a normal run delivers everything.
    let out = run_sinks(&config, &["--sink", "splunk", "--exit-when-idle", "3"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains(&format!("{n} delivered")), "{err}");
    let receipts = p.read_topics(&[format!("{}.receipts", p.prefix)]);
    let replayed = receipts
        .iter()
        .filter(|(_, r)| {
            let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
            v["mode"] == "replay" && v["outcome"] == "delivered"
        })
        .count();
    assert_eq!(replayed, 2 * expected.len());

    // The archiver writes the receipts apart from the archive; SQL asks
    // which events a sink never got.
    let receipts_dir = p.dir.join("receipts");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "[archive]\n",
        &format!(
            "[archive]\nreceipts_path = \"{}\"\n",
            receipts_dir.display()
        ),
    );
    let with_receipts = p.dir.join("with-receipts.toml");
    std::fs::write(&with_receipts, text).unwrap();
    let out = auditfed()
        .args(["run", "archive", "--exit-when-idle", "3", "--config"])
        .arg(&with_receipts)
        .env("HOSTNAME", "archiver-1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sql = |query: &str| -> String {
        let out = auditfed()
            .args(["sql", "--format", "csv", "--config"])
            .arg(&with_receipts)
            .arg(query)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let counts = sql(
        "SELECT mode, count(*) AS n, count(DISTINCT event_uid) AS events FROM receipts \
         WHERE sink = 'splunk' AND outcome = 'delivered' GROUP BY mode ORDER BY mode",
    );
    assert_eq!(
        counts.trim(),
        format!(
            "mode,n,events\nreplay,{},{}\nrun,{n},{n}",
            2 * expected.len(),
            expected.len()
        ),
        "{counts}"
    );
    let undelivered = sql("SELECT count(*) AS n FROM undelivered WHERE sink = 'splunk'");
    assert_eq!(undelivered.trim(), "n\n0", "{undelivered}");
    // The archive itself holds no receipts: it still verifies.
    let verify = auditfed()
        .arg("verify")
        .arg("--archive")
        .arg(p.dir.join("archived"))
        .arg("--keys")
        .arg(p.dir.join("keys/keyring"))
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    drop(server);
}

/// The sink killed -9 the moment Splunk confirms a batch (the HEC server
/// sends the signal right after answering an acknowledgement poll, 0 to 40
/// ms late): whatever the moment, each event has exactly one receipt and
/// the event Splunk refuses exactly one dead letter, because receipts,
/// dead letters and offsets are one Kafka transaction. Only Splunk may see
/// an event twice (delivered again after the kill: at least once).
#[test]
fn a_kill_right_after_splunk_confirms_leaves_one_receipt_and_one_dead_letter_per_event() {
    let _guard = serial();
    let Some(p) = Pipeline::new("ackkill", "checkpoint_every_events = 100", "") else {
        return;
    };
    let n = 400;
    let refused_marker = "auditfed-test-agent-splunk-refuses";
    let mut lines = cloudtrail_lines("ack", n);
    let mut refused_line: serde_json::Value = serde_json::from_str(&lines[n / 2]).unwrap();
    refused_line["userAgent"] = refused_marker.into();
    lines[n / 2] = refused_line.to_string();
    p.ingest("aws_cloudtrail", "a.jsonl", &lines);
    let mut normalizer = p.spawn_normalizer("n1");
    let committed = p.wait_for_events(n, Duration::from_secs(120));
    terminate(&mut normalizer);
    let sealed: BTreeMap<String, Vec<u8>> = committed
        .events
        .iter()
        .map(|e| {
            let v: serde_json::Value = serde_json::from_slice(&e.payload).unwrap();
            (
                v["metadata"]["uid"].as_str().unwrap().to_owned(),
                e.payload.clone(),
            )
        })
        .collect();
    let refused: Vec<&String> = sealed
        .iter()
        .filter(|(_, json)| String::from_utf8_lossy(json).contains(refused_marker))
        .map(|(uid, _)| uid)
        .collect();
    assert_eq!(refused.len(), 1, "one sealed event carries the marker");
    let refused = refused[0].clone();

    let state = p.dir.join("hec");
    std::fs::create_dir_all(&state).unwrap();
    let port = free_port();
    let pidfile = state.join("kill-on-ack");
    let pidfile_arg = pidfile.display().to_string();
    let server = hec(
        port,
        &state,
        &[
            "--refuse-containing",
            refused_marker,
            "--kill-on-ack",
            &pidfile_arg,
        ],
    );
    let path = p.dir.join("sinks-ackkill.toml");
    let mut text = std::fs::read_to_string(&p.config).unwrap();
    text += &format!(
        "\n[sinks.splunk]\ntype = \"splunk_hec\"\nendpoint = \"http://127.0.0.1:{port}\"\n\
         token = \"good-token\"\nindex = \"audit\"\nack_poll_ms = 20\n\
         [sinks.splunk.batch]\nmax_events = 20\nmax_ms = 100\nmax_in_flight = 2\n"
    );
    std::fs::write(&path, text).unwrap();

    let delays_ms = [0, 0, 2, 5, 10, 20, 40];
    for delay in delays_ms {
        let mut sink = run_sinks(&path, &["--sink", "splunk"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::fs::write(&pidfile, format!("{} {delay}", sink.id())).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
        let status = loop {
            if let Some(status) = sink.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = sink.kill();
                panic!("the HEC server never killed the sink (no batch confirmed)");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(!status.success(), "the sink exited by itself: {status}");
    }
    let log = std::fs::read_to_string(state.join("hec.log")).unwrap();
    assert_eq!(
        log.matches(" killed pid=").count(),
        delays_ms.len(),
        "every kill came right after a confirmation"
    );
    // Later still: the moment the first receipt of a run reaches Kafka,
    // before its batch's offsets can be committed.
    for _ in 0..4 {
        let sink = run_sinks(&path, &["--sink", "splunk"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        kill_at_first_receipt(&p, sink);
    }
    let out = run_sinks(&path, &["--sink", "splunk", "--exit-when-idle", "5"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(Duration::from_millis(500));
    drop(server);

    let got = indexed(&state);
    let expected: Vec<&String> = sealed.keys().filter(|u| **u != refused).collect();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected,
        "Splunk has every event but the refused one"
    );
    let duplicates: usize = got.values().map(|c| c - 1).sum();
    eprintln!(
        "{} events indexed, {duplicates} indexed again after a kill",
        got.len()
    );
    assert!(
        duplicates > 0,
        "no kill fell between Splunk's confirmation and the commit: the test proves nothing"
    );

    let mut receipts: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (_, r) in p.read_topics(&[format!("{}.receipts", p.prefix)]) {
        let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
        receipts
            .entry(v["event_uid"].as_str().unwrap().to_owned())
            .or_default()
            .push(v["outcome"].as_str().unwrap().to_owned());
    }
    let twice: Vec<_> = receipts.iter().filter(|(_, o)| o.len() != 1).collect();
    assert!(
        twice.is_empty(),
        "{} events without exactly one receipt, e.g. {:?}",
        twice.len(),
        &twice[..twice.len().min(3)]
    );
    assert_eq!(
        receipts.keys().collect::<Vec<_>>(),
        sealed.keys().collect::<Vec<_>>()
    );
    assert_eq!(receipts[&refused], ["dead_lettered"]);
    let dead: Vec<_> = p
        .read_committed()
        .dead_letters
        .into_iter()
        .filter(|d| d.headers.get("auditfed.stage").map(String::as_str) == Some("sink:splunk"))
        .collect();
    assert_eq!(dead.len(), 1, "the refused event, dead-lettered once");
    assert_eq!(dead[0].payload, sealed[&refused]);
    assert!(
        dead[0].headers["auditfed.reason"].contains("Invalid data format"),
        "{:?}",
        dead[0].headers
    );
}

/// Kills `sink` as soon as a receipt it writes is in Kafka, committed or not.
fn kill_at_first_receipt(p: &Pipeline, mut sink: std::process::Child) {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Offset, TopicPartitionList};
    let topic = format!("{}.receipts", p.prefix);
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &p.bootstrap)
        .set("group.id", format!("{}-killer", p.prefix))
        .set("isolation.level", "read_uncommitted")
        .set("fetch.wait.max.ms", "1")
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(Some(&topic), Duration::from_secs(10))
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for partition in metadata.topics()[0].partitions() {
        tpl.add_partition_offset(&topic, partition.id(), Offset::End)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(Ok(_)) = consumer.poll(Duration::from_millis(5)) {
            sink.kill().unwrap();
            sink.wait().unwrap();
            return;
        }
        assert!(
            sink.try_wait().unwrap().is_none(),
            "the sink exited by itself"
        );
        if std::time::Instant::now() > deadline {
            let _ = sink.kill();
            panic!("the sink wrote no receipt within 90 s");
        }
    }
}
