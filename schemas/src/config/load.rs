//! Loading a config file: `${ENV}` interpolation, each section deserialized
//! on its own with unknown keys collected, value checks, every problem with
//! its key path.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::*;

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path (`kafka.partitions`), empty for the file as a whole.
    pub key: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "`{}`: {}", self.key, self.message)
        }
    }
}

fn problem(key: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem::new(key, message)
}

impl Problem {
    /// A problem at the dotted key path `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl Config {
    /// Reads and parses a config file, with `${NAME}` from the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_owned(),
            problems: vec![problem("", format!("cannot read the file: {e}"))],
        })?;
        Config::parse(&text, |name| std::env::var(name).ok()).map_err(|problems| ConfigError {
            file: path.to_owned(),
            problems,
        })
    }

    /// Parses config text; `env` looks up `${NAME}`. Returns every problem found.
    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Config, Vec<Problem>> {
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            vec![problem(
                "",
                format!("not valid TOML: {}", e.to_string().trim_end()),
            )]
        })?;
        let mut problems = Vec::new();
        for (key, value) in table.iter_mut() {
            interpolate(key, value, &env, &mut problems);
        }
        // Each section on its own, so one bad section does not hide the others' problems.
        let mut config = Config::default();
        for (section, value) in table {
            let result = match section.as_str() {
                "kafka" => section_into(&section, value, &mut config.kafka),
                "keys" => section_into(&section, value, &mut config.keys),
                "normalize" => section_into(&section, value, &mut config.normalize),
                "ingest" => section_into(&section, value, &mut config.ingest),
                "archive" => section_into(&section, value, &mut config.archive),
                "sql" => section_into(&section, value, &mut config.sql),
                "sinks" => section_into(&section, value, &mut config.sinks),
                "collectors" => section_into(&section, value, &mut config.collectors),
                "reports" => section_into(&section, value, &mut config.reports),
                "policies" => section_into(&section, value, &mut config.policies),
                _ => Err(vec![problem(
                    section.clone(),
                    "unknown section (expected kafka, keys, normalize, ingest, collectors, archive, sql, sinks, reports or policies)",
                )]),
            };
            if let Err(p) = result {
                problems.extend(p);
            }
        }
        problems.extend(config.check());
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }

    /// Value checks that types alone do not express.
    fn check(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        let k = &self.kafka;
        if k.bootstrap.trim().is_empty() {
            problems.push(problem(
                "kafka.bootstrap",
                "empty: expected host:port[,host:port...] or \"embedded\"",
            ));
        }
        if k.topic_prefix.is_empty()
            || !k
                .topic_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            problems.push(problem(
                "kafka.topic_prefix",
                format!(
                    "{:?}: expected letters, digits, '.', '_' or '-' (Kafka topic name characters)",
                    k.topic_prefix
                ),
            ));
        }
        if k.partitions < 1 {
            problems.push(problem("kafka.partitions", "expected 1 or more"));
        }
        if k.replication_factor < 1 {
            problems.push(problem("kafka.replication_factor", "expected 1 or more"));
        }
        for key in k.properties.keys() {
            if key == "bootstrap.servers" {
                problems.push(problem(
                    format!("kafka.properties.\"{key}\""),
                    "set kafka.bootstrap instead",
                ));
            }
        }
        let n = &self.normalize;
        for (key, value) in [
            ("normalize.batch_max_records", n.batch_max_records as u64),
            ("normalize.batch_max_ms", n.batch_max_ms),
            ("normalize.batch_max_bytes", n.batch_max_bytes as u64),
            (
                "normalize.checkpoint_every_events",
                n.checkpoint_every_events,
            ),
            ("normalize.checkpoint_every_secs", n.checkpoint_every_secs),
            ("normalize.heartbeat_every_secs", n.heartbeat_every_secs),
            ("normalize.transaction_timeout_ms", n.transaction_timeout_ms),
        ] {
            if value == 0 {
                problems.push(problem(key, "expected a number greater than 0"));
            }
        }
        if n.group_id.as_deref() == Some("") {
            problems.push(problem("normalize.group_id", "empty"));
        }
        if self.archive.file_max_rows == 0 {
            problems.push(problem(
                "archive.file_max_rows",
                "expected a number greater than 0",
            ));
        }
        if self.keys.signing_key_name().is_empty() {
            problems.push(problem("keys.signing_key", "expected a file path"));
        }
        problems.extend(self.sql.check());
        problems
    }

    /// The topic names of this config.
    pub fn topics(&self) -> Topics {
        Topics::new(&self.kafka.topic_prefix)
    }
}

fn section_into<T: for<'de> Deserialize<'de>>(
    section: &str,
    value: toml::Value,
    out: &mut T,
) -> Result<(), Vec<Problem>> {
    *out = from_toml(section, value)?;
    Ok(())
}

/// Deserializes the table at `key` (a dotted path such as `sinks.splunk`)
/// into `T`: every unknown key and the first type error, each reported with
/// its full key path. Crates with their own config tables (the sinks) use
/// it so their problems read like the rest of the file's.
pub fn from_toml<T: for<'de> Deserialize<'de>>(
    key: &str,
    value: toml::Value,
) -> Result<T, Vec<Problem>> {
    let mut unknown = Vec::new();
    let result: Result<T, _> = serde_path_to_error::deserialize(serde_ignored::Deserializer::new(
        value,
        &mut |path: serde_ignored::Path<'_>| {
            unknown.push(problem(
                format!("{key}.{path}"),
                "unknown key (see examples/auditfed.toml for the keys of this section)",
            ));
        },
    ));
    match result {
        Ok(v) if unknown.is_empty() => Ok(v),
        Ok(_) => Err(unknown),
        Err(e) => {
            let mut problems = unknown;
            let at = match e.path().to_string().as_str() {
                "." => key.to_owned(),
                path => format!("{key}.{path}"),
            };
            problems.push(problem(
                at,
                e.into_inner().to_string().trim_end().to_owned(),
            ));
            Err(problems)
        }
    }
}

/// The `[<section>.<name>]` tables (`[sinks.*]`, `[collectors.*]`), each
/// typed by its `type` key: `parse(key, type, rest of the table)` returns
/// the typed value, its problems, or `None` for a type it does not know.
/// `types` lists the known ones for the messages ("\"a\" or \"b\""), `noun`
/// names an item ("sink"). Every problem of every table is returned, each
/// with its key.
pub fn parse_typed_tables<T>(
    section: &str,
    noun: &str,
    types: &str,
    tables: &std::collections::BTreeMap<String, toml::Value>,
    mut parse: impl FnMut(&str, &str, toml::Value) -> Option<Result<T, Vec<Problem>>>,
) -> Result<Vec<(String, T)>, Vec<Problem>> {
    let mut parsed = Vec::new();
    let mut problems = Vec::new();
    for (name, value) in tables {
        let key = format!("{section}.{name}");
        let Some(table) = value.as_table() else {
            problems.push(problem(
                &key,
                format!("expected a table ([{section}.NAME])"),
            ));
            continue;
        };
        let mut table = table.clone();
        let kind = match table.remove("type") {
            Some(toml::Value::String(kind)) => kind,
            _ => {
                problems.push(problem(
                    format!("{key}.type"),
                    format!("missing: expected type = {types}"),
                ));
                continue;
            }
        };
        match parse(&key, &kind, toml::Value::Table(table)) {
            Some(Ok(item)) => parsed.push((name.clone(), item)),
            Some(Err(p)) => problems.extend(p),
            None => problems.push(problem(
                format!("{key}.type"),
                format!("unknown {noun} type {kind:?} (expected {types})"),
            )),
        }
    }
    if problems.is_empty() {
        Ok(parsed)
    } else {
        Err(problems)
    }
}

/// Replaces `${NAME}` in every string of `value` (at `path`) from the
/// process environment; problems name the key.
pub fn interpolate_env(path: &str, value: &mut toml::Value, problems: &mut Vec<Problem>) {
    interpolate(
        path,
        value,
        &|name: &str| std::env::var(name).ok(),
        problems,
    );
}

/// Replaces `${NAME}` in every string; `$${` is a literal `${`.
fn interpolate(
    path: &str,
    value: &mut toml::Value,
    env: &impl Fn(&str) -> Option<String>,
    problems: &mut Vec<Problem>,
) {
    match value {
        toml::Value::String(s) if s.contains("${") => {
            let mut out = String::with_capacity(s.len());
            let mut rest = s.as_str();
            while let Some(i) = rest.find("${") {
                if i > 0 && rest.as_bytes()[i - 1] == b'$' {
                    out.push_str(&rest[..i - 1]);
                    out.push_str("${");
                    rest = &rest[i + 2..];
                    continue;
                }
                out.push_str(&rest[..i]);
                let Some(end) = rest[i..].find('}') else {
                    problems.push(problem(path, "`${` without a closing `}`"));
                    return;
                };
                let name = &rest[i + 2..i + end];
                match env(name) {
                    Some(v) => out.push_str(&v),
                    None => problems.push(problem(
                        path,
                        format!("environment variable `{name}` is not set"),
                    )),
                }
                rest = &rest[i + end + 1..];
            }
            out.push_str(rest);
            *s = out;
        }
        toml::Value::Table(t) => {
            for (k, v) in t.iter_mut() {
                interpolate(&format!("{path}.{k}"), v, env, problems);
            }
        }
        toml::Value::Array(a) => {
            for (i, v) in a.iter_mut().enumerate() {
                interpolate(&format!("{path}[{i}]"), v, env, problems);
            }
        }
        _ => {}
    }
}

/// A config file that cannot be used: which file and every problem in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// What is wrong, each with its key.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} problem(s) in the configuration",
            self.file.display(),
            self.problems.len()
        )?;
        for p in &self.problems {
            write!(f, "\n  {}: {p}", self.file.display())?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl SqlConfig {
    fn check(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        for (name, location) in &self.archives {
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
            let key = if valid {
                format!("sql.archives.{name}")
            } else {
                format!("sql.archives.\"{name}\"")
            };
            if !valid {
                problems.push(problem(
                    key.clone(),
                    "expected a name of letters, digits, '_' or '-' (it becomes the `archive` column)",
                ));
            }
            if location.trim().is_empty() {
                problems.push(problem(
                    key,
                    "empty: expected a directory or an s3://, gs://, az:// URL",
                ));
            }
        }
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            problems.push(problem(
                "sql.listen",
                format!(
                    "{:?}: expected an address such as \"127.0.0.1:5433\"",
                    self.listen
                ),
            ));
        }
        if self.password.as_deref() == Some("") {
            problems.push(problem(
                "sql.password",
                "empty (is its ${ENV} variable set?)",
            ));
        }
        if self.user.is_some() != self.password.is_some() {
            problems.push(problem(
                "sql.user",
                "give sql.user and sql.password together",
            ));
        }
        if self.allow_anonymous && self.user.is_some() {
            problems.push(problem(
                "sql.allow_anonymous",
                "cannot be combined with sql.user/sql.password",
            ));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            problems.push(problem(
                "sql.tls_cert",
                "give sql.tls_cert and sql.tls_key together",
            ));
        }
        problems
    }
}
