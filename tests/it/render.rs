//! `rcfge render`: what a template becomes in a context.

use crate::support::rcfge;

#[test]
fn renders_the_bucket_template() {
    let run = rcfge(&["render", "AWS::S3::Bucket", "--account-id", "111122223333", "--region", "eu-west-1"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let schema: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        schema["definitions"]["TopicConfiguration"]["properties"]["Topic"]["pattern"],
        "^arn:aws:sns:[a-z0-9-]+:111122223333:[A-Za-z0-9_-]{1,256}$"
    );
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn the_partition_follows_the_region() {
    let run = rcfge(&["render", "AWS::SNS::Topic", "--account-id", "111122223333", "--region", "cn-north-1"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("^arn:aws-cn:(sqs|lambda)"), "{}", run.stdout);
}

#[test]
fn organisation_variables_from_the_source_and_the_command_line() {
    let args = ["render", "Test::Organisation::Variables", "--templates", "tests/fixtures/faulty-templates"];
    let run = rcfge(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let schema: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(schema["properties"]["Name"]["pattern"], r"^pay\.ments-[a-z]+$");
    assert_eq!(schema["properties"]["KeyArn"]["enum"].as_array().unwrap().len(), 1);

    let run = rcfge(&[&args[..], &["--var", "teamPrefix=a|b", "--var", r#"approvedKeyArns=["k1","k2"]"#]].concat());
    let schema: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(schema["properties"]["Name"]["pattern"], r"^a\|b-[a-z]+$");
    assert_eq!(schema["properties"]["KeyArn"]["enum"], serde_json::json!(["k1", "k2"]));
}

#[test]
fn missing_values_and_templates() {
    let run = rcfge(&["render", "AWS::S3::Bucket"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("hint: pass --account-id"), "{}", run.stderr);
    let run = rcfge(&["render", "Acme::Batch::Job"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("no template for Acme::Batch::Job"), "{}", run.stderr);
    // A type without a reviewed template renders its baseline, as the hook would judge it.
    let run = rcfge(&["render", "AWS::Glue::Job"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let schema: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(schema["x-rcfge"]["baseline"], true);
    assert_eq!(schema["additionalProperties"], false);
}
