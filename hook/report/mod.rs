//! What `rcfge validate` prints: per file, per resource, every reason; and the exit code.
//! Text lives here; the machine formats have a file each.

pub mod json;
pub mod junit;
pub mod sarif;

use std::fmt::Write;

use crate::cfn::ResourceReport;
use crate::context::is_builtin_variable;
use crate::position::Position;
use crate::verdict::Verdict;

/// Exit codes of `rcfge validate`.
pub mod exit {
    /// Every resource is compliant (or exempt).
    pub const CLEAN: u8 = 0;
    /// A resource is non-compliant, or could not be evaluated (no template, broken template).
    pub const FINDINGS: u8 = 1;
    /// A file could not be read or parsed, or a placeholder needs a flag that was not given.
    pub const USAGE: u8 = 2;
}

/// One stack template's results, or why it could not be judged.
#[derive(Debug)]
pub struct FileReport {
    pub path: String,
    pub outcome: Result<Vec<ResourceReport>, String>,
}

/// The exit code for a run over these files.
pub fn exit_code(files: &[FileReport]) -> u8 {
    let resources = || files.iter().filter_map(|f| f.outcome.as_ref().ok()).flatten();
    let usage = files.iter().any(|f| f.outcome.is_err())
        || resources()
            .any(|r| matches!(&r.decision.verdict, Verdict::InternalFailure(e) if !e.missing_variables().is_empty()));
    if usage {
        exit::USAGE
    } else if resources().any(|r| !r.decision.verdict.allows()) {
        exit::FINDINGS
    } else {
        exit::CLEAN
    }
}

/// The flag (or other action) that gives a placeholder its value when validating locally.
pub fn hint_for_variable(name: &str) -> String {
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

/// `text` on one line, cut to `max` characters.
pub fn shorten_line(text: &str, max: usize) -> String {
    crate::validate::shorten(&text.replace('\n', " "), max)
}

/// Resource counts over a run.
#[derive(Default)]
pub struct Summary {
    pub compliant: usize,
    pub refused: usize,
    pub failed: usize,
    pub unreadable: usize,
}

impl Summary {
    pub fn of(files: &[FileReport]) -> Self {
        let mut summary = Summary::default();
        for file in files {
            let Ok(resources) = &file.outcome else {
                summary.unreadable += 1;
                continue;
            };
            for report in resources {
                match report.decision.verdict {
                    Verdict::Compliant | Verdict::Exempt => summary.compliant += 1,
                    Verdict::NonCompliant(_) => summary.refused += 1,
                    Verdict::InternalFailure(_) => summary.failed += 1,
                }
            }
        }
        summary
    }

    pub fn resources(&self) -> usize {
        self.compliant + self.refused + self.failed
    }
}

/// The human-readable report.
pub fn text(files: &[FileReport]) -> String {
    text_styled(files, false)
}

/// The human-readable report, with the verdict labels coloured when `colour` is set (a
/// terminal that has not asked for `NO_COLOR`).
pub fn text_styled(files: &[FileReport], colour: bool) -> String {
    let label = |text: &str, code: &str| if colour { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() };
    let (pass, exempt, fail, error) =
        (label("PASS  ", "32"), label("EXEMPT", "36"), label("FAIL  ", "31"), label("ERROR ", "1;31"));
    let mut out = String::new();
    let (mut compliant, mut refused, mut failed) = (0, 0, 0);
    for file in files {
        let _ = writeln!(out, "{}", file.path);
        let resources = match &file.outcome {
            Ok(resources) => resources,
            Err(reason) => {
                let _ = writeln!(out, "  {error} cannot validate this file: {reason}");
                continue;
            }
        };
        for report in resources {
            let decision = &report.decision;
            let subject = format!("{} ({})", decision.logical_id, decision.type_name);
            match &decision.verdict {
                Verdict::Compliant => {
                    compliant += 1;
                    let _ = writeln!(out, "  {pass} {subject}");
                }
                Verdict::Exempt => {
                    compliant += 1;
                    let note = decision.note.as_deref().unwrap_or("exempt");
                    let _ = writeln!(out, "  {exempt} {subject}: {note}");
                }
                Verdict::NonCompliant(violations) => {
                    refused += 1;
                    let count = if violations.len() == 1 {
                        "1 violation".to_owned()
                    } else {
                        format!("{} violations", violations.len())
                    };
                    let _ = writeln!(out, "  {fail} {subject}: {count}");
                    for v in violations {
                        let _ = writeln!(
                            out,
                            "           {}: {}: {}",
                            located(&file.path, v.position),
                            v.pointer,
                            v.message
                        );
                    }
                }
                Verdict::InternalFailure(failure) => {
                    failed += 1;
                    let _ = writeln!(out, "  {error} {subject}: {failure}");
                    for name in failure.missing_variables() {
                        let _ = writeln!(out, "           hint: {}", hint_for_variable(name));
                    }
                }
            }
            for d in &report.deferred {
                let at = located(&file.path, d.position);
                let _ = writeln!(out, "           {at}: {}: checked at deploy time ({})", d.pointer, d.function);
            }
        }
    }
    let total = compliant + refused + failed;
    let unreadable = files.iter().filter(|f| f.outcome.is_err()).count();
    let _ = write!(out, "{total} resources: {compliant} compliant, {refused} non-compliant, {failed} not evaluated");
    if unreadable > 0 {
        let _ = write!(out, "; {unreadable} files could not be read");
    }
    out.push('\n');
    out
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
        let files = [FileReport { path: "x.yaml".into(), outcome: Err("broken".into()) }];
        assert!(text_styled(&files, true).contains("\x1b[1;31mERROR \x1b[0m cannot validate"));
        assert!(!text(&files).contains('\x1b'));
    }

    #[test]
    fn an_unreadable_file_is_a_usage_error() {
        let files = [FileReport { path: "x.yaml".into(), outcome: Err("not valid YAML".into()) }];
        assert_eq!(exit_code(&files), exit::USAGE);
        assert!(text(&files).contains("ERROR  cannot validate this file: not valid YAML"));
    }
}
