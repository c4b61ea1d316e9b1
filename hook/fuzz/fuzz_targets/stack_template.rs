//! Raw bytes as a CloudFormation template, as `rcfge validate` reads it: JSON or YAML with
//! positions, short-form tags, intrinsic functions, conditions and parameters, then every
//! resource judged against the bundled templates.
#![no_main]

#[path = "engine.rs"]
mod engine;

use libfuzzer_sys::fuzz_target;
use rcfge::Context;
use rcfge::stack::Mode;
use rcfge::stack::{StackOptions, check_text};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (engine, runtime) = engine::engine();
    let context = Context {
        account_id: Some("111122223333".into()),
        region: Some("eu-west-1".into()),
        partition: Some("aws".into()),
        ..Context::default()
    };
    let options = StackOptions {
        parameters: Default::default(),
        mode: Mode::EveryBranch,
        action: rcfge::Action::Create,
        positions: true,
    };
    let _ = runtime.block_on(check_text(engine, text, &context, &options));
});
