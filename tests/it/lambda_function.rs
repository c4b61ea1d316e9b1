//! The compiled `rcfge-hook` binary run the way Lambda runs it: against a loopback server
//! that speaks the Lambda Runtime API (`GET /2018-06-01/runtime/invocation/next`,
//! `POST .../response`), with templates in the loopback S3 server.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use crate::s3_server::{ACCESS_KEY, S3Server, SECRET_KEY};

const PREFIX: &str = "/2018-06-01/runtime";

/// What the function posted back for one invocation.
#[derive(Clone, Debug)]
pub(crate) struct Posted {
    request_id: String,
    /// `response`, `error` or `init-error`.
    kind: String,
    body: Value,
    /// When the server received it (read by the cold-start benchmark).
    #[allow(dead_code)]
    pub(crate) at: Instant,
}

#[derive(Default)]
struct ApiState {
    /// Request id, event, and how long the function has for it.
    pending: Mutex<VecDeque<(String, Vec<u8>, Duration)>>,
    posted: Mutex<Vec<Posted>>,
}

/// A Runtime API endpoint on loopback, serving queued events.
pub(crate) struct RuntimeApi {
    address: String,
    state: Arc<ApiState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl RuntimeApi {
    pub(crate) fn start(events: Vec<Vec<u8>>) -> Self {
        Self::start_with_deadlines(events.into_iter().map(|e| (e, Duration::from_secs(25))).collect())
    }

    /// Serves each event with its deadline that long after it is handed out.
    pub(crate) fn start_with_deadlines(events: Vec<(Vec<u8>, Duration)>) -> Self {
        let state = Arc::new(ApiState::default());
        state
            .pending
            .lock()
            .unwrap()
            .extend(events.into_iter().enumerate().map(|(i, (e, left))| (format!("request-{i}"), e, left)));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = state.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    tokio::select! {
                        accepted = listener.accept() => {
                            let Ok((socket, _)) = accepted else { continue };
                            // As real endpoints do: without it, Nagle's algorithm and delayed
                            // ACKs hold small answers back ~40 ms.
                            let _ = socket.set_nodelay(true);
                            let state = shared.clone();
                            let service = hyper::service::service_fn(move |request| route(state.clone(), request));
                            tokio::spawn(async move {
                                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(socket), service).await;
                            });
                        }
                        _ = &mut stopped => break,
                    }
                }
            });
        });
        RuntimeApi { address, state, stop: Some(stop) }
    }

    fn posted(&self) -> Vec<Posted> {
        self.state.posted.lock().unwrap().clone()
    }

    /// Waits until `count` answers were posted (or the child exits, or 60 s pass).
    pub(crate) fn wait_for(&self, count: usize, child: &mut Child) -> Vec<Posted> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.posted().len() < count && Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.posted()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn route(state: Arc<ApiState>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    if method == hyper::Method::GET && path == format!("{PREFIX}/invocation/next") {
        let next = state.pending.lock().unwrap().pop_front();
        let Some((request_id, event, left)) = next else {
            // No more events: hold the request open, as Lambda does between invocations.
            std::future::pending::<()>().await;
            unreachable!();
        };
        let deadline = (std::time::SystemTime::now() + left).duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
        let response = Response::builder()
            .header("Lambda-Runtime-Aws-Request-Id", request_id)
            .header("Lambda-Runtime-Deadline-Ms", deadline.to_string())
            .header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:111122223333:function:rcfge")
            .header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
            .body(Full::new(Bytes::from(event)))
            .unwrap();
        return Ok(response);
    }
    let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let body: Value = serde_json::from_slice(&body).unwrap_or_else(|_| json!(String::from_utf8_lossy(&body)));
    let posted = match path.strip_prefix(&format!("{PREFIX}/invocation/")).and_then(|rest| rest.split_once('/')) {
        Some((id, kind @ ("response" | "error"))) => {
            Posted { request_id: id.to_owned(), kind: kind.to_owned(), body, at: Instant::now() }
        }
        _ if path == format!("{PREFIX}/init/error") => {
            Posted { request_id: String::new(), kind: "init-error".into(), body, at: Instant::now() }
        }
        _ => return Ok(Response::builder().status(StatusCode::NOT_FOUND).body(Full::default()).unwrap()),
    };
    state.posted.lock().unwrap().push(posted);
    Ok(Response::builder()
        .status(StatusCode::ACCEPTED)
        .body(Full::new(Bytes::from_static(b"{\"status\":\"OK\"}")))
        .unwrap())
}

fn spawn_hook(api: &RuntimeApi, env: &[(&str, &str)]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rcfge-hook"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "rcfge")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/rcfge")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    command.spawn().expect("rcfge-hook starts")
}

/// The function configured to read its templates from the loopback S3 server.
pub(crate) fn spawn_hook_over_s3(api: &RuntimeApi, s3: &S3Server) -> Child {
    let templates = s3.uri();
    spawn_hook(
        api,
        &[
            ("RCFGE_TEMPLATES", &templates),
            ("AWS_ENDPOINT_URL", &s3.endpoint),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_REGION", "eu-west-1"),
        ],
    )
}

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/events/{name}.json", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn the_lambda_function_answers_through_the_runtime_api() {
    let s3 = S3Server::start();
    let duplicate_keys =
        br#"{"clientRequestToken": "dup-1", "awsAccountId": "111122223333", "awsAccountId": "444455556666"}"#.to_vec();
    let events = vec![
        fixture("bucket-compliant"),
        fixture("bucket-foreign-topic"),
        fixture("untemplated-type"),
        duplicate_keys,
        fixture("bucket-compliant"),
    ];
    let count = events.len();
    let api = RuntimeApi::start(events);
    let mut child = spawn_hook_over_s3(&api, &s3);
    let posted = api.wait_for(count, &mut child);
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        posted.len(),
        count,
        "answers: {posted:#?}\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let answer = |i: usize| {
        let p = posted.iter().find(|p| p.request_id == format!("request-{i}")).unwrap();
        assert_eq!(p.kind, "response", "never a Lambda error: {p:?}");
        &p.body
    };
    assert_eq!(answer(0)["hookStatus"], "SUCCESS");
    assert_eq!(answer(0)["clientRequestToken"], "4b90a7e4-1111-2222-3333-6f1a2b3c4d5e");
    assert_eq!(answer(1)["errorCode"], "NonCompliant");
    assert_eq!(
        answer(1)["annotations"][0]["annotationName"],
        "rcfge/aws-s3-bucket/NotificationConfiguration/TopicConfigurations/0/Topic"
    );
    assert_eq!(answer(2)["errorCode"], "InternalFailure");
    assert!(answer(2)["message"].as_str().unwrap().contains("no template for Acme::Ledger::Entry"));
    assert_eq!(answer(3)["errorCode"], "InternalFailure");
    assert!(answer(3)["message"].as_str().unwrap().contains("duplicate key"));
    assert_eq!(answer(3)["clientRequestToken"], "dup-1", "the token is echoed even for a refused event");
    assert_eq!(answer(4)["hookStatus"], "SUCCESS");

    // One decision line per invocation, each a log record and an EMF metric at once.
    let decisions: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect();
    assert_eq!(decisions.len(), count, "{stdout}");
    assert_eq!(decisions[0]["verdict"], "compliant");
    assert_eq!(decisions[0]["type_name"], "AWS::S3::Bucket");
    assert_eq!(decisions[0]["stack"], "payments");
    assert_eq!((&decisions[0]["cache"], &decisions[0]["compiled"]), (&json!("miss"), &json!(true)));
    assert_eq!(
        (&decisions[4]["cache"], &decisions[4]["compiled"]),
        (&json!("hit"), &json!(false)),
        "the warm function reuses the template and the compiled policy"
    );
    assert_eq!(decisions[1]["violations"], 1);
    assert!(decisions.iter().all(|d| d["LatencyMicroseconds"].is_u64() && d["Decisions"] == 1));
    assert!(!stdout.contains("444455556666:x"), "property values are never logged: {stdout}");
    // The bucket's template; for the third-party type, its reviewed template, the settings
    // that switch the baseline on, and its baseline (none of them there); for the refused
    // bucket, the waivers that could let it pass (none there; the settings are cached).
    assert_eq!(s3.observed.gets_of(".json"), 5, "one GET per file within the TTL");
    assert_eq!(s3.observed.gets_of("_settings.json"), 1);
    assert_eq!(s3.observed.gets_of("_waivers.json"), 1);
    assert_eq!(s3.observed.gets_of("baseline/acme-ledger-entry.json"), 1);
    assert_eq!(s3.observed.gets_of(".guard"), 1, "the bucket's Guard rules, once, like its template");
}

#[test]
fn a_bad_configuration_stops_the_function_before_it_takes_events() {
    let api = RuntimeApi::start(vec![fixture("bucket-compliant")]);
    for (env, expected) in [
        (vec![], "RCFGE_TEMPLATES is not set"),
        (vec![("RCFGE_TEMPLATES", "templates"), ("RCFGE_CACHE_TTL_SECONDS", "soon")], "RCFGE_CACHE_TTL_SECONDS"),
        (vec![("RCFGE_TEMPLATES", "/no/such/dir")], "/no/such/dir does not exist"),
    ] {
        let mut child = spawn_hook(&api, &env);
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let output = child.wait_with_output().unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{env:?}: {stderr}");
    }
    assert!(api.posted().iter().all(|p| p.kind != "response"), "no event is answered by a misconfigured function");
}

#[test]
fn the_lambda_function_fails_closed_in_time_when_s3_hangs() {
    let s3 = S3Server::start();
    // Longer than the function's S3 operation timeout (8 s), shorter than the invocation budget.
    s3.observed.set_fault(crate::s3_server::Fault::Delay(Duration::from_secs(15)));
    let api = RuntimeApi::start(vec![fixture("bucket-compliant")]);
    let started = Instant::now();
    let mut child = spawn_hook_over_s3(&api, &s3);
    let posted = api.wait_for(1, &mut child);
    let elapsed = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert_eq!(posted[0].kind, "response");
    assert_eq!(posted[0].body["errorCode"], "InternalFailure");
    assert!(posted[0].body["message"].as_str().unwrap().contains("timeout"), "{}", posted[0].body);
    assert!(elapsed < Duration::from_secs(15), "the S3 timeouts of the function bound the answer: {elapsed:?}");
}

/// A compliant bucket event whose lifecycle rules take Guard about 0.1 s (release build), yet
/// stay under its input limits (`policy::MAX_INPUT_BYTES`).
fn heavy_bucket() -> Vec<u8> {
    let mut event: Value = serde_json::from_slice(&fixture("bucket-compliant")).unwrap();
    let rules: Vec<Value> = (0..1_600)
        .map(|i| {
            json!({"Id": format!("rule-{i:07}"), "Status": "Enabled", "Prefix": format!("logs/{i}/"),
                   "ExpirationInDays": 30, "NoncurrentVersionExpiration": {"NoncurrentDays": 7}})
        })
        .collect();
    event["requestData"]["targetModel"]["resourceProperties"]["LifecycleConfiguration"] = json!({"Rules": rules});
    event.to_string().into_bytes()
}

/// The budget comes from the invocation's deadline (less 2 s to send the answer): an
/// invocation with 2.005 s left is answered `InternalFailure` naming the judgement that did not
/// finish, with its decision record, and exactly once. The judgement left running on its
/// thread neither answers later nor holds up the next invocations.
#[test]
fn the_lambda_function_answers_within_the_invocation_deadline() {
    let s3 = S3Server::start();
    let long = Duration::from_secs(25);
    let events = vec![
        (fixture("bucket-compliant"), long),
        (heavy_bucket(), Duration::from_millis(2_005)),
        (fixture("bucket-compliant"), long),
        (heavy_bucket(), long),
    ];
    let count = events.len();
    let api = RuntimeApi::start_with_deadlines(events);
    let mut child = spawn_hook_over_s3(&api, &s3);
    let posted = api.wait_for(count, &mut child);
    // Time for a stray second answer to arrive, if there were one.
    std::thread::sleep(Duration::from_millis(200));
    let posted_late = api.posted();
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(posted.len(), count, "answers: {posted:#?}\nstderr: {}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(posted_late.len(), count, "one answer per invocation: {posted_late:#?}");
    let answer = |i: usize| {
        let p: Vec<&Posted> = posted_late.iter().filter(|p| p.request_id == format!("request-{i}")).collect();
        assert_eq!(p.len(), 1, "request-{i}: {p:?}");
        assert_eq!(p[0].kind, "response", "never a Lambda error: {:?}", p[0]);
        p[0].body.clone()
    };
    assert_eq!(answer(0)["hookStatus"], "SUCCESS");
    let late = answer(1);
    assert_eq!(late["errorCode"], "InternalFailure", "{late:#}");
    let message = late["message"].as_str().unwrap();
    assert!(message.contains("no verdict within"), "{message}");
    assert!(message.contains("judging ReceiptsBucket (AWS::S3::Bucket)"), "{message}");
    assert_eq!(late["clientRequestToken"], "4b90a7e4-1111-2222-3333-6f1a2b3c4d5e");
    assert_eq!(answer(2)["hookStatus"], "SUCCESS", "a small resource is not held up by the judgement left running");
    assert_eq!(answer(3)["hookStatus"], "SUCCESS", "a large one is judged once the slot is free: {:#}", answer(3));

    let decisions: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect();
    assert_eq!(decisions.len(), count, "one decision record per invocation: {stdout}");
    assert_eq!(decisions[1]["verdict"], "internal-failure");
    assert!(decisions[1]["reason"].as_str().unwrap().starts_with("no verdict within"), "{}", decisions[1]);
}
