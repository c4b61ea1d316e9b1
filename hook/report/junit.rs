//! `rcfge validate --format junit`: JUnit XML for CI dashboards. One test suite per file, one
//! test case per resource: a violation is a `<failure>`, a resource that could not be
//! evaluated (or a file that could not be read) is an `<error>`.

use std::fmt::Write;

use super::FileReport;
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
        let failures = resources.iter().filter(|r| matches!(r.decision.verdict, Verdict::NonCompliant(_))).count();
        let errors = resources.iter().filter(|r| matches!(r.decision.verdict, Verdict::InternalFailure(_))).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{path}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\">",
            resources.len()
        );
        for report in resources {
            let decision = &report.decision;
            let name = escape(&format!("{} ({})", decision.logical_id, decision.type_name));
            match &decision.verdict {
                Verdict::Compliant | Verdict::Exempt => {
                    let _ = writeln!(out, "    <testcase name=\"{name}\" classname=\"{path}\"/>");
                }
                Verdict::NonCompliant(violations) => {
                    let body: Vec<String> =
                        violations.iter().map(|v| format!("{}: {}", v.pointer, v.message)).collect();
                    let _ = writeln!(
                        out,
                        "    <testcase name=\"{name}\" classname=\"{path}\"><failure message=\"{} violations\">{}</failure></testcase>",
                        violations.len(),
                        escape(&body.join("\n"))
                    );
                }
                Verdict::InternalFailure(error) => {
                    let _ = writeln!(
                        out,
                        "    <testcase name=\"{name}\" classname=\"{path}\"><error message=\"{}\"/></testcase>",
                        escape(&error.to_string())
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}
