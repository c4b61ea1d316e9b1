//! `rcfge templates gaps`: the feature-gating report. For a type, the provider properties (at
//! every depth) that its template does not approve: what a team may ask the security team for.

use std::collections::BTreeSet;
use std::fmt::Write;

use serde_json::Value;

use std::path::Path;

use super::shape::{ancestors, is_under, path_of_property_pointer, property_paths};
use super::{AuthoringError, declared_types, read_json};
use crate::template::store::file_name_for_type;

/// The report for every template of `templates` (or only the one for `type_name`), each against
/// its pinned provider schema in `schemas`.
pub fn for_templates(
    templates: &Path,
    schemas: &Path,
    type_name: Option<&str>,
) -> Result<Vec<GapReport>, AuthoringError> {
    let mut reports = Vec::new();
    let new_properties = super::import::read_new_properties(schemas);
    for (template, declared) in declared_types(templates)? {
        if type_name.is_some_and(|wanted| wanted != declared) {
            continue;
        }
        let provider = read_json(&schemas.join(file_name_for_type(&declared)?))?;
        let new_upstream = new_properties.get(&declared).into_iter().flatten().cloned().collect();
        reports.push(gaps(&declared, &template, &provider, &new_upstream));
    }
    if reports.is_empty() {
        return Err(AuthoringError::NoTemplate { wanted: type_name.unwrap_or("any type").to_owned() });
    }
    Ok(reports)
}

/// What one template leaves out of its provider schema.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct GapReport {
    pub type_name: String,
    /// Provider property paths the template approves.
    pub approved: usize,
    /// Provider property paths a template could approve (read-only ones excluded).
    pub settable: usize,
    /// The outermost properties not approved.
    pub not_approved: Vec<Gap>,
}

/// One property a template does not approve.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Gap {
    pub path: String,
    /// How many properties lie under it.
    pub nested: usize,
    /// How many of it and those appeared since the previous provider schema snapshot.
    pub new: usize,
}

/// Compares a template with its provider schema; `new_upstream` are the property paths that
/// appeared in the provider schema since the previous snapshot.
pub(crate) fn gaps(type_name: &str, template: &Value, provider: &Value, new_upstream: &BTreeSet<String>) -> GapReport {
    let read_only: BTreeSet<String> = provider
        .get("readOnlyProperties")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(path_of_property_pointer)
        .collect();
    let settable: BTreeSet<String> =
        property_paths(provider).into_keys().filter(|p| !read_only.iter().any(|r| p == r || is_under(p, r))).collect();
    let approved: BTreeSet<String> = property_paths(template).into_keys().collect();
    let missing: BTreeSet<&String> = settable.iter().filter(|p| !approved.contains(*p)).collect();
    let mut not_approved = Vec::new();
    for path in &missing {
        if ancestors(path).any(|a| missing.contains(&a)) {
            continue;
        }
        let under: Vec<&&String> = missing.iter().filter(|other| is_under(other, path)).collect();
        let new =
            usize::from(new_upstream.contains(*path)) + under.iter().filter(|p| new_upstream.contains(***p)).count();
        not_approved.push(Gap { path: (*path).clone(), nested: under.len(), new });
    }
    GapReport {
        type_name: type_name.to_owned(),
        approved: settable.iter().filter(|p| approved.contains(*p)).count(),
        settable: settable.len(),
        not_approved,
    }
}

/// The human-readable report for several types.
pub fn text(reports: &[GapReport]) -> String {
    let mut out = String::new();
    for report in reports {
        let _ = writeln!(
            out,
            "{}: {} of {} settable provider properties approved; not approved:",
            report.type_name, report.approved, report.settable
        );
        if report.not_approved.is_empty() {
            out.push_str("  (none)\n");
        }
        for gap in &report.not_approved {
            let mut notes = Vec::new();
            if gap.nested > 0 {
                notes.push(format!("and {} nested", gap.nested));
            }
            match gap.new {
                0 => {}
                1 if gap.nested == 0 => notes.push("new since the last snapshot".to_owned()),
                n => notes.push(format!("{n} new since the last snapshot")),
            }
            if notes.is_empty() {
                let _ = writeln!(out, "  {}", gap.path);
            } else {
                let _ = writeln!(out, "  {} ({})", gap.path, notes.join(", "));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lists_the_outermost_properties_not_approved() {
        let provider = json!({
            "readOnlyProperties": ["/properties/Arn"],
            "properties": {
                "Arn": {"type": "string"},
                "Name": {"type": "string"},
                "Accelerate": {"type": "object", "properties": {"Status": {"type": "string"}, "Mode": {"type": "string"}}},
                "Notify": {"type": "object", "properties": {"Topics": {"type": "array", "items": {"type": "string"}}, "Lambdas": {"type": "array", "items": {"type": "string"}}}}
            }
        });
        let template = json!({"properties": {"Name": {"type": "string"}, "Notify": {"type": "object", "properties": {"Topics": {"type": "array", "items": {"type": "string"}}}}}});
        let new_upstream = BTreeSet::from(["Accelerate.Mode".to_owned(), "Name".to_owned()]);
        let report = gaps("AWS::X::Y", &template, &provider, &new_upstream);
        let listed: Vec<(&str, usize, usize)> =
            report.not_approved.iter().map(|g| (g.path.as_str(), g.nested, g.new)).collect();
        assert_eq!(listed, [("Accelerate", 2, 1), ("Notify.Lambdas", 1, 0)]);
        assert_eq!((report.approved, report.settable), (4, 9));
        assert!(
            text(&[report]).contains(
                "  Accelerate (and 2 nested, 1 new since the last snapshot)\n  Notify.Lambdas (and 1 nested)\n"
            )
        );
    }
}
