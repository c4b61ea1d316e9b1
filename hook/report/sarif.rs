//! `rcfge validate --format sarif`: SARIF 2.1.0, so that code scanning (GitHub and others)
//! shows findings inline. One result per violation (`error`), per resource that could not be
//! evaluated (`error`), and per value left to deploy time (`note`); one rule per JSON Schema
//! keyword, with help text.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::FileReport;
use crate::position::Position;
use crate::verdict::Verdict;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const NOT_EVALUATED: &str = "rcfge/not-evaluated";
const DEPLOY_TIME: &str = "rcfge/deploy-time";

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
        for report in resources {
            let decision = &report.decision;
            let subject = format!("{} ({})", decision.logical_id, decision.type_name);
            match &decision.verdict {
                Verdict::NonCompliant(violations) => {
                    for v in violations {
                        let id = format!("rcfge/{}", v.keyword);
                        let help = format!(
                            "A property or value that its resource type's restricted template does not approve (JSON Schema `{}`).",
                            v.keyword
                        );
                        rule(&mut rules, &id, &help);
                        let text = format!("{subject} {}: {} {}", v.pointer, v.message, v.remediation);
                        results.push(result(&id, "error", &text, &file.path, v.position.or(report.position)));
                    }
                }
                Verdict::InternalFailure(error) => {
                    rule(
                        &mut rules,
                        NOT_EVALUATED,
                        "The file or resource could not be evaluated (rcfge fails closed).",
                    );
                    results.push(result(
                        NOT_EVALUATED,
                        "error",
                        &format!("{subject}: {error}"),
                        &file.path,
                        report.position,
                    ));
                }
                Verdict::Compliant | Verdict::Exempt => {}
            }
            for d in &report.deferred {
                rule(
                    &mut rules,
                    DEPLOY_TIME,
                    "The value comes from an intrinsic function; the hook judges it at deploy time.",
                );
                let text = format!("{subject} {}: {} value checked at deploy time", d.pointer, d.function);
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

fn result(rule_id: &str, level: &str, text: &str, path: &str, position: Option<Position>) -> Value {
    let mut location = json!({"artifactLocation": {"uri": path}});
    if let Some(position) = position {
        location["region"] = json!({"startLine": position.line, "startColumn": position.column});
    }
    json!({
        "ruleId": rule_id,
        "level": level,
        "message": {"text": text},
        "locations": [{"physicalLocation": location}]
    })
}
