//! Organisation settings: `_settings.json` beside the templates, written by the security team
//! and never by a stack. It says whether the generated baseline judges the types that have no
//! reviewed template, which types must have a reviewed template regardless, and what is only
//! audited while the control is rolled out (see [`Enforcement`]).
//!
//! ```json
//! {
//!   "baseline": "on",
//!   "reviewedTemplateRequired": ["AWS::IAM::*", "AWS::KMS::*"],
//!   "enforcement": { "default": "enforce", "baseline": "audit" }
//! }
//! ```
//!
//! Without the file the baseline is off: a source that holds only reviewed templates keeps
//! refusing every other type. A file that does not parse fails every decision that needs it.

use serde::Deserialize;

use crate::rollout::enforcement::EnforcementFile;
use crate::rollout::enforcement::is_type_pattern;
use crate::rollout::{Enforcement, EnforcementError};
use crate::template::store::StoreError;

/// The file, at the root of every source, that holds the organisation settings.
pub const SETTINGS_FILE: &str = "_settings.json";

/// The organisation's choices, as `_settings.json` states them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// Whether a type without a reviewed template is judged by its baseline.
    pub baseline: bool,
    /// Type names (`AWS::IAM::Role`) or whole services (`AWS::IAM::*`) that only a reviewed
    /// template may judge.
    pub reviewed_template_required: Vec<String>,
    /// What is enforced and what only audited; everything is enforced without it.
    pub enforcement: Enforcement,
}

/// Why `_settings.json` cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SettingsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("not valid settings: {0}")]
    Invalid(serde_json::Error),
    #[error(
        "`{entry}` in reviewedTemplateRequired is neither a type name (AWS::IAM::Role) nor a service (AWS::IAM::*)"
    )]
    BadTypePattern { entry: String },
    #[error(transparent)]
    Enforcement(#[from] EnforcementError),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SettingsFile {
    baseline: Switch,
    #[serde(default)]
    reviewed_template_required: Vec<String>,
    #[serde(default)]
    enforcement: EnforcementFile,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum Switch {
    On,
    Off,
}

/// Parses `_settings.json`: every key known, every value well formed.
pub(crate) fn parse_settings(body: &[u8]) -> Result<Settings, SettingsError> {
    let value = crate::json::from_slice(body).map_err(SettingsError::Invalid)?;
    let file: SettingsFile = serde_json::from_value(value).map_err(SettingsError::Invalid)?;
    for entry in &file.reviewed_template_required {
        if !is_type_pattern(entry, true) {
            return Err(SettingsError::BadTypePattern { entry: entry.clone() });
        }
    }
    let enforcement = Enforcement::from_file(file.enforcement)?;
    Ok(Settings {
        baseline: matches!(file.baseline, Switch::On),
        reviewed_template_required: file.reviewed_template_required,
        enforcement,
    })
}

impl Settings {
    /// The entry that requires a reviewed template for `type_name`, if any. Matching ignores
    /// case, as template file names do: `aws::iam::role` must not escape `AWS::IAM::*`.
    pub fn requires_reviewed_template(&self, type_name: &str) -> Option<&str> {
        let lower = type_name.to_ascii_lowercase();
        self.reviewed_template_required
            .iter()
            .find(|entry| match entry.strip_suffix('*') {
                Some(service) => lower.starts_with(&service.to_ascii_lowercase()),
                None => entry.eq_ignore_ascii_case(type_name),
            })
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_form() {
        let settings =
            parse_settings(br#"{"baseline": "on", "reviewedTemplateRequired": ["AWS::IAM::*", "AWS::KMS::Key"]}"#)
                .unwrap();
        assert!(settings.baseline);
        assert_eq!(settings.requires_reviewed_template("AWS::IAM::User"), Some("AWS::IAM::*"));
        assert_eq!(settings.requires_reviewed_template("aws::iam::user"), Some("AWS::IAM::*"));
        assert_eq!(settings.requires_reviewed_template("AWS::KMS::Key"), Some("AWS::KMS::Key"));
        assert_eq!(settings.requires_reviewed_template("AWS::KMS::Alias"), None);
        assert_eq!(settings.requires_reviewed_template("AWS::IAMX::User"), None);
        assert!(!parse_settings(br#"{"baseline": "off"}"#).unwrap().baseline);
    }

    #[test]
    fn anything_unexpected_is_refused() {
        for bad in [
            r#"{}"#,
            r#"{"baseline": true}"#,
            r#"{"baseline": "On"}"#,
            r#"{"baseline": "on", "baseLine": "off"}"#,
            r#"{"baseline": "on", "reviewedTemplateRequired": ["AWS::IAM"]}"#,
            r#"{"baseline": "on", "reviewedTemplateRequired": ["AWS::*"]}"#,
            r#"{"baseline": "on", "reviewedTemplateRequired": ["AWS::IAM::Ro*"]}"#,
            r#"{"baseline": "on", "reviewedTemplateRequired": "AWS::IAM::*"}"#,
            r#"{"baseline": "on", "enforcement": {"default": "warn"}}"#,
            r#"{"baseline": "on", "enforcement": {"types": {"AWS::S3": "audit"}}}"#,
            r#"{"baseline": "on", "baseline": "off"}"#,
            "[]",
        ] {
            assert!(parse_settings(bad.as_bytes()).is_err(), "{bad} accepted");
        }
    }
}
