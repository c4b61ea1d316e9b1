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

/// `enforcement` as written in `_settings.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnforcementFile {
    #[serde(default)]
    default: Mode,
    #[serde(default)]
    baseline: Option<Mode>,
    #[serde(default)]
    types: BTreeMap<String, Mode>,
    #[serde(default)]
    rules: BTreeMap<String, BTreeMap<String, Mode>>,
}

/// The organisation's enforcement settings, checked, with every rule parsed once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Enforcement {
    pub default: Mode,
    /// For resources the generated baseline judges (no reviewed template).
    pub baseline: Option<Mode>,
    /// By type (`AWS::S3::Bucket`, `Custom::Thing`) or service (`AWS::Lambda::*`).
    pub types: BTreeMap<String, Mode>,
    /// By type, the rules (see [`RuleSelector`]) and their modes.
    pub rules: BTreeMap<String, Vec<(RuleSelector, Mode)>>,
}

/// An entry of the enforcement settings that cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnforcementError {
    #[error(
        "`{entry}` in enforcement.{field} is neither a type name (AWS::S3::Bucket, Custom::Thing) nor a service \
         (AWS::S3::*)"
    )]
    BadType { field: &'static str, entry: String },
    #[error("`{rule}` in enforcement.rules.{type_name}: {reason}")]
    BadRule { type_name: String, rule: String, reason: String },
}

impl Enforcement {
    /// Checks the shape of every type name and rule: a malformed entry is refused instead of
    /// never matching. (Whether a well-formed name is a type anybody deploys is for
    /// `rcfge publish` to check against the pinned schemas.)
    pub fn from_file(file: EnforcementFile) -> Result<Enforcement, EnforcementError> {
        for entry in file.types.keys() {
            if !is_type_pattern(entry, true) {
                return Err(EnforcementError::BadType { field: "types", entry: entry.clone() });
            }
        }
        let mut rules = BTreeMap::new();
        for (type_name, entries) in file.rules {
            if !is_type_pattern(&type_name, false) {
                return Err(EnforcementError::BadType { field: "rules", entry: type_name });
            }
            let mut parsed = Vec::with_capacity(entries.len());
            for (rule, mode) in entries {
                let selector = RuleSelector::parse(&rule).map_err(|reason| EnforcementError::BadRule {
                    type_name: type_name.clone(),
                    rule: rule.clone(),
                    reason,
                })?;
                parsed.push((selector, mode));
            }
            rules.insert(type_name, parsed);
        }
        Ok(Enforcement { default: file.default, baseline: file.baseline, types: file.types, rules })
    }

    /// The type names and services the settings name, for checking that they exist.
    pub fn named_types(&self) -> impl Iterator<Item = &str> {
        self.types.keys().chain(self.rules.keys()).map(String::as_str)
    }

    /// The mode of one violation of a resource of `type_name`, judged by `kind` with the
    /// template of `judged_as` (the type itself, or `AWS::CloudFormation::CustomResource` for a
    /// custom resource). Entries for the resource's own type come first, then for the type that
    /// judges it. Of equally specific rules, `enforce` wins.
    pub fn mode_for(
        &self,
        type_name: &str,
        judged_as: &str,
        kind: Option<TemplateKind>,
        violation: &Violation,
    ) -> Mode {
        let names = [type_name, judged_as];
        let by_rule = || {
            names.iter().find_map(|name| {
                self.rules
                    .get(*name)?
                    .iter()
                    .filter(|(selector, _)| selector.matches(violation))
                    .max_by_key(|(selector, mode)| (selector.specificity(), *mode == Mode::Enforce))
            })
        };
        let by_type = || names.iter().find_map(|name| self.types.get(*name).copied());
        let by_service = || {
            names.iter().find_map(|name| {
                let service = name.rsplit_once("::").map(|(service, _)| format!("{service}::*"))?;
                self.types.get(&service).copied()
            })
        };
        let by_baseline = || self.baseline.filter(|_| kind == Some(TemplateKind::Baseline));
        by_rule()
            .map(|(_, mode)| *mode)
            .or_else(by_type)
            .or_else(by_service)
            .or_else(by_baseline)
            .unwrap_or(self.default)
    }
}

/// Whether `entry` is a type name (`AWS::S3::Bucket`, `Custom::Thing`) or, when `service`
/// allows it, a whole service (`AWS::S3::*`): `::`-separated segments of letters and digits
/// (and for a custom resource's name, `_`, `@` and `-`, as CloudFormation allows).
pub fn is_type_pattern(entry: &str, service: bool) -> bool {
    if let Some(name) = entry.strip_prefix("Custom::") {
        return (1..=60).contains(&name.len())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '@' | '-'));
    }
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
                // Segments as written, empty ones too: `/A//B` is not `/A/B`.
                let found: Vec<&str> = match violation.pointer.as_str() {
                    "" | "/" => Vec::new(),
                    pointer => pointer.split('/').skip(1).collect(),
                };
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

    fn parse(value: serde_json::Value) -> Result<Enforcement, EnforcementError> {
        Enforcement::from_file(serde_json::from_value(value).unwrap())
    }

    #[test]
    fn a_custom_resource_takes_the_modes_of_the_template_that_judges_it_and_ties_enforce() {
        let enforcement = parse(json!({
            "default": "audit",
            "types": {"AWS::CloudFormation::CustomResource": "enforce", "Custom::Legacy": "audit"},
            "rules": {"AWS::S3::Bucket": {"/Tags/*": "audit", "/*/0": "enforce"}}
        }))
        .unwrap();
        let any = violation("/ServiceToken", "pattern");
        let custom = "AWS::CloudFormation::CustomResource";
        assert_eq!(enforcement.mode_for("Custom::Anything", custom, None, &any), Mode::Enforce);
        assert_eq!(enforcement.mode_for("Custom::Legacy", custom, None, &any), Mode::Audit);
        let tag = violation("/Tags/0/Key", "pattern");
        assert_eq!(enforcement.mode_for("AWS::S3::Bucket", "AWS::S3::Bucket", None, &tag), Mode::Enforce);
        assert!(!RuleSelector::parse("/A/B").unwrap().matches(&violation("/A//B/C", "pattern")));
    }

    #[test]
    fn the_most_specific_entry_decides() {
        let enforcement = parse(json!({
            "default": "enforce",
            "baseline": "audit",
            "types": {"AWS::Lambda::*": "audit", "AWS::Lambda::Permission": "enforce"},
            "rules": {"AWS::S3::Bucket": {"/Logging": "audit", "/Logging/DestinationBucketName": "enforce", "guard/ssl": "audit"}}
        }))
        .unwrap();
        let reviewed = Some(TemplateKind::Reviewed);
        let mode = |t: &str, kind, v: &Violation| enforcement.mode_for(t, t, kind, v);
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
            assert!(parse(bad.clone()).is_err(), "{bad}");
        }
        for bad in [json!({"default": "warn"}), json!({"mode": "audit"})] {
            assert!(serde_json::from_value::<EnforcementFile>(bad.clone()).is_err(), "{bad}");
        }
    }
}
