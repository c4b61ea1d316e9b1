//! `rcfge templates gaps --since OLD`: what a newer snapshot of the provider schemas adds over
//! an older one, per type: new types, new properties (at every depth), new allowed values.
//!
//! Refreshing the snapshot is the gate: importing a newer snapshot changes `schemas/` only.
//! The baseline stays as it was frozen until `rcfge templates freeze` is run again, and the
//! tests fail until it is, so the widening shows as a reviewable diff of `templates/baseline/`.
//! This report is what that review reads.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::path::Path;

use serde_json::Value;

use super::freeze::provider_files;
use super::shape::property_paths;
use super::{AuthoringError, read_json};

/// What one type gained between two snapshots.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TypeChanges {
    pub type_name: String,
    /// The older snapshot has no schema for the type.
    pub new_type: bool,
    /// Property paths the newer schema has and the older does not.
    pub new_properties: Vec<String>,
    /// (property path, value) pairs newly allowed by an `enum` both schemas have.
    pub new_values: Vec<(String, String)>,
}

/// The changes of every type of `new` (a folder of pinned schemas) over `old` (another such
/// folder, such as `schemas/` as committed before the refresh); types without changes are left
/// out.
pub fn since(old: &Path, new: &Path) -> Result<Vec<TypeChanges>, AuthoringError> {
    let old = by_type(old)?;
    let mut changes = Vec::new();
    for (type_name, schema) in by_type(new)? {
        let found = match old.get(&type_name) {
            None => TypeChanges { type_name, new_type: true, ..TypeChanges::default() },
            Some(before) => compare(type_name, before, &schema),
        };
        if found.new_type || !found.new_properties.is_empty() || !found.new_values.is_empty() {
            changes.push(found);
        }
    }
    Ok(changes)
}

fn by_type(dir: &Path) -> Result<BTreeMap<String, Value>, AuthoringError> {
    let mut schemas = BTreeMap::new();
    for path in provider_files(dir)? {
        let schema = read_json(&path)?;
        if let Some(type_name) = schema.get("typeName").and_then(Value::as_str).map(str::to_owned) {
            schemas.insert(type_name, schema);
        }
    }
    Ok(schemas)
}

fn compare(type_name: String, before: &Value, after: &Value) -> TypeChanges {
    let old_paths = property_paths(before);
    let new_properties = property_paths(after).into_keys().filter(|p| !old_paths.contains_key(p)).collect();
    let old_values = enum_values(before);
    let mut new_values = Vec::new();
    for (path, values) in enum_values(after) {
        // A property that was not enumerated before allowed any value: nothing new.
        let Some(previous) = old_values.get(&path) else { continue };
        new_values.extend(values.difference(previous).map(|v| (path.clone(), v.clone())));
    }
    TypeChanges { type_name, new_type: false, new_properties, new_values }
}

/// The `enum` values of every property path, as JSON text.
fn enum_values(schema: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for (path, info) in property_paths(schema) {
        let mut node = schema.pointer(&info.pointer);
        for _ in 0..16 {
            match node.and_then(|n| n.get("$ref")).and_then(Value::as_str) {
                Some(reference) => node = schema.pointer(reference.trim_start_matches('#')),
                None => break,
            }
        }
        let items = node.and_then(|n| n.get("items")).and_then(|i| i.get("enum"));
        if let Some(Value::Array(values)) = node.and_then(|n| n.get("enum")).or(items) {
            out.insert(path, values.iter().map(Value::to_string).collect());
        }
    }
    out
}

/// The human-readable report.
pub fn text(changes: &[TypeChanges], old: &Path) -> String {
    let mut out = String::new();
    let (mut types, mut properties, mut values) = (0, 0, 0);
    for change in changes {
        if change.new_type {
            types += 1;
            let _ = writeln!(out, "{}: new type", change.type_name);
            continue;
        }
        let _ = writeln!(out, "{}:", change.type_name);
        for path in &change.new_properties {
            properties += 1;
            let _ = writeln!(out, "  + property {path}");
        }
        for (path, value) in &change.new_values {
            values += 1;
            let _ = writeln!(out, "  + value {value} of {path}");
        }
    }
    let _ = writeln!(
        out,
        "since {}: {types} new types, {properties} new properties, {values} new values; \
         none is in the baseline until `rcfge templates freeze` is run and its diff reviewed",
        old.display()
    );
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lists_new_types_properties_and_values() {
        let old = tempfile::tempdir().unwrap();
        let new = tempfile::tempdir().unwrap();
        let write = |dir: &Path, file: &str, schema: Value| std::fs::write(dir.join(file), schema.to_string()).unwrap();
        write(
            old.path(),
            "aws-x-y.json",
            json!({"typeName": "AWS::X::Y", "properties": {"Mode": {"enum": ["a"]}, "Free": {"type": "string"}}}),
        );
        write(
            new.path(),
            "aws-x-y.json",
            json!({"typeName": "AWS::X::Y", "properties": {
                "Mode": {"enum": ["a", "b"]}, "Free": {"enum": ["c"]},
                "Config": {"$ref": "#/definitions/Config"}},
                "definitions": {"Config": {"type": "object", "properties": {"Level": {"type": "integer"}}}}}),
        );
        write(new.path(), "aws-x-z.json", json!({"typeName": "AWS::X::Z", "properties": {}}));
        write(new.path(), "aws-x-same.json", json!({"typeName": "AWS::X::Same", "properties": {}}));
        write(old.path(), "aws-x-same.json", json!({"typeName": "AWS::X::Same", "properties": {}}));
        let changes = since(old.path(), new.path()).unwrap();
        assert_eq!(
            changes,
            [
                TypeChanges {
                    type_name: "AWS::X::Y".into(),
                    new_type: false,
                    new_properties: vec!["Config".into(), "Config.Level".into()],
                    new_values: vec![("Mode".into(), "\"b\"".into())],
                },
                TypeChanges { type_name: "AWS::X::Z".into(), new_type: true, ..TypeChanges::default() },
            ]
        );
        let report = text(&changes, Path::new("before"));
        assert!(
            report.contains("AWS::X::Y:\n  + property Config\n  + property Config.Level\n  + value \"b\" of Mode\n")
        );
        assert!(report.contains("AWS::X::Z: new type\n"));
        assert!(report.contains("since before: 1 new types, 2 new properties, 1 new values"));
    }
}
