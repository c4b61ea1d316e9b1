//! The Lambda front end: the hook's whole request path, event in, response and decision record
//! out. The Lambda function, `rcfge hook invoke` and `rcfge hook serve-events` ([`replay_dir`])
//! all call [`answer_bytes`], so they cannot disagree.
//!
//! ```text
//! event bytes ─► event::parse ─► RESOURCE: Target ─► Engine::decide ──────────────┐
//!                             └► STACK, CHANGE_SET: payload ─► stack::check_* ───┤
//!                                                         response (wire format) ◄┘ + record (log, metrics)
//! ```

pub(crate) mod event;
pub(crate) mod payload;
pub(crate) mod record;
pub(crate) mod response;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::decision::Action;
use crate::engine::{CatchUnwind, Engine, Progress, progress};
use crate::stack::ReadError;
use crate::stack::{self, Mode, ResourceReport, StackOptions};
use event::{EventError, Request, WholeTarget};
use payload::PayloadError;

pub use event::{EventDefaults, MAX_EVENT_BYTES};
pub use record::{DecisionRecord, Metrics, RecordedFinding};
pub use response::{Annotation, AnnotationStatus, ErrorCode, HookResponse, HookStatus, Severity};

/// The longest an answer may take. CloudFormation waits 30 s for the function, and the
/// function's own timeout should be 25 s; an answer that is late is worse than a refusal.
pub const TIME_BUDGET: Duration = Duration::from_secs(20);

/// Why a request as a whole could not be judged (a resource that cannot be judged is a
/// [`Fault`](crate::decision::Fault) in its verdict instead).
#[derive(Debug, thiserror::Error)]
pub(crate) enum RequestError {
    #[error("the hook event is not usable: {0}")]
    Event(#[from] EventError),
    #[error("the {target} payload is not usable: {source}")]
    Payload { target: &'static str, source: PayloadError },
    #[error("the {target} template cannot be read: {source}")]
    StackTemplate { target: &'static str, source: ReadError },
    #[error("the evaluation panicked: {message}")]
    Panic { message: String },
    /// The answer's time ran out; `doing` is the stage that did not finish.
    #[error("no verdict within {budget_ms} ms: {doing}")]
    Timeout { budget_ms: u128, doing: String },
}

/// What the hook answers, and what it logs about it.
#[derive(Clone, Debug)]
pub struct Answer {
    pub response: HookResponse,
    pub record: DecisionRecord,
}

/// Answers a hook event given as raw bytes (strict JSON: duplicate keys are refused) within
/// `budget`. Never fails, never panics, never takes longer: anything that cannot be judged in
/// time is `FAILED`/`InternalFailure`, naming the stage that did not finish. The CPU-heavy part
/// of a large resource runs on a blocking thread (see `Engine`), so the budget holds however
/// long it takes; the thread may finish later, but its result goes nowhere.
pub async fn answer_bytes(engine: &Engine, bytes: &[u8], defaults: &EventDefaults, budget: Duration) -> Answer {
    let started = Instant::now();
    let parsed = event::parse_bytes(bytes);
    // The token is echoed even when the event is refused, read leniently if need be.
    let token = match &parsed {
        Ok(event) => event::client_request_token(event),
        Err(_) => serde_json::from_slice::<Value>(bytes).ok().and_then(|event| event::client_request_token(&event)),
    };
    let event = match parsed {
        Ok(event) => event,
        Err(error) => return refusal(RequestError::Event(error), token, started),
    };
    within(budget, engine, &event, defaults, token, started).await
}

/// Answers an already parsed hook event, within [`TIME_BUDGET`].
pub async fn answer(engine: &Engine, event: &Value, defaults: &EventDefaults) -> Answer {
    let started = Instant::now();
    let token = event::client_request_token(event);
    within(TIME_BUDGET, engine, event, defaults, token, started).await
}

/// Judges `event`, or answers `InternalFailure` naming what was still running when `budget`
/// (counted from `started`) ran out.
async fn within(
    budget: Duration,
    engine: &Engine,
    event: &Value,
    defaults: &EventDefaults,
    token: Option<String>,
    started: Instant,
) -> Answer {
    let progress = Progress::default();
    let judged = CatchUnwind::new(progress.watch(judge(engine, event, defaults, token.clone(), started)));
    let left = budget.saturating_sub(started.elapsed());
    match tokio::time::timeout(left, judged).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(message)) => refusal(RequestError::Panic { message }, token, started),
        Err(_) => {
            let doing = progress.last().unwrap_or_else(|| "the evaluation did not finish".to_owned());
            refusal(RequestError::Timeout { budget_ms: budget.as_millis(), doing }, token, started)
        }
    }
}

async fn judge(
    engine: &Engine,
    event: &Value,
    defaults: &EventDefaults,
    token: Option<String>,
    started: Instant,
) -> Answer {
    let target = match event::parse(event, defaults) {
        Ok(Request::Resource(target)) => target,
        Ok(Request::Stack(whole)) => return judge_whole(engine, Whole::Stack, &whole, token, started).await,
        Ok(Request::ChangeSet(whole)) => return judge_whole(engine, Whole::ChangeSet, &whole, token, started).await,
        Err(error) => return refusal(RequestError::Event(error), token, started),
    };
    let mut decision = engine.decide(&target).await;
    engine.settle(&mut decision, &target.context).await;
    let response = HookResponse::from_decision(&decision, token);
    let context = &target.context;
    let stack = context.stack_name.clone().or_else(|| context.stack_id.clone());
    let record = DecisionRecord::of_decision(&decision, &response, stack, context.account_id.clone(), micros(started));
    Answer { response, record }
}

/// One event file and the hook's answer to it.
#[derive(Clone, Debug)]
pub struct Replayed {
    /// The event's file name.
    pub event: String,
    pub answer: Answer,
}

/// Why a directory of events cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read {path}")]
    Read { path: String, source: std::io::Error },
    #[error("no *.json events in {dir}")]
    NoEvents { dir: String },
}

/// Answers every `*.json` event of `dir`, in file name order.
pub async fn replay_dir(engine: &Engine, dir: &Path, defaults: &EventDefaults) -> Result<Vec<Replayed>, ReplayError> {
    let read_error = |path: &Path| {
        let path = path.display().to_string();
        move |source| ReplayError::Read { path, source }
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_error(dir))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(ReplayError::NoEvents { dir: dir.display().to_string() });
    }
    let mut replayed = Vec::with_capacity(files.len());
    for path in &files {
        let bytes = std::fs::read(path).map_err(read_error(path))?;
        let answer = answer_bytes(engine, &bytes, defaults, TIME_BUDGET).await;
        let event = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        replayed.push(Replayed { event, answer });
    }
    Ok(replayed)
}

/// The two targets that judge many resources at once.
#[derive(Clone, Copy)]
enum Whole {
    Stack,
    ChangeSet,
}

impl Whole {
    fn label(self) -> &'static str {
        match self {
            Whole::Stack => "STACK",
            Whole::ChangeSet => "CHANGE_SET",
        }
    }
}

/// STACK and CHANGE_SET: fetch the payload, judge every resource in it, answer once.
async fn judge_whole(
    engine: &Engine,
    kind: Whole,
    target: &WholeTarget,
    token: Option<String>,
    started: Instant,
) -> Answer {
    // A change set's logical id is its ARN; its name is what people recognise.
    let name = target.logical_id.split(":changeSet/").nth(1).and_then(|rest| rest.split('/').next());
    let subject = format!("{} {}", kind.label(), name.unwrap_or(&target.logical_id));
    let reports = if target.action == Action::Delete {
        // delete-stack sends empty templates; CloudFormation asks about each resource's DELETE.
        Ok(Vec::new())
    } else {
        judge_payload(engine, kind, target).await
    };
    let response = match &reports {
        Ok(reports) => HookResponse::from_resources(&subject, reports, token),
        Err(error) => HookResponse::internal_failure(error, token),
    };
    let (judged, reason) = match &reports {
        Ok(reports) => (reports.as_slice(), None),
        Err(error) => (&[][..], Some(error.to_string())),
    };
    let record = DecisionRecord::of_whole_target(kind.label(), target, &response, judged, reason, micros(started));
    Answer { response, record }
}

async fn judge_payload(
    engine: &Engine,
    kind: Whole,
    target: &WholeTarget,
) -> Result<Vec<ResourceReport>, RequestError> {
    let label = kind.label();
    let payload_error = |source| RequestError::Payload { target: label, source };
    let template_error = |source| RequestError::StackTemplate { target: label, source };
    progress(|| format!("fetching the {label} payload"));
    let bytes = payload::fetch(&target.payload_url, payload::FETCH_TIMEOUT).await.map_err(payload_error)?;
    progress(|| format!("reading the {label} template"));
    match kind {
        Whole::Stack => {
            let payload = payload::parse_stack(&bytes).map_err(payload_error)?;
            let options = StackOptions {
                parameters: BTreeMap::new(),
                mode: Mode::CertainOnly,
                action: target.action,
                positions: false,
            };
            let checked = stack::check_text(engine, &payload.template, &target.context, &options).await;
            checked.map(|checked| checked.resources).map_err(template_error)
        }
        Whole::ChangeSet => {
            let payload = payload::parse_change_set(&bytes).map_err(payload_error)?;
            stack::check_change_set(engine, &payload, &target.context).await.map_err(template_error)
        }
    }
}

fn refusal(error: RequestError, token: Option<String>, started: Instant) -> Answer {
    let response = HookResponse::internal_failure(&error, token);
    let record = DecisionRecord::of_refusal(&response, error.to_string(), micros(started));
    Answer { response, record }
}

fn micros(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX)
}
