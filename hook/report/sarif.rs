//! `rcfge validate --format sarif`: SARIF 2.1.0, so that code scanning (GitHub and others)
//! shows findings inline. One result per violation (`error`; `warning` in audit mode; with an
//! external suppression when waived), per resource that could not be evaluated (`error`), and
//! per value left to deploy time (`note`); one rule per JSON Schema keyword, with help text.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{FileReport, terminal_safe};
use crate::decision::{Disposition, Position, Verdict};
use crate::stack::Judgement;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const NOT_EVALUATED: &str = "rcfge/not-evaluated";
const DEPLOY_TIME: &str = "rcfge/deploy-time";
const NOT_JUDGED: &str = "rcfge/not-judged";
const INVALID: &str = "rcfge/invalid-template";

/// The SARIF log.
pub fn render(files: &[FileReport]) -> Value {
    let mut rules: BTreeMap<String, Value> = BTreeMap::new();
    let mut results = Vec::new();
    for file in files {
        let resources = match &file.outcome {
            Ok(resources) => resources,
            Err(reason) => {
                rule(&mut rules, NOT_EVALUATED, "The file or resource could not be evaluated (rcfge fails closed).");
                results.push(result(
                    NOT_EVALUATED,
                    "error",
                    &format!("cannot validate this file: {reason}"),
                    &file.path,
                    None,
                ));
                continue;
            }
        };
        for note in &file.notes {
            rule(&mut rules, NOT_JUDGED, "Not judged locally; the hook judges it at deploy time.");
            results.push(result(NOT_JUDGED, "note", note, &file.path, None));
        }
        for report in resources {
            let subject = format!("{} ({})", report.logical_id, report.type_name);
            match &report.judgement {
                Judgement::Decided(decision) => match &decision.verdict {
                    Verdict::NonCompliant(violations) | Verdict::Tolerated(violations) => {
                        for v in violations {
                            let id = v.rule_id();
                            let help = format!(
                                "A property or value that its resource type's restricted template does not approve (JSON Schema `{}`).",
                                v.keyword
                            );
                            rule(&mut rules, &id, &help);
                            let when = v.when.as_deref().map(|w| format!(" (when {w})")).unwrap_or_default();
                            let lead = v.disposition.label().map(|l| format!("{l}: ")).unwrap_or_default();
                            let text = format!("{lead}{subject} {}: {}{when} {}", v.pointer, v.message, v.remediation);
                            // Audit mode reports without refusing: a warning. A waiver is an
                            // external suppression, with its justification.
                            let level = if v.disposition == Disposition::Audited { "warning" } else { "error" };
                            let mut found = result(&id, level, &text, &file.path, v.position.or(report.position));
                            if let Disposition::Waived(w) = &v.disposition {
                                found["suppressions"] = json!([{
                                    "kind": "external",
                                    "status": "accepted",
                                    "justification": format!("waiver {} approved by {}, until {}", w.waiver, w.approver, w.expires)
                                }]);
                            }
                            results.push(found);
                        }
                    }
                    Verdict::InternalFailure(error) => {
                        rule(
                            &mut rules,
                            NOT_EVALUATED,
                            "The file or resource could not be evaluated (rcfge fails closed).",
                        );
                        let text = format!("{subject}: {error}");
                        results.push(result(NOT_EVALUATED, "error", &text, &file.path, report.position));
                    }
                    Verdict::Compliant | Verdict::Exempt => {}
                },
                Judgement::NotJudged(reason) => {
                    rule(&mut rules, NOT_JUDGED, "Not judged locally; the hook judges it at deploy time.");
                    let text = format!("{subject}: not judged locally: {reason}");
                    results.push(result(NOT_JUDGED, "note", &text, &file.path, report.position));
                }
                Judgement::Invalid(error) => {
                    rule(&mut rules, INVALID, "An intrinsic function that CloudFormation would refuse.");
                    let text = format!("{subject}: invalid template: {error}");
                    results.push(result(INVALID, "error", &text, &file.path, report.position));
                }
            }
            for d in &report.deferred {
                rule(&mut rules, DEPLOY_TIME, "The value is known only at deploy time; the hook judges it then.");
                let text = format!("{subject} {}: checked at deploy time: {}", d.pointer, d.reason);
                results.push(result(DEPLOY_TIME, "note", &text, &file.path, d.position));
            }
        }
    }
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "rcfge",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules.into_values().collect::<Vec<_>>()
            }},
            "results": results
        }]
    })
}

fn rule(rules: &mut BTreeMap<String, Value>, id: &str, help: &str) {
    rules.entry(id.to_owned()).or_insert_with(|| {
        json!({
            "id": id,
            "shortDescription": {"text": help},
            "help": {"text": format!("{help} See the restricted template for the resource type, or ask the security team.")}
        })
    });
}

/// One result. Its message is read by people in a code scanning view: like the text report it
/// quotes the stack template, so it is made [`terminal_safe`] (a logical ID cannot start a line
/// of its own or reorder the text with bidi overrides there either).
fn result(rule_id: &str, level: &str, text: &str, path: &str, position: Option<Position>) -> Value {
    let mut location = json!({"artifactLocation": {"uri": path}});
    if let Some(position) = position {
        location["region"] = json!({"startLine": position.line, "startColumn": position.column});
    }
    json!({
        "ruleId": rule_id,
        "level": level,
        "message": {"text": terminal_safe(text)},
        "locations": [{"physicalLocation": location}]
    })
}
