//! A policy: a rendered template compiled once into everything that judges a resource (the
//! validator, and the schema shape that scalar `normalize` follows), and judging a resource's
//! properties with it: normalise, validate against the schema and word each finding
//! (`schema`), then run the type's `guard` rules.
//!
//! ```text
//! properties ─► normalize ─► schema (validate) ─► guard ─► violations
//! ```

pub(crate) mod guard;
pub(crate) mod normalize;
pub(crate) mod schema;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use jsonschema::{PatternOptions, Validator};
use serde_json::Value;

use crate::decision::Violation;
use guard::InputSize;
use normalize::Normalizer;

pub use guard::{GuardError, GuardRules, GuardTestError, MAX_INPUT_BYTES, run_tests};
pub use normalize::NormalizeError;

/// Backtracking steps a `pattern` may take on one value before the match is refused. Provider
/// patterns are ECMA-262 and need fancy-regex's backtracking; the limit keeps a hostile value
/// from stalling the hook.
pub const REGEX_BACKTRACK_LIMIT: usize = 10_000;

/// A template rendered for one context and compiled: immutable, shared behind an `Arc`.
pub struct Policy {
    pub type_name: String,
    /// The template version it was compiled from.
    pub version: String,
    schema: Value,
    validator: Validator,
    normalizer: Normalizer,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy").field("type_name", &self.type_name).field("version", &self.version).finish()
    }
}

/// A rendered schema that is not a usable JSON Schema.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("templates are JSON Schema draft-07, but `$schema` says {found}")]
    WrongDraft { found: String },
    #[error("schema does not compile at {location}: {reason}")]
    Invalid { location: String, reason: String },
}

impl Policy {
    /// Compiles a rendered schema (Draft 7, fancy-regex with a backtrack limit, no remote
    /// references).
    pub fn compile(type_name: &str, version: &str, schema: Value) -> Result<Self, CompileError> {
        if let Some(found) = schema.get("$schema") {
            let draft7 = found.as_str().is_some_and(|uri| {
                uri.trim_end_matches('#').trim_end_matches('/').ends_with("json-schema.org/draft-07/schema")
            });
            if !draft7 {
                return Err(CompileError::WrongDraft { found: found.to_string() });
            }
        }
        let validator = jsonschema::draft7::options()
            .with_pattern_options(PatternOptions::fancy_regex().backtrack_limit(REGEX_BACKTRACK_LIMIT))
            // A `format` the validator does not know would never fire: refuse the template.
            .should_ignore_unknown_formats(false)
            .offline()
            .build(&schema)
            .map_err(|e| CompileError::Invalid {
                location: location_of(e.instance_path().as_str()),
                reason: e.to_string(),
            })?;
        let normalizer = Normalizer::new(&schema);
        Ok(Policy { type_name: type_name.to_owned(), version: version.to_owned(), schema, validator, normalizer })
    }

    /// The rendered schema.
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    pub(crate) fn validator(&self) -> &Validator {
        &self.validator
    }

    pub(crate) fn normalizer(&self) -> &Normalizer {
        &self.normalizer
    }
}

/// Why a resource's properties could not be judged.
#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    #[error("the properties cannot be checked against the {type_name} template: {source}")]
    Normalize { type_name: String, source: NormalizeError },
    #[error("the Guard rules of {type_name} cannot be used: {source}")]
    Guard { type_name: String, source: GuardError },
}

/// Judges a resource's properties: normalises them (in place, so pass a copy), validates them
/// against the schema, then runs the Guard rules. Every violation is returned, in that order.
pub fn judge(
    policy: &Policy,
    rules: Option<&GuardRules>,
    logical_id: &str,
    mut properties: Value,
) -> Result<Vec<Violation>, JudgeError> {
    let type_name = &policy.type_name;
    policy
        .normalizer()
        .normalize(policy.schema(), &mut properties)
        .map_err(|source| JudgeError::Normalize { type_name: type_name.clone(), source })?;
    let mut violations = schema::check(policy, &properties);
    if let Some(rules) = rules {
        let (input, size) = guard_input(logical_id, &properties, &violations);
        let found = rules.check_measured(type_name, logical_id, &input, size);
        violations.extend(found.map_err(|source| JudgeError::Guard { type_name: type_name.clone(), source })?);
    }
    Ok(violations)
}

/// What the Guard rules are given: the properties, whole whenever Guard accepts them. Only
/// when they are over Guard's input limits and the schema has already refused properties
/// that are not approved are those left out: the resource is refused whatever the rules
/// say, their findings on the approved properties are still reported, and a resource padded
/// with thousands of unapproved keys costs Guard nothing. Leaving out object keys keeps every
/// other value's pointer as it was.
/// Returns the input with its size, measured once.
fn guard_input<'a>(logical_id: &str, properties: &'a Value, violations: &[Violation]) -> (Cow<'a, Value>, InputSize) {
    let size = InputSize::of(logical_id, properties);
    if size.within_limits() {
        return (Cow::Borrowed(properties), size);
    }
    let mut unapproved: BTreeMap<&str, HashSet<String>> = BTreeMap::new();
    for violation in violations.iter().filter(|v| v.keyword == "additionalProperties") {
        if let Some((parent, key)) = violation.pointer.rsplit_once('/') {
            unapproved.entry(parent).or_default().insert(key.replace("~1", "/").replace("~0", "~"));
        }
    }
    if unapproved.is_empty() {
        return (Cow::Borrowed(properties), size);
    }
    let approved = copy_without(properties, "", &unapproved);
    let size = InputSize::of(logical_id, &approved);
    (Cow::Owned(approved), size)
}

/// A copy of `value` (found at `pointer`) without the keys `unapproved` names under each
/// object's pointer; what is not below any of them is cloned whole.
fn copy_without(value: &Value, pointer: &str, unapproved: &BTreeMap<&str, HashSet<String>>) -> Value {
    // Whether anything under `child` is to be left out.
    let affected = |child: &str| {
        let below = format!("{child}/");
        unapproved.contains_key(child)
            || unapproved.range(below.as_str()..).next().is_some_and(|(p, _)| p.starts_with(&below))
    };
    let copy_child = |child: &Value, child_pointer: String| {
        if affected(&child_pointer) { copy_without(child, &child_pointer, unapproved) } else { child.clone() }
    };
    match value {
        Value::Object(object) => {
            let dropped = unapproved.get(pointer);
            let kept = object.iter().filter(|(key, _)| dropped.is_none_or(|keys| !keys.contains(key.as_str())));
            Value::Object(
                kept.map(|(key, child)| {
                    let child_pointer = format!("{pointer}/{}", crate::json::pointer_segment(key));
                    (key.clone(), copy_child(child, child_pointer))
                })
                .collect(),
            )
        }
        Value::Array(items) => Value::Array(
            items.iter().enumerate().map(|(index, child)| copy_child(child, format!("{pointer}/{index}"))).collect(),
        ),
        other => other.clone(),
    }
}

fn location_of(pointer: &str) -> String {
    if pointer.is_empty() { "/".to_owned() } else { pointer.to_owned() }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn leaving_out_unapproved_keys_keeps_every_other_pointer() {
        let properties = serde_json::json!({
            "Keep": {"a": 1, "Drop~/x": 2}, "Drop": 3, "Keep-x": [{"Drop": 4, "b": 5}]
        });
        let violation = |pointer: &str| {
            Violation::new(pointer.into(), "additionalProperties".into(), None, String::new(), String::new())
        };
        let mut violations = vec![violation("/Keep/Drop~0~1x"), violation("/Drop"), violation("/Keep-x/0/Drop")];
        // Over the keys-per-object limit, so that the copy is made.
        let mut padded = properties.clone();
        for i in 0..=guard::MAX_INPUT_OBJECT_KEYS {
            padded[format!("Pad{i}")] = Value::Null;
            violations.push(violation(&format!("/Pad{i}")));
        }
        let (approved, size) = guard_input("L", &padded, &violations);
        assert_eq!(*approved, serde_json::json!({"Keep": {"a": 1}, "Keep-x": [{"b": 5}]}));
        assert_eq!(size, InputSize::of("L", &approved), "the size is the given input's");
        // Within the limits the properties are given whole, unapproved keys and all.
        assert!(matches!(guard_input("L", &properties, &violations).0, Cow::Borrowed(_)));
    }

    #[test]
    fn compiles_a_draft7_schema() {
        let policy = Policy::compile("A::B::C", "v", json!({"type": "object", "additionalProperties": false})).unwrap();
        assert!(policy.validator().is_valid(&json!({})));
        assert!(!policy.validator().is_valid(&json!({"x": 1})));
    }

    #[test]
    fn a_bad_pattern_names_its_location() {
        let err = Policy::compile(
            "A::B::C",
            "v",
            json!({"properties": {"Name": {"type": "string", "pattern": "^(unclosed$"}}}),
        )
        .unwrap_err();
        let CompileError::Invalid { location, .. } = &err else { panic!("{err}") };
        assert_eq!(location, "/properties/Name/pattern");
    }

    #[test]
    fn a_bad_pattern_properties_key_is_refused() {
        assert!(Policy::compile("A::B::C", "v", json!({"patternProperties": {"^(x": {}}})).is_err());
    }

    #[test]
    fn invalid_keywords_are_refused() {
        assert!(Policy::compile("A::B::C", "v", json!({"type": 12})).is_err());
        assert!(Policy::compile("A::B::C", "v", json!({"minLength": "three"})).is_err());
    }

    #[test]
    fn remote_references_are_refused() {
        assert!(Policy::compile("A::B::C", "v", json!({"$ref": "https://example.com/schema.json"})).is_err());
        assert!(Policy::compile("A::B::C", "v", json!({"$ref": "file:///etc/passwd"})).is_err());
        assert!(Policy::compile("A::B::C", "v", json!({"$ref": "#/definitions/Missing"})).is_err());
    }

    #[test]
    fn unknown_formats_are_refused() {
        let err =
            Policy::compile("A::B::C", "v", json!({"properties": {"K": {"format": "AWS::KMS::Key.Arn"}}})).unwrap_err();
        assert!(err.to_string().contains("AWS::KMS::Key.Arn"), "{err}");
        assert!(Policy::compile("A::B::C", "v", json!({"properties": {"K": {"format": "uri"}}})).is_ok());
    }

    #[test]
    fn other_drafts_are_refused() {
        let err = Policy::compile("A::B::C", "v", json!({"$schema": "https://json-schema.org/draft/2020-12/schema"}))
            .unwrap_err();
        assert!(matches!(err, CompileError::WrongDraft { .. }));
        assert!(Policy::compile("A::B::C", "v", json!({"$schema": "http://json-schema.org/draft-07/schema#"})).is_ok());
    }

    #[test]
    fn catastrophic_patterns_hit_the_backtrack_limit() {
        let pattern = "^(\\w+\\s?)*(?<!x)$";
        let policy = Policy::compile("A::B::C", "v", json!({"pattern": pattern})).unwrap();
        let hostile = format!("{}!", "a".repeat(40));
        // The engine itself gives up on this value: the refusal below is the limit at work,
        // not a quick mismatch.
        let regex = fancy_regex::RegexBuilder::new(pattern).backtrack_limit(REGEX_BACKTRACK_LIMIT).build().unwrap();
        assert!(
            matches!(regex.is_match(&hostile), Err(fancy_regex::Error::RuntimeError(_))),
            "{:?}",
            regex.is_match(&hostile)
        );
        let instance = json!(hostile);
        assert!(!policy.validator().is_valid(&instance), "an unfinished match never passes");
        // Nor under `not`: either outcome of the match could be the true one.
        let negated = Policy::compile("A::B::C", "v", json!({"not": {"pattern": pattern}})).unwrap();
        assert!(!negated.validator().is_valid(&instance), "an unfinished match under `not` never passes");
        assert!(!crate::policy::schema::check(&negated, &instance).is_empty(), "and it is reported");
        let errors: Vec<_> = policy.validator().iter_errors(&instance).map(|e| e.kind().keyword().to_owned()).collect();
        assert_eq!(errors, ["pattern"]);
    }
}
