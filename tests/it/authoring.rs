//! `rcfge templates new | lint | gaps` over the bundled templates and pinned schemas.

use crate::support::rcfge;

#[test]
fn the_bundled_templates_pass_lint() {
    let run = rcfge(&["templates", "lint"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.ends_with("3 templates, 0 findings\n"), "{}", run.stdout);
}

#[test]
fn lint_names_file_and_pointer_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let template = r#"{
      "typeName": "AWS::SQS::Queue", "type": "object",
      "properties": {
        "QueueNmae": {"type": "string"},
        "DelaySeconds": {"type": "string"},
        "RedrivePolicy": {"type": "object", "properties": {"deadLetterTargetArn": {"type": "string", "pattern": "^{{orgDlq}}$"}}}
      }
    }"#;
    std::fs::write(dir.path().join("aws-sqs-queue.json"), template).unwrap();
    let run = rcfge(&["templates", "lint", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let lines: Vec<&str> =
        run.stdout.lines().map(|l| l.split_once("aws-sqs-queue.json:").map_or(l, |(_, rest)| rest)).collect();
    insta::assert_snapshot!(lines.join("\n"));
}

#[test]
fn gaps_report_what_teams_may_ask_for() {
    let run = rcfge(&["templates", "gaps"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!(run.stdout);
    let run = rcfge(&["templates", "gaps", "--type", "AWS::SQS::Queue"]);
    assert_eq!(
        run.stdout,
        "AWS::SQS::Queue: 20 of 21 settable provider properties approved; not approved:\n  RedriveAllowPolicy\n"
    );
}

#[test]
fn new_scaffolds_a_template_that_lint_accepts() {
    let run = rcfge(&["templates", "new", "AWS::SNS::Topic", "--stdout"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!(run.stdout);

    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().to_str().unwrap();
    let run = rcfge(&["templates", "new", "AWS::SQS::Queue", "--templates", templates]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = rcfge(&["templates", "lint", templates]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let run = rcfge(&["templates", "new", "AWS::SQS::Queue", "--templates", templates]);
    assert_eq!(run.code, 2, "an existing template is not overwritten");
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    let run = rcfge(&["templates", "new", "AWS::Nope::Thing"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("schemas/aws-nope-thing.json"), "{}", run.stderr);
}
