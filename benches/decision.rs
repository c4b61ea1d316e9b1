//! Per-resource decision latency (cold and warm, every bundled template), rendering and
//! compiling a template, the hook path from event bytes to response, S3 GETs per 1,000
//! decisions, and a whole process's cold start, with templates in a real S3-protocol server
//! on loopback. Run with `cargo bench --bench decision [-- SECTION...]`; sections: `bucket`,
//! `types`, `render`, `guard`, `hook`, `gets`, `process`, `lambda`, `worst` (hostile inputs:
//! time and peak memory of one answer each, in a process of its own). With `RCFGE_BENCH_JSON=FILE` the
//! per-type warm numbers are also written to FILE as JSON (`benches/compare.sh` reads them).
//!
//! A measurement, not a test: it prints numbers and asserts nothing about time.

// A measurement harness: a broken fixture or server may stop it with a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/it/s3_server.rs"]
#[allow(dead_code)]
mod s3_server;

#[path = "../tests/it/lambda_function.rs"]
#[allow(dead_code)]
mod lambda_function;

use std::time::{Duration, Instant};

use rcfge::authoring::lint::sample_context;
use rcfge::lambda::EventDefaults;
use rcfge::policy::GuardRules;
use rcfge::policy::Policy;
use rcfge::template::Freshness;
use rcfge::template::S3Settings;
use rcfge::template::Template;
use rcfge::{Action, Context, Engine, EngineConfig, Target, Verdict, lambda};
use serde_json::{Map, Value, json};

use s3_server::S3Server;

// The allocator the binaries ship with, so the numbers are theirs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const WARM_ITERATIONS: usize = 20_000;

fn main() {
    // `cargo bench` passes `--bench`; anything else names the sections to run.
    let sections: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    if let [child, case, file] = sections.as_slice()
        && child == WORST_CHILD
    {
        worst_case_child(case, file);
        return;
    }
    let wanted = |name: &str| sections.is_empty() || sections.iter().any(|s| s == name);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    println!("rcfge decision benchmark ({WARM_ITERATIONS} warm iterations per case)\n");
    println!("{:<60} {:>12} {:>12} {:>12}", "case", "median", "p99", "max");
    if wanted("bucket") {
        bucket_cases(&runtime);
    }
    if wanted("types") {
        every_type_warm(&runtime);
    }
    if wanted("render") {
        render_and_compile();
    }
    if wanted("guard") {
        guard_parts();
    }
    if wanted("hook") {
        hook_path(&runtime);
    }
    if wanted("gets") {
        gets_per_thousand(&runtime);
    }
    if wanted("process") {
        process_cold_start();
    }
    if wanted("lambda") {
        lambda_cold_start();
    }
    if wanted("worst") {
        worst_cases();
    }
}

/// The argument that makes this binary run one worst case and report on it.
const WORST_CHILD: &str = "worst-case-child";

/// Hostile inputs, each the largest or costliest of its kind that reaches the engine: the
/// event limit (6 MiB) bounds what a hook can be sent, Guard's input limits bound what
/// Guard is given. The names are those of [`worst_case_event`].
const WORST_CASES: &[&str] = &[
    "bucket, 10,000 unapproved keys",
    "bucket, 50,000 unapproved keys",
    "bucket, unapproved keys up to the properties limit (2 MiB)",
    "bucket, 100,000 unapproved keys (over the properties limit)",
    "bucket, 6 MiB event of unapproved keys",
    "bucket, compliant, 1 MiB of tags (over Guard's limit)",
    "bucket, compliant, tags up to the properties limit (2 MiB)",
    "bucket, compliant, 6 MiB event of tags",
    "bucket, compliant, tags up to Guard's limit",
    "bucket, compliant, lifecycle rules up to Guard's limit",
    "bucket, objects of 1,000 keys up to Guard's limit",
    "security group, ingress rules up to Guard's limit",
    "IAM role, tags up to Guard's limit",
    "KMS key, tags up to Guard's limit",
    "Lambda function, tags up to Guard's limit",
    "SQS queue, tags up to Guard's limit",
];

/// Each worst case in a fresh process (so that its peak memory is its own): the time of one
/// answer through `lambda::answer_bytes` with a warm engine, the peak RSS of the process, and
/// how much the answer added to the peak after warming up and reading the event.
fn worst_cases() {
    println!("\nworst cases (one answer each, own process, templates warm)");
    println!("{:<62} {:>9} {:>12} {:>10} {:>11} {:>11}", "case", "event", "answer", "verdict", "peak RSS", "added");
    let exe = std::env::current_exe().expect("own path");
    let dir = tempfile::tempdir().expect("temp dir");
    for &case in WORST_CASES {
        // Written here, so that building the event is no part of the child's peak.
        let file = dir.path().join("event.json");
        std::fs::write(&file, worst_case_event(case).to_string()).expect("event written");
        let output =
            std::process::Command::new(&exe).args([WORST_CHILD, case]).arg(&file).output().expect("child runs");
        let text = String::from_utf8_lossy(&output.stdout);
        let line = text.lines().last().unwrap_or_default();
        if !output.status.success() || line.is_empty() {
            println!("{case:<62} failed: {}", String::from_utf8_lossy(&output.stderr));
            continue;
        }
        println!("{case:<62} {line}");
    }
}

/// One worst case, its event in `file`: prints the event size, the answer's time, its verdict
/// and the memory.
fn worst_case_child(case: &str, file: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let engine =
        Engine::new(rcfge::DirSource::new(root().join("templates")).expect("templates"), EngineConfig::default());
    let defaults = EventDefaults::default();
    let event = std::fs::read(file).expect("event file");
    // Load and compile the type's template and rules first: the case measures the judgement.
    let warm = small_event_like(case).to_string().into_bytes();
    let warmed = runtime.block_on(lambda::answer_bytes(&engine, &warm, &defaults, lambda::TIME_BUDGET));
    assert!(warmed.response.error_code.is_none(), "warm-up: {:?}", warmed.response);
    let before = peak_rss_kib();
    let started = Instant::now();
    let answer = runtime.block_on(lambda::answer_bytes(&engine, &event, &defaults, lambda::TIME_BUDGET));
    let took = started.elapsed();
    let peak = peak_rss_kib();
    let verdict = match (&answer.response.error_code, answer.response.hook_status) {
        (None, _) => "SUCCESS".to_owned(),
        (Some(code), _) => format!("{code:?}"),
    };
    eprintln!("{case}: {}", answer.response.message);
    println!(
        "{:>7.2} MB {:>12} {verdict:>10} {:>7.1} MiB {:>7.1} MiB",
        event.len() as f64 / 1e6,
        format_duration(took),
        peak as f64 / 1024.0,
        peak.saturating_sub(before) as f64 / 1024.0
    );
    // A judgement that ran out of time would still be running: do not wait for it.
    runtime.shutdown_background();
}

/// The process's peak resident set so far (`VmHWM`), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The event of one worst case.
fn worst_case_event(case: &str) -> Value {
    const EVENT_LIMIT: usize = rcfge::lambda::MAX_EVENT_BYTES - 4096;
    const GUARD_LIMIT: usize = rcfge::policy::MAX_INPUT_BYTES - 512;
    const PROPERTIES_LIMIT: usize = rcfge::MAX_PROPERTIES_BYTES;
    let unapproved = |count: usize| {
        let mut properties = bucket_properties();
        for i in 0..count {
            properties[format!("Unapproved{i:07}")] = json!("v");
        }
        properties
    };
    match case {
        "bucket, 10,000 unapproved keys" => bucket_event(unapproved(10_000)),
        "bucket, 50,000 unapproved keys" => bucket_event(unapproved(50_000)),
        // `"Unapproved0000000":"v",` is 24 bytes.
        "bucket, unapproved keys up to the properties limit (2 MiB)" => {
            bucket_event(unapproved((PROPERTIES_LIMIT - 1024) / 24))
        }
        "bucket, 100,000 unapproved keys (over the properties limit)" => bucket_event(unapproved(100_000)),
        "bucket, 6 MiB event of unapproved keys" => bucket_event(unapproved(EVENT_LIMIT / 24)),
        "bucket, compliant, 1 MiB of tags (over Guard's limit)" => {
            bucket_event(with_tags(bucket_properties(), 1 << 20))
        }
        "bucket, compliant, tags up to the properties limit (2 MiB)" => {
            bucket_event(with_tags(bucket_properties(), PROPERTIES_LIMIT - 1024))
        }
        "bucket, compliant, 6 MiB event of tags" => bucket_event(with_tags(bucket_properties(), EVENT_LIMIT)),
        "bucket, compliant, tags up to Guard's limit" => bucket_event(with_tags(bucket_properties(), GUARD_LIMIT)),
        "bucket, compliant, lifecycle rules up to Guard's limit" => {
            let rule = |i: usize| {
                json!({"Id": format!("rule-{i:07}"), "Status": "Enabled", "Prefix": format!("logs/{i}/"),
                       "ExpirationInDays": 30, "NoncurrentVersionExpiration": {"NoncurrentDays": 7}})
            };
            let mut properties = bucket_properties();
            // The longest rule the count can reach (the ids are fixed-width, the prefixes not).
            let each = rule(9_999).to_string().len() + 1;
            let count = GUARD_LIMIT.saturating_sub(properties.to_string().len() + 64) / each;
            properties["LifecycleConfiguration"] = json!({"Rules": (0..count).map(rule).collect::<Vec<_>>()});
            bucket_event(properties)
        }
        "bucket, objects of 1,000 keys up to Guard's limit" => {
            // `"k000":1,` is 9 bytes; each object sits under an unapproved key.
            let object: serde_json::Map<String, Value> = (0..1_000).map(|i| (format!("k{i:03}"), json!(1))).collect();
            let mut properties = bucket_properties();
            for i in 0..GUARD_LIMIT / 9_100 {
                properties[format!("Unapproved{i:03}")] = Value::Object(object.clone());
            }
            bucket_event(properties)
        }
        "security group, ingress rules up to Guard's limit" => {
            let mut group = read_json("tests/fixtures/aws-ec2-securitygroup/valid-full.json");
            let rule = json!({"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "10.0.0.0/16", "Description": "HTTPS from the VPC"});
            let count = GUARD_LIMIT.saturating_sub(group.to_string().len()) / (rule.to_string().len() + 1);
            group["SecurityGroupIngress"] = Value::Array(vec![rule; count]);
            typed_event("AWS::EC2::SecurityGroup", group)
        }
        "IAM role, tags up to Guard's limit" => guarded_type_event("AWS::IAM::Role", "aws-iam-role", GUARD_LIMIT),
        "KMS key, tags up to Guard's limit" => guarded_type_event("AWS::KMS::Key", "aws-kms-key", GUARD_LIMIT),
        "Lambda function, tags up to Guard's limit" => {
            guarded_type_event("AWS::Lambda::Function", "aws-lambda-function", GUARD_LIMIT)
        }
        "SQS queue, tags up to Guard's limit" => guarded_type_event("AWS::SQS::Queue", "aws-sqs-queue", GUARD_LIMIT),
        other => panic!("no worst case named {other:?}"),
    }
}

/// A small, compliant event of the same type as a worst case, to warm the engine with.
fn small_event_like(case: &str) -> Value {
    let (type_name, stem) = match case.split(',').next().unwrap_or_default() {
        "security group" => ("AWS::EC2::SecurityGroup", "aws-ec2-securitygroup"),
        "IAM role" => ("AWS::IAM::Role", "aws-iam-role"),
        "KMS key" => ("AWS::KMS::Key", "aws-kms-key"),
        "Lambda function" => ("AWS::Lambda::Function", "aws-lambda-function"),
        "SQS queue" => ("AWS::SQS::Queue", "aws-sqs-queue"),
        _ => return bucket_event(bucket_properties()),
    };
    typed_event(type_name, read_json(&format!("tests/fixtures/{stem}/valid-full.json")))
}

/// A type's `valid-full.json` fixture, its tags grown until the properties are `bytes` long.
fn guarded_type_event(type_name: &str, stem: &str, bytes: usize) -> Value {
    let properties = read_json(&format!("tests/fixtures/{stem}/valid-full.json"));
    typed_event(type_name, with_tags(properties, bytes))
}

/// `properties` with distinct tags added until they are about `bytes` of JSON.
fn with_tags(mut properties: Value, bytes: usize) -> Value {
    let tag = |i: usize| json!({"Key": format!("cost-centre-{i:07}"), "Value": "payments-receipts-archive"});
    let each = tag(0).to_string().len() + 1;
    let count = bytes.saturating_sub(properties.to_string().len() + 16) / each;
    let mut tags = properties.get("Tags").and_then(Value::as_array).cloned().unwrap_or_default();
    tags.extend((0..count).map(tag));
    properties["Tags"] = Value::Array(tags);
    properties
}

fn bucket_event(properties: Value) -> Value {
    typed_event("AWS::S3::Bucket", properties)
}

fn typed_event(type_name: &str, properties: Value) -> Value {
    let mut event = event();
    event["requestData"]["targetName"] = json!(type_name);
    event["requestData"]["targetType"] = json!(type_name);
    event["requestData"]["targetModel"]["resourceProperties"] = properties;
    event
}

fn settings() -> S3Settings {
    S3Settings { force_path_style: true, ..S3Settings::default() }
}

/// An engine reading the templates from `server`.
fn engine_over(server: &S3Server, freshness: Freshness) -> Engine {
    Engine::new(server.source(&settings()), EngineConfig { freshness, ..EngineConfig::default() })
}

fn ttl(seconds: u64) -> Freshness {
    Freshness { ttl: Some(Duration::from_secs(seconds)), stale_if_error: Duration::ZERO }
}

fn bucket_cases(runtime: &tokio::runtime::Runtime) {
    let server = S3Server::start();
    let engine = engine_over(&server, ttl(60));
    let bucket = bucket_target();
    let cold = Instant::now();
    let first = runtime.block_on(engine.decide(&bucket));
    let cold = cold.elapsed();
    assert!(
        matches!(first.verdict, Verdict::Compliant),
        "the benchmark resource must be compliant: {:?}",
        first.verdict
    );
    println!("{:<60} {:>12}", "AWS::S3::Bucket, cold (fetch + render + compile)", format_duration(cold));

    let samples = measure(|| {
        runtime.block_on(engine.decide(&bucket));
    });
    report("AWS::S3::Bucket, warm decision (engine.decide)", &samples);

    let refused = Target { properties: json!({"NewFeature": true}), ..bucket.clone() };
    let samples = measure(|| {
        runtime.block_on(engine.decide(&refused));
    });
    report("AWS::S3::Bucket, warm, non-compliant", &samples);

    // The same template with its Guard rules switched off: what the schema alone costs.
    let mut files = s3_server::bundled_templates();
    for (name, body) in files.iter_mut().filter(|(name, _)| name == "aws-s3-bucket.json") {
        let mut template: Value = serde_json::from_slice(body).expect("template");
        template["x-rcfge"]["guardRules"] = json!(false);
        *body = serde_json::to_vec(&template).expect("json");
        println!("{:<60}", format!("(without {name}'s Guard rules:)"));
    }
    let server = S3Server::start_with(&files);
    let engine = engine_over(&server, ttl(60));
    let first = runtime.block_on(engine.decide(&bucket));
    assert!(matches!(first.verdict, Verdict::Compliant), "{:?}", first.verdict);
    let samples = measure(|| {
        runtime.block_on(engine.decide(&bucket));
    });
    report("AWS::S3::Bucket, warm decision, schema only", &samples);
}

/// A compliant fixture of a type: `valid-full.json`, or the first other `valid-*.json` for a
/// type whose compliant forms are named for what they show.
fn compliant_fixture(stem: &str) -> String {
    let dir = root().join("tests/fixtures").join(stem);
    if dir.join("valid-full.json").is_file() {
        return format!("tests/fixtures/{stem}/valid-full.json");
    }
    let mut valid: Vec<String> = std::fs::read_dir(&dir)
        .expect("the type's fixtures")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("valid-") && name.ends_with(".json"))
        .collect();
    valid.sort();
    format!("tests/fixtures/{stem}/{}", valid.first().expect("a valid-*.json fixture"))
}

/// Every bundled template with a compliant fixture (see [`compliant_fixture`]), warm, from S3.
fn every_type_warm(runtime: &tokio::runtime::Runtime) {
    let server = S3Server::start();
    let engine = engine_over(&server, ttl(60));
    println!("\nwarm decision per type (valid-full.json or another compliant fixture; G = with Guard rules)");
    let mut results = Map::new();
    // `RCFGE_BENCH_TYPES=AWS::IAM::Policy,...` measures only those types (for a profiler).
    let only: Option<Vec<String>> =
        std::env::var("RCFGE_BENCH_TYPES").ok().map(|list| list.split(',').map(str::to_owned).collect());
    let types = bundled_types().into_iter().filter(|(_, name)| only.as_ref().is_none_or(|only| only.contains(name)));
    for (stem, type_name) in types {
        let fixture = compliant_fixture(&stem);
        let properties = read_json(&fixture);
        let target = Target {
            type_name: type_name.clone(),
            logical_id: "Fixture".into(),
            action: Action::Create,
            properties,
            context: sample_context(),
        };
        let first = runtime.block_on(engine.decide(&target));
        assert!(matches!(first.verdict, Verdict::Compliant), "{fixture}: {:?}", first.verdict);
        let samples = measure(|| {
            runtime.block_on(engine.decide(&target));
        });
        let guard = if has_guard_rules(&stem) { " G" } else { "" };
        report(&format!("  {type_name}{guard}"), &samples);
        let (median, p99) = (quantile(&samples, 0.5), quantile(&samples, 0.99));
        results.insert(
            type_name,
            json!({"median_us": micros(median), "p99_us": micros(p99), "guard_rules": !guard.is_empty()}),
        );
    }
    if let Ok(path) = std::env::var("RCFGE_BENCH_JSON") {
        std::fs::write(&path, serde_json::to_string_pretty(&json!({"warm": results})).expect("json"))
            .expect("write RCFGE_BENCH_JSON");
        println!("  (written to {path})");
    }
}

/// A cache miss without the fetch: parse the template, render it for a context, compile the
/// schema (every pattern included).
fn render_and_compile() {
    println!("\nrender + compile per type (cache miss, template already fetched; 200 iterations)");
    let mut medians = Vec::new();
    let variables = read_json("templates/_variables.json");
    for (stem, type_name) in bundled_types() {
        let body = std::fs::read(root().join(format!("templates/{stem}.json"))).expect("template");
        let mut vars = sample_context().variables(&type_name, "Fixture", Action::Create);
        if let Some(organisation) = variables.as_object() {
            vars.extend(organisation.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let mut samples: Vec<Duration> = (0..200)
            .map(|_| {
                let started = Instant::now();
                let template = Template::parse(&type_name, "bench", &body).expect("template parses");
                let schema = template.render(&vars).expect("template renders");
                let policy = Policy::compile(&type_name, "bench", schema).expect("schema compiles");
                std::hint::black_box(policy);
                started.elapsed()
            })
            .collect();
        samples.sort();
        medians.push((quantile(&samples, 0.5), type_name));
    }
    medians.sort();
    let total: Duration = medians.iter().map(|(d, _)| *d).sum();
    println!("  fastest  {:<48} {:>12}", medians[0].1, format_duration(medians[0].0));
    let middle = &medians[medians.len() / 2];
    println!("  median   {:<48} {:>12}", middle.1, format_duration(middle.0));
    let slowest = &medians[medians.len() - 1];
    println!("  slowest  {:<48} {:>12}", slowest.1, format_duration(slowest.0));
    println!("  all {} types, one after the other {:>33}", medians.len(), format_duration(total));
}

/// Where a warm decision with Guard rules spends its time: `cfn-guard` takes the rules as text
/// and parses them on every evaluation.
fn guard_parts() {
    println!("\nGuard rules, AWS::S3::Bucket (cfn-guard library)");
    let text = std::fs::read_to_string(root().join("guard-rules/aws-s3-bucket.guard")).expect("rules");
    let rules = GuardRules::parse("aws-s3-bucket.guard", text.as_bytes()).expect("rules parse");
    let properties = bucket_properties();
    let samples = measure(|| {
        std::hint::black_box(rules.check("AWS::S3::Bucket", "ReceiptsBucket", &properties).expect("rules run"));
    });
    report("  GuardRules::check (parse rules + evaluate + report)", &samples);
    // `RCFGE_BENCH_GUARD_CHECK_ONLY=1` leaves the check alone in the process, for a profiler.
    if std::env::var_os("RCFGE_BENCH_GUARD_CHECK_ONLY").is_some() {
        return;
    }
    let samples = measure(|| {
        std::hint::black_box(cfn_guard::commands::validate::parse_rules(&text, "aws-s3-bucket.guard").is_ok());
    });
    report("  of which parsing the rule file alone", &samples);
}

fn hook_path(runtime: &tokio::runtime::Runtime) {
    let server = S3Server::start();
    let engine = engine_over(&server, ttl(60));
    println!();
    let event = event();
    let defaults = EventDefaults::default();
    let samples = measure(|| {
        runtime.block_on(lambda::answer(&engine, &event, &defaults));
    });
    report("hook event -> response (lambda::answer)", &samples);

    let bytes = event.to_string().into_bytes();
    let samples = measure(|| {
        runtime.block_on(lambda::answer_bytes(&engine, &bytes, &defaults, lambda::TIME_BUDGET));
    });
    report("raw event bytes -> response (lambda::answer_bytes)", &samples);
}

fn gets_per_thousand(runtime: &tokio::runtime::Runtime) {
    let bucket = bucket_target();
    println!("\nS3 GETs per 1,000 decisions (AWS::S3::Bucket)");
    for (label, freshness) in [("TTL 60 s (default)", ttl(60)), ("TTL 0 s (revalidate every time)", ttl(0))] {
        let server = S3Server::start();
        let engine = engine_over(&server, freshness);
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

/// A whole `rcfge hook invoke` process: start, read the event, fetch the template and Guard
/// rules from S3, decide, print, exit. Peak RSS through GNU time where it is installed.
fn process_cold_start() {
    let server = S3Server::start();
    let event = root().join("tests/fixtures/events/bucket-compliant.json");
    let binary = env!("CARGO_BIN_EXE_rcfge");
    let time = std::path::Path::new("/usr/bin/time");
    let mut samples = Vec::new();
    let mut peak_rss_kib = Vec::new();
    for _ in 0..30 {
        let rss_file = tempfile::NamedTempFile::new().expect("temp file");
        let mut command = if time.exists() {
            let mut command = std::process::Command::new(time);
            command.arg("-f").arg("%M").arg("-o").arg(rss_file.path()).arg(binary);
            command
        } else {
            std::process::Command::new(binary)
        };
        command
            .args(["hook", "invoke", "--event"])
            .arg(&event)
            .args(["--templates", &server.uri()])
            .env("AWS_ENDPOINT_URL", &server.endpoint)
            .env("AWS_ACCESS_KEY_ID", s3_server::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", s3_server::SECRET_KEY)
            .env("AWS_REGION", "eu-west-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .stdout(std::process::Stdio::null());
        let started = Instant::now();
        let status = command.status().expect("rcfge runs");
        samples.push(started.elapsed());
        assert_eq!(status.code(), Some(0), "the cold-start event must be compliant");
        if let Ok(text) = std::fs::read_to_string(rss_file.path()) {
            peak_rss_kib.extend(text.trim().parse::<u64>().ok());
        }
    }
    samples.sort();
    println!();
    report("process cold start: rcfge hook invoke over S3 (30 runs)", &samples);
    if let Some(peak) = peak_rss_kib.iter().max() {
        println!("  peak RSS {:.1} MiB", *peak as f64 / 1024.0);
    }
    for name in ["rcfge", "rcfge-hook"] {
        let path = std::path::Path::new(binary).with_file_name(name);
        if let Ok(meta) = std::fs::metadata(&path) {
            println!("  binary {name}: {:.1} MiB", meta.len() as f64 / (1024.0 * 1024.0));
        }
    }
}

/// The Lambda function (`rcfge-hook`) as Lambda starts it: process start, configuration,
/// S3 client, first event from a loopback Runtime API, template and Guard rules from the
/// loopback S3 server, answer posted. Peak RSS is the process's high-water mark after it.
fn lambda_cold_start() {
    let server = S3Server::start();
    let mut samples = Vec::new();
    let mut peak_rss_kib = 0;
    for _ in 0..30 {
        let api = lambda_function::RuntimeApi::start(vec![lambda_function::fixture("bucket-compliant")]);
        let started = Instant::now();
        let mut child = lambda_function::spawn_hook_over_s3(&api, &server);
        let posted = api.wait_for(1, &mut child);
        let answered = posted.first().expect("the function answered").at;
        samples.push(answered.duration_since(started));
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
        let high_water =
            status.lines().find_map(|l| l.strip_prefix("VmHWM:")).map(|v| v.trim().trim_end_matches("kB").trim());
        peak_rss_kib = peak_rss_kib.max(high_water.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0));
        let _ = child.kill();
        let _ = child.wait();
    }
    samples.sort();
    println!();
    report("Lambda cold start: rcfge-hook start -> first answer posted (30 runs)", &samples);
    println!("  peak RSS after the first answer {:.1} MiB", peak_rss_kib as f64 / 1024.0);
}

fn root() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read_json(relative: &str) -> Value {
    serde_json::from_slice(&std::fs::read(root().join(relative)).expect(relative)).expect(relative)
}

/// (file stem, type name) of every bundled template, in file order.
fn bundled_types() -> Vec<(String, String)> {
    let mut types: Vec<(String, String)> = std::fs::read_dir(root().join("templates"))
        .expect("templates/")
        .map(|entry| entry.expect("entry").path())
        // The reviewed templates: not the organisation files nor the baseline folder.
        .filter(|path| path.is_file() && path.file_name().is_some_and(|name| !name.to_string_lossy().starts_with('_')))
        .map(|path| {
            let stem = path.file_stem().expect("stem").to_string_lossy().into_owned();
            let type_name =
                read_json(&format!("templates/{stem}.json"))["typeName"].as_str().expect("typeName").to_owned();
            (stem, type_name)
        })
        .collect();
    types.sort();
    types
}

fn has_guard_rules(stem: &str) -> bool {
    read_json(&format!("templates/{stem}.json"))["x-rcfge"]["guardRules"] == json!(true)
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

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

fn report(label: &str, sorted: &[Duration]) {
    let max = sorted[sorted.len() - 1];
    println!(
        "{label:<60} {:>12} {:>12} {:>12}",
        format_duration(quantile(sorted, 0.5)),
        format_duration(quantile(sorted, 0.99)),
        format_duration(max)
    );
}

fn micros(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e7).round() / 10.0
}

fn format_duration(d: Duration) -> String {
    if d >= Duration::from_millis(10) {
        format!("{:.1} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    }
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
