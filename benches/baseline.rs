//! The baseline at full size, with the release profile: compiling every baseline template,
//! publishing the whole set to the loopback S3 server, and a hook process's cold start and
//! memory when every type may be asked for. Run with `cargo bench --bench baseline`.
//!
//! A measurement, not a test: it prints what it saw.

// A measurement harness: a broken fixture or server may stop it with a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/it/s3_server.rs"]
#[allow(dead_code)]
mod s3_server;

use std::path::Path;
use std::time::{Duration, Instant};

use rcfge::authoring::freeze::provider_files;
use rcfge::policy::Policy;
use rcfge::template::{Freshness, S3Settings, Template};
use rcfge::{Action, Context, DirSource, Engine, EngineConfig, Target, Verdict};
use s3_server::S3Server;
use serde_json::{Map, Value, json};

// The allocator the binaries ship with, so the numbers are theirs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let baseline = provider_files(&root.join("templates/baseline")).unwrap();
    println!("rcfge baseline benchmark: {} baseline templates\n", baseline.len());
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    // 0. First, while the process holds nothing else: a hook engine (the Lambda's allocator,
    // its caches as bounded) asked for one resource of every baseline type in turn, as a
    // long-lived container that sees every type might be. The templates come from a directory
    // here, so that the S3 server below does not count.
    // Settings that let the baseline judge every type (the repository's own require a reviewed
    // template for some), over a copy of the baseline.
    let every_type = tempfile::tempdir().unwrap();
    std::fs::create_dir(every_type.path().join("baseline")).unwrap();
    for path in &baseline {
        std::fs::copy(path, every_type.path().join("baseline").join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(every_type.path().join("_settings.json"), r#"{"baseline": "on"}"#).unwrap();
    let before = peak_rss_mib();
    let engine = Engine::new(DirSource::new(every_type.path().to_owned()).unwrap(), EngineConfig::default());
    let at = Instant::now();
    for path in &baseline {
        let document: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let type_name = document["typeName"].as_str().unwrap();
        if type_name == "AWS::CloudFormation::CustomResource" {
            // Never judged by a baseline: only the reviewed custom-resource template judges it.
            continue;
        }
        let decision = runtime.block_on(engine.decide(&target(type_name)));
        assert_eq!(decision.template_kind, Some(rcfge::TemplateKind::Baseline), "{}", decision.type_name);
    }
    println!(
        "a hook engine asked for every type in turn: {:.2} s; peak memory {} MiB (at start: {before} MiB, current {} MiB)\n",
        at.elapsed().as_secs_f64(),
        peak_rss_mib(),
        current_rss_mib()
    );
    drop(engine);

    // 1. Compile every baseline template (parse, render, compile), one at a time.
    let mut times: Vec<(Duration, String)> = Vec::new();
    let started = Instant::now();
    for path in &baseline {
        let body = std::fs::read(path).unwrap();
        let document: Value = serde_json::from_slice(&body).unwrap();
        let type_name = document["typeName"].as_str().unwrap().to_owned();
        let at = Instant::now();
        let template = Template::parse(&type_name, "bench", &body).unwrap();
        let schema = template.render(&Map::new()).unwrap();
        let policy = Policy::compile(&type_name, "bench", schema).unwrap();
        times.push((at.elapsed(), type_name));
        drop(policy);
    }
    let total = started.elapsed();
    times.sort();
    let pick = |q: f64| times[((times.len() - 1) as f64 * q) as usize].0;
    let (slowest, slowest_type) = times.last().unwrap();
    println!("compile every baseline template (parse + render + compile):");
    println!(
        "  total {:.2} s; per type p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({slowest_type})",
        total.as_secs_f64(),
        ms(pick(0.5)),
        ms(pick(0.99)),
        ms(*slowest)
    );
    println!("  peak memory so far {} MiB\n", peak_rss_mib());

    // 2. Publish the whole set with the release binary into an empty bucket, then again.
    let server = S3Server::start_with(&[]);
    for label in ["publish into an empty bucket", "publish again (nothing changed)"] {
        let at = Instant::now();
        let output = server.run_rcfge(&["publish", "--to", &server.uri()], "AWS_ENDPOINT_URL");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let last = String::from_utf8_lossy(&output.stdout).lines().last().unwrap_or_default().to_owned();
        println!("{label}: {:.2} s ({last})", at.elapsed().as_secs_f64());
    }
    println!("  objects in the bucket: {}\n", server.names().len());

    // 3. A hook process against that bucket: cold start (first decision, nothing cached), then
    // one resource of every baseline type in turn, as a long-lived container might see them.
    let settings = S3Settings { force_path_style: true, ..S3Settings::default() };
    let engine = Engine::new(
        server.source(&settings),
        EngineConfig {
            freshness: Freshness { ttl: Some(Duration::from_secs(60)), ..Freshness::default() },
            ..EngineConfig::default()
        },
    );
    let at = Instant::now();
    let first = runtime.block_on(engine.decide(&target("AWS::EC2::Route")));
    println!(
        "cold start: first decision (AWS::EC2::Route by the baseline: settings, reviewed 404, baseline GET, compile) {:.2} ms, {:?}",
        ms(at.elapsed()),
        first.template_kind
    );
    let at = Instant::now();
    runtime.block_on(engine.decide(&target("AWS::EC2::Route")));
    println!("  the same type again (warm): {:.3} ms", ms(at.elapsed()));
    let at = Instant::now();
    for (_, type_name) in &times {
        let decision = runtime.block_on(engine.decide(&target(type_name)));
        assert!(!matches!(decision.verdict, Verdict::Exempt));
    }
    println!("  then one resource of every type in turn, from the bucket: {:.2} s", at.elapsed().as_secs_f64());
}

fn target(type_name: &str) -> Target {
    Target {
        type_name: type_name.to_owned(),
        logical_id: "Bench".to_owned(),
        action: Action::Create,
        properties: json!({}),
        context: Context {
            account_id: Some("111122223333".into()),
            region: Some("eu-west-1".into()),
            partition: Some("aws".into()),
            ..Context::default()
        },
    }
}

/// The process's resident set now (`VmRSS`), in MiB.
fn current_rss_mib() -> u64 {
    status_mib("VmRSS:")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The process's peak resident set (`VmHWM`), in MiB.
fn peak_rss_mib() -> u64 {
    status_mib("VmHWM:")
}

fn status_mib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    kib / 1024
}
