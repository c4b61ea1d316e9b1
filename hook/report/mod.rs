//! What the CLI prints: for `rcfge validate`, per file, per resource, every reason, and the
//! exit code (text here; the machine formats have a file each), or the overview of what
//! enforcing would refuse (`impact`, also for `rcfge decisions summarize`); for `rcfge render`,
//! why a template cannot be rendered; for `rcfge hook`, the table of replayed events
//! (`events`).

pub mod events;
pub mod impact;
pub mod json;
pub mod junit;
pub mod sarif;

use std::borrow::Cow;
use std::fmt::Write;

use crate::decision::{Disposition, Fault, Position, TemplateKind, Verdict, Violation, is_builtin_variable};
use crate::stack::{FileReport, Judgement, ResourceReport};

/// Exit codes of `rcfge validate`.
pub mod exit {
    /// Every resource is allowed: compliant, exempt, or allowed by audit mode or waivers.
    pub const CLEAN: u8 = 0;
    /// A resource is non-compliant, or could not be evaluated (no template, broken template).
    pub const FINDINGS: u8 = 1;
    /// A file could not be read or parsed, or a placeholder needs a flag that was not given.
    pub const USAGE: u8 = 2;
}

/// The exit code for a run over these files.
pub fn exit_code(files: &[FileReport]) -> u8 {
    let resources = || files.iter().filter_map(|f| f.outcome.as_ref().ok()).flatten();
    let usage = files.iter().any(|f| f.outcome.is_err())
        || resources().any(|r| match &r.judgement {
            Judgement::Invalid(_) => true,
            Judgement::Decided(decision) => {
                matches!(&decision.verdict, Verdict::InternalFailure(e) if !e.missing_variables.is_empty())
            }
            Judgement::NotJudged(_) => false,
        });
    if usage {
        exit::USAGE
    } else if resources().any(ResourceReport::refuses) {
        exit::FINDINGS
    } else {
        exit::CLEAN
    }
}

/// What `rcfge render` prints on stderr when the template cannot be rendered (the fault, then a
/// hint for each placeholder without a value), and its exit code: a missing value is a flag
/// not given, anything else a finding.
pub fn render_failure(fault: &Fault) -> (String, u8) {
    let mut text = format!("rcfge: {fault}\n");
    for name in &fault.missing_variables {
        text.push_str(&format!("hint: {}\n", hint_for_variable(name)));
    }
    (text, if fault.missing_variables.is_empty() { exit::FINDINGS } else { exit::USAGE })
}

/// The flag (or other action) that gives a placeholder its value when validating locally.
pub(crate) fn hint_for_variable(name: &str) -> String {
    match name {
        "accountId" => "pass --account-id".to_owned(),
        "region" => "pass --region".to_owned(),
        "partition" => "pass --partition (or --region)".to_owned(),
        "stackName" => "pass --stack-name".to_owned(),
        other if is_builtin_variable(other) => format!("`{other}` is only known when the hook runs"),
        other => format!("pass --var {other}=VALUE, or define it in _variables.json"),
    }
}

/// `file:line:col`, or the file alone when the position is unknown.
fn located(file: &str, position: Option<Position>) -> String {
    match position {
        Some(position) => format!("{file}:{position}"),
        None => file.to_owned(),
    }
}

/// `text` on one line, cut to `max` characters, with no control character left raw.
pub(crate) fn shorten_line(text: &str, max: usize) -> String {
    crate::json::shorten(&terminal_safe(&text.replace('\n', " ")), max)
}

/// Whether `c` must not reach a terminal (or a reader) raw: C0 controls (`\n`, `\r`, `\t`,
/// ESC, ...), DEL and the C1 controls U+0080–U+009F, which move the cursor, erase lines or
/// start escape sequences; the Unicode bidi embeddings, overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069), which reorder what is shown; and the line and paragraph separators
/// U+2028/U+2029, which some viewers break lines at.
pub(crate) fn is_unsafe_char(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

/// The visible stand-in for a character that [`is_unsafe_char`]: `\n`, `\r`, `\t`, or
/// `\u{1b}` (Rust's escape syntax, lowercase hex).
pub(crate) fn visible_escape(c: char, out: &mut String) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        other => {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(other));
        }
    }
}

/// `text` fit for a terminal: every character that `is_unsafe_char` shown as its
/// `visible_escape`, so that text from a template (a logical ID, a property key, a value
/// quoted in a message) can neither start a line of its own, nor fake or erase one with
/// escape sequences, nor reorder what is shown. Everything else is kept as it is; a
/// backslash is not doubled, since no sequence of visible characters can move the cursor.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe_char(c) {
            visible_escape(c, &mut out);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Resource counts over a run.
#[derive(Default)]
pub struct Summary {
    pub compliant: usize,
    pub refused: usize,
    /// Could not be evaluated: no template, a broken one, invalid intrinsic functions.
    pub failed: usize,
    /// Left to the hook at deploy time (transforms, deploy-time conditions).
    pub not_judged: usize,
    pub unreadable: usize,
    /// Judged (compliant or not) by a generated baseline template, not a reviewed one.
    pub by_baseline: usize,
    /// Allowed although violations were found: each one audited or waived.
    pub tolerated: usize,
    /// Of those, allowed only because audit mode reports instead of refusing.
    pub would_refuse: usize,
    /// Resources with a waived violation (allowed or not).
    pub waived: usize,
    /// Files found in a directory that are not stack templates.
    pub skipped_files: usize,
}

impl Summary {
    pub fn of(files: &[FileReport]) -> Self {
        let mut summary = Summary::default();
        for file in files {
            summary.skipped_files += usize::from(file.skipped.is_some());
            let Ok(resources) = &file.outcome else {
                summary.unreadable += 1;
                continue;
            };
            for report in resources {
                if report.decision().and_then(|d| d.template_kind) == Some(TemplateKind::Baseline) {
                    summary.by_baseline += 1;
                }
                let verdict = report.decision().map(|d| &d.verdict);
                if verdict
                    .is_some_and(|v| v.violations().iter().any(|v| matches!(v.disposition, Disposition::Waived(_))))
                {
                    summary.waived += 1;
                }
                match &report.judgement {
                    Judgement::Decided(decision) => match &decision.verdict {
                        Verdict::Compliant | Verdict::Exempt => summary.compliant += 1,
                        Verdict::NonCompliant(_) => summary.refused += 1,
                        Verdict::Tolerated(_) => {
                            summary.tolerated += 1;
                            summary.would_refuse += usize::from(decision.verdict.would_refuse());
                        }
                        Verdict::InternalFailure(_) => summary.failed += 1,
                    },
                    Judgement::NotJudged(_) => summary.not_judged += 1,
                    Judgement::Invalid(_) => summary.failed += 1,
                }
            }
        }
        summary
    }

    pub fn resources(&self) -> usize {
        self.compliant + self.refused + self.tolerated + self.failed + self.not_judged
    }
}

/// The human-readable report.
pub fn text(files: &[FileReport]) -> String {
    text_styled(files, TextOptions::default())
}

/// How the human-readable report is shown.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextOptions {
    /// Colour the verdict labels (a terminal that has not asked for `NO_COLOR`).
    pub colour: bool,
    /// Show only what needs action: refused resources, resources that could not be judged and
    /// files that could not be read, with their findings (`rcfge validate --quiet`). The counts
    /// still cover everything.
    pub failures_only: bool,
}

/// The human-readable report: each file, its resources in template order with their findings
/// in the order of their lines, a count per file when there are several, and the counts.
pub fn text_styled(files: &[FileReport], options: TextOptions) -> String {
    let colour = options.colour;
    let label = |text: &str, code: &str| if colour { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() };
    let labels = Labels {
        pass: label("PASS  ", "32"),
        exempt: label("EXEMPT", "36"),
        fail: label("FAIL  ", "31"),
        error: label("ERROR ", "1;31"),
        skip: label("SKIP  ", "33"),
        note: label("NOTE  ", "36"),
        audit: label("AUDIT ", "33"),
        waived: label("WAIVED", "36"),
    };
    let mut out = String::new();
    let shown: Vec<&FileReport> = files.iter().filter(|f| f.skipped.is_none()).collect();
    for &file in &shown {
        let resources: Vec<&ResourceReport> = match &file.outcome {
            Ok(resources) => resources.iter().filter(|r| !options.failures_only || r.refuses()).collect(),
            Err(_) => Vec::new(),
        };
        if options.failures_only && file.outcome.is_ok() && resources.is_empty() {
            continue;
        }
        line(&mut out, "", &file.path);
        for note in file.notes.iter().filter(|_| !options.failures_only) {
            line(&mut out, &format!("  {} ", labels.note), note);
        }
        match &file.outcome {
            Ok(_) => resources.iter().for_each(|report| write_resource(&mut out, &file.path, report, &labels)),
            Err(reason) => {
                line(&mut out, &format!("  {} ", labels.error), &format!("cannot validate this file: {reason}"));
            }
        }
        if shown.len() > 1 && file.outcome.is_ok() {
            let counts = Summary::of(std::slice::from_ref(file));
            line(&mut out, "  ", &format!("{}: {}", file.path, counts.counts()));
        }
    }
    let summary = Summary::of(files);
    out.push_str(&summary.counts());
    // A file that is read but is no template, or not one CloudFormation would take, is not
    // "unreadable": the line above it says why.
    let files = |n: usize| impact::plural(n, "file");
    if summary.unreadable > 0 {
        let _ = write!(out, "; {} could not be validated", files(summary.unreadable));
    }
    if summary.skipped_files > 0 {
        let _ = write!(out, "; {} skipped (not stack templates)", files(summary.skipped_files));
    }
    if summary.by_baseline > 0 {
        let _ = write!(out, "; {} judged by the baseline, not a reviewed template", summary.by_baseline);
    }
    out.push('\n');
    out
}

impl Summary {
    /// `N resources: N compliant, N non-compliant, N not evaluated`, and the other counts that
    /// are not zero.
    fn counts(&self) -> String {
        let summary = self;
        let mut out = format!(
            "{} resources: {} compliant, {} non-compliant, {} not evaluated",
            summary.resources(),
            summary.compliant,
            summary.refused,
            summary.failed
        );
        if summary.tolerated > 0 {
            let _ = write!(
                out,
                ", {} allowed by audit mode or waivers ({} would be refused when enforced)",
                summary.tolerated, summary.would_refuse
            );
        }
        if summary.not_judged > 0 {
            let _ = write!(out, ", {} left to deploy time", summary.not_judged);
        }
        out
    }
}

struct Labels {
    pass: String,
    exempt: String,
    fail: String,
    error: String,
    skip: String,
    note: String,
    audit: String,
    waived: String,
}

/// Continuation lines line up under the resource name.
const INDENT: &str = "           ";

/// Writes one line of the report: `lead` is the report's own indentation and label (which may
/// carry colour codes), `body` everything else. Nearly every body quotes the stack template
/// (logical IDs, types, JSON pointers built from property keys, values in messages, parameter
/// values), so the whole body is made [`terminal_safe`]: the only line breaks and escape
/// sequences in the report are the report's own.
fn line(out: &mut String, lead: &str, body: &str) {
    out.push_str(lead);
    out.push_str(&terminal_safe(body));
    out.push('\n');
}

fn write_resource(out: &mut String, path: &str, report: &ResourceReport, labels: &Labels) {
    let by_baseline = report.decision().and_then(|d| d.template_kind) == Some(TemplateKind::Baseline);
    let subject = if by_baseline {
        format!("{} ({}, baseline)", report.logical_id, report.type_name)
    } else {
        format!("{} ({})", report.logical_id, report.type_name)
    };
    let label = |label: &str| format!("  {label} ");
    match &report.judgement {
        Judgement::Decided(decision) => match &decision.verdict {
            Verdict::Compliant => line(out, &label(&labels.pass), &subject),
            Verdict::Exempt => {
                let note = decision.note.as_deref().unwrap_or("exempt");
                line(out, &label(&labels.exempt), &format!("{subject}: {note}"));
            }
            Verdict::NonCompliant(violations) => {
                // Counted as the hook counts them: the enforced ones, then what else was found.
                let enforced = violations.iter().filter(|v| v.disposition.is_enforced()).count();
                let count = if enforced == 1 { "1 violation".to_owned() } else { format!("{enforced} violations") };
                let audited = violations.iter().filter(|v| v.disposition == Disposition::Audited).count();
                let waived = violations.len() - enforced - audited;
                let also = match (audited, waived) {
                    (0, 0) => String::new(),
                    (a, 0) => format!(" (also {a} audited)"),
                    (0, w) => format!(" (also {w} waived)"),
                    (a, w) => format!(" (also {a} audited, {w} waived)"),
                };
                line(out, &label(&labels.fail), &format!("{subject}: {count}{also}"));
                write_violations(out, path, report, violations);
            }
            Verdict::Tolerated(violations) => {
                let (lead, what) = if decision.verdict.would_refuse() {
                    (&labels.audit, "allowed in audit mode; enforcing would refuse it")
                } else {
                    (&labels.waived, "allowed by waivers")
                };
                line(out, &label(lead), &format!("{subject}: {what}"));
                write_violations(out, path, report, violations);
            }
            Verdict::InternalFailure(failure) => {
                line(out, &label(&labels.error), &format!("{subject}: {failure}"));
                for name in &failure.missing_variables {
                    line(out, INDENT, &format!("hint: {}", hint_for_variable(name)));
                }
            }
        },
        Judgement::NotJudged(reason) => {
            line(out, &label(&labels.skip), &format!("{subject}: not judged locally: {reason}"));
        }
        Judgement::Invalid(error) => {
            let at = located(path, report.position);
            line(out, &label(&labels.error), &format!("{subject}: {at}: invalid template: {error}"));
        }
    }
    for d in &report.deferred {
        let at = located(path, d.position);
        line(out, INDENT, &format!("{at}: {}: checked at deploy time: {}", d.pointer, d.reason));
    }
    for note in &report.notes {
        line(out, INDENT, &format!("note: {note}"));
    }
}

/// One line per violation, in the order of their lines in the file (those without a position
/// last), each marked `AUDIT` or `WAIVED` when the rollout let it pass.
fn write_violations(out: &mut String, path: &str, report: &ResourceReport, violations: &[Violation]) {
    let mut in_order: Vec<&Violation> = violations.iter().collect();
    in_order.sort_by_key(|v| {
        let position = v.position.or(report.position);
        (position.is_none(), position)
    });
    for v in in_order {
        let when = v.when.as_deref().map(|w| format!(" (when {w})")).unwrap_or_default();
        let at = located(path, v.position.or(report.position));
        let lead = match &v.disposition {
            Disposition::Enforced => String::new(),
            Disposition::Audited => "AUDIT: ".to_owned(),
            Disposition::Waived(w) => format!("WAIVED by {} until {}: ", w.waiver, w.expires),
        };
        line(out, INDENT, &format!("{lead}{at}: {}: {}{when} [{}]", v.pointer, v.message, v.rule_id()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_name_the_flag() {
        assert_eq!(hint_for_variable("accountId"), "pass --account-id");
        assert!(hint_for_variable("stackId").contains("only known when the hook runs"));
        assert!(hint_for_variable("approvedKeys").contains("--var approvedKeys=VALUE"));
    }

    #[test]
    fn labels_are_coloured_only_when_asked() {
        let files = [FileReport::unreadable("x.yaml".into(), "broken".into())];
        let colour = TextOptions { colour: true, ..TextOptions::default() };
        assert!(text_styled(&files, colour).contains("\x1b[1;31mERROR \x1b[0m cannot validate"));
        assert!(!text(&files).contains('\x1b'));
    }

    #[test]
    fn terminal_text_shows_control_characters_as_escapes() {
        assert!(matches!(terminal_safe("Bucket (AWS::S3::Bucket)"), Cow::Borrowed(_)));
        assert_eq!(terminal_safe("a\nb\rc\td"), "a\\nb\\rc\\td");
        assert_eq!(terminal_safe("\u{1b}[2K\u{7f}\u{9b}x"), "\\u{1b}[2K\\u{7f}\\u{9b}x");
        assert_eq!(
            terminal_safe("\u{202e}gpj.exe\u{2066}\u{2069}\u{2028}"),
            "\\u{202e}gpj.exe\\u{2066}\\u{2069}\\u{2028}"
        );
        assert_eq!(terminal_safe("é ü 中 \u{a0}"), "é ü 中 \u{a0}");
        assert_eq!(shorten_line("one\ntwo\u{1b}[1A", 100), "one two\\u{1b}[1A");
    }

    #[test]
    fn an_unreadable_file_is_a_usage_error() {
        let files = [FileReport::unreadable("x.yaml".into(), "not valid YAML".into())];
        assert_eq!(exit_code(&files), exit::USAGE);
        assert!(text(&files).contains("ERROR  cannot validate this file: not valid YAML"));
    }
}
