//! The hook's answer, exactly in the Lambda Hook wire format: `hookStatus`, `errorCode` on
//! FAILED, a `message` of at most 1024 characters that leads with the resource and the first
//! reasons, the echoed `clientRequestToken`, and one annotation per violation.

use serde::Serialize;

use crate::decision::{Decision, Disposition, TemplateKind, Verdict, Violation};
use crate::json::shorten;
use crate::stack::{Judgement, ResourceReport};
use crate::template::store::file_name_for_type;

/// Cloud Control truncates messages at 1024 characters; CloudFormation at 4096.
pub const MAX_MESSAGE_CHARS: usize = 1024;
const MAX_ANNOTATION_NAME_CHARS: usize = 1024;
/// Annotations per response; with 16 KiB each at most, the response stays far below the
/// 6 MB Lambda limit.
pub const MAX_ANNOTATIONS: usize = 100;
const MAX_ANNOTATION_TEXT_CHARS: usize = 16384;

/// The JSON a Lambda Hook returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HookResponse {
    pub hook_status: HookStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<ErrorCode>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_request_token: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<Annotation>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HookStatus {
    Success,
    Failed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum ErrorCode {
    /// Evaluated and refused.
    NonCompliant,
    /// Could not be evaluated.
    InternalFailure,
}

/// One finding, readable with `GetHookResult`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Annotation {
    pub annotation_name: String,
    pub status: AnnotationStatus,
    pub status_message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity_level: Option<Severity>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AnnotationStatus {
    Passed,
    Failed,
    Skipped,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    High,
    Critical,
}

/// `", judged by the baseline"` after the type of a resource the generated baseline judged,
/// so that nobody takes its answer for a reviewed template's.
fn judged_by(kind: Option<TemplateKind>) -> &'static str {
    match kind {
        Some(TemplateKind::Baseline) => ", judged by the baseline",
        Some(TemplateKind::Reviewed) | None => "",
    }
}

impl HookResponse {
    /// The answer for a judged resource.
    pub fn from_decision(decision: &Decision, token: Option<String>) -> Self {
        let judged_by = judged_by(decision.template_kind);
        let subject = format!("{} ({}{judged_by})", decision.logical_id, decision.type_name);
        let prefix = annotation_prefix(&decision.type_name);
        let version =
            decision.template_version.as_deref().map(|v| format!(" (template version {v})")).unwrap_or_default();
        let (hook_status, error_code, message, annotations) = match &decision.verdict {
            Verdict::Compliant => {
                let approved = match decision.template_kind {
                    Some(TemplateKind::Baseline) => "compliant with the baseline template (no reviewed template yet)",
                    _ => "compliant with the approved template",
                };
                let what = decision.note.clone().unwrap_or_else(|| approved.to_owned());
                let status = if decision.note.is_some() { AnnotationStatus::Skipped } else { AnnotationStatus::Passed };
                let annotation = plain_annotation(&prefix, status, format!("{what}{version}"));
                (HookStatus::Success, None, format!("{subject}: {what}"), vec![annotation])
            }
            Verdict::Exempt => {
                let what = decision.note.clone().unwrap_or_else(|| "exempt".to_owned());
                let annotation = plain_annotation(&prefix, AnnotationStatus::Skipped, what.clone());
                (HookStatus::Success, None, format!("{subject}: allowed without a template: {what}"), vec![annotation])
            }
            Verdict::NonCompliant(violations) => {
                let enforced: Vec<&Violation> = violations.iter().filter(|v| v.disposition.is_enforced()).collect();
                let reasons: Vec<&str> = enforced.iter().map(|v| v.message.as_str()).collect();
                let message = format!(
                    "{subject}: {}: {}{}",
                    count(enforced.len(), "violation"),
                    reasons.join("; "),
                    also_allowed(violations)
                );
                let annotations = violation_annotations(&prefix, violations);
                (HookStatus::Failed, Some(ErrorCode::NonCompliant), message, annotations)
            }
            Verdict::Tolerated(violations) => {
                let message = format!("{subject}: allowed: {}", tolerated_reasons(violations));
                let annotations = violation_annotations(&prefix, violations);
                (HookStatus::Success, None, message, annotations)
            }
            Verdict::InternalFailure(error) => {
                let message = format!("{subject}: not evaluated, so refused: {error}");
                let annotation = failure_annotation(&prefix, error);
                (HookStatus::Failed, Some(ErrorCode::InternalFailure), message, vec![annotation])
            }
        };
        HookResponse {
            hook_status,
            error_code,
            message: shorten(&message, MAX_MESSAGE_CHARS),
            client_request_token: token,
            annotations,
        }
    }

    /// The answer for a whole STACK or CHANGE_SET target: FAILED when any resource is refused,
    /// listing every refused resource; one annotation per violation, named after the type and
    /// the logical id.
    pub fn from_resources(subject: &str, reports: &[ResourceReport], token: Option<String>) -> Self {
        let refused: Vec<&ResourceReport> = reports.iter().filter(|r| r.refuses()).collect();
        if refused.is_empty() {
            let judged = reports.iter().filter(|r| r.decision().is_some()).count();
            let left = reports.len() - judged;
            // A resource with values known only at deploy time was judged in part: say so, and
            // which values the resource-level check is left to judge.
            let in_part: Vec<&ResourceReport> =
                reports.iter().filter(|r| r.decision().is_some() && !r.deferred.is_empty()).collect();
            let (tolerated, tolerated_annotations) = tolerated_resources(reports);
            let mut message = match tolerated.len() {
                0 => format!("{subject}: {judged} resources compliant with the approved templates"),
                n => format!(
                    "{subject}: {judged} resources allowed: {} compliant with the approved templates, {} only by audit \
                     mode or waivers: {}",
                    judged - n,
                    n,
                    tolerated.join(" | ")
                ),
            };
            if !in_part.is_empty() {
                message.push_str(&format!(
                    " ({} of them judged in part: values known only at deploy time are left to the resource-level check)",
                    in_part.len()
                ));
            }
            if left > 0 {
                message.push_str(&format!("; {left} left to the resource-level check"));
            }
            let mut annotations = vec![plain_annotation("rcfge", AnnotationStatus::Passed, message.clone())];
            annotations.extend(tolerated_annotations);
            for report in in_part {
                let prefix = format!("{}/{}", annotation_prefix(&report.type_name), report.logical_id);
                let values: Vec<String> =
                    report.deferred.iter().map(|d| format!("{} ({})", d.pointer, d.function)).collect();
                annotations.push(plain_annotation(
                    &prefix,
                    AnnotationStatus::Skipped,
                    format!(
                        "{} ({}): judged in part; left to the resource-level check: {}",
                        report.logical_id,
                        report.type_name,
                        values.join(", ")
                    ),
                ));
            }
            return HookResponse {
                hook_status: HookStatus::Success,
                error_code: None,
                message: shorten(&message, MAX_MESSAGE_CHARS),
                client_request_token: token,
                annotations: capped(annotations),
            };
        }
        let mut evaluated_all = true;
        let mut reasons = Vec::with_capacity(refused.len());
        let mut annotations = Vec::new();
        for report in &refused {
            let judged_by = judged_by(report.decision().and_then(|d| d.template_kind));
            let resource = format!("{} ({}{judged_by})", report.logical_id, report.type_name);
            let prefix = format!("{}/{}", annotation_prefix(&report.type_name), report.logical_id);
            match &report.judgement {
                Judgement::Decided(Decision { verdict: Verdict::NonCompliant(violations), .. }) => {
                    // One line per resource, so every refused resource fits in the message;
                    // the annotations carry every violation.
                    let enforced: Vec<&Violation> = violations.iter().filter(|v| v.disposition.is_enforced()).collect();
                    let first = enforced.first().map(|v| v.message.as_str()).unwrap_or_default();
                    reasons.push(match enforced.len() {
                        1 => format!("{resource}: {first}"),
                        n => format!("{resource}: {n} violations (first: {first})"),
                    });
                    annotations.extend(violations.iter().map(|v| violation_annotation(&prefix, v)));
                }
                Judgement::Decided(Decision { verdict: Verdict::InternalFailure(error), .. }) => {
                    evaluated_all = false;
                    reasons.push(format!("{resource}: not evaluated: {error}"));
                    annotations.push(failure_annotation(&prefix, error));
                }
                Judgement::Invalid(error) => {
                    evaluated_all = false;
                    reasons.push(format!("{resource}: invalid template: {error}"));
                    annotations.push(failure_annotation(&prefix, error));
                }
                Judgement::Decided(_) | Judgement::NotJudged(_) => {}
            }
        }
        annotations.extend(tolerated_resources(reports).1);
        let error_code = if evaluated_all { ErrorCode::NonCompliant } else { ErrorCode::InternalFailure };
        let message =
            format!("{subject}: {} of {} resources refused: {}", refused.len(), reports.len(), reasons.join(" | "));
        HookResponse {
            hook_status: HookStatus::Failed,
            error_code: Some(error_code),
            message: shorten(&message, MAX_MESSAGE_CHARS),
            client_request_token: token,
            annotations: capped(annotations),
        }
    }

    /// The answer when the request itself could not be judged (malformed event, unsupported
    /// target).
    pub fn internal_failure(error: &dyn std::fmt::Display, token: Option<String>) -> Self {
        HookResponse {
            hook_status: HookStatus::Failed,
            error_code: Some(ErrorCode::InternalFailure),
            message: shorten(&format!("rcfge refused the request: {error}"), MAX_MESSAGE_CHARS),
            client_request_token: token,
            annotations: vec![failure_annotation("rcfge", error)],
        }
    }
}

/// The resources of a whole target that only audit mode or waivers let pass: one line each for
/// the message, and an annotation per violation.
fn tolerated_resources(reports: &[ResourceReport]) -> (Vec<String>, Vec<Annotation>) {
    let mut lines = Vec::new();
    let mut annotations = Vec::new();
    for report in reports {
        if let Judgement::Decided(Decision { verdict: Verdict::Tolerated(violations), template_kind, .. }) =
            &report.judgement
        {
            let judged_by = judged_by(*template_kind);
            lines.push(format!(
                "{} ({}{judged_by}): {}",
                report.logical_id,
                report.type_name,
                tolerated_reasons(violations)
            ));
            let prefix = format!("{}/{}", annotation_prefix(&report.type_name), report.logical_id);
            annotations.extend(violations.iter().map(|v| violation_annotation(&prefix, v)));
        }
    }
    (lines, annotations)
}

/// `1 violation`, `2 violations`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// What the rollout let pass beside the enforced violations of a refused resource:
/// ` (also 1 audited, 2 waived)`, or nothing.
fn also_allowed(violations: &[Violation]) -> String {
    let audited = violations.iter().filter(|v| v.disposition == Disposition::Audited).count();
    let waived = violations.iter().filter(|v| matches!(v.disposition, Disposition::Waived(_))).count();
    match (audited, waived) {
        (0, 0) => String::new(),
        (a, 0) => format!(" (also {a} audited)"),
        (0, w) => format!(" (also {w} waived)"),
        (a, w) => format!(" (also {a} audited, {w} waived)"),
    }
}

/// Why a tolerated resource passed: what audit mode would refuse, then what is waived.
fn tolerated_reasons(violations: &[Violation]) -> String {
    let audited: Vec<&str> =
        violations.iter().filter(|v| v.disposition == Disposition::Audited).map(|v| v.message.as_str()).collect();
    let waived: Vec<String> = violations
        .iter()
        .filter_map(|v| match &v.disposition {
            Disposition::Waived(w) => Some(format!("{} (waiver {} until {})", v.message, w.waiver, w.expires)),
            _ => None,
        })
        .collect();
    let mut parts = Vec::new();
    if !audited.is_empty() {
        parts.push(format!(
            "audit mode: {} would refuse it when enforced: {}",
            count(audited.len(), "violation"),
            audited.join("; ")
        ));
    }
    if !waived.is_empty() {
        parts.push(format!("{} waived: {}", count(waived.len(), "violation"), waived.join("; ")));
    }
    parts.join("; ")
}

/// `rcfge/aws-s3-bucket`: groups a type's annotations.
fn annotation_prefix(type_name: &str) -> String {
    let stem = file_name_for_type(type_name).map(|f| f.trim_end_matches(".json").to_owned());
    format!("rcfge/{}", stem.unwrap_or_else(|_| "unknown-type".to_owned()))
}

/// One annotation per violation, up to [`MAX_ANNOTATIONS`]; past that, one more says how many
/// were left out, so that a hostile resource cannot blow the response past Lambda's limits.
fn violation_annotations(prefix: &str, violations: &[Violation]) -> Vec<Annotation> {
    if violations.len() <= MAX_ANNOTATIONS {
        return violations.iter().map(|v| violation_annotation(prefix, v)).collect();
    }
    let shown = MAX_ANNOTATIONS - 1;
    let mut annotations: Vec<Annotation> =
        violations[..shown].iter().map(|v| violation_annotation(prefix, v)).collect();
    let left_out = violations.len() - shown;
    annotations.push(Annotation {
        annotation_name: prefix.to_owned(),
        status: AnnotationStatus::Failed,
        status_message: format!("{left_out} more violations are not listed; run rcfge validate to see them all"),
        remediation_message: None,
        severity_level: Some(Severity::High),
    });
    annotations
}

/// A violation's annotation. An audited one is `FAILED` (the check did fail) and says it did not
/// refuse; a waived one is `SKIPPED` and names its waiver: the annotation statuses are only
/// PASSED, FAILED and SKIPPED.
fn violation_annotation(prefix: &str, violation: &Violation) -> Annotation {
    let location = violation.pointer.trim_start_matches('/');
    let name = if location.is_empty() { prefix.to_owned() } else { format!("{prefix}/{location}") };
    let finding = format!("{}: {}", violation.pointer, violation.message);
    let (status, status_message, severity_level) = match &violation.disposition {
        Disposition::Enforced => (AnnotationStatus::Failed, finding, Some(Severity::High)),
        Disposition::Audited => (
            AnnotationStatus::Failed,
            format!("AUDIT: would refuse the resource when enforced: {finding}"),
            Some(Severity::High),
        ),
        Disposition::Waived(w) => (
            AnnotationStatus::Skipped,
            format!("WAIVED by {} (approved by {}, until {}): {finding}", w.waiver, w.approver, w.expires),
            None,
        ),
    };
    Annotation {
        annotation_name: shorten(&name, MAX_ANNOTATION_NAME_CHARS),
        status,
        status_message: shorten(&status_message, MAX_ANNOTATION_TEXT_CHARS),
        remediation_message: Some(shorten(&violation.remediation, MAX_ANNOTATION_TEXT_CHARS)),
        severity_level,
    }
}

/// At most [`MAX_ANNOTATIONS`]; past that, the last one says how many were left out.
fn capped(mut annotations: Vec<Annotation>) -> Vec<Annotation> {
    if annotations.len() <= MAX_ANNOTATIONS {
        return annotations;
    }
    let left_out = annotations.len() - (MAX_ANNOTATIONS - 1);
    annotations.truncate(MAX_ANNOTATIONS - 1);
    annotations.push(Annotation {
        annotation_name: "rcfge".to_owned(),
        status: AnnotationStatus::Failed,
        status_message: format!("{left_out} more findings are not listed; run rcfge validate to see them all"),
        remediation_message: None,
        severity_level: Some(Severity::High),
    });
    annotations
}

fn failure_annotation(prefix: &str, error: &dyn std::fmt::Display) -> Annotation {
    Annotation {
        annotation_name: shorten(prefix, MAX_ANNOTATION_NAME_CHARS),
        status: AnnotationStatus::Failed,
        status_message: shorten(&error.to_string(), MAX_ANNOTATION_TEXT_CHARS),
        remediation_message: Some(
            "rcfge fails closed when it cannot evaluate a resource; fix the cause named above, or ask the security team".to_owned(),
        ),
        severity_level: Some(Severity::Critical),
    }
}

fn plain_annotation(prefix: &str, status: AnnotationStatus, message: String) -> Annotation {
    Annotation {
        annotation_name: shorten(prefix, MAX_ANNOTATION_NAME_CHARS),
        status,
        status_message: shorten(&message, MAX_ANNOTATION_TEXT_CHARS),
        remediation_message: None,
        severity_level: None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::decision::{Action, Fault};

    fn decision(verdict: Verdict) -> Decision {
        Decision {
            type_name: "AWS::S3::Bucket".into(),
            logical_id: "Receipts".into(),
            action: Action::Create,
            verdict,
            template_version: Some("v1".into()),
            template_kind: Some(crate::decision::TemplateKind::Reviewed),
            note: None,
            cache: None,
            compiled: false,
        }
    }

    fn violation(i: usize) -> Violation {
        Violation {
            pointer: format!("/P{i}"),
            keyword: "additionalProperties".into(),
            value: Some("1".into()),
            message: format!("P{i} is not an approved property of AWS::S3::Bucket"),
            remediation: "Remove it".into(),
            position: None,
            when: None,
            alternatives: Vec::new(),
            disposition: Disposition::Enforced,
            always_enforced: None,
        }
    }

    #[test]
    fn success_has_no_error_code() {
        let response = HookResponse::from_decision(&decision(Verdict::Compliant), Some("t".into()));
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(json["hookStatus"], "SUCCESS");
        assert!(json.get("errorCode").is_none());
        assert_eq!(json["clientRequestToken"], "t");
        assert_eq!(json["annotations"][0]["status"], "PASSED");
    }

    #[test]
    fn non_compliant_lists_every_violation() {
        let response =
            HookResponse::from_decision(&decision(Verdict::NonCompliant(vec![violation(1), violation(2)])), None);
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(json["hookStatus"], "FAILED");
        assert_eq!(json["errorCode"], "NonCompliant");
        assert!(json.get("clientRequestToken").is_none());
        assert!(
            response.message.starts_with("Receipts (AWS::S3::Bucket): 2 violations: P1 is not an approved property")
        );
        assert_eq!(json["annotations"].as_array().unwrap().len(), 2);
        assert_eq!(
            json["annotations"][0],
            json!({
                "annotationName": "rcfge/aws-s3-bucket/P1",
                "status": "FAILED",
                "statusMessage": "/P1: P1 is not an approved property of AWS::S3::Bucket",
                "remediationMessage": "Remove it",
                "severityLevel": "HIGH"
            })
        );
    }

    #[test]
    fn long_messages_are_cut_to_the_limit() {
        let many: Vec<_> = (0..250).map(violation).collect();
        let response = HookResponse::from_decision(&decision(Verdict::NonCompliant(many)), None);
        assert_eq!(response.message.chars().count(), MAX_MESSAGE_CHARS);
        assert_eq!(response.annotations.len(), MAX_ANNOTATIONS);
        assert!(response.annotations[MAX_ANNOTATIONS - 1].status_message.starts_with("151 more violations"));
    }

    #[test]
    fn internal_failure() {
        let message = "no template for AWS::S3::Bucket in directory t: the type is not approved".to_owned();
        let fault = Fault { message, missing_variables: Vec::new() };
        let response = HookResponse::from_decision(&decision(Verdict::InternalFailure(fault)), None);
        assert_eq!(response.hook_status, HookStatus::Failed);
        assert_eq!(response.error_code, Some(ErrorCode::InternalFailure));
        assert!(response.message.contains("no template for AWS::S3::Bucket"), "{}", response.message);
    }
}
