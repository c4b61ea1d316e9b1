//! The hook's whole request path: event in, response and decision record out. The Lambda
//! function and `rcfge hook invoke` both call [`answer`], so they cannot disagree.

use std::time::Instant;

use serde_json::Value;

use crate::engine::Engine;
use crate::error::Error;
use crate::event::{self, EventDefaults, Request};
use crate::metrics::DecisionRecord;
use crate::response::HookResponse;
use crate::unwind::CatchUnwind;

/// What the hook answers, and what it logs about it.
#[derive(Clone, Debug)]
pub struct Answer {
    pub response: HookResponse,
    pub record: DecisionRecord,
}

/// Answers a hook event given as raw bytes (strict JSON).
pub async fn answer_bytes(engine: &Engine, bytes: &[u8], defaults: &EventDefaults) -> Answer {
    let started = Instant::now();
    match event::parse_bytes(bytes) {
        Ok(event) => answer(engine, &event, defaults).await,
        Err(error) => refusal(Error::Event(error), None, started),
    }
}

/// Answers a parsed hook event. Never fails and never panics: anything that cannot be judged
/// is `FAILED`/`InternalFailure`.
pub async fn answer(engine: &Engine, event: &Value, defaults: &EventDefaults) -> Answer {
    let started = Instant::now();
    let token = event::client_request_token(event);
    match CatchUnwind::new(judge(engine, event, defaults, token.clone(), started)).await {
        Ok(answer) => answer,
        Err(message) => refusal(Error::Panic { message }, token, started),
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
        Ok(Request::Stack) => return refusal(Error::UnsupportedTarget { target: "STACK".into() }, token, started),
        Ok(Request::ChangeSet) => {
            return refusal(Error::UnsupportedTarget { target: "CHANGE_SET".into() }, token, started);
        }
        Err(error) => return refusal(Error::Event(error), token, started),
    };
    let decision = engine.decide(&target).await;
    let response = HookResponse::from_decision(&decision, token);
    let context = &target.context;
    let stack = context.stack_name.clone().or_else(|| context.stack_id.clone());
    let record = DecisionRecord::of_decision(&decision, &response, stack, context.account_id.clone(), micros(started));
    Answer { response, record }
}

fn refusal(error: Error, token: Option<String>, started: Instant) -> Answer {
    let response = HookResponse::internal_failure(&error, token);
    let record = DecisionRecord::of_refusal(&response, error.to_string(), micros(started));
    Answer { response, record }
}

fn micros(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX)
}
