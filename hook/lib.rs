//! rcfge: enforce restricted resource schema templates on AWS CloudFormation.
//!
//! The library is the whole engine; the `rcfge` binary is a thin shell over it. A resource
//! flows through one module per stage:
//!
//! ```text
//! hook event ─► event ─────────────────────────► Target ─┐
//! stack file / STACK, CHANGE_SET payload
//!            ─► cfn ─► intrinsics (per scenario) ─► stack ─► Target ─┤
//!                                                                    ▼
//! store (dir) ─► cache ─► render ─► policy (compiled) ─► normalize ─► validate ─► Verdict
//!                                                                                 │
//!                                               response (hook JSON) / report (text)
//! ```
//!
//! Every doubt fails closed: a missing template, a broken one, a placeholder without a value,
//! a malformed event or a panic all end in [`Verdict::InternalFailure`].
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod authoring;
pub mod cache;
pub mod cfn;
pub mod config;
pub mod context;
pub mod engine;
pub mod error;
pub mod event;
pub mod guard;
pub mod hook;
pub mod intrinsics;
pub mod json;
pub mod metrics;
pub mod normalize;
pub mod payload;
pub mod policy;
pub mod position;
pub mod publish;
pub mod render;
pub mod report;
pub mod response;
pub mod stack;
pub mod store;
pub mod unwind;
pub mod validate;
pub mod verdict;

pub use context::{Action, Context};
pub use engine::{Engine, EngineConfig, Target};
pub use error::Error;
pub use response::HookResponse;
pub use store::{DirSource, TemplateSource};
pub use verdict::{Decision, Verdict, Violation};
