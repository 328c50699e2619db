//! `auditfed run sinks` with two Sentinel sinks (ASIM tables; the OCSF
//! custom table) against `tests/logs_ingestion_server.py` (the Logs
//! Ingestion API and its Entra ID token endpoint, written from Microsoft's
//! documentation; its streams are the DCRs of docs/sentinel/) and the real
//! Kafka broker: through 429s, 503s, short-lived tokens, a server restart
//! that forgets every token and kill -9s of the sink, every sealed event
//! lands in its table; an event whose row is over the API's 1 MB per call
//! lands in the dead-letter topic; a refused secret stops the sink naming
//! the key.

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::kafka::{Pipeline, cloudtrail_lines, terminate};
use support::{KillOnDrop, Rng, auditfed, await_listening, free_port, serial};

const DCR_ID: &str = "dcr-0123456789abcdef0123456789abcdef";
const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

fn server(port: u16, state: &Path) -> KillOnDrop {
    let python = std::env::var("AUDITFED_PYTHON").unwrap_or_else(|_| "python3".into());
    let root = support::root();
    let child = Command::new(python)
        .arg(root.join("tests/logs_ingestion_server.py"))
        .arg(port.to_string())
        .arg(state)
        .args(["--tenant", TENANT, "--dcr-id", DCR_ID])
        .arg("--dcr")
        .arg(root.join("docs/sentinel/dcr-asim.json"))
        .arg("--dcr")
        .arg(root.join("docs/sentinel/dcr-ocsf.json"))
        .args(["--client", "app-1:good-secret"])
        .args(["--federated", "app-2:federated-assertion"])
        .args([
            "--token-lifetime",
            "4",
            "--throttle",
            "0.1",
            "--unavailable",
            "0.05",
            "--revoke-every",
            "10",
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = KillOnDrop(child);
    await_listening(&mut server, port, Duration::from_secs(20));
    server
}

fn sink_config(p: &Pipeline, port: u16, secret: &str) -> std::path::PathBuf {
    let assertion = p.dir.join("federated-token");
    std::fs::write(&assertion, "federated-assertion\n").unwrap();
    let path = p.dir.join(format!("sentinel-{secret}.toml"));
    let mut text = std::fs::read_to_string(&p.config).unwrap();
    let endpoint = format!("http://127.0.0.1:{port}");
    text += &format!(
        "\n[sinks.sentinel]\ntype = \"sentinel\"\nendpoint = \"{endpoint}\"\n\
         dcr_immutable_id = \"{DCR_ID}\"\n\
         [sinks.sentinel.auth]\ntenant_id = \"{TENANT}\"\nclient_id = \"app-1\"\n\
         client_secret = \"{secret}\"\nauthority = \"{endpoint}\"\n\
         [sinks.sentinel.batch]\nmax_events = 25\nmax_ms = 200\nmax_backoff_ms = 1000\n\
         [sinks.sentinel_ocsf]\ntype = \"sentinel\"\nendpoint = \"{endpoint}\"\n\
         dcr_immutable_id = \"{DCR_ID}\"\ntable = \"ocsf\"\n\
         [sinks.sentinel_ocsf.auth]\ntenant_id = \"{TENANT}\"\nclient_id = \"app-2\"\n\
         federated_token_file = \"{}\"\nauthority = \"{endpoint}\"\n\
         [sinks.sentinel_ocsf.batch]\nmax_events = 40\nmax_ms = 200\nmax_backoff_ms = 1000\n",
        assertion.display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Stream → rows the server stored.
fn rows(state: &Path, stream: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(state.join(format!("{stream}.jsonl")))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn count<'a>(uids: impl Iterator<Item = &'a str>) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for uid in uids {
        *seen.entry(uid.to_owned()).or_insert(0) += 1;
    }
    seen
}

/// Okta sign-ins (OCSF Authentication), each with its own uuid.
fn okta_lines(n: usize) -> Vec<String> {
    let fixture =
        support::root().join("normalize/tests/fixtures/okta/derived__system-log-events.json");
    let records: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
    (0..n)
        .map(|i| {
            let mut r = records[0].clone();
            r["uuid"] = format!("okta-{i:04}-0000-4000-8000-000000000000").into();
            serde_json::to_string(&r).unwrap()
        })
        .collect()
}

/// A CloudTrail record whose sealed event fits Kafka but whose OCSF row
/// (the event as an escaped string) is over the API's 1 MB per call.
fn oversized_cloudtrail() -> String {
    let mut line: serde_json::Value = serde_json::from_str(&cloudtrail_lines("big", 1)[0]).unwrap();
    line["requestParameters"] = serde_json::json!({ "policyDocument": "\\".repeat(140_000) });
    serde_json::to_string(&line).unwrap()
}

#[test]
fn every_sealed_event_reaches_sentinel_through_throttling_token_loss_and_kill_dash_nine() {
    let _guard = serial();
    let Some(p) = Pipeline::new(
        "sentinel",
        "checkpoint_every_events = 100\ncheckpoint_every_secs = 1",
        "",
    ) else {
        return;
    };
    let (n_audit, n_auth) = (300, 60);
    p.ingest(
        "aws_cloudtrail",
        "ct.jsonl",
        &cloudtrail_lines("snt", n_audit),
    );
    p.ingest("okta", "okta.jsonl", &okta_lines(n_auth));
    p.ingest("aws_cloudtrail", "big.jsonl", &[oversized_cloudtrail()]);
    let n = n_audit + n_auth + 1;
    let mut normalizer = p.spawn_normalizer("n1");
    let committed = p.wait_for_events(n, Duration::from_secs(120));
    terminate(&mut normalizer);
    let mut sealed: BTreeMap<String, (i64, Vec<u8>)> = BTreeMap::new();
    for e in &committed.events {
        let v: serde_json::Value = serde_json::from_slice(&e.payload).unwrap();
        let uid = v["metadata"]["uid"].as_str().unwrap().to_owned();
        sealed.insert(uid, (v["class_uid"].as_i64().unwrap(), e.payload.clone()));
    }
    assert_eq!(sealed.len(), n);
    let big_uid = sealed
        .iter()
        .find(|(_, (_, json))| json.len() > 800_000)
        .map(|(uid, _)| uid.clone())
        .expect("the oversized event was sealed");

    let state = p.dir.join("ingestion");
    std::fs::create_dir_all(&state).unwrap();
    let port = free_port();

    // A refused secret: the sink stops at once, naming the key; nothing sent.
    let server_1 = server(port, &state);
    let out = auditfed()
        .args([
            "run",
            "sinks",
            "--sink",
            "sentinel",
            "--exit-when-idle",
            "3",
            "--config",
        ])
        .arg(sink_config(&p, port, "wrong-secret"))
        .env("HOSTNAME", "sink-1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sinks.sentinel.auth.client_secret"), "{err}");
    assert!(err.contains("AADSTS7000215"), "{err}");
    assert!(rows(&state, "Custom-ASimAuditEventLogs").is_empty());

    // kill -9 mid-batch; a server restart forgets every token issued.
    let config = sink_config(&p, port, "good-secret");
    let mut rng = Rng::new();
    let mut server_now = Some(server_1);
    for round in 0..3 {
        let mut sink = auditfed()
            .args(["run", "sinks", "--config"])
            .arg(&config)
            .env("HOSTNAME", "sink-1")
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(800 + rng.below(1500)));
        sink.kill().unwrap();
        sink.wait().unwrap();
        if round == 1 {
            drop(server_now.take());
            server_now = Some(server(port, &state));
        }
    }
    let out = auditfed()
        .args(["run", "sinks", "--exit-when-idle", "5", "--config"])
        .arg(&config)
        .env("HOSTNAME", "sink-1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");

    // The ASIM tables: every event in the table its class belongs to.
    let audit = rows(&state, "Custom-ASimAuditEventLogs");
    let authentication = rows(&state, "Custom-ASimAuthenticationEventLogs");
    for (row, schema, version) in audit.iter().map(|r| (r, "AuditEvent", "0.1")).chain(
        authentication
            .iter()
            .map(|r| (r, "Authentication", "0.1.3")),
    ) {
        assert_eq!(row["EventSchema"], schema, "{row}");
        assert_eq!(row["EventSchemaVersion"], version);
        assert_eq!(row["EventCount"], 1);
        for field in [
            "TimeGenerated",
            "EventStartTime",
            "EventEndTime",
            "EventType",
            "EventResult",
            "EventProduct",
            "EventVendor",
            "Dvc",
        ] {
            assert!(
                row[field].as_str().is_some_and(|v| !v.is_empty()),
                "{field} in {row}"
            );
        }
        assert!(
            ["Success", "Failure", "Partial", "NA"].contains(&row["EventResult"].as_str().unwrap())
        );
        let uid = row["AdditionalFields"]["auditfed_event_uid"]
            .as_str()
            .unwrap();
        let (class, json) = &sealed[uid];
        let event: serde_json::Value = serde_json::from_slice(json).unwrap();
        assert_eq!(
            row["TimeGenerated"].as_str().unwrap(),
            event["time_dt"].as_str().unwrap(),
            "{row}"
        );
        if schema == "Authentication" {
            assert_eq!(*class, 3002);
            assert!(["Logon", "Logoff", "Elevate"].contains(&row["EventType"].as_str().unwrap()));
            assert!(row["TargetUsername"].is_string(), "{row}");
            assert_eq!(row["SrcIpAddr"], event["src_endpoint"]["ip"]);
        } else {
            assert_ne!(*class, 3002);
            for field in ["Operation", "Object", "ObjectType"] {
                assert!(row[field].is_string(), "{field} in {row}");
            }
            if let Some(operation) = event["api"]["operation"].as_str() {
                assert_eq!(row["Operation"], operation);
            }
            if let Some(actor) = event["actor"]["user"]["name"].as_str() {
                assert_eq!(row["ActorUsername"], actor);
            }
        }
    }
    let asim = count(audit.iter().chain(&authentication).map(|r| {
        r["AdditionalFields"]["auditfed_event_uid"]
            .as_str()
            .unwrap()
    }));
    assert_eq!(
        asim.keys().collect::<Vec<_>>(),
        sealed.keys().collect::<Vec<_>>(),
        "every sealed event, and only those, in the ASIM tables"
    );
    // Sign-ins (Okta's, CloudTrail's ConsoleLogin) in the authentication table.
    let signed_in: std::collections::BTreeSet<&str> = authentication
        .iter()
        .map(|r| {
            r["AdditionalFields"]["auditfed_event_uid"]
                .as_str()
                .unwrap()
        })
        .collect();
    let sign_ins: std::collections::BTreeSet<&str> = sealed
        .iter()
        .filter(|(_, (class, _))| *class == 3002)
        .map(|(uid, _)| uid.as_str())
        .collect();
    assert_eq!(signed_in, sign_ins);
    assert!(sign_ins.len() >= n_auth);

    // The OCSF table: the sealed event byte for byte, except the one whose
    // row is over 1 MB, which is dead-lettered.
    let ocsf = rows(&state, "Custom-AuditfedOcsf_CL");
    for row in &ocsf {
        let uid = row["event_uid"].as_str().unwrap();
        assert_eq!(
            row["event_json"].as_str().unwrap().as_bytes(),
            sealed[uid].1.as_slice()
        );
        assert_eq!(row["class_uid"].as_i64().unwrap(), sealed[uid].0);
        assert!(row["chain_id"].is_string() && row["seq"].is_u64(), "{row}");
    }
    let in_ocsf = count(ocsf.iter().map(|r| r["event_uid"].as_str().unwrap()));
    let expected: Vec<&String> = sealed.keys().filter(|u| **u != big_uid).collect();
    assert_eq!(in_ocsf.keys().collect::<Vec<_>>(), expected);
    let dead = p.read_committed().dead_letters;
    let dead: Vec<_> = dead
        .iter()
        .filter(|d| {
            d.headers.get("auditfed.stage").map(String::as_str) == Some("sink:sentinel_ocsf")
        })
        .collect();
    assert_eq!(dead.len(), 1, "the oversized event, dead-lettered once");
    assert_eq!(dead[0].payload, sealed[&big_uid].1);
    assert!(
        dead[0].headers["auditfed.reason"].contains("1 MB"),
        "{:?}",
        dead[0].headers
    );

    let problems = std::fs::read_to_string(state.join("problems.log")).unwrap_or_default();
    assert!(
        problems.is_empty(),
        "columns the DCRs do not declare, or mistyped:\n{problems}"
    );
    let log = std::fs::read_to_string(state.join("ingest.log")).unwrap();
    assert!(!log.contains(" 413 "), "a call over 1 MB was sent:\n{log}");
    assert!(
        log.contains(" 401 "),
        "revoked tokens were never refused?\n{log}"
    );
    let duplicates: usize = asim.values().chain(in_ocsf.values()).map(|c| c - 1).sum();
    eprintln!(
        "{n} events: {} ASIM rows, {} OCSF rows, {duplicates} duplicates (kill -9 between a 204 and the commit), 1 dead-lettered, {} calls refused with 401 (revoked tokens) and retried with new ones",
        audit.len() + authentication.len(),
        ocsf.len(),
        log.matches(" 401 ").count()
    );

    // Receipts: delivered for every event by both sinks, the big one
    // dead-lettered by the OCSF sink.
    let receipts = p.read_topics(&[format!("{}.receipts", p.prefix)]);
    let mut delivered: BTreeMap<&str, std::collections::BTreeSet<String>> = BTreeMap::new();
    for (_, r) in &receipts {
        let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
        let sink = if v["sink"] == "sentinel" {
            "sentinel"
        } else {
            "sentinel_ocsf"
        };
        match v["outcome"].as_str().unwrap() {
            "delivered" => {
                assert!(v["batch"].as_str().unwrap().starts_with("Custom-"), "{v}");
                delivered
                    .entry(sink)
                    .or_default()
                    .insert(v["event_uid"].as_str().unwrap().to_owned());
            }
            "dead_lettered" => {
                assert_eq!(v["sink"], "sentinel_ocsf");
                assert_eq!(v["event_uid"], big_uid.as_str());
            }
            other => panic!("unexpected outcome {other}: {v}"),
        }
    }
    assert_eq!(delivered["sentinel"].len(), n);
    assert_eq!(delivered["sentinel_ocsf"].len(), n - 1);
    drop(server_now);
}
