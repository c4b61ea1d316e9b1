//! STACK and CHANGE_SET targets through `rcfge hook invoke`, with payloads served by a real
//! HTTP server on loopback.

use serde_json::{Value, json};

use crate::payload_server::{PayloadServer, Reply};
use crate::support::invoke_event;

const TEMPLATES: &str = "templates";

/// A STACK or CHANGE_SET event whose payload is at `url`.
fn whole_event(target: &str, url: &str, invocation_point: &str) -> Value {
    json!({
        "clientRequestToken": "00000000-whole-0000-0000-000000000000",
        "awsAccountId": "111122223333",
        "stackId": "arn:aws:cloudformation:eu-west-1:111122223333:stack/payments/0a1b2c3d-0000-1111-2222-333344445555",
        "changeSetId": "arn:aws:cloudformation:eu-west-1:111122223333:changeSet/next/9f8e7d6c-0000-1111-2222-333344445555",
        "hookTypeName": "Private::Lambda::RcfgeHook",
        "actionInvocationPoint": invocation_point,
        "requestData": {"targetName": target, "targetType": target, "targetLogicalId": "payments", "payload": url},
        "requestContext": {"invocation": 1, "callbackContext": null}
    })
}

fn stack_payload(template_file: &str) -> Vec<u8> {
    let template = std::fs::read_to_string(format!("tests/fixtures/{template_file}")).unwrap();
    serde_json::to_vec(&json!({"template": template, "previousTemplate": ""})).unwrap()
}

fn judge(target: &str, reply: Reply) -> (i32, Value) {
    let server = PayloadServer::start();
    let url = server.serve("/payload", reply);
    invoke_event(&whole_event(target, &url, "CREATE_PRE_PROVISION"), TEMPLATES)
}

#[test]
fn a_compliant_stack_succeeds() {
    let (code, response) = judge("STACK", Reply::Body(stack_payload("stacks/compliant.yaml")));
    assert_eq!(code, 0, "{response:#}");
    assert_eq!(response["hookStatus"], "SUCCESS");
    // Two resources hold values known only at deploy time: the answer says they were judged
    // in part, and which values the resource-level check judges.
    assert_eq!(
        response["message"],
        "STACK payments: 3 resources compliant with the approved templates (2 of them judged in part: values known only at deploy time are left to the resource-level check)"
    );
    let in_part: Vec<&str> = response["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["status"] == "SKIPPED")
        .map(|a| a["statusMessage"].as_str().unwrap())
        .collect();
    assert_eq!(
        in_part,
        [
            "ReceiptsTopic (AWS::SNS::Topic): judged in part; left to the resource-level check: /Subscription/0/Endpoint (Fn::GetAtt)",
            "ReceiptsBucket (AWS::S3::Bucket): judged in part; left to the resource-level check: /BucketName (Ref), /NotificationConfiguration/TopicConfigurations/0/Topic (Ref)"
        ]
    );
}

#[test]
fn a_stack_lists_every_refused_resource() {
    let (code, response) = judge("STACK", Reply::Body(stack_payload("payloads/refused-stack.yaml")));
    assert_eq!(code, 1, "{response:#}");
    assert_eq!(response["errorCode"], "NonCompliant");
    insta::assert_json_snapshot!(response);
}

#[test]
fn a_stack_with_an_untemplated_type_fails_closed() {
    let (code, response) = judge("STACK", Reply::Body(stack_payload("stacks/violations.yaml")));
    assert_eq!(code, 2, "{response:#}");
    assert_eq!(response["errorCode"], "InternalFailure");
    let message = response["message"].as_str().unwrap();
    assert!(message.starts_with("STACK payments: 5 of 5 resources refused: UploadsBucket (AWS::S3::Bucket):"));
    assert!(message.contains("NightlyJob (Acme::Batch::Job): not evaluated: no template for Acme::Batch::Job"));
    assert!(message.chars().count() <= 1024);
    let names: Vec<&str> =
        response["annotations"].as_array().unwrap().iter().map(|a| a["annotationName"].as_str().unwrap()).collect();
    assert!(names.contains(&"rcfge/aws-s3-bucket/UploadsBucket/NewFeature"), "{names:?}");
    assert!(names.contains(&"rcfge/acme-batch-job/NightlyJob"), "{names:?}");
}

#[test]
fn a_stack_leaves_parameter_dependent_values_to_the_resource_check() {
    // Compliant or not depending on a parameter given at deploy time: only the resource-level
    // invocation, which sees the value, can tell. What the template fixes is still judged.
    let (code, response) = judge("STACK", Reply::Body(stack_payload("payloads/parameter-dependent.yaml")));
    assert_eq!(code, 1, "{response:#}");
    let message = response["message"].as_str().unwrap();
    assert!(message.contains("1 of 3 resources refused: FixedQueue (AWS::SQS::Queue): DelaySeconds 901"), "{message}");
    assert!(!message.contains("ChosenQueue") && !message.contains("ConditionalTopic"), "{message}");
}

#[test]
fn pascal_case_payload_keys_are_read() {
    let template = std::fs::read_to_string("tests/fixtures/payloads/refused-stack.yaml").unwrap();
    let body = serde_json::to_vec(&json!({"Template": template, "PreviousTemplate": ""})).unwrap();
    let (code, response) = judge("STACK", Reply::Body(body));
    assert_eq!((code, response["errorCode"].as_str()), (1, Some("NonCompliant")), "{response:#}");
}

#[test]
fn a_change_set_judges_each_changed_resource_after_the_change() {
    let body = std::fs::read("tests/fixtures/payloads/change-set.json").unwrap();
    let (code, response) = judge("CHANGE_SET", Reply::Body(body));
    assert_eq!(code, 1, "{response:#}");
    insta::assert_json_snapshot!(response);
}

#[test]
fn a_compliant_change_set_succeeds() {
    let body = json!({"changedResources": [{
        "action": "Modify", "logicalResourceId": "Orders", "resourceType": "AWS::SQS::Queue",
        "afterContext": "{\"Properties\":{\"QueueName\":\"orders\",\"SqsManagedSseEnabled\":\"true\",\"DelaySeconds\":\"5\"}}"
    }]});
    let (code, response) = judge("CHANGE_SET", Reply::Body(serde_json::to_vec(&body).unwrap()));
    assert_eq!(code, 0, "{response:#}");
    assert_eq!(response["message"], "CHANGE_SET payments: 1 resources compliant with the approved templates");
}

#[test]
fn deleting_a_stack_needs_no_payload() {
    let event = whole_event("STACK", "http://127.0.0.1:1/never-fetched", "DELETE_PRE_PROVISION");
    let (code, response) = invoke_event(&event, TEMPLATES);
    assert_eq!((code, response["hookStatus"].as_str()), (0, Some("SUCCESS")), "{response:#}");
}

/// A URL on loopback where nothing listens.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/payload")
}

/// The recorded STACK and CHANGE_SET events of `tests/fixtures/whole-events`, whose payloads
/// (`tests/fixtures/payloads`) the docs serve with `python3 -m http.server 8123`; here the
/// test server serves them instead.
#[test]
fn every_recorded_whole_target_event() {
    let server = PayloadServer::start();
    insta::glob!("../fixtures", "whole-events/*.json", |path| {
        let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let recorded = event["requestData"]["payload"].as_str().unwrap().to_owned();
        let file = recorded.strip_prefix("http://127.0.0.1:8123/").expect("payload served from the fixtures");
        let body = std::fs::read(format!("tests/fixtures/payloads/{file}")).unwrap();
        event["requestData"]["payload"] = json!(server.serve(&format!("/{file}"), Reply::Body(body)));
        let (code, response) = invoke_event(&event, TEMPLATES);
        insta::assert_json_snapshot!(json!({"exit": code, "response": response}));
    });
}
