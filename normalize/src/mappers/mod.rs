//! One mapper per source format. Each is a pure function from one record's
//! bytes (+ [`SourceMeta`]) to an [`Event`] without lineage; the caller
//! stamps lineage the same way for all of them.

use auditfed_schemas::ocsf::Event;
use auditfed_schemas::{SourceMeta, SourceType};

use crate::error::ErrorKind;

mod aws_cloudtrail;
mod azure_activity;
mod endpoint;
mod entra_audit;
mod entra_signin;
mod gcp_audit;
mod github_audit;
mod k8s_audit;
mod okta;
mod syslog;

/// The version of a source's mapper, recorded in every event's
/// `metadata.transformation_info_list`. Bumped whenever the mapper's output
/// for some input changes, so an auditor can tell which mapping produced an
/// archived event.
pub fn mapper_version(source: SourceType) -> u32 {
    match source {
        SourceType::AwsCloudtrail => aws_cloudtrail::VERSION,
        SourceType::GcpAudit => gcp_audit::VERSION,
        SourceType::AzureActivity => azure_activity::VERSION,
        SourceType::EntraSignin => entra_signin::VERSION,
        SourceType::EntraAudit => entra_audit::VERSION,
        SourceType::K8sAudit => k8s_audit::VERSION,
        SourceType::Okta => okta::VERSION,
        SourceType::GithubAudit => github_audit::VERSION,
        SourceType::Syslog => syslog::VERSION,
    }
}

pub(crate) fn map(
    source: SourceType,
    record: &[u8],
    meta: &SourceMeta,
) -> Result<Event, ErrorKind> {
    match source {
        SourceType::AwsCloudtrail => aws_cloudtrail::map(record),
        SourceType::GcpAudit => gcp_audit::map(record),
        SourceType::AzureActivity => azure_activity::map(record),
        SourceType::EntraSignin => entra_signin::map(record),
        SourceType::EntraAudit => entra_audit::map(record),
        SourceType::K8sAudit => k8s_audit::map(record),
        SourceType::Okta => okta::map(record),
        SourceType::GithubAudit => github_audit::map(record),
        SourceType::Syslog => syslog::map(record, meta),
    }
}
