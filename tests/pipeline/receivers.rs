//! The receiving collectors against real clients and the real Kafka
//! broker: the `http` receiver (Kubernetes audit webhook) over mutual TLS
//! with a bearer token, driven by `curl` with certificates made by
//! `openssl`; syslog over TLS (RFC 5425) driven by `openssl s_client`.

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::kafka::Pipeline;
use support::{KillOnDrop, auditfed, await_listening, free_port, openssl, serial};

/// A CA, a server certificate for 127.0.0.1, a client certificate it
/// signed, and a client certificate of another CA.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(dir: &Path) -> Pki {
        std::fs::create_dir_all(dir).unwrap();
        for ca in ["ca", "rogue-ca"] {
            openssl(
                dir,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-keyout",
                    &format!("{ca}.key"),
                    "-out",
                    &format!("{ca}.crt"),
                    "-days",
                    "2",
                    "-subj",
                    &format!("/CN={ca}"),
                ],
            );
        }
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
        for (name, ca, ext) in [
            ("server", "ca", "server.ext"),
            ("client", "ca", "client.ext"),
            ("rogue", "rogue-ca", "client.ext"),
        ] {
            openssl(
                dir,
                &[
                    "req",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.csr"),
                    "-subj",
                    &format!("/CN={name}"),
                ],
            );
            openssl(
                dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &format!("{name}.csr"),
                    "-CA",
                    &format!("{ca}.crt"),
                    "-CAkey",
                    &format!("{ca}.key"),
                    "-CAcreateserial",
                    "-out",
                    &format!("{name}.crt"),
                    "-days",
                    "2",
                    "-extfile",
                    ext,
                ],
            );
        }
        Pki {
            dir: dir.to_owned(),
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_str().unwrap().to_owned()
    }
}

/// `curl` against the receiver: (HTTP status or 0 when TLS failed, body).
fn curl(
    pki: &Pki,
    url: &str,
    client: Option<&str>,
    token: Option<&str>,
    body: Option<&Path>,
) -> (u16, String) {
    let mut c = Command::new("curl");
    c.args([
        "-sS",
        "--max-time",
        "30",
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
        "--cacert",
        &pki.path("ca.crt"),
    ]);
    if let Some(client) = client {
        c.args([
            "--cert",
            &pki.path(&format!("{client}.crt")),
            "--key",
            &pki.path(&format!("{client}.key")),
        ]);
    }
    if let Some(token) = token {
        c.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    if let Some(body) = body {
        c.args(["-H", "Content-Type: application/json", "--data-binary"])
            .arg(format!("@{}", body.display()));
    }
    let out = c.arg(url).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

fn k8s_events(tag: &str, n: usize) -> Vec<serde_json::Value> {
    let fixture =
        support::root().join("normalize/tests/fixtures/k8s_audit/falco__create_deployment.json");
    let event: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
    (0..n)
        .map(|i| {
            let mut e = event.clone();
            e["auditID"] = format!("{tag}-{i}").into();
            e
        })
        .collect()
}

#[test]
fn kubernetes_webhook_over_mutual_tls_answers_after_kafka_and_pushes_back() {
    let _guard = serial();
    let Some(p) = Pipeline::new("k8shook", "", "") else {
        return;
    };
    let pki = Pki::new(&p.dir.join("pki"));
    let port = free_port();
    let config = p.dir.join("http.toml");
    let text = std::fs::read_to_string(&p.config).unwrap()
        + &format!(
            "[collectors.k8s]\ntype = \"http\"\nlisten = \"127.0.0.1:{port}\"\nsource = \"k8s_audit\"\npath = \"/audit\"\n\
             tls_cert = \"{}\"\ntls_key = \"{}\"\nclient_ca = \"{}\"\nbearer_token = \"s3cret-token\"\n\
             max_body_bytes = 300000\nqueue_requests = 2\nbatch_ms = 3000\n",
            pki.path("server.crt"),
            pki.path("server.key"),
            pki.path("ca.crt")
        );
    std::fs::write(&config, text).unwrap();
    let mut receiver = KillOnDrop(
        auditfed()
            .args(["run", "ingest", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // It listens once its topics exist and its transactions are initialised:
    // seconds on a fresh broker.
    await_listening(&mut receiver, port, Duration::from_secs(60));
    let url = format!("https://127.0.0.1:{port}/audit");
    let write = |name: &str, text: String| {
        let path = p.dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    // An EventList as the API server's webhook backend sends it.
    let list = write(
        "eventlist.json",
        serde_json::json!({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}, "items": k8s_events("list", 40)})
            .to_string(),
    );
    let (status, body) = curl(
        &pki,
        &url,
        Some("client"),
        Some("s3cret-token"),
        Some(&list),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["records"],
        40
    );
    // JSON lines from another client.
    let lines: String = k8s_events("ndjson", 7)
        .iter()
        .map(|e| format!("{e}\n"))
        .collect();
    let (status, body) = curl(
        &pki,
        &url,
        Some("client"),
        Some("s3cret-token"),
        Some(&write("lines.json", lines)),
    );
    assert_eq!(
        (status, body.contains("\"records\":7")),
        (200, true),
        "{body}"
    );

    // Refused: no client certificate, another CA's, a wrong token, too big, not JSON.
    assert_eq!(
        curl(&pki, &url, None, Some("s3cret-token"), Some(&list)).0,
        0,
        "TLS without a client certificate"
    );
    assert_eq!(
        curl(&pki, &url, Some("rogue"), Some("s3cret-token"), Some(&list)).0,
        0,
        "a client certificate of another CA"
    );
    let (status, _) = curl(
        &pki,
        &url,
        Some("client"),
        Some("s3cret-tokeN"),
        Some(&list),
    );
    assert_eq!(status, 401);
    assert_eq!(curl(&pki, &url, Some("client"), None, Some(&list)).0, 401);
    let big = write(
        "big.json",
        serde_json::json!({"kind": "EventList", "items": k8s_events("big", 200)}).to_string(),
    );
    let (status, body) = curl(&pki, &url, Some("client"), Some("s3cret-token"), Some(&big));
    assert_eq!(status, 413, "{body}");
    let (status, body) = curl(
        &pki,
        &url,
        Some("client"),
        Some("s3cret-token"),
        Some(&write("bad.json", "this is not JSON\n".into())),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        curl(
            &pki,
            &format!("https://127.0.0.1:{port}/healthz"),
            Some("client"),
            None,
            None
        )
        .0,
        200
    );

    // Backpressure: 12 requests at once, 2 may wait for the commit (batch_ms 3 s); the rest get
    // 429. A slow machine may spread the 12 over more than one batch: at most 2 accepted per batch.
    let small = write(
        "small.json",
        serde_json::json!({"kind": "EventList", "items": k8s_events("burst", 3)}).to_string(),
    );
    let answers: Vec<(u16, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..12)
            .map(|_| {
                s.spawn(|| {
                    curl(
                        &pki,
                        &url,
                        Some("client"),
                        Some("s3cret-token"),
                        Some(&small),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let accepted = answers.iter().filter(|(s, _)| *s == 200).count();
    let throttled = answers.iter().filter(|(s, _)| *s == 429).count();
    assert_eq!(accepted + throttled, 12, "{answers:?}");
    assert!(accepted >= 1 && throttled >= 6, "{answers:?}");

    // Every record of every 200 is in Kafka (each burst request carried the same 3 ids).
    let records = p.read_topics(&[format!("{}.raw.k8s_audit", p.prefix)]);
    let mut ids: Vec<String> = records
        .iter()
        .map(|(_, r)| {
            let v: serde_json::Value = serde_json::from_slice(&r.payload).unwrap();
            v["auditID"].as_str().unwrap().to_owned()
        })
        .collect();
    ids.sort();
    let mut expected: Vec<String> = (0..40)
        .map(|i| format!("list-{i}"))
        .chain((0..7).map(|i| format!("ndjson-{i}")))
        .collect();
    for _ in 0..accepted {
        expected.extend((0..3).map(|i| format!("burst-{i}")));
    }
    expected.sort();
    assert_eq!(ids, expected);
    assert!(
        records
            .iter()
            .all(|(_, r)| r.headers["auditfed.object"] == "http://127.0.0.1")
    );
    let dlq = p.read_topics(&[format!("{}.dlq", p.prefix)]);
    assert!(
        dlq.iter()
            .any(|(_, r)| r.payload.starts_with(b"this is not JSON")),
        "{dlq:?}"
    );
}

/// Sends `messages` over TLS with Python's ssl module (certificate `client`
/// of `pki`, or none); returns whether the handshake and sending succeeded.
fn send_tls(pki: &Pki, port: u16, client: Option<&str>, messages: &[String]) -> (bool, String) {
    let python = std::env::var("AUDITFED_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let script = r#"
import socket, ssl, sys
ca, cert, key, port, path = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca)
if cert:
    ctx.load_cert_chain(cert, key)
try:
    with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(open(path, "rb").read())
            # A refused client certificate shows on the first read, not on sendall (TLS 1.3).
            s.settimeout(1.5)
            try:
                if s.recv(1) == b"":
                    pass
            except socket.timeout:
                pass
            s.unwrap()
except (ssl.SSLError, ConnectionError, OSError) as e:
    print(f"refused: {e}")
    sys.exit(1)
"#;
    let path = pki.dir.join(format!("messages-{}.txt", messages.len()));
    std::fs::write(&path, messages.concat()).unwrap();
    let (cert, key) = match client {
        Some(c) => (pki.path(&format!("{c}.crt")), pki.path(&format!("{c}.key"))),
        None => (String::new(), String::new()),
    };
    let out = Command::new(python)
        .args([
            "-c",
            script,
            &pki.path("ca.crt"),
            &cert,
            &key,
            &port.to_string(),
        ])
        .arg(&path)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn syslog_over_tls_requires_a_client_certificate_and_loses_nothing() {
    let _guard = serial();
    let Some(p) = Pipeline::new("syslogtls", "", "") else {
        return;
    };
    let pki = Pki::new(&p.dir.join("pki"));
    let port = free_port();
    let config = p.dir.join("tls.toml");
    let text = std::fs::read_to_string(&p.config).unwrap()
        + &format!(
            "[collectors.secure_syslog]\ntype = \"syslog\"\ntls = \"127.0.0.1:{port}\"\n\
             tls_cert = \"{}\"\ntls_key = \"{}\"\nclient_ca = \"{}\"\nbatch_ms = 50\n",
            pki.path("server.crt"),
            pki.path("server.key"),
            pki.path("ca.crt")
        );
    std::fs::write(&config, text).unwrap();
    let mut receiver = KillOnDrop(
        auditfed()
            .args(["run", "ingest", "--exit-when-idle", "4", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    await_listening(&mut receiver, port, Duration::from_secs(60));
    let message = |i: usize| {
        format!("<86>1 2026-11-27T10:00:00Z web-1 sshd {i} - - Accepted publickey for user{i}")
    };
    // RFC 5425: octet counting; newline framing from another sender.
    let counted: Vec<String> = (0..300)
        .map(|i| {
            let m = message(i);
            format!("{} {m}", m.len())
        })
        .collect();
    let lines: Vec<String> = (300..500).map(|i| format!("{}\n", message(i))).collect();
    let (sent, why) = send_tls(&pki, port, Some("client"), &counted);
    assert!(sent, "the CA's client is accepted: {why}");
    let (sent, why) = send_tls(&pki, port, Some("client"), &lines);
    assert!(sent, "{why}");
    let stray: Vec<String> = (900..910).map(|i| format!("{}\n", message(i))).collect();
    assert!(
        !send_tls(&pki, port, None, &stray).0,
        "no client certificate: refused"
    );
    assert!(
        !send_tls(&pki, port, Some("rogue"), &stray).0,
        "another CA's certificate: refused"
    );
    let status = receiver.0.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(receiver.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{err}");

    let records = p.read_topics(&[format!("{}.raw.syslog", p.prefix)]);
    let mut seen: Vec<usize> = records
        .iter()
        .map(|(_, r)| {
            let text = String::from_utf8(r.payload.clone()).unwrap();
            text.split(" sshd ")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        (0..500).collect::<Vec<_>>(),
        "every message once, none from refused senders"
    );
    assert!(
        records
            .iter()
            .all(|(_, r)| r.headers["auditfed.object"].starts_with("syslog+tls://"))
    );
}
