//! Source types and where a record came from.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A source log format auditfed can normalize.
///
/// The string form (`aws_cloudtrail`, `gcp_audit`, ...) is what users type
/// (`--source`), what names raw topics (`auditfed.raw.<source>`) and what
/// the archive partitions by (`source=<source>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceType {
    /// AWS CloudTrail log files, single records, JSON lines.
    AwsCloudtrail,
    /// GCP Cloud Audit Logs `LogEntry` with an `AuditLog` protoPayload.
    GcpAudit,
    /// Azure Activity Log, diagnostic-settings export shape.
    AzureActivity,
    /// Microsoft Entra ID sign-in logs, diagnostic-settings export shape.
    EntraSignin,
    /// Microsoft Entra ID audit logs, diagnostic-settings export shape.
    EntraAudit,
    /// Kubernetes `audit.k8s.io` Event / EventList.
    K8sAudit,
    /// Okta System Log events.
    Okta,
    /// GitHub audit log events.
    GithubAudit,
    /// Syslog (RFC 5424, RFC 3164) and Linux auditd lines.
    Syslog,
}

impl SourceType {
    /// Every source type, in a stable order.
    pub const ALL: [SourceType; 9] = [
        SourceType::AwsCloudtrail,
        SourceType::GcpAudit,
        SourceType::AzureActivity,
        SourceType::EntraSignin,
        SourceType::EntraAudit,
        SourceType::K8sAudit,
        SourceType::Okta,
        SourceType::GithubAudit,
        SourceType::Syslog,
    ];

    /// The name users type and topics/partitions use.
    pub const fn as_str(self) -> &'static str {
        match self {
            SourceType::AwsCloudtrail => "aws_cloudtrail",
            SourceType::GcpAudit => "gcp_audit",
            SourceType::AzureActivity => "azure_activity",
            SourceType::EntraSignin => "entra_signin",
            SourceType::EntraAudit => "entra_audit",
            SourceType::K8sAudit => "k8s_audit",
            SourceType::Okta => "okta",
            SourceType::GithubAudit => "github_audit",
            SourceType::Syslog => "syslog",
        }
    }

    /// One line saying what the source is.
    pub const fn description(self) -> &'static str {
        match self {
            SourceType::AwsCloudtrail => {
                "AWS CloudTrail ({\"Records\":[…]} files, single records, JSON lines)"
            }
            SourceType::GcpAudit => "GCP Cloud Audit Logs (LogEntry with AuditLog protoPayload)",
            SourceType::AzureActivity => "Azure Activity Log (diagnostic settings export)",
            SourceType::EntraSignin => {
                "Microsoft Entra ID sign-in logs (diagnostic settings export)"
            }
            SourceType::EntraAudit => "Microsoft Entra ID audit logs (diagnostic settings export)",
            SourceType::K8sAudit => "Kubernetes audit.k8s.io Event / EventList",
            SourceType::Okta => "Okta System Log API events",
            SourceType::GithubAudit => "GitHub enterprise/organization audit log events",
            SourceType::Syslog => "syslog RFC 5424 / RFC 3164 and Linux auditd lines",
        }
    }
}

impl fmt::Display for SourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A source name that auditfed does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown source type `{0}`; expected one of: aws_cloudtrail, gcp_audit, azure_activity, entra_signin, entra_audit, k8s_audit, okta, github_audit, syslog"
)]
pub struct UnknownSourceType(pub String);

impl FromStr for SourceType {
    type Err = UnknownSourceType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SourceType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownSourceType(s.to_owned()))
    }
}

/// Where one raw record came from: carried into the event's lineage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceMeta {
    /// The object the record was read from: a file path, `s3://bucket/key`,
    /// `kafka://topic/partition/offset`, a host.
    pub object: Option<String>,
    /// Id of the collector that received the record.
    pub collector_id: Option<String>,
    /// When auditfed received the record, epoch milliseconds.
    pub received_time: Option<i64>,
    /// The year to assume for timestamps that carry none (RFC 3164 syslog);
    /// defaults to the year of `received_time`, else of the event's file.
    pub assumed_year: Option<i32>,
    /// The source's own integrity verdict on the record's file, where the
    /// source offers one (CloudTrail digests): `verified`, `failed` or
    /// `unavailable`.
    pub upstream_integrity: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_names_round_trip() {
        for t in SourceType::ALL {
            assert_eq!(t.as_str().parse::<SourceType>(), Ok(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        let err = "cloudtrail".parse::<SourceType>().unwrap_err();
        assert!(err.to_string().contains("expected one of"), "{err}");
    }
}
