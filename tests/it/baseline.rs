//! The baseline, over the whole pinned snapshot: every provider schema loads, renders and
//! compiles as published; every baseline template is exactly what `rcfge templates freeze`
//! makes of its schema (generated, never edited) and compiles; and every baseline gates new
//! features: a property the snapshot does not know is refused at the root and in every nested
//! object the baseline closes.

use std::path::Path;

use rcfge::authoring::freeze::{freeze, provider_files};
use rcfge::policy::{Policy, judge};
use rcfge::template::Template;
use serde_json::{Map, Value, json};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A property name no provider schema has.
const UNAPPROVED: &str = "RcfgeUnapprovedFeature";

fn compile(type_name: &str, body: &[u8]) -> Result<Policy, String> {
    let template = Template::parse(type_name, "test", body).map_err(|e| format!("parse: {e}"))?;
    let schema = template.render(&Map::new()).map_err(|e| format!("render: {e}"))?;
    Policy::compile(type_name, "test", schema).map_err(|e| format!("compile: {e}"))
}

fn type_name_of(document: &Value) -> String {
    document["typeName"].as_str().expect("every pinned schema names its type").to_owned()
}

#[test]
fn every_pinned_provider_schema_loads_as_published() {
    let files = provider_files(&root().join("schemas")).unwrap();
    assert!(files.len() > 1_800, "the whole snapshot is pinned: {} files", files.len());
    let mut failures = Vec::new();
    for path in &files {
        let body = std::fs::read(path).unwrap();
        let type_name = type_name_of(&serde_json::from_slice(&body).unwrap());
        if let Err(e) = compile(&type_name, &body) {
            failures.push(format!("{type_name}: {e}"));
        }
    }
    assert!(failures.is_empty(), "{} of {} do not load:\n{}", failures.len(), files.len(), failures.join("\n"));
}

#[test]
fn every_baseline_template_is_generated_compiles_and_gates_its_root() {
    let schemas = provider_files(&root().join("schemas")).unwrap();
    let baseline_dir = root().join("templates/baseline");
    let mut failures = Vec::new();
    for path in &schemas {
        let provider: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let type_name = type_name_of(&provider);
        let file = baseline_dir.join(path.file_name().unwrap());
        let Ok(body) = std::fs::read(&file) else {
            failures.push(format!("{type_name}: no baseline (run rcfge templates freeze)"));
            continue;
        };
        let expected = format!("{}\n", serde_json::to_string_pretty(&freeze(&provider).unwrap()).unwrap());
        if body != expected.as_bytes() {
            failures.push(format!("{type_name}: differs from what rcfge templates freeze makes of its schema"));
            continue;
        }
        let policy = match compile(&type_name, &body) {
            Ok(policy) => policy,
            Err(e) => {
                failures.push(format!("{type_name}: {e}"));
                continue;
            }
        };
        let refused = judge(&policy, None, &type_name, "R", json!({UNAPPROVED: "x"})).unwrap();
        let pointer = format!("/{UNAPPROVED}");
        if !refused.iter().any(|v| v.keyword == "additionalProperties" && v.pointer == pointer) {
            let found: Vec<&str> = refused.iter().map(|v| v.pointer.as_str()).collect();
            failures.push(format!("{type_name}: an unknown property at the root is not refused (found {found:?})"));
        }
    }
    assert!(failures.is_empty(), "{} of {}:\n{}", failures.len(), schemas.len(), failures.join("\n"));
}
