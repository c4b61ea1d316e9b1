//! `rcfge templates list`: which types the security team has approved, who reviewed each and
//! when, and whether Guard rules back it; then whether the baseline judges the rest.

use std::path::Path;

use serde_json::Value;

use super::{AuthoringError, declared_types};
use crate::report::terminal_safe;
use crate::template::settings::parse_settings;
use crate::template::{BASELINE_DIR, SETTINGS_FILE};

/// One reviewed template.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listed {
    pub type_name: String,
    /// `x-rcfge.owner`, or `-` when the template names none.
    pub owner: String,
    /// `x-rcfge.reviewed`, or `-`.
    pub reviewed: String,
    /// `x-rcfge.guardRules`: Guard rules judge the type too.
    pub guard_rules: bool,
    /// `x-rcfge.denyDelete`: the type's resources may not be deleted.
    pub deny_delete: bool,
}

/// The reviewed templates of a directory, and what judges every other type.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateList {
    pub reviewed: Vec<Listed>,
    /// How many baseline templates the directory holds.
    pub baseline_templates: usize,
    /// Whether `_settings.json` switches the baseline on; `None` when the file does not parse.
    pub baseline_on: Option<bool>,
}

/// Lists the reviewed templates of `templates`, by type.
pub fn list(templates: &Path) -> Result<TemplateList, AuthoringError> {
    if !templates.is_dir() {
        return Err(AuthoringError::Unreadable { path: templates.to_owned(), reason: "not a folder".to_owned() });
    }
    let text = |meta: Option<&Value>, key: &str| {
        meta.and_then(|m| m.get(key)).and_then(Value::as_str).map_or_else(|| "-".to_owned(), str::to_owned)
    };
    let flag = |meta: Option<&Value>, key: &str| meta.and_then(|m| m.get(key)).and_then(Value::as_bool) == Some(true);
    let mut reviewed: Vec<Listed> = declared_types(templates)?
        .into_iter()
        .map(|(template, type_name)| {
            let meta = template.get("x-rcfge");
            Listed {
                type_name,
                owner: text(meta, "owner"),
                reviewed: text(meta, "reviewed"),
                guard_rules: flag(meta, "guardRules"),
                deny_delete: flag(meta, "denyDelete"),
            }
        })
        .collect();
    reviewed.sort_by(|a, b| a.type_name.cmp(&b.type_name));
    let baseline_templates = std::fs::read_dir(templates.join(BASELINE_DIR))
        .map(|entries| {
            entries.filter_map(Result::ok).filter(|e| e.path().extension().is_some_and(|x| x == "json")).count()
        })
        .unwrap_or(0);
    let baseline_on = match std::fs::read(templates.join(SETTINGS_FILE)) {
        Ok(body) => parse_settings(&body).ok().map(|settings| settings.baseline),
        Err(_) => Some(false),
    };
    Ok(TemplateList { reviewed, baseline_templates, baseline_on })
}

/// What `rcfge templates list` prints: a table, then what judges the other types. Names are
/// shown [`terminal_safe`]: a template file is text from outside the program.
pub fn text(list: &TemplateList) -> String {
    let width = list.reviewed.iter().map(|l| l.type_name.len()).max().unwrap_or(4).max(4);
    let owner_width = list.reviewed.iter().map(|l| l.owner.len()).max().unwrap_or(5).max(5);
    let mut out = format!("{:width$}  {:owner_width$}  {:10}  GUARD  DELETE\n", "TYPE", "OWNER", "REVIEWED");
    for l in &list.reviewed {
        let (guard, delete) = (if l.guard_rules { "yes" } else { "no" }, if l.deny_delete { "denied" } else { "-" });
        let row = format!("{:width$}  {:owner_width$}  {:10}  {guard:5}  {delete}", l.type_name, l.owner, l.reviewed);
        out.push_str(&terminal_safe(&row));
        out.push('\n');
    }
    let with_guard = list.reviewed.iter().filter(|l| l.guard_rules).count();
    let baseline = match list.baseline_on {
        Some(true) => format!(
            "the baseline judges the other types ({} baseline templates), except those {SETTINGS_FILE} lists in \
             reviewedTemplateRequired",
            list.baseline_templates
        ),
        Some(false) => "the baseline is off: every other type is refused".to_owned(),
        None => format!("{SETTINGS_FILE} does not parse: every type without a reviewed template is refused"),
    };
    out.push_str(&format!("{} reviewed templates ({with_guard} with Guard rules); {baseline}\n", list.reviewed.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reviewed_templates_are_listed_by_type_with_their_review() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "aws-sqs-queue.json",
            r#"{"typeName": "AWS::SQS::Queue", "x-rcfge": {"owner": "payments", "reviewed": "2026-12-01", "guardRules": true}}"#,
        );
        write("aws-kms-key.json", r#"{"typeName": "AWS::KMS::Key", "x-rcfge": {"denyDelete": true}}"#);
        write("_settings.json", r#"{"baseline": "off"}"#);
        let listed = list(dir.path()).unwrap();
        assert_eq!(listed.baseline_on, Some(false));
        let text = text(&listed);
        assert_eq!(
            text,
            "TYPE             OWNER     REVIEWED    GUARD  DELETE\n\
             AWS::KMS::Key    -         -           no     denied\n\
             AWS::SQS::Queue  payments  2026-12-01  yes    -\n\
             2 reviewed templates (1 with Guard rules); the baseline is off: every other type is refused\n"
        );
    }
}
