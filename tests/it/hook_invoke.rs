//! `rcfge hook invoke` over the recorded events in `tests/fixtures/events`, against the
//! bundled templates: the answers CloudFormation would get.

use serde_json::{Value, json};

use crate::support::{event, invoke, invoke_event};

const TEMPLATES: &str = "templates";

fn fixture(name: &str) -> (i32, Value) {
    invoke(&format!("tests/fixtures/events/{name}.json"), TEMPLATES)
}

#[test]
fn every_recorded_event() {
    insta::glob!("../fixtures", "events/*.json", |path| {
        let (code, response) = invoke(path.to_str().unwrap(), TEMPLATES);
        insta::assert_json_snapshot!(json!({"exit": code, "response": response}));
    });
}

#[test]
fn compliant_bucket_succeeds() {
    let (code, response) = fixture("bucket-compliant");
    assert_eq!(code, 0);
    assert_eq!(response["hookStatus"], "SUCCESS");
    assert!(response.get("errorCode").is_none());
    assert_eq!(response["clientRequestToken"], "4b90a7e4-1111-2222-3333-6f1a2b3c4d5e");
}

#[test]
fn foreign_account_topic_is_non_compliant() {
    let (code, response) = fixture("bucket-foreign-topic");
    assert_eq!(code, 1);
    assert_eq!(response["hookStatus"], "FAILED");
    assert_eq!(response["errorCode"], "NonCompliant");
    let annotations = response["annotations"].as_array().unwrap();
    assert_eq!(annotations.len(), 1);
    assert_eq!(
        annotations[0]["annotationName"],
        "rcfge/aws-s3-bucket/NotificationConfiguration/TopicConfigurations/0/Topic"
    );
    let status = annotations[0]["statusMessage"].as_str().unwrap();
    assert!(status.starts_with("/NotificationConfiguration/TopicConfigurations/0/Topic: Topic \"arn:aws:sns:eu-west-1:444455556666:x\" does not match the approved pattern ^arn:aws:sns:"), "{status}");
}

#[test]
fn unapproved_property_is_non_compliant() {
    let (code, response) = fixture("bucket-new-feature");
    assert_eq!(code, 1);
    assert_eq!(response["errorCode"], "NonCompliant");
    assert_eq!(
        response["message"],
        "ReceiptsBucket (AWS::S3::Bucket): 1 violation: NewFeature is not an approved property of AWS::S3::Bucket"
    );
    assert_eq!(response["annotations"][0]["annotationName"], "rcfge/aws-s3-bucket/NewFeature");
}

#[test]
fn stringified_booleans_are_read_as_cloudformation_does() {
    let (code, response) = fixture("bucket-stringified-true");
    assert_eq!((code, &response["hookStatus"]), (0, &json!("SUCCESS")), "{response:#}");
    let (code, response) = fixture("bucket-stringified-false");
    assert_eq!(code, 1);
    assert_eq!(response["errorCode"], "NonCompliant");
    assert_eq!(
        response["annotations"][0]["annotationName"],
        "rcfge/aws-s3-bucket/PublicAccessBlockConfiguration/BlockPublicPolicy"
    );
}

#[test]
fn stringified_numbers_and_non_strings_where_strings_are_expected() {
    let properties =
        json!({"QueueName": 42, "SqsManagedSseEnabled": "TRUE", "DelaySeconds": "900", "VisibilityTimeout": "30"});
    let (code, response) = invoke_event(&event("AWS::SQS::Queue", "CREATE_PRE_PROVISION", properties), TEMPLATES);
    assert_eq!((code, &response["hookStatus"]), (0, &json!("SUCCESS")), "{response:#}");
    let properties = json!({"SqsManagedSseEnabled": "yes", "DelaySeconds": "9.5"});
    let (code, response) = invoke_event(&event("AWS::SQS::Queue", "CREATE_PRE_PROVISION", properties), TEMPLATES);
    assert_eq!(code, 1, "{response:#}");
    let message = response["message"].as_str().unwrap();
    assert!(message.contains(r#"DelaySeconds must be of type integer, not "9.5""#), "{message}");
    assert!(message.contains(r#"SqsManagedSseEnabled must be of type boolean, not "yes""#), "{message}");
}

#[test]
fn type_without_template_fails_closed() {
    let (code, response) = fixture("untemplated-type");
    assert_eq!(code, 2);
    assert_eq!(response["errorCode"], "InternalFailure");
    assert!(response["message"].as_str().unwrap().contains("no template for Acme::Ledger::Entry"));
}

#[test]
fn exempt_type_without_template_passes_and_says_so() {
    let run = crate::support::rcfge(&[
        "hook",
        "invoke",
        "--event",
        "tests/fixtures/events/untemplated-type.json",
        "--exempt",
        "Acme::Ledger::Entry",
    ]);
    let response: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(run.code, 0);
    assert_eq!(response["hookStatus"], "SUCCESS");
    assert_eq!(response["annotations"][0]["status"], "SKIPPED");
    assert!(response["message"].as_str().unwrap().contains("exemption list"), "{response:#}");
}

#[test]
fn exemption_does_not_switch_off_an_existing_template() {
    let (_, baseline) = fixture("bucket-new-feature");
    let run = crate::support::rcfge(&[
        "hook",
        "invoke",
        "--event",
        "tests/fixtures/events/bucket-new-feature.json",
        "--exempt",
        "AWS::S3::Bucket",
    ]);
    assert_eq!(run.code, 1);
    assert_eq!(serde_json::from_str::<Value>(&run.stdout).unwrap(), baseline);
}

#[test]
fn delete_is_allowed_with_an_annotation() {
    let (code, response) = fixture("bucket-delete");
    assert_eq!(code, 0);
    assert_eq!(response["hookStatus"], "SUCCESS");
    assert_eq!(response["annotations"][0]["status"], "SKIPPED");
    assert!(response["message"].as_str().unwrap().contains("DELETE"));
}

#[test]
fn cloud_control_needs_a_region() {
    let (code, response) = fixture("queue-cloud-control");
    assert_eq!(code, 2);
    assert!(response["message"].as_str().unwrap().contains("no default Region"), "{response:#}");
    let run = crate::support::rcfge(&[
        "hook",
        "invoke",
        "--event",
        "tests/fixtures/events/queue-cloud-control.json",
        "--default-region",
        "eu-west-1",
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn serve_events_replays_a_folder_into_a_table() {
    let run = crate::support::rcfge(&["hook", "serve-events", "tests/fixtures/events"]);
    assert_eq!(run.code, 2, "the worst answer is an InternalFailure:\n{}", run.stdout);
    let row = |event: &str| {
        run.stdout
            .lines()
            .find(|l| l.starts_with(event))
            .unwrap_or_else(|| panic!("no row for {event}:\n{}", run.stdout))
    };
    assert!(row("EVENT").contains("ANSWER"));
    assert!(row("bucket-compliant.json").contains("ReceiptsBucket (AWS::S3::Bucket)  SUCCESS"));
    assert!(row("bucket-foreign-topic.json").contains("FAILED/NonCompliant"));
    assert!(row("untemplated-type.json").contains("FAILED/InternalFailure"));
    let baseline = row("baseline-judged.json");
    assert!(baseline.contains("SUCCESS") && baseline.contains("judged by the baseline"), "{baseline}");
    assert!(row("malformed.json").contains("FAILED/InternalFailure"));
    assert_eq!(run.stdout.lines().count(), 13, "a header and one row per event");

    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("tests/fixtures/events/bucket-compliant.json", dir.path().join("a.json")).unwrap();
    let run = crate::support::rcfge(&["hook", "serve-events", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let empty = tempfile::tempdir().unwrap();
    let run = crate::support::rcfge(&["hook", "serve-events", empty.path().to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no *.json events"), "{}", run.stderr);
}
