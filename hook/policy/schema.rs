//! Judges normalised properties against a compiled policy and words every finding for a
//! developer: `NewFeature is not an approved property of AWS::S3::Bucket`, not raw validator
//! output. All violations are reported, sorted by location.

use jsonschema::ValidationError;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde_json::Value;

use super::REMEDIATION_KEYWORD;
use super::compile::Policy;
use super::patterns::{self, UNRUNNABLE_PATTERN};
use crate::decision::{Reason, Violation};
use crate::json::shorten;

/// Longest rendering of an offending value, in characters.
const MAX_VALUE_CHARS: usize = 120;

/// Every violation of `policy` by `properties` (already normalised).
pub fn check(policy: &Policy, properties: &Value) -> Vec<Violation> {
    // Most resources comply: `is_valid` stops at nothing and builds no error, and a pattern
    // the engine could not finish counts as a failure there too; the full walk that words
    // every finding runs only for a resource that fails.
    if policy.validator().is_valid(properties) {
        return Vec::new();
    }
    let words = Words { type_name: &policy.type_name, schema: policy.schema() };
    let mut violations: Vec<Violation> =
        policy.validator().iter_errors(properties).flat_map(|error| describe(&words, &error)).collect();
    name_keys_of_empty_objects(&policy.type_name, properties, &mut violations);
    violations.sort_by(|a, b| (&a.pointer, &a.keyword, &a.message).cmp(&(&b.pointer, &b.keyword, &b.message)));
    violations.dedup();
    if violations.is_empty() {
        // The two walks disagree (they should not): the stricter answer stands.
        violations.push(unexplained(&policy.type_name));
    }
    violations
}

/// The advice the template's authors wrote for a restriction (`x-rcfge-remediation` on the
/// schema that failed, or on a schema enclosing it): a rule written as `if`/`then` fails on a
/// keyword (`required: Condition`) that says nothing of what the rule is for. The validator's
/// schema path is where the failing keyword is in the rendered schema, `$ref`s already
/// followed, so the nearest enclosing node that carries advice is found on that path.
fn authored_remediation<'s>(schema: &'s Value, schema_path: &str) -> Option<&'s str> {
    let mut node = schema;
    let mut advice = None;
    for segment in schema_path.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        node = match node {
            Value::Object(object) => object.get(&segment)?,
            Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
            _ => return advice,
        };
        if let Some(text) = node.get(REMEDIATION_KEYWORD).and_then(Value::as_str) {
            advice = Some(text);
        }
    }
    advice
}

/// The validator reports a key of an object that takes no keys at all (`{"type": "object",
/// "additionalProperties": false}`, such as EC2's `NoDevice`) at the object, with the key's
/// value: "NoDevice is not approved" would blame an approved property. Name the keys instead.
fn name_keys_of_empty_objects(type_name: &str, properties: &Value, violations: &mut [Violation]) {
    let mut named: std::collections::HashSet<String> = std::collections::HashSet::new();
    for violation in violations.iter_mut().filter(|v| v.keyword == "falseSchema") {
        let base = if violation.pointer == "/" { String::new() } else { violation.pointer.clone() };
        let Some(whole @ Value::Object(object)) = properties.pointer(&base) else { continue };
        if violation.value.as_deref() == Some(short_json(whole).as_str()) {
            // The object itself is refused (`"NoDevice": false`): the message is right.
            continue;
        }
        let Some(key) = object.iter().find_map(|(key, value)| {
            let pointer = format!("{base}/{}", crate::json::pointer_segment(key));
            (violation.value.as_deref() == Some(short_json(value).as_str()) && !named.contains(&pointer))
                .then_some((key.clone(), pointer))
        }) else {
            continue;
        };
        let at = Location::new(&base);
        let where_ = if at.is_root() { String::new() } else { format!(" in {}", at.label()) };
        violation.message = format!("{} is not an approved property of {type_name}{where_}", key.0);
        violation.remediation =
            format!("Remove {}, or ask the security team to approve it in the {type_name} template", key.0);
        violation.pointer = key.1.clone();
        named.insert(key.1);
    }
}

/// A refusal the validator gave no detail for.
fn unexplained(type_name: &str) -> Violation {
    Violation::new(
        "/".into(),
        "schema".into(),
        None,
        format!("the properties do not satisfy the {type_name} template"),
        format!("Compare the resource with the {type_name} template (rcfge render {type_name})"),
    )
}

/// What findings are worded with: the type, for the sentences, and the rendered schema, for the
/// advice its authors wrote.
struct Words<'a> {
    type_name: &'a str,
    schema: &'a Value,
}

/// The violations one validator error stands for (one per unexpected property), with the
/// advice the template's authors wrote for that restriction where they wrote one.
fn describe(words: &Words<'_>, error: &ValidationError<'_>) -> Vec<Violation> {
    let mut found = describe_worded(words, error);
    if let Some(advice) = authored_remediation(words.schema, error.schema_path().as_str()) {
        for violation in &mut found {
            violation.remediation = advice.to_owned();
        }
    }
    found
}

/// [`describe`], with the advice worded from the failing keyword.
fn describe_worded(words: &Words<'_>, error: &ValidationError<'_>) -> Vec<Violation> {
    let type_name = words.type_name;
    let path = error.instance_path().as_str();
    let instance: &Value = error.instance();
    let keyword = error.kind().keyword().to_owned();
    let at = Location::new(path);
    let value = Some(short_json(instance));
    let violation = |pointer: String, value: Option<String>, message: String, remediation: String| {
        Violation::new(pointer, keyword.clone(), value, message, remediation)
    };
    let label = at.label();
    let shown = value.clone().unwrap_or_default();
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|name| {
                let where_ = if at.is_root() { String::new() } else { format!(" in {}", at.label()) };
                violation(
                    at.child(name),
                    instance.get(name).map(short_json),
                    format!("{name} is not an approved property of {type_name}{where_}"),
                    format!("Remove {name}, or ask the security team to approve it in the {type_name} template"),
                )
            })
            .collect(),
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().map_or_else(|| property.to_string(), str::to_owned);
            let where_ = if at.is_root() { format!("by the {type_name} template") } else { format!("in {label}") };
            vec![violation(at.child(&name), None, format!("{name} is required {where_}"), format!("Add {name}"))]
        }
        kind => {
            let (message, remediation) = sentence(words, &label, &shown, kind, error);
            let mut found = violation(at.pointer(), value, message, remediation);
            if let ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } = kind {
                found.alternatives = alternatives(words, context);
            }
            vec![found]
        }
    }
}

/// Per alternative of an `anyOf`/`oneOf`, the reasons it failed, so that a value known only
/// at deploy time can be weighed against each (`stack`).
fn alternatives(words: &Words<'_>, context: &[Vec<ValidationError<'_>>]) -> Vec<Vec<Reason>> {
    context.iter().map(|branch| branch.iter().flat_map(|error| reasons(words, error)).collect()).collect()
}

fn reasons(words: &Words<'_>, error: &ValidationError<'_>) -> Vec<Reason> {
    let settled_by_shape = settled_by_shape(error);
    describe(words, error)
        .into_iter()
        .map(|violation| Reason {
            subject: violation.subject(),
            keyword: violation.keyword,
            settled_by_shape,
            alternatives: violation.alternatives,
        })
        .collect()
}

/// Whether no value of the instance's shape satisfies the keyword: an object or a list is never
/// equal to a string constant, whatever values inside it turn out to be.
fn settled_by_shape(error: &ValidationError<'_>) -> bool {
    let instance: &Value = error.instance();
    let same_shape = |allowed: &Value| match (allowed, instance) {
        (Value::Object(_), Value::Object(_)) | (Value::Array(_), Value::Array(_)) => true,
        _ => !(instance.is_object() || instance.is_array()),
    };
    match error.kind() {
        ValidationErrorKind::Constant { expected_value } => !same_shape(expected_value),
        ValidationErrorKind::Enum { options } => match &**options {
            Value::Array(options) => !options.iter().any(same_shape),
            other => !same_shape(other),
        },
        _ => false,
    }
}

/// The message and remediation for a finding about the value at `label`.
fn sentence(
    words: &Words<'_>,
    label: &str,
    shown: &str,
    kind: &ValidationErrorKind,
    error: &ValidationError<'_>,
) -> (String, String) {
    let type_name = words.type_name;
    let change = || format!("Change {label} to a value the {type_name} template approves");
    match kind {
        ValidationErrorKind::Pattern { pattern } => (
            format!("{label} {shown} does not match the approved pattern {pattern}"),
            format!("Use a value that matches {pattern}"),
        ),
        ValidationErrorKind::BacktrackLimitExceeded { .. } | ValidationErrorKind::RegexEngineFailure { .. } => (
            format!(
                "{label} {shown} could not be checked against the approved pattern within the time allowed, so it is refused"
            ),
            "Use a shorter, simpler value".to_owned(),
        ),
        ValidationErrorKind::Enum { options } => (
            format!("{label} {shown} is not one of the approved values: {}", list(options)),
            format!("Use one of: {}", list(options)),
        ),
        ValidationErrorKind::Constant { expected_value } => {
            let expected = short_json(expected_value);
            (format!("{label} must be {expected}, not {shown}"), format!("Set {label} to {expected}"))
        }
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => t.to_string(),
                TypeKind::Multiple(set) => set.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(" or "),
            };
            (
                format!("{label} must be of type {expected}, not {shown}"),
                format!("Give {label} a value of type {expected}"),
            )
        }
        ValidationErrorKind::FalseSchema => (
            format!("{label} is not approved in {type_name}"),
            format!("Remove {label}, or ask the security team to approve it in the {type_name} template"),
        ),
        ValidationErrorKind::MinLength { limit } => {
            (format!("{label} {shown} is shorter than {limit} characters"), change())
        }
        ValidationErrorKind::MaxLength { limit } => {
            (format!("{label} {shown} is longer than {limit} characters"), change())
        }
        ValidationErrorKind::MinItems { limit } => (format!("{label} has fewer than {limit} items"), change()),
        ValidationErrorKind::MaxItems { limit } => (format!("{label} has more than {limit} items"), change()),
        ValidationErrorKind::MinProperties { limit } => {
            (format!("{label} has fewer than {limit} properties"), change())
        }
        ValidationErrorKind::MaxProperties { limit } => (format!("{label} has more than {limit} properties"), change()),
        ValidationErrorKind::Minimum { limit } => {
            (format!("{label} {shown} is less than the minimum {limit}"), change())
        }
        ValidationErrorKind::Maximum { limit } => {
            (format!("{label} {shown} is more than the maximum {limit}"), change())
        }
        ValidationErrorKind::ExclusiveMinimum { limit } => {
            (format!("{label} {shown} must be more than {limit}"), change())
        }
        ValidationErrorKind::ExclusiveMaximum { limit } => {
            (format!("{label} {shown} must be less than {limit}"), change())
        }
        ValidationErrorKind::MultipleOf { multiple_of } => {
            (format!("{label} {shown} is not a multiple of {multiple_of}"), change())
        }
        ValidationErrorKind::UniqueItems => {
            (format!("{label} has duplicate items"), format!("Remove the duplicates from {label}"))
        }
        ValidationErrorKind::Format { format } => (format!("{label} {shown} is not a valid {format}"), change()),
        ValidationErrorKind::Not { .. } => {
            (format!("{label} {shown} is a configuration the {type_name} template forbids"), change())
        }
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            match closest_reason(words, error.instance_path().as_str(), context) {
                // The closest alternative's own advice names the value or shape to write; a
                // wrong type says nothing about which alternative was meant.
                Some(reason) if reason.keyword != "type" => (
                    format!("{label} matches none of the approved alternatives (closest: {})", reason.message),
                    reason.remediation,
                ),
                Some(reason) => (
                    format!("{label} matches none of the approved alternatives (closest: {})", reason.message),
                    change(),
                ),
                None => (format!("{label} matches none of the approved alternatives"), change()),
            }
        }
        ValidationErrorKind::OneOfMultipleValid { .. } => {
            (format!("{label} matches more than one of the alternatives, but must match exactly one"), change())
        }
        ValidationErrorKind::Contains => (format!("{label} contains no approved item"), change()),
        ValidationErrorKind::PropertyNames { error } => {
            (format!("{label} has a property name that is not approved: {error}"), change())
        }
        ValidationErrorKind::Custom { keyword, message } if keyword == UNRUNNABLE_PATTERN => {
            patterns::refusal(type_name, label, message)
        }
        _ => (format!("{label}: {error}"), change()),
    }
}

/// Why the closest alternative failed: the alternative the value has the right type for, then
/// the one whose reasons reach deepest into the value (`{"AWS": "arn:…:444455556666:root"}` is
/// closer to "an object of this account's principals" than to "\"*\" or {\"AWS\": \"*\"}"),
/// then the one with the fewest reasons. (A list whose third item is foreign is closer to "a
/// list of accounts" than to "a string", though both fail once.) Alternatives nested in the
/// closest one are followed down to the reason itself.
fn closest_reason(words: &Words<'_>, at: &str, branches: &[Vec<ValidationError<'static>>]) -> Option<Violation> {
    let wrong_type = |errors: &Vec<ValidationError<'static>>| {
        errors.iter().any(|e| e.instance_path().as_str() == at && matches!(e.kind(), ValidationErrorKind::Type { .. }))
    };
    let depth = |error: &ValidationError<'static>| error.instance_path().as_str().matches('/').count();
    let reach = |errors: &Vec<ValidationError<'static>>| errors.iter().map(depth).max().unwrap_or(0);
    let closest = branches
        .iter()
        .filter(|errors| !errors.is_empty())
        .min_by_key(|errors| (wrong_type(errors), std::cmp::Reverse(reach(errors)), errors.len()))?;
    let error = closest.iter().max_by_key(|error| depth(error))?;
    match error.kind() {
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            closest_reason(words, error.instance_path().as_str(), context)
                .or_else(|| describe(words, error).into_iter().next())
        }
        _ => describe(words, error).into_iter().next(),
    }
}

/// An instance location, as the validator reports it.
struct Location<'a> {
    segments: Vec<String>,
    raw: &'a str,
}

impl<'a> Location<'a> {
    fn new(raw: &'a str) -> Self {
        let segments = raw.split('/').skip(1).map(|s| s.replace("~1", "/").replace("~0", "~")).collect();
        Location { segments, raw }
    }

    fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    fn pointer(&self) -> String {
        if self.raw.is_empty() { "/".to_owned() } else { self.raw.to_owned() }
    }

    fn child(&self, name: &str) -> String {
        format!("{}/{}", self.raw, crate::json::pointer_segment(name))
    }

    /// The name a developer knows the value by: `Topic`, `Tags[2]`, or `Properties`.
    fn label(&self) -> String {
        match self.segments.as_slice() {
            [] => "Properties".to_owned(),
            [.., parent, last] if last.parse::<usize>().is_ok() => format!("{parent}[{last}]"),
            [.., last] => last.clone(),
        }
    }
}

/// A value as JSON text, cut to [`MAX_VALUE_CHARS`].
pub fn short_json(value: &Value) -> String {
    shorten(&value.to_string(), MAX_VALUE_CHARS)
}

fn list(options: &Value) -> String {
    match options {
        Value::Array(items) => shorten(&items.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", "), 300),
        other => short_json(other),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn violations(schema: Value, properties: Value) -> Vec<Violation> {
        let policy = Policy::compile("AWS::S3::Bucket", "v", schema).unwrap();
        check(&policy, &properties)
    }

    #[test]
    fn a_key_of_an_object_that_takes_none_is_named() {
        let policy = Policy::compile(
            "A::B::C",
            "v",
            json!({"properties": {"NoDevice": {"type": "object", "additionalProperties": false}}}),
        )
        .unwrap();
        let found = check(&policy, &json!({"NoDevice": {"Surprise": "x"}}));
        let found: Vec<(&str, &str)> = found.iter().map(|v| (v.pointer.as_str(), v.message.as_str())).collect();
        assert_eq!(found, [("/NoDevice/Surprise", "Surprise is not an approved property of A::B::C in NoDevice")]);
        assert!(check(&policy, &json!({"NoDevice": {}})).is_empty());
    }

    #[test]
    fn unapproved_properties_are_named_one_by_one() {
        let schema = json!({"type": "object", "additionalProperties": false, "properties": {
            "Nested": {"type": "object", "additionalProperties": false, "properties": {}}
        }});
        let found = violations(schema, json!({"NewFeature": true, "Other": 1, "Nested": {"Deep": "x"}}));
        let messages: Vec<_> = found.iter().map(|v| (v.pointer.as_str(), v.message.as_str())).collect();
        assert_eq!(
            messages,
            [
                ("/Nested/Deep", "Deep is not an approved property of AWS::S3::Bucket in Nested"),
                ("/NewFeature", "NewFeature is not an approved property of AWS::S3::Bucket"),
                ("/Other", "Other is not an approved property of AWS::S3::Bucket"),
            ]
        );
        assert_eq!(found[1].value.as_deref(), Some("true"));
        assert_eq!(found[1].keyword, "additionalProperties");
    }

    #[test]
    fn pattern_violations_show_value_and_pattern() {
        let schema = json!({"properties": {"Items": {"items": {"properties": {"Topic": {"type": "string", "pattern": "^arn:aws:sns:"}}}}}});
        let found = violations(schema, json!({"Items": [{"Topic": "arn:aws:sqs:x"}]}));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].pointer, "/Items/0/Topic");
        assert_eq!(found[0].message, r#"Topic "arn:aws:sqs:x" does not match the approved pattern ^arn:aws:sns:"#);
    }

    #[test]
    fn required_const_enum_and_type() {
        let schema = json!({"required": ["Enc"], "properties": {
            "On": {"const": true}, "Mode": {"enum": ["A", "B"]}, "N": {"type": "integer"}, "L": {"type": "array", "items": {"type": "string"}}
        }});
        let found = violations(schema, json!({"On": false, "Mode": "C", "N": "x", "L": ["a", 1]}));
        let messages: Vec<_> = found.iter().map(|v| v.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "Enc is required by the AWS::S3::Bucket template",
                "L[1] must be of type string, not 1",
                r#"Mode "C" is not one of the approved values: "A", "B""#,
                r#"N must be of type integer, not "x""#,
                "On must be true, not false",
            ]
        );
    }

    #[test]
    fn alternatives_explain_the_closest_branch() {
        let schema = json!({"properties": {"K": {"anyOf": [{"type": "string", "pattern": "^arn:"}, {"type": "string", "pattern": "^alias/"}]}}});
        let found = violations(schema, json!({"K": "x"}));
        assert_eq!(found.len(), 1);
        assert!(
            found[0]
                .message
                .starts_with("K matches none of the approved alternatives (closest: K \"x\" does not match"),
            "{}",
            found[0].message
        );
    }

    /// A foreign account in the object form is explained by the object alternative (the one that
    /// reaches deepest into the value), down to the pattern, and the advice names the pattern.
    #[test]
    fn alternatives_are_followed_to_the_reason_that_reaches_deepest() {
        let wildcard = json!({"anyOf": [{"type": "string", "const": "*"},
            {"type": "object", "additionalProperties": false, "required": ["AWS"], "properties": {"AWS": {"const": "*"}}}]});
        let own = json!({"type": "object", "additionalProperties": false, "properties": {"AWS": {"anyOf": [
            {"type": "string", "pattern": "^111122223333$"},
            {"type": "array", "items": {"type": "string", "pattern": "^111122223333$"}}]}}});
        let schema = json!({"properties": {"Principal": {"anyOf": [wildcard, own]}}});
        let found = violations(schema, json!({"Principal": {"AWS": "444455556666"}}));
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].message,
            "Principal matches none of the approved alternatives (closest: AWS \"444455556666\" does not match the approved pattern ^111122223333$)"
        );
        assert_eq!(found[0].remediation, "Use a value that matches ^111122223333$");
    }

    /// A rule written as `if`/`then` fails on a keyword that says nothing of its purpose: the
    /// advice the template's authors wrote beside it is given instead, with the finding itself.
    #[test]
    fn authored_advice_replaces_the_worded_advice() {
        let schema = json!({
            "definitions": {"Statement": {"allOf": [{
                "if": {"properties": {"Principal": {"const": "*"}}, "required": ["Principal"]},
                "then": {"x-rcfge-remediation": "Name this account's principals", "required": ["Condition"]}
            }]}},
            "properties": {"Statement": {"type": "array", "items": {"$ref": "#/definitions/Statement"}}, "Name": {"maxLength": 2}}
        });
        let found = violations(schema, json!({"Statement": [{"Principal": "*"}], "Name": "long"}));
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[1].message, "Condition is required in Statement[0]");
        assert_eq!(found[1].remediation, "Name this account's principals");
        // Findings elsewhere keep their own advice.
        assert_eq!(found[0].pointer, "/Name");
        assert_ne!(found[0].remediation, "Name this account's principals");
    }

    /// Advice written inside an alternative is given when that alternative is the closest; advice
    /// written around the alternatives speaks for all of them.
    #[test]
    fn authored_advice_inside_and_around_alternatives() {
        let own = json!({"type": "string", "pattern": "^111122223333$", "x-rcfge-remediation": "Name this account"});
        let schema = json!({"definitions": {"Own": own}, "properties": {
            "Inner": {"anyOf": [{"type": "string", "const": "*"}, {"type": "array", "items": {"$ref": "#/definitions/Own"}}]},
            "Outer": {"x-rcfge-remediation": "Write * or this account", "anyOf": [{"const": "*"}, {"$ref": "#/definitions/Own"}]}
        }});
        let found = violations(schema, json!({"Inner": ["444455556666"], "Outer": "444455556666"}));
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!((found[0].pointer.as_str(), found[0].remediation.as_str()), ("/Inner", "Name this account"));
        assert_eq!((found[1].pointer.as_str(), found[1].remediation.as_str()), ("/Outer", "Write * or this account"));
    }

    #[test]
    fn long_values_are_shortened() {
        let long = "x".repeat(500);
        let found = violations(json!({"properties": {"Name": {"maxLength": 3}}}), json!({"Name": long}));
        let value = found[0].value.as_deref().unwrap();
        assert_eq!(value.chars().count(), MAX_VALUE_CHARS);
        assert!(value.ends_with('…'));
    }

    #[test]
    fn redos_is_refused_not_hung() {
        let schema = json!({"properties": {"Name": {"type": "string", "pattern": "^(a+)+$"}}});
        let found = violations(schema, json!({"Name": format!("{}b", "a".repeat(5000))}));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].keyword, "pattern");
    }
}
