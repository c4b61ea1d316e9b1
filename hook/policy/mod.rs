//! A policy: a rendered template compiled once into everything that judges a resource (the
//! validator, and the schema shape that scalar `normalize` follows), and judging a resource's
//! properties with it: normalise, validate against the schema and word each finding
//! (`schema`), then run the type's `guard` rules.
//!
//! ```text
//! properties ─► normalize ─► schema (validate) ─► guard ─► violations
//! ```

pub(crate) mod compile;
pub(crate) mod guard;
pub(crate) mod normalize;
pub(crate) mod patterns;
pub(crate) mod schema;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use crate::decision::Violation;
use guard::InputSize;

/// The keyword a template writes beside a restriction to say what to write instead
/// (`"x-rcfge-remediation": "Grant \"*\" only with Condition aws:PrincipalOrgID ..."`): it
/// replaces the advice worded from the failing keyword, for every finding under that schema.
pub const REMEDIATION_KEYWORD: &str = "x-rcfge-remediation";

pub use compile::{CompileError, Policy};
pub use guard::{GuardError, GuardInput, GuardRules, GuardTestError, MAX_INPUT_BYTES, run_tests};
pub use normalize::{NORMALIZE_KEYWORD, NormalizeError};

/// Why a resource's properties could not be judged.
#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    #[error("the properties cannot be checked against the {type_name} template: {source}")]
    Normalize { type_name: String, source: NormalizeError },
    #[error("the Guard rules of {type_name} cannot be used: {source}")]
    Guard { type_name: String, source: GuardError },
}

/// Judges the properties of a resource of `type_name` (as the resource names it: Guard rules
/// match on it): normalises them (in place, so pass a copy), validates them against the schema,
/// then runs the Guard rules. Every violation is returned, in that order.
pub fn judge(
    policy: &Policy,
    rules: Option<&GuardRules>,
    type_name: &str,
    logical_id: &str,
    properties: Value,
) -> Result<Vec<Violation>, JudgeError> {
    let judged = judge_schema(policy, rules.is_some(), type_name, logical_id, properties)?;
    match (rules, judged.guard_input) {
        (Some(rules), Some(input)) => {
            let mut violations = judged.violations;
            violations.extend(input.check(rules)?);
            Ok(violations)
        }
        _ => Ok(judged.violations),
    }
}

/// A resource judged against its schema: the violations, and what its Guard rules are to be
/// given, when it has rules. A caller with many resources of a type gives the rules all their
/// inputs at once ([`GuardRules::check_many`]); the schema's violations come first.
pub struct SchemaJudged {
    pub violations: Vec<Violation>,
    pub guard_input: Option<GuardInput>,
}

impl GuardInput {
    /// Runs `rules` on this input alone.
    pub fn check(&self, rules: &GuardRules) -> Result<Vec<Violation>, JudgeError> {
        rules.check_one(self).map_err(|source| JudgeError::Guard { type_name: self.type_name.clone(), source })
    }
}

/// The first part of [`judge`]: normalise and validate, and when `guarded`, prepare the input
/// of the Guard rules.
pub fn judge_schema(
    policy: &Policy,
    guarded: bool,
    type_name: &str,
    logical_id: &str,
    mut properties: Value,
) -> Result<SchemaJudged, JudgeError> {
    policy
        .normalizer()
        .normalize(&mut properties)
        .map_err(|source| JudgeError::Normalize { type_name: type_name.to_owned(), source })?;
    let mut violations = schema::check(policy, &properties);
    if !guarded {
        return Ok(SchemaJudged { violations, guard_input: None });
    }
    let (input, size) = guard_input(logical_id, &properties, &violations);
    let properties = match input {
        Cow::Owned(approved) => {
            // The rules never saw these keys: letting one pass (audit mode, a waiver) would let
            // through whatever the rules would have said about it.
            for violation in violations.iter_mut().filter(|v| v.keyword == "additionalProperties") {
                violation.always_enforced = Some(GUARD_DID_NOT_SEE);
            }
            approved
        }
        Cow::Borrowed(_) => properties,
    };
    let guard_input =
        GuardInput { type_name: type_name.to_owned(), logical_id: logical_id.to_owned(), properties, size };
    Ok(SchemaJudged { violations, guard_input: Some(guard_input) })
}

/// Why an unapproved key left out of the Guard rules' input stays enforced.
pub const GUARD_DID_NOT_SEE: &str = "the properties are too large for the Guard rules to be shown this unapproved key, so it refuses whatever the rollout says";

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

#[cfg(test)]
mod tests {
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
}
