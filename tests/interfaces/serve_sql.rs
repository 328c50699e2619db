//! `auditfed serve sql`: psql and psycopg (real clients) against the
//! PostgreSQL wire server over an archive written by `auditfed quickstart`;
//! their answers must equal `auditfed sql`'s. Passwords from flags or the
//! config, TLS (plain text refused), and no writes of any kind.

use crate::support;

use support::{KillOnDrop, auditfed, await_listening, free_port, json_lines};

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// `auditfed serve sql <args>` in `dir`, once it listens on `port`.
fn start(dir: &Path, port: u16, args: &[&str], env: &[(&str, &str)]) -> KillOnDrop {
    let mut server = KillOnDrop(
        auditfed()
            .args(["serve", "sql"])
            .args(args)
            .envs(env.iter().copied())
            .current_dir(dir)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    await_listening(&mut server, port, Duration::from_secs(30));
    server
}

/// A quickstart archive in a fresh directory, and its events per source by `auditfed sql`.
fn quickstart(name: &str) -> (std::path::PathBuf, BTreeMap<String, u64>) {
    let dir = support::temp_dir(name);
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
    let expected: BTreeMap<String, u64> = json_lines(
        auditfed()
            .args(["sql", "--format", "json"])
            .arg("SELECT source, count(*) AS n FROM events GROUP BY source")
            .current_dir(&dir)
            .output()
            .unwrap(),
    )
    .into_iter()
    .map(|v| {
        (
            v["source"].as_str().unwrap().to_owned(),
            v["n"].as_u64().unwrap(),
        )
    })
    .collect();
    assert_eq!(expected.len(), 9);
    (dir, expected)
}

/// psql as a user would type it: `-c sql` with PGPASSWORD, unaligned CSV-ish output.
fn psql(
    port: u16,
    password: &str,
    sslmode: &str,
    sql: &str,
) -> std::io::Result<std::process::Output> {
    Command::new("psql")
        .args(["-X", "-A", "-t", "-F", ","])
        .arg(format!(
            "host=127.0.0.1 port={port} user=auditor dbname=auditfed sslmode={sslmode}"
        ))
        .args(["-c", sql])
        .env("PGPASSWORD", password)
        .output()
}

/// `None` (skip) when psql is not installed and that is allowed.
fn psql_available() -> bool {
    match Command::new("psql").arg("--version").output() {
        Ok(_) => true,
        Err(e) => {
            assert!(
                std::env::var("AUDITFED_REQUIRE_PYTHON").as_deref() != Ok("1"),
                "psql is required: {e}"
            );
            eprintln!("skipping psql: {e}");
            false
        }
    }
}

fn per_source_lines(out: &std::process::Output) -> BTreeMap<String, u64> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let (s, n) = l.split_once(',').unwrap();
            (s.to_owned(), n.parse().unwrap())
        })
        .collect()
}

const PER_SOURCE: &str = "SELECT source, count(*) FROM events GROUP BY source ORDER BY source";

#[test]
fn psql_and_psycopg_query_the_archive_with_a_password() {
    let (dir, expected) = quickstart("serve-sql");

    // No credentials, no server.
    let refused = auditfed()
        .args(["serve", "sql"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--allow-anonymous"));

    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    // A user without a password is no access either.
    let refused = auditfed()
        .args(["serve", "sql", "--listen", &listen, "--user", "auditor"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let _server = start(
        &dir,
        port,
        &[
            "--listen",
            &listen,
            "--user",
            "auditor",
            "--password-env",
            "TEST_PG_PASSWORD",
        ],
        &[("TEST_PG_PASSWORD", "correct horse")],
    );

    if psql_available() {
        let got = per_source_lines(&psql(port, "correct horse", "prefer", PER_SOURCE).unwrap());
        assert_eq!(got, expected, "psql");
        let wrong = psql(port, "wrong", "prefer", "SELECT 1").unwrap();
        assert!(!wrong.status.success());
        assert!(
            String::from_utf8_lossy(&wrong.stderr)
                .to_lowercase()
                .contains("password authentication failed")
        );
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
    let per_source: BTreeMap<String, u64> = got["per_source"]
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
    assert_eq!(got["ssl_in_use"], false);
    assert!(
        got["wrong_password"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("password authentication failed"),
        "{got}"
    );
}

#[test]
fn tls_and_credentials_from_the_config_and_no_writes() {
    let (dir, expected) = quickstart("serve-sql-tls");
    // A self-signed certificate, its PKCS#8 key, and the same key in the
    // traditional RSA format the server must refuse.
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(&["rsa", "-in", "key.pem", "-traditional", "-out", "rsa.pem"]);

    let port = free_port();
    std::fs::write(
        dir.join("auditfed.toml"),
        format!(
            "[sql]\nlisten = \"127.0.0.1:{port}\"\nuser = \"auditor\"\npassword = \"${{TEST_PG_PASSWORD}}\"\n\
             tls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n[sql.archives]\nlocal = \"./auditfed-data/archive\"\n\
             [archive]\nreceipts_path = \"./receipts\"\ncoverage_path = \"./coverage\"\n"
        ),
    )
    .unwrap();
    // No sink delivered and no poller ran yet: the side tables are empty, and served.
    std::fs::create_dir_all(dir.join("receipts")).unwrap();
    std::fs::create_dir_all(dir.join("coverage")).unwrap();
    let env = [("TEST_PG_PASSWORD", "battery staple")];

    // A key in another format stops the start, rather than serving in clear.
    let bad = auditfed()
        .args([
            "serve",
            "sql",
            "--config",
            "auditfed.toml",
            "--tls-key",
            "rsa.pem",
        ])
        .envs(env)
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("rsa.pem") && err.contains("PKCS#8"), "{err}");

    let _server = start(&dir, port, &["--config", "auditfed.toml"], &env);

    if psql_available() {
        let got = per_source_lines(&psql(port, "battery staple", "require", PER_SOURCE).unwrap());
        assert_eq!(got, expected, "psql over TLS");
        let side = psql(
            port,
            "battery staple",
            "require",
            "SELECT (SELECT count(*) FROM receipts) + (SELECT count(*) FROM undelivered) \
             + (SELECT count(*) FROM coverage) + (SELECT count(*) FROM coverage_gaps)",
        )
        .unwrap();
        assert!(
            side.status.success(),
            "{}",
            String::from_utf8_lossy(&side.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&side.stdout).trim(), "0");
        let plain = psql(port, "battery staple", "disable", "SELECT 1").unwrap();
        assert!(!plain.status.success());
        assert!(
            String::from_utf8_lossy(&plain.stderr).contains("requires TLS"),
            "{}",
            String::from_utf8_lossy(&plain.stderr)
        );
    }

    let forbidden = dir.join("written-by-sql.csv");
    let Some((code, text)) = support::run_python_args(
        "pg_clients.py",
        &[
            &port.to_string(),
            "auditor",
            "battery staple",
            "require",
            forbidden.to_str().unwrap(),
        ],
    ) else {
        return;
    };
    assert_eq!(code, 0, "{text}");
    let got: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(got["ssl_in_use"], true);
    let writes = got["writes"].as_object().unwrap();
    assert_eq!(writes.len(), 3);
    for (sql, outcome) in writes {
        assert_eq!(outcome, "25006", "{sql} was not refused as a write");
    }
    assert!(!forbidden.exists(), "COPY TO wrote a file on the server");
    let per_source: BTreeMap<String, u64> = got["per_source"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    assert_eq!(
        per_source, expected,
        "psycopg over TLS, after the refused writes"
    );
}
