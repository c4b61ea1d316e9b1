//! CloudFormation stack templates (JSON or YAML with short-form tags), and judging every
//! resource in one.
//!
//! Values produced by intrinsic functions (`{"Ref": …}`, `{"Fn::…": …}`) cannot be known
//! before deploy. They are never judged as values: a violation at or under one is set aside
//! and reported as checked at deploy time, where the hook sees the resolved value. The keys
//! around them are still judged: `NewFeature: !If [...]` is refused for its name.

use serde_json::{Map, Value};
use serde_yaml_ng::Value as Yaml;

use crate::context::{Action, Context};
use crate::engine::{Engine, Target};
use crate::position::{Position, Positions};
use crate::verdict::{Decision, Verdict};

/// YAML short-form tags written `!Name` that stand for `Fn::Name` (`!Ref`, `!Condition` and
/// `!GetAtt` are handled on their own).
const SHORT_FORMS: [&str; 17] = [
    "Base64",
    "Cidr",
    "FindInMap",
    "GetAZs",
    "ImportValue",
    "Join",
    "Select",
    "Split",
    "Sub",
    "Transform",
    "And",
    "Equals",
    "If",
    "Not",
    "Or",
    "ToJsonString",
    "Length",
];

/// The intrinsic functions that produce a property value. Condition functions (`Fn::And`,
/// `Fn::Equals`, ...) and `Condition` only appear in conditions, so an object named after
/// them in `Properties` is data, and judged.
const VALUE_FUNCTIONS: [&str; 15] = [
    "Ref",
    "Fn::Base64",
    "Fn::Cidr",
    "Fn::FindInMap",
    "Fn::GetAtt",
    "Fn::GetAZs",
    "Fn::If",
    "Fn::ImportValue",
    "Fn::Join",
    "Fn::Length",
    "Fn::Select",
    "Fn::Split",
    "Fn::Sub",
    "Fn::ToJsonString",
    "Fn::Transform",
];

/// The resources of a stack template.
#[derive(Clone, Debug, PartialEq)]
pub struct StackTemplate {
    pub resources: Vec<Resource>,
    /// Where each node is in the file.
    pub positions: Positions,
}

/// One entry of `Resources`.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    pub logical_id: String,
    pub type_name: String,
    pub properties: Value,
}

/// Why a stack template cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum CfnError {
    #[error("not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("not valid YAML: {0}")]
    Yaml(#[source] serde_yaml_ng::Error),
    #[error("YAML merge keys (`<<`) are not supported by CloudFormation; write the keys out")]
    MergeKey,
    #[error("unknown YAML tag {tag}")]
    UnknownTag { tag: String },
    #[error("a mapping key must be a string, not {found}")]
    KeyNotAString { found: String },
    #[error("a number is not finite")]
    NotFinite,
    #[error("duplicate key `{key}`")]
    DuplicateKey { key: String },
    #[error("the template has no Resources section")]
    NoResources,
    #[error("resource {logical_id}: {reason}")]
    BadResource { logical_id: String, reason: String },
}

/// A resource's verdict, with the values that were left to deploy time.
#[derive(Debug)]
pub struct ResourceReport {
    pub decision: Decision,
    pub deferred: Vec<DeferredValue>,
    /// Where the resource is in the file.
    pub position: Option<Position>,
}

/// A value produced by an intrinsic function, judged only at deploy time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeferredValue {
    /// Where in the properties (`/BucketName`; `/` for the whole properties object).
    pub pointer: String,
    /// `Ref`, `Fn::Sub`, ...
    pub function: String,
    /// Where in the stack template file.
    pub position: Option<Position>,
}

/// Reads a stack template; JSON when it starts with `{`, YAML otherwise.
pub fn parse(text: &str) -> Result<StackTemplate, CfnError> {
    let document = if text.trim_start().starts_with('{') {
        crate::json::from_str(text).map_err(CfnError::Json)?
    } else {
        let yaml: Yaml = serde_yaml_ng::from_str(text).map_err(CfnError::Yaml)?;
        from_yaml(yaml)?
    };
    let resources = resources_of(&document)?;
    Ok(StackTemplate { resources, positions: Positions::index(text) })
}

fn resources_of(document: &Value) -> Result<Vec<Resource>, CfnError> {
    let Some(Value::Object(resources)) = document.get("Resources") else {
        return Err(CfnError::NoResources);
    };
    let mut out = Vec::with_capacity(resources.len());
    for (logical_id, resource) in resources {
        let bad = |reason: &str| CfnError::BadResource { logical_id: logical_id.clone(), reason: reason.to_owned() };
        let Value::Object(resource) = resource else {
            return Err(bad("is not a mapping"));
        };
        let type_name = resource.get("Type").and_then(Value::as_str).ok_or_else(|| bad("has no Type string"))?;
        let properties = match resource.get("Properties") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(properties) => properties.clone(),
        };
        out.push(Resource { logical_id: logical_id.clone(), type_name: type_name.to_owned(), properties });
    }
    Ok(out)
}

/// Converts YAML to JSON, expanding short-form tags (`!Ref x` → `{"Ref": "x"}`,
/// `!GetAtt a.b` → `{"Fn::GetAtt": ["a", "b"]}`).
fn from_yaml(yaml: Yaml) -> Result<Value, CfnError> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                serde_json::Number::from_f64(f).map(Value::Number).ok_or(CfnError::NotFinite)?
            }
        }
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(items.into_iter().map(from_yaml).collect::<Result<_, _>>()?),
        Yaml::Mapping(mapping) => {
            let mut object = Map::new();
            for (key, value) in mapping {
                let key = match key {
                    Yaml::String(s) => s,
                    Yaml::Number(n) => n.to_string(),
                    Yaml::Bool(b) => b.to_string(),
                    other => {
                        return Err(CfnError::KeyNotAString { found: format!("{other:?}") });
                    }
                };
                if key == "<<" {
                    return Err(CfnError::MergeKey);
                }
                if object.contains_key(&key) {
                    return Err(CfnError::DuplicateKey { key });
                }
                object.insert(key, from_yaml(value)?);
            }
            Value::Object(object)
        }
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let value = from_yaml(tagged.value)?;
            let (function, argument) = match name {
                "Ref" | "Condition" => (name.to_owned(), value),
                "GetAtt" => ("Fn::GetAtt".to_owned(), split_get_att(value)),
                _ if SHORT_FORMS.contains(&name) => (format!("Fn::{name}"), value),
                _ => return Err(CfnError::UnknownTag { tag }),
            };
            Value::Object(Map::from_iter([(function, argument)]))
        }
    })
}

/// `!GetAtt Bucket.Arn` → `["Bucket", "Arn"]`; the list form is kept.
fn split_get_att(value: Value) -> Value {
    match value {
        Value::String(s) => match s.split_once('.') {
            Some((resource, attribute)) => Value::Array(vec![resource.into(), attribute.into()]),
            None => Value::String(s),
        },
        other => other,
    }
}

/// The intrinsic function a value is, if any: an object whose only key is one of the
/// [`VALUE_FUNCTIONS`].
pub fn intrinsic_function(value: &Value) -> Option<&str> {
    let Value::Object(object) = value else { return None };
    if object.len() != 1 {
        return None;
    }
    let key = object.keys().next()?;
    VALUE_FUNCTIONS.contains(&key.as_str()).then_some(key.as_str())
}

/// `{"Ref": "AWS::NoValue"}`: the property is absent.
fn is_no_value(value: &Value) -> bool {
    value.as_object().is_some_and(|o| o.len() == 1 && o.get("Ref").and_then(Value::as_str) == Some("AWS::NoValue"))
}

/// Removes every property and list item set to `AWS::NoValue`, as CloudFormation does, so a
/// required property set to it is missing and judged so.
pub fn remove_no_values(value: &mut Value) {
    match value {
        Value::Object(object) => {
            object.retain(|_, v| !is_no_value(v));
            object.values_mut().for_each(remove_no_values);
        }
        Value::Array(items) => {
            items.retain(|v| !is_no_value(v));
            items.iter_mut().for_each(remove_no_values);
        }
        _ => {}
    }
}

/// Every place in `properties` whose value an intrinsic function produces (outermost only).
pub fn deferred_values(properties: &Value) -> Vec<DeferredValue> {
    let mut out = Vec::new();
    collect_deferred(properties, &mut String::new(), &mut out);
    out
}

fn collect_deferred(value: &Value, pointer: &mut String, out: &mut Vec<DeferredValue>) {
    if let Some(function) = intrinsic_function(value) {
        let shown = if pointer.is_empty() { "/".to_owned() } else { pointer.clone() };
        out.push(DeferredValue { pointer: shown, function: function.to_owned(), position: None });
        return;
    }
    let children: Box<dyn Iterator<Item = (String, &Value)>> = match value {
        Value::Object(object) => Box::new(object.iter().map(|(k, v)| (k.replace('~', "~0").replace('/', "~1"), v))),
        Value::Array(items) => Box::new(items.iter().enumerate().map(|(i, v)| (i.to_string(), v))),
        _ => return,
    };
    for (segment, child) in children {
        let len = pointer.len();
        pointer.push('/');
        pointer.push_str(&segment);
        collect_deferred(child, pointer, out);
        pointer.truncate(len);
    }
}

/// Whether `pointer` is at or under the deferred value at `site`.
fn is_within(pointer: &str, site: &str) -> bool {
    site == "/" || pointer == site || pointer.strip_prefix(site).is_some_and(|rest| rest.starts_with('/'))
}

/// The location a violation is about: the object, for a property that should not be there or
/// is missing; the value itself otherwise.
fn subject_of(pointer: &str, keyword: &str) -> String {
    match keyword {
        "additionalProperties" | "required" | "falseSchema" => match pointer.rfind('/') {
            Some(0) | None => "/".to_owned(),
            Some(i) => pointer[..i].to_owned(),
        },
        _ => pointer.to_owned(),
    }
}

/// Judges every resource of a stack template in `context`, as if it were being created.
pub async fn check_stack(engine: &Engine, stack: &StackTemplate, context: &Context) -> Vec<ResourceReport> {
    let mut reports = Vec::with_capacity(stack.resources.len());
    for resource in &stack.resources {
        let mut properties = resource.properties.clone();
        remove_no_values(&mut properties);
        let resource_pointer = format!("/Resources/{}", resource.logical_id.replace('~', "~0").replace('/', "~1"));
        let base = format!("{resource_pointer}/Properties");
        let locate = |pointer: &str| stack.positions.find(&format!("{base}{}", pointer.trim_end_matches('/')));
        let mut deferred = deferred_values(&properties);
        for d in &mut deferred {
            d.position = locate(&d.pointer);
        }
        let target = Target {
            type_name: resource.type_name.clone(),
            logical_id: resource.logical_id.clone(),
            action: Action::Create,
            properties,
            context: context.clone(),
        };
        let mut decision = engine.decide(&target).await;
        if let Verdict::NonCompliant(violations) = &mut decision.verdict {
            violations.retain(|v| {
                let subject = subject_of(&v.pointer, &v.keyword);
                !deferred.iter().any(|d| is_within(&subject, &d.pointer))
            });
            for v in violations.iter_mut() {
                v.position = locate(&v.pointer);
            }
            if violations.is_empty() {
                decision.verdict = Verdict::Compliant;
            }
        }
        let position = stack.positions.find(&resource_pointer);
        reports.push(ResourceReport { decision, deferred, position });
    }
    reports
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn yaml_short_forms_become_intrinsics() {
        let stack = parse(
            "Resources:\n  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: !Sub '${AWS::StackName}-x'\n      Arn: !GetAtt Topic.Arn\n      Ref: !Ref Name\n      List: !If [Cond, !Ref A, !Ref 'AWS::NoValue']\n      Flag: true\n      Count: 3\n",
        )
        .unwrap();
        let properties = &stack.resources[0].properties;
        assert_eq!(
            properties,
            &json!({
                "BucketName": {"Fn::Sub": "${AWS::StackName}-x"},
                "Arn": {"Fn::GetAtt": ["Topic", "Arn"]},
                "Ref": {"Ref": "Name"},
                "List": {"Fn::If": ["Cond", {"Ref": "A"}, {"Ref": "AWS::NoValue"}]},
                "Flag": true,
                "Count": 3
            })
        );
    }

    #[test]
    fn json_templates_and_missing_properties() {
        let stack = parse(r#"{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}"#).unwrap();
        assert_eq!(
            stack.resources,
            vec![Resource { logical_id: "Q".into(), type_name: "AWS::SQS::Queue".into(), properties: json!({}) }]
        );
    }

    #[test]
    fn refuses_what_cloudformation_refuses() {
        assert!(matches!(parse(r#"{"Resources": {"Q": {"Type": "A::B::C"}, "Q": {}}}"#), Err(CfnError::Json(_))));
        assert!(matches!(
            parse("Resources:\n  Q:\n    Type: A::B::C\n  Q:\n    Type: A::B::C\n"),
            Err(CfnError::Yaml(_) | CfnError::DuplicateKey { .. })
        ));
        assert!(matches!(
            parse("Base: &b {A: 1}\nResources:\n  Q:\n    <<: *b\n    Type: A::B::C\n"),
            Err(CfnError::MergeKey)
        ));
        assert!(matches!(parse("Resources:\n  Q:\n    Type: !Bogus x\n"), Err(CfnError::UnknownTag { .. })));
        assert!(matches!(parse("AWSTemplateFormatVersion: '2010-09-09'\n"), Err(CfnError::NoResources)));
        assert!(matches!(parse("Resources:\n  Q:\n    Properties: {}\n"), Err(CfnError::BadResource { .. })));
        assert!(matches!(parse("Resources: [\n"), Err(CfnError::Yaml(_))));
    }

    #[test]
    fn finds_deferred_values() {
        let found = deferred_values(
            &json!({"A": {"Ref": "x"}, "B": [{"C": {"Fn::GetAtt": ["r", "Arn"]}}], "D": {"E": 1, "F": 2}}),
        );
        let pointers: Vec<_> = found.iter().map(|d| (d.pointer.as_str(), d.function.as_str())).collect();
        assert_eq!(pointers, [("/A", "Ref"), ("/B/0/C", "Fn::GetAtt")]);
        assert_eq!(deferred_values(&json!({"Fn::If": ["c", {}, {}]}))[0].pointer, "/");
    }

    #[test]
    fn only_value_functions_are_deferred() {
        assert_eq!(intrinsic_function(&json!({"Fn::Sub": "x"})), Some("Fn::Sub"));
        assert_eq!(intrinsic_function(&json!({"Condition": "x"})), None);
        assert_eq!(intrinsic_function(&json!({"Fn::NotAFunction": "x"})), None);
        assert_eq!(intrinsic_function(&json!({"Ref": "x", "Other": 1})), None);
    }

    #[test]
    fn no_value_removes_the_property() {
        let mut properties =
            json!({"A": {"Ref": "AWS::NoValue"}, "B": [1, {"Ref": "AWS::NoValue"}], "C": {"Ref": "Other"}});
        remove_no_values(&mut properties);
        assert_eq!(properties, json!({"B": [1], "C": {"Ref": "Other"}}));
    }

    #[test]
    fn key_level_violations_are_judged_around_intrinsics() {
        assert_eq!(subject_of("/NewFeature", "additionalProperties"), "/");
        assert_eq!(subject_of("/A/Fn::If", "additionalProperties"), "/A");
        assert_eq!(subject_of("/A/B", "pattern"), "/A/B");
        assert!(is_within("/A/B", "/A"));
        assert!(is_within("/A", "/A"));
        assert!(!is_within("/AB", "/A"));
    }
}
