//! Enforce or audit: the `enforcement` object of `_settings.json`. The organisation's default,
//! then, from the least to the most specific, the baseline, a service or a type, and one rule of
//! a type:
//!
//! ```json
//! "enforcement": {
//!   "default": "enforce",
//!   "baseline": "audit",
//!   "types": { "AWS::Lambda::*": "audit", "AWS::Lambda::Permission": "enforce" },
//!   "rules": { "AWS::S3::Bucket": { "/LoggingConfiguration": "audit", "guard/s3_bucket_ssl": "audit" } }
//! }
//! ```
//!
//! The most specific entry that matches a violation decides its mode; without the object,
//! every violation is enforced.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

use crate::decision::{TemplateKind, Violation};

/// Whether a violation refuses the resource or is only reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Enforce,
    Audit,
}

/// The organisation's enforcement settings, as `_settings.json` states them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Enforcement {
    #[serde(default)]
    pub default: Mode,
    /// For resources the generated baseline judges (no reviewed template).
    #[serde(default)]
    pub baseline: Option<Mode>,
    /// By type (`AWS::S3::Bucket`) or service (`AWS::Lambda::*`).
    #[serde(default)]
    pub types: BTreeMap<String, Mode>,
    /// By type, then by rule (see [`RuleSelector`]).
    #[serde(default)]
    pub rules: BTreeMap<String, BTreeMap<String, Mode>>,
}

/// An entry of the enforcement settings that cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnforcementError {
    #[error("`{entry}` in enforcement.{field} is neither a type name (AWS::S3::Bucket) nor a service (AWS::S3::*)")]
    BadType { field: &'static str, entry: String },
    #[error("`{rule}` in enforcement.rules.{type_name}: {reason}")]
    BadRule { type_name: String, rule: String, reason: String },
}

impl Enforcement {
    /// Checks every type name and rule selector, so that a typo is refused instead of never
    /// matching.
    pub fn check(&self) -> Result<(), EnforcementError> {
        for entry in self.types.keys() {
            if !is_type_pattern(entry, true) {
                return Err(EnforcementError::BadType { field: "types", entry: entry.clone() });
            }
        }
        for (type_name, rules) in &self.rules {
            if !is_type_pattern(type_name, false) {
                return Err(EnforcementError::BadType { field: "rules", entry: type_name.clone() });
            }
            for rule in rules.keys() {
                RuleSelector::parse(rule).map_err(|reason| EnforcementError::BadRule {
                    type_name: type_name.clone(),
                    rule: rule.clone(),
                    reason,
                })?;
            }
        }
        Ok(())
    }

    /// The mode of one violation of a resource of `type_name`, judged by `kind`.
    pub fn mode_for(&self, type_name: &str, kind: Option<TemplateKind>, violation: &Violation) -> Mode {
        let by_rule = self.rules.get(type_name).and_then(|rules| {
            rules
                .iter()
                .filter_map(|(rule, mode)| RuleSelector::parse(rule).ok().map(|selector| (selector, *mode)))
                .filter(|(selector, _)| selector.matches(violation))
                .max_by_key(|(selector, _)| selector.specificity())
                .map(|(_, mode)| mode)
        });
        let by_type = || self.types.get(type_name).copied();
        let by_service = || {
            let service = type_name.rsplit_once("::").map(|(service, _)| format!("{service}::*"))?;
            self.types.get(&service).copied()
        };
        let by_baseline = || self.baseline.filter(|_| kind == Some(TemplateKind::Baseline));
        by_rule.or_else(by_type).or_else(by_service).or_else(by_baseline).unwrap_or(self.default)
    }
}

/// Whether `entry` is a type name (`AWS::S3::Bucket`) or, when `service` allows it, a whole
/// service (`AWS::S3::*`): `::`-separated segments of letters and digits.
pub fn is_type_pattern(entry: &str, service: bool) -> bool {
    let (name, arity) = match entry.strip_suffix("::*") {
        Some(prefix) if service => (prefix, 2),
        Some(_) => return false,
        None => (entry, 3),
    };
    let segments: Vec<&str> = name.split("::").collect();
    segments.len() == arity && segments.iter().all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Which violations of a type a rule names: a Guard rule (`guard/NAME`: the violations it
/// reported), or a property (`/BucketEncryption`, `/Tags/*/Key`: the violations at it or
/// inside it; `*` stands for any one key or index; `/` is the whole resource).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleSelector {
    Guard(String),
    Property(Vec<String>),
}

impl RuleSelector {
    pub fn parse(text: &str) -> Result<Self, String> {
        if let Some(name) = text.strip_prefix("guard/") {
            let plain = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            return if plain { Ok(RuleSelector::Guard(text.to_owned())) } else { Err("not a Guard rule name".into()) };
        }
        let Some(rest) = text.strip_prefix('/') else {
            return Err("a rule is a property pointer (/BucketEncryption) or a Guard rule (guard/NAME)".into());
        };
        if rest.is_empty() {
            return Ok(RuleSelector::Property(Vec::new()));
        }
        let segments: Vec<String> = rest.split('/').map(str::to_owned).collect();
        if segments.iter().any(String::is_empty) {
            return Err("a property pointer has no empty segments".into());
        }
        Ok(RuleSelector::Property(segments))
    }

    /// Whether the violation is one this selector names.
    pub fn matches(&self, violation: &Violation) -> bool {
        match self {
            RuleSelector::Guard(rule) => violation.keyword == *rule,
            RuleSelector::Property(segments) => {
                if violation.keyword.starts_with("guard/") {
                    // A Guard rule points at the first property it checked, which says little
                    // about which rule it is: only `/` (the whole resource) covers it.
                    return segments.is_empty();
                }
                let found: Vec<&str> = violation.pointer.split('/').skip(1).filter(|s| !s.is_empty()).collect();
                segments.len() <= found.len()
                    && segments.iter().zip(&found).all(|(want, got)| want == "*" || want == got)
            }
        }
    }

    /// How narrow the selector is: a Guard rule is narrowest, then deeper pointers.
    pub fn specificity(&self) -> usize {
        match self {
            RuleSelector::Guard(_) => usize::MAX,
            RuleSelector::Property(segments) => segments.len(),
        }
    }

    /// Whether it names every violation of its type.
    pub fn is_whole_resource(&self) -> bool {
        matches!(self, RuleSelector::Property(segments) if segments.is_empty())
    }
}

impl fmt::Display for RuleSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleSelector::Guard(rule) => f.write_str(rule),
            RuleSelector::Property(segments) => write!(f, "/{}", segments.join("/")),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn violation(pointer: &str, keyword: &str) -> Violation {
        Violation::new(pointer.into(), keyword.into(), None, String::new(), String::new())
    }

    #[test]
    fn the_most_specific_entry_decides() {
        let enforcement: Enforcement = serde_json::from_value(json!({
            "default": "enforce",
            "baseline": "audit",
            "types": {"AWS::Lambda::*": "audit", "AWS::Lambda::Permission": "enforce"},
            "rules": {"AWS::S3::Bucket": {"/Logging": "audit", "/Logging/DestinationBucketName": "enforce", "guard/ssl": "audit"}}
        }))
        .unwrap();
        enforcement.check().unwrap();
        let reviewed = Some(TemplateKind::Reviewed);
        let mode = |t: &str, kind, v: &Violation| enforcement.mode_for(t, kind, v);
        let any = violation("/X", "additionalProperties");
        assert_eq!(mode("AWS::Lambda::Function", reviewed, &any), Mode::Audit);
        assert_eq!(mode("AWS::Lambda::Permission", reviewed, &any), Mode::Enforce);
        assert_eq!(mode("AWS::SQS::Queue", reviewed, &any), Mode::Enforce);
        assert_eq!(mode("AWS::SQS::Queue", Some(TemplateKind::Baseline), &any), Mode::Audit);
        assert_eq!(mode("AWS::S3::Bucket", reviewed, &violation("/Logging/Prefix", "pattern")), Mode::Audit);
        let destination = violation("/Logging/DestinationBucketName", "pattern");
        assert_eq!(mode("AWS::S3::Bucket", reviewed, &destination), Mode::Enforce);
        assert_eq!(mode("AWS::S3::Bucket", reviewed, &violation("/", "guard/ssl")), Mode::Audit);
        assert_eq!(mode("AWS::S3::Bucket", reviewed, &violation("/LoggingX", "pattern")), Mode::Enforce);
    }

    #[test]
    fn selectors() {
        let tags = RuleSelector::parse("/Tags/*/Key").unwrap();
        assert!(tags.matches(&violation("/Tags/3/Key", "pattern")));
        assert!(!tags.matches(&violation("/Tags/3/Value", "pattern")));
        assert!(!tags.matches(&violation("/Tags", "maxItems")));
        assert!(RuleSelector::parse("/").unwrap().matches(&violation("/", "guard/x")));
        assert!(!RuleSelector::parse("/A").unwrap().matches(&violation("/A", "guard/x")));
        for bad in ["A", "", "//A", "/A/", "guard/", "guard/a b"] {
            assert!(RuleSelector::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn typos_are_refused() {
        for bad in [
            json!({"types": {"AWS::S3": "audit"}}),
            json!({"rules": {"AWS::S3::*": {"/A": "audit"}}}),
            json!({"rules": {"AWS::S3::Bucket": {"A": "audit"}}}),
        ] {
            let enforcement: Enforcement = serde_json::from_value(bad.clone()).unwrap();
            assert!(enforcement.check().is_err(), "{bad}");
        }
        for bad in [json!({"default": "warn"}), json!({"mode": "audit"})] {
            assert!(serde_json::from_value::<Enforcement>(bad.clone()).is_err(), "{bad}");
        }
    }
}
