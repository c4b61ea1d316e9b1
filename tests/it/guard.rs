//! Guard rules: their own unit tests (the `cfn-guard test` format, run through the library so
//! CI needs no extra tool), and their enforcement by the CLI and the hook.

use std::collections::BTreeMap;

use serde_json::json;

use crate::support::{event, invoke_event, rcfge};

/// `cfn-guard test -d guard-rules`: every rule file against its `tests/<stem>_tests.yaml`.
#[test]
fn guard_rule_unit_tests_pass() {
    let output =
        rcfge::guard::run_tests(std::path::Path::new("guard-rules")).unwrap_or_else(|failing| panic!("{failing}"));
    assert!(output.contains("Testing Guard File guard-rules/aws-s3-bucket.guard"), "{output}");
}

/// At least eight rules, each with a case where it fails and one where it passes, so that no
/// rule is a rule that cannot fail.
#[test]
fn every_guard_rule_is_tested_both_ways() {
    let mut seen: BTreeMap<String, (bool, bool)> = BTreeMap::new();
    for entry in std::fs::read_dir("guard-rules").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "guard") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let rules: Vec<String> = text
            .lines()
            .filter_map(|line| line.strip_prefix("rule "))
            .map(|rest| rest.split_whitespace().next().unwrap().to_owned())
            .collect();
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let tests = std::fs::read_to_string(format!("guard-rules/tests/{stem}_tests.yaml")).unwrap();
        let cases: serde_json::Value = serde_yaml_ng::from_str(&tests).unwrap();
        for rule in rules {
            let outcomes: Vec<&str> = cases
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|case| case["expectations"]["rules"][&rule].as_str())
                .collect();
            seen.insert(rule, (outcomes.contains(&"FAIL"), outcomes.contains(&"PASS")));
        }
    }
    assert!(seen.len() >= 8, "{seen:?}");
    for (rule, &(fails, passes)) in &seen {
        assert!(fails && passes, "{rule}: tested to fail {fails}, to pass {passes}");
    }
}

#[test]
fn the_hook_enforces_guard_rules_after_the_schema() {
    let queue = json!({"QueueName": "orders", "FifoQueue": "true", "SqsManagedSseEnabled": "true"});
    let (code, response) = invoke_event(&event("AWS::SQS::Queue", "CREATE_PRE_PROVISION", queue), "templates");
    assert_eq!(code, 1, "{response:#}");
    assert_eq!(response["errorCode"], "NonCompliant");
    assert_eq!(response["annotations"][0]["annotationName"], "rcfge/aws-sqs-queue/QueueName", "{response:#}");
    let message = response["message"].as_str().unwrap();
    assert!(
        message.contains("A FIFO queue's QueueName must end in .fifo (Guard rule sqs_fifo_queue_name)"),
        "{message}"
    );
    let fixed = json!({"QueueName": "orders.fifo", "FifoQueue": "true", "SqsManagedSseEnabled": "true"});
    let (code, response) = invoke_event(&event("AWS::SQS::Queue", "CREATE_PRE_PROVISION", fixed), "templates");
    assert_eq!(code, 0, "{response:#}");
}

#[test]
fn the_cli_reports_guard_violations_with_file_and_line() {
    let run = rcfge(&[
        "validate",
        "--account-id",
        "111122223333",
        "--region",
        "eu-west-1",
        "tests/fixtures/stacks/guard-violations.yaml",
    ]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    for expected in [
        "guard-violations.yaml:9:7: /QueueName: A FIFO queue's QueueName must end in .fifo (Guard rule sqs_fifo_queue_name)",
        "(Guard rule kms_key_policy_no_wildcard_admin)",
        "(Guard rule sg_no_admin_ports_from_anywhere)",
    ] {
        assert!(run.stdout.contains(expected), "missing {expected:?} in\n{}", run.stdout);
    }
}

#[test]
fn a_broken_or_missing_rule_file_fails_closed() {
    let faulty = "tests/fixtures/faulty-templates";
    for (type_name, cause) in [
        ("Test::Guard::Broken", "the Guard rules test-guard-broken.guard do not parse"),
        ("Test::Guard::Missing", "there is no test-guard-missing.guard"),
        ("Test::Guard::Empty", "the Guard rules test-guard-empty.guard hold no rule"),
    ] {
        let (code, response) = invoke_event(&event(type_name, "CREATE_PRE_PROVISION", json!({"Name": "x"})), faulty);
        assert_eq!(code, 2, "{type_name}: {response:#}");
        assert_eq!(response["errorCode"], "InternalFailure", "{type_name}");
        let message = response["message"].as_str().unwrap();
        assert!(message.contains(cause), "{type_name}: expected {cause:?} in {message:?}");
    }
}
