//! What would break if the control were enforced today: one overview of many resources, from
//! stack templates (`rcfge validate --summary`) or from the hook's decision records
//! (`rcfge decisions summarize`). Resources refused, refused only once audit mode is switched
//! off, waived and not evaluated, grouped by type, by rule and by file or account, most
//! frequent first; as text, JSON or a self-contained HTML page.
//!
//! A rule is named in the syntax of `_settings.json` `enforcement.rules` and of a waiver's
//! `rule`: the violation's property pointer with list indexes as `*` (`/Tags/*/Key`; an object
//! key made only of digits shows as `*` too), or `guard/NAME`. Such a rule covers every
//! violation at or under its pointer: `/` is the whole resource.
//!
//! From decision records, each resource counts once, with the last answer read about it (files
//! in the order given, lines in order): a STACK record and the RESOURCE records of the same
//! deploy, or a later deploy, do not count it again.

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

/// What an overview is made from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    #[default]
    StackTemplates,
    DecisionRecords,
}

/// A file left out of an overview, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LeftOut {
    pub path: String,
    pub reason: String,
}

/// The whole overview.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Impact {
    /// The shape of this document; it changes only with a new number.
    pub version: u32,
    pub source: Source,
    /// Resources judged (from decision records: distinct resources, each with its last answer).
    pub resources: usize,
    pub compliant: usize,
    /// Resources, not violations.
    pub totals: Counts,
    /// Left to the hook at deploy time (transforms, deploy-time conditions).
    pub not_judged: usize,
    /// Resources by type.
    pub by_type: Vec<Group>,
    /// Violations by type and rule (`AWS::S3::Bucket /LoggingConfiguration`).
    pub by_rule: Vec<Group>,
    /// Resources by file (stack templates) or by account (decision records).
    pub by_place: Vec<Group>,
    /// Violations let through, by waiver.
    pub by_waiver: Vec<Group>,
    /// Stack templates: files found in a directory that are not stack templates.
    pub skipped_files: Vec<LeftOut>,
    /// Stack templates: files that could not be read or parsed (refused by `validate`).
    pub unreadable_files: Vec<LeftOut>,
    /// Decision records: how many were read.
    pub decisions: usize,
    /// Decision records: requests refused before any resource was known (a malformed event, a
    /// STACK payload that could not be fetched): refused in any mode.
    pub requests_not_evaluated: usize,
    /// Decision records: lines that name `hook_status` but are not a whole record (cut by the
    /// log, edited): their decisions are unknown.
    pub unreadable_lines: usize,
    /// Decision records: violations a record counts but does not list (a record lists at most
    /// 100), missing from `byRule`.
    pub findings_not_listed: usize,
}

impl Impact {
    /// Whether anything is, or would be once enforced, refused: what the commands' exit code
    /// says.
    pub fn refuses(&self) -> bool {
        self.totals.refused + self.totals.not_evaluated + self.requests_not_evaluated > 0
            || !self.unreadable_files.is_empty()
    }
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

    fn finish(mut self, source: Source) -> Impact {
        self.impact.version = 1;
        self.impact.source = source;
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
    if pointer.is_empty() || pointer == "/" {
        return "/".to_owned();
    }
    // Segments as written, empty ones too, as rule selectors compare them.
    let segments: Vec<&str> = pointer
        .split('/')
        .skip(1)
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
    for file in files {
        if let Some(reason) = &file.skipped {
            tally.impact.skipped_files.push(LeftOut { path: file.path.clone(), reason: reason.clone() });
            continue;
        }
        let resources = match &file.outcome {
            Ok(resources) => resources,
            Err(reason) => {
                tally.impact.unreadable_files.push(LeftOut { path: file.path.clone(), reason: reason.clone() });
                continue;
            }
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
    tally.finish(Source::StackTemplates)
}

/// One decision record as the overview reads it: the fields of `DecisionRecord` it needs.
#[derive(Debug, serde::Deserialize)]
struct RecordLine {
    type_name: Option<String>,
    logical_id: Option<String>,
    stack: Option<String>,
    account: Option<String>,
    verdict: String,
    hook_status: String,
    #[serde(default)]
    violations: usize,
    #[serde(default)]
    would_refuse: bool,
    #[serde(default)]
    findings: Vec<RecordedFinding>,
}

impl RecordLine {
    fn is_record(&self) -> bool {
        matches!(self.hook_status.as_str(), "SUCCESS" | "FAILED")
            && matches!(
                self.verdict.as_str(),
                "compliant" | "non-compliant" | "tolerated" | "exempt" | "internal-failure"
            )
    }
}

/// Why decision records cannot be summarised.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} is JSON but not the output of `aws logs filter-log-events` (an object with `events`)")]
    NotEvents { path: String },
    #[error("no rcfge decision records (JSON lines with `verdict` and `hook_status`) in {paths}")]
    NoRecords { paths: String },
}

/// A resource as decision records name it: account, stack, type, logical ID.
type ResourceKey = (String, String, String, String);

/// The last answer about one resource.
struct Answer {
    outcome: Outcome,
    findings: Vec<RecordedFinding>,
}

/// Reads the hook's decision records, file by file and line by line, keeping only the last
/// answer about each resource, so that memory grows with the resources, not the log.
#[derive(Default)]
pub struct RecordsReader {
    decisions: usize,
    requests_not_evaluated: usize,
    unreadable_lines: usize,
    findings_not_listed: usize,
    latest: BTreeMap<ResourceKey, Answer>,
    paths: Vec<String>,
}

impl RecordsReader {
    /// Reads one exported log: JSON lines, each optionally after a timestamp (`aws logs tail`,
    /// an S3 export once unzipped), or the JSON that `aws logs filter-log-events --output
    /// json` prints (`{"events": [{"message": ...}]}`). Lines that do not name `hook_status`
    /// (the runtime's own) are passed over.
    pub fn read(&mut self, path: &str, mut input: impl std::io::BufRead) -> Result<(), RecordsError> {
        let read_error = |source| RecordsError::Read { path: path.to_owned(), source };
        self.paths.push(path.to_owned());
        let mut first = String::new();
        input.read_line(&mut first).map_err(read_error)?;
        let starts_document = first.trim() == "{" || first.trim_start().starts_with("{\"events\"");
        if starts_document {
            // The pretty-printed output of filter-log-events: one document.
            let mut rest = first;
            input.read_to_string(&mut rest).map_err(read_error)?;
            let document: Value =
                serde_json::from_str(&rest).map_err(|_| RecordsError::NotEvents { path: path.to_owned() })?;
            let Some(Value::Array(events)) = document.get("events") else {
                return Err(RecordsError::NotEvents { path: path.to_owned() });
            };
            for message in events.iter().filter_map(|e| e.get("message")?.as_str()) {
                self.line(message);
            }
            return Ok(());
        }
        self.line(&first);
        let mut line = String::new();
        loop {
            line.clear();
            if input.read_line(&mut line).map_err(read_error)? == 0 {
                return Ok(());
            }
            self.line(&line);
        }
    }

    fn line(&mut self, line: &str) {
        if !line.contains("\"hook_status\"") {
            return;
        }
        let record = line.find('{').and_then(|start| serde_json::from_str::<RecordLine>(line[start..].trim()).ok());
        match record {
            Some(record) if record.is_record() => self.record(record),
            _ => self.unreadable_lines += 1,
        }
    }

    fn record(&mut self, record: RecordLine) {
        self.decisions += 1;
        let account = record.account.clone().unwrap_or_else(|| "(unknown)".to_owned());
        let stack = record.stack.clone().unwrap_or_default();
        let Some(type_name) = record.type_name.clone() else {
            self.requests_not_evaluated += 1;
            return;
        };
        if matches!(type_name.as_str(), "STACK" | "CHANGE_SET") {
            // A whole target: its findings name their resources; a fault names none.
            if record.verdict == "internal-failure" {
                self.requests_not_evaluated += 1;
            }
            let mut resources: BTreeMap<(String, String), Vec<RecordedFinding>> = BTreeMap::new();
            for finding in record.findings {
                let key =
                    (finding.type_name.clone().unwrap_or_default(), finding.logical_id.clone().unwrap_or_default());
                resources.entry(key).or_default().push(finding);
            }
            for ((type_name, logical_id), findings) in resources {
                let outcome = if findings.iter().any(|f| f.outcome == "refused") {
                    Outcome::Refused
                } else if findings.iter().any(|f| f.outcome == "audit") {
                    Outcome::WouldRefuse
                } else {
                    Outcome::Waived
                };
                self.latest
                    .insert((account.clone(), stack.clone(), type_name, logical_id), Answer { outcome, findings });
            }
            return;
        }
        let outcome = match record.verdict.as_str() {
            "compliant" | "exempt" => Outcome::Compliant,
            "non-compliant" => Outcome::Refused,
            "tolerated" if record.would_refuse => Outcome::WouldRefuse,
            "tolerated" => Outcome::Waived,
            _ => Outcome::NotEvaluated,
        };
        self.findings_not_listed += record.violations.saturating_sub(record.findings.len());
        let logical_id = record.logical_id.clone().unwrap_or_default();
        self.latest.insert((account, stack, type_name, logical_id), Answer { outcome, findings: record.findings });
    }

    /// The overview of every record read; an error when none was found.
    pub fn finish(self) -> Result<Impact, RecordsError> {
        if self.decisions == 0 {
            return Err(RecordsError::NoRecords { paths: self.paths.join(", ") });
        }
        let mut tally = Tally::default();
        for ((account, _, type_name, _), answer) in &self.latest {
            tally.resource(type_name, account, answer.outcome);
            for finding in &answer.findings {
                let waiver = finding.waiver.as_deref();
                tally.finding(type_name, &finding.property, &finding.rule, &finding.outcome, waiver);
            }
        }
        tally.impact.decisions = self.decisions;
        tally.impact.requests_not_evaluated = self.requests_not_evaluated;
        tally.impact.unreadable_lines = self.unreadable_lines;
        tally.impact.findings_not_listed = self.findings_not_listed;
        Ok(tally.finish(Source::DecisionRecords))
    }
}

/// Groups shown per section of the text overview; JSON and HTML list them all.
pub const TEXT_GROUPS: usize = 20;

/// What the overview is about, in words: `16 resources (stack templates)`.
fn about(impact: &Impact) -> String {
    let resources = plural(impact.resources, "resource");
    match impact.source {
        Source::StackTemplates => format!("{resources} in stack templates"),
        Source::DecisionRecords => {
            format!("{resources}, each by the last of {} decision records about it", impact.decisions)
        }
    }
}

/// `1 resource`, `2 resources`.
pub(crate) fn plural(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// The sections of the overview: a title and its groups.
fn sections(impact: &Impact) -> [(&'static str, &[Group]); 4] {
    let place = match impact.source {
        Source::StackTemplates => "By file (resources)",
        Source::DecisionRecords => "By account (resources)",
    };
    [
        ("By type (resources)", &impact.by_type),
        ("By rule (violations)", &impact.by_rule),
        (place, &impact.by_place),
        ("By waiver (violations waived)", &impact.by_waiver),
    ]
}

/// What the reader should know besides the counts: files left out, records that could not be
/// read, findings not listed.
fn caveats(impact: &Impact) -> Vec<String> {
    let mut caveats = Vec::new();
    if !impact.unreadable_files.is_empty() {
        caveats.push(format!(
            "{} could not be read or parsed (rcfge validate refuses them): {}",
            plural(impact.unreadable_files.len(), "file"),
            list(&impact.unreadable_files)
        ));
    }
    if !impact.skipped_files.is_empty() {
        caveats.push(format!(
            "{} found in the directories are not stack templates and were skipped: {}",
            plural(impact.skipped_files.len(), "file"),
            list(&impact.skipped_files)
        ));
    }
    if impact.requests_not_evaluated > 0 {
        caveats.push(format!(
            "{} refused before any resource was known (a malformed event, a payload that could not be fetched): \
             refused in any mode",
            plural(impact.requests_not_evaluated, "request")
        ));
    }
    if impact.unreadable_lines > 0 {
        caveats.push(format!(
            "{} name hook_status but are not whole decision records (cut or edited): their decisions are not counted",
            plural(impact.unreadable_lines, "line")
        ));
    }
    if impact.findings_not_listed > 0 {
        caveats.push(format!(
            "{} are counted by their records but not listed (a record lists at most 100): they are missing from \
             the rules",
            plural(impact.findings_not_listed, "violation")
        ));
    }
    caveats
}

/// The first few files of a list, with their reasons.
fn list(files: &[LeftOut]) -> String {
    let mut shown: Vec<String> = files.iter().take(TEXT_GROUPS).map(|f| format!("{} ({})", f.path, f.reason)).collect();
    if files.len() > TEXT_GROUPS {
        shown.push(format!("and {} more", files.len() - TEXT_GROUPS));
    }
    shown.join(", ")
}

/// The overview as text.
pub fn text(impact: &Impact) -> String {
    let t = &impact.totals;
    let mut out = String::new();
    let _ = writeln!(out, "What enforcing today would refuse, from {}:", about(impact));
    let _ = writeln!(out, "  refused now            {:>7}", t.refused);
    let _ = writeln!(out, "  refused once enforced  {:>7}  (audit mode today)", t.would_refuse);
    let _ = writeln!(out, "  not evaluated          {:>7}  (refused in any mode)", t.not_evaluated);
    let _ = writeln!(out, "  waived                 {:>7}", t.waived);
    let _ = writeln!(out, "  compliant              {:>7}", impact.compliant);
    if impact.not_judged > 0 {
        let _ = writeln!(out, "  left to deploy time    {:>7}", impact.not_judged);
    }
    for caveat in caveats(impact) {
        let _ = writeln!(out, "  note: {}", super::terminal_safe(&caveat));
    }
    for (title, groups) in sections(impact) {
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
    if !impact.by_rule.is_empty() {
        out.push_str(
            "\nA rule covers every violation at or under its pointer (`/` is the whole resource); check what else it \
             covers before naming it in enforcement.rules or a waiver.\n",
        );
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
         .note{color:#9a6700}\n\
         .refused{fill:#cf222e;color:#cf222e}.would{fill:#d4a72c;color:#9a6700}.failed{fill:#6e7781;color:#57606a}.waived{fill:#0969da;color:#0969da}\n\
         </style></head><body>\n",
    );
    let _ = writeln!(out, "<h1>What enforcing today would refuse</h1>\n<p>From {}.</p>", escape(&about(impact)));
    for caveat in caveats(impact) {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", escape(&caveat));
    }
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
    for (title, groups) in sections(impact) {
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
        "<svg role=\"img\" aria-label=\"resources by type: refused now, once enforced, not evaluated, waived\" width=\"{}\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">",
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

/// `text` for HTML text and attribute values: the five markup characters as entities, and,
/// as in the text report, every character that could reorder or break what is shown (bidi
/// controls, line separators, control characters) as its visible escape.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in super::terminal_safe(text).chars() {
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

    fn summarize(texts: &[&str]) -> Result<Impact, RecordsError> {
        let mut reader = RecordsReader::default();
        for text in texts {
            reader.read("x", text.as_bytes())?;
        }
        reader.finish()
    }

    #[test]
    fn records_are_found_in_every_export_shape() {
        let line = r#"{"type_name":"AWS::S3::Bucket","logical_id":"B","stack":"s","account":"111122223333","verdict":"tolerated","hook_status":"SUCCESS","violations":1,"would_refuse":true,"findings":[{"property":"/Tags/0/Key","rule":"pattern","outcome":"audit"}]}"#;
        let lines = format!("START RequestId: x\n2026-12-07T05:00:00.000Z {line}\nnot json {{\n");
        let wrapped =
            serde_json::to_string_pretty(&serde_json::json!({"events": [{"message": line}, {"message": "END"}]}))
                .unwrap();
        for text in [lines, wrapped] {
            let impact = summarize(&[&text]).unwrap();
            assert_eq!(impact.totals.would_refuse, 1);
            assert_eq!(impact.by_rule[0].key, "AWS::S3::Bucket /Tags/*/Key");
            assert_eq!(impact.by_place[0].key, "111122223333");
            assert_eq!(impact.unreadable_lines, 0);
        }
        assert!(matches!(summarize(&["{}\nhello"]), Err(RecordsError::NoRecords { .. })));
        assert!(matches!(summarize(&["{\n  \"a\": 1\n}"]), Err(RecordsError::NotEvents { .. })));
    }

    #[test]
    fn each_resource_counts_once_with_its_last_answer() {
        let stack = r#"{"type_name":"STACK","logical_id":"s","stack":"s","account":"1","verdict":"compliant","hook_status":"SUCCESS","findings":[{"type_name":"AWS::S3::Bucket","logical_id":"B","property":"/X","rule":"additionalProperties","outcome":"audit"}]}"#;
        let audited = r#"{"type_name":"AWS::S3::Bucket","logical_id":"B","stack":"s","account":"1","verdict":"tolerated","hook_status":"SUCCESS","violations":1,"would_refuse":true,"findings":[{"property":"/X","rule":"additionalProperties","outcome":"audit"}]}"#;
        let fixed = r#"{"type_name":"AWS::S3::Bucket","logical_id":"B","stack":"s","account":"1","verdict":"compliant","hook_status":"SUCCESS"}"#;
        let cut = &audited[..audited.len() - 20];
        let stray = r#"{"verdict":"maybe","hook_status":1}"#;
        let impact = summarize(&[&[stack, audited, cut, stray].join("\n")]).unwrap();
        assert_eq!((impact.decisions, impact.resources, impact.totals.would_refuse), (2, 1, 1));
        assert_eq!(impact.by_rule[0].counts.would_refuse, 1);
        assert_eq!(impact.unreadable_lines, 2);
        let impact = summarize(&[&[stack, audited].join("\n"), fixed]).unwrap();
        assert_eq!((impact.resources, impact.compliant, impact.totals.would_refuse), (1, 1, 0));
        assert!(!impact.refuses());
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
