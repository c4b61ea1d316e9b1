//! The crate error: every reason a resource could not be evaluated. Each one becomes
//! `FAILED`/`InternalFailure` (hook) or a failure finding (CLI); none is ever a pass.

use crate::cfn::CfnError;
use crate::event::EventError;
use crate::guard::GuardError;
use crate::normalize::NormalizeError;
use crate::payload::PayloadError;
use crate::policy::CompileError;
use crate::render::{RenderError, TemplateError};
use crate::store::StoreError;

/// Why a resource could not be evaluated.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no template for {type_name} in {location}: the type is not approved")]
    NoTemplate { type_name: String, location: String },
    #[error("cannot load the template for {type_name}: {source}")]
    Store { type_name: String, source: StoreError },
    #[error("cannot load the organisation variables ({file}): {reason}")]
    Variables { file: String, reason: String },
    #[error("the template for {type_name} is broken: {source}")]
    Template { type_name: String, source: TemplateError },
    #[error("the template for {type_name} cannot be rendered: {source}")]
    Render { type_name: String, source: RenderError },
    #[error("the template for {type_name} is not a valid schema: {source}")]
    Compile { type_name: String, source: CompileError },
    #[error("the Guard rules of {type_name} cannot be used: {source}")]
    Guard { type_name: String, source: GuardError },
    #[error("the properties cannot be checked against the {type_name} template: {source}")]
    Normalize { type_name: String, source: NormalizeError },
    #[error(
        "the resource's properties are {size} bytes of JSON, more than the {limit} that are judged \
         (a CloudFormation template is at most 1 MB)"
    )]
    PropertiesTooLarge { size: usize, limit: usize },
    #[error("the resource's properties must be a JSON object, not {found}")]
    PropertiesNotAnObject { found: &'static str },
    #[error("the hook event is not usable: {0}")]
    Event(#[from] EventError),
    #[error("the {target} payload is not usable: {source}")]
    Payload { target: &'static str, source: PayloadError },
    #[error("the {target} template cannot be read: {source}")]
    StackTemplate { target: &'static str, source: CfnError },
    #[error("the evaluation panicked: {message}")]
    Panic { message: String },
    /// The answer's time ran out; `doing` is the stage that did not finish.
    #[error("no verdict within {budget_ms} ms: {doing}")]
    Timeout { budget_ms: u128, doing: String },
}

impl Error {
    /// The placeholders that had no value, when that is the cause: the CLI turns them into
    /// the flags to pass.
    pub fn missing_variables(&self) -> &[String] {
        match self {
            Error::Render { source: RenderError::NoValue { names }, .. } => names,
            _ => &[],
        }
    }
}
