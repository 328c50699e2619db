//! End-to-end tests of the `auditfed` binary's normalize and schema commands.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn auditfed() -> Command {
    Command::new(env!("CARGO_BIN_EXE_auditfed"))
}

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("normalize/tests/fixtures")
        .join(rel)
}

fn run_with_stdin(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    let mut child = auditfed()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn normalize_prints_one_ocsf_event_per_line() {
    let out = auditfed()
        .args(["normalize", "--source", "aws_cloudtrail"])
        .arg(fixture("aws_cloudtrail/otel-contrib__cloudtrail_log.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 7);
    assert!(lines.iter().all(|e| e["metadata"]["version"] == "1.8.0"));
    assert!(
        lines.iter().any(|e| e["class_uid"] == 3002),
        "the ConsoleLogin is an Authentication"
    );
}

#[test]
fn bad_records_go_to_stderr_with_exit_2_and_good_ones_are_still_printed() {
    let input = b"{\"eventVersion\":\"1.08\",\"eventTime\":\"2024-01-01T00:00:00Z\",\"eventSource\":\"s3.amazonaws.com\",\"eventName\":\"GetObject\",\"eventID\":\"a\",\"sourceIPAddress\":\"192.0.2.1\",\"userIdentity\":{\"type\":\"IAMUser\",\"userName\":\"bob\"}}\n{not json\n{\"eventVersion\":\"1.08\",\"eventTime\":\"yesterday\",\"eventSource\":\"s3.amazonaws.com\",\"eventName\":\"GetObject\"}\n";
    let (code, stdout, stderr) =
        run_with_stdin(&["normalize", "--source", "aws_cloudtrail", "-"], input);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stderr.contains("aws_cloudtrail: line 2") && stderr.contains("invalid JSON"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 3") && stderr.contains("`eventTime`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 record(s) could not be normalized"),
        "{stderr}"
    );
}

#[test]
fn auto_detects_each_record_and_reads_gzip() {
    let raw = std::fs::read(fixture(
        "k8s_audit/falco__create_configmap_sensitive_values.json",
    ))
    .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).unwrap();
    let (code, stdout, stderr) = run_with_stdin(&["normalize"], &gz.finish().unwrap());
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 6);
    assert!(stdout.contains("\"source_type\":\"k8s_audit\""));
}

#[test]
fn unknown_source_and_missing_file_are_clear_errors() {
    let out = auditfed()
        .args(["normalize", "--source", "cloudtrail", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown source type `cloudtrail`") && err.contains("aws_cloudtrail"),
        "{err}"
    );
    let out = auditfed()
        .args(["normalize", "/nonexistent/file.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/file.json: No such file"));
}

#[test]
fn digest_files_are_set_aside_not_emitted() {
    let out = auditfed()
        .arg("normalize")
        .arg(fixture(
            "aws_cloudtrail/otel-contrib__cloudtrail_digest.json",
        ))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CloudTrail digest file"));
}

#[test]
fn schema_lists_sources_classes_and_archive_columns() {
    let out = auditfed().args(["schema", "--json"]).output().unwrap();
    assert!(out.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["sources"].as_array().unwrap().len(), 9);
    assert_eq!(doc["ocsf_version"], "1.8.0");
    let uids: Vec<i64> = doc["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["class_uid"].as_i64().unwrap())
        .collect();
    assert_eq!(uids, vec![0, 3001, 3002, 3004, 3005, 3006, 6003]);
    let cols: Vec<&str> = doc["archive"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for needed in [
        "time",
        "class_uid",
        "event_json",
        "raw_record",
        "chain_id",
        "seq",
        "leaf_hash",
        "chain_hash",
    ] {
        assert!(cols.contains(&needed), "{needed} missing from {cols:?}");
    }
    let text = auditfed().arg("schema").output().unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("source=…/date=…"));
}

#[test]
fn keygen_writes_a_private_key_0600_and_appends_to_the_keyring() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("auditfed-keygen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = auditfed()
        .args(["keygen", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("key id "), "{stdout}");
    let mode = std::fs::metadata(dir.join("auditfed.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let pem = std::fs::read_to_string(dir.join("auditfed.key")).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    // A second key under another name joins the same keyring; the same name is refused.
    assert!(
        auditfed()
            .args(["keygen", "--name", "second", "--out"])
            .arg(&dir)
            .output()
            .unwrap()
            .status
            .success()
    );
    let again = auditfed()
        .args(["keygen", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("never overwritten"));
    let keyring = std::fs::read_to_string(dir.join("keyring")).unwrap();
    let ring = auditfed_schemas::seal::Keyring::parse(&keyring).unwrap();
    assert_eq!(ring.keys().len(), 2);
    let id = stdout.split_whitespace().nth(2).unwrap();
    assert_eq!(ring.keys()[0].id().to_string(), id);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_example_config_validates_as_is_once_keys_exist() {
    let dir = std::env::temp_dir().join(format!("auditfed-validate-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/auditfed.toml");
    // Without keys: one problem, naming the key and the command that fixes it.
    let out = auditfed()
        .current_dir(&dir)
        .args(["validate", "--config"])
        .arg(&example)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("`keys.signing_key`")
            && stdout.contains("auditfed keygen --out ./auditfed-data/keys"),
        "{stdout}"
    );
    // As the example's header says: keygen, then it is valid from this working directory.
    let keygen = auditfed()
        .current_dir(&dir)
        .args(["keygen", "--out", "./auditfed-data/keys"])
        .output()
        .unwrap();
    assert!(keygen.status.success());
    let out = auditfed()
        .current_dir(&dir)
        .args(["validate", "--config"])
        .arg(&example)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Its sink examples, uncommented, are valid too (one Sentinel credential).
    let text = std::fs::read_to_string(&example).unwrap();
    // Its collector, sink and report examples, uncommented, are valid too.
    let mut uncommented = String::new();
    let mut in_block = false;
    let mut in_collectors = false;
    for line in text.lines() {
        if line.starts_with("# SIEM sinks") || line.starts_with("# Collectors (") {
            in_block = true;
        }
        if line.starts_with("# Collectors (") {
            in_collectors = true;
        } else if in_collectors && line.is_empty() {
            // The collectors' block ends at the first blank line.
            in_collectors = false;
            in_block = false;
        }
        let stripped = line.strip_prefix("# ").unwrap_or(line);
        let key = stripped.split(" = ").next().unwrap_or("");
        let setting = stripped.contains(" = ")
            && !key.is_empty()
            && key.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        let section = stripped.starts_with("[sinks")
            || stripped.starts_with("[collectors")
            || stripped.starts_with("[reports");
        if !in_block || !line.starts_with('#') {
            uncommented += line;
        } else if section
            || setting
                // Files that do not exist here: checked by the collectors' own tests.
                && ![
                    "federated_token_file",
                    "tls",
                    "tls_cert",
                    "tls_key",
                    "client_ca",
                    "cloudtrail_public_keys",
                ]
                .contains(&key)
        {
            uncommented += stripped;
        }
        uncommented += "\n";
    }
    let with_sinks = dir.join("with-sinks.toml");
    std::fs::write(&with_sinks, &uncommented).unwrap();
    // The credentials the uncommented blocks name as ${VARIABLES}.
    let validate = |config: &Path| {
        auditfed()
            .current_dir(&dir)
            .args(["validate", "--config"])
            .arg(config)
            .envs([
                ("SPLUNK_HEC_TOKEN", "t"),
                ("AZURE_TENANT_ID", "t"),
                ("AZURE_CLIENT_ID", "c"),
                ("AZURE_CLIENT_SECRET", "s"),
                (
                    "EVENTHUB_CONNECTION_STRING",
                    "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=v",
                ),
                ("AUDIT_WEBHOOK_TOKEN", "t"),
                ("OKTA_API_TOKEN", "t"),
                ("GITHUB_AUDIT_TOKEN", "t"),
                ("AZURE_STORAGE_ACCOUNT_NAME", "auditlogs"),
                ("AZURE_STORAGE_ACCOUNT_KEY", "a2V5"),
                ("SMTP_PASSWORD", "p"),
                ("WEBHOOK_TOKEN", "t"),
            ])
            .output()
            .unwrap()
    };
    let out = validate(&with_sinks);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    for table in [
        "[collectors.auth_log]",
        "[collectors.syslog]",
        "[collectors.cloudtrail]",
        "[collectors.gcp_audit]",
        "[collectors.azure_activity]",
        "[collectors.entra_signins]",
        "[collectors.k8s_audit]",
        "[collectors.okta]",
        "[collectors.github]",
        "[sinks.splunk]",
        "[sinks.sentinel.auth]",
        "[reports.pci-daily]",
        "[reports.pci-daily.email]",
        "[reports.pci-daily.webhook]",
    ] {
        assert!(
            uncommented.contains(table),
            "{table} not in the uncommented example"
        );
    }
    // ... and really checked: a misspelt key is named.
    let broken = dir.join("broken.toml");
    std::fs::write(&broken, uncommented.replace("\nudp = ", "\nudpp = ")).unwrap();
    let out = validate(&broken);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("collectors.syslog.udpp"), "{stdout}");
}

#[test]
fn validate_lists_every_problem_with_file_and_key() {
    let dir = std::env::temp_dir().join(format!("auditfed-validate-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("bad.toml");
    std::fs::write(
        &config,
        r#"
[kafka]
bootstrap = "${AUDITFED_TEST_UNSET_VARIABLE}"
partitons = 6
[kafka.properties]
"no.such.librdkafka.property" = "x"
[normalize]
sources = ["cloudtrail"]
batch_max_ms = 0
"#,
    )
    .unwrap();
    let out = auditfed()
        .args(["validate", "--config"])
        .arg(&config)
        .env_remove("AUDITFED_TEST_UNSET_VARIABLE")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    for expected in [
        "`kafka.bootstrap`: environment variable `AUDITFED_TEST_UNSET_VARIABLE` is not set",
        "`kafka.partitons`: unknown key",
        "`normalize.sources[0]`: unknown variant `cloudtrail`",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("{}: ", config.display())) && l.contains(expected)),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    // Values are checked per section: batch_max_ms is reported with the others
    // once the section's types are right.
    std::fs::write(&config, "[normalize]\nbatch_max_ms = 0\n[kafka.properties]\n\"no.such.librdkafka.property\" = \"x\"\n").unwrap();
    let out = auditfed()
        .args(["validate", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("`normalize.batch_max_ms`: expected a number greater than 0"),
        "{stdout}"
    );
    // librdkafka's own checks, one problem per property.
    std::fs::write(
        &config,
        "[kafka.properties]\n\"no.such.property\" = \"x\"\n\"socket.timeout.ms\" = \"abc\"\n",
    )
    .unwrap();
    let out = auditfed()
        .args(["validate", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains("`kafka.properties.\"no.such.property\"`: ")
            && stdout.contains("No such configuration property"),
        "{stdout}"
    );
    assert!(
        stdout.contains("`kafka.properties.\"socket.timeout.ms\"`: ")
            && stdout.contains("Invalid value"),
        "{stdout}"
    );
}

#[test]
fn policy_packs_run_their_cases_explain_a_decision_and_fail_at_validate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let examples = root.join("examples/policies");
    let out = auditfed()
        .args(["policy", "test"])
        .arg(&examples)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("3 passed, 0 failed"), "{stdout}");

    // A case whose expectation the pack does not meet: named, exit 1.
    let dir = std::env::temp_dir().join(format!("auditfed-policy-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pack = std::fs::read_to_string(examples.join("corp-egress.toml"))
        .unwrap()
        .replace(
            "expect = { egress = \"withhold\", egress_rule = \"eu-data-stays-in-eu\" }",
            "expect = { egress = \"send\" }",
        );
    std::fs::write(dir.join("corp.toml"), pack).unwrap();
    let out = auditfed()
        .args(["policy", "test"])
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAILED  corp@2026-12-01: an EU API call does not reach a SIEM")
            && stdout.contains("expected send, got withhold"),
        "{stdout}"
    );

    // explain: every rule, the one that decided.
    let event = dir.join("event.json");
    std::fs::write(
        &event,
        r#"{"class_uid":6003,"metadata":{"uid":"e-1"},"cloud":{"region":"eu-north-1"},"raw_data":"x"}"#,
    )
    .unwrap();
    let out = auditfed()
        .args(["policy", "explain", "--target", "sink:splunk", "--pack"])
        .arg(&examples)
        .arg("--event")
        .arg(&event)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("applies  corp-egress/eu-data-stays-in-eu@2026-12-01 [withhold] withheld from sink:splunk"),
        "{stdout}"
    );
    assert!(
        stdout.contains("pseudonymous-soc@2026-12-01 [redact] not applied: not about sink:splunk"),
        "{stdout}"
    );

    // validate: a pack's problems with their keys.
    let config = dir.join("auditfed.toml");
    std::fs::write(
        &config,
        "[kafka]\nbootstrap = \"embedded\"\n[policies.eu]\nversion = \"1\"\n[[policies.eu.rule]]\nid = \"r\"\naction = \"route\"\nmatch = { region = [\"eu-*\"] }\n",
    )
    .unwrap();
    let out = auditfed()
        .args(["validate", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("`policies.eu.rule[0].match.region`: unknown column"),
        "{stdout}"
    );
    assert!(
        stdout.contains("`policies.eu.rule[0].archives`: a route rule needs"),
        "{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
