//! Guard rules: their own unit tests (the `cfn-guard test` format, run through the library so
//! CI needs no extra tool), and their enforcement by the CLI and the hook.

use std::collections::BTreeMap;

use serde_json::json;

use rcfge::{Action, Context, DirSource, Engine, EngineConfig, Target, Verdict};

use crate::support::{event, invoke_event, rcfge};

/// `cfn-guard test -d guard-rules`: every rule file against its `tests/<stem>_tests.yaml`.
#[test]
fn guard_rule_unit_tests_pass() {
    let output =
        rcfge::policy::run_tests(std::path::Path::new("guard-rules")).unwrap_or_else(|failing| panic!("{failing}"));
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

/// Characters YAML may hold only escaped (C1 and C0 controls) once made Guard refuse the data,
/// reported as if the rules did not parse; Guard now judges such values like any other.
#[test]
fn guard_judges_values_with_control_and_unicode_characters() {
    for text in ["a\u{9b}b", "a\u{202e}b", "a\rb", "caf\u{e9}", "\u{1F600}", "a\u{7f}b"] {
        let fifo = json!({"QueueName": "orders", "FifoQueue": "true", "SqsManagedSseEnabled": "true", "Tags": [{"Key": "note", "Value": text}]});
        let (_, response) = invoke_event(&event("AWS::SQS::Queue", "CREATE_PRE_PROVISION", fifo), "templates");
        assert_eq!(response["errorCode"], "NonCompliant", "{text:?}: {response:#}");
        assert!(
            response["message"].as_str().unwrap().contains("Guard rule sqs_fifo_queue_name"),
            "{text:?}: {response:#}"
        );
        let fixed = json!({"QueueName": "orders.fifo", "FifoQueue": "true", "SqsManagedSseEnabled": "true", "Tags": [{"Key": "note", "Value": text}]});
        let (code, response) = invoke_event(&event("AWS::SQS::Queue", "CREATE_PRE_PROVISION", fixed), "templates");
        assert_eq!(code, 0, "{text:?}: {response:#}");
    }
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

/// Padding a resource with unapproved keys past Guard's input limits neither hides the Guard
/// findings on what the template approves nor makes the answer an internal failure: the
/// schema refuses the keys, and Guard judges the approved properties, at the same pointers.
/// (`ObjectLockEnabled` is not approved either, so the rule about it is not reported: the
/// property itself is.)
#[test]
fn guard_judges_the_approved_part_of_a_resource_padded_with_unapproved_keys() {
    let mut bucket = json!({
        "ObjectLockEnabled": true,
        "VersioningConfiguration": {"Status": "Suspended"},
        "LifecycleConfiguration": {"Rules": [{"Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 7}}]}
    });
    // 20,000 keys: past both the size (256 KiB) and the keys-per-object (1,000) limits.
    for i in 0..20_000 {
        bucket[format!("Unapproved{i:05}")] = json!("padding-padding");
    }
    let engine = Engine::new(DirSource::new("templates").unwrap(), EngineConfig::default());
    let target = Target {
        type_name: "AWS::S3::Bucket".into(),
        logical_id: "Padded".into(),
        action: Action::Create,
        properties: bucket,
        context: Context {
            account_id: Some("111122223333".into()),
            region: Some("eu-west-1".into()),
            partition: Some("aws".into()),
            ..Context::default()
        },
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let decision = runtime.block_on(engine.decide(&target));
    let Verdict::NonCompliant(violations) = &decision.verdict else { panic!("{:?}", decision.verdict) };
    assert_eq!(violations.iter().filter(|v| v.keyword == "additionalProperties").count(), 20_001);
    let guard: Vec<_> = violations.iter().filter(|v| v.keyword.starts_with("guard/")).collect();
    assert_eq!(guard.len(), 1, "{guard:?}");
    assert_eq!(guard[0].keyword, "guard/s3_noncurrent_version_rules_require_versioning");
    assert!(guard[0].pointer.starts_with("/LifecycleConfiguration") || guard[0].pointer.starts_with("/Versioning"));
}

/// Within the limits, a resource is given to Guard whole, unapproved properties and all, as
/// always: the rule about the unapproved `ObjectLockEnabled` still speaks.
#[test]
fn an_ordinary_resource_is_given_to_guard_whole() {
    let bucket = json!({"ObjectLockEnabled": true, "VersioningConfiguration": {"Status": "Suspended"}});
    let (code, response) = invoke_event(&event("AWS::S3::Bucket", "CREATE_PRE_PROVISION", bucket), "templates");
    assert_eq!(code, 1, "{response:#}");
    let message = response["message"].as_str().unwrap();
    assert!(message.contains("ObjectLockEnabled is not an approved property"), "{message}");
    assert!(message.contains("(Guard rule s3_object_lock_requires_versioning)"), "{message}");
}

/// File names are case-insensitive and type names are not, so one cached template file can
/// be asked for under two spellings. Guard rules match on the type as the resource names it:
/// a resource whose type is misspelt first must not leave its spelling behind for the next
/// one, or the rules (`Type == 'AWS::S3::Bucket'`) would match nothing and pass it.
#[test]
fn guard_rules_see_each_resource_under_its_own_type_name() {
    let dir = tempfile::tempdir().unwrap();
    // A template that does not name its type, so that it loads under either spelling.
    let template = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "x-rcfge": {"guardRules": true},
        "properties": {"ObjectLockEnabled": {}, "VersioningConfiguration": {}}
    });
    // A directory source reads Guard rules from `guard-rules/` beside the templates.
    let (templates, rules) = (dir.path().join("templates"), dir.path().join("guard-rules"));
    std::fs::create_dir_all(&templates).unwrap();
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(templates.join("aws-s3-bucket.json"), template.to_string()).unwrap();
    std::fs::copy("guard-rules/aws-s3-bucket.guard", rules.join("aws-s3-bucket.guard")).unwrap();
    let source = DirSource::new(&templates).unwrap();
    let engine = Engine::new(source, EngineConfig::default());
    let bucket = |type_name: &str| Target {
        type_name: type_name.into(),
        logical_id: "Locked".into(),
        action: Action::Create,
        properties: json!({"ObjectLockEnabled": true, "VersioningConfiguration": {"Status": "Suspended"}}),
        context: Context::default(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // Under the other spelling the rules select nothing: not this test's concern.
    let _ = runtime.block_on(engine.decide(&bucket("aws::s3::bucket")));
    let decision = runtime.block_on(engine.decide(&bucket("AWS::S3::Bucket")));
    let Verdict::NonCompliant(violations) = &decision.verdict else { panic!("{:?}", decision.verdict) };
    assert!(violations.iter().any(|v| v.keyword == "guard/s3_object_lock_requires_versioning"), "{violations:#?}");
}

/// A local mirror of the bucket (`aws s3 sync`) holds the Guard rule files beside the
/// templates, and is read as it is; a rule file missing from it is named where it was looked
/// for, and the repository's `guard-rules/` is not consulted in its place.
#[test]
fn a_local_mirror_of_the_bucket_reads_its_guard_rules_beside_the_templates() {
    let mirror = tempfile::tempdir().unwrap();
    for file in ["aws-s3-bucket.json", "aws-sqs-queue.json", "_variables.json"] {
        std::fs::copy(format!("templates/{file}"), mirror.path().join(file)).unwrap();
    }
    std::fs::copy("guard-rules/aws-s3-bucket.guard", mirror.path().join("aws-s3-bucket.guard")).unwrap();
    let locked = json!({"ObjectLockEnabled": true, "VersioningConfiguration": {"Status": "Suspended"}});
    let templates = mirror.path().to_str().unwrap();
    let (code, response) = invoke_event(&event("AWS::S3::Bucket", "CREATE_PRE_PROVISION", locked), templates);
    assert_eq!(code, 1, "{response:#}");
    let message = response["message"].as_str().unwrap();
    assert!(message.contains("(Guard rule s3_object_lock_requires_versioning)"), "{message}");

    let queue = json!({"QueueName": "orders"});
    let (code, response) = invoke_event(&event("AWS::SQS::Queue", "CREATE_PRE_PROVISION", queue), templates);
    assert_eq!(code, 2, "{response:#}");
    let message = response["message"].as_str().unwrap();
    let expected = format!("there is no aws-sqs-queue.guard in directory {templates}");
    assert!(message.contains(&expected), "{message}");
}
