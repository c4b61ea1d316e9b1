//! The rollout stage: what the organisation lets through while it switches the control on. It
//! runs after a resource is judged and before it is answered, and touches only violations:
//!
//! ```text
//! Verdict::NonCompliant(violations) ─► waivers (_waivers.json) ─► enforcement (_settings.json)
//!     ─► every violation Enforced, Audited or Waived ─► NonCompliant, or Tolerated when none is enforced
//! ```
//!
//! Both files are the security team's, published with the templates and never written by a
//! stack; suppressions in a stack template's `Metadata` are not read. Nothing here can turn a
//! fault into a success: a verdict that is not `NonCompliant` is left as it is.

pub mod enforcement;
pub mod waivers;

use serde_json::{Map, Value};

use crate::decision::{Disposition, Verdict, Violation};
pub use enforcement::{Enforcement, EnforcementError, EnforcementFile, Mode, RuleSelector};
pub use waivers::{Date, Subject, WAIVERS_FILE, Waiver, WaiverError, Waivers};

/// The organisation's rollout choices, as loaded for one decision.
pub struct Rollout<'a> {
    pub enforcement: &'a Enforcement,
    pub waivers: &'a Waivers,
    /// The organisation variables that waivers' account lists may name.
    pub variables: &'a Map<String, Value>,
    /// The day waivers are judged on.
    pub today: Date,
}

impl Rollout<'_> {
    /// Applies waivers, then the enforcement mode, to every violation of a `NonCompliant`
    /// verdict; turns it into `Tolerated` when none is left enforced.
    pub fn settle(&self, verdict: &mut Verdict, subject: &Subject<'_>) {
        if let Verdict::NonCompliant(violations) = verdict {
            violations.iter_mut().for_each(|violation| self.settle_violation(violation, subject));
        }
        conclude(verdict);
    }

    /// Applies waivers, then the enforcement mode, to one violation. One that is always
    /// enforced stays so, and says why when the rollout would have let it pass.
    pub fn settle_violation(&self, violation: &mut Violation, subject: &Subject<'_>) {
        let disposition = match self.waivers.find(subject, violation, self.variables, self.today) {
            waivers::Found::Applies(waiver) => Disposition::Waived(waiver.usage()),
            found => {
                if let waivers::Found::Expired(waiver) = found {
                    // Say why a waiver the team relies on no longer helps, in the message every
                    // output shows.
                    violation.message =
                        format!("{} (waiver {} expired on {})", violation.message, waiver.id, waiver.expires);
                }
                match self.enforcement.mode_for(subject.type_name, subject.judged_as, subject.template_kind, violation)
                {
                    Mode::Audit => Disposition::Audited,
                    Mode::Enforce => Disposition::Enforced,
                }
            }
        };
        match violation.always_enforced {
            Some(why) if !disposition.is_enforced() => {
                violation.message = format!("{} (audit mode and waivers do not apply: {why})", violation.message);
            }
            Some(_) => {}
            None => violation.disposition = disposition,
        }
    }
}

/// Turns a `NonCompliant` verdict whose violations are none of them enforced into `Tolerated`.
pub fn conclude(verdict: &mut Verdict) {
    if let Verdict::NonCompliant(violations) = verdict
        && violations.iter().all(|v| !v.disposition.is_enforced())
    {
        *verdict = Verdict::Tolerated(std::mem::take(violations));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::decision::{Context, TemplateKind};

    fn violation(pointer: &str, keyword: &str) -> Violation {
        Violation::new(pointer.into(), keyword.into(), None, format!("{pointer} is wrong"), "Fix it".into())
    }

    fn context() -> Context {
        Context {
            account_id: Some("111122223333".into()),
            stack_name: Some("legacy-analytics".into()),
            ..Context::default()
        }
    }

    fn today() -> Date {
        Date::parse("2026-12-07").unwrap()
    }

    #[test]
    fn audit_tolerates_and_a_waiver_waives_only_what_it_names() {
        let context = context();
        let subject = Subject {
            type_name: "AWS::S3::Bucket",
            judged_as: "AWS::S3::Bucket",
            logical_id: "Raw",
            template_kind: Some(TemplateKind::Reviewed),
            context: &context,
        };
        let waivers = Waivers::parse(
            json!({"maxLifetimeDays": 90, "waivers": [{
                "id": "W-1", "type": "AWS::S3::Bucket", "rule": "/BucketEncryption",
                "accounts": ["111122223333"], "reason": "migration", "approver": "sec@example.com",
                "created": "2026-12-01", "expires": "2027-01-31"
            }]})
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        let none = Map::new();
        let enforce = Enforcement::default();
        let mut verdict = Verdict::NonCompliant(vec![
            violation("/BucketEncryption/ServerSideEncryptionConfiguration", "required"),
            violation("/NewFeature", "additionalProperties"),
        ]);
        Rollout { enforcement: &enforce, waivers: &waivers, variables: &none, today: today() }
            .settle(&mut verdict, &subject);
        let Verdict::NonCompliant(violations) = &verdict else { panic!("{verdict:?}") };
        assert!(matches!(&violations[0].disposition, Disposition::Waived(w) if w.waiver == "W-1"));
        assert!(violations[1].disposition.is_enforced());

        let audit = Enforcement::from_file(serde_json::from_value(json!({"default": "audit"})).unwrap()).unwrap();
        Rollout { enforcement: &audit, waivers: &waivers, variables: &none, today: today() }
            .settle(&mut verdict, &subject);
        assert!(matches!(verdict, Verdict::Tolerated(_)), "{verdict:?}");
        assert!(verdict.allows() && verdict.would_refuse());
    }

    #[test]
    fn an_always_enforced_violation_stays_so_and_says_why() {
        let context = context();
        let subject = Subject {
            type_name: "AWS::S3::Bucket",
            judged_as: "AWS::S3::Bucket",
            logical_id: "Raw",
            template_kind: None,
            context: &context,
        };
        let audit = Enforcement::from_file(serde_json::from_value(json!({"default": "audit"})).unwrap()).unwrap();
        let mut locked = violation("/", "x-rcfge.denyDelete");
        locked.always_enforced = Some("only the template decides");
        let mut verdict = Verdict::NonCompliant(vec![locked, violation("/A", "additionalProperties")]);
        let (none, variables) = (Waivers::default(), Map::new());
        Rollout { enforcement: &audit, waivers: &none, variables: &variables, today: today() }
            .settle(&mut verdict, &subject);
        let Verdict::NonCompliant(violations) = &verdict else { panic!("{verdict:?}") };
        assert!(violations[0].disposition.is_enforced());
        assert!(violations[0].message.ends_with("(audit mode and waivers do not apply: only the template decides)"));
        assert_eq!(violations[1].disposition, Disposition::Audited);
    }

    #[test]
    fn faults_and_compliant_verdicts_are_left_alone() {
        let context = context();
        let subject = Subject {
            type_name: "AWS::S3::Bucket",
            judged_as: "AWS::S3::Bucket",
            logical_id: "Raw",
            template_kind: None,
            context: &context,
        };
        let audit = Enforcement::from_file(serde_json::from_value(json!({"default": "audit"})).unwrap()).unwrap();
        let fault = crate::decision::Fault { message: "no template".into(), missing_variables: Vec::new() };
        let mut verdict = Verdict::InternalFailure(fault);
        let (none, variables) = (Waivers::default(), Map::new());
        Rollout { enforcement: &audit, waivers: &none, variables: &variables, today: today() }
            .settle(&mut verdict, &subject);
        assert!(!verdict.allows());
    }

    #[test]
    fn an_expired_waiver_says_so_and_refuses() {
        let context = context();
        let subject = Subject {
            type_name: "AWS::S3::Bucket",
            judged_as: "AWS::S3::Bucket",
            logical_id: "Raw",
            template_kind: None,
            context: &context,
        };
        let waivers = Waivers::parse(
            json!({"maxLifetimeDays": 30, "waivers": [{
                "id": "W-2", "type": "AWS::S3::Bucket", "rule": "/NewFeature", "stackName": "legacy-*",
                "reason": "r", "approver": "a", "created": "2026-11-01", "expires": "2026-11-30"
            }]})
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        let mut verdict = Verdict::NonCompliant(vec![violation("/NewFeature", "additionalProperties")]);
        let (enforce, variables) = (Enforcement::default(), Map::new());
        Rollout { enforcement: &enforce, waivers: &waivers, variables: &variables, today: today() }
            .settle(&mut verdict, &subject);
        let Verdict::NonCompliant(violations) = &verdict else { panic!("{verdict:?}") };
        assert!(violations[0].message.ends_with("(waiver W-2 expired on 2026-11-30)"), "{}", violations[0].message);
    }
}
