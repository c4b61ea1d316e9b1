//! CloudFormation stack templates (JSON or YAML with short-form tags) read the way
//! CloudFormation reads them: duplicate keys and YAML merge keys are refused, anchors are
//! copies, every node has a position. Resolving intrinsic functions is `intrinsics`' job;
//! judging the resources is `stack`'s (`mod.rs`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::yaml::{self, yaml11_bool};
pub use super::yaml::{READINGS_KEY, readings_of};

use super::error::ReadError;
use crate::stack::position::Positions;

/// The intrinsic functions that produce a property value. Condition functions (`Fn::And`,
/// `Fn::Equals`, ...) and `Condition` only appear in conditions, so an object named after
/// them in `Properties` is data, and judged.
const VALUE_FUNCTIONS: [&str; 16] = [
    "Ref",
    "Fn::Base64",
    "Fn::Cidr",
    "Fn::FindInMap",
    "Fn::GetAtt",
    "Fn::GetAZs",
    "Fn::GetStackOutput",
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

/// A stack template: its resources, and the sections intrinsic functions read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StackTemplate {
    pub resources: Vec<Resource>,
    pub parameters: Map<String, Value>,
    pub mappings: Map<String, Value>,
    pub conditions: Map<String, Value>,
    /// Every entry of `Resources` by logical id, with its `Type` (`Fn::ForEach` for a loop),
    /// for `Ref` and `Fn::GetAtt` to know the logical ids. The properties are in `resources`
    /// only: a large template is held once.
    pub resource_types: BTreeMap<String, String>,
    /// The `Transform` names (`AWS::Serverless-2016-10-31`, macros).
    pub transforms: Vec<String>,
    /// Where each node is in the file.
    pub positions: Positions,
}

/// One entry of `Resources`.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    pub logical_id: String,
    pub type_name: String,
    pub properties: Value,
    /// The resource-level `Condition`.
    pub condition: Option<String>,
    /// The tools its `Metadata` holds suppressions for (`cfn-lint`, `guard`, ...): rcfge reads
    /// none of them, and says so.
    pub suppressions: Vec<String>,
}

/// The `Metadata` keys under which other tools read suppressions written in the template
/// (cfn-lint's `ignore_checks`, Guard's `SuppressedRules`, checkov's `skip`, cfn_nag's and
/// cdk-nag's `rules_to_suppress`), and rcfge's own name: a developer who writes one expects it
/// to be honoured, and rcfge only honours the security team's waivers.
pub const SUPPRESSION_KEYS: [&str; 6] = ["cfn-lint", "guard", "checkov", "cfn_nag", "cdk_nag", "rcfge"];

fn suppressions_in(metadata: Option<&Value>) -> Vec<String> {
    let Some(Value::Object(metadata)) = metadata else { return Vec::new() };
    SUPPRESSION_KEYS.iter().filter(|key| metadata.contains_key(**key)).map(|key| (*key).to_owned()).collect()
}

/// The transform that expands `AWS::Serverless::*` resources.
pub const SERVERLESS_TRANSFORM: &str = "AWS::Serverless-2016-10-31";
/// The transform that adds `Fn::ForEach`, `Fn::Length`, `Fn::ToJsonString`.
pub const LANGUAGE_EXTENSIONS: &str = "AWS::LanguageExtensions";
/// The prefix of an `Fn::ForEach` block among the resources.
pub const FOR_EACH_PREFIX: &str = "Fn::ForEach::";

impl StackTemplate {
    /// Why a resource cannot be judged from the template as written, if so.
    pub fn not_judged(&self, resource: &Resource) -> Option<String> {
        if resource.logical_id.starts_with(FOR_EACH_PREFIX) {
            return Some(format!(
                "{LANGUAGE_EXTENSIONS} expands Fn::ForEach into resources at deploy time; the hook judges each of them"
            ));
        }
        if resource.type_name.ends_with("::MODULE") {
            return Some(
                "a module: CloudFormation expands it into plain resources at deploy time; the hook judges each of them"
                    .to_owned(),
            );
        }
        if resource.type_name.starts_with("AWS::Serverless::")
            && self.transforms.iter().any(|t| t == SERVERLESS_TRANSFORM)
        {
            return Some(format!(
                "the {SERVERLESS_TRANSFORM} transform expands it into plain resources at deploy time; the hook judges each of them"
            ));
        }
        None
    }

    /// The transforms that are macros: they may rewrite any part of the template before the
    /// hook sees it.
    pub fn macros(&self) -> impl Iterator<Item = &str> {
        self.transforms.iter().map(String::as_str).filter(|t| *t != SERVERLESS_TRANSFORM && *t != LANGUAGE_EXTENSIONS)
    }
}

/// Reads a stack template; JSON when it starts with `{`, YAML otherwise.
pub fn parse(text: &str) -> Result<StackTemplate, ReadError> {
    if text.len() < INDEX_BESIDE_BYTES {
        let mut stack = read(text)?;
        stack.positions = Positions::index(text);
        return Ok(stack);
    }
    // Reading and indexing are two passes over the same text that share nothing: a large
    // text is indexed on a second thread while it is read.
    std::thread::scope(|scope| {
        let indexing = std::thread::Builder::new().spawn_scoped(scope, || Positions::index(text));
        let stack = read(text);
        let positions = match indexing {
            // A panic while indexing is the same panic it would have been on this thread.
            Ok(handle) => handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => Positions::index(text),
        };
        let mut stack = stack?;
        stack.positions = positions;
        Ok(stack)
    })
}

/// From this size on a text is indexed beside its reading (see [`parse`]); below it, starting
/// a thread costs more than it saves.
const INDEX_BESIDE_BYTES: usize = 256 * 1024;

/// [`parse`] without the positions, for readers that report no lines (the hook): indexing
/// reads the whole text a second time.
pub fn read(text: &str) -> Result<StackTemplate, ReadError> {
    let document = if text.trim_start().starts_with('{') {
        let document = crate::json::from_str(text).map_err(ReadError::Json)?;
        refuse_reserved_keys(&document)?;
        document
    } else {
        yaml::to_json(text)?
    };
    let Value::Object(mut document) = document else { return Err(ReadError::NoResources) };
    // Each section is moved out of the document, not copied.
    let section = |document: &mut Map<String, Value>, name: &str| match document.remove(name) {
        Some(Value::Object(section)) => section,
        _ => Map::new(),
    };
    let conditions = section(&mut document, "Conditions");
    let Some(Value::Object(resource_section)) = document.remove("Resources") else {
        return Err(ReadError::NoResources);
    };
    let (resources, resource_types) = resources_of(resource_section, &conditions)?;
    Ok(StackTemplate {
        resources,
        parameters: section(&mut document, "Parameters"),
        mappings: section(&mut document, "Mappings"),
        conditions,
        resource_types,
        transforms: transforms_of(document.get("Transform"))?,
        positions: Positions::default(),
    })
}

/// `Transform: Name`, `Transform: [Name, ...]`, or `{Name: ..., Parameters: ...}` items.
fn transforms_of(transform: Option<&Value>) -> Result<Vec<String>, ReadError> {
    let name_of = |item: &Value| match item {
        Value::String(name) => Some(name.clone()),
        Value::Object(object) => object.get("Name").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    };
    let items = match transform {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(item) => vec![item],
    };
    items.into_iter().map(|item| name_of(item).ok_or(ReadError::BadTransform)).collect()
}

/// The resources of a `Resources` section, taking their properties out of it, and every
/// logical id with its type.
fn resources_of(
    section: Map<String, Value>,
    conditions: &Map<String, Value>,
) -> Result<(Vec<Resource>, BTreeMap<String, String>), ReadError> {
    let mut out = Vec::with_capacity(section.len());
    let mut types = BTreeMap::new();
    for (logical_id, resource) in section {
        let bad = |reason: &str| ReadError::BadResource { logical_id: logical_id.clone(), reason: reason.to_owned() };
        if logical_id.starts_with(FOR_EACH_PREFIX) {
            types.insert(logical_id.clone(), "Fn::ForEach".to_owned());
            out.push(Resource {
                logical_id,
                type_name: "Fn::ForEach".to_owned(),
                properties: Value::Object(Map::new()),
                condition: None,
                suppressions: Vec::new(),
            });
            continue;
        }
        let Value::Object(mut resource) = resource else {
            return Err(bad("is not a mapping"));
        };
        let type_name = resource.get("Type").and_then(Value::as_str).ok_or_else(|| bad("has no Type string"))?;
        let type_name = type_name.to_owned();
        let condition = match resource.get("Condition") {
            None => None,
            Some(value) => match name_in(value, conditions.keys()) {
                Some(name) => Some(name),
                None => return Err(bad("has a Condition that is not a condition name")),
            },
        };
        let properties = match resource.remove("Properties") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(properties) => properties,
        };
        types.insert(logical_id.clone(), type_name.clone());
        out.push(Resource {
            suppressions: suppressions_in(resource.get("Metadata")),
            logical_id,
            type_name,
            properties,
            condition,
        });
    }
    Ok((out, types))
}

/// Refuses a value that uses a key only the YAML reader may write ([`READINGS_KEY`]): in a
/// JSON template or a change set's properties it would be taken for a choice of readings.
pub fn refuse_reserved_keys(value: &Value) -> Result<(), ReadError> {
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Value::Object(object) => {
                if object.contains_key(READINGS_KEY) {
                    return Err(ReadError::ReservedKey { key: READINGS_KEY.to_owned() });
                }
                pending.extend(object.values());
            }
            Value::Array(items) => pending.extend(items),
            _ => {}
        }
    }
    Ok(())
}

/// The name `value` gives among `names` (condition names, in `Fn::If` and `Condition`). A YAML
/// plain scalar such as `Off` is read as a boolean in a value, while keys stay as written: the
/// boolean names the one key that YAML 1.1 reads as it.
///
/// Where readers disagree (`y`: the name `y`, or the boolean true), every name a reading could
/// give must be the same one; two conditions that readings could confuse (`y` and `true`) are
/// refused rather than one of them picked.
pub fn name_in<'a>(value: &'a Value, names: impl Iterator<Item = &'a String> + Clone) -> Option<String> {
    let by_boolean = |b: bool| {
        let mut matching = names.clone().filter(move |name| yaml11_bool(name) == Some(b));
        match (matching.next(), matching.next()) {
            (Some(name), None) => Some(Some(name.clone())),
            (None, _) => Some(None),
            _ => None,
        }
    };
    match value {
        Value::String(name) => Some(name.clone()),
        Value::Bool(b) => by_boolean(*b).flatten(),
        other => {
            let (written, readings) = readings_of(other)?;
            let mut found: Option<String> = names.clone().any(|n| n == written).then(|| written.to_owned());
            for reading in readings {
                let candidate = match reading {
                    Value::Bool(b) => by_boolean(*b)?,
                    _ => None,
                };
                match (&found, candidate) {
                    (_, None) => {}
                    (None, Some(name)) => found = Some(name),
                    (Some(known), Some(name)) if *known == name => {}
                    (Some(_), Some(_)) => return None,
                }
            }
            Some(found.unwrap_or_else(|| written.to_owned()))
        }
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

/// The resource and attribute an `Fn::GetAtt` names: `[resource, attribute]` or
/// `"resource.attribute"` (either may be missing when the arguments are malformed).
pub(crate) fn get_att_parts(arguments: &Value) -> (Option<&str>, Option<&str>) {
    match arguments {
        Value::Array(parts) => (parts.first().and_then(Value::as_str), parts.get(1).and_then(Value::as_str)),
        Value::String(s) => match s.split_once('.') {
            Some((resource, attribute)) => (Some(resource), Some(attribute)),
            None => (Some(s.as_str()), None),
        },
        _ => (None, None),
    }
}

/// Whether `pointer` is at or under `site` (`/` is the whole document).
pub(crate) fn is_within(pointer: &str, site: &str) -> bool {
    site == "/" || pointer == site || pointer.strip_prefix(site).is_some_and(|rest| rest.starts_with('/'))
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
    fn the_non_specific_tag_is_the_plain_value() {
        let stack = parse(
            "Resources:\n  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      Tags:\n        - Key: ! \"team\"\n          Value: {! \"Ref\": \"AWS::AccountId\"}\n",
        )
        .unwrap();
        assert_eq!(
            stack.resources[0].properties,
            json!({"Tags": [{"Key": "team", "Value": {"Ref": "AWS::AccountId"}}]})
        );
    }

    #[test]
    fn the_non_specific_tag_on_a_number_like_scalar_is_refused() {
        for text in ["! 0x10", "! +12", "! 1e2", "! ~", "! true", "!<!> 0x10"] {
            let yaml =
                format!("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: {text}\n");
            assert!(
                matches!(parse(&yaml), Err(ReadError::UnknownTag { .. })),
                "{text}: {:?}",
                parse(&yaml).map(|s| s.resources[0].properties.clone())
            );
        }
        let key = "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      ! 0x10: x\n";
        assert!(parse(key).is_err(), "{:?}", parse(key).map(|s| s.resources[0].properties.clone()));
    }

    #[test]
    fn json_templates_and_missing_properties() {
        let stack = parse(r#"{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}"#).unwrap();
        assert_eq!(
            stack.resources,
            vec![Resource {
                logical_id: "Q".into(),
                type_name: "AWS::SQS::Queue".into(),
                properties: json!({}),
                condition: None,
                suppressions: Vec::new(),
            }]
        );
    }

    #[test]
    fn refuses_what_cloudformation_refuses() {
        assert!(matches!(parse(r#"{"Resources": {"Q": {"Type": "A::B::C"}, "Q": {}}}"#), Err(ReadError::Json(_))));
        assert!(matches!(
            parse("Resources:\n  Q:\n    Type: A::B::C\n  Q:\n    Type: A::B::C\n"),
            Err(ReadError::Yaml(_) | ReadError::DuplicateKey { .. })
        ));
        assert!(matches!(
            parse("Base: &b {A: 1}\nResources:\n  Q:\n    <<: *b\n    Type: A::B::C\n"),
            Err(ReadError::MergeKey)
        ));
        assert!(matches!(parse("Resources:\n  Q:\n    Type: !Bogus x\n"), Err(ReadError::UnknownTag { .. })));
        assert!(matches!(parse("AWSTemplateFormatVersion: '2010-09-09'\n"), Err(ReadError::NoResources)));
        assert!(matches!(parse("Resources:\n  Q:\n    Properties: {}\n"), Err(ReadError::BadResource { .. })));
        assert!(matches!(parse("Resources: [\n"), Err(ReadError::Yaml(_))));
    }

    #[test]
    fn only_value_functions_are_deferred() {
        assert_eq!(intrinsic_function(&json!({"Fn::Sub": "x"})), Some("Fn::Sub"));
        assert_eq!(intrinsic_function(&json!({"Condition": "x"})), None);
        assert_eq!(intrinsic_function(&json!({"Fn::NotAFunction": "x"})), None);
        assert_eq!(intrinsic_function(&json!({"Ref": "x", "Other": 1})), None);
    }
}
