//! The hook's whole request path: event in, response out. The Lambda binary and
//! `rcfge hook invoke` both call [`answer`], so they cannot disagree.

use serde_json::Value;

use crate::engine::Engine;
use crate::error::Error;
use crate::event::{self, EventDefaults, Request};
use crate::response::HookResponse;

/// Answers a hook event given as raw bytes (strict JSON).
pub async fn answer_bytes(engine: &Engine, bytes: &[u8], defaults: &EventDefaults) -> HookResponse {
    match event::parse_bytes(bytes) {
        Ok(event) => answer(engine, &event, defaults).await,
        Err(error) => HookResponse::internal_failure(&Error::Event(error), None),
    }
}

/// Answers a parsed hook event. Never fails: anything that cannot be judged is
/// `FAILED`/`InternalFailure`.
pub async fn answer(engine: &Engine, event: &Value, defaults: &EventDefaults) -> HookResponse {
    let token = event::client_request_token(event);
    match event::parse(event, defaults) {
        Ok(Request::Resource(target)) => HookResponse::from_decision(&engine.decide(&target).await, token),
        Ok(Request::Stack) => {
            HookResponse::internal_failure(&Error::UnsupportedTarget { target: "STACK".into() }, token)
        }
        Ok(Request::ChangeSet) => HookResponse::internal_failure(
            &Error::UnsupportedTarget {
                target: "CHANGE_SET".into(),
            },
            token,
        ),
        Err(error) => HookResponse::internal_failure(&Error::Event(error), token),
    }
}
