//! Raw bytes as a hook invocation: strict JSON parsing, event checks, template lookup,
//! rendering, normalising and validating, and the response, against the bundled templates.
#![no_main]

#[path = "engine.rs"]
mod engine;

use libfuzzer_sys::fuzz_target;
use rcfge::lambda::EventDefaults;
use rcfge::lambda;

fuzz_target!(|data: &[u8]| {
    let (engine, runtime) = engine::engine();
    let defaults = EventDefaults { region: Some("eu-west-1".into()) };
    let answer = runtime.block_on(lambda::answer_bytes(engine, data, &defaults, lambda::TIME_BUDGET));
    // The answer must always serialise: it is what CloudFormation reads.
    let _ = serde_json::to_vec(&answer.response).expect("the response serialises");
});
