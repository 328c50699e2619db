//! Parsing, interpolation and the problems `auditfed validate` lists.

use super::*;

fn env(name: &str) -> Option<String> {
    (name == "SECRET").then(|| "s3cr\"et".to_owned())
}

#[test]
fn defaults_and_interpolation() {
    let c = Config::parse(
        r#"
[kafka]
bootstrap = "broker:9093"
[kafka.properties]
"sasl.password" = "${SECRET}"
"literal" = "$${SECRET}"
"socket.timeout.ms" = 30000
[normalize]
sources = ["okta", "aws_cloudtrail"]
"#,
        env,
    )
    .unwrap();
    assert_eq!(c.kafka.bootstrap, "broker:9093");
    assert_eq!(c.kafka.properties["sasl.password"].to_string(), "s3cr\"et");
    assert_eq!(c.kafka.properties["literal"].to_string(), "${SECRET}");
    assert_eq!(c.kafka.properties["socket.timeout.ms"].to_string(), "30000");
    assert_eq!(
        c.normalize.source_types(),
        vec![SourceType::Okta, SourceType::AwsCloudtrail]
    );
    assert_eq!(c.keys.signing_key_name(), "auditfed");
    assert_eq!(c.topics().chain_state(), "auditfed.chain-state");
}

#[test]
fn every_problem_is_listed_with_its_key() {
    let problems = Config::parse(
        r#"
[kafka]
partitons = 6
replication_factor = 0
[kafka.properties]
"sasl.password" = "${MISSING}"
[normalize]
sources = ["cloudtrail"]
[keys]
signing_key = "k.pem"
colour = "blue"
[archiv]
path = "x"
"#,
        env,
    )
    .unwrap_err();
    let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    for expected in [
        "kafka.partitons",
        "kafka.properties.sasl.password",
        "normalize.sources[0]",
        "keys.colour",
        "archiv",
    ] {
        assert!(
            keys.contains(&expected),
            "{expected} missing in {problems:?}"
        );
    }
    let text = problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(text.contains("MISSING"), "{text}");
    assert!(text.contains("cloudtrail"), "{text}");
}

#[test]
fn value_checks() {
    let problems = Config::parse(
        "[kafka]\nreplication_factor = 0\ntopic_prefix = \"a b\"\n[normalize]\nbatch_max_ms = 0\n",
        env,
    )
    .unwrap_err();
    let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "kafka.topic_prefix",
            "kafka.replication_factor",
            "normalize.batch_max_ms"
        ]
    );
}

#[test]
fn syntax_errors_say_where() {
    let problems = Config::parse("[kafka\n", env).unwrap_err();
    assert!(problems[0].message.contains("line 1"), "{problems:?}");
}

#[test]
fn sql_section_is_checked() {
    let c = Config::parse(
        "[sql]\nuser = \"auditor\"\npassword = \"${SECRET}\"\n[sql.archives]\naws = \"s3://b/p\"\nonprem = \"./a\"\n",
        env,
    )
    .unwrap();
    assert_eq!(c.sql.listen, "127.0.0.1:5433");
    assert_eq!(c.sql.password.as_deref(), Some("s3cr\"et"));
    assert_eq!(
        c.query_archives(),
        vec![
            ("aws".to_owned(), "s3://b/p".to_owned()),
            ("onprem".to_owned(), "./a".to_owned())
        ]
    );
    assert_eq!(
        Config::default().query_archives(),
        vec![("local".to_owned(), "./auditfed-data/archive".to_owned())]
    );

    let problems = Config::parse(
        "[sql]\nlisten = \"localhost\"\nuser = \"a\"\nallow_anonymous = true\ntls_key = \"k.pem\"\n[sql.archives]\n\"bad name\" = \"\"\n",
        env,
    )
    .unwrap_err();
    let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "sql.archives.\"bad name\"",
            "sql.archives.\"bad name\"",
            "sql.listen",
            "sql.user",
            "sql.allow_anonymous",
            "sql.tls_cert"
        ],
        "{problems:?}"
    );
}
