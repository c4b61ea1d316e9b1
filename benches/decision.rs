//! Warm per-resource decision latency, and S3 GETs per 1,000 decisions, with templates in a
//! real S3-protocol server on loopback. Run with `cargo bench --bench decision`.
//!
//! A measurement, not a test: it prints numbers and asserts nothing about time.

#[path = "../tests/it/s3_server.rs"]
#[allow(dead_code)]
mod s3_server;

use std::time::{Duration, Instant};

use rcfge::cache::Freshness;
use rcfge::event::EventDefaults;
use rcfge::store::S3Settings;
use rcfge::{Action, Context, Engine, EngineConfig, Target, Verdict, hook};
use serde_json::{Value, json};

use s3_server::S3Server;

const WARM_ITERATIONS: usize = 20_000;

fn main() {
    let server = S3Server::start();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let settings = S3Settings { force_path_style: true, ..S3Settings::default() };
    let ttl = |seconds| Freshness { ttl: Some(Duration::from_secs(seconds)), stale_if_error: Duration::ZERO };
    let engine = Engine::new(server.source(&settings), EngineConfig { freshness: ttl(60), ..EngineConfig::default() });

    println!("rcfge decision benchmark ({WARM_ITERATIONS} warm iterations each)\n");
    println!("{:<52} {:>12} {:>12} {:>12}", "case", "median", "p99", "max");

    let bucket = bucket_target();
    let cold = Instant::now();
    let first = runtime.block_on(engine.decide(&bucket));
    let cold = cold.elapsed();
    assert!(
        matches!(first.verdict, Verdict::Compliant),
        "the benchmark resource must be compliant: {:?}",
        first.verdict
    );
    println!("{:<52} {:>12}", "AWS::S3::Bucket, cold (fetch + render + compile)", format_duration(cold));

    let samples = measure(|| {
        runtime.block_on(engine.decide(&bucket));
    });
    report("AWS::S3::Bucket, warm decision (engine.decide)", &samples);

    let refused = Target { properties: json!({"NewFeature": true}), ..bucket.clone() };
    let samples = measure(|| {
        runtime.block_on(engine.decide(&refused));
    });
    report("AWS::S3::Bucket, warm, non-compliant", &samples);

    let event = event();
    let defaults = EventDefaults::default();
    let samples = measure(|| {
        runtime.block_on(hook::answer(&engine, &event, &defaults));
    });
    report("hook event -> response (hook::answer)", &samples);

    let bytes = event.to_string().into_bytes();
    let samples = measure(|| {
        runtime.block_on(hook::answer_bytes(&engine, &bytes, &defaults, hook::TIME_BUDGET));
    });
    report("raw event bytes -> response (hook::answer_bytes)", &samples);

    println!("\nS3 GETs per 1,000 decisions (AWS::S3::Bucket)");
    for (label, freshness) in [("TTL 60 s (default)", ttl(60)), ("TTL 0 s (revalidate every time)", ttl(0))] {
        let server = S3Server::start();
        let engine = Engine::new(server.source(&settings), EngineConfig { freshness, ..EngineConfig::default() });
        for _ in 0..1000 {
            runtime.block_on(engine.decide(&bucket));
        }
        println!(
            "  {label:<40} {:>5} GETs of the template, {:>5} of its Guard rules ({} answered 304 Not Modified)",
            server.observed.gets_of(".json"),
            server.observed.gets_of(".guard"),
            server.observed.not_modified()
        );
    }
}

fn measure(mut run: impl FnMut()) -> Vec<Duration> {
    for _ in 0..1000 {
        run();
    }
    let mut samples = Vec::with_capacity(WARM_ITERATIONS);
    for _ in 0..WARM_ITERATIONS {
        let started = Instant::now();
        run();
        samples.push(started.elapsed());
    }
    samples.sort();
    samples
}

fn report(label: &str, sorted: &[Duration]) {
    let at = |q: f64| sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)];
    let max = sorted[sorted.len() - 1];
    println!(
        "{label:<52} {:>12} {:>12} {:>12}",
        format_duration(at(0.5)),
        format_duration(at(0.99)),
        format_duration(max)
    );
}

fn format_duration(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn bucket_target() -> Target {
    Target {
        type_name: "AWS::S3::Bucket".into(),
        logical_id: "ReceiptsBucket".into(),
        action: Action::Create,
        properties: bucket_properties(),
        context: Context {
            account_id: Some("111122223333".into()),
            region: Some("eu-west-1".into()),
            partition: Some("aws".into()),
            stack_name: Some("payments".into()),
            ..Context::default()
        },
    }
}

fn bucket_properties() -> Value {
    json!({
        "BucketName": "payments-receipts",
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": true, "BlockPublicPolicy": "true", "IgnorePublicAcls": true, "RestrictPublicBuckets": true},
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "VersioningConfiguration": {"Status": "Enabled"},
        "NotificationConfiguration": {"TopicConfigurations": [{"Event": "s3:ObjectCreated:*", "Topic": "arn:aws:sns:us-east-1:111122223333:receipts"}]},
        "Tags": [{"Key": "team", "Value": "payments"}]
    })
}

fn event() -> Value {
    json!({
        "clientRequestToken": "4b90a7e4-1111-2222-3333-6f1a2b3c4d5e",
        "awsAccountId": "111122223333",
        "stackId": "arn:aws:cloudformation:eu-west-1:111122223333:stack/payments/0a1b2c3d-0000-1111-2222-333344445555",
        "actionInvocationPoint": "CREATE_PRE_PROVISION",
        "requestData": {
            "targetName": "AWS::S3::Bucket",
            "targetType": "AWS::S3::Bucket",
            "targetLogicalId": "ReceiptsBucket",
            "targetModel": {"resourceProperties": bucket_properties(), "previousResourceProperties": null}
        }
    })
}
