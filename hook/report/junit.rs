//! `rcfge validate --format junit`: JUnit XML for CI dashboards. One test suite per file, one
//! test case per resource: a violation is a `<failure>`, a resource that could not be
//! evaluated (or a file that could not be read) is an `<error>`.

use std::fmt::Write;

use super::FileReport;
use crate::stack::{Judgement, ResourceReport};
use crate::verdict::Verdict;

/// The JUnit XML document.
pub fn render(files: &[FileReport]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"rcfge\">\n");
    for file in files {
        let path = escape(&file.path);
        let resources = match &file.outcome {
            Ok(resources) => resources,
            Err(reason) => {
                let _ = writeln!(out, "  <testsuite name=\"{path}\" tests=\"1\" failures=\"0\" errors=\"1\">");
                let _ = writeln!(
                    out,
                    "    <testcase name=\"read\" classname=\"{path}\"><error message=\"{}\"/></testcase>",
                    escape(reason)
                );
                out.push_str("  </testsuite>\n");
                continue;
            }
        };
        let verdict = |r: &ResourceReport| r.decision().map(|d| d.verdict.label());
        let failures = resources.iter().filter(|r| verdict(r) == Some("non-compliant")).count();
        let errors = resources
            .iter()
            .filter(|r| verdict(r) == Some("internal-failure") || matches!(r.judgement, Judgement::Invalid(_)))
            .count();
        let skipped = resources.iter().filter(|r| matches!(r.judgement, Judgement::NotJudged(_))).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{path}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\">",
            resources.len()
        );
        for report in resources {
            let name = escape(&format!("{} ({})", report.logical_id, report.type_name));
            let open = format!("    <testcase name=\"{name}\" classname=\"{path}\"");
            let _ = match &report.judgement {
                Judgement::Decided(decision) => match &decision.verdict {
                    Verdict::Compliant | Verdict::Exempt => writeln!(out, "{open}/>"),
                    Verdict::NonCompliant(violations) => {
                        let body: Vec<String> =
                            violations.iter().map(|v| format!("{}: {}", v.pointer, v.message)).collect();
                        writeln!(
                            out,
                            "{open}><failure message=\"{} violations\">{}</failure></testcase>",
                            violations.len(),
                            escape(&body.join("\n"))
                        )
                    }
                    Verdict::InternalFailure(error) => {
                        writeln!(out, "{open}><error message=\"{}\"/></testcase>", escape(&error.to_string()))
                    }
                },
                Judgement::NotJudged(reason) => {
                    writeln!(out, "{open}><skipped message=\"{}\"/></testcase>", escape(reason))
                }
                Judgement::Invalid(error) => {
                    let message = format!("invalid template: {error}");
                    writeln!(out, "{open}><error message=\"{}\"/></testcase>", escape(&message))
                }
            };
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}
