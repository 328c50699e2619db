//! `auditfed serve sql`: psql and psycopg (real clients) against the
//! PostgreSQL wire server over an archive written by `auditfed quickstart`;
//! their answers must equal `auditfed sql`'s.

mod support;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn auditfed() -> Command {
    Command::new(env!("CARGO_BIN_EXE_auditfed"))
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn psql_and_psycopg_query_the_archive_with_a_password() {
    let dir = support::temp_dir("serve-sql");
    let out = auditfed()
        .arg("quickstart")
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // No credentials, no server.
    let refused = auditfed()
        .args(["serve", "sql"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--allow-anonymous"));

    let port = free_port();
    let _server = Server(
        auditfed()
            .args([
                "serve",
                "sql",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--user",
                "auditor",
                "--password-env",
                "TEST_PG_PASSWORD",
            ])
            .env("TEST_PG_PASSWORD", "correct horse")
            .current_dir(&dir)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server not listening");
        std::thread::sleep(Duration::from_millis(100));
    }

    let expected: std::collections::BTreeMap<String, u64> = {
        let out = auditfed()
            .args([
                "sql",
                "--format",
                "json",
                "SELECT source, count(*) AS n FROM events GROUP BY source",
            ])
            .current_dir(&dir)
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["source"].as_str().unwrap().to_owned(),
                    v["n"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(expected.len(), 9);

    // psql, as a user would type it.
    let psql = |password: &str, sql: &str| {
        Command::new("psql")
            .args([
                "-X",
                "-A",
                "-t",
                "-F",
                ",",
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "auditor",
                "-d",
                "auditfed",
                "-c",
                sql,
            ])
            .env("PGPASSWORD", password)
            .output()
    };
    match psql(
        "correct horse",
        "SELECT source, count(*) FROM events GROUP BY source ORDER BY source",
    ) {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let got: std::collections::BTreeMap<String, u64> = String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let (s, n) = l.split_once(',').unwrap();
                    (s.to_owned(), n.parse().unwrap())
                })
                .collect();
            assert_eq!(got, expected, "psql");
            let wrong = psql("wrong", "SELECT 1").unwrap();
            assert!(!wrong.status.success());
            assert!(
                String::from_utf8_lossy(&wrong.stderr)
                    .to_lowercase()
                    .contains("password authentication failed")
            );
        }
        Err(e) => {
            assert!(
                std::env::var("AUDITFED_REQUIRE_PYTHON").as_deref() != Ok("1"),
                "psql is required: {e}"
            );
            eprintln!("skipping psql: {e}");
        }
    }

    // psycopg: prepared statements and catalog queries.
    let Some((code, text)) = support::run_python_args(
        "pg_clients.py",
        &[&port.to_string(), "auditor", "correct horse"],
    ) else {
        return;
    };
    assert_eq!(code, 0, "{text}");
    let got: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    let per_source: std::collections::BTreeMap<String, u64> = got["per_source"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    assert_eq!(per_source, expected, "psycopg");
    assert_eq!(
        got["syslog_prepared"].as_u64(),
        expected.get("syslog").copied()
    );
    assert_eq!(got["information_schema"], serde_json::json!(["events"]));
    assert!(got["pg_class_rows"].as_u64().unwrap() > 0);
    assert!(
        got["wrong_password"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("password authentication failed"),
        "{got}"
    );
}
