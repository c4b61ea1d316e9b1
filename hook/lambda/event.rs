//! Lambda Hook events: the tolerant reading of every documented variant (see
//! HOOK-PROTOCOL.md), turned into a [`Request`]. Unknown fields are ignored; anything needed
//! that is missing or malformed is an [`EventError`].

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::decision::Target;
use crate::decision::{Action, Context, is_account_id, partition_for_region};
use crate::template::store::file_name_for_type;

/// Larger than any event Lambda delivers (6 MB payload limit).
pub const MAX_EVENT_BYTES: usize = 6 * 1024 * 1024;

/// Settings the event alone cannot supply.
#[derive(Clone, Debug, Default)]
pub struct EventDefaults {
    /// The Region to assume when the event has no stack or change-set ARN (Cloud Control).
    pub region: Option<String>,
}

/// What CloudFormation asks the hook to judge.
#[derive(Clone, Debug)]
pub enum Request {
    /// One resource (RESOURCE and CLOUD_CONTROL targets).
    Resource(Box<Target>),
    /// A whole stack template.
    Stack(WholeTarget),
    /// A change set.
    ChangeSet(WholeTarget),
}

/// A STACK or CHANGE_SET target: what to judge is behind `payload_url`.
#[derive(Clone, Debug)]
pub struct WholeTarget {
    /// The stack name (STACK) or change-set ARN (CHANGE_SET).
    pub logical_id: String,
    pub action: Action,
    /// The presigned URL of the payload.
    pub payload_url: String,
    pub context: Context,
}

/// Why an event cannot be judged.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EventError {
    #[error("the event is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    #[error("the event is {size} bytes, more than the {limit} bytes a hook event may have")]
    TooLarge { size: usize, limit: usize },
    #[error("the event is not a JSON object")]
    NotAnObject,
    #[error("the event does not have the shape of a hook event: {0}")]
    Shape(#[source] serde_json::Error),
    #[error("the event has no {field}")]
    Missing { field: &'static str },
    #[error(
        "unknown invocation point `{found}` (expected CREATE_PRE_PROVISION, UPDATE_PRE_PROVISION or DELETE_PRE_PROVISION)"
    )]
    UnknownInvocationPoint { found: String },
    #[error("unknown target: targetName `{target_name}`, targetType `{target_type}`")]
    UnknownTarget { target_name: String, target_type: String },
    #[error("awsAccountId `{found}` is not a 12-digit account ID")]
    BadAccountId { found: String },
    #[error("`{found}` is not a CloudFormation stack or change-set ARN")]
    BadArn { found: String },
    #[error("the event's account {event} differs from the account {arn} in its stack ARN")]
    AccountMismatch { event: String, arn: String },
    #[error("the event names no Region (no stack ARN) and no default Region is configured")]
    NoRegion,
    #[error("resourceProperties must be a JSON object")]
    PropertiesNotAnObject,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEvent {
    aws_account_id: Option<String>,
    #[serde(alias = "stackID")]
    stack_id: Option<String>,
    change_set_id: Option<String>,
    hook_type_name: Option<String>,
    action_invocation_point: Option<String>,
    request_data: Option<RawRequestData>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRequestData {
    target_name: Option<String>,
    target_type: Option<String>,
    target_logical_id: Option<String>,
    target_model: Option<Value>,
    payload: Option<String>,
}

/// Parses raw event bytes (strict JSON: duplicate keys are refused).
pub fn parse_bytes(bytes: &[u8]) -> Result<Value, EventError> {
    if bytes.len() > MAX_EVENT_BYTES {
        return Err(EventError::TooLarge { size: bytes.len(), limit: MAX_EVENT_BYTES });
    }
    crate::json::from_slice(bytes).map_err(EventError::NotJson)
}

/// The token to echo in the response, in either documented spelling, read leniently so that
/// even a malformed event gets its token back.
pub fn client_request_token(event: &Value) -> Option<String> {
    ["clientRequestToken", "clientRequesttoken"]
        .iter()
        .find_map(|key| event.get(key).and_then(Value::as_str))
        .map(str::to_owned)
}

/// Reads what the event asks to judge.
pub fn parse(event: &Value, defaults: &EventDefaults) -> Result<Request, EventError> {
    if !event.is_object() {
        return Err(EventError::NotAnObject);
    }
    let raw = RawEvent::deserialize(event).map_err(EventError::Shape)?;
    let data = raw.request_data.as_ref().ok_or(EventError::Missing { field: "requestData" })?;
    let target_name = data.target_name.clone().ok_or(EventError::Missing { field: "requestData.targetName" })?;
    let target_type = data.target_type.clone().unwrap_or_default();
    if target_name == "STACK" || target_type == "STACK" {
        return whole_target(&raw, data, defaults).map(Request::Stack);
    }
    if target_name == "CHANGE_SET" || target_type == "CHANGE_SET" {
        return whole_target(&raw, data, defaults).map(Request::ChangeSet);
    }
    let is_resource = matches!(target_type.as_str(), "" | "RESOURCE" | "CLOUD_CONTROL") || target_type == target_name;
    if !is_resource || file_name_for_type(&target_name).is_err() {
        return Err(EventError::UnknownTarget { target_name, target_type });
    }
    let action = action_of(raw.action_invocation_point.as_deref())?;
    let logical_id =
        data.target_logical_id.clone().ok_or(EventError::Missing { field: "requestData.targetLogicalId" })?;
    let properties = match action {
        Action::Delete => Value::Object(Map::new()),
        Action::Create | Action::Update => resource_properties(data)?,
    };
    let context = context_of(&raw, defaults)?;
    Ok(Request::Resource(Box::new(Target { type_name: target_name, logical_id, action, properties, context })))
}

fn whole_target(raw: &RawEvent, data: &RawRequestData, defaults: &EventDefaults) -> Result<WholeTarget, EventError> {
    let action = action_of(raw.action_invocation_point.as_deref())?;
    let logical_id =
        data.target_logical_id.clone().ok_or(EventError::Missing { field: "requestData.targetLogicalId" })?;
    let payload_url = data.payload.clone().filter(|p| !p.is_empty());
    let payload_url = payload_url.ok_or(EventError::Missing { field: "requestData.payload" })?;
    Ok(WholeTarget { logical_id, action, payload_url, context: context_of(raw, defaults)? })
}

fn action_of(invocation_point: Option<&str>) -> Result<Action, EventError> {
    match invocation_point {
        Some("CREATE_PRE_PROVISION") => Ok(Action::Create),
        Some("UPDATE_PRE_PROVISION") => Ok(Action::Update),
        Some("DELETE_PRE_PROVISION") => Ok(Action::Delete),
        Some(other) => Err(EventError::UnknownInvocationPoint { found: other.to_owned() }),
        None => Err(EventError::Missing { field: "actionInvocationPoint" }),
    }
}

/// The properties to judge on CREATE/UPDATE. The field must be there: a resource whose
/// properties were never seen is not judged as if it had none. An explicit `null` is a
/// resource without properties.
fn resource_properties(data: &RawRequestData) -> Result<Value, EventError> {
    let model = data.target_model.as_ref().filter(|m| !m.is_null());
    let model = model.ok_or(EventError::Missing { field: "requestData.targetModel" })?;
    match model.get("resourceProperties") {
        None => Err(EventError::Missing { field: "requestData.targetModel.resourceProperties" }),
        Some(Value::Null) => Ok(Value::Object(Map::new())),
        Some(properties @ Value::Object(_)) => Ok(properties.clone()),
        Some(_) => Err(EventError::PropertiesNotAnObject),
    }
}

fn context_of(raw: &RawEvent, defaults: &EventDefaults) -> Result<Context, EventError> {
    let account_id = raw.aws_account_id.clone().ok_or(EventError::Missing { field: "awsAccountId" })?;
    if !is_account_id(&account_id) {
        return Err(EventError::BadAccountId { found: account_id });
    }
    let stack_id = raw.stack_id.clone().filter(|s| !s.is_empty());
    let change_set_id = raw.change_set_id.clone().filter(|s| !s.is_empty());
    let stack_arn = stack_id.as_deref().map(StackArn::parse).transpose()?;
    let change_set_arn = change_set_id.as_deref().map(StackArn::parse).transpose()?;
    for arn in stack_arn.iter().chain(&change_set_arn) {
        if arn.account != account_id {
            return Err(EventError::AccountMismatch { event: account_id, arn: arn.account.clone() });
        }
    }
    let from_arn = stack_arn.as_ref().or(change_set_arn.as_ref());
    let (region, partition) = match from_arn {
        Some(arn) => (arn.region.clone(), arn.partition.clone()),
        None => {
            let region = defaults.region.clone().ok_or(EventError::NoRegion)?;
            let partition = partition_for_region(&region).to_owned();
            (region, partition)
        }
    };
    Ok(Context {
        account_id: Some(account_id),
        region: Some(region),
        partition: Some(partition),
        stack_name: stack_arn.and_then(|arn| arn.name),
        stack_id,
        change_set_id,
        hook_type_name: raw.hook_type_name.clone(),
    })
}

/// The parts of `arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<id>` (or
/// `changeSet/<name>/<id>`) that a decision needs.
struct StackArn {
    partition: String,
    region: String,
    account: String,
    /// The stack's name (stack ARNs only).
    name: Option<String>,
}

impl StackArn {
    fn parse(arn: &str) -> Result<Self, EventError> {
        let bad = || EventError::BadArn { found: arn.to_owned() };
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [prefix, partition, service, region, account, resource] = parts.as_slice() else {
            return Err(bad());
        };
        let plain =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if *prefix != "arn" || *service != "cloudformation" || !plain(partition) || !plain(region) {
            return Err(bad());
        }
        let (kind, rest) = resource.split_once('/').ok_or_else(bad)?;
        let name = rest.split('/').next().filter(|n| !n.is_empty()).ok_or_else(bad)?;
        let name = match kind {
            "stack" => Some(name.to_owned()),
            "changeSet" => None,
            _ => return Err(bad()),
        };
        Ok(StackArn {
            partition: (*partition).to_owned(),
            region: (*region).to_owned(),
            account: (*account).to_owned(),
            name,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event() -> Value {
        json!({
            "clientRequestToken": "t-1",
            "awsAccountId": "111122223333",
            "stackId": "arn:aws-cn:cloudformation:cn-north-1:111122223333:stack/payments/0a1b",
            "changeSetId": null,
            "hookTypeName": "Private::Lambda::RcfgeHook",
            "actionInvocationPoint": "CREATE_PRE_PROVISION",
            "requestData": {
                "targetName": "AWS::S3::Bucket",
                "targetType": "AWS::S3::Bucket",
                "targetLogicalId": "Receipts",
                "targetModel": {"resourceProperties": {"BucketName": "r"}, "previousResourceProperties": null}
            },
            "requestContext": {"invocation": 1, "callbackContext": null},
            "someFutureField": {"ignored": true}
        })
    }

    fn resource(event: &Value) -> Result<Target, EventError> {
        match parse(event, &EventDefaults::default())? {
            Request::Resource(target) => Ok(*target),
            other => panic!("not a resource: {other:?}"),
        }
    }

    #[test]
    fn reads_a_resource_event() {
        let target = resource(&event()).unwrap();
        assert_eq!(target.type_name, "AWS::S3::Bucket");
        assert_eq!(target.logical_id, "Receipts");
        assert_eq!(target.action, Action::Create);
        assert_eq!(target.properties, json!({"BucketName": "r"}));
        assert_eq!(target.context.region.as_deref(), Some("cn-north-1"));
        assert_eq!(target.context.partition.as_deref(), Some("aws-cn"));
        assert_eq!(target.context.stack_name.as_deref(), Some("payments"));
        assert_eq!(target.context.account_id.as_deref(), Some("111122223333"));
        assert_eq!(client_request_token(&event()).as_deref(), Some("t-1"));
    }

    #[test]
    fn accepts_documented_variants() {
        let mut e = event();
        let obj = e.as_object_mut().unwrap();
        let stack = obj.remove("stackId").unwrap();
        obj.insert("stackID".into(), stack);
        let token = obj.remove("clientRequestToken").unwrap();
        obj.insert("clientRequesttoken".into(), token);
        e["requestData"]["targetType"] = json!("RESOURCE");
        assert_eq!(resource(&e).unwrap().context.stack_name.as_deref(), Some("payments"));
        assert_eq!(client_request_token(&e).as_deref(), Some("t-1"));
    }

    #[test]
    fn cloud_control_takes_the_default_region() {
        let mut e = event();
        e["stackId"] = json!("");
        e["requestData"]["targetType"] = json!("CLOUD_CONTROL");
        assert!(matches!(resource(&e), Err(EventError::NoRegion)));
        let defaults = EventDefaults { region: Some("us-gov-west-1".into()) };
        let Request::Resource(target) = parse(&e, &defaults).unwrap() else { panic!() };
        assert_eq!(target.context.partition.as_deref(), Some("aws-us-gov"));
        assert_eq!(target.context.stack_name, None);
    }

    #[test]
    fn delete_has_no_properties() {
        let mut e = event();
        e["actionInvocationPoint"] = json!("DELETE_PRE_PROVISION");
        e["requestData"]["targetModel"] = json!({"resourceProperties": null});
        let target = resource(&e).unwrap();
        assert_eq!(target.action, Action::Delete);
        assert_eq!(target.properties, json!({}));
    }

    #[test]
    fn stack_and_change_set_targets() {
        let mut e = event();
        e["requestData"] = json!({"targetName": "STACK", "targetType": "STACK", "targetLogicalId": "payments", "payload": "https://x"});
        let Ok(Request::Stack(stack)) = parse(&e, &EventDefaults::default()) else { panic!("not a stack") };
        assert_eq!((stack.logical_id.as_str(), stack.payload_url.as_str()), ("payments", "https://x"));
        assert_eq!(stack.context.region.as_deref(), Some("cn-north-1"));
        e["requestData"]["targetName"] = json!("CHANGE_SET");
        e["requestData"]["targetType"] = json!("CHANGE_SET");
        assert!(matches!(parse(&e, &EventDefaults::default()), Ok(Request::ChangeSet(_))));
        e["requestData"]["payload"] = json!("");
        let missing = parse(&e, &EventDefaults::default());
        assert!(matches!(missing, Err(EventError::Missing { field: "requestData.payload" })));
    }

    #[test]
    fn malformed_events_are_errors() {
        type Edit = fn(&mut Value);
        let cases: Vec<(Edit, &str)> = vec![
            (|e| e["actionInvocationPoint"] = json!("CREATE_POST_PROVISION"), "unknown invocation point"),
            (
                |e| {
                    e.as_object_mut().unwrap().remove("actionInvocationPoint");
                },
                "actionInvocationPoint",
            ),
            (
                |e| {
                    e.as_object_mut().unwrap().remove("requestData");
                },
                "requestData",
            ),
            (|e| e["requestData"]["targetName"] = json!("../../etc"), "unknown target"),
            (|e| e["requestData"]["targetType"] = json!("SOMETHING"), "unknown target"),
            (
                |e| {
                    e["requestData"].as_object_mut().unwrap().remove("targetLogicalId");
                },
                "targetLogicalId",
            ),
            (|e| e["awsAccountId"] = json!("12345"), "12-digit"),
            (|e| e["awsAccountId"] = json!(111122223333u64), "shape"),
            (|e| e["awsAccountId"] = json!("444455556666"), "differs"),
            (|e| e["stackId"] = json!("arn:aws:s3:::bucket"), "not a CloudFormation"),
            (|e| e["requestData"]["targetModel"]["resourceProperties"] = json!("x"), "JSON object"),
            (
                |e| {
                    e["requestData"]["targetModel"].as_object_mut().unwrap().remove("resourceProperties");
                },
                "no requestData.targetModel.resourceProperties",
            ),
            (
                |e| {
                    e["requestData"].as_object_mut().unwrap().remove("targetModel");
                },
                "no requestData.targetModel",
            ),
            (|e| *e = json!([1, 2]), "not a JSON object"),
        ];
        for (mutate, expected) in cases {
            let mut e = event();
            mutate(&mut e);
            let err = parse(&e, &EventDefaults::default()).unwrap_err().to_string();
            assert!(err.contains(expected), "expected {expected:?} in {err:?}");
        }
    }

    #[test]
    fn raw_bytes() {
        assert!(matches!(parse_bytes(b"{not json"), Err(EventError::NotJson(_))));
        assert!(matches!(parse_bytes(br#"{"a":1,"a":2}"#), Err(EventError::NotJson(_))));
        let huge = vec![b' '; MAX_EVENT_BYTES + 1];
        assert!(matches!(parse_bytes(&huge), Err(EventError::TooLarge { .. })));
    }
}
