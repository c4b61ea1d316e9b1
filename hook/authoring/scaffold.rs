//! `rcfge templates new TYPE`: a first restricted template from the pinned provider schema,
//! for a human to prune and tighten. Read-only properties are removed, every object node is
//! closed (`additionalProperties: false`), and what draft-07 or rcfge does not understand
//! (CloudFormation-only keywords, AWS-specific formats) is dropped.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::{AuthoringError, DRAFT7_FORMATS, is_known_keyword, read_json};
use crate::template::store::file_name_for_type;

/// The scaffold for `type_name` from its pinned provider schema in `schemas`, as the text of
/// a template file.
pub fn scaffold_text(type_name: &str, schemas: &Path) -> Result<String, AuthoringError> {
    let file_name = file_name_for_type(type_name)?;
    let path = schemas.join(&file_name);
    if !path.exists() {
        let path = path.display().to_string();
        return Err(AuthoringError::NotPinned { type_name: type_name.to_owned(), path });
    }
    let provider = read_json(&path)?;
    let template = scaffold(&provider, &file_name)?;
    let text = serde_json::to_string_pretty(&template).map_err(AuthoringError::Serialize)?;
    Ok(format!("{text}\n"))
}

/// Writes the scaffold for `type_name` into `templates`, unless a template is there already
/// (and `force` is not given); returns the file written.
pub fn write_scaffold(
    type_name: &str,
    schemas: &Path,
    templates: &Path,
    force: bool,
) -> Result<PathBuf, AuthoringError> {
    let text = scaffold_text(type_name, schemas)?;
    let target = templates.join(file_name_for_type(type_name)?);
    if target.exists() && !force {
        return Err(AuthoringError::Exists { path: target.display().to_string() });
    }
    std::fs::write(&target, text)
        .map_err(|source| AuthoringError::Write { path: target.display().to_string(), source })?;
    Ok(target)
}

/// The scaffold for the type described by `provider`, whose pinned file is `file_name`.
pub fn scaffold(provider: &Value, file_name: &str) -> Result<Value, AuthoringError> {
    let type_name = provider.get("typeName").and_then(Value::as_str).ok_or(AuthoringError::NoTypeName)?;
    let mut schema = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "typeName": type_name,
        "description": format!("Restricted {type_name}: (say what this template allows and why)"),
        "x-rcfge": {
            "owner": "(team)",
            "reviewed": "(date)",
            "restricts": format!("schemas/{file_name}"),
            "rationale": {}
        },
        "type": "object",
        "additionalProperties": false
    });
    for key in ["required", "properties", "definitions"] {
        if let Some(value) = provider.get(key) {
            schema[key] = value.clone();
        }
    }
    // A `$ref` to a read-only property would dangle once it is removed.
    inline_property_references(&mut schema, provider, 0);
    for pointer in
        provider.get("readOnlyProperties").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
    {
        remove_property(&mut schema, pointer);
    }
    if let Some(Value::Object(properties)) = schema.get_mut("properties") {
        for (_, sub) in properties.iter_mut() {
            clean(sub, false);
        }
    }
    if let Some(Value::Object(definitions)) = schema.get_mut("definitions") {
        for (_, sub) in definitions.iter_mut() {
            clean(sub, false);
        }
    }
    Ok(schema)
}

/// Replaces every `$ref` into `#/properties/...` by a copy of its target in `provider`, so that
/// removing read-only properties leaves no reference dangling.
pub(crate) fn inline_property_references(node: &mut Value, provider: &Value, depth: usize) {
    if depth > 128 {
        return;
    }
    match node {
        Value::Object(map) => {
            let target = map
                .get("$ref")
                .and_then(Value::as_str)
                .filter(|r| r.starts_with("#/properties/"))
                .and_then(|r| provider.pointer(&r[1..]))
                .and_then(Value::as_object);
            if let Some(target) = target.cloned() {
                map.remove("$ref");
                for (key, value) in target {
                    map.entry(key).or_insert(value);
                }
            }
            map.values_mut().for_each(|child| inline_property_references(child, provider, depth + 1));
        }
        Value::Array(items) => {
            items.iter_mut().for_each(|child| inline_property_references(child, provider, depth + 1))
        }
        _ => {}
    }
}

/// Removes a read-only property given as `/properties/A/B`, following `$ref`s on the way.
pub(crate) fn remove_property(schema: &mut Value, pointer: &str) {
    let Some(rest) = pointer.strip_prefix("/properties/") else { return };
    let segments: Vec<&str> = rest.split('/').collect();
    let Some((last, parents)) = segments.split_last() else { return };
    let mut at = String::new();
    for segment in parents {
        let child = format!("{at}/properties/{segment}");
        at = match schema.pointer(&child).and_then(|n| n.get("$ref")).and_then(Value::as_str) {
            Some(reference) => reference.trim_start_matches('#').to_owned(),
            None => child,
        };
    }
    if let Some(Value::Object(properties)) = schema.pointer_mut(&format!("{at}/properties")) {
        properties.remove(*last);
    }
    if at.is_empty()
        && let Some(Value::Array(required)) = schema.get_mut("required")
    {
        required.retain(|name| name != *last);
    }
}

/// Drops what draft-07 does not understand and closes every object node.
fn clean(node: &mut Value, in_branch: bool) {
    let Value::Object(object) = node else { return };
    object.retain(|key, value| {
        let standard_format = key != "format" || value.as_str().is_some_and(|f| DRAFT7_FORMATS.contains(&f));
        is_known_keyword(key) && standard_format
    });
    let typed_object = match object.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(types)) => types.iter().any(|t| t == "object"),
        _ => false,
    };
    if typed_object || (!in_branch && object.contains_key("properties")) {
        object.insert("additionalProperties".to_owned(), Value::Bool(false));
    }
    for (key, value) in object.iter_mut() {
        match (key.as_str(), value) {
            ("properties" | "patternProperties", Value::Object(map)) => {
                map.values_mut().for_each(|sub| clean(sub, false))
            }
            ("items", Value::Array(items)) => items.iter_mut().for_each(|sub| clean(sub, false)),
            ("items" | "additionalItems" | "contains" | "propertyNames", sub) => clean(sub, false),
            ("allOf" | "anyOf" | "oneOf", Value::Array(branches)) => {
                branches.iter_mut().for_each(|sub| clean(sub, true))
            }
            ("not" | "if" | "then" | "else", sub) => clean(sub, true),
            _ => {}
        }
    }
    // A combinator whose branches were only CloudFormation formats now says nothing.
    for combinator in ["allOf", "anyOf", "oneOf"] {
        let empty = object.get(combinator).and_then(Value::as_array).is_some_and(|b| b.iter().all(is_empty_schema));
        if empty {
            object.remove(combinator);
        }
    }
}

fn is_empty_schema(value: &Value) -> bool {
    value.as_object().is_some_and(Map::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authoring::lint::lint_template;

    fn provider() -> Value {
        json!({
            "typeName": "AWS::X::Y",
            "additionalProperties": false,
            "required": ["Name"],
            "readOnlyProperties": ["/properties/Arn", "/properties/Config/Id"],
            "primaryIdentifier": ["/properties/Arn"],
            "handlers": {"create": {"permissions": ["x:Create"]}},
            "properties": {
                "Arn": {"type": "string"},
                "Name": {"type": "string", "insertionOrder": false},
                "Key": {"type": "string", "anyOf": [{"format": "AWS::KMS::Key.Arn"}, {"format": "AWS::KMS::Key.Id"}]},
                "Config": {"$ref": "#/definitions/Config"},
                "Tags": {"type": "array", "items": {"$ref": "#/definitions/Tag"}}
            },
            "definitions": {
                "Config": {"type": "object", "properties": {"Id": {"type": "string"}, "Mode": {"type": "string", "format": "date-time"}}},
                "Tag": {"type": "object", "additionalProperties": false, "properties": {"Key": {"type": "string"}}}
            }
        })
    }

    #[test]
    fn scaffolds_a_closed_template_without_cloudformation_keywords() {
        let template = scaffold(&provider(), "aws-x-y.json").unwrap();
        assert!(template.get("handlers").is_none() && template.get("primaryIdentifier").is_none());
        assert!(template["properties"].get("Arn").is_none(), "read-only removed");
        assert!(template["definitions"]["Config"]["properties"].get("Id").is_none(), "nested read-only removed");
        assert!(template["properties"]["Name"].get("insertionOrder").is_none());
        assert!(template["properties"]["Key"].get("anyOf").is_none(), "format-only alternatives dropped");
        assert_eq!(template["definitions"]["Config"]["additionalProperties"], false);
        assert_eq!(template["definitions"]["Config"]["properties"]["Mode"]["format"], "date-time");
        assert_eq!(template["required"], json!(["Name"]));
    }

    /// A scaffold is a correct template that nobody has reviewed yet: lint finds only its
    /// placeholder owner and review date, which `publish` refuses until a person fills them in.
    #[test]
    fn the_scaffold_passes_lint_but_for_its_review() {
        let mut template = scaffold(&provider(), "aws-x-y.json").unwrap();
        let lint = |template: &Value| {
            let found = lint_template("aws-x-y.json", template.to_string().as_bytes(), Some(&provider()), &Map::new());
            found.into_iter().map(|f| f.pointer).collect::<Vec<_>>()
        };
        assert_eq!(lint(&template), ["/x-rcfge/owner", "/x-rcfge/reviewed"]);
        template["x-rcfge"]["owner"] = json!("payments");
        template["x-rcfge"]["reviewed"] = json!("2026-12-06");
        assert_eq!(lint(&template), Vec::<String>::new());
    }
}
