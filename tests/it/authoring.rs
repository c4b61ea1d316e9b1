//! `rcfge templates new | lint | gaps` over the bundled templates and pinned schemas.

use crate::support::rcfge;

#[test]
fn the_bundled_templates_pass_lint() {
    let run = rcfge(&["templates", "lint"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.ends_with(" templates, 0 findings\n"), "{}", run.stdout);
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
fn new_scaffolds_a_template_that_lint_accepts_once_reviewed() {
    let run = rcfge(&["templates", "new", "AWS::SNS::Topic", "--stdout"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!(run.stdout);

    let dir = tempfile::tempdir().unwrap();
    let templates = dir.path().to_str().unwrap();
    let run = rcfge(&["templates", "new", "AWS::SQS::Queue", "--templates", templates]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Unreviewed, the scaffold is refused for its placeholder owner and date only; once a person
    // fills them in, lint accepts it.
    let run = rcfge(&["templates", "lint", templates]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.ends_with("1 template, 2 findings\n"), "{}", run.stdout);
    assert!(run.stdout.contains("aws-sqs-queue.json:/x-rcfge/owner: the owner is `(team)`"), "{}", run.stdout);
    assert!(run.stdout.contains("aws-sqs-queue.json:/x-rcfge/reviewed: the review date is `(date)`"), "{}", run.stdout);
    let path = dir.path().join("aws-sqs-queue.json");
    let reviewed =
        std::fs::read_to_string(&path).unwrap().replace("(team)", "payments").replace("(date)", "2026-12-06");
    std::fs::write(&path, reviewed).unwrap();
    let run = rcfge(&["templates", "lint", templates]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let run = rcfge(&["templates", "new", "AWS::SQS::Queue", "--templates", templates]);
    assert_eq!(run.code, 2, "an existing template is not overwritten");
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    let run = rcfge(&["templates", "new", "AWS::Nope::Thing"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("schemas/aws-nope-thing.json"), "{}", run.stderr);
    assert!(run.stderr.contains("rcfge schemas import --from PATH --types AWS::Nope::Thing"), "{}", run.stderr);
}

#[test]
fn schemas_import_pins_the_types_of_the_templates() {
    // A cfn-lint distribution laid out as on PyPI, holding the bundled pinned schemas.
    let sdist = tempfile::tempdir().unwrap();
    let data = sdist.path().join("src/cfnlint/data/schemas");
    std::fs::create_dir_all(data.join("providers")).unwrap();
    std::fs::create_dir_all(data.join("resources")).unwrap();
    std::fs::write(sdist.path().join("PKG-INFO"), "Name: cfn-lint\nVersion: 1.58.0\n").unwrap();
    let mut providers = serde_json::Map::new();
    for (i, file) in ["aws-s3-bucket.json", "aws-sns-topic.json", "aws-sqs-queue.json"].iter().enumerate() {
        let body = std::fs::read(std::path::Path::new("schemas").join(file)).unwrap();
        let schema: serde_json::Value = serde_json::from_slice(&body).unwrap();
        providers.insert(schema["typeName"].as_str().unwrap().to_owned(), format!("hash{i}").into());
        std::fs::write(data.join("resources").join(format!("hash{i}.json")), body).unwrap();
    }
    std::fs::write(data.join("providers/us-east-1.json"), serde_json::Value::Object(providers).to_string()).unwrap();

    // The types to import are those of the templates.
    let templates = tempfile::tempdir().unwrap();
    for file in ["aws-s3-bucket.json", "aws-sns-topic.json", "aws-sqs-queue.json"] {
        std::fs::copy(std::path::Path::new("templates").join(file), templates.path().join(file)).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let run = rcfge(&[
        "schemas",
        "import",
        "--from",
        sdist.path().to_str().unwrap(),
        "--templates",
        templates.path().to_str().unwrap(),
        "--schemas",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("imported 3 schemas from the `cfn-lint` source distribution on PyPI, version 1.58.0"),
        "{}",
        run.stdout
    );
    for file in ["aws-s3-bucket.json", "aws-sns-topic.json", "aws-sqs-queue.json"] {
        let pinned = std::fs::read_to_string(std::path::Path::new("schemas").join(file)).unwrap();
        assert_eq!(
            std::fs::read_to_string(out.path().join(file)).unwrap(),
            pinned,
            "{file}: a refresh from the same source changes nothing"
        );
    }
    let source = std::fs::read_to_string(out.path().join("SOURCE.md")).unwrap();
    assert!(source.contains("| AWS::SQS::Queue | aws-sqs-queue.json | resources/hash2.json |"), "{source}");

    let run = rcfge(&[
        "schemas",
        "import",
        "--from",
        sdist.path().to_str().unwrap(),
        "--types",
        "AWS::Glue::Job",
        "--schemas",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no provider schema for AWS::Glue::Job"), "{}", run.stderr);
}

/// Refreshing the snapshot is the gate: `gaps --since` lists what a newer snapshot adds, and
/// the baseline takes it only when `templates freeze` is run again.
#[test]
fn a_newer_snapshot_widens_the_baseline_only_when_frozen_again() {
    let old = tempfile::tempdir().unwrap();
    let new = tempfile::tempdir().unwrap();
    let templates = tempfile::tempdir().unwrap();
    let file = "aws-ec2-eip.json";
    let mut schema: serde_json::Value =
        serde_json::from_slice(&std::fs::read(format!("schemas/{file}")).unwrap()).unwrap();
    schema["properties"]["Domain"]["enum"] = serde_json::json!(["vpc", "standard"]);
    std::fs::write(old.path().join(file), schema.to_string()).unwrap();
    schema["properties"]["QuantumTunnel"] = serde_json::json!({"type": "string", "enum": ["on"]});
    schema["properties"]["Domain"]["enum"] = serde_json::json!(["vpc", "standard", "hyperspace"]);
    std::fs::write(new.path().join(file), schema.to_string()).unwrap();
    let dir = |p: &tempfile::TempDir| p.path().to_str().unwrap().to_owned();

    let run = rcfge(&["templates", "gaps", "--since", &dir(&old), "--schemas", &dir(&new)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("AWS::EC2::EIP:\n  + property QuantumTunnel\n  + value \"hyperspace\" of Domain\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("0 new types, 1 new properties, 1 new values"), "{}", run.stdout);

    // Frozen from the old snapshot, the baseline refuses the new property; frozen again, it takes it.
    for (snapshot, refused) in [(&old, true), (&new, false)] {
        let run = rcfge(&["templates", "freeze", "--schemas", &dir(snapshot), "--templates", &dir(&templates)]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        std::fs::write(templates.path().join("_settings.json"), r#"{"baseline": "on"}"#).unwrap();
        let stack = crate::support::temp_file(
            ".yaml",
            "Resources:\n  Ip:\n    Type: AWS::EC2::EIP\n    Properties:\n      QuantumTunnel: 'on'\n",
        );
        let run = rcfge(&["validate", "--templates", &dir(&templates), stack.path().to_str().unwrap()]);
        assert_eq!(run.code, if refused { 1 } else { 0 }, "{}", run.stdout);
        assert_eq!(run.stdout.contains("QuantumTunnel is not an approved property"), refused, "{}", run.stdout);
    }
}

#[test]
fn lint_takes_template_files_and_the_templates_flag_as_the_other_authoring_commands_do() {
    let run = rcfge(&["templates", "lint", "templates/aws-sqs-queue.json", "templates/aws-sns-topic.json"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "2 templates, 0 findings\n"), "{}", run.stderr);
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("aws-sqs-queue.json");
    std::fs::write(&broken, r#"{"typeName": "AWS::SQS::Queue", "type": "object", "properties": {"Nope": {}}}"#)
        .unwrap();
    // Findings name the file as it was given.
    let run = rcfge(&["templates", "lint", broken.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.starts_with(&format!("{}:", broken.display())), "{}", run.stdout);
    let run = rcfge(&["templates", "lint", "--templates", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let run = rcfge(&["templates", "lint", "no-such-template.json"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cannot read no-such-template.json"), "{}", run.stderr);
}

#[test]
fn list_shows_every_approved_type_with_its_review() {
    let run = rcfge(&["templates", "list"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!(run.stdout);
    let run = rcfge(&["templates", "list", "--format", "json"]);
    let listed: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let reviewed = listed["reviewed"].as_array().unwrap();
    assert!(reviewed.iter().any(|t| t["typeName"] == "AWS::S3::Bucket" && t["guardRules"] == true), "{listed}");
    assert_eq!(listed["baselineOn"], true);
}

#[test]
fn schemas_import_says_what_it_reads_when_given_something_else() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("cfn_lint-1.58.0.tar.gz");
    std::fs::write(&archive, b"\x1f\x8b").unwrap();
    let schemas = dir.path().join("schemas");
    let run = |from: &std::path::Path| {
        rcfge(&[
            "schemas",
            "import",
            "--from",
            from.to_str().unwrap(),
            "--types",
            "AWS::S3::Bucket",
            "--schemas",
            schemas.to_str().unwrap(),
        ])
    };
    let tarball = run(&archive);
    assert_eq!(tarball.code, 2);
    assert!(tarball.stderr.contains("a .tar.gz is not read: unpack it first (tar xzf"), "{}", tarball.stderr);
    let missing = run(&dir.path().join("nowhere"));
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("nowhere: no such file or folder"), "{}", missing.stderr);
    let help = rcfge(&["schemas", "import", "--help"]).stdout;
    assert!(help.contains("CloudformationSchema.zip") && help.contains("tar xzf"), "{help}");
}

#[test]
fn lint_and_list_refuse_a_folder_that_holds_nothing_to_check() {
    let dir = tempfile::tempdir().unwrap();
    let run = rcfge(&["templates", "lint", dir.path().to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no templates (*.json) in this folder"), "{}", run.stderr);
    let run = rcfge(&["templates", "list", "--templates", "no-such-folder"]);
    assert_eq!((run.code, run.stderr.as_str()), (2, "rcfge: no-such-folder: not a folder\n"));
}
