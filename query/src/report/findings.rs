//! The report's results as OCSF 1.8.0 Compliance Findings (class 2003):
//! one per control and result, so a SIEM or Security Lake takes them like
//! any other finding.

use serde_json::{Value, json};

use super::pack::Status;
use super::run::ReportData;
use auditfed_schemas::ocsf::OCSF_VERSION;

/// OCSF `compliance.status_id` and `status` of a result.
fn compliance_status(status: Status) -> (i64, &'static str) {
    match status {
        Status::Pass => (1, "Pass"),
        Status::Manual => (2, "Warning"),
        Status::Fail => (3, "Fail"),
        Status::Info => (99, "Info"),
    }
}

/// OCSF `severity_id` and `severity` of a result.
fn severity(status: Status) -> (i64, &'static str) {
    match status {
        Status::Fail => (4, "High"),
        Status::Manual => (2, "Low"),
        Status::Pass | Status::Info => (1, "Informational"),
    }
}

/// One Compliance Finding per control and each status its rows have (one
/// for a control without rows), in control order.
pub fn compliance_findings(data: &ReportData) -> Vec<Value> {
    let mut out = Vec::new();
    let period = format!(
        "{}/{}",
        auditfed_schemas::seal::format_time(data.from_ms),
        auditfed_schemas::seal::format_time(data.to_ms)
    );
    for result in &data.controls {
        let mut results: Vec<(Status, u64)> = result
            .counts
            .iter()
            .filter_map(|(s, n)| Status::parse(s).map(|s| (s, *n)))
            .collect();
        if result.control.manual.is_some() || results.is_empty() {
            results = vec![(result.status, result.total_rows)];
        }
        for (status, rows) in results {
            let (compliance_id, compliance_name) = compliance_status(status);
            let (severity_id, severity_name) = severity(status);
            let uid = format!(
                "{}/{}/{}/{}/{period}",
                data.pack.name, data.pack.version, result.control.id, status
            );
            let reason = if status == result.status {
                result.reason.clone()
            } else {
                format!("{rows} row(s) {status}")
            };
            out.push(json!({
                "activity_id": 1,
                "activity_name": "Create",
                "category_uid": 2,
                "category_name": "Findings",
                "class_uid": 2003,
                "class_name": "Compliance Finding",
                "type_uid": 200301,
                "type_name": "Compliance Finding: Create",
                "severity_id": severity_id,
                "severity": severity_name,
                "status_id": 1,
                "status": "New",
                "time": data.generated_ms,
                "message": format!("{} {}: {} — {}", result.control.framework, result.control.id, status, reason),
                "metadata": {
                    "product": {"name": "auditfed", "vendor_name": "auditfed", "version": env!("CARGO_PKG_VERSION")},
                    "version": OCSF_VERSION,
                    "uid": uid,
                },
                "finding_info": {
                    "uid": uid,
                    "title": format!("{} {}", result.control.id, result.control.title),
                    "desc": result.control.description,
                    "types": [result.control.framework],
                    "created_time": data.generated_ms,
                    "data_sources": ["auditfed archive"],
                },
                "compliance": {
                    "control": result.control.id,
                    "standards": [result.control.framework],
                    "requirements": [result.control.id],
                    "desc": result.control.title,
                    "status_id": compliance_id,
                    "status": compliance_name,
                    "status_detail": reason,
                },
                "unmapped": {
                    "auditfed": {
                        "pack": data.pack.name,
                        "pack_version": data.pack.version,
                        "period": period,
                        "rows": rows,
                        "control_status": result.status.as_str(),
                    }
                },
            }));
        }
    }
    out
}
