//! Load: many hook events at once through the Lambda's handler (`lambda::answer_bytes`), for
//! every templated type, while the S3 server fails 10% of its answers and delays the others at
//! random. No answer may be a wrong SUCCESS, every failure must be one the S3 faults explain,
//! and memory must not keep growing. `tests` runs it for correctness; `benches/load.rs` runs
//! the same driver with the release profile for throughput.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rcfge::authoring::lint::sample_context;
use rcfge::lambda::EventDefaults;
use rcfge::lambda::{ErrorCode, HookStatus};
use rcfge::template::Freshness;
use rcfge::template::S3Settings;
use rcfge::{Engine, EngineConfig, lambda};
use serde_json::{Value, json};

use crate::s3_server::{Fault, S3Server};

/// One event and what its resource deserves.
pub struct Case {
    pub name: String,
    pub event: Vec<u8>,
    pub compliant: bool,
}

/// What a load run saw.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub decisions: usize,
    pub elapsed: Duration,
    pub successes: usize,
    pub refusals: usize,
    pub internal_failures: usize,
    /// Errors the S3 server injected.
    pub injected_errors: usize,
    pub s3_gets: usize,
    /// Answers that contradict the resource's fixture, or failures no fault explains.
    pub wrong: Vec<String>,
    /// Resident memory after warm-up (a tenth of the decisions, at least five rounds of the cases), and at the end (KiB).
    pub rss_after_warm_up_kib: u64,
    pub rss_at_end_kib: u64,
}

impl LoadReport {
    pub fn throughput(&self) -> f64 {
        self.decisions as f64 / self.elapsed.as_secs_f64()
    }

    pub fn summary(&self) -> String {
        format!(
            "{} decisions in {:.2} s ({:.0}/s): {} SUCCESS, {} NonCompliant, {} InternalFailure, {} wrong; \
             S3: {} GETs, {} injected errors; RSS {} KiB after warm-up, {} KiB at the end",
            self.decisions,
            self.elapsed.as_secs_f64(),
            self.throughput(),
            self.successes,
            self.refusals,
            self.internal_failures,
            self.wrong.len(),
            self.s3_gets,
            self.injected_errors,
            self.rss_after_warm_up_kib,
            self.rss_at_end_kib
        )
    }
}

/// Every fixture of every bundled template as a hook event: `valid-*` must pass, `invalid-*`
/// must be refused.
pub fn cases() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cases = Vec::new();
    let mut templates: Vec<_> = std::fs::read_dir(root.join("templates"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file() && !path.file_name().unwrap().to_string_lossy().starts_with('_'))
        .collect();
    templates.sort();
    for template in templates {
        let type_name = serde_json::from_slice::<Value>(&std::fs::read(&template).unwrap()).unwrap()["typeName"]
            .as_str()
            .unwrap()
            .to_owned();
        let stem = template.file_stem().unwrap().to_string_lossy().into_owned();
        let dir = root.join("tests/fixtures").join(&stem);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
            panic!(
                "{}: {e}: every template needs its fixtures there (CONTRIBUTING.md, \"Adding a resource type\")",
                dir.display()
            )
        });
        let mut fixtures: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        fixtures.sort();
        for fixture in fixtures {
            let file = fixture.file_name().unwrap().to_string_lossy().into_owned();
            let properties: Value = serde_json::from_slice(&std::fs::read(&fixture).unwrap()).unwrap();
            cases.push(Case {
                name: format!("{stem}/{file}"),
                event: event(&type_name, properties).to_string().into_bytes(),
                compliant: file.starts_with("valid-"),
            });
        }
    }
    cases
}

/// A RESOURCE event in the context the fixtures are written for.
fn event(type_name: &str, properties: Value) -> Value {
    let context = sample_context();
    json!({
        "clientRequestToken": "00000000-load-0000-0000-000000000000",
        "awsAccountId": context.account_id,
        "stackId": context.stack_id,
        "changeSetId": context.change_set_id,
        "hookTypeName": context.hook_type_name,
        "actionInvocationPoint": "CREATE_PRE_PROVISION",
        "requestData": {
            "targetName": type_name,
            "targetType": type_name,
            "targetLogicalId": "Fixture",
            "targetModel": {"resourceProperties": properties, "previousResourceProperties": null}
        },
        "requestContext": {"invocation": 1, "callbackContext": null}
    })
}

/// One answer: the case it was for, its status, error code and message.
type Outcome = (usize, HookStatus, Option<ErrorCode>, String);

/// How a load run is driven.
pub struct Load {
    pub decisions: usize,
    pub concurrency: usize,
    /// What the S3 server does to each GetObject.
    pub fault: Fault,
    /// The template cache's TTL: zero makes every decision ask S3.
    pub ttl: Duration,
}

/// Runs the cases round-robin as `load` says. The client makes one attempt, so an injected
/// error reaches the answer instead of being retried away.
pub fn run(server: &S3Server, cases: &[Case], load: Load) -> LoadReport {
    let Load { decisions, concurrency, fault, ttl } = load;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let settings = S3Settings { force_path_style: true, max_attempts: 1, ..S3Settings::default() };
    let freshness = Freshness { ttl: Some(ttl), stale_if_error: Duration::ZERO };
    let engine = Arc::new(Engine::new(server.source(&settings), EngineConfig { freshness, ..EngineConfig::default() }));
    server.observed.set_fault(fault);
    let injected_before = server.observed.injected_errors.load(Ordering::SeqCst);
    let gets_before = server.observed.gets();
    let next = Arc::new(AtomicUsize::new(0));
    let rss_after_warm_up = Arc::new(AtomicUsize::new(0));
    let events: Arc<Vec<Vec<u8>>> = Arc::new(cases.iter().map(|case| case.event.clone()).collect());
    // Warm once every type has most likely been fetched and compiled: a tenth of the run, and
    // at least five rounds of the cases (with one fetch in ten failing, a type still uncompiled
    // after five tries is a chance of 1 in 100,000).
    let warm_up = (decisions / 10).max(5 * cases.len()).min(decisions.saturating_sub(1));
    let started = Instant::now();
    let outcomes: Vec<Vec<Outcome>> = runtime.block_on(async {
        let workers: Vec<_> = (0..concurrency)
            .map(|_| {
                let (engine, next, rss, events) =
                    (engine.clone(), next.clone(), rss_after_warm_up.clone(), events.clone());
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let defaults = EventDefaults::default();
                    loop {
                        let index = next.fetch_add(1, Ordering::SeqCst);
                        if index >= decisions {
                            return seen;
                        }
                        if index == warm_up {
                            rss.store(resident_kib() as usize, Ordering::SeqCst);
                        }
                        let case = index % events.len();
                        let answer = lambda::answer_bytes(&engine, &events[case], &defaults, lambda::TIME_BUDGET).await;
                        let response = answer.response;
                        seen.push((case, response.hook_status, response.error_code, response.message));
                    }
                })
            })
            .collect();
        let mut all = Vec::new();
        for worker in workers {
            all.push(worker.await.unwrap());
        }
        all
    });
    let elapsed = started.elapsed();
    server.observed.set_fault(Fault::None);
    let mut report = LoadReport {
        decisions,
        elapsed,
        injected_errors: server.observed.injected_errors.load(Ordering::SeqCst) - injected_before,
        s3_gets: server.observed.gets() - gets_before,
        rss_after_warm_up_kib: rss_after_warm_up.load(Ordering::SeqCst) as u64,
        rss_at_end_kib: resident_kib(),
        ..LoadReport::default()
    };
    for (case, status, code, message) in outcomes.into_iter().flatten() {
        let case = &cases[case];
        match (status, code) {
            (HookStatus::Success, _) => {
                report.successes += 1;
                if !case.compliant {
                    report.wrong.push(format!("{}: SUCCESS for a resource that must be refused", case.name));
                }
            }
            (HookStatus::Failed, Some(ErrorCode::NonCompliant)) => {
                report.refusals += 1;
                if case.compliant {
                    report.wrong.push(format!("{}: refused a compliant resource: {message}", case.name));
                }
            }
            (HookStatus::Failed, _) => {
                report.internal_failures += 1;
                if !is_s3_fault(&message) {
                    report.wrong.push(format!("{}: a failure no S3 fault explains: {message}", case.name));
                }
            }
        }
    }
    report
}

/// Whether an InternalFailure message is one of the injected S3 faults.
fn is_s3_fault(message: &str) -> bool {
    ["HTTP 500 InternalError", "HTTP 503 ServiceUnavailable"].iter().any(|fault| message.contains(fault))
}

/// This process's resident memory, from `/proc` (0 where there is none).
pub fn resident_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn ten_thousand_decisions_under_s3_faults_are_never_wrongly_allowed() {
    let cases = cases();
    assert!(cases.len() >= 27 * 2, "every template brings valid and invalid fixtures: {}", cases.len());
    let server = S3Server::start();
    let fault = Fault::Random { errors_per_mille: 100, max_delay: Duration::from_millis(5) };
    let load = Load { decisions: 10_000, concurrency: 64, fault, ttl: Duration::ZERO };
    let report = run(&server, &cases, load);
    println!("load: {} cases at concurrency 64: {}", cases.len(), report.summary());
    assert_eq!(report.wrong, Vec::<String>::new(), "wrong answers under load");
    assert_eq!(report.successes + report.refusals + report.internal_failures, 10_000);
    assert!(report.injected_errors > 0 && report.internal_failures > 0, "the faults reached the answers");
    // An injected error fails the decision that fetched and those queued behind it; a
    // decision makes one fetch at a time and stops at the first failure.
    assert!(
        report.internal_failures >= report.injected_errors,
        "{} failures for {} injected errors",
        report.internal_failures,
        report.injected_errors
    );
    assert!(report.successes > 0 && report.refusals > 0, "faults must not drown the verdicts");
    // Bounded memory: after warm-up the caches hold one entry per type; what is left
    // is allocator noise, far below a leak of one event per decision (~2 KiB each).
    let growth = report.rss_at_end_kib.saturating_sub(report.rss_after_warm_up_kib);
    assert!(growth < 16 * 1024, "resident memory grew by {growth} KiB after warm-up");

    // After the storm, with S3 healthy again, nothing stuck: every case is answered as
    // its fixture says.
    let load = Load { decisions: cases.len(), concurrency: 8, fault: Fault::None, ttl: Duration::ZERO };
    let healthy = run(&server, &cases, load);
    assert_eq!(healthy.wrong, Vec::<String>::new());
    assert_eq!(healthy.internal_failures, 0);
    assert_eq!(healthy.successes, cases.iter().filter(|case| case.compliant).count());
}
