//! Whole flows: the real `rcfge` binary over fixture events and stacks, and the library's
//! public API end to end. One test binary, so the dependency tree is linked once.

// A failed expectation in a test is a panic; the package's lints deny them outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit;
mod authoring;
mod baseline;
mod bypass;
mod engine;
mod faults;
mod guard;
mod hook_invoke;
mod impact;
mod lambda_function;
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
