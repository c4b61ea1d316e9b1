//! The S3 template source against a real S3-protocol server on loopback: found, not found,
//! denied, broken, slow, revalidated with ETags, replaced and deleted while warm, and many
//! concurrent requests sharing one GET.

use std::sync::Arc;
use std::time::Duration;

use rcfge::CacheUse;
use rcfge::template::Freshness;
use rcfge::template::S3Settings;
use rcfge::{Action, Context, Engine, EngineConfig, Target, Verdict};
use s3s::S3ErrorCode;
use serde_json::{Value, json};

use crate::s3_server::{Fault, S3Server, bundled_templates};
use crate::support::hook_invoke;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Short timeouts so that slow-server tests finish quickly.
fn settings() -> S3Settings {
    S3Settings {
        force_path_style: true,
        connect_timeout: Duration::from_millis(500),
        attempt_timeout: Duration::from_millis(400),
        operation_timeout: Duration::from_millis(1500),
        max_attempts: 2,
    }
}

fn engine(server: &S3Server, freshness: Freshness) -> Engine {
    Engine::new(server.source(&settings()), EngineConfig { freshness, ..EngineConfig::default() })
}

fn always_revalidate() -> Freshness {
    Freshness { ttl: Some(Duration::ZERO), stale_if_error: Duration::ZERO }
}

fn queue(properties: Value) -> Target {
    Target {
        type_name: "AWS::SQS::Queue".into(),
        logical_id: "Orders".into(),
        action: Action::Create,
        properties,
        context: Context {
            account_id: Some("111122223333".into()),
            region: Some("eu-west-1".into()),
            partition: Some("aws".into()),
            ..Context::default()
        },
    }
}

fn compliant() -> Target {
    queue(json!({"QueueName": "orders", "SqsManagedSseEnabled": true}))
}

fn failure_reason(verdict: &Verdict) -> String {
    match verdict {
        Verdict::InternalFailure(error) => error.to_string(),
        other => panic!("expected an internal failure, got {other:?}"),
    }
}

#[test]
fn a_template_in_s3_is_found_and_applied() {
    let server = S3Server::start();
    let engine = engine(&server, Freshness::default());
    runtime().block_on(async {
        assert!(matches!(engine.decide(&compliant()).await.verdict, Verdict::Compliant));
        let refused = engine.decide(&queue(json!({"SqsManagedSseEnabled": "false"}))).await;
        assert!(matches!(refused.verdict, Verdict::NonCompliant(_)), "{:?}", refused.verdict);
    });
    assert!(engine.location().starts_with("s3://org-rcfge/templates/v1/"));
}

#[test]
fn a_missing_template_fails_closed() {
    let server = S3Server::start_with(&[]);
    let engine = engine(&server, Freshness::default());
    let decision = runtime().block_on(engine.decide(&compliant()));
    assert!(
        failure_reason(&decision.verdict).contains("no template for AWS::SQS::Queue in s3://org-rcfge/templates/v1/")
    );
}

#[test]
fn a_missing_bucket_is_a_fault_not_a_missing_template() {
    let server = S3Server::start();
    let source = rcfge::template::S3Source::new(
        crate::s3_server::client_for(&server.endpoint, &settings()),
        rcfge::template::S3Location::parse("s3://no-such-bucket/").unwrap(),
        &settings(),
    );
    let config = EngineConfig { exempt_types: ["AWS::SQS::Queue".to_owned()].into(), ..EngineConfig::default() };
    let engine = Engine::new(source, config);
    let reason = failure_reason(&runtime().block_on(engine.decide(&compliant())).verdict);
    assert!(reason.contains("NoSuchBucket"), "an exempt type must not pass because the bucket is wrong: {reason}");
}

#[test]
fn server_faults_fail_closed() {
    for (fault, expected) in [
        (Fault::Error(S3ErrorCode::AccessDenied), "HTTP 403 AccessDenied"),
        (Fault::Error(S3ErrorCode::InternalError), "HTTP 500 InternalError"),
        (Fault::Error(S3ErrorCode::ServiceUnavailable), "HTTP 503 ServiceUnavailable"),
        (Fault::Delay(Duration::from_secs(3)), "timeout"),
        (Fault::StallBody, "no complete answer within 1500 ms"),
    ] {
        let server = S3Server::start();
        server.observed.set_fault(fault.clone());
        let engine = engine(&server, Freshness::default());
        let started = std::time::Instant::now();
        let reason = failure_reason(&runtime().block_on(engine.decide(&compliant())).verdict);
        assert!(reason.to_lowercase().contains(&expected.to_lowercase()), "{fault:?}: {reason}");
        assert!(started.elapsed() < Duration::from_secs(3), "{fault:?}: the operation timeout bounds the wait");
    }
}

#[test]
fn broken_templates_in_s3_fail_closed() {
    let server = S3Server::start_with(&[("aws-sqs-queue.json".into(), b"{ not json".to_vec())]);
    let engine = engine(&server, Freshness::default());
    let reason = failure_reason(&runtime().block_on(engine.decide(&compliant())).verdict);
    assert!(reason.contains("template is not valid JSON"), "{reason}");
}

#[test]
fn revalidation_uses_the_etag_and_keeps_the_compiled_policy() {
    let server = S3Server::start();
    let engine = engine(&server, always_revalidate());
    runtime().block_on(async {
        let first = engine.decide(&compliant()).await;
        assert!(matches!(first.verdict, Verdict::Compliant));
        assert_eq!((first.cache, first.compiled), (Some(CacheUse::Miss), true));
        for _ in 0..3 {
            let again = engine.decide(&compliant()).await;
            assert!(matches!(again.verdict, Verdict::Compliant));
            assert_eq!(again.template_version, first.template_version);
            assert_eq!(
                (again.cache, again.compiled),
                (Some(CacheUse::Revalidated), false),
                "304 keeps the compiled policy"
            );
        }
    });
    assert_eq!(server.observed.gets_of(".json"), 4, "one GET per decision once the TTL has passed");
    assert_eq!(server.observed.gets_of(".guard"), 4, "the Guard rules are revalidated the same way");
    assert_eq!(server.observed.not_modified(), 6, "the server answered 304 to every revalidation of both files");
}

#[test]
fn a_template_replaced_while_warm_is_used_after_the_ttl() {
    let server = S3Server::start();
    let engine = engine(&server, always_revalidate());
    let strict =
        br#"{"typeName": "AWS::SQS::Queue", "type": "object", "additionalProperties": false, "properties": {}}"#;
    runtime().block_on(async {
        assert!(matches!(engine.decide(&compliant()).await.verdict, Verdict::Compliant));
    });
    server.put("aws-sqs-queue.json", strict);
    runtime().block_on(async {
        assert!(matches!(engine.decide(&compliant()).await.verdict, Verdict::NonCompliant(_)));
    });
}

#[test]
fn a_template_deleted_while_warm_fails_closed_after_the_ttl() {
    let server = S3Server::start();
    let engine = engine(&server, always_revalidate());
    runtime().block_on(async {
        assert!(matches!(engine.decide(&compliant()).await.verdict, Verdict::Compliant));
    });
    server.delete("aws-sqs-queue.json");
    let reason = failure_reason(&runtime().block_on(engine.decide(&compliant())).verdict);
    assert!(reason.contains("no template for AWS::SQS::Queue"), "{reason}");
}

#[test]
fn within_the_ttl_no_request_is_made() {
    let server = S3Server::start();
    let engine = engine(&server, Freshness { ttl: Some(Duration::from_secs(60)), stale_if_error: Duration::ZERO });
    runtime().block_on(async {
        for _ in 0..1000 {
            assert!(matches!(engine.decide(&compliant()).await.verdict, Verdict::Compliant));
        }
    });
    assert_eq!(server.observed.gets_of(".json"), 1);
    assert_eq!(server.observed.gets_of(".guard"), 1, "Guard rules follow the same cache");
}

#[test]
fn guard_rules_missing_from_the_bucket_fail_closed() {
    let templates_only: Vec<_> =
        bundled_templates().into_iter().filter(|(name, _)| !name.ends_with(".guard")).collect();
    let server = S3Server::start_with(&templates_only);
    let engine = engine(&server, Freshness::default());
    let decision = runtime().block_on(engine.decide(&compliant()));
    match decision.verdict {
        Verdict::InternalFailure(error) => {
            assert!(error.to_string().contains("there is no aws-sqs-queue.guard"), "{error}");
        }
        other => panic!("not a failure: {other:?}"),
    }
}

#[test]
fn a_failed_revalidation_fails_closed_unless_stale_if_error_allows_it() {
    let server = S3Server::start();
    let strict = engine(&server, always_revalidate());
    let tolerant = engine(&server, Freshness { ttl: Some(Duration::ZERO), stale_if_error: Duration::from_secs(60) });
    runtime().block_on(async {
        assert!(matches!(strict.decide(&compliant()).await.verdict, Verdict::Compliant));
        assert!(matches!(tolerant.decide(&compliant()).await.verdict, Verdict::Compliant));
    });
    server.observed.set_fault(Fault::Error(S3ErrorCode::InternalError));
    runtime().block_on(async {
        assert!(matches!(strict.decide(&compliant()).await.verdict, Verdict::InternalFailure(_)));
        let stale = tolerant.decide(&compliant()).await;
        assert!(matches!(stale.verdict, Verdict::Compliant), "stale copy used within the window: {:?}", stale.verdict);
        // Stale-if-error never turns a refusal into a pass: the stale template still judges.
        let refused = tolerant.decide(&queue(json!({"SqsManagedSseEnabled": false}))).await;
        assert!(matches!(refused.verdict, Verdict::NonCompliant(_)));
    });
}

#[test]
fn concurrent_requests_for_an_uncached_type_make_one_get() {
    let server = S3Server::start();
    server.observed.set_fault(Fault::Delay(Duration::from_millis(200)));
    let engine =
        Arc::new(engine(&server, Freshness { ttl: Some(Duration::from_secs(60)), stale_if_error: Duration::ZERO }));
    runtime().block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..32 {
            let engine = engine.clone();
            tasks.spawn(async move { engine.decide(&compliant()).await });
        }
        while let Some(decision) = tasks.join_next().await {
            assert!(matches!(decision.unwrap().verdict, Verdict::Compliant));
        }
    });
    assert_eq!(server.observed.gets_of(".json"), 1);
}

/// `rcfge hook invoke --templates s3://...` with the endpoint given in `endpoint_variable`.
fn invoke_over_s3(server: &S3Server, event: &str, endpoint_variable: &str) -> std::process::Output {
    server.run_rcfge(&["hook", "invoke", "--event", event, "--templates", &server.uri()], endpoint_variable)
}

#[test]
fn rcfge_hook_invoke_reads_templates_from_s3() {
    let server = S3Server::start();
    let run = invoke_over_s3(&server, "tests/fixtures/events/bucket-compliant.json", "AWS_ENDPOINT_URL");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(stdout.contains("\"hookStatus\": \"SUCCESS\""), "{stdout}");
    assert_eq!(server.observed.gets_of(".json"), 1);

    // The S3-specific endpoint variable works too, and path style follows it.
    let run = invoke_over_s3(&server, "tests/fixtures/events/bucket-foreign-topic.json", "AWS_ENDPOINT_URL_S3");
    assert_eq!(run.status.code(), Some(1), "{}", String::from_utf8_lossy(&run.stderr));

    let run = hook_invoke("tests/fixtures/events/bucket-compliant.json", "s3://Bad_Bucket/");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not a valid bucket name"), "{}", run.stderr);
}

/// A bucket that cannot be read (denied, missing, failing) is a configuration error for
/// `rcfge validate`: said once, exit 2, before any resource is judged; not a finding per resource.
#[test]
fn an_unreadable_bucket_is_one_usage_error_for_validate() {
    for code in [S3ErrorCode::AccessDenied, S3ErrorCode::NoSuchBucket, S3ErrorCode::InternalError] {
        let server = S3Server::start();
        server.observed.set_fault(Fault::Error(code.clone()));
        let args = ["validate", "--templates", &server.uri(), "tests/fixtures/stacks/compliant.yaml"];
        let run = server.run_rcfge(&args, "AWS_ENDPOINT_URL");
        let (stdout, stderr) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
        assert_eq!(run.status.code(), Some(2), "{code:?}: {stdout}\n{stderr}");
        assert_eq!(stdout, "", "{code:?}: nothing is judged");
        let expected = format!("rcfge: the templates in {} cannot be read: ", server.uri());
        assert!(stderr.starts_with(&expected), "{code:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{code:?}: said once: {stderr}");
    }
    // A bucket that answers, without `_variables.json`, is fine.
    let server = S3Server::start();
    server.delete("_variables.json");
    let args = [
        "validate",
        "--templates",
        &server.uri(),
        "--account-id",
        "111122223333",
        "--region",
        "eu-west-1",
        "tests/fixtures/stacks/compliant.yaml",
    ];
    let run = server.run_rcfge(&args, "AWS_ENDPOINT_URL");
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));

    // The check costs no second GET: a template that uses organisation variables finds
    // `_variables.json` where the check left it.
    let server = S3Server::start();
    let policy = "Resources:\n  P:\n    Type: AWS::S3::BucketPolicy\n    Properties:\n      Bucket: receipts\n      PolicyDocument: {Version: '2012-10-17', Statement: []}\n";
    let stack = crate::support::temp_file(".yaml", policy);
    let args = [
        "render",
        "AWS::S3::BucketPolicy",
        "--templates",
        &server.uri(),
        "--account-id",
        "111122223333",
        "--region",
        "eu-west-1",
    ];
    let run = server.run_rcfge(&args, "AWS_ENDPOINT_URL");
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(server.observed.gets_of("_variables.json"), 1);
    let args = [
        "validate",
        "--templates",
        &server.uri(),
        "--account-id",
        "111122223333",
        "--region",
        "eu-west-1",
        stack.path().to_str().unwrap(),
    ];
    let run = server.run_rcfge(&args, "AWS_ENDPOINT_URL");
    assert!(matches!(run.status.code(), Some(0 | 1)), "judged: {}", String::from_utf8_lossy(&run.stdout));
    assert_eq!(server.observed.gets_of("_variables.json"), 2, "one GET per run, not two");
}

#[test]
fn a_failed_revalidation_fails_closed_whatever_the_failure() {
    for fault in [Fault::Error(S3ErrorCode::AccessDenied), Fault::Delay(Duration::from_secs(3)), Fault::StallBody] {
        let server = S3Server::start();
        let engine = engine(&server, always_revalidate());
        let runtime = runtime();
        assert!(matches!(runtime.block_on(engine.decide(&compliant())).verdict, Verdict::Compliant));
        server.observed.set_fault(fault.clone());
        let decision = runtime.block_on(engine.decide(&compliant()));
        assert!(matches!(decision.verdict, Verdict::InternalFailure(_)), "{fault:?}: {:?}", decision.verdict);
    }
}

#[test]
fn stale_if_error_has_limits() {
    let window = Freshness { ttl: Some(Duration::ZERO), stale_if_error: Duration::from_millis(300) };
    let runtime = runtime();

    // The window ends.
    let server = S3Server::start();
    let warm = engine(&server, window);
    assert!(matches!(runtime.block_on(warm.decide(&compliant())).verdict, Verdict::Compliant));
    server.observed.set_fault(Fault::Error(S3ErrorCode::InternalError));
    assert_eq!(runtime.block_on(warm.decide(&compliant())).cache, Some(CacheUse::Stale));
    std::thread::sleep(Duration::from_millis(350));
    assert!(matches!(runtime.block_on(warm.decide(&compliant())).verdict, Verdict::InternalFailure(_)));

    // A deleted template is not masked.
    let server = S3Server::start();
    let warm = engine(&server, window);
    assert!(matches!(runtime.block_on(warm.decide(&compliant())).verdict, Verdict::Compliant));
    server.delete("aws-sqs-queue.json");
    assert!(failure_reason(&runtime.block_on(warm.decide(&compliant())).verdict).contains("no template"));

    // A broken new version is not masked.
    let server = S3Server::start();
    let warm = engine(&server, window);
    assert!(matches!(runtime.block_on(warm.decide(&compliant())).verdict, Verdict::Compliant));
    server.put("aws-sqs-queue.json", b"{ broken");
    assert!(failure_reason(&runtime.block_on(warm.decide(&compliant())).verdict).contains("not valid JSON"));
}

#[test]
fn a_template_is_trusted_for_the_ttl_then_revalidated() {
    let server = S3Server::start();
    let engine = engine(&server, Freshness { ttl: Some(Duration::from_millis(300)), stale_if_error: Duration::ZERO });
    let strict =
        br#"{"typeName": "AWS::SQS::Queue", "type": "object", "additionalProperties": false, "properties": {}}"#;
    let runtime = runtime();
    assert!(matches!(runtime.block_on(engine.decide(&compliant())).verdict, Verdict::Compliant));
    server.put("aws-sqs-queue.json", strict);
    let within = runtime.block_on(engine.decide(&compliant()));
    assert_eq!((within.cache, matches!(within.verdict, Verdict::Compliant)), (Some(CacheUse::Hit), true));
    std::thread::sleep(Duration::from_millis(350));
    let after = runtime.block_on(engine.decide(&compliant()));
    assert_eq!(after.cache, Some(CacheUse::Miss));
    assert!(matches!(after.verdict, Verdict::NonCompliant(_)));
    assert_eq!(server.observed.gets_of(".json"), 2);
}

#[test]
fn requests_queued_behind_a_failed_fetch_share_its_failure() {
    let server = S3Server::start();
    server.observed.set_fault(Fault::Delay(Duration::from_secs(3)));
    let engine = Arc::new(engine(&server, Freshness::default()));
    let started = std::time::Instant::now();
    runtime().block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let engine = engine.clone();
            tasks.spawn(async move { engine.decide(&compliant()).await });
        }
        while let Some(decision) = tasks.join_next().await {
            assert!(matches!(decision.unwrap().verdict, Verdict::InternalFailure(_)));
        }
    });
    assert!(started.elapsed() < Duration::from_secs(3), "eight waiters did not each wait for their own timeout");
    assert!(server.observed.gets() <= 2, "{} GETs", server.observed.gets());
}

#[test]
fn an_answer_never_takes_longer_than_its_budget() {
    let server = S3Server::start();
    server.observed.set_fault(Fault::Delay(Duration::from_secs(5)));
    let slow = S3Settings {
        operation_timeout: Duration::from_secs(10),
        attempt_timeout: Duration::from_secs(10),
        ..settings()
    };
    let engine = Engine::new(server.source(&slow), EngineConfig::default());
    let event =
        std::fs::read(format!("{}/tests/fixtures/events/bucket-compliant.json", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let started = std::time::Instant::now();
    let answer = runtime().block_on(rcfge::lambda::answer_bytes(
        &engine,
        &event,
        &rcfge::lambda::EventDefaults::default(),
        Duration::from_millis(300),
    ));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(answer.response.error_code, Some(rcfge::lambda::ErrorCode::InternalFailure));
    assert!(answer.response.message.contains("no verdict within 300 ms"), "{}", answer.response.message);
    assert_eq!(answer.response.client_request_token.as_deref(), Some("4b90a7e4-1111-2222-3333-6f1a2b3c4d5e"));
}

/// A type without a reviewed template is judged by `baseline/<file>` in the bucket when
/// `_settings.json` switches the baseline on, and the decision says so; with the settings
/// unreadable, it fails closed.
#[test]
fn the_baseline_is_read_from_the_bucket_and_named_in_the_decision() {
    let baseline = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/baseline/aws-glue-job.json")).unwrap();
    let mut files = bundled_templates();
    files.push(("baseline/aws-glue-job.json".to_owned(), baseline));
    let server = S3Server::start_with(&files);
    let job = |properties: Value| Target { type_name: "AWS::Glue::Job".into(), ..queue(properties) };
    let rt = runtime();
    let engine = engine(&server, Freshness::default());
    let valid = rt.block_on(engine.decide(&job(json!({"Command": {"Name": "glueetl"}, "Role": "r"}))));
    assert!(matches!(valid.verdict, Verdict::Compliant), "{:?}", valid.verdict);
    assert_eq!(valid.template_kind, Some(rcfge::TemplateKind::Baseline));
    let gated = rt.block_on(engine.decide(&job(json!({"Command": {"Name": "glueetl"}, "Role": "r", "Unreleased": 1}))));
    assert!(matches!(gated.verdict, Verdict::NonCompliant(_)), "{:?}", gated.verdict);
    assert_eq!(server.observed.gets_of("baseline/aws-glue-job.json"), 1, "fetched once, then cached");

    // The settings cannot be read: nothing is judged by the baseline.
    server.put("_settings.json", b"{\"baseline\": \"maybe\"}");
    let engine = self::engine(&server, Freshness::default());
    let refused = rt.block_on(engine.decide(&job(json!({"Command": {"Name": "glueetl"}, "Role": "r"}))));
    assert!(failure_reason(&refused.verdict).contains("organisation settings"), "{:?}", refused.verdict);
}
