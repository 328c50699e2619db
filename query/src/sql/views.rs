//! The audit views over `events`: one definition for `auditfed sql`, the
//! PostgreSQL server and the report packs.
//!
//! Every view returns the same named columns whatever the source, so that a
//! question is asked once for AWS, GCP, Azure, Kubernetes, Okta, GitHub,
//! Entra ID and Linux hosts. Where a source carries no API call (identity
//! providers, Kubernetes RBAC, Linux audit), `api_operation` is what the
//! source calls the action: its event type (`metadata.event_code`), or for
//! Kubernetes the verb and request path (`message`).

/// The action of an event, for every source (see the module docs).
macro_rules! operation {
    () => {
        "coalesce(nullif(api_operation, ''), CASE WHEN source = 'k8s_audit' \
         THEN json_get(event_json, 'message') ELSE json_get(event_json, 'metadata.event_code') END)"
    };
}

/// The event types of identity providers and SaaS that are not API calls,
/// for views that match on them.
macro_rules! event_code {
    () => {
        "json_get(event_json, 'metadata.event_code')"
    };
}

/// The views over `events` for common audit questions: `(name, doc, SQL)`.
pub const AUDIT_VIEWS: &[(&str, &str, &str)] = &[
    (
        "failed_signins",
        "Failed authentications in every source (OCSF Authentication, status Failure).",
        "SELECT time, archive, source, product_name, actor_user_name, user_name, src_ip, status_code, cloud_provider, cloud_account_uid, event_uid \
         FROM events WHERE class_uid = 3002 AND status_id = 2",
    ),
    (
        "privilege_changes",
        "Grants and revocations of privileges, group membership changes, and changes to policies and roles (api_operation: the API call, or the source's event type).",
        concat!(
            "SELECT time, archive, source, class_name, operation AS api_operation, actor_user_name, user_name, resource_uids, cloud_provider, cloud_account_uid, event_uid \
             FROM (SELECT *, ",
            operation!(),
            " AS operation FROM events WHERE class_uid IN (3004, 3005, 3006)) \
             WHERE class_uid IN (3005, 3006) \
             OR (class_uid = 3004 AND (operation ILIKE '%polic%' OR operation ILIKE '%role%'))"
        ),
    ),
    (
        "audit_logging_disabled",
        "Audit trails stopped, deleted or reconfigured: CloudTrail, GCP log sinks, Azure diagnostic settings, Okta log streams, GitHub audit-log streaming.",
        concat!(
            "SELECT time, archive, source, api_service, ",
            operation!(),
            " AS api_operation, actor_user_name, src_ip, cloud_provider, cloud_account_uid, cloud_region, event_uid \
             FROM events WHERE api_operation IN ('StopLogging', 'DeleteTrail', 'UpdateTrail', 'PutEventSelectors', 'DeleteFlowLogs') \
             OR api_operation ILIKE '%.DeleteSink' OR api_operation ILIKE '%.UpdateSink' OR api_operation ILIKE '%.DeleteExclusion' \
             OR api_operation ILIKE '%diagnosticSettings/delete%' OR api_operation ILIKE '%diagnosticSettings/write%' \
             OR (source IN ('okta', 'github_audit') AND (",
            event_code!(),
            " ILIKE 'system.log_stream.%' OR ",
            event_code!(),
            " IN ('audit_log_streaming.destroy', 'audit_log_streaming.update')))"
        ),
    ),
    (
        "audit_policy_changes",
        "Every change to what is audited, across AWS, GCP, Azure, Kubernetes, Okta and GitHub: trails, event selectors, log sinks and exclusions, audit configs in IAM policies, diagnostic settings, audit sinks, log streams.",
        concat!(
            "SELECT time, archive, source, api_service, operation AS api_operation, actor_user_name, src_ip, cloud_provider, cloud_account_uid, cloud_region, event_uid \
             FROM (SELECT *, ",
            operation!(),
            " AS operation FROM events WHERE class_uid IN (6003, 3004) OR source IN ('okta', 'github_audit', 'k8s_audit')) \
             WHERE operation IN ('CreateTrail', 'DeleteTrail', 'UpdateTrail', 'StartLogging', 'StopLogging', 'PutEventSelectors', 'PutInsightSelectors', 'DeleteFlowLogs') \
             OR operation ILIKE '%ConfigServiceV2.%Sink' OR operation ILIKE '%ConfigServiceV2.%Exclusion' \
             OR (operation ILIKE '%SetIamPolicy' AND event_json LIKE '%auditConfigs%') \
             OR operation ILIKE '%diagnosticSettings/%' \
             OR (source = 'k8s_audit' AND (operation ILIKE '%auditsinks%' OR operation ILIKE '%audit-policy%')) \
             OR operation ILIKE 'system.log_stream.%' OR operation ILIKE 'audit_log_streaming.%'"
        ),
    ),
    (
        "root_activity",
        "Activity of root / owner accounts (AWS root, Linux root).",
        "SELECT time, archive, source, class_name, api_operation, actor_user_name, actor_user_uid, actor_user_type, src_ip, cloud_account_uid, event_uid \
         FROM events WHERE actor_user_type ILIKE 'root' OR actor_user_name = 'root' OR actor_user_uid LIKE '%:root'",
    ),
    (
        "access_denied_bursts",
        "Actors with 5 or more access-denied errors within one minute.",
        "SELECT date_trunc('minute', time) AS minute, archive, actor_user_name, src_ip, count(*) AS denied \
         FROM events WHERE status_code ILIKE '%AccessDenied%' OR status_code ILIKE '%Unauthorized%' \
         OR status_code IN ('PERMISSION_DENIED', 'AuthorizationFailed', 'Forbidden', '403') \
         GROUP BY 1, 2, 3, 4 HAVING count(*) >= 5",
    ),
    (
        "logins_without_mfa",
        "Successful sign-ins that did not use multi-factor authentication (AWS console, Entra ID, Okta: `is_mfa` false).",
        "SELECT time, archive, source, product_name, actor_user_name, user_name, src_ip, cloud_provider, cloud_account_uid, event_uid \
         FROM events WHERE class_uid = 3002 AND status_id = 1 AND json_get(event_json, 'is_mfa') = 'false'",
    ),
    (
        "new_access_keys",
        "New long-lived credentials: AWS access keys and console passwords, GCP service-account keys, Azure storage keys listed or regenerated, GitHub and Okta API tokens.",
        concat!(
            "SELECT time, archive, source, operation AS api_operation, actor_user_name, user_name, src_ip, cloud_provider, cloud_account_uid, event_uid \
             FROM (SELECT *, ",
            operation!(),
            " AS operation FROM events WHERE class_uid IN (6003, 3001, 3004) OR source IN ('okta', 'github_audit')) \
             WHERE operation IN ('CreateAccessKey', 'CreateLoginProfile', 'UpdateLoginProfile', 'CreateServiceSpecificCredential') \
             OR operation ILIKE '%CreateServiceAccountKey' OR operation ILIKE '%/regeneratekey/action' OR operation ILIKE '%/listkeys/action' \
             OR operation IN ('system.api_token.create', 'personal_access_token.access_granted', 'personal_access_token.request_created', 'oauth_access.create', 'deploy_key.create')"
        ),
    ),
    (
        "admin_role_grants",
        "Administrator rights granted: AWS AdministratorAccess, GCP owner/editor, Azure role assignments, Entra ID directory roles, Okta admin privileges, GitHub enterprise admins and member role changes, Kubernetes cluster-admin bindings.",
        concat!(
            "SELECT time, archive, source, operation AS api_operation, actor_user_name, user_name, resource_uids, cloud_provider, cloud_account_uid, event_uid \
             FROM (SELECT *, ",
            operation!(),
            " AS operation FROM events WHERE class_uid IN (6003, 3001, 3004, 3005, 3006)) \
             WHERE (operation IN ('AttachUserPolicy', 'AttachRolePolicy', 'AttachGroupPolicy', 'PutUserPolicy', 'PutRolePolicy') AND event_json LIKE '%AdministratorAccess%') \
             OR (operation ILIKE '%SetIamPolicy' AND (event_json LIKE '%roles/owner%' OR event_json LIKE '%roles/editor%')) \
             OR operation ILIKE '%roleAssignments/write%' \
             OR (source = 'entra_audit' AND operation ILIKE 'Add%member to role%') \
             OR operation IN ('user.account.privilege.grant', 'group.privilege.grant', 'business.add_admin', 'org.update_member') \
             OR (source = 'k8s_audit' AND operation ILIKE '%rolebindings%' AND event_json LIKE '%cluster-admin%')"
        ),
    ),
    (
        "k8s_exec_and_secrets",
        "Kubernetes: commands run in pods (exec, attach, port-forward) and reads of secrets.",
        "SELECT time, archive, actor_user_name, src_ip, json_get(event_json, 'message') AS request, status_code, cloud_account_uid, event_uid \
         FROM events WHERE source = 'k8s_audit' AND (json_get(event_json, 'message') ILIKE '%/exec%' \
         OR json_get(event_json, 'message') ILIKE '%/attach%' OR json_get(event_json, 'message') ILIKE '%/portforward%' \
         OR json_get(event_json, 'message') ILIKE '%/secrets%')",
    ),
    (
        "field_completeness",
        "Per source and day: events, and how many lack who (actor), the outcome (status), where from (source IP or region), what on (resource or API), or a class (Base Event): the content required of audit records (PCI DSS 10.2.2, NIST AU-3).",
        "SELECT source, date_trunc('day', time) AS day, count(*) AS events, \
         sum(CASE WHEN coalesce(actor_user_name, actor_user_uid, user_name) IS NULL THEN 1 ELSE 0 END) AS no_actor, \
         sum(CASE WHEN status_id IS NULL OR status_id = 0 THEN 1 ELSE 0 END) AS no_status, \
         sum(CASE WHEN src_ip IS NULL AND cloud_region IS NULL THEN 1 ELSE 0 END) AS no_origin, \
         sum(CASE WHEN (resource_uids IS NULL OR array_length(resource_uids) IS NULL) AND api_operation IS NULL THEN 1 ELSE 0 END) AS no_target, \
         sum(CASE WHEN class_uid = 0 THEN 1 ELSE 0 END) AS unclassified \
         FROM events GROUP BY 1, 2",
    ),
    (
        "clock_skew",
        "Per event: when the collector received it minus when the source says it happened (ms). Negative values mean the source's clock runs ahead.",
        "SELECT time, archive, source, event_uid, \
         CAST(json_get(event_json, 'unmapped._auditfed.received_time') AS BIGINT) - CAST(time AS BIGINT) AS skew_ms \
         FROM events WHERE json_get(event_json, 'unmapped._auditfed.received_time') IS NOT NULL",
    ),
];
