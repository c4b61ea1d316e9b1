//! rcfge: enforce restricted resource schema templates on AWS CloudFormation.
//!
//! The library is the whole engine; the `rcfge` and `rcfge-hook` binaries are thin shells over
//! it. Three front ends share one decision core:
//!
//! ```text
//!  front ends                                      core
//!  lambda/  hook event ─► Target ─────────────────┐
//!           STACK, CHANGE_SET payload ─┐          │
//!  stack/   stack template file ───────┴► read ─► intrinsics (per scenario) ─► Target ─┤
//!                                                                                     ▼
//!                        engine: template/ (store ─► cache ─► render ─► compile) ─► Policy
//!                                policy/   (normalize ─► schema ─► guard) ─► Decision
//!                                rollout/  (waivers, audit mode) ─► Decision settled
//!                                                                                     │
//!  lambda/  response (wire format) + record (log, metrics)  ◄────────────────────────┤
//!  report/  text, json, sarif, junit, impact (rcfge validate) ◄───────────────────────┘
//!  authoring/  templates new / lint / gaps / freeze, schemas import, waivers lint, publish
//!              (for the security team)
//! ```
//!
//! Every doubt fails closed: a missing template, a broken one, a placeholder without a value,
//! a malformed event or a panic all end in [`Verdict::InternalFailure`] or an `InternalFailure`
//! answer.
//!
//! # Reading one decision
//!
//! A RESOURCE hook event is decided in nine files: `bin/rcfge-hook.rs` (hands the event bytes
//! over) → `lambda/mod.rs` (the request path, within its time budget) → `lambda/event.rs` (event
//! to [`Target`]) → `engine.rs` ([`Engine::decide`], then [`Engine::settle`]) → `template/mod.rs`
//! (the type's template, rendered and compiled) → `policy/mod.rs` (judging the properties) →
//! `rollout/mod.rs` (waivers and audit mode) → `decision.rs` (what was concluded) →
//! `lambda/response.rs` (the answer). The log line about it is `lambda/record.rs`.
//!
//! `rcfge validate` on a JSON file, in ten: `bin/rcfge/main.rs` and `flags.rs` (the arguments)
//! → `stack/mod.rs` (every resource of every file) → `stack/read.rs` (the file) →
//! `stack/intrinsics/mod.rs` (each scenario) → `engine.rs` → `template/mod.rs` →
//! `policy/mod.rs` → `decision.rs` → `report/mod.rs` (the text). A YAML file is read into the
//! same JSON by `stack/yaml.rs`.
//!
//! # Glossary of outcomes
//!
//! | type | what it is |
//! |---|---|
//! | [`Verdict`] | the conclusion about one resource: compliant, non-compliant with every [`Violation`], tolerated (every violation audited or waived: allowed, see [`Disposition`]), exempt, or internal failure with its [`Fault`] |
//! | [`Decision`] | a verdict with what it is about (type, logical id, action, template version): what [`Engine::decide`] returns |
//! | [`Fault`] | why one resource could not be judged; it always refuses |
//! | [`stack::Judgement`] | what became of one resource of a stack template: decided, not judged from the file (a transform makes it), or invalid intrinsic functions |
//! | [`stack::ResourceReport`] | a judgement with its place in the file and the values left to deploy time |
//! | [`stack::StackReport`] | every resource report of one stack template, and what holds for the whole file |
//! | [`stack::FileReport`] | a file's path with its resource reports, or why it could not be read: what `rcfge validate` reports on |
//! | [`HookResponse`] | the answer to CloudFormation, in the hook's wire format |
//! | [`lambda::DecisionRecord`] | the log line and metrics about one answer |
//! | [`lambda::Answer`] | a hook response with its decision record: what [`lambda::answer_bytes`] returns |
//! | `lambda::RequestError` | why a whole request could not be judged (malformed event, payload, time budget); it is answered `InternalFailure` |

// The decision core: plain data, the engine and its two stages.
mod decision;
mod engine;
pub mod json;
pub mod policy;
pub mod rollout;
pub mod template;

// The front ends and what they share.
pub mod authoring;
pub mod config;
pub mod lambda;
pub mod report;
pub mod stack;

pub use decision::{
    Action, CacheUse, Context, Decision, Disposition, Fault, PARTITIONS, Position, Reason, Target, TemplateKind,
    Verdict, Violation, WaiverUse, is_account_id, is_region, partition_for_region,
};
pub use engine::{Engine, EngineConfig, MAX_PROPERTIES_BYTES, UnreadableSource};
pub use lambda::response::HookResponse;
pub use template::{DirSource, TemplateSource};
