//! What would break if the control were enforced today: `rcfge validate --summary` over a tree
//! of stack templates, and `rcfge decisions summarize` over the hook's own decision records.

use rcfge::lambda::{self, EventDefaults};
use rcfge::{DirSource, Engine, EngineConfig};
use serde_json::{Value, json};

use crate::support::{event, rcfge};

const CONTEXT: [&str; 4] = ["--account-id", "111122223333", "--region", "eu-west-1"];

fn summary(args: &[&str]) -> crate::support::Run {
    rcfge(&[&["validate"][..], &CONTEXT, &["--summary"], args].concat())
}

#[test]
fn validate_summary_over_a_directory_groups_by_type_rule_and_file() {
    let run = summary(&["tests/fixtures/stacks"]);
    assert_eq!(run.code, 1, "the fixtures hold violations: {}{}", run.stdout, run.stderr);
    insta::assert_snapshot!(run.stdout);

    let run = summary(&["--format", "json", "tests/fixtures/stacks"]);
    let impact: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(impact["source"], "stack-templates");
    assert_eq!(
        impact["byType"][0],
        json!({"key": "AWS::S3::Bucket", "refused": 3, "wouldRefuse": 0, "waived": 0, "notEvaluated": 0})
    );
    assert_eq!(impact["byRule"][0]["key"], "AWS::S3::Bucket /OwnershipControls");
    // The totals agree with the per-resource report over the same files.
    let run = rcfge(&[&["validate"][..], &CONTEXT, &["--format", "json", "tests/fixtures/stacks"]].concat());
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(impact["totals"]["refused"], report["summary"]["nonCompliant"]);
    assert_eq!(impact["totals"]["notEvaluated"], report["summary"]["notEvaluated"]);
    assert_eq!(impact["compliant"], report["summary"]["compliant"]);
    assert_eq!(impact["notJudged"], report["summary"]["notJudged"]);
}

#[test]
fn a_directory_walk_skips_what_is_not_a_stack_template() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy("tests/fixtures/stacks/compliant.yaml", dir.path().join("app.yaml")).unwrap();
    std::fs::create_dir_all(dir.path().join("cdk.out")).unwrap();
    std::fs::write(dir.path().join("cdk.out/manifest.json"), r#"{"version": "36.0.0"}"#).unwrap();
    std::fs::write(dir.path().join("package.json"), r#"{"name": "app"}"#).unwrap();
    std::fs::create_dir_all(dir.path().join("node_modules/x")).unwrap();
    std::fs::write(dir.path().join("node_modules/x/t.yaml"), "Resources: {B: {Type: AWS::S3::Bucket}}").unwrap();
    // YAML no CloudFormation reader takes (a Kubernetes manifest with a tag): not a template.
    std::fs::write(dir.path().join("deploy.yml"), "kind: Deployment\nspec: !!python/name:x {}\n").unwrap();
    // Upper-case extensions and links to files are walked too.
    std::fs::copy("tests/fixtures/stacks/compliant.yaml", dir.path().join("other.YAML")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("app.yaml"), dir.path().join("linked.yaml")).unwrap();
    // `aws cloudformation get-template` output is judged as its TemplateBody.
    let body = std::fs::read_to_string("tests/fixtures/stacks/violations.yaml").unwrap();
    let exported = json!({"TemplateBody": body, "StagesAvailable": ["Original", "Processed"]});
    std::fs::write(dir.path().join("exported.json"), exported.to_string()).unwrap();
    let run = rcfge(&[&["validate"][..], &CONTEXT, &[dir.path().to_str().unwrap()]].concat());
    assert_eq!(run.code, 1, "the exported template holds violations: {}{}", run.stdout, run.stderr);
    assert!(run.stdout.ends_with("; 3 files skipped (not stack templates)\n"), "{}", run.stdout);
    assert!(run.stdout.contains("NOTE   the file is `aws cloudformation get-template` output"), "{}", run.stdout);
    assert!(run.stdout.contains("other.YAML") && run.stdout.contains("linked.yaml"), "{}", run.stdout);
    assert!(!run.stdout.contains("manifest.json") && !run.stdout.contains("node_modules"), "{}", run.stdout);
    // The overview lists what it left out.
    let run = rcfge(&[&["validate"][..], &CONTEXT, &["--summary", dir.path().to_str().unwrap()]].concat());
    assert!(
        run.stdout.contains("note: 3 files found in the directories are not stack templates and were skipped:"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("deploy.yml (not a CloudFormation template)"), "{}", run.stdout);
    // A directory without any template is an error, not a clean run.
    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("notes.txt"), "x").unwrap();
    let run = rcfge(&[&["validate"][..], &CONTEXT, &[empty.path().to_str().unwrap()]].concat());
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no stack templates (*.json, *.yaml, *.yml, *.template) in"), "{}", run.stderr);
    // Named on the command line, a file without Resources is an error as before.
    let named = dir.path().join("package.json");
    let run = rcfge(&[&["validate"][..], &CONTEXT, &[named.to_str().unwrap()]].concat());
    assert_eq!(run.code, 2, "{}", run.stdout);
}

#[test]
fn the_html_overview_is_one_escaped_page_with_a_chart() {
    let run = summary(&["--format", "html", "tests/fixtures/stacks"]);
    assert_eq!(run.code, 1);
    let page = &run.stdout;
    assert!(page.starts_with("<!doctype html>") && page.ends_with("</html>\n"));
    assert!(page.contains(
        "<svg role=\"img\" aria-label=\"resources by type: refused now, once enforced, not evaluated, waived\""
    ));
    assert_eq!(page.matches("<rect class=\"refused\"").count(), 5 + 1, "five types' bars and the legend");
    // Self-contained: nothing is fetched.
    for outside in ["<script", "src=", "href=", "url(", "@import"] {
        assert!(!page.contains(outside), "{outside}");
    }
    // Names from the templates cannot become markup.
    let dir = tempfile::tempdir().unwrap();
    let stack = dir.path().join("s.json");
    std::fs::write(
        &stack,
        r#"{"Resources": {"B": {"Type": "AWS::SQS::Queue", "Properties": {"<img src=x onerror=alert(1)>": 1}}}}"#,
    )
    .unwrap();
    let run = summary(&["--format", "html", stack.to_str().unwrap()]);
    assert!(run.stdout.contains("&lt;img src=x onerror=alert(1)&gt;"), "{}", run.stdout);
    assert!(!run.stdout.contains("<img"));
    // HTML is the overview's format only.
    let run = rcfge(&[&["validate"][..], &CONTEXT, &["--format", "html", "tests/fixtures/stacks"]].concat());
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--format html is the overview's: add --summary"), "{}", run.stderr);
}

/// Decision records as the function writes them, answered in this process for a set of
/// events, exported as CloudWatch Logs writes them to S3 (a timestamp, then the line).
fn exported_records(templates: &std::path::Path) -> String {
    let engine = Engine::new(DirSource::new(templates).unwrap(), EngineConfig::default());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let bucket = |extra: Value, account: &str| {
        let mut properties: Value =
            serde_json::from_str(&std::fs::read_to_string("tests/fixtures/aws-s3-bucket/valid-minimal.json").unwrap())
                .unwrap();
        for (k, v) in extra.as_object().unwrap() {
            properties[k] = v.clone();
        }
        let mut e = event("AWS::S3::Bucket", "CREATE_PRE_PROVISION", properties);
        e["awsAccountId"] = json!(account);
        e["stackId"] = json!(format!(
            "arn:aws:cloudformation:eu-west-1:{account}:stack/tests/0a1b2c3d-0000-1111-2222-333344445555"
        ));
        e
    };
    let events = [
        bucket(json!({}), "111122223333"),
        bucket(json!({"NewFeature": 1}), "111122223333"),
        bucket(json!({"NewFeature": 1, "Tags": [{"Key": "a", "Value": "b", "Extra": 1}]}), "444455556666"),
        event("AWS::SQS::Queue", "CREATE_PRE_PROVISION", json!({"NewFeature": 1})),
        event("Acme::Ledger::Entry", "CREATE_PRE_PROVISION", json!({})),
    ];
    let mut log = String::from("2026-12-07T05:00:00.000Z START RequestId: 1 Version: $LATEST\n");
    for e in events {
        let bytes = e.to_string();
        let answer = runtime.block_on(lambda::answer_bytes(
            &engine,
            bytes.as_bytes(),
            &EventDefaults::default(),
            lambda::TIME_BUDGET,
        ));
        log.push_str(&format!(
            "2026-12-07T05:00:01.000Z {}\n",
            answer.record.emf(1_796_000_000_000, lambda::Metrics::default())
        ));
    }
    log
}

#[test]
fn decisions_summarize_reads_the_hooks_records() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("export.log");
    std::fs::write(&log, exported_records(std::path::Path::new("templates"))).unwrap();
    let run = rcfge(&["decisions", "summarize", "--format", "json", log.to_str().unwrap()]);
    assert_eq!(run.code, 1, "refusals: {}{}", run.stdout, run.stderr);
    let impact: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(impact["source"], "decision-records");
    // Five decisions about four resources: the same bucket was answered twice, and its last
    // answer (refused) counts.
    assert_eq!((impact["decisions"].as_u64(), impact["resources"].as_u64()), (Some(5), Some(4)));
    assert_eq!(impact["compliant"], 0);
    assert_eq!(impact["totals"], json!({"refused": 3, "wouldRefuse": 0, "waived": 0, "notEvaluated": 1}));
    assert_eq!(
        impact["byType"][0],
        json!({"key": "AWS::S3::Bucket", "refused": 2, "wouldRefuse": 0, "waived": 0, "notEvaluated": 0})
    );
    assert_eq!(
        impact["byRule"][0],
        json!({"key": "AWS::S3::Bucket /NewFeature", "refused": 2, "wouldRefuse": 0, "waived": 0, "notEvaluated": 0})
    );
    assert!(impact["byRule"].as_array().unwrap().iter().any(|g| g["key"] == "AWS::S3::Bucket /Tags/*/Extra"));
    assert_eq!(impact["byPlace"][0]["key"], "111122223333");
    let text = rcfge(&["decisions", "summarize", log.to_str().unwrap()]);
    assert!(
        text.stdout.starts_with(
            "What enforcing today would refuse, from 4 resources, each by the last of 5 decision records about it:"
        ),
        "{}",
        text.stdout
    );

    // A file without records is refused, not summarised as nothing.
    let empty = dir.path().join("empty.log");
    std::fs::write(&empty, "START RequestId: 1\nEND RequestId: 1\n").unwrap();
    let run = rcfge(&["decisions", "summarize", empty.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no rcfge decision records"), "{}", run.stderr);
}

#[test]
fn decisions_summarize_counts_what_audit_mode_and_waivers_let_through() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir("templates").unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    for entry in std::fs::read_dir("guard-rules").unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let today = rcfge::rollout::Date::today();
    std::fs::write(
        dir.path().join("_settings.json"),
        json!({"baseline": "on", "enforcement": {"default": "enforce", "types": {"AWS::SQS::Queue": "audit"}}})
            .to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("_waivers.json"),
        json!({"maxLifetimeDays": 30, "waivers": [{
            "id": "W-9", "type": "AWS::S3::Bucket", "rule": "/Tags", "accounts": ["444455556666"],
            "reason": "r", "approver": "a",
            "created": today.to_string(), "expires": today.plus_days(10).unwrap().to_string()
        }]})
        .to_string(),
    )
    .unwrap();
    let log = dir.path().join("export.log");
    std::fs::write(&log, exported_records(dir.path())).unwrap();
    let run = rcfge(&["decisions", "summarize", "--format", "json", log.to_str().unwrap()]);
    let impact: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(impact["totals"], json!({"refused": 2, "wouldRefuse": 1, "waived": 0, "notEvaluated": 1}));
    assert_eq!(
        impact["byWaiver"],
        json!([{"key": "W-9", "refused": 0, "wouldRefuse": 0, "waived": 1, "notEvaluated": 0}])
    );
    assert!(impact["byRule"].as_array().unwrap().iter().any(|g| g == &json!({"key": "AWS::SQS::Queue /NewFeature", "refused": 0, "wouldRefuse": 1, "waived": 0, "notEvaluated": 0})));
}

/// `hook serve-events --records` writes the records the function would log: what
/// `decisions summarize` reads.
#[test]
fn replayed_events_give_records_to_summarize() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records.jsonl");
    let run = rcfge(&["hook", "serve-events", "tests/fixtures/events", "--records", records.to_str().unwrap()]);
    assert_eq!(run.code, 2, "the fixture events include faults: {}{}", run.stdout, run.stderr);
    let events = std::fs::read_dir("tests/fixtures/events").unwrap().count();
    let text = std::fs::read_to_string(&records).unwrap();
    assert_eq!(text.lines().count(), events);
    let run = rcfge(&["decisions", "summarize", "--format", "json", records.to_str().unwrap()]);
    assert_eq!(run.code, 1, "the events include refusals: {}", run.stderr);
    let impact: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(impact["decisions"], events);
    assert!(impact["requestsNotEvaluated"].as_u64().unwrap() >= 3, "malformed and unknown events: {impact:#}");
    // The fixture events answer the same bucket several times: it counts once.
    assert!(impact["resources"].as_u64().unwrap() < events as u64, "{impact:#}");
}
