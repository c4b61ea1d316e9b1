//! `rcfge publish` against a real S3-protocol server on loopback.

use std::path::Path;

use rcfge::template::Freshness;
use rcfge::template::S3Settings;
use rcfge::{Action, Context, Engine, EngineConfig, Target, Verdict};
use serde_json::json;

use crate::s3_server::S3Server;

fn publish(server: &S3Server, extra: &[&str]) -> (i32, String, String) {
    let uri = server.uri();
    let mut args = vec!["publish", "--to", uri.as_str()];
    args.extend(extra);
    let output = server.run_rcfge(&args, "AWS_ENDPOINT_URL");
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A copy of the set (templates, Guard rules, schemas) to change in a test.
fn copy_of_the_set() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("templates/baseline")).unwrap();
    for sub in ["templates", "guard-rules", "schemas"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        for entry in std::fs::read_dir(sub).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                std::fs::copy(&path, dir.path().join(sub).join(path.file_name().unwrap())).unwrap();
            }
        }
    }
    dir
}

fn dirs(set: &Path) -> Vec<String> {
    ["templates", "guard-rules", "schemas"]
        .iter()
        .flat_map(|sub| [format!("--{sub}"), set.join(sub).display().to_string()])
        .collect()
}

#[test]
fn publish_uploads_the_checked_set_and_prints_the_diff() {
    let server = S3Server::start_with(&[]);
    let guard_files =
        std::fs::read_dir("guard-rules").unwrap().filter(|e| e.as_ref().unwrap().path().is_file()).count();
    let json_files = |dir: &str| {
        std::fs::read_dir(dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json"))
            .count()
    };
    // The reviewed templates and organisation files, the whole baseline, the Guard rules.
    let local = json_files("templates") + json_files("templates/baseline") + guard_files;
    assert!(local > 1_800, "{local}");

    let (code, stdout, stderr) = publish(&server, &["--dry-run"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("+ aws-s3-bucket.json\n+ aws-s3-bucket.guard\n") || stdout.contains("+ aws-s3-bucket.guard")
    );
    assert!(stdout.contains(&format!("{local} to add, 0 to update, 0 unchanged")), "{stdout}");
    assert!(server.names().is_empty(), "a dry run changes nothing");

    let (code, stdout, stderr) = publish(&server, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains(&format!("{local} to add")), "{stdout}");
    assert_eq!(server.names().len(), local);

    // The hooks judge with what was published, Guard rules included.
    let settings = S3Settings { force_path_style: true, ..S3Settings::default() };
    let engine = Engine::new(
        server.source(&settings),
        EngineConfig { freshness: Freshness::default(), ..EngineConfig::default() },
    );
    let queue = Target {
        type_name: "AWS::SQS::Queue".into(),
        logical_id: "Orders".into(),
        action: Action::Create,
        properties: json!({"QueueName": "orders", "FifoQueue": true, "SqsManagedSseEnabled": true}),
        context: Context {
            account_id: Some("111122223333".into()),
            region: Some("eu-west-1".into()),
            partition: Some("aws".into()),
            ..Context::default()
        },
    };
    let decision = tokio::runtime::Runtime::new().unwrap().block_on(engine.decide(&queue));
    assert!(
        matches!(&decision.verdict, Verdict::NonCompliant(v) if v[0].keyword == "guard/sqs_fifo_queue_name"),
        "{:?}",
        decision.verdict
    );

    let (code, stdout, _) = publish(&server, &[]);
    assert_eq!(code, 0);
    assert!(stdout.contains(&format!("0 to add, 0 to update, {local} unchanged, 0 to delete, 0 kept")), "{stdout}");
}

#[test]
fn publish_updates_changed_files_and_deletes_only_when_asked() {
    let server = S3Server::start_with(&[("retired.json".to_owned(), b"{}".to_vec())]);
    let set = copy_of_the_set();
    let args = dirs(set.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = publish(&server, &args);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("? retired.json (in the bucket only; kept, --delete removes it)"), "{stdout}");
    assert!(server.names().contains(&"retired.json".to_owned()));

    let queue = set.path().join("templates/aws-sqs-queue.json");
    let text = std::fs::read_to_string(&queue).unwrap().replacen(
        "\"reviewed\": \"2026-11-22\"",
        "\"reviewed\": \"2026-11-23\"",
        1,
    );
    std::fs::write(&queue, text).unwrap();
    let mut deleting = args.clone();
    deleting.push("--delete");
    let (code, stdout, stderr) = publish(&server, &deleting);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("~ aws-sqs-queue.json\n"), "{stdout}");
    assert!(stdout.contains("- retired.json\n"), "{stdout}");
    assert!(stdout.contains("0 to add, 1 to update"), "{stdout}");
    assert!(!server.names().contains(&"retired.json".to_owned()));
}

#[test]
fn publish_refuses_a_set_that_fails_its_checks() {
    let server = S3Server::start_with(&[]);
    for (file, text, cause) in [
        ("guard-rules/aws-kms-key.guard", "rule broken {\n    Resources.* ==\n}\n", "do not parse"),
        (
            "templates/aws-sns-topic.json",
            r#"{"typeName": "AWS::SNS::Topic", "type": "object", "properties": {"TopicName": {"type": "string"}}}"#,
            "additionalProperties",
        ),
        ("templates/_settings.json", r#"{"baseline": "yes"}"#, "_settings.json: not valid settings"),
        (
            "templates/_settings.json",
            r#"{"baseline": "on", "enforcement": {"types": {"AWS::IAM::role": "enforce", "AWS::Iam::*": "audit"}}}"#,
            "_settings.json: `AWS::Iam::*` names no pinned type (type names are case-sensitive)",
        ),
        (
            "templates/_settings.json",
            r#"{"baseline": "on", "enforcement": {"rules": {"AWS::IAM::role": {"/X": "audit"}}}}"#,
            "_settings.json: `AWS::IAM::role` names no pinned type",
        ),
        (
            "templates/_waivers.json",
            r#"{"maxLifetimeDays": 90, "waivers": [{"id": "W-1"}]}"#,
            "_waivers.json: not valid waivers: missing field `type`",
        ),
        (
            // A hand-widened baseline: the generated one, opened.
            "templates/baseline/aws-glue-job.json",
            r#"{"typeName": "AWS::Glue::Job", "type": "object", "x-rcfge": {"baseline": true}}"#,
            "baseline/aws-glue-job.json: differs from what `rcfge templates freeze` makes of",
        ),
    ] {
        let set = copy_of_the_set();
        std::fs::write(set.path().join(file), text).unwrap();
        let args = dirs(set.path());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, stdout, stderr) = publish(&server, &args);
        assert_eq!(code, 1, "{file}: {stdout}{stderr}");
        assert!(stderr.contains("nothing was published") && stderr.contains(cause), "{file}: {stderr}");
        assert!(server.names().is_empty(), "{file}: nothing uploaded");
    }
    // A misspelt type filter makes every rule skip: the rules' own test cases catch it.
    let set = copy_of_the_set();
    let rules = set.path().join("guard-rules/aws-sqs-queue.guard");
    let text = std::fs::read_to_string(&rules).unwrap().replace("'AWS::SQS::Queue'", "'AWS::SQS::Queues'");
    std::fs::write(&rules, text).unwrap();
    std::fs::create_dir(set.path().join("guard-rules/tests")).unwrap();
    for entry in std::fs::read_dir("guard-rules/tests").unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, set.path().join("guard-rules/tests").join(path.file_name().unwrap())).unwrap();
    }
    let args = dirs(set.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, stderr) = publish(&server, &args);
    assert_eq!(code, 1);
    assert!(stderr.contains("the Guard rule tests in") && stderr.contains("sqs_fifo_queue_name"), "{stderr}");
    assert!(server.names().is_empty());

    // A scaffold nobody reviewed (`templates new` leaves `(team)` and `(date)`) is not published.
    let set = copy_of_the_set();
    let path = set.path().join("templates/aws-sqs-queue.json");
    let scaffold = std::fs::read_to_string(&path).unwrap().replace("security-engineering", "(team)");
    std::fs::write(&path, scaffold).unwrap();
    let args = dirs(set.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, stderr) = publish(&server, &args);
    assert_eq!(code, 1);
    assert!(stderr.contains("aws-sqs-queue.json: /x-rcfge/owner: the owner is `(team)`"), "{stderr}");
    assert!(server.names().is_empty());

    let set = copy_of_the_set();
    std::fs::remove_file(set.path().join("guard-rules/aws-iam-role.guard")).unwrap();
    let args = dirs(set.path());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, stderr) = publish(&server, &args);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("aws-iam-role.json: x-rcfge.guardRules is set but there is no aws-iam-role.guard"),
        "{stderr}"
    );
}
