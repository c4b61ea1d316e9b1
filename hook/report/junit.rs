//! `rcfge validate --format junit`: JUnit XML for CI dashboards. One test suite per file, one
//! test case per resource: a violation is a `<failure>`, a resource that could not be
//! evaluated (or a file that could not be read) is an `<error>`. Names and messages quote the
//! stack template, so every one goes through `escape`: the document stays well-formed XML 1.0
//! whatever characters a logical ID or property key holds.

use std::fmt::Write;

use super::{FileReport, is_unsafe_char, terminal_safe, visible_escape};
use crate::decision::Verdict;
use crate::stack::{Judgement, ResourceReport};

/// The JUnit XML document.
pub fn render(files: &[FileReport]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"rcfge\">\n");
    for file in files.iter().filter(|f| f.skipped.is_none()) {
        let path = attr(&file.path);
        let resources = match &file.outcome {
            Ok(resources) => resources,
            Err(reason) => {
                let _ = writeln!(out, "  <testsuite name=\"{path}\" tests=\"1\" failures=\"0\" errors=\"1\">");
                let _ = writeln!(
                    out,
                    "    <testcase name=\"read\" classname=\"{path}\"><error message=\"{}\"/></testcase>",
                    attr(reason)
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
            let name = attr(&format!("{} ({})", report.logical_id, report.type_name));
            let open = format!("    <testcase name=\"{name}\" classname=\"{path}\"");
            let _ = match &report.judgement {
                Judgement::Decided(decision) => match &decision.verdict {
                    Verdict::Compliant | Verdict::Exempt => writeln!(out, "{open}/>"),
                    Verdict::Tolerated(violations) => {
                        // Allowed: a passing test that says what audit mode or a waiver let by.
                        let body: Vec<String> = violations
                            .iter()
                            .map(|v| {
                                let label = v.disposition.label().unwrap_or("FAIL");
                                let rule = v.rule_id();
                                terminal_safe(&format!("{label}: {}: {} [{rule}]", v.pointer, v.message)).into_owned()
                            })
                            .collect();
                        writeln!(out, "{open}><system-out>{}</system-out></testcase>", escape(&body.join("\n"), false))
                    }
                    Verdict::NonCompliant(violations) => {
                        // One violation per line: each made terminal-safe on its own, so
                        // that the only line breaks in the body are these.
                        let body: Vec<String> = violations
                            .iter()
                            .map(|v| {
                                let lead = v.disposition.label().map(|l| format!("{l}: ")).unwrap_or_default();
                                let rule = v.rule_id();
                                terminal_safe(&format!("{lead}{}: {} [{rule}]", v.pointer, v.message)).into_owned()
                            })
                            .collect();
                        writeln!(
                            out,
                            "{open}><failure message=\"{}\">{}</failure></testcase>",
                            if violations.len() == 1 {
                                "1 violation".to_owned()
                            } else {
                                format!("{} violations", violations.len())
                            },
                            escape(&body.join("\n"), false)
                        )
                    }
                    Verdict::InternalFailure(error) => {
                        writeln!(out, "{open}><error message=\"{}\"/></testcase>", attr(&error.to_string()))
                    }
                },
                Judgement::NotJudged(reason) => {
                    writeln!(out, "{open}><skipped message=\"{}\"/></testcase>", attr(reason))
                }
                Judgement::Invalid(error) => {
                    let message = format!("invalid template: {error}");
                    writeln!(out, "{open}><error message=\"{}\"/></testcase>", attr(&message))
                }
            };
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Text for an attribute value or for character data. XML 1.0 allows neither most C0 controls
/// nor U+FFFE/U+FFFF, not even as character references (`&#27;` makes the document
/// ill-formed), so those, and whatever else [`is_unsafe_char`] (DEL, C1 controls, bidi
/// overrides: allowed or merely discouraged in XML, but as misleading in a CI dashboard as on
/// a terminal), become visible escapes such as `\u{1b}`. A line break inside an attribute is
/// written as a character reference, since a parser would turn a raw one into a space; in
/// character data it stays a line break (the failure body is one violation per line, each
/// already made [`terminal_safe`](super::terminal_safe)).
fn escape(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' if !attribute => out.push('\n'),
            '\n' => out.push_str("&#10;"),
            '\t' if attribute => out.push_str("&#9;"),
            c if is_unsafe_char(c) || matches!(c, '\u{fffe}' | '\u{ffff}') => visible_escape(c, &mut out),
            c => out.push(c),
        }
    }
    out
}

/// An attribute value: template-derived text made [`terminal_safe`], then XML-escaped.
fn attr(text: &str) -> String {
    escape(&terminal_safe(text), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_characters_xml_forbids_are_escaped() {
        assert_eq!(attr(r#"<a href="x">&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;");
        assert_eq!(attr("X\n  PASS\u{1b}[2K\u{0}\u{ffff}"), "X\\n  PASS\\u{1b}[2K\\u{0}\\u{ffff}");
        assert_eq!(escape("one\ntwo\u{8}\r", false), "one\ntwo\\u{8}\\r");
        assert_eq!(escape("a\tb\nc", true), "a&#9;b&#10;c");
    }
}
