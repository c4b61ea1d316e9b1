//! Rolling out without breaking anyone: audit mode and waivers, end to end. A hook event goes
//! through `rcfge hook invoke` (the function's own code path) and a stack template through
//! `rcfge validate`, over a copy of the bundled templates with the organisation's
//! `_settings.json` and `_waivers.json` written by each test.

use std::path::Path;

use rcfge::lambda::{self, EventDefaults};
use rcfge::rollout::Date;
use rcfge::{DirSource, Engine, EngineConfig};
use serde_json::{Value, json};

use crate::support::{event, invoke_event, rcfge, temp_file};

/// The account and stack name of [`event`]'s events.
const ACCOUNT: &str = "111122223333";
const STACK: &str = "tests";

/// The bundled reviewed templates with their Guard rules beside them (the bucket's layout),
/// and the given organisation files.
fn templates(settings: Value, waivers: Option<Value>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for source in ["templates", "guard-rules"] {
        for entry in std::fs::read_dir(source).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
            }
        }
    }
    std::fs::create_dir(dir.path().join("baseline")).unwrap();
    std::fs::copy("templates/baseline/aws-glue-job.json", dir.path().join("baseline/aws-glue-job.json")).unwrap();
    std::fs::write(dir.path().join("_settings.json"), settings.to_string()).unwrap();
    if let Some(waivers) = waivers {
        std::fs::write(dir.path().join("_waivers.json"), waivers.to_string()).unwrap();
    }
    dir
}

fn path(dir: &tempfile::TempDir) -> &str {
    dir.path().to_str().unwrap()
}

fn today() -> Date {
    Date::today()
}

fn day(offset: i64) -> String {
    today().plus_days(offset).unwrap().to_string()
}

/// A waiver of `rule` on S3 buckets in the test account and stack, valid today.
fn waiver(id: &str, rule: &str) -> Value {
    json!({
        "id": id, "type": "AWS::S3::Bucket", "rule": rule,
        "accounts": [ACCOUNT], "stackName": STACK,
        "reason": "the legacy bucket moves with SEC-123", "approver": "jane.doe@example.com", "ticket": "SEC-123",
        "created": day(-10), "expires": day(20)
    })
}

fn waivers(list: Vec<Value>) -> Value {
    json!({"maxLifetimeDays": 90, "waivers": list})
}

/// A compliant bucket with `extra` merged into its properties.
fn bucket(extra: Value) -> Value {
    let mut properties: Value =
        serde_json::from_str(&std::fs::read_to_string("tests/fixtures/aws-s3-bucket/valid-minimal.json").unwrap())
            .unwrap();
    for (key, value) in extra.as_object().unwrap() {
        properties[key] = value.clone();
    }
    event("AWS::S3::Bucket", "CREATE_PRE_PROVISION", properties)
}

fn statuses(response: &Value) -> Vec<(String, String)> {
    response["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["status"].as_str().unwrap().to_owned(), a["statusMessage"].as_str().unwrap().to_owned()))
        .collect()
}

#[test]
fn audit_mode_answers_success_and_says_what_would_be_refused() {
    let dir = templates(json!({"baseline": "on", "enforcement": {"default": "audit"}}), None);
    let (code, response) = invoke_event(&bucket(json!({"NewFeature": true})), path(&dir));
    assert_eq!(code, 0, "{response:#}");
    assert_eq!(response["hookStatus"], "SUCCESS");
    assert!(response.get("errorCode").is_none());
    let message = response["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "Subject (AWS::S3::Bucket): allowed: audit mode: 1 violation would refuse it when enforced: NewFeature is not an approved property"
        ),
        "{message}"
    );
    let annotations = statuses(&response);
    assert_eq!(annotations.len(), 1);
    assert_eq!(annotations[0].0, "FAILED");
    assert!(annotations[0].1.starts_with("AUDIT: would refuse the resource when enforced: /NewFeature"));

    // The same event through the function's code path in this process: its decision record.
    let engine = Engine::new(DirSource::new(dir.path()).unwrap(), EngineConfig::default());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let bytes = bucket(json!({"NewFeature": true})).to_string();
    let answer = runtime.block_on(lambda::answer_bytes(
        &engine,
        bytes.as_bytes(),
        &EventDefaults::default(),
        lambda::TIME_BUDGET,
    ));
    let record = serde_json::to_value(&answer.record).unwrap();
    assert_eq!(record["verdict"], "tolerated");
    assert_eq!(record["would_refuse"], true);
    assert_eq!(
        record["findings"],
        json!([{"property": "/NewFeature", "rule": "additionalProperties", "outcome": "audit"}])
    );
}

#[test]
fn enforcement_is_chosen_per_type_and_per_rule_and_the_baseline() {
    let settings = json!({"baseline": "on", "enforcement": {
        "default": "enforce",
        "baseline": "audit",
        "types": {"AWS::S3::Bucket": "audit"},
        "rules": {"AWS::S3::Bucket": {"/Enforced": "enforce"}}
    }});
    let dir = templates(settings, None);
    // The type is audited...
    let (code, response) = invoke_event(&bucket(json!({"NewFeature": true})), path(&dir));
    assert_eq!((code, response["hookStatus"].as_str()), (0, Some("SUCCESS")), "{response:#}");
    // ...but one of its rules is enforced: the resource is refused for it alone.
    let (code, response) = invoke_event(&bucket(json!({"NewFeature": true, "Enforced": 1})), path(&dir));
    assert_eq!(code, 1, "{response:#}");
    assert_eq!(response["errorCode"], "NonCompliant");
    let message = response["message"].as_str().unwrap();
    assert!(
        message.ends_with("1 violation: Enforced is not an approved property of AWS::S3::Bucket (also 1 audited)"),
        "{message}"
    );
    // Another type stays enforced.
    let (code, _) = invoke_event(&event("AWS::SQS::Queue", "CREATE_PRE_PROVISION", json!({"X": 1})), path(&dir));
    assert_eq!(code, 1);
    // What the baseline judges is audited.
    let (code, response) =
        invoke_event(&event("AWS::Glue::Job", "CREATE_PRE_PROVISION", json!({"NotAGlueProperty": 1})), path(&dir));
    assert_eq!(code, 0, "{response:#}");
    assert!(response["message"].as_str().unwrap().contains("judged by the baseline): allowed: audit mode"));
}

#[test]
fn a_waiver_lets_only_its_rule_pass_in_its_scope() {
    let dir = templates(json!({"baseline": "on"}), Some(waivers(vec![waiver("W-2026-014", "/NewFeature")])));
    let (code, response) = invoke_event(&bucket(json!({"NewFeature": true})), path(&dir));
    assert_eq!(code, 0, "{response:#}");
    let expires = day(20);
    assert_eq!(
        statuses(&response),
        [(
            "SKIPPED".to_owned(),
            format!(
                "WAIVED by W-2026-014 (approved by jane.doe@example.com, until {expires}): /NewFeature: NewFeature is not an approved property of AWS::S3::Bucket"
            )
        )]
    );
    assert!(response["message"].as_str().unwrap().contains(&format!("1 violation waived: NewFeature is not an approved property of AWS::S3::Bucket (waiver W-2026-014 until {expires})")));

    // Anything the waiver does not name still refuses.
    let (code, response) = invoke_event(&bucket(json!({"NewFeature": true, "Other": 1})), path(&dir));
    assert_eq!(code, 1, "{response:#}");
    assert!(
        response["message"]
            .as_str()
            .unwrap()
            .ends_with("Other is not an approved property of AWS::S3::Bucket (also 1 waived)")
    );

    // Outside its scope: another account, another stack, another type.
    let mut elsewhere = bucket(json!({"NewFeature": true}));
    elsewhere["awsAccountId"] = json!("444455556666");
    elsewhere["stackId"] =
        json!("arn:aws:cloudformation:eu-west-1:444455556666:stack/tests/0a1b2c3d-0000-1111-2222-333344445555");
    assert_eq!(invoke_event(&elsewhere, path(&dir)).0, 1);
    let mut other_stack = bucket(json!({"NewFeature": true}));
    other_stack["stackId"] =
        json!("arn:aws:cloudformation:eu-west-1:111122223333:stack/prod/0a1b2c3d-0000-1111-2222-333344445555");
    assert_eq!(invoke_event(&other_stack, path(&dir)).0, 1);
    let queue = event("AWS::SQS::Queue", "CREATE_PRE_PROVISION", json!({"NewFeature": true}));
    assert_eq!(invoke_event(&queue, path(&dir)).0, 1);
}

#[test]
fn an_expired_waiver_no_longer_applies_and_the_refusal_says_when_it_expired() {
    let mut expired = waiver("W-OLD", "/NewFeature");
    expired["created"] = json!(day(-40));
    expired["expires"] = json!(day(-1));
    let dir = templates(json!({"baseline": "on"}), Some(waivers(vec![expired])));
    let (code, response) = invoke_event(&bucket(json!({"NewFeature": true})), path(&dir));
    assert_eq!(code, 1, "{response:#}");
    let message = response["message"].as_str().unwrap();
    assert!(message.contains(&format!("(waiver W-OLD expired on {})", day(-1))), "{message}");
}

#[test]
fn neither_audit_nor_a_waiver_turns_a_fault_into_a_success() {
    let everything = waiver("W-ALL", "/");
    let mut any_type = everything.clone();
    any_type["type"] = json!("Acme::Ledger::Entry");
    let dir = templates(
        json!({"baseline": "off", "enforcement": {"default": "audit"}}),
        Some(waivers(vec![everything, any_type])),
    );
    // No template for the type.
    let (code, response) =
        invoke_event(&event("Acme::Ledger::Entry", "CREATE_PRE_PROVISION", json!({"A": 1})), path(&dir));
    assert_eq!((code, response["errorCode"].as_str()), (2, Some("InternalFailure")), "{response:#}");
    // Properties that are not an object.
    let mut broken = bucket(json!({}));
    broken["requestData"]["targetModel"]["resourceProperties"] = json!("not an object");
    let (code, response) = invoke_event(&broken, path(&dir));
    assert_eq!((code, response["errorCode"].as_str()), (2, Some("InternalFailure")), "{response:#}");
    // A broken template.
    std::fs::write(dir.path().join("aws-sqs-queue.json"), "{").unwrap();
    let (code, _) = invoke_event(&event("AWS::SQS::Queue", "CREATE_PRE_PROVISION", json!({})), path(&dir));
    assert_eq!(code, 2);
}

#[test]
fn waivers_or_settings_that_cannot_be_read_fail_closed_only_where_they_are_needed() {
    let dir = templates(json!({"baseline": "on"}), None);
    std::fs::write(dir.path().join("_waivers.json"), r#"{"maxLifetimeDays": 90, "waivers": [{"id": "W-1"}]}"#).unwrap();
    let (code, response) = invoke_event(&bucket(json!({"NewFeature": true})), path(&dir));
    assert_eq!((code, response["errorCode"].as_str()), (2, Some("InternalFailure")), "{response:#}");
    let message = response["message"].as_str().unwrap();
    assert!(
        message.contains("refused for 1 violation, and the organisation's audit settings and waivers that could allow them cannot be used: cannot load the waivers (_waivers.json)"),
        "{message}"
    );
    // A compliant resource needs no waiver.
    let (code, response) = invoke_event(&bucket(json!({})), path(&dir));
    assert_eq!(code, 0, "{response:#}");
}

#[test]
fn validate_reports_audit_and_waived_findings_and_ignores_suppressions_in_the_template() {
    let mut logging = waiver("W-LOG", "/Unapproved");
    logging["logicalId"] = json!("Legacy");
    let dir = templates(
        json!({"baseline": "on", "enforcement": {"default": "enforce", "types": {"AWS::SQS::Queue": "audit"}}}),
        Some(waivers(vec![logging])),
    );
    let stack = temp_file(
        ".yaml",
        r#"Resources:
  Legacy:
    Type: AWS::S3::Bucket
    Metadata:
      cfn-lint:
        config:
          ignore_checks: [E3002]
      checkov:
        skip:
          - id: CKV_AWS_18
    Properties:
      Unapproved: true
      BucketEncryption:
        ServerSideEncryptionConfiguration:
          - ServerSideEncryptionByDefault:
              SSEAlgorithm: AES256
      PublicAccessBlockConfiguration:
        BlockPublicAcls: true
        BlockPublicPolicy: true
        IgnorePublicAcls: true
        RestrictPublicBuckets: true
      OwnershipControls:
        Rules:
          - ObjectOwnership: BucketOwnerEnforced
  Queue:
    Type: AWS::SQS::Queue
    Metadata:
      guard:
        SuppressedRules: [sqs_fifo_queue_name]
    Properties:
      Unapproved: true
"#,
    );
    let file = stack.path().to_str().unwrap();
    let args = ["validate", "--templates", path(&dir), "--account-id", ACCOUNT, "--region", "eu-west-1"];
    let run = rcfge(&[&args[..], &["--stack-name", STACK, file]].concat());
    assert_eq!(run.code, 0, "audited and waived findings do not fail the run:\n{}{}", run.stdout, run.stderr);
    let expires = day(20);
    for expected in [
        "WAIVED Legacy (AWS::S3::Bucket): allowed by waivers".to_owned(),
        format!("WAIVED by W-LOG until {expires}: {file}:12:7: /Unapproved: Unapproved is not an approved property"),
        "note: its Metadata suppresses checks for cfn-lint, checkov: rcfge ignores suppressions written in a template"
            .to_owned(),
        "AUDIT  Queue (AWS::SQS::Queue): allowed in audit mode; enforcing would refuse it".to_owned(),
        "note: its Metadata suppresses checks for guard".to_owned(),
        "2 resources: 0 compliant, 0 non-compliant, 0 not evaluated, 2 allowed by audit mode or waivers (1 would be refused when enforced)".to_owned(),
    ] {
        assert!(run.stdout.contains(&expected), "{expected:?} in\n{}", run.stdout);
    }

    // The suppressions change nothing: without the waiver and audit mode, both are refused.
    let strict = templates(json!({"baseline": "on"}), None);
    let args = ["validate", "--templates", path(&strict), "--account-id", ACCOUNT, "--region", "eu-west-1"];
    let run = rcfge(&[&args[..], &["--stack-name", STACK, file]].concat());
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("2 non-compliant"), "{}", run.stdout);

    // Without --stack-name the waiver's scope is not known to match: it does not apply.
    let run = rcfge(&[&args[..], &[file]].concat());
    assert_eq!(run.code, 1);

    // The machine formats say the same.
    let run = rcfge(&[&args[..], &["--stack-name", STACK, "--format", "json", file]].concat());
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["summary"]["nonCompliant"], 2);
    let run = rcfge(
        &[
            &["validate", "--templates", path(&dir), "--account-id", ACCOUNT, "--region", "eu-west-1"][..],
            &["--stack-name", STACK, "--format", "json", file],
        ]
        .concat(),
    );
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let resources = &report["files"][0]["resources"];
    assert_eq!(resources[0]["verdict"], "tolerated");
    assert_eq!(resources[0]["violations"][0]["disposition"]["outcome"], "waived");
    assert_eq!(resources[0]["violations"][0]["disposition"]["waiver"], "W-LOG");
    assert_eq!(resources[1]["violations"][0]["disposition"]["outcome"], "audited");
    assert_eq!(report["summary"]["allowedByRollout"], 2);
    assert_eq!(report["summary"]["wouldRefuse"], 1);
    let run = rcfge(
        &[
            &["validate", "--templates", path(&dir), "--account-id", ACCOUNT, "--region", "eu-west-1"][..],
            &["--stack-name", STACK, "--format", "sarif", file],
        ]
        .concat(),
    );
    let sarif: Value = serde_json::from_str(&run.stdout).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let waived = results.iter().find(|r| r["suppressions"].is_array()).unwrap();
    assert_eq!(waived["suppressions"][0]["kind"], "external");
    assert!(results.iter().any(|r| r["level"] == "warning"));
}

#[test]
fn waivers_lint_flags_expired_never_matching_over_broad_and_malformed_waivers() {
    let mut expired = waiver("W-EXPIRED", "/NewFeature");
    expired["created"] = json!(day(-40));
    expired["expires"] = json!(day(-1));
    let mut no_template = waiver("W-NO-TEMPLATE", "/X");
    no_template["type"] = json!("Acme::Ledger::Entry");
    let no_rule = waiver("W-NO-RULE", "guard/no_such_rule");
    let mut everywhere = waiver("W-EVERYWHERE", "/");
    everywhere.as_object_mut().unwrap().remove("accounts");
    everywhere.as_object_mut().unwrap().remove("stackName");
    let mut unknown_list = waiver("W-VARIABLE", "/X");
    unknown_list["accounts"] = json!(["{{noSuchList}}"]);
    let fine = waiver("W-FINE", "guard/s3_object_lock_requires_versioning");
    let dir = templates(
        json!({"baseline": "on"}),
        Some(waivers(vec![expired, no_template, no_rule, everywhere, unknown_list, fine])),
    );
    let lint =
        |dir: &Path| rcfge(&["waivers", "lint", "--templates", dir.to_str().unwrap(), "--guard-rules", "guard-rules"]);
    let run = lint(dir.path());
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let found: Vec<&str> = run.stdout.lines().collect();
    let expected = [
        format!("_waivers.json: W-EXPIRED: expired: expired on {}: remove it, or renew it with a new review", day(-1)),
        "_waivers.json: W-NO-TEMPLATE: never matches: no template judges Acme::Ledger::Entry (neither acme-ledger-entry.json nor baseline/): its resources fail closed, and a waiver never turns that into a success".to_owned(),
        "_waivers.json: W-NO-RULE: never matches: AWS::S3::Bucket has no Guard rule named no_such_rule".to_owned(),
        "_waivers.json: W-EVERYWHERE: over-broad: rule `/` waives every rule of AWS::S3::Bucket: name the property or Guard rule it is for".to_owned(),
        "_waivers.json: W-EVERYWHERE: over-broad: names no accounts: whoever deploys chooses stack names and logical IDs, so it applies in every account".to_owned(),
        "_waivers.json: W-VARIABLE: never matches: accounts names {{noSuchList}}, which _variables.json does not define as an account ID or a list of them".to_owned(),
        "6 findings".to_owned(),
    ];
    assert_eq!(found, expected.iter().map(String::as_str).collect::<Vec<_>>(), "{}", run.stdout);

    // A file that does not load is one finding; a clean one none.
    std::fs::write(dir.path().join("_waivers.json"), r#"{"maxLifetimeDays": 90, "waivers": [{"id": "W-1"}]}"#).unwrap();
    let run = lint(dir.path());
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.starts_with("_waivers.json: malformed: not valid waivers: missing field `type`"),
        "{}",
        run.stdout
    );
    std::fs::write(dir.path().join("_waivers.json"), waivers(vec![waiver("W-FINE", "/NewFeature")]).to_string())
        .unwrap();
    let run = lint(dir.path());
    assert_eq!((run.code, run.stdout.as_str()), (0, "_waivers.json: no findings\n"));
    // The bundled file is clean.
    let run = rcfge(&["waivers", "lint"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

/// Every rollout outcome as the hook answers it, with the waivers and settings of
/// `tests/fixtures/rollout/` on a fixed day: a change to how audit mode or a waiver is answered
/// shows up as a snapshot diff.
#[test]
fn hook_answers_under_the_fixture_rollout() {
    let fixture = |name: &str| {
        serde_json::from_str::<Value>(&std::fs::read_to_string(format!("tests/fixtures/rollout/{name}")).unwrap())
            .unwrap()
    };
    let dir = templates(fixture("_settings.json"), Some(fixture("_waivers.json")));
    let mut variables: Value =
        serde_json::from_str(&std::fs::read_to_string("templates/_variables.json").unwrap()).unwrap();
    variables["sandboxAccounts"] = json!([ACCOUNT, "444455556666"]);
    std::fs::write(dir.path().join("_variables.json"), variables.to_string()).unwrap();
    let config = EngineConfig { today: Date::parse("2026-12-07"), ..EngineConfig::default() };
    let engine = Engine::new(DirSource::new(dir.path()).unwrap(), config);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let website = json!({"WebsiteConfiguration": {"IndexDocument": "index.html"}});
    let cases = [
        ("waived", bucket(website.clone())),
        ("audited rule", bucket(json!({"AnalyticsConfigurations": []}))),
        ("expired waiver", bucket(json!({"AccelerateConfiguration": {"AccelerationStatus": "Enabled"}}))),
        (
            "enforced beside audited and waived",
            bucket(
                json!({"WebsiteConfiguration": {"IndexDocument": "index.html"}, "AnalyticsConfigurations": [], "NewFeature": 1}),
            ),
        ),
        ("audited type", event("AWS::SQS::Queue", "CREATE_PRE_PROVISION", json!({"NewFeature": 1}))),
        ("audited baseline", event("AWS::Glue::Job", "CREATE_PRE_PROVISION", json!({"NotAGlueProperty": 1}))),
        ("fault", event("Acme::Ledger::Entry", "CREATE_PRE_PROVISION", json!({}))),
    ];
    let answers: Vec<Value> = cases
        .iter()
        .map(|(case, event)| {
            let bytes = event.to_string();
            let answer = runtime.block_on(lambda::answer_bytes(
                &engine,
                bytes.as_bytes(),
                &EventDefaults::default(),
                lambda::TIME_BUDGET,
            ));
            let mut record = serde_json::to_value(&answer.record).unwrap();
            record["latency_us"] = json!(0);
            record["cache"] = json!(null);
            record["compiled"] = json!(null);
            json!({"case": case, "response": answer.response, "record": record})
        })
        .collect();
    let message = |i: usize| answers[i]["response"]["message"].as_str().unwrap().to_owned();
    assert!(message(0).contains("1 violation waived"), "{}", message(0));
    assert!(message(2).contains("(waiver W-2026-009 expired on 2026-11-30)"), "{}", message(2));
    // A temporary directory's path appears only in the fault's message.
    let text = serde_json::to_string_pretty(&answers).unwrap().replace(path(&dir), "(templates)");
    insta::assert_snapshot!(text);
}

/// What neither audit mode nor a waiver relaxes: a template's `denyDelete`, a custom resource's
/// ServiceToken known only at deploy time, and an unapproved key the Guard rules could not be
/// shown (the properties being too large for them).
#[test]
fn some_refusals_are_never_relaxed() {
    let everything = |id: &str, type_name: &str, rule: &str| {
        let mut w = waiver(id, rule);
        w["type"] = json!(type_name);
        w["stackName"] = json!("*");
        w
    };
    let dir = templates(
        json!({"baseline": "on", "enforcement": {"default": "audit"}}),
        Some(waivers(vec![everything("W-ALL", "AWS::S3::Bucket", "/")])),
    );
    // denyDelete: a template that protects its type.
    let mut bucket_template: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("aws-s3-bucket.json")).unwrap()).unwrap();
    bucket_template["x-rcfge"]["denyDelete"] = json!(true);
    std::fs::write(dir.path().join("aws-s3-bucket.json"), bucket_template.to_string()).unwrap();
    let (code, response) = invoke_event(&event("AWS::S3::Bucket", "DELETE_PRE_PROVISION", Value::Null), path(&dir));
    assert_eq!(code, 1, "{response:#}");
    assert!(
        response["message"].as_str().unwrap().contains(
            "denied by its template (audit mode and waivers do not apply: a template's denyDelete is changed in the template"
        ),
        "{response:#}"
    );

    // Guard rules that could not be shown an unapproved key: the padding is refused, and with
    // it whatever the rules would have found under it.
    let lock = bucket(json!({"ObjectLockEnabled": true}));
    let (code, response) = invoke_event(&lock, path(&dir));
    assert_eq!(code, 0, "the Guard finding alone is audited: {response:#}");
    let padded = bucket(json!({"ObjectLockEnabled": true, "Pad": "x".repeat(300_000)}));
    let (code, response) = invoke_event(&padded, path(&dir));
    assert_eq!(code, 1, "{response:#}");
    assert!(
        response["message"].as_str().unwrap().contains("too large for the Guard rules to be shown this unapproved key"),
        "{response:#}"
    );

    // A custom resource whose ServiceToken is known only at deploy time.
    let stack = temp_file(
        ".yaml",
        "Parameters:\n  Token:\n    Type: String\nResources:\n  Thing:\n    Type: Custom::Thing\n    Properties:\n      ServiceToken: !Ref Token\n",
    );
    let args = ["validate", "--templates", path(&dir), "--account-id", ACCOUNT, "--region", "eu-west-1"];
    let run = rcfge(&[&args[..], &[stack.path().to_str().unwrap()]].concat());
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("(audit mode and waivers do not apply: a ServiceToken known only at deploy time"));
}

/// A custom resource (`Custom::*`) takes the modes of the template that judges it,
/// `AWS::CloudFormation::CustomResource`, unless its own type is named.
#[test]
fn a_custom_resource_is_enforced_as_its_template_is() {
    let dir = templates(
        json!({"baseline": "on", "enforcement": {"default": "audit", "types": {"AWS::CloudFormation::CustomResource": "enforce"}}}),
        None,
    );
    let foreign = json!({"ServiceToken": "arn:aws:lambda:eu-west-1:444455556666:function:exfil"});
    for type_name in ["Custom::Anything", "AWS::CloudFormation::CustomResource"] {
        let (code, response) = invoke_event(&event(type_name, "CREATE_PRE_PROVISION", foreign.clone()), path(&dir));
        assert_eq!(code, 1, "{type_name}: {response:#}");
    }
}
