//! `rcfge templates lint`: what makes a template unsafe or useless before it is ever used.
//!
//! Every finding names the file and a JSON pointer into it. Checks: an object node that allows
//! unlisted properties (feature gating depends on `additionalProperties: false`), a keyword
//! draft-07 ignores, a `$ref` with siblings (ignored too), a remote `$ref`, a property or type
//! the pinned provider schema does not have, an unknown placeholder, and a template that does
//! not parse, render or compile with a sample context.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::shape::{ancestors, is_under, property_paths, types_within};
use super::{AuthoringError, DRAFT7_FORMATS, is_known_keyword, template_files};
use crate::decision::{Action, Context, is_builtin_variable};
use crate::json::pointer_segment;
use crate::policy::{CompileError, NORMALIZE_KEYWORD, Policy, REMEDIATION_KEYWORD};
use crate::template::restricted::{Template, TemplateError};
use crate::template::store::VARIABLES_FILE;
use crate::template::variables::parse_variables;

/// One problem in one template.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub file: String,
    pub pointer: String,
    pub message: String,
}

/// What linting a directory found, and how many templates it read.
#[derive(Debug)]
pub struct Linted {
    pub findings: Vec<Finding>,
    pub templates: usize,
}

/// Lints every template (`*.json` but `_variables.json`) in `templates` against the pinned
/// provider schemas of the same name in `schemas`. Findings name the file alone.
pub fn lint_dir(templates: &Path, schemas: &Path) -> std::io::Result<Linted> {
    let mut linted = Linted { findings: Vec::new(), templates: 0 };
    for path in template_files(templates)? {
        lint_file(&path, file_name(&path), schemas, &mut linted)?;
    }
    Ok(linted)
}

/// Lints templates named one by one or by their directory (what `rcfge templates lint PATH...`
/// is given). Findings name each file as it was reached (`templates/aws-sqs-queue.json`); a
/// template's placeholders are checked against the `_variables.json` beside it.
pub fn lint_paths(paths: &[PathBuf], schemas: &Path) -> Result<Linted, AuthoringError> {
    let mut linted = Linted { findings: Vec::new(), templates: 0 };
    for path in paths {
        let read_error = |source| AuthoringError::Read { path: path.display().to_string(), source };
        let files = if std::fs::metadata(path).map_err(read_error)?.is_dir() {
            template_files(path).map_err(read_error)?
        } else {
            vec![path.clone()]
        };
        if files.is_empty() {
            return Err(AuthoringError::Unreadable {
                path: path.clone(),
                reason: "no templates (*.json) in this folder: nothing would be checked".to_owned(),
            });
        }
        for file in files {
            let label = file.display().to_string();
            lint_file(&file, label.clone(), schemas, &mut linted)
                .map_err(|source| AuthoringError::Read { path: label, source })?;
        }
    }
    Ok(linted)
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Lints the template at `path` into `linted`, naming it `label` in findings.
fn lint_file(path: &Path, label: String, schemas: &Path, linted: &mut Linted) -> std::io::Result<()> {
    let beside = path.parent().unwrap_or(Path::new("")).join(VARIABLES_FILE);
    let organisation = match std::fs::read(beside) {
        Ok(body) => parse_variables(&body).unwrap_or_default(),
        Err(_) => Map::new(),
    };
    let body = std::fs::read(path)?;
    let provider =
        std::fs::read(schemas.join(file_name(path))).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    linted.findings.extend(lint_template(&label, &body, provider.as_ref(), &organisation));
    linted.templates += 1;
    Ok(())
}

/// What `rcfge templates lint` prints: one line per finding, then the counts.
pub fn text(linted: &Linted) -> String {
    let mut out = String::new();
    for f in &linted.findings {
        out.push_str(&format!("{}:{}: {}\n", f.file, f.pointer, f.message));
    }
    let plural = |n: usize, word: &str| if n == 1 { format!("{n} {word}") } else { format!("{n} {word}s") };
    let (templates, findings) = (plural(linted.templates, "template"), plural(linted.findings.len(), "finding"));
    out.push_str(&format!("{templates}, {findings}\n"));
    out
}

/// Lints one template file.
pub(crate) fn lint_template(
    file: &str,
    body: &[u8],
    provider: Option<&Value>,
    organisation: &Map<String, Value>,
) -> Vec<Finding> {
    let mut found = Vec::new();
    if file.starts_with("custom-") {
        // `Custom::Foo` is judged by the one custom-resource template; a file of its own would
        // look like a policy and never be read.
        return vec![finding(
            file,
            "/",
            "every Custom:: type is judged by aws-cloudformation-customresource.json: this file is never read; \
             restrict custom resources there"
                .into(),
        )];
    }
    let document = match crate::json::from_slice(body) {
        Ok(document) => document,
        Err(e) => return vec![finding(file, "/", format!("not valid JSON: {e}"))],
    };
    let Some(type_name) = document.get("typeName").and_then(Value::as_str).map(str::to_owned) else {
        return vec![finding(file, "/", "the template has no typeName naming the resource type it restricts".into())];
    };
    found.extend(check_metadata(file, &document));
    let mut structural = Vec::new();
    check_node(&document, "", false, &mut structural);
    // Objects the security team leaves open on purpose, each named in `x-rcfge.freeForm`
    // (a custom resource's own properties): the finding is the review, once.
    let free_form = free_form_pointers(&document);
    structural.retain(|(pointer, message)| !(message.starts_with(OPEN_OBJECT) && free_form.contains(pointer)));
    found.extend(structural.into_iter().map(|(pointer, message)| finding(file, &pointer, message)));
    for pointer in &free_form {
        if document.pointer(pointer).is_none() {
            found.push(finding(file, "/x-rcfge/freeForm", format!("{pointer} is not a node of this template")));
        }
    }
    match provider {
        Some(provider) => found.extend(compare_with_provider(file, &type_name, &document, provider)),
        None => found.push(finding(
            file,
            "/",
            format!("no pinned provider schema schemas/{file} to check {type_name} against"),
        )),
    }
    found.extend(check_rendering(file, &type_name, body, &document, organisation));
    found
}

/// The keys `x-rcfge` may hold. A misspelt flag (`guardrules`) would silently switch a
/// protection off, so anything else is a finding.
const METADATA_KEYS: [&str; 7] =
    ["owner", "reviewed", "restricts", "rationale", "denyDelete", "guardRules", "freeForm"];

/// The start of the finding for an object that is not closed.
const OPEN_OBJECT: &str = "this object allows properties it does not list";

/// The JSON pointers `x-rcfge.freeForm` lists.
fn free_form_pointers(document: &Value) -> Vec<String> {
    let listed = document.pointer("/x-rcfge/freeForm").and_then(Value::as_array);
    listed.into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect()
}

fn check_metadata(file: &str, document: &Value) -> Vec<Finding> {
    let Some(Value::Object(metadata)) = document.get("x-rcfge") else {
        return vec![finding(file, "/", "the template has no x-rcfge block saying who reviewed it and when".into())];
    };
    let mut found: Vec<Finding> = metadata
        .keys()
        .filter(|key| !METADATA_KEYS.contains(&key.as_str()))
        .map(|key| {
            let known = METADATA_KEYS.join(", ");
            finding(
                file,
                &format!("/x-rcfge/{}", pointer_segment(key)),
                format!("`{key}` is not an x-rcfge key ({known})"),
            )
        })
        .collect();
    // A scaffold (`templates new`) holds `(team)` and `(date)` until someone reviews it; it
    // must not be published as if reviewed.
    let text = |key: &str| metadata.get(key).and_then(Value::as_str).unwrap_or("");
    let owner = text("owner");
    if owner.trim().is_empty() || owner.starts_with('(') {
        found.push(finding(
            file,
            "/x-rcfge/owner",
            format!("the owner is `{owner}`, not a team: name the team that reviewed this template"),
        ));
    }
    let reviewed = text("reviewed");
    if !is_iso_date(reviewed) {
        found.push(finding(
            file,
            "/x-rcfge/reviewed",
            format!("the review date is `{reviewed}`, not a date (YYYY-MM-DD): review the template, then date it"),
        ));
    }
    found
}

/// `YYYY-MM-DD` with a plausible month and day.
fn is_iso_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let number = |part: &str, digits: usize| {
        (part.len() == digits && part.bytes().all(|b| b.is_ascii_digit())).then(|| part.parse::<u32>().ok()).flatten()
    };
    match parts.as_slice() {
        [year, month, day] => {
            number(year, 4).is_some()
                && number(month, 2).is_some_and(|m| (1..=12).contains(&m))
                && number(day, 2).is_some_and(|d| (1..=31).contains(&d))
        }
        _ => false,
    }
}

fn finding(file: &str, pointer: &str, message: String) -> Finding {
    let pointer = if pointer.is_empty() { "/".to_owned() } else { pointer.to_owned() };
    Finding { file: file.to_owned(), pointer, message }
}

/// Checks one schema node and everything under it. `in_branch`: the node refines its parent
/// (a combinator branch, `then`/`else`), so it need not close the object itself.
fn check_node(node: &Value, pointer: &str, in_branch: bool, out: &mut Vec<(String, String)>) {
    let Value::Object(object) = node else { return };
    for key in object.keys().filter(|k| !is_known_keyword(k)) {
        out.push((
            format!("{pointer}/{}", pointer_segment(key)),
            format!("`{key}` is not a JSON Schema draft-07 keyword: the validator ignores it"),
        ));
    }
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        if !reference.starts_with('#') {
            out.push((
                format!("{pointer}/$ref"),
                format!("remote $ref `{reference}`: templates may only refer inside themselves"),
            ));
        }
        let siblings: Vec<&str> = object
            .keys()
            .map(String::as_str)
            .filter(|k| !matches!(*k, "$ref" | "description" | "title" | "$comment"))
            .collect();
        if !siblings.is_empty() {
            out.push((
                format!("{pointer}/$ref"),
                format!("draft-07 ignores the siblings of $ref: {}", siblings.join(", ")),
            ));
        }
    }
    if let Some(declared) = object.get(NORMALIZE_KEYWORD) {
        check_normalization(node, declared, &format!("{pointer}/{NORMALIZE_KEYWORD}"), out);
    }
    if let Some(advice) = object.get(REMEDIATION_KEYWORD)
        && advice.as_str().is_none_or(|text| text.trim().is_empty())
    {
        out.push((
            format!("{pointer}/{REMEDIATION_KEYWORD}"),
            format!("{REMEDIATION_KEYWORD} must be the advice itself, a non-empty string"),
        ));
    }
    if let Some(format) = object.get("format").and_then(Value::as_str)
        && !DRAFT7_FORMATS.contains(&format)
    {
        out.push((format!("{pointer}/format"), format!("`{format}` is not a draft-07 format")));
    }
    let typed_object = match object.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(types)) => types.iter().any(|t| t == "object"),
        _ => false,
    };
    let describes_object = typed_object || (!in_branch && object.contains_key("properties"));
    let closed = object.get("additionalProperties") == Some(&Value::Bool(false));
    // A closed object that requires a property it does not list refuses every value: each
    // resource would be told to add a property it may not have (a typo in `required`).
    if closed && !object.contains_key("patternProperties") {
        let listed = object.get("properties").and_then(Value::as_object);
        let required = object.get("required").and_then(Value::as_array).into_iter().flatten();
        for name in required.filter_map(Value::as_str) {
            if !listed.is_some_and(|properties| properties.contains_key(name)) {
                out.push((
                    format!("{pointer}/required"),
                    format!("`{name}` is required but not in properties: no value can pass this closed object"),
                ));
            }
        }
    }
    if describes_object && !closed {
        out.push((
            if pointer.is_empty() { "/".to_owned() } else { pointer.to_owned() },
            format!(
                "{OPEN_OBJECT}: add \"additionalProperties\": false, or list it in x-rcfge.freeForm with a rationale"
            ),
        ));
    }
    for (key, value) in object {
        let here = format!("{pointer}/{}", pointer_segment(key));
        match (key.as_str(), value) {
            // Inside a branch (`if`, `not`, ...) a schema only adds conditions to an object
            // closed elsewhere, down to its leaves; definitions are always shapes.
            ("definitions", Value::Object(map)) => {
                for (name, sub) in map {
                    check_node(sub, &format!("{here}/{}", pointer_segment(name)), false, out);
                }
            }
            ("properties" | "patternProperties", Value::Object(map)) => {
                for (name, sub) in map {
                    check_node(sub, &format!("{here}/{}", pointer_segment(name)), in_branch, out);
                }
            }
            ("items", Value::Array(items)) => {
                for (i, sub) in items.iter().enumerate() {
                    check_node(sub, &format!("{here}/{i}"), in_branch, out);
                }
            }
            ("items" | "additionalItems" | "additionalProperties" | "contains" | "propertyNames", sub) => {
                check_node(sub, &here, in_branch, out);
            }
            ("allOf" | "anyOf" | "oneOf", Value::Array(branches)) => {
                for (i, sub) in branches.iter().enumerate() {
                    check_node(sub, &format!("{here}/{i}"), true, out);
                }
            }
            // `if` and `not` only test a value; they approve nothing, so need not be closed.
            ("not" | "if", _) => {}
            ("then" | "else", sub) => check_node(sub, &here, true, out),
            ("dependencies", Value::Object(map)) => {
                for (name, sub) in map {
                    check_node(sub, &format!("{here}/{}", pointer_segment(name)), true, out);
                }
            }
            _ => {}
        }
    }
}

/// A declared normalisation (`x-rcfge-normalize`): its shape, and, for `"lowercase"`, that the
/// restrictions beside it are written in lower case. An `enum` or `not` written `MySQL` under
/// `lowercase` would never see that value again: an allow-list would refuse it always, and a
/// deny-list would let it through.
fn check_normalization(node: &Value, declared: &Value, pointer: &str, out: &mut Vec<(String, String)>) {
    let steps: Vec<&Value> = match declared {
        Value::Array(steps) if !steps.is_empty() => steps.iter().collect(),
        step => vec![step],
    };
    let mut lowercase = false;
    for step in steps {
        match step {
            Value::String(name) if name == "lowercase" => lowercase = true,
            Value::String(name) if name == "list" => {
                let array = |t: &Value| t.as_str() == Some("array");
                let typed_array = match node.get("type") {
                    Some(Value::Array(types)) => types.len() == 1 && array(&types[0]),
                    Some(other) => array(other),
                    None => false,
                };
                if !typed_array {
                    out.push((
                        pointer.to_owned(),
                        "\"list\" reads a single item as a list of one: the schema beside it must say \"type\": \"array\""
                            .to_owned(),
                    ));
                }
            }
            Value::Object(object)
                if object.len() == 1
                    && object.get("map").and_then(Value::as_object).is_some_and(|map| {
                        !map.is_empty() && map.values().all(Value::is_string)
                    }) => {}
            _ => out.push((
                pointer.to_owned(),
                format!(
                    "`{}` is not a normalisation: write \"lowercase\", \"list\", {{\"map\": {{\"written\": \"canonical\"}}}} or a list of them",
                    crate::json::shorten(&step.to_string(), 80)
                ),
            )),
        }
    }
    if lowercase {
        let mut written = Vec::new();
        uppercase_restrictions(node, "", &mut written, 0);
        for (at, text) in written {
            out.push((
                format!("{}{at}", pointer.trim_end_matches(&format!("/{NORMALIZE_KEYWORD}"))),
                format!(
                    "`{text}` has upper-case letters, but the value is lower-cased before it is judged: write it in lower case"
                ),
            ));
        }
    }
}

/// The restrictions of a schema node (and of its combinators and `not`) written with upper-case
/// letters: `enum` and `const` strings, and `pattern`s outside their escapes (`\S`, `\W`).
fn uppercase_restrictions(node: &Value, pointer: &str, out: &mut Vec<(String, String)>, depth: usize) {
    let Value::Object(object) = node else { return };
    if depth > 32 {
        return;
    }
    let upper = |text: &str| text.chars().any(char::is_uppercase);
    for (key, value) in object {
        let here = format!("{pointer}/{}", pointer_segment(key));
        match (key.as_str(), value) {
            ("enum", Value::Array(values)) => {
                for (i, v) in values.iter().enumerate() {
                    if let Value::String(text) = v
                        && upper(text)
                    {
                        out.push((format!("{here}/{i}"), text.clone()));
                    }
                }
            }
            ("const", Value::String(text)) if upper(text) => out.push((here, text.clone())),
            ("pattern", Value::String(pattern)) => {
                let mut unescaped = String::new();
                let mut chars = pattern.chars();
                while let Some(c) = chars.next() {
                    if c == '\\' {
                        chars.next();
                    } else {
                        unescaped.push(c);
                    }
                }
                if upper(&unescaped) {
                    out.push((here, pattern.clone()));
                }
            }
            ("allOf" | "anyOf" | "oneOf", Value::Array(branches)) => {
                for (i, branch) in branches.iter().enumerate() {
                    uppercase_restrictions(branch, &format!("{here}/{i}"), out, depth + 1);
                }
            }
            ("not" | "if" | "then" | "else", sub) => uppercase_restrictions(sub, &here, out, depth + 1),
            _ => {}
        }
    }
}

/// Properties the provider does not have (typos), and types it does not allow.
fn compare_with_provider(file: &str, type_name: &str, template: &Value, provider: &Value) -> Vec<Finding> {
    let provider_paths = property_paths(provider);
    // A provider object that lists nothing inside (a policy document, free-form JSON) leaves
    // the template free to describe its inside.
    let free_form = |path: &str| {
        ancestors(path).any(|a| provider_paths.contains_key(&a) && !provider_paths.keys().any(|k| is_under(k, &a)))
    };
    let mut found = Vec::new();
    for (path, info) in property_paths(template) {
        if !provider_paths.contains_key(&path) && free_form(&path) {
            continue;
        }
        match provider_paths.get(&path) {
            None => found.push(finding(
                file,
                &info.pointer,
                format!("`{path}` is not a property of {type_name} in the pinned provider schema"),
            )),
            Some(upstream)
                if !info.types.is_empty()
                    && !upstream.types.is_empty()
                    && !types_within(&info.types, &upstream.types) =>
            {
                found.push(finding(
                    file,
                    &info.pointer,
                    format!(
                        "`{path}` is typed {} but the provider schema says {}",
                        list(&info.types),
                        list(&upstream.types)
                    ),
                ));
            }
            Some(upstream) if is_document(&upstream.types) && info.types.contains("string") => {
                if let Some(message) = unjudged_document_text(template, &info) {
                    found.push(finding(file, &info.pointer, format!("`{path}`: {message}")));
                }
            }
            Some(_) => {}
        }
    }
    found
}

/// A provider type that accepts a document as an object or as its JSON text (policy documents).
fn is_document(types: &BTreeSet<String>) -> bool {
    types.len() == 2 && types.contains("object") && types.contains("string")
}

/// Why the JSON-text form of a document escapes the template's rules, if it does. A schema that
/// allows `["object", "string"]` on one node has the text judged as the document it stands for;
/// a string allowed anywhere else (alone, or in a branch) is judged only as a string, so it
/// must be pinned down (`enum`, `const`, `pattern`).
fn unjudged_document_text(template: &Value, info: &super::shape::PathInfo) -> Option<String> {
    // A `$ref` stands for its target (the validator and the normaliser follow it).
    let node = super::shape::resolve_refs(template, template.pointer(&info.pointer)?)?;
    let types: Vec<&str> = match node.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if types.contains(&"object") && types.contains(&"string") {
        return None;
    }
    if info.enumerated || node.get("pattern").is_some() {
        return None;
    }
    Some(
        "CloudFormation also accepts this document as JSON text, and the template allows a string here without judging it: type it [\"object\", \"string\"] on one schema (the text is then judged as the document) or \"object\" alone".to_owned(),
    )
}

/// Parses the template, then renders and compiles it with a sample context.
fn check_rendering(
    file: &str,
    type_name: &str,
    body: &[u8],
    document: &Value,
    organisation: &Map<String, Value>,
) -> Vec<Finding> {
    let template = match Template::parse(type_name, "lint", body) {
        Ok(template) => template,
        Err(error) => return vec![finding(file, &template_error_pointer(&error), error.to_string())],
    };
    let unknown: Vec<&String> =
        template.variables().iter().filter(|v| !is_builtin_variable(v) && !organisation.contains_key(*v)).collect();
    if !unknown.is_empty() {
        return unknown
            .into_iter()
            .map(|name| {
                let pointer = pointer_of_placeholder(document, name).unwrap_or_default();
                finding(
                    file,
                    &pointer,
                    format!("unknown placeholder `{name}`: not a built-in variable nor in {VARIABLES_FILE}"),
                )
            })
            .collect();
    }
    let mut vars = sample_context().variables(type_name, "SampleResource", Action::Create);
    for name in template.variables() {
        if let Some(value) = organisation.get(name) {
            vars.insert(name.clone(), value.clone());
        }
    }
    let schema = match template.render(&vars) {
        Ok(schema) => schema,
        Err(error) => return vec![finding(file, "/", format!("does not render with a sample context: {error}"))],
    };
    match Policy::compile(type_name, "lint", schema) {
        Ok(policy) => policy
            .unrunnable_patterns()
            .iter()
            .map(|(location, pattern)| {
                let message = format!(
                    "the pattern {pattern:?} cannot be run by rcfge's regex engine, so every value here would be refused: rewrite it"
                );
                finding(file, location, message)
            })
            .collect(),
        Err(CompileError::Invalid { location, reason }) => {
            vec![finding(file, &location, format!("does not compile after rendering: {reason}"))]
        }
        Err(error) => vec![finding(file, "/$schema", error.to_string())],
    }
}

/// The context templates are checked in: every built-in variable has a value.
pub fn sample_context() -> Context {
    Context {
        account_id: Some("111122223333".into()),
        region: Some("eu-west-1".into()),
        partition: Some("aws".into()),
        stack_name: Some("sample-stack".into()),
        stack_id: Some(
            "arn:aws:cloudformation:eu-west-1:111122223333:stack/sample-stack/00000000-0000-0000-0000-000000000000"
                .into(),
        ),
        change_set_id: Some(
            "arn:aws:cloudformation:eu-west-1:111122223333:changeSet/sample/00000000-0000-0000-0000-000000000000"
                .into(),
        ),
        hook_type_name: Some("Private::Lambda::RcfgeHook".into()),
    }
}

fn template_error_pointer(error: &TemplateError) -> String {
    match error {
        TemplateError::Syntax { pointer, .. }
        | TemplateError::Unsupported { pointer, .. }
        | TemplateError::JsonInPattern { pointer, .. }
        | TemplateError::AnyOutsidePattern { pointer, .. }
        | TemplateError::PlaceholderInKeyword { pointer, .. }
        | TemplateError::DuplicateKey { pointer, .. } => pointer.clone(),
        TemplateError::WrongType { .. } => "/typeName".to_owned(),
        TemplateError::NotAFlag { field } => format!("/x-rcfge/{field}"),
        TemplateError::Json(_) | TemplateError::NotAnObject => "/".to_owned(),
    }
}

/// The first string (value or key) that uses placeholder `name`.
fn pointer_of_placeholder(value: &Value, name: &str) -> Option<String> {
    let uses = |text: &str| {
        text.contains("{{") && (text.contains(&format!("{{{{{name}")) || text.contains(&format!(" {name}")))
    };
    match value {
        Value::String(text) if uses(text) => Some(String::new()),
        Value::Object(map) => map.iter().find_map(|(key, child)| {
            let here = format!("/{}", pointer_segment(key));
            if uses(key) {
                return Some(here);
            }
            pointer_of_placeholder(child, name).map(|rest| format!("{here}{rest}"))
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, child)| pointer_of_placeholder(child, name).map(|rest| format!("/{i}{rest}"))),
        _ => None,
    }
}

fn list(types: &BTreeSet<String>) -> String {
    types.iter().cloned().collect::<Vec<_>>().join(" or ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn misspelt_metadata_is_a_finding() {
        let template = serde_json::json!({"typeName": "AWS::X::Y", "x-rcfge": {"owner": "a", "reviewed": "2026-01-01", "guardrules": true}});
        let found = super::check_metadata("aws-x-y.json", &template);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].pointer, "/x-rcfge/guardrules");
    }

    use serde_json::json;

    use super::*;

    fn provider() -> Value {
        json!({
            "typeName": "AWS::X::Y",
            "properties": {"Name": {"type": "string"}, "Size": {"type": "integer"}, "Config": {"$ref": "#/definitions/Config"}},
            "definitions": {"Config": {"type": "object", "properties": {"Mode": {"type": "string"}}}}
        })
    }

    fn lint(template: Value) -> Vec<(String, String)> {
        lint_template("aws-x-y.json", template.to_string().as_bytes(), Some(&provider()), &Map::new())
            .into_iter()
            .map(|f| (f.pointer, f.message))
            .collect()
    }

    fn closed(properties: Value) -> Value {
        json!({
            "typeName": "AWS::X::Y", "type": "object", "additionalProperties": false, "properties": properties,
            "x-rcfge": {"owner": "security-engineering", "reviewed": "2026-11-22"}
        })
    }

    #[test]
    fn a_declared_normalisation_is_checked_against_the_restrictions_beside_it() {
        let good = closed(json!({"Name": {"type": "string", "enum": ["mysql", "tcp"],
            "x-rcfge-normalize": ["lowercase", {"map": {"6": "tcp"}}]}}));
        assert_eq!(lint(good), Vec::<(String, String)>::new());
        // A deny-list in another case than the values it is compared with never matches.
        let found = lint(closed(json!({"Name": {"type": "string", "x-rcfge-normalize": "lowercase",
            "not": {"enum": ["MySQL"]}, "pattern": "^[a-z]+\\S*X$"}})));
        let pointers: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(pointers, ["/properties/Name/not/enum/0", "/properties/Name/pattern"], "{found:?}");
        assert!(found[0].1.contains("`MySQL` has upper-case letters"), "{found:?}");
        for bad in [json!("uppercase"), json!({"map": {"6": 6}}), json!([]), json!({"map": {}, "x": 1})] {
            let found = lint(closed(json!({"Name": {"type": "string", "x-rcfge-normalize": bad}})));
            assert_eq!(found.len(), 1, "{bad}: {found:?}");
            assert!(found[0].1.contains("is not a normalisation"), "{found:?}");
        }
    }

    #[test]
    fn a_required_property_that_a_closed_object_does_not_list_is_a_finding() {
        let mut template = closed(json!({"Name": {"type": "string"}}));
        template["required"] = json!(["Name", "Nmae"]);
        let found = lint(template);
        assert_eq!(
            found,
            [(
                "/required".to_owned(),
                "`Nmae` is required but not in properties: no value can pass this closed object".to_owned()
            )]
        );
    }

    #[test]
    fn an_unreviewed_scaffold_is_a_finding() {
        for (metadata, pointers) in [
            (json!({"owner": "(team)", "reviewed": "(date)"}), vec!["/x-rcfge/owner", "/x-rcfge/reviewed"]),
            (json!({"owner": "payments", "reviewed": "2026-13-01"}), vec!["/x-rcfge/reviewed"]),
            (json!({"reviewed": "2026-11-22"}), vec!["/x-rcfge/owner"]),
            (json!({"owner": "payments", "reviewed": "2026-02-28"}), vec![]),
        ] {
            let mut template = closed(json!({"Name": {"type": "string"}}));
            template["x-rcfge"] = metadata.clone();
            let found: Vec<String> = lint(template).into_iter().map(|(pointer, _)| pointer).collect();
            assert_eq!(found, pointers, "{metadata}");
        }
        let mut bare = closed(json!({"Name": {"type": "string"}}));
        bare.as_object_mut().unwrap().remove("x-rcfge");
        assert_eq!(lint(bare).len(), 1);
    }

    #[test]
    fn a_template_for_one_custom_type_is_a_finding() {
        let found = lint_template("custom-foo.json", b"{}", None, &Map::new());
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("never read"), "{}", found[0].message);
    }

    #[test]
    fn free_form_objects_are_listed_not_silent() {
        let mut template = closed(json!({"Config": {"type": "object"}}));
        assert_eq!(lint(template.clone()).len(), 1, "an open object is a finding");
        template["x-rcfge"]["freeForm"] = json!(["/properties/Config"]);
        assert_eq!(lint(template.clone()), Vec::<(String, String)>::new());
        template["x-rcfge"]["freeForm"] = json!(["/properties/Config", "/properties/Gone"]);
        assert_eq!(
            lint(template)[0],
            ("/x-rcfge/freeForm".to_owned(), "/properties/Gone is not a node of this template".to_owned())
        );
    }

    #[test]
    fn a_pattern_that_cannot_run_is_a_finding() {
        let found = lint(closed(json!({"Name": {"type": "string", "pattern": "^(unclosed$"}})));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "/properties/Name/pattern");
        assert!(found[0].1.contains("cannot be run"), "{}", found[0].1);
    }

    #[test]
    fn a_clean_template_has_no_findings() {
        let template = closed(json!({
            "Name": {"type": "string", "pattern": "^{{accountId}}-"},
            "Config": {"type": "object", "additionalProperties": false, "properties": {"Mode": {"enum": ["a"]}}}
        }));
        assert_eq!(lint(template), Vec::<(String, String)>::new());
    }

    #[test]
    fn open_objects_are_found_everywhere() {
        let template = json!({
            "typeName": "AWS::X::Y", "type": "object",
            "properties": {"Config": {"$ref": "#/definitions/Config"}},
            "definitions": {"Config": {"type": "object", "properties": {"Mode": {"type": "string"}}}}
        });
        let pointers: Vec<String> =
            lint(template).into_iter().filter(|(_, m)| m.contains("additionalProperties")).map(|(p, _)| p).collect();
        assert_eq!(pointers, ["/", "/definitions/Config"]);
    }

    #[test]
    fn typos_types_and_keywords() {
        let found = lint(closed(json!({
            "Nmae": {"type": "string"},
            "Size": {"type": "string"},
            "Name": {"type": "string", "insertionOrder": false, "format": "AWS::KMS::Key.Arn"}
        })));
        let messages: Vec<&str> = found.iter().map(|(_, m)| m.as_str()).collect();
        assert!(messages.iter().any(|m| m.contains("`Nmae` is not a property of AWS::X::Y")), "{messages:?}");
        assert!(
            messages.iter().any(|m| m.contains("`Size` is typed string but the provider schema says integer")),
            "{messages:?}"
        );
        assert!(
            messages.iter().any(|m| m.contains("`insertionOrder` is not a JSON Schema draft-07 keyword")),
            "{messages:?}"
        );
        assert!(messages.iter().any(|m| m.contains("not a draft-07 format")), "{messages:?}");
    }

    #[test]
    fn a_list_normalisation_needs_an_array_schema() {
        let found = lint(closed(
            json!({"Statement": {"type": "array", "items": {"type": "string"}, "x-rcfge-normalize": "list"}}),
        ));
        assert!(!found.iter().any(|(_, m)| m.contains("\"list\"")), "{found:?}");
        let found = lint(closed(json!({"Name": {"type": "string", "x-rcfge-normalize": "list"}})));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].1.contains("must say \"type\": \"array\""), "{found:?}");
    }

    #[test]
    fn authored_advice_is_a_string() {
        let found = lint(closed(json!({"Name": {"type": "string", "x-rcfge-remediation": "Use a name"}})));
        assert_eq!(found, []);
        let found = lint(closed(json!({"Name": {"type": "string", "x-rcfge-remediation": ["Use a name"]}})));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "/properties/Name/x-rcfge-remediation");
    }

    #[test]
    fn refs_placeholders_and_compilation() {
        let found = lint(closed(json!({"Name": {"$ref": "https://example.com/s.json", "maxLength": 3}})));
        assert!(found.iter().any(|(p, m)| p == "/properties/Name/$ref" && m.contains("remote $ref")), "{found:?}");
        assert!(found.iter().any(|(_, m)| m.contains("ignores the siblings of $ref: maxLength")), "{found:?}");

        let found = lint(closed(json!({"Name": {"type": "string", "pattern": "^{{orgUnit}}$"}})));
        assert_eq!(
            found,
            [(
                "/properties/Name/pattern".to_owned(),
                "unknown placeholder `orgUnit`: not a built-in variable nor in _variables.json".to_owned()
            )]
        );

        let found = lint(closed(json!({"Name": {"type": "string", "pattern": "^(unclosed"}})));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "/properties/Name/pattern");
    }

    #[test]
    fn the_inside_of_a_free_form_provider_object_may_be_described() {
        let provider = json!({"typeName": "AWS::X::Y", "properties": {"PolicyDocument": {"type": "object"}}});
        let template =
            closed(json!({"PolicyDocument": {"type": "object", "additionalProperties": false, "properties": {
                "Version": {"enum": ["2012-10-17"]}
            }}}));
        let found = lint_template("aws-x-y.json", template.to_string().as_bytes(), Some(&provider), &Map::new());
        assert_eq!(found, [], "{found:#?}");
    }

    #[test]
    fn a_document_whose_json_text_is_not_judged_is_a_finding() {
        let provider = json!({"typeName": "AWS::X::Y", "properties": {"Policy": {"type": ["object", "string"]}}});
        let lint = |policy: Value| {
            let template = closed(json!({ "Policy": policy }));
            lint_template("aws-x-y.json", template.to_string().as_bytes(), Some(&provider), &Map::new())
        };
        // The text is read as the document and judged as one: nothing to flag.
        assert_eq!(lint(json!({"type": ["object", "string"], "additionalProperties": false})), []);
        assert_eq!(lint(json!({"type": "object", "additionalProperties": false})), []);
        // A string judged only as a string lets any document through.
        for policy in [
            json!({"type": "string"}),
            json!({"anyOf": [{"type": "object", "additionalProperties": false}, {"type": "string"}]}),
        ] {
            let found = lint(policy.clone());
            assert!(
                found.iter().any(|f| f.message.contains("accepts this document as JSON text")),
                "{policy}: {found:#?}"
            );
        }
        assert_eq!(lint(json!({"type": "string", "enum": ["{}"]})), []);
        // A `$ref` stands for its target.
        let provider_document = |definition: Value| {
            let mut template = closed(json!({"Policy": {"$ref": "#/definitions/Document"}}));
            template["definitions"] = json!({ "Document": definition });
            lint_template("aws-x-y.json", template.to_string().as_bytes(), Some(&provider), &Map::new())
        };
        assert_eq!(provider_document(json!({"type": ["object", "string"], "additionalProperties": false})), []);
        let found = provider_document(json!({"type": "string"}));
        assert!(found.iter().any(|f| f.message.contains("accepts this document as JSON text")), "{found:#?}");
    }

    #[test]
    fn a_missing_provider_schema_or_type_is_a_finding() {
        let template = closed(json!({}));
        let found = lint_template("aws-x-y.json", template.to_string().as_bytes(), None, &Map::new());
        assert!(found[0].message.contains("no pinned provider schema"), "{found:?}");
        let found = lint_template("aws-x-y.json", b"{}", None, &Map::new());
        assert!(found[0].message.contains("no typeName"), "{found:?}");
    }
}
