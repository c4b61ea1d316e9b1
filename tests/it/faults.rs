//! Fail closed: every way a decision can go wrong ends in FAILED/InternalFailure, with a
//! message that names the cause. One table, one row per fault.

use serde_json::{Value, json};

use std::time::Duration;

use crate::payload_server::{PayloadServer, Reply};
use crate::support::{event, hook_invoke, invoke, invoke_event, temp_file};
use crate::whole_targets::closed_port_url;

const FAULTY: &str = "tests/fixtures/faulty-templates";

fn create(type_name: &str) -> Value {
    event(type_name, "CREATE_PRE_PROVISION", json!({"Name": "x"}))
}

/// An event with one change applied.
fn edited(mut base: Value, edit: impl FnOnce(&mut Value)) -> Value {
    edit(&mut base);
    base
}

struct Fault {
    name: &'static str,
    event: Value,
    templates: &'static str,
    cause: &'static str,
}

/// A STACK or CHANGE_SET event with its payload at `url`.
fn whole(target: &str, url: Option<String>) -> Value {
    edited(create("AWS::S3::Bucket"), |e| {
        e["requestData"] = json!({"targetName": target, "targetType": target, "targetLogicalId": "payments"});
        if let Some(url) = url {
            e["requestData"]["payload"] = json!(url);
        }
    })
}

fn faults() -> Vec<Fault> {
    let bucket = || create("AWS::S3::Bucket");
    let payloads = PayloadServer::start();
    vec![
        Fault {
            name: "no template for the type",
            event: create("AWS::Glue::Job"),
            templates: "templates",
            cause: "no template for AWS::Glue::Job",
        },
        Fault {
            name: "template file unreadable",
            event: create("Test::Unreadable"),
            templates: FAULTY,
            cause: "cannot read",
        },
        Fault {
            name: "template is not JSON",
            event: create("Test::Broken::Json"),
            templates: FAULTY,
            cause: "template is not valid JSON",
        },
        Fault {
            name: "unknown placeholder",
            event: create("Test::Unknown::Placeholder"),
            templates: FAULTY,
            cause: "unknown placeholder `orgPrefix`",
        },
        Fault {
            name: "unsupported placeholder",
            event: create("Test::Unsupported::Placeholder"),
            templates: FAULTY,
            cause: "is not supported",
        },
        Fault {
            name: "placeholder without a value",
            event: edited(create("Test::Hook::Type"), |e| {
                e.as_object_mut().unwrap().remove("hookTypeName");
            }),
            templates: FAULTY,
            cause: "placeholder `hookTypeName` has no value",
        },
        Fault {
            name: "pattern does not compile",
            event: create("Test::Bad::Pattern"),
            templates: FAULTY,
            cause: "does not compile at /properties/Name/pattern",
        },
        Fault {
            name: "schema is invalid",
            event: create("Test::Bad::Schema"),
            templates: FAULTY,
            cause: "not a valid schema",
        },
        Fault {
            name: "remote $ref",
            event: create("Test::Remote::Ref"),
            templates: FAULTY,
            cause: "not a valid schema",
        },
        Fault {
            name: "template for another type",
            event: create("Test::Wrong::Type"),
            templates: FAULTY,
            cause: "stored as the template of `Test::Wrong::Type`",
        },
        Fault {
            name: "_variables.json shadows a built-in",
            event: create("Test::Organisation::Variables"),
            templates: "tests/fixtures/bad-variables",
            cause: "organisation variables",
        },
        Fault {
            name: "DELETE with a broken template",
            event: event("Test::Broken::Json", "DELETE_PRE_PROVISION", Value::Null),
            templates: FAULTY,
            cause: "template is not valid JSON",
        },
        Fault {
            name: "unknown invocation point",
            event: edited(bucket(), |e| e["actionInvocationPoint"] = json!("CREATE_POST_PROVISION")),
            templates: "templates",
            cause: "unknown invocation point",
        },
        Fault {
            name: "missing invocation point",
            event: edited(bucket(), |e| {
                e.as_object_mut().unwrap().remove("actionInvocationPoint");
            }),
            templates: "templates",
            cause: "no actionInvocationPoint",
        },
        Fault {
            name: "missing account",
            event: edited(bucket(), |e| {
                e.as_object_mut().unwrap().remove("awsAccountId");
            }),
            templates: "templates",
            cause: "no awsAccountId",
        },
        Fault {
            name: "account differs from the stack ARN",
            event: edited(bucket(), |e| e["awsAccountId"] = json!("444455556666")),
            templates: "templates",
            cause: "differs from the account",
        },
        Fault {
            name: "unknown target type",
            event: edited(bucket(), |e| e["requestData"]["targetType"] = json!("SOMETHING")),
            templates: "templates",
            cause: "unknown target",
        },
        Fault {
            name: "target name is a path",
            event: edited(bucket(), |e| {
                e["requestData"]["targetName"] = json!("../../etc/passwd");
                e["requestData"]["targetType"] = json!("RESOURCE")
            }),
            templates: "templates",
            cause: "unknown target",
        },
        Fault {
            name: "properties not an object",
            event: edited(bucket(), |e| e["requestData"]["targetModel"]["resourceProperties"] = json!(["x"])),
            templates: "templates",
            cause: "resourceProperties must be a JSON object",
        },
        Fault {
            name: "properties never sent",
            event: edited(bucket(), |e| {
                e["requestData"]["targetModel"].as_object_mut().unwrap().remove("resourceProperties");
            }),
            templates: "templates",
            cause: "no requestData.targetModel.resourceProperties",
        },
        Fault {
            name: "event is not an object",
            event: json!(["not", "an", "event"]),
            templates: "templates",
            cause: "not a JSON object",
        },
        Fault { name: "STACK without a payload URL", event: whole("STACK", None), templates: "templates", cause: "no requestData.payload" },
        Fault {
            name: "payload URL not HTTPS",
            event: whole("STACK", Some("http://payloads.example/presigned".into())),
            templates: "templates",
            cause: "must use HTTPS",
        },
        Fault {
            name: "payload unreachable",
            event: whole("STACK", Some(closed_port_url())),
            templates: "templates",
            cause: "cannot fetch the payload",
        },
        Fault {
            name: "payload answers 403",
            event: whole("STACK", Some(payloads.serve("/forbidden", Reply::Status(403)))),
            templates: "templates",
            cause: "answered HTTP 403",
        },
        Fault {
            name: "payload oversized",
            event: whole("CHANGE_SET", Some(payloads.serve("/huge", Reply::Huge(17 * 1024 * 1024)))),
            templates: "templates",
            cause: "larger than 16777216 bytes",
        },
        Fault {
            name: "payload stalls",
            event: whole("STACK", Some(payloads.serve("/stall", Reply::Stall(Duration::from_secs(30))))),
            templates: "templates",
            cause: "no payload within 8000 ms",
        },
        Fault {
            name: "payload not JSON",
            event: whole("STACK", Some(payloads.serve("/html", Reply::Body(b"<html></html>".to_vec())))),
            templates: "templates",
            cause: "the payload is not JSON",
        },
        Fault {
            name: "payload without a template",
            event: whole("STACK", Some(payloads.serve("/empty", Reply::Body(br#"{"previousTemplate": ""}"#.to_vec())))),
            templates: "templates",
            cause: "the payload has no template",
        },
        Fault {
            name: "stack template unreadable",
            event: whole("STACK", Some(payloads.serve("/broken", Reply::Body(br#"{"template": "Resources: ["}"#.to_vec())))),
            templates: "templates",
            cause: "the STACK template cannot be read: not valid YAML",
        },
        Fault {
            name: "stack template with an undefined reference",
            event: whole(
                "STACK",
                Some(payloads.serve(
                    "/undefined",
                    Reply::Body(
                        br#"{"template": "{\"Resources\": {\"Q\": {\"Type\": \"AWS::SQS::Queue\", \"Properties\": {\"QueueName\": {\"Ref\": \"Nope\"}}}}}"}"#.to_vec(),
                    ),
                )),
            ),
            templates: "templates",
            cause: "invalid template: Ref: Nope is not a parameter",
        },
        Fault {
            name: "changed resource without afterContext",
            event: whole(
                "CHANGE_SET",
                Some(payloads.serve(
                    "/no-after",
                    Reply::Body(
                        br#"{"changedResources": [{"action": "CREATE", "logicalResourceId": "Q", "resourceType": "AWS::SQS::Queue"}]}"#.to_vec(),
                    ),
                )),
            ),
            templates: "templates",
            cause: "changed resource 0: has no afterContext",
        },
        Fault {
            name: "changed resource with an unknown action",
            event: whole(
                "CHANGE_SET",
                Some(payloads.serve(
                    "/bad-action",
                    Reply::Body(
                        br#"{"changedResources": [{"action": "MOVE", "logicalResourceId": "Q", "resourceType": "AWS::SQS::Queue"}]}"#.to_vec(),
                    ),
                )),
            ),
            templates: "templates",
            cause: "unknown action \"MOVE\"",
        },
        Fault {
            name: "changed resource without a template",
            event: whole(
                "CHANGE_SET",
                Some(payloads.serve(
                    "/untemplated",
                    Reply::Body(
                        br#"{"changedResources": [{"action": "CREATE", "logicalResourceId": "Job", "resourceType": "AWS::Glue::Job", "afterContext": "{}"}]}"#.to_vec(),
                    ),
                )),
            ),
            templates: "templates",
            cause: "Job (AWS::Glue::Job): not evaluated: no template",
        },
    ]
}

fn assert_internal_failure(name: &str, code: i32, response: &Value, cause: &str) {
    assert_eq!(code, 2, "{name}: exit code, response {response:#}");
    assert_eq!(response["hookStatus"], "FAILED", "{name}");
    assert_eq!(response["errorCode"], "InternalFailure", "{name}");
    let message = response["message"].as_str().unwrap_or_default();
    assert!(message.contains(cause), "{name}: expected {cause:?} in {message:?}");
    assert!(message.chars().count() <= 1024, "{name}: message too long");
}

#[test]
fn every_fault_fails_closed() {
    let mut messages = Vec::new();
    for fault in faults() {
        let (code, response) = invoke_event(&fault.event, fault.templates);
        assert_internal_failure(fault.name, code, &response, fault.cause);
        messages.push(json!({"fault": fault.name, "message": response["message"]}));
    }
    println!("fault matrix: {} faults, every one FAILED/InternalFailure", messages.len());
    insta::assert_json_snapshot!(messages);
}

#[test]
fn raw_event_faults_fail_closed() {
    let (code, response) = invoke("tests/fixtures/events/malformed.json", "templates");
    assert_internal_failure("malformed JSON", code, &response, "not JSON");

    let duplicate = r#"{"awsAccountId": "111122223333", "awsAccountId": "444455556666"}"#;
    let file = temp_file(".json", duplicate);
    let (code, response) = invoke(file.path().to_str().unwrap(), "templates");
    assert_internal_failure("duplicate keys", code, &response, "duplicate key `awsAccountId`");

    let huge = format!("{{\"padding\": \"{}\"}}", "x".repeat(7 * 1024 * 1024));
    let file = temp_file(".json", &huge);
    let (code, response) = invoke(file.path().to_str().unwrap(), "templates");
    assert_internal_failure("oversized event", code, &response, "more than the");
}

#[test]
fn a_missing_template_directory_is_a_usage_error() {
    let run = hook_invoke("tests/fixtures/events/bucket-compliant.json", "no/such/dir");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no/such/dir does not exist"), "{}", run.stderr);
}

#[test]
fn deny_delete_protects_a_type() {
    let (code, response) = invoke_event(&event("Test::Deny::Delete", "DELETE_PRE_PROVISION", Value::Null), FAULTY);
    assert_eq!(code, 1, "{response:#}");
    assert_eq!(response["errorCode"], "NonCompliant");
    assert!(response["message"].as_str().unwrap().contains("deleting a Test::Deny::Delete is denied"), "{response:#}");
    let (code, _) = invoke_event(&create("Test::Deny::Delete"), FAULTY);
    assert_eq!(code, 0);
}

#[test]
fn delete_of_an_untemplated_type_is_allowed() {
    let (code, response) = invoke_event(&event("AWS::Glue::Job", "DELETE_PRE_PROVISION", Value::Null), "templates");
    assert_eq!(code, 0, "{response:#}");
    assert!(response["message"].as_str().unwrap().contains("no template"), "{response:#}");
}

#[test]
fn organisation_variables_fill_enums_and_are_escaped_in_patterns() {
    let arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let good =
        event("Test::Organisation::Variables", "CREATE_PRE_PROVISION", json!({"KeyArn": arn, "Name": "pay.ments-abc"}));
    let (code, response) = invoke_event(&good, FAULTY);
    assert_eq!(code, 0, "{response:#}");
    // `.` in the variable is a literal dot, not "any character".
    let dotless =
        event("Test::Organisation::Variables", "CREATE_PRE_PROVISION", json!({"KeyArn": arn, "Name": "payXments-abc"}));
    let (code, response) = invoke_event(&dotless, FAULTY);
    assert_eq!(code, 1, "{response:#}");
    let foreign_key = event(
        "Test::Organisation::Variables",
        "CREATE_PRE_PROVISION",
        json!({"KeyArn": "arn:aws:kms:eu-west-1:444455556666:key/x"}),
    );
    let (code, response) = invoke_event(&foreign_key, FAULTY);
    assert_eq!(code, 1, "{response:#}");
    assert!(response["message"].as_str().unwrap().contains("is not one of the approved values"), "{response:#}");
}
