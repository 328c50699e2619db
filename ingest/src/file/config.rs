//! `[collectors.<name>]` with `type = "file"`.

use serde::Deserialize;

use auditfed_schemas::config::Problem;

/// Local files read and followed as they grow, one record per line,
/// across rotations (rename or copy-truncate).
///
/// ```toml
/// [collectors.auth_log]
/// type = "file"
/// source = "syslog"
/// paths = ["/var/log/auth.log", "/var/log/audit/*.log"]
/// start_at = "beginning"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The source type of the records (`auditfed schema` lists them).
    pub source: String,
    /// Files to follow; `*` and `?` may appear in the file name (not in
    /// directories). A file that appears later is picked up.
    pub paths: Vec<String>,
    /// Where to start a file seen for the first time: `beginning` or `end`.
    #[serde(default)]
    pub start_at: StartAt,
    /// How often to look for new lines and files (ms).
    #[serde(default = "default_poll_ms")]
    pub poll_ms: u64,
    /// Records per Kafka transaction, at most.
    #[serde(default = "default_batch")]
    pub batch_records: usize,
}

/// Where a new file is read from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    /// Its first byte.
    #[default]
    Beginning,
    /// Its end: only lines written from now on.
    End,
}

fn default_poll_ms() -> u64 {
    250
}
fn default_batch() -> usize {
    2_000
}

impl FileConfig {
    /// Value checks; `key` is `collectors.<name>`.
    pub fn check(&self, key: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        if self.source.parse::<auditfed_schemas::SourceType>().is_err() {
            problems.push(Problem::new(
                format!("{key}.source"),
                format!(
                    "{:?}: unknown source type (see `auditfed schema`)",
                    self.source
                ),
            ));
        }
        if self.paths.is_empty() {
            problems.push(Problem::new(
                format!("{key}.paths"),
                "empty: expected at least one file",
            ));
        }
        for path in &self.paths {
            let dir = std::path::Path::new(path)
                .parent()
                .map(|d| d.to_string_lossy().into_owned());
            if dir.is_some_and(|d| d.contains('*') || d.contains('?')) {
                problems.push(Problem::new(
                    format!("{key}.paths"),
                    format!("{path:?}: wildcards only in the file name"),
                ));
            }
        }
        if self.poll_ms == 0 || self.batch_records == 0 {
            problems.push(Problem::new(
                key,
                "poll_ms and batch_records must be greater than 0",
            ));
        }
        problems
    }
}
