//! `rcfge validate` over the fixture stacks with the bundled templates.

use crate::support::{rcfge, rcfge_command, run, temp_file};

const CONTEXT: [&str; 4] = ["--account-id", "111122223333", "--region", "eu-west-1"];

fn validate(files: &[&str]) -> crate::support::Run {
    let mut args = vec!["validate"];
    args.extend(CONTEXT);
    args.extend(files);
    rcfge(&args)
}

#[test]
fn every_fixture_stack() {
    insta::glob!("../fixtures", "stacks/*", |path| {
        let relative = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap().to_str().unwrap();
        let run = validate(&[relative]);
        insta::assert_snapshot!(format!("exit {}\n{}", run.code, run.stdout));
    });
}

#[test]
fn compliant_stack_exits_zero() {
    let run = validate(&["tests/fixtures/stacks/compliant.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("PASS   ReceiptsBucket (AWS::S3::Bucket)"));
    assert!(run.stdout.contains(
        "compliant.yaml:49:13: /NotificationConfiguration/TopicConfigurations/0/Topic: checked at deploy time: Ref to resource ReceiptsTopic"
    ));
}

#[test]
fn forms_cloudformation_accepts_are_read_as_it_reads_them() {
    let run = validate(&["tests/fixtures/stacks/accepted-forms.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    for deferred in [
        "checked at deploy time: HandlerRole is not in Resources: a transform of this template may add it",
        "checked at deploy time: the value is an output of another stack",
        "checked at deploy time: a dynamic reference",
        "checked at deploy time: a macro produces this value",
    ] {
        assert!(run.stdout.contains(deferred), "missing {deferred:?} in\n{}", run.stdout);
    }
}

#[test]
fn a_key_under_properties_written_as_a_branch_is_located_at_its_line() {
    let stack = temp_file(
        ".yaml",
        "Conditions:\n  C: !Equals [a, a]\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: !If\n      - C\n      - SqsManagedSseEnabled: true\n        NewFeature: 1\n      - SqsManagedSseEnabled: true\n",
    );
    let path = stack.path().to_str().unwrap();
    let run = validate(&[path]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!("{path}:9:9: /NewFeature: NewFeature is not an approved property")),
        "{}",
        run.stdout
    );
}

#[test]
fn violations_exit_one_and_list_every_reason() {
    let run = validate(&["tests/fixtures/stacks/violations.yaml"]);
    assert_eq!(run.code, 1);
    for expected in [
        "/NewFeature: NewFeature is not an approved property of AWS::S3::Bucket",
        "/NotificationConfiguration/TopicConfigurations/0/Topic: Topic \"arn:aws:sns:eu-west-1:444455556666:exfiltrate\" does not match",
        "/PublicAccessBlockConfiguration/BlockPublicPolicy: BlockPublicPolicy must be true, not false",
        "ERROR  NightlyJob (Acme::Batch::Job): no template for Acme::Batch::Job",
    ] {
        assert!(run.stdout.contains(expected), "missing {expected:?} in\n{}", run.stdout);
    }
    // "true" as a string satisfies a rule that requires true.
    assert!(!run.stdout.contains("BlockPublicAcls"), "{}", run.stdout);
}

#[test]
fn intrinsics_are_resolved_and_every_branch_is_judged() {
    let run = validate(&["tests/fixtures/stacks/intrinsics.json"]);
    assert_eq!(run.code, 1);
    for expected in [
        // A key is judged whatever its value: the Fn::If branch does not hide it.
        "intrinsics.json:18:9: /NewFeature: NewFeature is not an approved property",
        // The branch IsProd selects is judged, and its line is the branch's.
        "intrinsics.json:11:54: /BucketEncryption/ServerSideEncryptionConfiguration: ServerSideEncryptionConfiguration has fewer than 1 items",
        // Every allowed value of a parameter is judged.
        "/BlockPublicPolicy: BlockPublicPolicy must be true, not false (when BlockPolicy = false)",
        // What cannot be known locally is said so, with the flag that would make it known.
        "intrinsics.json:10:9: /BucketName: checked at deploy time: AWS::StackName: pass --stack-name",
    ] {
        assert!(run.stdout.contains(expected), "missing {expected:?} in\n{}", run.stdout);
    }
    let named = rcfge(&[
        "validate",
        "--account-id",
        "111122223333",
        "--region",
        "eu-west-1",
        "--stack-name",
        "payments",
        "--parameter",
        "BlockPolicy=true",
        "tests/fixtures/stacks/intrinsics.json",
    ]);
    assert!(!named.stdout.contains("BlockPublicPolicy"), "{}", named.stdout);
    assert!(!named.stdout.contains("checked at deploy time"), "{}", named.stdout);
}

#[test]
fn a_missing_placeholder_value_names_the_flag() {
    let run = rcfge(&["validate", "tests/fixtures/stacks/compliant.yaml"]);
    assert_eq!(run.code, 2);
    assert!(run.stdout.contains("hint: pass --account-id"), "{}", run.stdout);
    assert!(run.stdout.contains("hint: pass --region"), "{}", run.stdout);
}

#[test]
fn exempt_types_pass_without_a_template() {
    let stack = temp_file(".yaml", "Resources:\n  Fn:\n    Type: AWS::Glue::Job\n    Properties: {}\n");
    let path = stack.path().to_str().unwrap();
    let mut args = vec!["validate", "--exempt", "AWS::Glue::Job", path];
    args.extend(CONTEXT);
    let run = rcfge(&args);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("EXEMPT Fn (AWS::Glue::Job)"), "{}", run.stdout);
    let run = validate(&[path]);
    assert_eq!(run.code, 1, "{}", run.stdout);
}

#[test]
fn unreadable_input_is_a_usage_error() {
    let run = validate(&["tests/fixtures/stacks/no-such-stack.yaml"]);
    assert_eq!(run.code, 2);
    assert!(run.stdout.contains("ERROR  cannot validate this file"), "{}", run.stdout);

    let broken = temp_file(".yaml", "Resources:\n  B:\n    Type: AWS::S3::Bucket\n  B:\n    Type: AWS::S3::Bucket\n");
    let run = validate(&[broken.path().to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stdout.contains("duplicate"), "{}", run.stdout);

    let merge = temp_file(
        ".yaml",
        "Shared: &s {BucketName: x}\nResources:\n  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      <<: *s\n",
    );
    let run = validate(&[merge.path().to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stdout.contains("merge keys"), "{}", run.stdout);
}

/// A usage error is one line on stderr, naming the file and the cause once.
#[test]
fn usage_errors_name_the_file_and_the_cause_once() {
    let missing = "No such file or directory (os error 2)";
    let compliant = "tests/fixtures/stacks/compliant.yaml";
    let cases: [(&[&str], String); 5] = [
        (
            &["validate", "--parameters-file", "no-such-parameters.json", compliant],
            format!("rcfge: cannot read no-such-parameters.json: {missing}\n"),
        ),
        (&["hook", "serve-events", "no-such-events"], format!("rcfge: cannot read no-such-events: {missing}\n")),
        (
            &["templates", "new", "AWS::S3::Bucket", "--schemas", "no-such-schemas", "--stdout"],
            "rcfge: no pinned provider schema for AWS::S3::Bucket (no-such-schemas/aws-s3-bucket.json): pin it first \
             with `rcfge schemas import --from PATH --types AWS::S3::Bucket`\n"
                .to_owned(),
        ),
        (&["templates", "gaps", "--templates", "no-such-templates"], format!("rcfge: {missing}\n")),
        // With two things wrong, the template source is reported first, as it is opened first.
        (
            &["validate", "--templates", "no-such-templates", "--account-id", "12", compliant],
            "rcfge: template directory no-such-templates does not exist or is not a directory\n".to_owned(),
        ),
    ];
    for (args, expected) in cases {
        let run = rcfge(args);
        assert_eq!(run.code, 2, "{args:?}");
        assert_eq!(run.stderr, expected, "{args:?}");
    }
    let broken = temp_file(".json", r#"{"Env": "a", "Env": "b"}"#);
    let run = rcfge(&["validate", "--parameters-file", broken.path().to_str().unwrap(), compliant]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr.matches("duplicate").count(), 1, "{}", run.stderr);
}

#[test]
fn bad_flags_are_usage_errors() {
    let run = rcfge(&["validate", "--account-id", "12", "tests/fixtures/stacks/compliant.yaml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--account-id must be an account ID of 12 digits, not `12`"), "{}", run.stderr);
    let run = rcfge(&["validate", "--var", "accountId=1", "tests/fixtures/stacks/compliant.yaml"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("built-in"), "{}", run.stderr);
    let run = rcfge(&["validate"]);
    assert_eq!(run.code, 2);
}

#[test]
fn machine_readable_formats() {
    let stack = "tests/fixtures/stacks/violations.yaml";
    let run = |format: &str| {
        let mut args = vec!["validate", "--format", format, stack];
        args.extend(CONTEXT);
        rcfge(&args)
    };

    let json = run("json");
    assert_eq!(json.code, 1);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(
        report["summary"],
        serde_json::json!({"resources": 5, "compliant": 0, "nonCompliant": 4, "notEvaluated": 1, "notJudged": 0, "unreadableFiles": 0, "judgedByBaseline": 0, "allowedByRollout": 0, "wouldRefuse": 0, "waived": 0, "skippedFiles": 0})
    );
    assert_eq!(
        report["files"][0]["resources"][0]["violations"][1]["position"],
        serde_json::json!({"line": 7, "column": 7})
    );
    insta::assert_snapshot!("format-json", json.stdout);

    let sarif = run("sarif");
    assert_eq!(sarif.code, 1);
    let log: serde_json::Value = serde_json::from_str(&sarif.stdout).unwrap();
    assert_eq!(log["version"], "2.1.0");
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert_eq!(
        results.iter().filter(|r| r["level"] == "error").count(),
        16,
        "15 violations and 1 resource not evaluated"
    );
    assert!(
        results
            .iter()
            .filter(|r| r["ruleId"] != "rcfge/not-evaluated")
            .all(|r| r["locations"][0]["physicalLocation"]["region"]["startLine"].is_u64())
    );
    insta::assert_snapshot!("format-sarif", sarif.stdout);

    let junit = run("junit");
    assert_eq!(junit.code, 1);
    assert!(
        junit.stdout.contains(
            r#"<testsuite name="tests/fixtures/stacks/violations.yaml" tests="5" failures="4" errors="1" skipped="0">"#
        ),
        "{}",
        junit.stdout
    );
    insta::assert_snapshot!("format-junit", junit.stdout);
}

/// The published SARIF 2.1.0 schema (`sarif-2.1.0-rtm.5.json`, as shipped in the npm package
/// `@microsoft/jest-sarif`, MIT) is test data in `tests/fixtures/sarif-schema-2.1.0.json`, with
/// one change: the stray `]` in the two language-tag patterns (`...{2}]?$` → `...{2}$`), which
/// only a lenient ECMA regex engine accepts.
#[test]
fn sarif_output_is_valid_against_the_sarif_schema() {
    let schema_text =
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sarif-schema-2.1.0.json"))
            .unwrap();
    let schema: serde_json::Value = serde_json::from_slice(&schema_text).unwrap();
    let validator = jsonschema::draft4::new(&schema).unwrap();
    let mut args = vec!["validate", "--format", "sarif"];
    args.extend(CONTEXT);
    args.extend([
        "tests/fixtures/stacks/violations.yaml",
        "tests/fixtures/stacks/intrinsics.json",
        "tests/fixtures/stacks/compliant.yaml",
        "tests/fixtures/stacks/missing.yaml",
    ]);
    // The corpus adds resources not judged locally, template errors and macro notes.
    let corpus: Vec<String> = std::fs::read_dir("tests/fixtures/corpus")
        .unwrap()
        .map(|entry| entry.unwrap().path().display().to_string())
        .collect();
    args.extend(corpus.iter().map(String::as_str));
    let run = rcfge(&args);
    let log: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let errors: Vec<String> = validator.iter_errors(&log).map(|e| format!("{}: {e}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert!(results.len() > 100);
    for rule in ["rcfge/not-judged", "rcfge/invalid-template", "rcfge/deploy-time"] {
        assert!(results.iter().any(|r| r["ruleId"] == rule), "no {rule} result");
    }
    let mut broken = log.clone();
    broken["runs"][0]["results"][0]["level"] = serde_json::json!("fatal");
    assert!(!validator.is_valid(&broken), "the schema does check results");
}

/// The fixture corpus: every intrinsic function, conditions, parameters, transforms and the
/// template errors CloudFormation refuses, each with its report as a snapshot.
#[test]
fn every_corpus_template() {
    insta::glob!("../fixtures", "corpus/*", |path| {
        let relative = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap().to_str().unwrap();
        let run = validate(&[relative]);
        insta::assert_snapshot!(format!("exit {}\n{}", run.code, run.stdout));
    });
}

/// What must hold on the whole corpus: every finding has a line, no intrinsic function is
/// judged as a value, and the report is never a crash.
#[test]
fn corpus_findings_have_lines_and_never_judge_an_intrinsic() {
    let files: Vec<String> = std::fs::read_dir("tests/fixtures/corpus")
        .unwrap()
        .map(|entry| entry.unwrap().path().display().to_string())
        .collect();
    assert!(files.len() >= 40, "the corpus has {} templates", files.len());
    let mut args = vec!["validate", "--format", "json"];
    args.extend(CONTEXT);
    args.extend(files.iter().map(String::as_str));
    let run = rcfge(&args);
    assert_eq!(run.code, 2, "the corpus holds refused files: {}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let mut findings = 0;
    for file in report["files"].as_array().unwrap() {
        for resource in file["resources"].as_array().unwrap() {
            for finding in
                resource["violations"].as_array().unwrap().iter().chain(resource["deferred"].as_array().unwrap())
            {
                findings += 1;
                assert!(finding["position"]["line"].as_u64().is_some(), "no line: {} {finding}", file["path"]);
                // A key that is not approved is refused whatever its value; any other finding
                // about an intrinsic would be judging it as a value.
                if finding["keyword"] == "additionalProperties" {
                    continue;
                }
                let value = finding["value"].as_str().unwrap_or_default();
                assert!(
                    !value.starts_with("{\"Ref\"") && !value.starts_with("{\"Fn::") && !value.contains("{{resolve:"),
                    "an intrinsic judged as a value: {} {finding}",
                    file["path"]
                );
            }
        }
    }
    assert!(findings > 50, "only {findings} findings");
}

/// Both branches of every `Fn::If` are judged: each branch of these fixtures holds a
/// violation of its own, or removes a required property.
#[test]
fn every_if_branch_is_judged() {
    for (file, expected) in [
        (
            "tests/fixtures/corpus/if-novalue-required-property.yaml",
            vec!["KmsMasterKeyId is required by the AWS::SNS::Topic template (when UseCmk = false)"],
        ),
        (
            "tests/fixtures/corpus/conditions-and-or-not.yaml",
            vec!["(when Env = dev, Tier = public)", "(when Env = dev, Tier = internal)"],
        ),
        (
            "tests/fixtures/corpus/whole-properties-if.json",
            vec!["SqsManagedSseEnabled must be true, not false (when Env = dev)"],
        ),
        (
            "tests/fixtures/corpus/if-hides-unapproved-key.yaml",
            vec!["AccelerateConfiguration is not an approved property of AWS::S3::Bucket (when Env = prod)"],
        ),
    ] {
        let run = validate(&[file]);
        for text in expected {
            assert!(run.stdout.contains(text), "{file}: missing {text:?} in\n{}", run.stdout);
        }
    }
}

/// The rollout templates are read and judged like any stack (whether they pass is the
/// rollout's own check).
#[test]
fn stacksets_templates_validate_without_crashing() {
    let files: Vec<String> = std::fs::read_dir("stacksets")
        .unwrap()
        .map(|entry| entry.unwrap().path().display().to_string())
        .filter(|path| path.ends_with(".yaml"))
        .collect();
    assert!(files.len() >= 2, "{files:?}");
    for file in files {
        let run = validate(&[&file]);
        assert!(run.code == 0 || run.code == 1, "{file}: exit {}\n{}{}", run.code, run.stdout, run.stderr);
        assert!(!run.stdout.contains("cannot validate this file"), "{file}:\n{}", run.stdout);
        assert!(!run.stdout.contains("invalid template"), "{file}:\n{}", run.stdout);
    }
}

/// Every custom resource type is judged by the one custom-resource template: its ServiceToken
/// must be a function or topic of the deploying account and Region; a name CloudFormation
/// would not accept is refused.
#[test]
fn custom_resources_share_one_template() {
    let stack = temp_file(
        ".yaml",
        "Resources:
  Cleanup:
    Type: Custom::S3AutoDeleteObjects
    Properties:
      ServiceToken: arn:aws:lambda:eu-west-1:111122223333:function:auto-delete
      BucketName: receipts
  Generic:
    Type: AWS::CloudFormation::CustomResource
    Properties:
      ServiceToken: arn:aws:sns:eu-west-1:111122223333:provisioning
  Foreign:
    Type: Custom::Cross-Account_Thing
    Properties:
      ServiceToken: arn:aws:lambda:eu-west-1:444455556666:function:collector
  Odd:
    Type: Custom::a/b
    Properties:
      ServiceToken: arn:aws:lambda:eu-west-1:111122223333:function:auto-delete
",
    );
    let run = validate(&[stack.path().to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    for expected in [
        "PASS   Cleanup (Custom::S3AutoDeleteObjects)",
        "PASS   Generic (AWS::CloudFormation::CustomResource)",
        "FAIL   Foreign (Custom::Cross-Account_Thing): 1 violation",
        "/ServiceToken: ServiceToken \"arn:aws:lambda:eu-west-1:444455556666:function:collector\" does not match",
        "ERROR  Odd (Custom::a/b): cannot load the template for Custom::a/b: `Custom::a/b` is not a CloudFormation resource type name",
    ] {
        assert!(run.stdout.contains(expected), "missing {expected:?} in\n{}", run.stdout);
    }
}

/// A module is expanded by CloudFormation before any hook runs: its resources are judged then,
/// so it is left out locally (SKIP), never passed.
#[test]
fn modules_are_left_to_deploy_time() {
    let stack = temp_file(
        ".yaml",
        "Resources:\n  Network:\n    Type: Acme::Network::Vpc::MODULE\n    Properties:\n      Cidr: 10.0.0.0/16\n",
    );
    let run = validate(&[stack.path().to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains("SKIP   Network (Acme::Network::Vpc::MODULE): not judged locally: a module"),
        "{}",
        run.stdout
    );
}

/// A custom resource's ServiceToken known only at deploy time (a parameter) could name another
/// account's function: refused where it is judged. An export is the account's own.
#[test]
fn a_custom_resource_service_token_from_a_parameter_is_refused() {
    let stack = temp_file(
        ".yaml",
        "Parameters:
  Token:
    Type: String
Resources:
  FromParameter:
    Type: Custom::Thing
    Properties:
      ServiceToken: !Ref Token
  FromExport:
    Type: Custom::Thing
    Properties:
      ServiceToken: !ImportValue shared-provider-arn
  FromOwnFunction:
    Type: Custom::Thing
    Properties:
      ServiceToken: !GetAtt Provider.Arn
  FromOwnTopic:
    Type: Custom::Thing
    Properties:
      ServiceToken: !Ref Requests
  FromNestedStackOutput:
    Type: Custom::Thing
    Properties:
      ServiceToken: !GetAtt Nested.Outputs.ProviderArn
  FromComputedArn:
    Type: Custom::Thing
    Properties:
      ServiceToken: !Join ['', [!GetAtt Provider.Arn]]
  Requests:
    Type: AWS::SNS::Topic
  Nested:
    Type: AWS::CloudFormation::Stack
  Provider:
    Type: AWS::Lambda::Function
",
    );
    let run = validate(&[stack.path().to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.contains("FAIL   FromParameter (Custom::Thing): 1 violation"), "{}", run.stdout);
    assert!(
        run.stdout.contains("/ServiceToken: ServiceToken comes from Ref and is known only at deploy time"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("PASS   FromExport (Custom::Thing)"), "{}", run.stdout);
    // A function or topic of the same stack is the deploying account's, and is judged itself.
    assert!(run.stdout.contains("PASS   FromOwnFunction (Custom::Thing)"), "{}", run.stdout);
    assert!(run.stdout.contains("PASS   FromOwnTopic (Custom::Thing)"), "{}", run.stdout);
    // A nested stack's output could be anything; a computed value is not looked into.
    assert!(run.stdout.contains("FAIL   FromNestedStackOutput (Custom::Thing): 1 violation"), "{}", run.stdout);
    assert!(run.stdout.contains("FAIL   FromComputedArn (Custom::Thing): 1 violation"), "{}", run.stdout);
}

/// `-` reads the template from standard input, as `cat stack.yaml | rcfge validate -` expects.
#[test]
fn a_template_on_standard_input() {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rcfge"))
        .args(["validate", "--account-id", "111122223333", "--region", "eu-west-1", "-"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let text = std::fs::read_to_string("tests/fixtures/stacks/violations.yaml").unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.starts_with("-\n  FAIL   UploadsBucket (AWS::S3::Bucket): 5 violations\n"), "{stdout}");
    assert!(stdout.contains("-:7:7: /NewFeature: NewFeature is not an approved property"), "{stdout}");
}

/// A repository with a project file at its root, a stack template in `stacks/` and a nested folder
/// to run from.
fn configured_repository(project_file: &str) -> tempfile::TempDir {
    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(repo.path().join("stacks")).unwrap();
    std::fs::create_dir_all(repo.path().join("src/deep")).unwrap();
    std::fs::copy("tests/fixtures/stacks/violations.yaml", repo.path().join("stacks/violations.yaml")).unwrap();
    let templates = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
    std::fs::write(repo.path().join(".rcfge.yaml"), project_file.replace("TEMPLATES", templates)).unwrap();
    repo
}

/// `rcfge ARGS` from `dir`, finding its project file as a developer's shell would.
fn rcfge_in(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> crate::support::Run {
    let mut command = rcfge_command(args);
    command.current_dir(dir).env_remove("RCFGE_CONFIG");
    command.envs(env.iter().copied());
    run(command)
}

const PROJECT_FILE: &str = "templates: TEMPLATES\naccount-id: '111122223333'\nregion: eu-west-1\npaths: [stacks]\n";

#[test]
fn a_bare_validate_in_a_configured_repository_reads_the_project_file_from_any_folder() {
    let repo = configured_repository(PROJECT_FILE);
    let bare = rcfge_in(&repo.path().join("src/deep"), &["validate"], &[]);
    assert_eq!(bare.code, 1, "{bare:?}");
    // Paths are reported relative to the working directory, as they were found.
    assert!(bare.stdout.starts_with("../../stacks/violations.yaml\n  FAIL   UploadsBucket"), "{}", bare.stdout);
    // The same judgement as with every setting given as a flag.
    let flags = crate::support::rcfge(&[
        "validate",
        "--account-id",
        "111122223333",
        "--region",
        "eu-west-1",
        "tests/fixtures/stacks/violations.yaml",
    ]);
    let templates = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
    assert_eq!(
        bare.stdout.replace("../../stacks/", "").replace(templates, "templates"),
        flags.stdout.replace("tests/fixtures/stacks/", ""),
    );
}

#[test]
fn a_flag_wins_over_its_environment_variable_which_wins_over_the_project_file() {
    let repo = configured_repository(PROJECT_FILE);
    // The environment overrides the file, and a bad value is named by where it came from.
    let run = rcfge_in(repo.path(), &["validate"], &[("RCFGE_REGION", "euwest1")]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (2, "rcfge: RCFGE_REGION must be a Region code such as eu-west-1, not `euwest1`\n")
    );
    // The flag overrides the environment.
    let run = rcfge_in(repo.path(), &["validate", "--region", "eu-west-1"], &[("RCFGE_REGION", "euwest1")]);
    assert_eq!(run.code, 1, "{run:?}");
    // A project file's own bad value names the file and the key.
    let repo = configured_repository("templates: TEMPLATES\naccount-id: '1234'\n");
    let run = rcfge_in(repo.path(), &["validate", "stacks"], &[]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (2, "rcfge: `account-id` in .rcfge.yaml must be an account ID of 12 digits, not `1234`\n")
    );
    // --no-config reads no file: the context is missing again.
    let templates = concat!(env!("CARGO_MANIFEST_DIR"), "/templates");
    let run = rcfge_in(repo.path(), &["--no-config", "validate", "--templates", templates, "stacks"], &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stdout.contains("placeholders `accountId`, `region` have no value"), "{}", run.stdout);
    // Variables: the file's, then RCFGE_VARS, then --var.
    let run = rcfge_in(repo.path(), &["validate", "stacks"], &[("RCFGE_VARS", "[1]")]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("RCFGE_VARS must be a JSON object"), "{}", run.stderr);
}

#[test]
fn a_project_file_that_cannot_be_used_stops_the_run_and_says_why() {
    for (text, expected) in [
        ("acount-id: '111122223333'\n", "unknown field `acount-id`"),
        ("exempt: [AWS::IAM::Role]\n", "unknown field `exempt`"),
        ("region: [eu-west-1]\n", "invalid type"),
        ("region: eu-west-1\nregion: us-east-1\n", "duplicate key `region`"),
        ("vars: {accountId: x}\n", "built-in name"),
        ("templates: /nowhere/at/all\npaths: [stacks]\n", "template directory /nowhere/at/all does not exist"),
    ] {
        let repo = configured_repository(text);
        let run = rcfge_in(repo.path(), &["validate", "stacks"], &[]);
        assert_eq!(run.code, 2, "{text}: {run:?}");
        assert!(run.stderr.contains(expected), "{text}: {}", run.stderr);
    }
    // Without paths to check, a bare validate says where to list them.
    let repo = configured_repository("region: eu-west-1\n");
    let run = rcfge_in(repo.path(), &["validate"], &[]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (2, "rcfge: name templates or directories to validate, or list them under `paths:` in .rcfge.yaml\n")
    );
}

#[test]
fn region_and_partition_flags_are_checked() {
    for (flag, value, expected) in [
        ("--region", "euwest1", "--region must be a Region code such as eu-west-1, not `euwest1`"),
        ("--partition", "awz", "--partition must be one of aws, aws-cn,"),
    ] {
        let run = rcfge(&["validate", flag, value, "tests/fixtures/stacks/violations.yaml"]);
        assert_eq!(run.code, 2, "{run:?}");
        assert!(run.stderr.contains(expected), "{}", run.stderr);
    }
}

#[test]
fn a_misspelt_type_is_answered_with_the_closest_type_that_has_a_template() {
    let stack = temp_file(
        ".yaml",
        "Resources:\n  A:\n    Type: AWS::SQS::Queeu\n  B:\n    Type: AWS::EC2::Rotue\n  C:\n    Type: Acme::Ledger::Entyr\n",
    );
    let run = validate(&[stack.path().to_str().unwrap()]);
    assert_eq!(run.code, 1, "{run:?}");
    // A reviewed template's type, a baseline template's type, and nothing near: no guess.
    assert!(run.stdout.contains("the type is not approved; did you mean `AWS::SQS::Queue`?"), "{}", run.stdout);
    assert!(run.stdout.contains("the type is not approved; did you mean `AWS::EC2::Route`?"), "{}", run.stdout);
    assert!(run.stdout.contains("(Acme::Ledger::Entyr): no template for Acme::Ledger::Entyr in directory templates, reviewed or baseline: the type is not approved\n"), "{}", run.stdout);
    let run = rcfge(&["render", "AWS::SQS::Queu"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("did you mean `AWS::SQS::Queue`?"), "{}", run.stderr);
}

#[test]
fn bash_completes_subcommands_and_flags_from_the_generated_script() {
    let script = rcfge(&["completions", "bash"]);
    assert_eq!(script.code, 0, "{}", script.stderr);
    let file = temp_file(".bash", &script.stdout);
    // The completion function as bash calls it on <TAB>: the words so far, the current index.
    let complete = |words: &str, current: usize| {
        let program = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={current}; _rcfge rcfge \"${{COMP_WORDS[$COMP_CWORD]}}\" \"${{COMP_WORDS[$COMP_CWORD-1]}}\"; echo \"${{COMPREPLY[@]}}\"",
            file.path().display()
        );
        let output = std::process::Command::new("bash").args(["--norc", "-c", &program]).output().unwrap();
        String::from_utf8(output.stdout).unwrap()
    };
    assert_eq!(complete("rcfge templates l", 2), "lint list\n");
    assert_eq!(complete("rcfge validate --for", 2), "--format\n");
    assert_eq!(complete("rcfge validate --format j", 3), "json junit\n");
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let run = rcfge(&["completions", shell]);
        assert_eq!(run.code, 0, "{shell}");
        assert!(run.stdout.contains("templates"), "{shell}");
    }
}

#[test]
fn the_readme_synopsis_names_every_command_and_flag_that_help_does() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let start = readme.find("\nrcfge validate [--templates").expect("the README's CLI synopsis");
    let block = &readme[start + 1..];
    let block = &block[..block.find("```").unwrap()];
    // A command starts a line with `rcfge`; the lines indented under it continue it.
    let mut synopsis: Vec<(Vec<String>, String)> = Vec::new();
    for line in block.lines() {
        if let Some(rest) = line.strip_prefix("rcfge ") {
            let words = rest
                .split(' ')
                .take_while(|w| w.chars().all(|c| c.is_ascii_lowercase() || c == '-') && !w.starts_with('-'));
            synopsis.push((words.map(str::to_owned).collect(), line.to_owned()));
        } else if line.starts_with(' ') {
            synopsis.last_mut().unwrap().1.push_str(line);
        }
    }
    let flags = |text: &str| -> std::collections::BTreeSet<String> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .filter(|w| w.starts_with("--") && w.len() > 2)
            .map(str::to_owned)
            .collect()
    };
    let global: std::collections::BTreeSet<String> =
        ["--help", "--version", "--config", "--no-config"].map(String::from).into();
    let mut documented = std::collections::BTreeSet::new();
    for (words, line) in &synopsis {
        let mut args: Vec<&str> = words.iter().map(String::as_str).collect();
        args.push("--help");
        let help = rcfge(&args);
        assert_eq!(help.code, 0, "rcfge {args:?}: {}", help.stderr);
        let options = &help.stdout[help.stdout.find("Options:").unwrap()..];
        let from_help: std::collections::BTreeSet<String> = flags(options).difference(&global).cloned().collect();
        assert_eq!(from_help, flags(line), "README synopsis of `rcfge {}` against its --help", words.join(" "));
        documented.insert(words.join(" "));
    }
    // And every command --help lists is in the synopsis.
    let commands = |args: &[&str]| -> Vec<String> {
        let help = rcfge(args).stdout;
        let listed = &help[help.find("Commands:").unwrap()..help.find("Options:").unwrap()];
        listed
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next())
            .filter(|c| *c != "help")
            .map(str::to_owned)
            .collect()
    };
    for command in commands(&["--help"]) {
        let nested = rcfge(&[command.as_str(), "--help"]).stdout;
        if nested.contains("Commands:") {
            for sub in commands(&[command.as_str(), "--help"]) {
                assert!(
                    documented.contains(&format!("{command} {sub}")),
                    "`rcfge {command} {sub}` is not in the README"
                );
            }
        } else {
            assert!(documented.contains(&command), "`rcfge {command}` is not in the README");
        }
    }
}

#[test]
fn quiet_shows_only_what_needs_action_and_every_file_gets_its_count() {
    let full = validate(&["tests/fixtures/stacks/compliant.yaml", "tests/fixtures/stacks/violations.yaml"]);
    let quiet = validate(&["-q", "tests/fixtures/stacks/compliant.yaml", "tests/fixtures/stacks/violations.yaml"]);
    assert_eq!((full.code, quiet.code), (1, 1));
    // Several files: each ends with its own count; the last line counts them all, in both modes.
    assert!(
        full.stdout.contains(
            "\n  tests/fixtures/stacks/compliant.yaml: 3 resources: 3 compliant, 0 non-compliant, 0 not evaluated\n"
        ),
        "{}",
        full.stdout
    );
    assert_eq!(full.stdout.lines().last(), quiet.stdout.lines().last());
    assert!(full.stdout.contains("PASS   ReceiptsQueue"), "{}", full.stdout);
    // Quiet: no compliant file, no PASS line; every refused resource with all its findings.
    assert!(!quiet.stdout.contains("compliant.yaml") && !quiet.stdout.contains("PASS"), "{}", quiet.stdout);
    for refused in
        ["FAIL   UploadsBucket", "FAIL   PlainQueue", "ERROR  NightlyJob", "violations.yaml:7:7: /NewFeature"]
    {
        assert!(quiet.stdout.contains(refused), "{refused}: {}", quiet.stdout);
    }
    let run = validate(&["-q", "--format", "json", "tests/fixtures/stacks/violations.yaml"]);
    assert_eq!(run.code, 2, "{run:?}");
}

#[test]
fn findings_are_listed_in_the_order_of_their_lines() {
    let run = validate(&["tests/fixtures/stacks/violations.yaml"]);
    let lines: Vec<usize> = run
        .stdout
        .lines()
        .skip_while(|l| !l.contains("FAIL   UploadsBucket"))
        .skip(1)
        .take_while(|l| l.starts_with("           "))
        .map(|l| l.split(':').nth(1).unwrap().parse().unwrap())
        .collect();
    assert_eq!(lines, [6, 7, 12, 15, 21], "{}", run.stdout);
}

#[test]
fn parse_messages_say_what_is_wrong_and_where() {
    let cases = [
        ("Resources:\n\tBucket:\n    Type: AWS::S3::Bucket\n", ".yaml", "tabs disallowed"),
        (
            "Resources:\n  A:\n    Type: AWS::S3::Bucket\n  A:\n    Type: AWS::S3::Bucket\n",
            ".yaml",
            "duplicate key `A` at line 4 column 3",
        ),
        (
            "{\"Resources\": {\"A\": {\"Type\": \"AWS::S3::Bucket\"},\n \"A\": {}}}",
            ".json",
            "duplicate key `A` at line 2",
        ),
        ("name: app\non: [push]\n", ".yml", "the template has no Resources section"),
    ];
    for (text, suffix, expected) in cases {
        let file = temp_file(suffix, text);
        let run = validate(&[file.path().to_str().unwrap()]);
        assert_eq!(run.code, 2, "{text}: {run:?}");
        assert!(run.stdout.contains(expected), "{text}: {}", run.stdout);
        assert!(run.stdout.ends_with("; 1 file could not be validated\n"), "{}", run.stdout);
    }
}

#[test]
fn a_template_that_hides_its_resources_key_is_never_skipped_as_no_template() {
    let dir = tempfile::tempdir().unwrap();
    // CloudFormation reads `\u0052esources` as `Resources`; rcfge refuses the file for its
    // reserved key. It must be an error, not a file skipped as "not a CloudFormation template".
    let hidden =
        r#"{"Metadata": {"rcfge:YamlScalarReadings": 1}, "\u0052esources": {"R": {"Type": "AWS::SQS::Queue"}}}"#;
    std::fs::write(dir.path().join("stack.json"), hidden).unwrap();
    // A broken JSON file whose key is escaped: it may still be meant as a template.
    std::fs::write(dir.path().join("broken.json"), r#"{"\u0052esources": {"R": {"Type": "AWS::SQS::Queue"}},}"#)
        .unwrap();
    // What pre-commit passes besides templates: skipped, even with YAML merge keys or comments.
    std::fs::write(dir.path().join("compose.yml"), "x: &d {image: a}\nweb:\n  <<: *d\n").unwrap();
    std::fs::write(dir.path().join("tsconfig.json"), "{ // comment\n \"compilerOptions\": {} }\n").unwrap();
    let run = validate(&[dir.path().to_str().unwrap()]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stdout.contains("stack.json\n  ERROR  cannot validate this file: the key `rcfge:YamlScalarReadings`"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("broken.json\n  ERROR  cannot validate this file: not valid JSON"), "{}", run.stdout);
    assert!(
        run.stdout.ends_with("; 2 files could not be validated; 2 files skipped (not stack templates)\n"),
        "{}",
        run.stdout
    );
    let named = |file: &str| dir.path().join(file).to_str().unwrap().to_owned();
    let run = validate(&["--skip-non-templates", &named("stack.json"), &named("compose.yml")]);
    assert_eq!(run.code, 2, "{run:?}");
}

#[test]
fn a_project_file_fills_in_variables_but_never_changes_the_sets_values() {
    let stack = std::fs::read_to_string("tests/fixtures/aws-iam-role/valid-minimal.json").unwrap();
    let mut properties: serde_json::Value = serde_json::from_str(&stack).unwrap();
    properties["PermissionsBoundary"] = "arn:aws:iam::111122223333:policy/no-boundary-at-all".into();
    let template = serde_json::json!({"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": properties}}});
    let repo = configured_repository(
        "templates: TEMPLATES\naccount-id: '111122223333'\nregion: eu-west-1\npaths: [stacks]\nvars: {permissionsBoundaryPolicy: no-boundary-at-all}\n",
    );
    std::fs::remove_file(repo.path().join("stacks/violations.yaml")).unwrap();
    std::fs::write(repo.path().join("stacks/role.json"), template.to_string()).unwrap();
    // _variables.json defines permissionsBoundaryPolicy: the file's value is not used.
    let run = rcfge_in(repo.path(), &["validate"], &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("/PermissionsBoundary"), "{}", run.stdout);
    // RCFGE_VARS and --var do override it: a person typed them.
    let run = rcfge_in(
        repo.path(),
        &["validate"],
        &[("RCFGE_VARS", r#"{"permissionsBoundaryPolicy": "no-boundary-at-all"}"#)],
    );
    assert_eq!(run.code, 0, "{run:?}");
}

#[test]
fn a_partition_that_does_not_match_the_region_or_a_bad_stack_name_is_refused() {
    let repo =
        configured_repository("templates: TEMPLATES\naccount-id: '111122223333'\npartition: aws-cn\npaths: [stacks]\n");
    let run = rcfge_in(repo.path(), &["validate", "--region", "eu-west-1"], &[]);
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (
            2,
            "rcfge: `partition` in .rcfge.yaml `aws-cn` does not match --region `eu-west-1`, a Region of the aws partition\n"
        )
    );
    let run = rcfge_in(repo.path(), &["validate", "--region", "cn-north-1", "--stack-name", "1st stack"], &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("--stack-name must be a stack name"), "{}", run.stderr);
    let run = rcfge_in(repo.path(), &["validate", "--region", "cn-north-1", "--stack-name", "payments-1"], &[]);
    assert_eq!(run.code, 1, "{run:?}");
}

/// A template large enough to be resolved and judged in several chunks: every resource is
/// reported in the template's order with exactly its own findings, at its own lines, as if it
/// had been judged alone.
#[test]
fn a_template_judged_in_several_chunks_reports_each_resource_as_its_own() {
    // 3,000 buckets of about 15 values each: more than twice the values of one chunk.
    let mut text = String::from("{\n\"Resources\": {\n");
    let mut expected = Vec::new();
    for i in 0..3_000 {
        let line = text.lines().count() + 1;
        let extra = match i % 7 {
            3 => ",\n\"NewFeature\": true",
            5 => ",\n\"ObjectLockEnabled\": true",
            _ => "",
        };
        text.push_str(&format!(
            "\"Bucket{i}\": {{\"Type\": \"AWS::S3::Bucket\", \"Properties\": {{\n\
             \"BucketEncryption\": {{\"ServerSideEncryptionConfiguration\": [{{\"ServerSideEncryptionByDefault\": {{\"SSEAlgorithm\": \"AES256\"}}}}]}},\n\
             \"PublicAccessBlockConfiguration\": {{\"BlockPublicAcls\": true, \"BlockPublicPolicy\": true, \"IgnorePublicAcls\": true, \"RestrictPublicBuckets\": true}},\n\
             \"OwnershipControls\": {{\"Rules\": [{{\"ObjectOwnership\": \"BucketOwnerEnforced\"}}]}}{extra}\n\
             }}}}{}\n",
            if i < 2_999 { "," } else { "" }
        ));
        // The extra property is on the fifth line of the resource.
        expected.push((format!("Bucket{i}"), i % 7, line + 4));
    }
    text.push_str("}\n}\n");
    let file = temp_file(".json", &text);
    let path = file.path().to_str().unwrap();
    let run = rcfge(&["validate", "--format", "json", "--account-id", "111122223333", "--region", "eu-west-1", path]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let resources = report["files"][0]["resources"].as_array().unwrap();
    assert_eq!(resources.len(), expected.len());
    for (resource, (logical_id, kind, line)) in resources.iter().zip(&expected) {
        assert_eq!(resource["logicalId"], logical_id.as_str());
        let violations = resource["violations"].as_array().unwrap();
        let pointers: Vec<&str> = violations.iter().map(|v| v["pointer"].as_str().unwrap()).collect();
        match kind {
            3 => assert_eq!(pointers, ["/NewFeature"], "{logical_id}"),
            5 => assert!(
                !pointers.is_empty() && pointers.iter().all(|p| *p == "/ObjectLockEnabled"),
                "{logical_id}: {pointers:?}"
            ),
            _ => assert!(pointers.is_empty(), "{logical_id}: {pointers:?}"),
        }
        for violation in violations {
            assert_eq!(violation["position"]["line"], *line, "{logical_id}: {violation}");
        }
    }
}
