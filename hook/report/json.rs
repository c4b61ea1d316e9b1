//! `rcfge validate --format json`: the report as a stable JSON document (`version` 1).
//!
//! ```text
//! { "version": 1, "exitCode": 1,
//!   "files": [{ "path": "stack.yaml", "error": null, "notes": [],
//!               "resources": [{ "logicalId", "type", "verdict", "judgedBy", "position", "reason", "note",
//!                               "violations": [{ "pointer", "keyword", "rule", "value", "message",
//!                                                "remediation", "position", "when"?,
//!                                                "disposition"? }],
//!                               "deferred": [{ "pointer", "function", "reason", "position" }],
//!                               "notes": [] }] }],
//!   "summary": { "resources", "compliant", "nonCompliant", "notEvaluated", "notJudged",
//!                "unreadableFiles", "judgedByBaseline", "allowedByRollout", "wouldRefuse", "waived",
//!                "skippedFiles" } }
//! ```
//! A file found in a directory that is not a stack template has `"skipped"` (why) and no
//! resources. `verdict` is `compliant`, `non-compliant`, `tolerated` (every violation audited or waived:
//! allowed), `exempt`, `internal-failure`, `not-judged` (left
//! to the hook at deploy time; `reason` says why) or `invalid-template` (`reason` says why);
//! `judgedBy` is `reviewed`, `baseline` (the generated baseline template) or `null` (no template
//! was used); `position` is `{ "line", "column" }` or `null`; `when` names the parameter values and
//! conditions a violation was found under, when it was not found under all of them; `rule` is
//! the check that found it, as SARIF's `ruleId`, JUnit and the text report name it
//! (`rcfge/pattern`, `rcfge/guard/NAME`);
//! `disposition` is absent for an enforced violation, else `{ "outcome": "audited" }` or
//! `{ "outcome": "waived", "waiver", "expires", "approver" }`.
//!
//! Strings are the exact data (a logical ID as the template spells it): JSON escapes every C0
//! control character (`\u001b`), so the document cannot be broken by them, and a program that
//! prints these strings for people must escape them as the text report does
//! (`terminal_safe`).

use serde_json::{Value, json};

use super::{FileReport, Summary, exit_code};
use crate::decision::Verdict;
use crate::stack::{Judgement, ResourceReport};

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
            "notJudged": summary.not_judged,
            "unreadableFiles": summary.unreadable,
            "judgedByBaseline": summary.by_baseline,
            "allowedByRollout": summary.tolerated,
            "wouldRefuse": summary.would_refuse,
            "waived": summary.waived,
            "skippedFiles": summary.skipped_files,
        }
    })
}

fn file(report: &FileReport) -> Value {
    match &report.outcome {
        Ok(_) if report.skipped.is_some() => {
            json!({"path": report.path, "error": null, "skipped": report.skipped, "notes": [], "resources": []})
        }
        Ok(resources) => json!({
            "path": report.path,
            "error": null,
            "notes": report.notes,
            "resources": resources.iter().map(resource).collect::<Vec<_>>()
        }),
        Err(reason) => json!({"path": report.path, "error": reason, "notes": report.notes, "resources": []}),
    }
}

fn resource(report: &ResourceReport) -> Value {
    let judged_by = report.decision().and_then(|d| d.template_kind).map(|kind| kind.as_str());
    let (verdict, violations, reason, note) = match &report.judgement {
        Judgement::Decided(decision) => {
            let (violations, reason) = match &decision.verdict {
                Verdict::NonCompliant(violations) | Verdict::Tolerated(violations) => {
                    let with_rule = |v: &crate::decision::Violation| {
                        let mut value = json!(v);
                        if let Some(object) = value.as_object_mut() {
                            object.insert("rule".to_owned(), Value::String(v.rule_id()));
                        }
                        value
                    };
                    (violations.iter().map(with_rule).collect(), None)
                }
                Verdict::InternalFailure(error) => (Vec::new(), Some(error.to_string())),
                Verdict::Compliant | Verdict::Exempt => (Vec::new(), None),
            };
            (decision.verdict.label(), violations, reason, decision.note.clone())
        }
        Judgement::NotJudged(reason) => ("not-judged", Vec::new(), Some(reason.clone()), None),
        Judgement::Invalid(error) => ("invalid-template", Vec::new(), Some(error.to_string()), None),
    };
    let deferred: Vec<Value> = report
        .deferred
        .iter()
        .map(|d| json!({"pointer": d.pointer, "function": d.function, "reason": d.reason, "position": d.position}))
        .collect();
    json!({
        "logicalId": report.logical_id,
        "type": report.type_name,
        "verdict": verdict,
        "judgedBy": judged_by,
        "position": report.position,
        "reason": reason,
        "note": note,
        "violations": violations,
        "deferred": deferred,
        "notes": report.notes,
    })
}
