//! `[collectors.<name>]` with `type = "s3"`, `"gcs"` or `"azure_blob"`.

use std::collections::BTreeMap;

use serde::Deserialize;

use auditfed_schemas::config::Problem;

use auditfed_platform::store::StoreUrl;

/// Audit-log objects read from a bucket (container): CloudTrail, Cloud
/// Audit Logs exports, Azure Monitor diagnostic exports, or any JSON /
/// JSON-lines objects, plain or gzip.
///
/// ```toml
/// [collectors.cloudtrail]
/// type = "s3"
/// url = "s3://org-trail/AWSLogs/"
/// source = "cloudtrail"
/// start_date = "2026-11-01"
/// # Discovery by S3 event notifications instead of listing:
/// # sqs_queue_url = "https://sqs.us-east-1.amazonaws.com/123456789012/trail-events"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectsConfig {
    /// `s3://bucket/prefix`, `gs://bucket/prefix` or `az://container/prefix`.
    pub url: String,
    /// The source type of the records (`auditfed schema` lists them).
    pub source: String,
    /// `YYYY-MM-DD`: the first day read when the collector has no cursor
    /// yet (dated layouts start listing there; elsewhere older objects are
    /// skipped). Without it, everything under the prefix is read.
    #[serde(default)]
    pub start_date: Option<String>,
    /// Seconds between listing passes.
    #[serde(default = "default_poll_secs")]
    pub poll_secs: u64,
    /// An object unchanged for this long (seconds) is final: the listing
    /// cursor moves past it. Younger objects are remembered with the bytes
    /// read so far, so appends are read on the next pass.
    #[serde(default = "default_settle_secs")]
    pub settle_secs: u64,
    /// Records per Kafka transaction, about (objects are never split across two).
    #[serde(default = "default_batch")]
    pub batch_records: usize,
    /// `object_store` configuration keys, on top of the environment
    /// (`aws_endpoint`, `aws_region`, `google_service_account`, `azure_storage_account_name`, …).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// S3 only: discover objects from this SQS queue of S3 event
    /// notifications (direct or through SNS) instead of listing.
    #[serde(default)]
    pub sqs_queue_url: Option<String>,
    /// S3 with SQS: how long (hours) an object read stays remembered, so a
    /// notification delivered again (a crash between the Kafka commit and
    /// the message's deletion) is not read twice. Longer than the queue's
    /// visibility timeout.
    #[serde(default = "default_dedupe_hours")]
    pub dedupe_hours: u64,
    /// S3 with CloudTrail: AWS's public keys (the JSON of `aws cloudtrail
    /// list-public-keys`). Each log file is then checked against the signed
    /// digest that lists it, and its records carry the verdict.
    #[serde(default)]
    pub cloudtrail_public_keys: Option<std::path::PathBuf>,
    /// How long (seconds) a log file waits for its digest before it is read
    /// as `unavailable` (CloudTrail delivers an hour's digest about an hour later).
    #[serde(default = "default_digest_wait")]
    pub digest_wait_secs: u64,
}

fn default_digest_wait() -> u64 {
    7_200
}

fn default_poll_secs() -> u64 {
    60
}
fn default_settle_secs() -> u64 {
    600
}
fn default_batch() -> usize {
    5_000
}
fn default_dedupe_hours() -> u64 {
    24
}

/// Which store a collector type reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// `type = "s3"`.
    S3,
    /// `type = "gcs"`.
    Gcs,
    /// `type = "azure_blob"`.
    AzureBlob,
}

impl StoreKind {
    fn scheme(self) -> &'static str {
        match self {
            StoreKind::S3 => "s3",
            StoreKind::Gcs => "gs",
            StoreKind::AzureBlob => "az",
        }
    }
}

impl ObjectsConfig {
    /// Value checks; `key` is `collectors.<name>`.
    pub fn check(&self, key: &str, kind: StoreKind) -> Vec<Problem> {
        let mut problems = Vec::new();
        match StoreUrl::parse(&self.url) {
            Ok(url) if url.scheme != kind.scheme() => problems.push(Problem::new(
                format!("{key}.url"),
                format!(
                    "{:?}: expected a {}:// URL for this collector type",
                    self.url,
                    kind.scheme()
                ),
            )),
            Ok(url) => {
                if let Err(e) = auditfed_platform::store::open_store(&url, &self.options) {
                    problems.push(Problem::new(format!("{key}.options"), e.to_string()));
                }
            }
            Err(e) => problems.push(Problem::new(format!("{key}.url"), e.to_string())),
        }
        if self.source.parse::<auditfed_schemas::SourceType>().is_err() {
            problems.push(Problem::new(
                format!("{key}.source"),
                format!(
                    "{:?}: unknown source type (see `auditfed schema`)",
                    self.source
                ),
            ));
        }
        if let Some(date) = &self.start_date
            && parse_date(date).is_none()
        {
            problems.push(Problem::new(
                format!("{key}.start_date"),
                format!("{date:?}: expected YYYY-MM-DD"),
            ));
        }
        if self.sqs_queue_url.is_some() && kind != StoreKind::S3 {
            problems.push(Problem::new(
                format!("{key}.sqs_queue_url"),
                "only for type = \"s3\"",
            ));
        }
        if let Some(keys) = &self.cloudtrail_public_keys {
            if kind != StoreKind::S3 {
                problems.push(Problem::new(
                    format!("{key}.cloudtrail_public_keys"),
                    "only for type = \"s3\"",
                ));
            } else if let Err(e) =
                crate::s3::digests::Digests::open(keys, std::time::Duration::ZERO)
            {
                problems.push(Problem::new(format!("{key}.cloudtrail_public_keys"), e));
            }
        }
        if let Some(queue) = &self.sqs_queue_url
            && !(queue.starts_with("https://") || queue.starts_with("http://"))
        {
            problems.push(Problem::new(
                format!("{key}.sqs_queue_url"),
                format!("{queue:?}: expected the queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)"),
            ));
        }
        for (field, value) in [
            ("poll_secs", self.poll_secs),
            ("batch_records", self.batch_records as u64),
        ] {
            if value == 0 {
                problems.push(Problem::new(
                    format!("{key}.{field}"),
                    "expected at least 1",
                ));
            }
        }
        problems
    }
}

/// `(year, month, day)` of a `YYYY-MM-DD` date.
pub fn parse_date(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (y, m, d) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    ((1..=12).contains(&m) && (1..=31).contains(&d)).then_some((y, m, d))
}
