//! `--source auto`: telling the source format from a record's content.
//!
//! Detection looks only at field names and fixed values that each source
//! documents, never at free text, and refuses to guess when nothing matches.

use auditfed_schemas::SourceType;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::ErrorKind;

/// Whether an input is text (syslog/auditd) rather than JSON.
pub fn looks_like_text(input: &[u8]) -> bool {
    let first = input
        .iter()
        .position(|b| !b.is_ascii_whitespace() && *b != 0xEF && *b != 0xBB && *b != 0xBF)
        .map(|i| input[i]);
    !matches!(first, Some(b'{' | b'[') | None)
}

/// Top-level fields that identify a source. Borrowed, so detection costs one
/// scan of the record and no allocation.
#[derive(Deserialize, Default)]
#[serde(default)]
#[allow(non_snake_case)]
struct Probe<'a> {
    eventVersion: Option<&'a RawValue>,
    eventSource: Option<&'a RawValue>,
    eventName: Option<&'a RawValue>,
    eventID: Option<&'a RawValue>,
    protoPayload: Option<&'a RawValue>,
    logName: Option<&'a str>,
    specversion: Option<&'a RawValue>,
    data: Option<&'a RawValue>,
    apiVersion: Option<&'a str>,
    kind: Option<&'a str>,
    insertId: Option<&'a RawValue>,
    auditID: Option<&'a RawValue>,
    category: Option<&'a str>,
    operationName: Option<&'a RawValue>,
    resourceId: Option<&'a RawValue>,
    eventType: Option<&'a RawValue>,
    uuid: Option<&'a RawValue>,
    published: Option<&'a RawValue>,
    legacyEventType: Option<&'a RawValue>,
    action: Option<&'a RawValue>,
    _document_id: Option<&'a RawValue>,
    #[serde(rename = "@timestamp")]
    at_timestamp: Option<&'a RawValue>,
    createdDateTime: Option<&'a RawValue>,
    appDisplayName: Option<&'a RawValue>,
    activityDisplayName: Option<&'a RawValue>,
    loggedByService: Option<&'a RawValue>,
}

/// Detects the source of one JSON record or text message.
pub fn detect(record: &[u8]) -> Result<SourceType, ErrorKind> {
    if looks_like_text(record) {
        return Ok(SourceType::Syslog);
    }
    let probe: Probe<'_> =
        serde_json::from_slice(record).map_err(|e| ErrorKind::InvalidJson(e.to_string()))?;
    // CloudTrail Insights records have no eventSource/eventName, but an eventType.
    if probe.eventVersion.is_some()
        && (probe.eventSource.is_some() && probe.eventName.is_some()
            || probe.eventType.is_some() && probe.eventID.is_some())
    {
        return Ok(SourceType::AwsCloudtrail);
    }
    if probe.protoPayload.is_some()
        || probe.logName.is_some_and(|l| l.contains("cloudaudit.googleapis.com"))
        // A LogEntry of another log: the GCP mapper names why it is not an audit event.
        || (probe.logName.is_some_and(|l| l.contains("/logs/")) && probe.insertId.is_some())
        || (probe.specversion.is_some() && probe.data.is_some_and(|d| d.get().contains("\"protoPayload\"")))
    {
        return Ok(SourceType::GcpAudit);
    }
    if probe.auditID.is_some()
        && (probe
            .apiVersion
            .is_some_and(|v| v.starts_with("audit.k8s.io/"))
            || probe.kind == Some("Event"))
    {
        return Ok(SourceType::K8sAudit);
    }
    if let (Some(category), Some(_)) = (probe.category, probe.operationName) {
        return Ok(match category {
            "SignInLogs"
            | "NonInteractiveUserSignInLogs"
            | "ServicePrincipalSignInLogs"
            | "ManagedIdentitySignInLogs"
            | "ADFSSignInLogs" => SourceType::EntraSignin,
            "AuditLogs" => SourceType::EntraAudit,
            _ => SourceType::AzureActivity,
        });
    }
    if probe.createdDateTime.is_some() && probe.appDisplayName.is_some() {
        return Ok(SourceType::EntraSignin);
    }
    if probe.activityDisplayName.is_some() && probe.loggedByService.is_some() {
        return Ok(SourceType::EntraAudit);
    }
    if probe.uuid.is_some() && probe.published.is_some() && probe.eventType.is_some() {
        return Ok(SourceType::Okta);
    }
    if probe.action.is_some() && (probe._document_id.is_some() || probe.at_timestamp.is_some()) {
        return Ok(SourceType::GithubAudit);
    }
    if probe.resourceId.is_some() && probe.operationName.is_some() {
        return Ok(SourceType::AzureActivity);
    }
    let _ = probe.legacyEventType;
    Err(ErrorKind::UnknownFormat(
        "no field set of CloudTrail, GCP audit, Azure, Entra ID, Kubernetes, Okta or GitHub matched".into(),
    ))
}
