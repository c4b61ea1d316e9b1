//! The organisation at scale, simulated: N accounts, each with its own hook (one warm Lambda
//! container per account and Region, its own template cache), run M stack operations of R
//! resources each against the loopback S3 server, through the function's own code path (raw
//! event bytes → answer). It reports S3 GETs (with the cache against one GET per decision),
//! decision latency (p50, p99, max: the first decisions of each container are cold; every
//! container shares this machine's two cores, so the tail is contention a Lambda container,
//! with a core of its own, does not see) and the memory each warm container holds. Run with `cargo bench --bench scale`; `docs/scale.md` turns the
//! figures into costs for 10, 1,000 and 10,000 accounts.
//!
//! Every container is the fixtures' account (their ARNs name it), so the templates render the
//! same everywhere; each container still fetches, compiles and caches on its own.
//!
//! Time is scaled: the cache TTL is 2 s instead of the function's 60 s, and each account's
//! operations are spread over three TTLs, so that every container revalidates its files as a
//! busy one does over three minutes.
//!
//! A measurement, not a test: it prints what it saw.

// A measurement harness: a broken fixture or server may stop it with a panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/it/s3_server.rs"]
#[allow(dead_code)]
mod s3_server;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcfge::lambda::{self, EventDefaults, HookStatus};
use rcfge::template::{Freshness, S3Settings};
use rcfge::{Engine, EngineConfig};
use s3_server::S3Server;
use serde_json::{Value, json};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Resources per stack operation.
const RESOURCES_PER_OPERATION: usize = 20;
/// Stack operations per account.
const OPERATIONS_PER_ACCOUNT: usize = 30;
/// The scaled cache TTL.
const TTL: Duration = Duration::from_secs(2);

fn main() {
    // Each configuration runs in a process of its own, so that the memory it reports is its
    // containers' alone: `scale --one ACCOUNTS TTL_MS` prints one row.
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--one") {
        let accounts: usize = args[at + 1].parse().unwrap();
        let ttl = Duration::from_millis(args[at + 2].parse().unwrap());
        println!("{}", row(accounts, ttl));
        return;
    }
    println!(
        "rcfge at scale: {OPERATIONS_PER_ACCOUNT} stack operations of {RESOURCES_PER_OPERATION} resources per account \
         ({} reviewed types, compliant fixtures), TTL {} s (scaled from 60 s)\n",
        fixture_resources().len(),
        TTL.as_secs()
    );
    println!(
        "| accounts | cache | decisions | S3 GETs (of which 304) | GETs per decision | p50 | p99 | max | memory per container |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    let me = std::env::current_exe().unwrap();
    for (accounts, ttl) in [(10, TTL), (10, Duration::ZERO), (100, TTL)] {
        let ttl_ms = ttl.as_millis().to_string();
        let output = std::process::Command::new(&me).args(["--one", &accounts.to_string(), &ttl_ms]).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        print!("{}", String::from_utf8_lossy(&output.stdout));
    }
}

/// One configuration, simulated in this process, as a table row.
fn row(accounts: usize, ttl: Duration) -> String {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let resources = Arc::new(fixture_resources());
    let outcome = simulate(&runtime, &resources, accounts, Some(ttl));
    let cache = if ttl.is_zero() {
        "none: every file revalidated per decision".to_owned()
    } else {
        format!("TTL {} s", ttl.as_secs())
    };
    format!(
        "| {accounts} | {cache} | {} | {} ({}) | {:.3} | {} | {} | {} | {:.1} MiB |",
        outcome.decisions,
        outcome.gets,
        outcome.not_modified,
        outcome.gets as f64 / outcome.decisions as f64,
        micros(outcome.latencies[outcome.latencies.len() / 2]),
        micros(outcome.latencies[outcome.latencies.len() * 99 / 100]),
        micros(*outcome.latencies.last().unwrap()),
        outcome.memory_per_container_mib
    )
}

struct Outcome {
    decisions: usize,
    gets: usize,
    not_modified: usize,
    /// Sorted.
    latencies: Vec<Duration>,
    /// What the process grew by while every container was warm, per container.
    memory_per_container_mib: f64,
}

fn simulate(
    runtime: &tokio::runtime::Runtime,
    resources: &Arc<Vec<(String, Value)>>,
    accounts: usize,
    ttl: Option<Duration>,
) -> Outcome {
    let server = S3Server::start();
    let settings = S3Settings { force_path_style: true, ..S3Settings::default() };
    let freshness = Freshness { ttl, stale_if_error: Duration::ZERO };
    let spacing = TTL * 3 / OPERATIONS_PER_ACCOUNT as u32;
    let before = rss_mib("VmRSS:");
    // Kept until measured: each is one warm container's caches.
    let engines: Vec<Arc<Engine>> = (0..accounts)
        .map(|_| Arc::new(Engine::new(server.source(&settings), EngineConfig { freshness, ..EngineConfig::default() })))
        .collect();
    let latencies = runtime.block_on(async {
        let mut running = Vec::new();
        for (account, engine) in engines.iter().enumerate() {
            let engine = Arc::clone(engine);
            let resources = Arc::clone(resources);
            running.push(tokio::spawn(async move {
                let engine = engine.as_ref();
                // Every container is the fixtures' account, so that their ARNs are its own.
                let account_id = "111122223333";
                let defaults = EventDefaults::default();
                let mut latencies = Vec::with_capacity(OPERATIONS_PER_ACCOUNT * RESOURCES_PER_OPERATION);
                for operation in 0..OPERATIONS_PER_ACCOUNT {
                    for slot in 0..RESOURCES_PER_OPERATION {
                        // Each operation a different mix of the types, as stacks differ.
                        let (type_name, properties) = &resources[(operation * 7 + slot + account) % resources.len()];
                        let event = event(account_id, operation, type_name, properties);
                        let at = Instant::now();
                        let answer =
                            lambda::answer_bytes(engine, event.as_bytes(), &defaults, lambda::TIME_BUDGET).await;
                        latencies.push(at.elapsed());
                        assert_eq!(answer.response.hook_status, HookStatus::Success, "{:?}", answer.response);
                    }
                    tokio::time::sleep(spacing).await;
                }
                latencies
            }));
        }
        let mut all = Vec::new();
        for handle in running {
            all.extend(handle.await.unwrap());
        }
        all
    });
    let grown = rss_mib("VmRSS:") - before;
    drop(engines);
    let mut latencies = latencies;
    latencies.sort();
    Outcome {
        memory_per_container_mib: grown / accounts as f64,
        decisions: latencies.len(),
        gets: server.observed.gets(),
        not_modified: server.observed.not_modified(),
        latencies,
    }
}

/// A RESOURCE hook event for a resource of a stack operation in `account`.
fn event(account: &str, operation: usize, type_name: &str, properties: &Value) -> String {
    json!({
        "clientRequestToken": format!("00000000-0000-0000-0000-{operation:012}"),
        "awsAccountId": account,
        "stackId": format!("arn:aws:cloudformation:eu-west-1:{account}:stack/app-{operation}/0a1b2c3d-0000-1111-2222-333344445555"),
        "changeSetId": null,
        "hookTypeName": "Private::Lambda::RcfgeHook",
        "actionInvocationPoint": "CREATE_PRE_PROVISION",
        "requestData": {
            "targetName": type_name,
            "targetType": type_name,
            "targetLogicalId": "Resource",
            "targetModel": {"resourceProperties": properties, "previousResourceProperties": null}
        },
        "requestContext": {"invocation": 1, "callbackContext": null}
    })
    .to_string()
}

/// Every reviewed type with its compliant fixture (`valid-full.json`).
fn fixture_resources() -> Vec<(String, Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut resources = Vec::new();
    for entry in std::fs::read_dir(root.join("templates")).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        if !path.is_file() || stem.starts_with('_') {
            continue;
        }
        let template: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let fixture = root.join(format!("tests/fixtures/{stem}/valid-full.json"));
        let Ok(text) = std::fs::read_to_string(&fixture) else { continue };
        resources.push((template["typeName"].as_str().unwrap().to_owned(), serde_json::from_str(&text).unwrap()));
    }
    resources.sort_by(|a, b| a.0.cmp(&b.0));
    resources
}

fn micros(duration: Duration) -> String {
    let us = duration.as_secs_f64() * 1e6;
    if us >= 1000.0 { format!("{:.1} ms", us / 1000.0) } else { format!("{us:.0} µs") }
}

/// A memory figure of this process from `/proc/self/status`, in MiB.
fn rss_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}
