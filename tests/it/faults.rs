//! Fail closed: every way a decision can go wrong ends in FAILED/InternalFailure, with a
//! message that names the cause. One table, one row per fault: the event, the template
//! source (a directory or a loopback S3 server with a fault on GetObject), and the STACK and
//! CHANGE_SET payload server.

use rcfge::lambda::EventDefaults;
use rcfge::lambda::{ErrorCode, HookStatus};
use rcfge::{DirSource, Engine, EngineConfig, lambda};
use s3s::S3ErrorCode;
use serde_json::{Value, json};

use std::time::Duration;

use crate::payload_server::{PayloadServer, Reply};
use crate::s3_server::{self, S3Server};
use crate::support::{event, hook_invoke, invoke_event, temp_file};
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
    event: Input,
    templates: Templates,
    cause: &'static str,
}

/// What the hook is given.
enum Input {
    Event(Value),
    /// Bytes that are not a well-formed event.
    Raw(Vec<u8>),
    /// An event answered in this process (`lambda::answer_bytes`, what the Lambda function
    /// runs) with a budget far shorter than its judgement takes, by an engine that has
    /// already loaded and compiled the type's template and rules.
    Budgeted(Value, Duration),
}

impl From<Value> for Input {
    fn from(event: Value) -> Self {
        Input::Event(event)
    }
}

/// Where the hook reads the templates from.
enum Templates {
    Dir(&'static str),
    /// A loopback S3 server holding the bundled and the faulty templates and Guard rules,
    /// without the objects named in `removed`, answering GetObject with `fault`.
    S3 {
        fault: s3_server::Fault,
        removed: &'static [&'static str],
    },
}

impl From<&'static str> for Templates {
    fn from(dir: &'static str) -> Self {
        Templates::Dir(dir)
    }
}

/// A row whose templates come from a loopback S3 server.
fn s3_fault(name: &'static str, event: Value, fault: s3_server::Fault, cause: &'static str) -> Fault {
    Fault { name, event: event.into(), templates: Templates::S3 { fault, removed: &[] }, cause }
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

/// A bucket that its template approves, with `property` set to `value`.
fn compliant_bucket(property: &str, value: Value) -> Value {
    let mut properties = json!({
        "BucketName": "payments-receipts",
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true
        },
        "VersioningConfiguration": {"Status": "Enabled"},
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    });
    properties[property] = value;
    create_with("AWS::S3::Bucket", properties)
}

/// A compliant bucket with `tags` distinct tags (65 bytes each): light for the schema, more
/// than Guard may be given from 4,000 on.
fn tagged_bucket(tags: usize) -> Value {
    let tags: Vec<Value> = (0..tags)
        .map(|i| json!({"Key": format!("cost-centre-{i:06}"), "Value": "payments-receipts-archive"}))
        .collect();
    compliant_bucket("Tags", Value::Array(tags))
}

/// A compliant bucket with `rules` lifecycle rules (about 150 bytes each), which Guard's rules
/// filter one by one: at 1,600 (240 KB, under Guard's limits) about 0.1 s of Guard in a
/// release build, many times the budget of the row that uses it.
fn lifecycle_bucket(rules: usize) -> Value {
    let rules: Vec<Value> = (0..rules)
        .map(|i| {
            json!({"Id": format!("rule-{i:07}"), "Status": "Enabled", "Prefix": format!("logs/{i}/"),
                   "ExpirationInDays": 30, "NoncurrentVersionExpiration": {"NoncurrentDays": 7}})
        })
        .collect();
    compliant_bucket("LifecycleConfiguration", json!({"Rules": rules}))
}

fn create_with(type_name: &str, properties: Value) -> Value {
    event(type_name, "CREATE_PRE_PROVISION", properties)
}

fn faults() -> Vec<Fault> {
    let bucket = || create("AWS::S3::Bucket");
    let payloads = PayloadServer::start();
    vec![
        Fault {
            name: "no template for the type",
            event: create("Acme::Ledger::Entry").into(),
            templates: "templates".into(),
            cause: "no template for Acme::Ledger::Entry",
        },
        Fault {
            name: "organisation settings do not parse",
            event: create("AWS::Glue::Job").into(),
            templates: "tests/fixtures/baseline-faults/broken-settings".into(),
            cause: "cannot load the organisation settings (_settings.json)",
        },
        Fault {
            name: "settings require a reviewed template the type does not have",
            event: create("AWS::IAM::User").into(),
            templates: "tests/fixtures/baseline-faults/reviewed-required".into(),
            cause: "the organisation settings require one for `AWS::IAM::*`",
        },
        Fault {
            name: "baseline on, but no baseline for the type",
            event: create("AWS::Glue::Job").into(),
            templates: "tests/fixtures/baseline-faults/reviewed-required".into(),
            cause: "no template for AWS::Glue::Job in directory tests/fixtures/baseline-faults/reviewed-required, reviewed or baseline",
        },
        Fault {
            name: "custom resource without the reviewed template: never the baseline",
            event: create("Custom::Evil").into(),
            templates: "tests/fixtures/baseline-faults/reviewed-required".into(),
            cause: "no template for Custom::Evil in directory tests/fixtures/baseline-faults/reviewed-required: the type is not approved",
        },
        Fault {
            name: "baseline template broken",
            event: create("AWS::Glue::Job").into(),
            templates: "tests/fixtures/baseline-faults/broken-baseline".into(),
            cause: "the template for AWS::Glue::Job is broken",
        },
        Fault {
            name: "baseline off",
            event: create("AWS::Glue::Job").into(),
            templates: "tests/fixtures/baseline-faults/baseline-off".into(),
            cause: "no template for AWS::Glue::Job in directory tests/fixtures/baseline-faults/baseline-off: the type is not approved",
        },
        Fault {
            name: "template file unreadable",
            event: create("Test::Unreadable").into(),
            templates: FAULTY.into(),
            cause: "cannot read",
        },
        Fault {
            name: "template is not JSON",
            event: create("Test::Broken::Json").into(),
            templates: FAULTY.into(),
            cause: "template is not valid JSON",
        },
        Fault {
            name: "unknown placeholder",
            event: create("Test::Unknown::Placeholder").into(),
            templates: FAULTY.into(),
            cause: "unknown placeholder `orgPrefix`",
        },
        Fault {
            name: "unsupported placeholder",
            event: create("Test::Unsupported::Placeholder").into(),
            templates: FAULTY.into(),
            cause: "is not supported",
        },
        Fault {
            name: "`{{any}}` of a variable that is not a list of strings",
            event: create("Test::Any::NotAList").into(),
            templates: FAULTY.into(),
            cause: "needs a non-empty list of strings",
        },
        Fault {
            name: "placeholder without a value",
            event: edited(create("Test::Hook::Type"), |e| {
                e.as_object_mut().unwrap().remove("hookTypeName");
            }).into(),
            templates: FAULTY.into(),
            cause: "placeholder `hookTypeName` has no value",
        },
        Fault {
            name: "schema is invalid",
            event: create("Test::Bad::Schema").into(),
            templates: FAULTY.into(),
            cause: "not a valid schema",
        },
        Fault {
            name: "remote $ref",
            event: create("Test::Remote::Ref").into(),
            templates: FAULTY.into(),
            cause: "not a valid schema",
        },
        Fault {
            name: "template for another type",
            event: create("Test::Wrong::Type").into(),
            templates: FAULTY.into(),
            cause: "stored as the template of `Test::Wrong::Type`",
        },
        Fault {
            name: "_variables.json shadows a built-in",
            event: create("Test::Organisation::Variables").into(),
            templates: "tests/fixtures/bad-variables".into(),
            cause: "organisation variables",
        },
        Fault {
            name: "DELETE with a broken template",
            event: event("Test::Broken::Json", "DELETE_PRE_PROVISION", Value::Null).into(),
            templates: FAULTY.into(),
            cause: "template is not valid JSON",
        },
        Fault {
            name: "unknown invocation point",
            event: edited(bucket(), |e| e["actionInvocationPoint"] = json!("CREATE_POST_PROVISION")).into(),
            templates: "templates".into(),
            cause: "unknown invocation point",
        },
        Fault {
            name: "missing invocation point",
            event: edited(bucket(), |e| {
                e.as_object_mut().unwrap().remove("actionInvocationPoint");
            }).into(),
            templates: "templates".into(),
            cause: "no actionInvocationPoint",
        },
        Fault {
            name: "missing account",
            event: edited(bucket(), |e| {
                e.as_object_mut().unwrap().remove("awsAccountId");
            }).into(),
            templates: "templates".into(),
            cause: "no awsAccountId",
        },
        Fault {
            name: "account differs from the stack ARN",
            event: edited(bucket(), |e| e["awsAccountId"] = json!("444455556666")).into(),
            templates: "templates".into(),
            cause: "differs from the account",
        },
        Fault {
            name: "unknown target type",
            event: edited(bucket(), |e| e["requestData"]["targetType"] = json!("SOMETHING")).into(),
            templates: "templates".into(),
            cause: "unknown target",
        },
        Fault {
            name: "target name is a path",
            event: edited(bucket(), |e| {
                e["requestData"]["targetName"] = json!("../../etc/passwd");
                e["requestData"]["targetType"] = json!("RESOURCE")
            }).into(),
            templates: "templates".into(),
            cause: "unknown target",
        },
        Fault {
            name: "properties not an object",
            event: edited(bucket(), |e| e["requestData"]["targetModel"]["resourceProperties"] = json!(["x"])).into(),
            templates: "templates".into(),
            cause: "resourceProperties must be a JSON object",
        },
        Fault {
            name: "properties never sent",
            event: edited(bucket(), |e| {
                e["requestData"]["targetModel"].as_object_mut().unwrap().remove("resourceProperties");
            }).into(),
            templates: "templates".into(),
            cause: "no requestData.targetModel.resourceProperties",
        },
        Fault {
            name: "event is not an object",
            event: json!(["not", "an", "event"]).into(),
            templates: "templates".into(),
            cause: "not a JSON object",
        },
        Fault { name: "STACK without a payload URL", event: whole("STACK", None).into(), templates: "templates".into(), cause: "no requestData.payload" },
        Fault {
            name: "payload URL not HTTPS",
            event: whole("STACK", Some("http://payloads.example/presigned".into())).into(),
            templates: "templates".into(),
            cause: "must use HTTPS",
        },
        Fault {
            name: "payload unreachable",
            event: whole("STACK", Some(closed_port_url())).into(),
            templates: "templates".into(),
            cause: "cannot fetch the payload",
        },
        Fault {
            name: "payload answers 403",
            // Presigned, as CloudFormation's are: the message names the URL, never its signature.
            event: whole(
                "STACK",
                Some(format!("{}?X-Amz-Signature=0f1e2d3c4b5a", payloads.serve("/forbidden", Reply::Status(403)))),
            )
            .into(),
            templates: "templates".into(),
            cause: "/forbidden answered HTTP 403",
        },
        Fault {
            name: "payload oversized",
            event: whole("CHANGE_SET", Some(payloads.serve("/huge", Reply::Huge(17 * 1024 * 1024)))).into(),
            templates: "templates".into(),
            cause: "larger than 16777216 bytes",
        },
        Fault {
            name: "payload stalls",
            event: whole("STACK", Some(payloads.serve("/stall", Reply::Stall(Duration::from_secs(30))))).into(),
            templates: "templates".into(),
            cause: "/stall within 8000 ms",
        },
        Fault {
            name: "payload not JSON",
            event: whole("STACK", Some(payloads.serve("/html", Reply::Body(b"<html></html>".to_vec())))).into(),
            templates: "templates".into(),
            cause: "the payload is not JSON",
        },
        Fault {
            name: "payload without a template",
            event: whole("STACK", Some(payloads.serve("/empty", Reply::Body(br#"{"previousTemplate": ""}"#.to_vec())))).into(),
            templates: "templates".into(),
            cause: "the payload has no template",
        },
        Fault {
            name: "stack template unreadable",
            event: whole("STACK", Some(payloads.serve("/broken", Reply::Body(br#"{"template": "Resources: ["}"#.to_vec())))).into(),
            templates: "templates".into(),
            cause: "the STACK template cannot be read: not valid YAML",
        },
        Fault {
            name: "stack template whose YAML aliases grow past the budget",
            event: whole(
                "STACK",
                Some(payloads.serve(
                    "/aliases",
                    Reply::Body(
                        json!({"template": format!(
                            "S: &s {}\nL1: &l1 [{}]\nL2: [{}]\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n",
                            "x".repeat(40_000),
                            ["*s"; 100].join(", "),
                            ["*l1"; 100].join(", ")
                        )})
                        .to_string()
                        .into_bytes(),
                    ),
                )),
            )
            .into(),
            templates: "templates".into(),
            cause: "grows past 33554432 bytes once its YAML aliases are copied",
        },
        Fault {
            name: "stack template whose YAML aliases nest thousands of levels deep",
            event: whole(
                "STACK",
                Some(payloads.serve(
                    "/deep-aliases",
                    Reply::Body(
                        json!({"template": (1..100).fold("A0: &a0 [1]\n".to_owned(), |text, k| {
                            format!("{text}A{k}: &a{k} {}*a{}{}\n", "[".repeat(100), k - 1, "]".repeat(100))
                        }) + "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      Tags: *a99\n"})
                        .to_string()
                        .into_bytes(),
                    ),
                )),
            )
            .into(),
            templates: "templates".into(),
            cause: "collections nest more than 128 deep",
        },
        Fault {
            name: "stack template using the reader's reserved key",
            event: whole(
                "STACK",
                Some(payloads.serve(
                    "/reserved",
                    Reply::Body(
                        json!({"template": json!({"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {
                            "SqsManagedSseEnabled": {"rcfge:YamlScalarReadings": {"written": "y", "readings": [true, "y"]}}
                        }}}}).to_string()})
                        .to_string()
                        .into_bytes(),
                    ),
                )),
            )
            .into(),
            templates: "templates".into(),
            cause: "is reserved for rcfge's own use",
        },
        Fault {
            name: "document written as text that is not JSON",
            event: create_with("Test::Json::Document", json!({"Policy": "{\"Statement\": [oops]}"})).into(),
            templates: "tests/fixtures/faulty-templates".into(),
            cause: "is a document written as a string, as CloudFormation allows, but it is not a JSON document",
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
            ).into(),
            templates: "templates".into(),
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
            ).into(),
            templates: "templates".into(),
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
            ).into(),
            templates: "templates".into(),
            cause: "unknown action \"MOVE\"",
        },
        Fault {
            name: "changed resource without a template",
            event: whole(
                "CHANGE_SET",
                Some(payloads.serve(
                    "/untemplated",
                    Reply::Body(
                        br#"{"changedResources": [{"action": "CREATE", "logicalResourceId": "Job", "resourceType": "Acme::Ledger::Entry", "afterContext": "{}"}]}"#.to_vec(),
                    ),
                )),
            ).into(),
            templates: "templates".into(),
            cause: "Job (Acme::Ledger::Entry): not evaluated: no template",
        },
        Fault {
            name: "event is not JSON",
            event: Input::Raw(b"{\"awsAccountId\": \"111122223333\", ".to_vec()),
            templates: "templates".into(),
            cause: "not JSON",
        },
        Fault {
            name: "event has a duplicate key",
            event: Input::Raw(br#"{"awsAccountId": "111122223333", "awsAccountId": "444455556666"}"#.to_vec()),
            templates: "templates".into(),
            cause: "duplicate key `awsAccountId`",
        },
        Fault {
            name: "event oversized",
            event: Input::Raw(format!("{{\"padding\": \"{}\"}}", "x".repeat(7 * 1024 * 1024)).into_bytes()),
            templates: "templates".into(),
            cause: "more than the",
        },
        Fault {
            name: "S3: no object for the type (404)",
            event: bucket().into(),
            templates: Templates::S3 { fault: s3_server::Fault::None, removed: &["aws-s3-bucket.json"] },
            cause: "no template for AWS::S3::Bucket",
        },
        s3_fault("S3: no bucket (404)", bucket(), s3_error(S3ErrorCode::NoSuchBucket), "NoSuchBucket"),
        s3_fault("S3: access denied (403)", bucket(), s3_error(S3ErrorCode::AccessDenied), "HTTP 403 AccessDenied"),
        s3_fault("S3: internal error (500)", bucket(), s3_error(S3ErrorCode::InternalError), "HTTP 500 InternalError"),
        s3_fault(
            "S3: unavailable (503)",
            bucket(),
            s3_error(S3ErrorCode::ServiceUnavailable),
            "HTTP 503 ServiceUnavailable",
        ),
        s3_fault("S3: slow answer", bucket(), s3_server::Fault::Delay(Duration::from_secs(4)), "timeout"),
        s3_fault("S3: body never ends", bucket(), s3_server::Fault::StallBody, "reading the body failed"),
        s3_fault("S3: truncated body", bucket(), s3_server::Fault::TruncateBody, "cannot read"),
        s3_fault("S3: template is not JSON", create("Test::Broken::Json"), s3_server::Fault::None, "template is not valid JSON"),
        s3_fault("S3: schema is invalid", create("Test::Bad::Schema"), s3_server::Fault::None, "not a valid schema"),
        s3_fault(
            "S3: unknown placeholder",
            create("Test::Unknown::Placeholder"),
            s3_server::Fault::None,
            "unknown placeholder `orgPrefix`",
        ),
        Fault {
            // Over policy::MAX_INPUT_BYTES (256 KiB): refused before Guard sees it, whatever
            // the schema says.
            name: "properties too large for Guard",
            event: tagged_bucket(5_000).into(),
            templates: "templates".into(),
            cause: "too large for the Guard rules aws-s3-bucket.guard",
        },
        Fault {
            // Over MAX_PROPERTIES_BYTES (2 MiB), though the event is under its 6 MiB.
            name: "properties too large to judge",
            event: tagged_bucket(35_000).into(),
            templates: "templates".into(),
            cause: "more than the 2097152 that are judged",
        },
        Fault {
            // Under Guard's limits, but far more work than 5 ms: the answer comes when the
            // budget ends, naming what was still running.
            name: "no verdict within the budget",
            event: Input::Budgeted(lifecycle_bucket(1_600), Duration::from_millis(5)),
            templates: "templates".into(),
            cause: "no verdict within 5 ms: judging Subject (AWS::S3::Bucket)",
        },
        s3_fault("S3: Guard rules do not parse", create("Test::Guard::Broken"), s3_server::Fault::None, "do not parse"),
        s3_fault(
            "S3: Guard rules missing",
            create("Test::Guard::Missing"),
            s3_server::Fault::None,
            "requires Guard rules",
        ),
    ]
}

fn s3_error(code: S3ErrorCode) -> s3_server::Fault {
    s3_server::Fault::Error(code)
}

/// The bundled templates and Guard rules, and the faulty ones, as they would sit in a bucket.
fn bucket_files(removed: &[&str]) -> Vec<(String, Vec<u8>)> {
    let mut files = s3_server::bundled_templates();
    for dir in [FAULTY, "tests/fixtures/guard-rules"] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_file() && name != "_variables.json" {
                files.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    files.retain(|(name, _)| !removed.contains(&name.as_str()));
    files
}

/// `rcfge hook invoke` for one row: its exit code and response.
fn run(fault: &Fault) -> (i32, Value) {
    let bytes = match &fault.event {
        Input::Event(event) => event.to_string().into_bytes(),
        Input::Raw(bytes) => bytes.clone(),
        Input::Budgeted(event, budget) => return answer_in_process(event, *budget, &fault.templates),
    };
    let file = temp_file(".json", &String::from_utf8_lossy(&bytes));
    let path = file.path().to_str().unwrap();
    let output = match &fault.templates {
        Templates::Dir(dir) => {
            let run = hook_invoke(path, dir);
            (run.code, run.stdout)
        }
        Templates::S3 { fault: s3_fault, removed } => {
            let server = S3Server::start_with(&bucket_files(removed));
            server.observed.set_fault(s3_fault.clone());
            let output = server
                .run_rcfge(&["hook", "invoke", "--event", path, "--templates", &server.uri()], "AWS_ENDPOINT_URL");
            (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stdout).into_owned())
        }
    };
    let response = serde_json::from_str(&output.1)
        .unwrap_or_else(|e| panic!("{}: response is JSON ({e}): {}", fault.name, output.1));
    (output.0, response)
}

/// `lambda::answer_bytes` in this process with `budget`, after one small decision of the same
/// type has loaded its template and rules; the exit code is the one `rcfge hook invoke`
/// would give the answer.
fn answer_in_process(event: &Value, budget: Duration, templates: &Templates) -> (i32, Value) {
    let Templates::Dir(dir) = templates else { panic!("a budgeted row reads a template directory") };
    let engine = Engine::new(DirSource::new(dir).unwrap(), EngineConfig::default());
    let defaults = EventDefaults::default();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let warm = tagged_bucket(1).to_string();
    let warmed = runtime.block_on(lambda::answer_bytes(&engine, warm.as_bytes(), &defaults, lambda::TIME_BUDGET));
    assert_eq!(warmed.response.hook_status, HookStatus::Success, "{:?}", warmed.response);
    let bytes = event.to_string();
    let answer = runtime.block_on(lambda::answer_bytes(&engine, bytes.as_bytes(), &defaults, budget));
    // The judgement that ran out of time is still running on its thread; nothing waits for
    // it, and this test does not either.
    runtime.shutdown_background();
    let code = match (answer.response.hook_status, answer.response.error_code) {
        (HookStatus::Success, _) => 0,
        (_, Some(ErrorCode::NonCompliant)) => 1,
        _ => 2,
    };
    assert_eq!(answer.record.reason.as_deref().map(|r| r.starts_with("no verdict within")), Some(true));
    (code, serde_json::to_value(&answer.response).unwrap())
}

fn assert_internal_failure(name: &str, code: i32, response: &Value, cause: &str) {
    assert_eq!(code, 2, "{name}: exit code, response {response:#}");
    assert_eq!(response["hookStatus"], "FAILED", "{name}");
    assert_eq!(response["errorCode"], "InternalFailure", "{name}");
    let message = response["message"].as_str().unwrap_or_default();
    assert!(message.contains(cause), "{name}: expected {cause:?} in {message:?}");
    assert!(message.chars().count() <= 1024, "{name}: message too long");
    assert!(!message.contains("Signature"), "{name}: a payload URL's signature in {message:?}");
}

#[test]
fn every_fault_fails_closed() {
    let faults = faults();
    // Rows are independent (their own process, and their own S3 server); the slow ones wait
    // out the S3 client's timeouts, so they run side by side.
    let outcomes: Vec<(i32, Value)> = std::thread::scope(|scope| {
        let running: Vec<_> = faults.iter().map(|fault| scope.spawn(|| run(fault))).collect();
        running.into_iter().map(|handle| handle.join().unwrap()).collect()
    });
    let mut messages = Vec::new();
    for (fault, (code, response)) in faults.iter().zip(outcomes) {
        assert_internal_failure(fault.name, code, &response, fault.cause);
        let message = redact_run_specific(response["message"].as_str().unwrap_or_default());
        messages.push(json!({"fault": fault.name, "message": message}));
    }
    println!("fault matrix: {} faults, every one FAILED/InternalFailure", messages.len());
    insta::assert_json_snapshot!(messages);
}

/// The message with what changes between runs (the loopback servers' ports) masked.
fn redact_run_specific(message: &str) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(at) = rest.find("127.0.0.1:") {
        out.push_str(&rest[..at + "127.0.0.1:".len()]);
        rest = rest[at + "127.0.0.1:".len()..].trim_start_matches(|c: char| c.is_ascii_digit());
        out.push_str("PORT");
    }
    out.push_str(rest);
    out
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

/// A pattern the engine cannot run refuses its property, whatever the value, and nothing else:
/// the rest of the template still judges (provider schemas have a few such patterns).
#[test]
fn a_pattern_that_cannot_run_refuses_its_property() {
    let (code, response) = invoke_event(&create_with("Test::Bad::Pattern", json!({"Name": "unclosed-a"})), FAULTY);
    assert_eq!((code, &response["errorCode"]), (1, &json!("NonCompliant")), "{response:#}");
    let message = response["message"].as_str().unwrap();
    assert!(message.contains("Name cannot be checked") && message.contains("^(unclosed-[a-z]+$"), "{message}");
    let (code, response) = invoke_event(&create_with("Test::Bad::Pattern", json!({})), FAULTY);
    assert_eq!(code, 0, "{response:#}");
}

#[test]
fn delete_of_an_untemplated_type_is_allowed() {
    let (code, response) = invoke_event(&event("AWS::Glue::Job", "DELETE_PRE_PROVISION", Value::Null), "templates");
    assert_eq!(code, 0, "{response:#}");
    assert!(response["message"].as_str().unwrap().contains("no reviewed template"), "{response:#}");
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
