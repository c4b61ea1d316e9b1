//! `rcfge validate --format json`: the report as a stable JSON document (`version` 1).
//!
//! ```text
//! { "version": 1, "exitCode": 1,
//!   "files": [{ "path": "stack.yaml", "error": null,
//!               "resources": [{ "logicalId", "type", "verdict", "position", "reason", "note",
//!                               "violations": [{ "pointer", "keyword", "value", "message",
//!                                                "remediation", "position" }],
//!                               "deferred": [{ "pointer", "function", "position" }] }] }],
//!   "summary": { "resources", "compliant", "nonCompliant", "notEvaluated", "unreadableFiles" } }
//! ```
//! `verdict` is `compliant`, `non-compliant`, `exempt` or `internal-failure`; `position` is
//! `{ "line", "column" }` or `null`.

use serde_json::{Value, json};

use super::{FileReport, Summary, exit_code};
use crate::cfn::ResourceReport;
use crate::verdict::Verdict;

/// The JSON report.
pub fn render(files: &[FileReport]) -> Value {
    let summary = Summary::of(files);
    json!({
        "version": 1,
        "exitCode": exit_code(files),
        "files": files.iter().map(file).collect::<Vec<_>>(),
        "summary": {
            "resources": summary.resources(),
            "compliant": summary.compliant,
            "nonCompliant": summary.refused,
            "notEvaluated": summary.failed,
            "unreadableFiles": summary.unreadable,
        }
    })
}

fn file(report: &FileReport) -> Value {
    match &report.outcome {
        Ok(resources) => {
            json!({"path": report.path, "error": null, "resources": resources.iter().map(resource).collect::<Vec<_>>()})
        }
        Err(reason) => json!({"path": report.path, "error": reason, "resources": []}),
    }
}

fn resource(report: &ResourceReport) -> Value {
    let decision = &report.decision;
    let (violations, reason) = match &decision.verdict {
        Verdict::NonCompliant(violations) => (violations.iter().map(|v| json!(v)).collect(), None),
        Verdict::InternalFailure(error) => (Vec::new(), Some(error.to_string())),
        Verdict::Compliant | Verdict::Exempt => (Vec::new(), None),
    };
    json!({
        "logicalId": decision.logical_id,
        "type": decision.type_name,
        "verdict": decision.verdict.label(),
        "position": report.position,
        "reason": reason,
        "note": decision.note,
        "violations": violations,
        "deferred": report.deferred.iter().map(|d| json!({"pointer": d.pointer, "function": d.function, "position": d.position})).collect::<Vec<_>>(),
    })
}
