//! What would break if the control were enforced today: one overview of many resources, from
//! stack templates (`rcfge validate --summary`) or from the hook's decision records
//! (`rcfge decisions summarize`). Resources refused, refused only once audit mode is switched
//! off, waived and not evaluated, grouped by type, by rule and by file or account, most
//! frequent first; as text, JSON or a self-contained HTML page.
//!
//! A rule is named as `_settings.json` `enforcement.rules` and a waiver's `rule` name it: the
//! violation's property pointer with list indexes as `*` (`/Tags/*/Key`), or `guard/NAME`, so
//! that a line of the overview can be copied into either.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;
use serde_json::Value;

use crate::decision::{Disposition, Verdict, Violation};
use crate::lambda::RecordedFinding;
use crate::stack::{FileReport, Judgement};

/// Counts for one group (a type, a rule, a file, an account, a waiver).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Refused today.
    pub refused: usize,
    /// Allowed by audit mode; refused once enforced.
    pub would_refuse: usize,
    /// Let through by a waiver.
    pub waived: usize,
    /// Could not be evaluated (no template, a broken one, invalid intrinsic functions): refused
    /// in any mode.
    pub not_evaluated: usize,
}

impl Counts {
    /// What enforcing today would refuse.
    pub fn breaking(&self) -> usize {
        self.refused + self.would_refuse + self.not_evaluated
    }

    fn is_empty(&self) -> bool {
        *self == Counts::default()
    }
}

/// One group, with its counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Group {
    pub key: String,
    #[serde(flatten)]
    pub counts: Counts,
}

/// The whole overview.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Impact {
    /// `stack templates` or `decision records`.
    pub source: String,
    /// Resources judged (stack templates) or decisions read (decision records).
    pub resources: usize,
    pub compliant: usize,
    /// Resources (or decisions), not violations.
    pub totals: Counts,
    /// Left to the hook at deploy time (transforms, deploy-time conditions).
    pub not_judged: usize,
    /// Resources by type.
    pub by_type: Vec<Group>,
    /// Violations by type and rule (`AWS::S3::Bucket /LoggingConfiguration`).
    pub by_rule: Vec<Group>,
    /// Resources by file (stack templates) or by account (decision records).
    pub by_place: Vec<Group>,
    /// `file` or `account`.
    pub place: String,
    /// Violations let through, by waiver.
    pub by_waiver: Vec<Group>,
}

/// What became of one resource, for the resource-level counts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Compliant,
    Refused,
    WouldRefuse,
    Waived,
    NotEvaluated,
    NotJudged,
}

#[derive(Default)]
struct Tally {
    impact: Impact,
    by_type: BTreeMap<String, Counts>,
    by_rule: BTreeMap<String, Counts>,
    by_place: BTreeMap<String, Counts>,
    by_waiver: BTreeMap<String, Counts>,
}

impl Tally {
    fn resource(&mut self, type_name: &str, place: &str, outcome: Outcome) {
        self.impact.resources += 1;
        let add = |counts: &mut Counts| match outcome {
            Outcome::Refused => counts.refused += 1,
            Outcome::WouldRefuse => counts.would_refuse += 1,
            Outcome::Waived => counts.waived += 1,
            Outcome::NotEvaluated => counts.not_evaluated += 1,
            Outcome::Compliant | Outcome::NotJudged => {}
        };
        add(&mut self.impact.totals);
        add(self.by_type.entry(type_name.to_owned()).or_default());
        add(self.by_place.entry(place.to_owned()).or_default());
        match outcome {
            Outcome::Compliant => self.impact.compliant += 1,
            Outcome::NotJudged => self.impact.not_judged += 1,
            _ => {}
        }
    }

    /// One violation: `outcome` is `refused`, `audit` or `waived`, as decision records say.
    fn finding(&mut self, type_name: &str, pointer: &str, rule: &str, outcome: &str, waiver: Option<&str>) {
        let key = format!("{type_name} {}", rule_name(pointer, rule));
        let counts = self.by_rule.entry(key).or_default();
        match outcome {
            "audit" => counts.would_refuse += 1,
            "waived" => counts.waived += 1,
            _ => counts.refused += 1,
        }
        if let Some(waiver) = waiver {
            self.by_waiver.entry(waiver.to_owned()).or_default().waived += 1;
        }
    }

    fn finish(mut self, source: &str, place: &str) -> Impact {
        self.impact.source = source.to_owned();
        self.impact.place = place.to_owned();
        self.impact.by_type = ranked(self.by_type);
        self.impact.by_rule = ranked(self.by_rule);
        self.impact.by_place = ranked(self.by_place);
        self.impact.by_waiver = ranked(self.by_waiver);
        self.impact
    }
}

/// Groups with anything to say, most breaking first, then most waived, then by name.
fn ranked(groups: BTreeMap<String, Counts>) -> Vec<Group> {
    let mut groups: Vec<Group> =
        groups.into_iter().filter(|(_, c)| !c.is_empty()).map(|(key, counts)| Group { key, counts }).collect();
    groups.sort_by(|a, b| {
        (b.counts.breaking(), b.counts.waived).cmp(&(a.counts.breaking(), a.counts.waived)).then(a.key.cmp(&b.key))
    });
    groups
}

/// The rule a violation is counted under: `guard/NAME`, or its pointer with list indexes as `*`.
fn rule_name(pointer: &str, keyword: &str) -> String {
    if keyword.starts_with("guard/") {
        return keyword.to_owned();
    }
    let segments: Vec<&str> = pointer
        .split('/')
        .skip(1)
        .filter(|s| !s.is_empty())
        .map(|s| if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) { "*" } else { s })
        .collect();
    format!("/{}", segments.join("/"))
}

fn outcome_of(verdict: &Verdict) -> Outcome {
    match verdict {
        Verdict::Compliant | Verdict::Exempt => Outcome::Compliant,
        Verdict::NonCompliant(_) => Outcome::Refused,
        Verdict::Tolerated(_) if verdict.would_refuse() => Outcome::WouldRefuse,
        Verdict::Tolerated(_) => Outcome::Waived,
        Verdict::InternalFailure(_) => Outcome::NotEvaluated,
    }
}

fn violation_outcome(violation: &Violation) -> (&'static str, Option<&str>) {
    match &violation.disposition {
        Disposition::Enforced => ("refused", None),
        Disposition::Audited => ("audit", None),
        Disposition::Waived(w) => ("waived", Some(w.waiver.as_str())),
    }
}

/// The overview of `rcfge validate` over stack template files.
pub fn of_files(files: &[FileReport]) -> Impact {
    let mut tally = Tally::default();
    for file in files.iter().filter(|f| !f.skipped) {
        let Ok(resources) = &file.outcome else {
            tally.resource("(unreadable file)", &file.path, Outcome::NotEvaluated);
            continue;
        };
        for report in resources {
            let outcome = match &report.judgement {
                Judgement::Decided(decision) => outcome_of(&decision.verdict),
                Judgement::NotJudged(_) => Outcome::NotJudged,
                Judgement::Invalid(_) => Outcome::NotEvaluated,
            };
            tally.resource(&report.type_name, &file.path, outcome);
            for violation in report.decision().map(|d| d.verdict.violations()).unwrap_or_default() {
                let (outcome, waiver) = violation_outcome(violation);
                tally.finding(&report.type_name, &violation.pointer, &violation.keyword, outcome, waiver);
            }
        }
    }
    tally.finish("stack templates", "file")
}

/// One decision record as the overview reads it: the fields of `DecisionRecord` it needs.
#[derive(Debug, serde::Deserialize)]
struct RecordLine {
    type_name: Option<String>,
    account: Option<String>,
    verdict: String,
    #[serde(default)]
    would_refuse: bool,
    #[serde(default)]
    findings: Vec<RecordedFinding>,
}

/// Why decision records cannot be summarised.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    #[error("{path}: no rcfge decision records (JSON lines with `verdict` and `hook_status`)")]
    NoRecords { path: String },
}

/// The decision records in an export of the hook's log: JSON lines (CloudWatch Logs Insights
/// or `aws logs tail` output, or an S3 export, whose lines start with a timestamp), or the JSON
/// that `aws logs filter-log-events` prints (`{"events": [{"message": ...}]}`). Lines that are
/// not decision records (the runtime's own) are passed over.
pub fn records_in(path: &str, text: &str) -> Result<Vec<Value>, RecordsError> {
    let mut records = Vec::new();
    let mut messages: Vec<String> = Vec::new();
    if let Ok(Value::Object(document)) = serde_json::from_str::<Value>(text)
        && let Some(Value::Array(events)) = document.get("events")
    {
        messages.extend(events.iter().filter_map(|e| e.get("message")?.as_str().map(str::to_owned)));
    } else {
        messages.extend(text.lines().map(str::to_owned));
    }
    for message in &messages {
        let Some(start) = message.find('{') else { continue };
        let Ok(value) = serde_json::from_str::<Value>(&message[start..]) else { continue };
        if value.get("verdict").is_some_and(Value::is_string) && value.get("hook_status").is_some() {
            records.push(value);
        }
    }
    if records.is_empty() {
        return Err(RecordsError::NoRecords { path: path.to_owned() });
    }
    Ok(records)
}

/// The overview of the hook's decision records: each record is one decision (a resource, or a
/// STACK or CHANGE_SET target whose findings name their resources), counted by account.
pub fn of_records(records: &[Value]) -> Impact {
    let mut tally = Tally::default();
    for value in records {
        let Ok(record) = serde_json::from_value::<RecordLine>(value.clone()) else {
            tally.resource("(unreadable record)", "(unknown)", Outcome::NotEvaluated);
            continue;
        };
        let type_name = record.type_name.as_deref().unwrap_or("(unknown)");
        let account = record.account.as_deref().unwrap_or("(unknown)");
        let outcome = match record.verdict.as_str() {
            "compliant" | "exempt" => Outcome::Compliant,
            "non-compliant" => Outcome::Refused,
            "tolerated" if record.would_refuse => Outcome::WouldRefuse,
            "tolerated" => Outcome::Waived,
            _ => Outcome::NotEvaluated,
        };
        tally.resource(type_name, account, outcome);
        for finding in &record.findings {
            let type_name = finding.type_name.as_deref().unwrap_or(type_name);
            let waiver = finding.waiver.as_deref();
            tally.finding(type_name, &finding.property, &finding.rule, &finding.outcome, waiver);
        }
    }
    tally.finish("decision records", "account")
}

/// Groups shown per section of the text overview; JSON and HTML list them all.
pub const TEXT_GROUPS: usize = 20;

/// The overview as text.
pub fn text(impact: &Impact) -> String {
    let t = &impact.totals;
    let mut out = String::new();
    let noun = if impact.source == "decision records" { "decisions" } else { "resources" };
    let _ = writeln!(out, "What enforcing today would refuse, from {} {noun} ({}):", impact.resources, impact.source);
    let _ = writeln!(out, "  refused now            {:>7}", t.refused);
    let _ = writeln!(out, "  refused once enforced  {:>7}  (audit mode today)", t.would_refuse);
    let _ = writeln!(out, "  not evaluated          {:>7}  (refused in any mode)", t.not_evaluated);
    let _ = writeln!(out, "  waived                 {:>7}", t.waived);
    let _ = writeln!(out, "  compliant              {:>7}", impact.compliant);
    if impact.not_judged > 0 {
        let _ = writeln!(out, "  left to deploy time    {:>7}", impact.not_judged);
    }
    let sections: [(&str, &[Group]); 4] = [
        ("by type (resources)", &impact.by_type),
        ("by rule (violations)", &impact.by_rule),
        (if impact.place == "account" { "by account (decisions)" } else { "by file (resources)" }, &impact.by_place),
        ("by waiver (violations waived)", &impact.by_waiver),
    ];
    for (title, groups) in sections {
        if groups.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{title}:\n  refused  once enforced  not evaluated  waived");
        for group in groups.iter().take(TEXT_GROUPS) {
            let c = &group.counts;
            let key = super::terminal_safe(&group.key);
            let _ = writeln!(
                out,
                "  {:>7}  {:>13}  {:>13}  {:>6}  {key}",
                c.refused, c.would_refuse, c.not_evaluated, c.waived
            );
        }
        if groups.len() > TEXT_GROUPS {
            let _ = writeln!(out, "  ... {} more (--format json or html lists them all)", groups.len() - TEXT_GROUPS);
        }
    }
    out
}

/// The overview as JSON.
pub fn json(impact: &Impact) -> Value {
    serde_json::to_value(impact).unwrap_or(Value::Null)
}

/// Bars in the HTML page's chart.
const CHART_BARS: usize = 15;

/// The overview as one self-contained HTML page (no script, no external resource): the
/// totals, a stacked bar chart of the types that enforcing would refuse most, and a table per
/// grouping. Every string from the input is escaped.
pub fn html(impact: &Impact) -> String {
    let t = &impact.totals;
    let mut out = String::new();
    out.push_str(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <title>rcfge: what enforcing would refuse</title>\n<style>\n\
         body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#1b1f24;background:#fff}\n\
         h1{font-size:1.5em}h2{font-size:1.15em;margin-top:2em}\n\
         .cards{display:flex;gap:1em;flex-wrap:wrap}.card{border:1px solid #d0d7de;border-radius:6px;padding:.8em 1.2em;min-width:9em}\n\
         .card b{display:block;font-size:1.8em}\n\
         table{border-collapse:collapse;margin-top:.5em}td,th{border-bottom:1px solid #d0d7de;padding:.25em .8em;text-align:right}\n\
         td:last-child,th:last-child{text-align:left;font-family:ui-monospace,monospace;overflow-wrap:anywhere}\n\
         .refused{fill:#cf222e;color:#cf222e}.would{fill:#d4a72c;color:#9a6700}.failed{fill:#6e7781;color:#57606a}.waived{fill:#0969da;color:#0969da}\n\
         </style></head><body>\n",
    );
    let _ = writeln!(
        out,
        "<h1>What enforcing today would refuse</h1>\n<p>From {} {} ({}).</p>",
        impact.resources,
        if impact.source == "decision records" { "decisions" } else { "resources" },
        escape(&impact.source)
    );
    out.push_str("<div class=\"cards\">\n");
    for (class, label, value) in [
        ("refused", "refused now", t.refused),
        ("would", "refused once enforced", t.would_refuse),
        ("failed", "not evaluated", t.not_evaluated),
        ("waived", "waived", t.waived),
        ("", "compliant", impact.compliant),
    ] {
        let _ = writeln!(out, "<div class=\"card {class}\"><b>{value}</b>{label}</div>");
    }
    out.push_str("</div>\n");
    chart(&mut out, &impact.by_type);
    let place = if impact.place == "account" { "By account (decisions)" } else { "By file (resources)" };
    for (title, groups) in [
        ("By type (resources)", &impact.by_type),
        ("By rule (violations)", &impact.by_rule),
        (place, &impact.by_place),
        ("By waiver (violations waived)", &impact.by_waiver),
    ] {
        let _ = writeln!(out, "<h2>{title}</h2>");
        if groups.is_empty() {
            out.push_str("<p>None.</p>\n");
            continue;
        }
        out.push_str(
            "<table><tr><th>refused</th><th>once enforced</th><th>not evaluated</th><th>waived</th><th></th></tr>\n",
        );
        for group in groups {
            let c = &group.counts;
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                c.refused,
                c.would_refuse,
                c.not_evaluated,
                c.waived,
                escape(&group.key)
            );
        }
        out.push_str("</table>\n");
    }
    out.push_str("</body></html>\n");
    out
}

/// A horizontal stacked bar per type: refused, refused once enforced, not evaluated, waived.
fn chart(out: &mut String, groups: &[Group]) {
    let shown: Vec<&Group> = groups.iter().take(CHART_BARS).collect();
    let _ = writeln!(out, "<h2>Types that enforcing would refuse most</h2>");
    if shown.is_empty() {
        out.push_str("<p>None.</p>\n");
        return;
    }
    let most = shown.iter().map(|g| g.counts.breaking() + g.counts.waived).max().unwrap_or(1).max(1);
    let (label_width, bar_width, row) = (320.0, 480.0, 26.0);
    let height = row * shown.len() as f64 + 30.0;
    let _ = writeln!(
        out,
        "<svg role=\"img\" aria-label=\"resources per type\" width=\"{}\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">",
        label_width + bar_width + 60.0
    );
    for (i, group) in shown.iter().enumerate() {
        let y = row * i as f64 + 4.0;
        let _ = writeln!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"12\">{}</text>",
            label_width - 8.0,
            y + 15.0,
            escape(&group.key)
        );
        let mut x = label_width;
        let c = &group.counts;
        for (class, value) in
            [("refused", c.refused), ("would", c.would_refuse), ("failed", c.not_evaluated), ("waived", c.waived)]
        {
            if value == 0 {
                continue;
            }
            let width = bar_width * value as f64 / most as f64;
            let _ = writeln!(
                out,
                "<rect class=\"{class}\" x=\"{x:.1}\" y=\"{y}\" width=\"{width:.1}\" height=\"20\"><title>{value}</title></rect>"
            );
            x += width;
        }
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"12\">{}</text>",
            x + 6.0,
            y + 15.0,
            c.breaking() + c.waived
        );
    }
    let legend_y = row * shown.len() as f64 + 20.0;
    let mut x = label_width;
    for (class, label) in
        [("refused", "refused now"), ("would", "once enforced"), ("failed", "not evaluated"), ("waived", "waived")]
    {
        let _ = writeln!(
            out,
            "<rect class=\"{class}\" x=\"{x}\" y=\"{}\" width=\"10\" height=\"10\"/><text x=\"{}\" y=\"{legend_y}\" font-size=\"12\">{label}</text>",
            legend_y - 9.0,
            x + 14.0
        );
        x += 120.0;
    }
    out.push_str("</svg>\n");
}

/// `text` for HTML text and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_named_as_settings_and_waivers_name_them() {
        assert_eq!(rule_name("/Tags/3/Key", "pattern"), "/Tags/*/Key");
        assert_eq!(rule_name("/", "required"), "/");
        assert_eq!(rule_name("/A", "guard/x"), "guard/x");
    }

    #[test]
    fn records_are_found_in_every_export_shape() {
        let line = r#"{"type_name":"AWS::S3::Bucket","account":"111122223333","verdict":"tolerated","hook_status":"SUCCESS","would_refuse":true,"findings":[{"property":"/Tags/0/Key","rule":"pattern","outcome":"audit"}]}"#;
        let lines = format!("START RequestId: x\n2026-12-07T05:00:00.000Z {line}\nnot json {{\n");
        let wrapped = serde_json::json!({"events": [{"message": line}, {"message": "END"}]}).to_string();
        for text in [lines, wrapped] {
            let records = records_in("x", &text).unwrap();
            let impact = of_records(&records);
            assert_eq!(impact.totals.would_refuse, 1);
            assert_eq!(impact.by_rule[0].key, "AWS::S3::Bucket /Tags/*/Key");
            assert_eq!(impact.by_place[0].key, "111122223333");
        }
        assert!(records_in("x", "{}\nhello").is_err());
    }

    #[test]
    fn html_escapes_every_string() {
        let mut impact = Impact::default();
        impact.by_type.push(Group {
            key: "<script>alert(1)</script>".into(),
            counts: Counts { refused: 1, ..Counts::default() },
        });
        let page = html(&impact);
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }
}
