//! `auditfed run ingest` against the real Kafka broker: the `file`
//! collector follows a growing log through rename rotations (while running
//! and while stopped) and kill -9s; every line written is in the raw topic
//! exactly once, because each cursor moves in the same Kafka transaction
//! as the lines it covers. Its counters are served at /metrics.

use crate::support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use support::kafka::Pipeline;
use support::{KillOnDrop, Rng, assert_exactly_once, auditfed, free_port, serial};

/// Appends lines `from..to` to `path`.
fn append(path: &Path, from: usize, to: usize) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for i in from..to {
        writeln!(f, "<38>Nov 27 10:{:02}:{:02} web-1 sshd[{i}]: Accepted publickey for user{i} from 10.0.0.{} port 22 ssh2", i / 60 % 60, i % 60, i % 250).unwrap();
    }
}

fn spawn(config: &Path) -> KillOnDrop {
    KillOnDrop(
        auditfed()
            .args(["run", "ingest", "--config"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// `/metrics` once it lists collector `name` (it registers once its
/// transactions and cursors are ready).
fn metrics(port: u16, name: &str) -> String {
    let wanted = format!("auditfed_collector_records_total{{collector=\"{name}\"}}");
    let mut last = String::new();
    // A loaded CI machine may take seconds to create topics and fence.
    for _ in 0..600 {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                .unwrap();
            last.clear();
            s.read_to_string(&mut last).unwrap();
            if last.contains(&wanted) {
                return last;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{wanted} not at 127.0.0.1:{port}/metrics:\n{last}");
}

#[test]
fn file_collector_resumes_through_rotations_and_kill_dash_nine_without_loss_or_duplicates() {
    let _guard = serial();
    let Some(p) = Pipeline::new("collect", "", "") else {
        return;
    };
    let logs = p.dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let log = logs.join("auth.log");
    let port = free_port();
    let config = p.dir.join("collect.toml");
    let text = std::fs::read_to_string(&p.config).unwrap()
        + &format!(
            "[ingest]\nmetrics_listen = \"127.0.0.1:{port}\"\n\
             [collectors.auth]\ntype = \"file\"\nsource = \"syslog\"\npaths = [\"{}\"]\npoll_ms = 50\nbatch_records = 97\n",
            logs.join("auth.lo?").display()
        );
    std::fs::write(&config, text).unwrap();

    let mut rng = Rng::new();
    let mut written = 0;
    append(&log, 0, 500);
    written += 500;
    for round in 0..4 {
        let mut collector = spawn(&config);
        // Running (transactions initialised, cursors read) before lines come:
        // the kills must land while it works, not while it starts.
        metrics(port, "auth");
        // Lines keep coming while it runs; one rotation happens under it.
        for step in 0..5 {
            std::thread::sleep(Duration::from_millis(100 + rng.below(300)));
            append(&log, written, written + 150);
            written += 150;
            if round == 1 && step == 2 {
                std::fs::rename(&log, logs.join("auth.log.1")).unwrap();
                append(&log, written, written + 10);
                written += 10;
            }
        }
        if round == 0 {
            // Something committed before the first kill, so that the files
            // rotated later are known to the cursor (a collector that never
            // committed starts from the current file only, by design).
            let cursors = format!("{}.cursors", p.prefix);
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while p.read_topics(std::slice::from_ref(&cursors)).is_empty() {
                assert!(
                    std::time::Instant::now() < deadline,
                    "no cursor committed in 60 s"
                );
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        if round == 3 {
            let text = metrics(port, "auth");
            assert!(
                text.contains("# TYPE auditfed_collector_lag gauge"),
                "{text}"
            );
        }
        collector.0.kill().unwrap();
        collector.0.wait().unwrap();
        if round == 2 {
            // Rotated while stopped: the old file is finished first, by its inode.
            append(&log, written, written + 40);
            written += 40;
            std::fs::rename(&log, logs.join("auth.log.2")).unwrap();
            append(&log, written, written + 60);
            written += 60;
        }
    }
    let out = auditfed()
        .args(["run", "ingest", "--exit-when-idle", "2", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");

    let records = p.read_topics(&[format!("{}.raw.syslog", p.prefix)]);
    let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
    for (_, r) in &records {
        let line = String::from_utf8(r.payload.clone()).unwrap();
        let n: usize = line
            .split("sshd[")
            .nth(1)
            .unwrap()
            .split(']')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        *seen.entry(n).or_insert(0) += 1;
        assert_eq!(r.headers["auditfed.source"], "syslog");
        assert!(
            r.headers["auditfed.object"].ends_with("auth.log"),
            "{:?}",
            r.headers
        );
        assert!(r.headers.contains_key("auditfed.offset"));
    }
    let missing: Vec<usize> = (0..written).filter(|i| !seen.contains_key(i)).collect();
    assert!(
        missing.is_empty(),
        "{} of {written} lines lost: {missing:?}",
        missing.len()
    );
    let duplicated: Vec<(&usize, &usize)> = seen.iter().filter(|(_, c)| **c > 1).collect();
    assert!(
        duplicated.is_empty(),
        "lines produced twice: {duplicated:?}"
    );
    assert_eq!(seen.len(), written);
}

#[test]
fn syslog_over_udp_and_tcp_with_both_framings_reaches_the_raw_topic_once() {
    let _guard = serial();
    let Some(p) = Pipeline::new("syslog", "", "") else {
        return;
    };
    let (udp, tcp) = (free_port(), free_port());
    let config = p.dir.join("syslog.toml");
    let text = std::fs::read_to_string(&p.config).unwrap()
        + &format!(
            "[collectors.syslog]\ntype = \"syslog\"\nudp = \"127.0.0.1:{udp}\"\ntcp = \"127.0.0.1:{tcp}\"\n\
             max_message_bytes = 2048\nbatch_records = 300\nbatch_ms = 100\n"
        );
    std::fs::write(&config, text).unwrap();
    let mut collector = spawn(&config);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", tcp)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the syslog collector does not listen"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let message = |i: usize| {
        format!(
            "<86>1 2026-11-27T10:00:00.{i:03}Z web-1 sshd {i} - - Accepted publickey for user{i}"
        )
    };
    // RFC 6587 octet counting on one connection, newline framing on another.
    let counted = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", tcp)).unwrap();
        for i in 0..500 {
            let m = message(i);
            write!(s, "{} {m}", m.len()).unwrap();
        }
        // Over max_message_bytes: dead-lettered, and the connection closed.
        write!(s, "3000 {}", "x".repeat(3000)).unwrap();
    });
    let lines = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", tcp)).unwrap();
        for i in 500..1000 {
            writeln!(s, "{}", message(i)).unwrap();
        }
    });
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for i in 1000..1200 {
        socket
            .send_to(message(i).as_bytes(), ("127.0.0.1", udp))
            .unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
    counted.join().unwrap();
    lines.join().unwrap();
    // SIGTERM: what was received is committed before the collector exits.
    std::thread::sleep(Duration::from_millis(500));
    support::kafka::terminate(&mut collector.0);

    let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
    for (_, r) in p.read_topics(&[format!("{}.raw.syslog", p.prefix)]) {
        let text = String::from_utf8(r.payload).unwrap();
        let i: usize = text.split("user").nth(1).unwrap().parse().unwrap();
        assert_eq!(text, message(i));
        let object = &r.headers["auditfed.object"];
        let transport = if i >= 1000 {
            "syslog+udp://"
        } else {
            "syslog+tcp://"
        };
        assert!(object.starts_with(transport), "{object} for message {i}");
        *seen.entry(i).or_insert(0) += 1;
    }
    let missing: Vec<usize> = (0..1200).filter(|i| !seen.contains_key(i)).collect();
    assert!(
        missing.is_empty(),
        "{} messages lost: {missing:?}",
        missing.len()
    );
    assert!(seen.values().all(|&c| c == 1), "duplicates");
    let dead: Vec<_> = p
        .read_committed()
        .dead_letters
        .into_iter()
        .filter(|d| d.headers.get("auditfed.stage").map(String::as_str) == Some("ingest"))
        .collect();
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0].headers["auditfed.reason"].contains("3000 bytes"),
        "{:?}",
        dead[0].headers
    );
}

/// Creates `topic` with `partitions` on the broker (the Event Hub stand-in).
fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    let topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    let result =
        futures_executor::block_on(admin.create_topics([&topic], &AdminOptions::new())).unwrap();
    assert!(result[0].is_ok(), "{result:?}");
}

/// Produces `{"records": [...]}` messages of 3 sign-ins each, round robin over the partitions.
fn produce_hub_messages(bootstrap: &str, topic: &str, from: usize, to: usize) {
    use rdkafka::producer::{BaseRecord, Producer};
    let fixture = support::root()
        .join("normalize/tests/fixtures/entra_signin/ms-docs__signin-log-schema-example.json");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
    let record = doc["records"]
        .as_array()
        .map_or(doc.clone(), |r| r[0].clone());
    let producer: rdkafka::producer::BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    for m in from..to {
        let records: Vec<serde_json::Value> = (0..3)
            .map(|i| {
                let mut r = record.clone();
                r["id"] = format!("signin-{m}-{i}").into();
                r
            })
            .collect();
        let body = serde_json::json!({ "records": records }).to_string();
        producer
            .send(
                BaseRecord::<(), str>::to(topic)
                    .payload(&body)
                    .partition((m % 3) as i32),
            )
            .unwrap();
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

#[test]
fn event_hubs_through_the_kafka_endpoint_unwraps_records_once_across_kill_dash_nine() {
    let _guard = serial();
    let Some(p) = Pipeline::new("eventhubs", "", "") else {
        return;
    };
    // The real broker stands in for the Event Hubs Kafka endpoint (no SASL here).
    let hub = format!("{}-insights-logs-signinlogs", p.prefix);
    create_topic(&p.bootstrap, &hub, 3);
    produce_hub_messages(&p.bootstrap, &hub, 0, 40);
    let config = p.dir.join("hub.toml");
    let text = std::fs::read_to_string(&p.config).unwrap()
        + &format!(
            "[collectors.signins]\ntype = \"eventhubs\"\n\
             connection_string = \"Endpoint=sb://stand-in.servicebus.windows.net/;SharedAccessKeyName=auditfed;SharedAccessKey=not-used\"\n\
             bootstrap = \"{}\"\nevent_hub = \"{hub}\"\nsource = \"entra_signin\"\nbatch_records = 20\nbatch_ms = 100\n\
             [collectors.signins.properties]\n\"security.protocol\" = \"plaintext\"\n",
            p.bootstrap
        );
    std::fs::write(&config, text).unwrap();
    let mut rng = Rng::new();
    let mut produced = 40;
    for _ in 0..3 {
        let mut collector = spawn(&config);
        std::thread::sleep(Duration::from_millis(800 + rng.below(800)));
        produce_hub_messages(&p.bootstrap, &hub, produced, produced + 30);
        produced += 30;
        std::thread::sleep(Duration::from_millis(rng.below(500)));
        collector.0.kill().unwrap();
        collector.0.wait().unwrap();
    }
    {
        use rdkafka::producer::{BaseRecord, Producer};
        let producer: rdkafka::producer::BaseProducer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &p.bootstrap)
            .create()
            .unwrap();
        producer
            .send(
                BaseRecord::<(), str>::to(&hub)
                    .payload("garbage, not JSON")
                    .partition(1),
            )
            .unwrap();
        producer.flush(Duration::from_secs(10)).unwrap();
    }
    let out = auditfed()
        .args(["run", "ingest", "--exit-when-idle", "3", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let records = p.read_topics(&[format!("{}.raw.entra_signin", p.prefix)]);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (_, r) in &records {
        let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
        *seen
            .entry(v["id"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
        assert!(r.headers["auditfed.object"].starts_with(&format!(
            "eventhubs://stand-in.servicebus.windows.net/{hub}/"
        )));
    }
    let expected: Vec<String> = (0..produced)
        .flat_map(|m| (0..3).map(move |i| format!("signin-{m}-{i}")))
        .collect();
    assert_exactly_once("sign-ins", &seen, &expected);
    let dlq = p.read_topics(&[format!("{}.dlq", p.prefix)]);
    assert!(
        dlq.iter().any(|(_, r)| r.payload.starts_with(b"garbage")),
        "{dlq:?}"
    );
}

fn admin(port: u16, query: &str) -> serde_json::Value {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let method = if query.starts_with("add") {
        "POST"
    } else {
        "GET"
    };
    write!(s, "{method} /_admin/{query} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// Ids of the raw records of `topic` under `key` (`uuid`, `_document_id`), with counts.
fn ids_in(p: &Pipeline, topic: &str, key: &str) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for (_, r) in p.read_topics(&[format!("{}.raw.{topic}", p.prefix)]) {
        let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
        *seen.entry(v[key].as_str().unwrap().to_owned()).or_insert(0) += 1;
    }
    seen
}

#[test]
fn okta_and_github_pollers_page_gap_free_obey_rate_limits_and_record_coverage() {
    let _guard = serial();
    let Some(p) = Pipeline::new("pollers", "", "") else {
        return;
    };
    let port = free_port();
    let python = std::env::var("AUDITFED_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let mut server = KillOnDrop(
        std::process::Command::new(python)
            .arg(support::root().join("tests/saas_api_server.py"))
            .arg(port.to_string())
            .arg(support::root().join("normalize/tests/fixtures"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    support::await_listening(&mut server, port, Duration::from_secs(10));
    admin(port, "add?api=okta&tag=o0&n=50");
    admin(port, "add?api=github&tag=g0&n=30");
    let config = p.dir.join("pollers.toml");
    let base = std::fs::read_to_string(&p.config).unwrap();
    let collectors = |okta_token: &str| {
        format!(
            "[collectors.okta]\ntype = \"okta\"\nurl = \"http://127.0.0.1:{port}\"\napi_token = \"{okta_token}\"\n\
             since = \"2020-01-01T00:00:00Z\"\npoll_secs = 1\nlimit = 7\n\
             [collectors.github]\ntype = \"github\"\napi_url = \"http://127.0.0.1:{port}\"\norganization = \"octo-corp\"\n\
             token = \"github-test-token\"\nsince = \"2020-01-01T00:00:00Z\"\npoll_secs = 1\nper_page = 5\nsettle_secs = 30\n"
        )
    };
    // A refused token stops the collector, naming the key.
    std::fs::write(&config, format!("{base}{}", collectors("wrong"))).unwrap();
    let out = auditfed()
        .args(["run", "ingest", "--collector", "okta", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("api_token") && err.contains("401"),
        "{err}"
    );

    // Coverage goes to Parquet too, for SQL.
    let coverage_dir = p.dir.join("coverage");
    let base = base.replace(
        "file_max_rows = 250\n",
        &format!(
            "file_max_rows = 250\ncoverage_path = \"{}\"\n",
            coverage_dir.display()
        ),
    );
    std::fs::write(&config, format!("{base}{}", collectors("okta-test-token"))).unwrap();
    let mut rng = Rng::new();
    let (mut okta_n, mut github_n) = (vec![("o0", 50)], vec![("g0", 30)]);
    for round in 1..=3 {
        let mut collector = spawn(&config);
        std::thread::sleep(Duration::from_millis(1000 + rng.below(1500)));
        let (o, g) = (format!("o{round}"), format!("g{round}"));
        admin(port, &format!("add?api=okta&tag={o}&n=20"));
        admin(port, &format!("add?api=github&tag={g}&n=12"));
        okta_n.push((Box::leak(o.into_boxed_str()), 20));
        github_n.push((Box::leak(g.into_boxed_str()), 12));
        std::thread::sleep(Duration::from_millis(rng.below(1500)));
        collector.0.kill().unwrap();
        collector.0.wait().unwrap();
    }
    // Indexed late: older than what was read already, within settle_secs.
    admin(port, "add?api=github&tag=late&n=4&age_ms=8000");
    github_n.push(("late", 4));
    let out = auditfed()
        .args(["run", "ingest", "--exit-when-idle", "5", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    for (topic, key, expected) in [
        ("okta", "uuid", &okta_n),
        ("github_audit", "_document_id", &github_n),
    ] {
        let seen = ids_in(&p, topic, key);
        let wanted: Vec<String> = expected
            .iter()
            .flat_map(|(t, n)| (0..*n).map(move |i| format!("{t}-{i}")))
            .collect();
        assert_exactly_once(topic, &seen, &wanted);
    }
    let stats = admin(port, "stats");
    for api in ["okta", "github"] {
        assert!(
            stats[api]["limited"].as_u64().unwrap() > 0,
            "the rate limits were exercised: {stats}"
        );
        assert_eq!(
            stats[api]["violations"], 0,
            "no request before the reset the server named: {stats}"
        );
    }

    // Coverage: per collector, pages numbered without gaps, each starting where the previous ended.
    let coverage = p.read_topics(&[format!("{}.coverage", p.prefix)]);
    for (name, topic, key) in [
        ("okta", "okta", "uuid"),
        ("github", "github_audit", "_document_id"),
    ] {
        let rows: Vec<serde_json::Value> = coverage
            .iter()
            .map(|(_, r)| serde_json::from_slice::<serde_json::Value>(&r.payload).unwrap())
            .filter(|v| {
                v["object"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{name}://"))
            })
            .collect();
        assert!(!rows.is_empty(), "{name}: no coverage");
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(
                row["collector_seq"], i as u64,
                "{name}: coverage row {i}: {row}"
            );
            if i > 0 {
                assert_eq!(
                    row["cursor_from"],
                    rows[i - 1]["cursor_to"],
                    "{name}: pages chain"
                );
            }
        }
        let covered: u64 = rows.iter().map(|r| r["records"].as_u64().unwrap()).sum();
        assert_eq!(
            covered as usize,
            ids_in(&p, topic, key).len(),
            "{name}: coverage counts every record"
        );
    }

    // The same proof in SQL, once the archiver wrote the coverage as Parquet.
    let out = auditfed()
        .args(["run", "archive", "--exit-when-idle", "3", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sql = |query: &str| {
        let out = auditfed()
            .args(["sql", "--format", "csv", "--config"])
            .arg(&config)
            .arg(query)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{query}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let okta_total: usize = okta_n.iter().map(|(_, n)| n).sum();
    let github_total: usize = github_n.iter().map(|(_, n)| n).sum();
    assert_eq!(
        sql(
            "SELECT collector, sum(records) AS records, min(collector_seq) AS first FROM coverage GROUP BY collector ORDER BY collector"
        ),
        format!("collector,records,first\ngithub,{github_total},0\nokta,{okta_total},0\n")
    );
    assert_eq!(
        sql("SELECT count(*) AS gaps FROM coverage_gaps"),
        "gaps\n0\n"
    );
}
