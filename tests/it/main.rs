//! Whole flows: the real `rcfge` binary over fixture events and stacks, and the library's
//! public API end to end. One test binary, so the dependency tree is linked once.

mod authoring;
mod bypass;
mod engine;
mod faults;
mod guard;
mod hook_invoke;
mod lambda;
mod load;
mod payload_server;
mod publish;
mod render;
mod report;
mod rollout;
mod s3;
mod s3_server;
mod support;
mod templates;
mod validate;
mod whole_targets;
