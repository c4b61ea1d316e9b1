//! Running the `rcfge` binary and building hook events for tests.

use std::io::Write;
use std::process::Command;

use serde_json::{Value, json};

/// What a run of the binary produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `rcfge` from the repository root, so fixture paths are relative and stable.
pub fn rcfge(args: &[&str]) -> Run {
    run(rcfge_command(args))
}

/// The environment variables the command line reads for its settings.
pub const SETTINGS_VARIABLES: &[&str] = &[
    "RCFGE_DEFAULT_REGION",
    "RCFGE_TEMPLATES",
    "RCFGE_ACCOUNT_ID",
    "RCFGE_REGION",
    "RCFGE_PARTITION",
    "RCFGE_STACK_NAME",
    "RCFGE_VARS",
    "RCFGE_CONFIG",
];

/// `rcfge` from the repository root, with none of the settings of the machine running the tests:
/// no settings variables, and no project file found above the checkout.
pub fn rcfge_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rcfge"));
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for name in SETTINGS_VARIABLES {
        command.env_remove(name);
    }
    command.env("RCFGE_CONFIG", concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/project/empty.rcfge.yaml"));
    command
}

/// Runs a prepared command.
pub fn run(mut command: Command) -> Run {
    let output = command.output().expect("rcfge runs");
    Run {
        code: output.status.code().expect("rcfge exits normally"),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    }
}

/// `rcfge hook invoke --event FILE --templates DIR`.
pub fn hook_invoke(event_path: &str, templates: &str) -> Run {
    rcfge(&["hook", "invoke", "--event", event_path, "--templates", templates])
}

/// `rcfge hook invoke` over an event file; returns the exit code and the response JSON.
pub fn invoke(event_path: &str, templates: &str) -> (i32, Value) {
    let run = hook_invoke(event_path, templates);
    let response: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("response is JSON ({e}): {}\nstderr: {}", run.stdout, run.stderr));
    (run.code, response)
}

/// A RESOURCE hook event, as CloudFormation sends it.
pub fn event(type_name: &str, invocation_point: &str, properties: Value) -> Value {
    json!({
        "clientRequestToken": "00000000-test-0000-0000-000000000000",
        "awsAccountId": "111122223333",
        "stackId": "arn:aws:cloudformation:eu-west-1:111122223333:stack/tests/0a1b2c3d-0000-1111-2222-333344445555",
        "changeSetId": null,
        "hookTypeName": "Private::Lambda::RcfgeHook",
        "actionInvocationPoint": invocation_point,
        "requestData": {
            "targetName": type_name,
            "targetType": type_name,
            "targetLogicalId": "Subject",
            "targetModel": {"resourceProperties": properties, "previousResourceProperties": null}
        },
        "requestContext": {"invocation": 1, "callbackContext": null}
    })
}

/// Writes text to a temporary file that lives as long as the returned handle.
pub fn temp_file(suffix: &str, text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(suffix).tempfile().expect("temp file");
    file.write_all(text.as_bytes()).expect("write temp file");
    file
}

/// `rcfge hook invoke` over an event built in the test.
pub fn invoke_event(event: &Value, templates: &str) -> (i32, Value) {
    let file = temp_file(".json", &event.to_string());
    invoke(file.path().to_str().expect("utf-8 path"), templates)
}
