//! The bypass suite: every way found of slipping a non-compliant resource past the hook or the
//! CLI, each a case that must be refused. One table for the hook, one for stack templates; the
//! suite prints its count.

use serde_json::{Value, json};

use crate::support::{invoke, rcfge, temp_file};

/// A compliant bucket, for the cases to change.
fn bucket() -> Value {
    let event: Value =
        serde_json::from_str(&std::fs::read_to_string("tests/fixtures/events/bucket-compliant.json").unwrap()).unwrap();
    event["requestData"]["targetModel"]["resourceProperties"].clone()
}

/// The compliant bucket event with `properties`, as raw JSON text (so that the text itself can
/// carry duplicate keys, escapes and huge numbers).
fn event_text(properties: &str) -> String {
    let event = std::fs::read_to_string("tests/fixtures/events/bucket-compliant.json").unwrap();
    let mut value: Value = serde_json::from_str(&event).unwrap();
    value["requestData"]["targetModel"]["resourceProperties"] = json!("__PROPERTIES__");
    value.to_string().replace("\"__PROPERTIES__\"", properties)
}

fn with(edit: impl FnOnce(&mut Value)) -> String {
    let mut properties = bucket();
    edit(&mut properties);
    event_text(&properties.to_string())
}

/// (case, raw event text, the error code it must get)
fn hook_cases() -> Vec<(&'static str, String, &'static str)> {
    let nested = format!("{}{}", "{\"A\":".repeat(10_000), "1".to_owned() + &"}".repeat(10_000));
    vec![
        (
            "property name in another case",
            with(|p| {
                let value = p.as_object_mut().unwrap().remove("NotificationConfiguration").unwrap();
                p["notificationConfiguration"] = value;
            }),
            "NonCompliant",
        ),
        (
            "duplicate property, the second one foreign",
            event_text(
                &bucket()
                    .to_string()
                    .replacen('{', r#"{"BucketName": "ok-name", "BucketName": "Bad_Name!", "#, 1)
                    .replacen(r#""BucketName":"payments-receipts","#, "", 1),
            ),
            "InternalFailure",
        ),
        (
            "unicode-escaped unapproved key",
            event_text(&bucket().to_string().replacen('{', r#"{"\u004eewFeature": 1, "#, 1)),
            "NonCompliant",
        ),
        ("look-alike key (Greek capital Nu)", with(|p| p["BucketΝame"] = json!("x")), "NonCompliant"),
        (
            "stringified false where true is required",
            with(|p| p["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] = json!("false")),
            "NonCompliant",
        ),
        (
            "a truthy word where true is required",
            with(|p| p["PublicAccessBlockConfiguration"]["BlockPublicPolicy"] = json!("yes")),
            "NonCompliant",
        ),
        (
            "number as a string beyond i64",
            with(|p| {
                p["LifecycleConfiguration"] =
                    json!({"Rules": [{"Status": "Enabled", "ExpirationInDays": "99999999999999999999999999"}]})
            }),
            "NonCompliant",
        ),
        (
            "number beyond f64",
            event_text(&bucket().to_string().replacen('{', r#"{"Size": 1e400, "#, 1)),
            "InternalFailure",
        ),
        (
            "properties nested 10,000 deep",
            event_text(&bucket().to_string().replacen('{', &format!("{{\"Deep\": {nested}, "), 1)),
            "InternalFailure",
        ),
        // Refused by the schema, and too large for the bucket's Guard rules to be run: a fault.
        ("a 1 MiB name against a pattern", with(|p| p["BucketName"] = json!("a".repeat(1 << 20))), "InternalFailure"),
        (
            "a foreign topic behind a trailing dot",
            with(|p| {
                p["NotificationConfiguration"]["TopicConfigurations"][0]["Topic"] =
                    json!("arn:aws:sns:us-east-1:444455556666:receipts.")
            }),
            "NonCompliant",
        ),
        (
            "a foreign topic in a second list item",
            with(|p| {
                let foreign = json!({"Event": "s3:ObjectCreated:*", "Topic": "arn:aws:sns:us-east-1:444455556666:x"});
                p["NotificationConfiguration"]["TopicConfigurations"].as_array_mut().unwrap().push(foreign);
            }),
            "NonCompliant",
        ),
        ("properties as a JSON string", event_text(&json!(bucket().to_string()).to_string()), "InternalFailure"),
        (
            "null where an object is required",
            with(|p| p["PublicAccessBlockConfiguration"] = Value::Null),
            "NonCompliant",
        ),
    ]
}

#[test]
fn no_event_slips_through_the_hook() {
    let cases = hook_cases();
    for (name, text, expected) in &cases {
        let file = temp_file(".json", text);
        let (code, response) = invoke(file.path().to_str().unwrap(), "templates");
        assert_eq!(response["hookStatus"], "FAILED", "{name}: {response:#}");
        assert_eq!(response["errorCode"], *expected, "{name}: {response:#}");
        assert_ne!(code, 0, "{name}");
    }
    println!("bypass suite (hook): {} cases, every one refused", cases.len());
}

#[test]
fn a_value_that_makes_a_pattern_backtrack_is_refused_in_bounded_time() {
    let faulty = "tests/fixtures/faulty-templates";
    let event = |name: String| {
        crate::support::event("Test::Backtracking::Pattern", "CREATE_PRE_PROVISION", json!({"Name": name}))
    };
    let (code, response) = crate::support::invoke_event(&event("payments team".into()), faulty);
    assert_eq!(code, 0, "the pattern itself works: {response:#}");
    // Without a limit there are 2^4095 ways to split the a's to try: the test would never end.
    let (code, response) = crate::support::invoke_event(&event(format!("{}!", "a".repeat(4096))), faulty);
    assert_eq!(response["errorCode"], "NonCompliant", "{response:#}");
    assert_eq!(code, 1);
    assert!(
        response["message"].as_str().unwrap().contains("could not be checked against the approved pattern"),
        "{response:#}"
    );
}

/// (case, stack template, a text the report must contain)
fn stack_cases() -> Vec<(&'static str, String, &'static str)> {
    let cases: Vec<(&str, &str, &str)> = vec![
        (
            "Fn::If hiding an unapproved key in the branch not taken by default",
            "Parameters:\n  Env: {Type: String, AllowedValues: [dev, prod], Default: dev}\nConditions:\n  IsProd: !Equals [!Ref Env, prod]\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      SqsManagedSseEnabled: true\n      Extra: !If [IsProd, {Ref: AWS::NoValue}, {Ref: AWS::NoValue}]\n      QueueName: !If [IsProd, {'Fn::Sub': 'q'}, q]\n      DelaySeconds: !If [IsProd, 901, 0]\n",
            "DelaySeconds 901 is more than the maximum 900 (when Env = prod)",
        ),
        (
            "an unapproved key whose value is an intrinsic",
            "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      SqsManagedSseEnabled: true\n      NewFeature: !GetAtt Other.Arn\n  Other:\n    Type: AWS::SQS::Queue\n    Properties: {SqsManagedSseEnabled: true}\n",
            "NewFeature is not an approved property of AWS::SQS::Queue",
        ),
        (
            "a security group rule written as its own resource instead of inline",
            "Resources:\n  Ssh:\n    Type: AWS::EC2::SecurityGroupIngress\n    Properties: {GroupId: sg-0123456789abcdef0, IpProtocol: '6', FromPort: 22, ToPort: 22, CidrIp: 0.0.0.0/0}\n",
            "/CidrIp: CidrIp \"0.0.0.0/0\" does not match the approved pattern",
        ),
        (
            "an IAM escalation action in another case",
            "Resources:\n  P:\n    Type: AWS::IAM::Policy\n    Properties:\n      PolicyName: p\n      Roles: [r]\n      PolicyDocument: {Version: '2012-10-17', Statement: [{Effect: Allow, Action: 'IAM:CreatePolicyVersion', Resource: '*'}]}\n",
            "forbids",
        ),
        (
            "an IAM user turning off its own MFA, written in another case",
            "Resources:\n  P:\n    Type: AWS::IAM::Policy\n    Properties:\n      PolicyName: p\n      Users: [u]\n      PolicyDocument: {Version: '2012-10-17', Statement: [{Effect: Allow, Action: ['s3:GetObject', 'Iam:DeactivateMFADevice'], Resource: '*'}]}\n",
            "forbids",
        ),
        (
            "an IAM escalation action in a single statement written as JSON text",
            "Resources:\n  P:\n    Type: AWS::IAM::Policy\n    Properties:\n      PolicyName: p\n      Roles: [r]\n      PolicyDocument: '{\"Version\": \"2012-10-17\", \"Statement\": {\"Effect\": \"Allow\", \"Action\": \"iam:PutRolePolicy\", \"Resource\": \"*\"}}'\n",
            "/PolicyDocument/Statement/0/Action: Action \"iam:PutRolePolicy\" is a configuration the AWS::IAM::Policy template forbids",
        ),
        (
            "a public bucket policy written as a single statement",
            "Resources:\n  P:\n    Type: AWS::S3::BucketPolicy\n    Properties:\n      Bucket: org-shared-artifacts\n      PolicyDocument: {Version: '2012-10-17', Statement: {Effect: Allow, Principal: '*', Action: 's3:PutObject', Resource: 'arn:aws:s3:::org-shared-artifacts/*'}}\n",
            "/PolicyDocument/Statement/0/Condition: Condition is required in Statement[0]",
        ),
        (
            "an alarm that terminates the instance its dimension names",
            "Resources:\n  A:\n    Type: AWS::CloudWatch::Alarm\n    Properties:\n      MetricName: CPUUtilization\n      Namespace: AWS/EC2\n      Statistic: Average\n      Period: 60\n      EvaluationPeriods: 1\n      Threshold: -1\n      ComparisonOperator: GreaterThanThreshold\n      Dimensions: [{Name: InstanceId, Value: i-0123456789abcdef0}]\n      AlarmActions: [arn:aws:automate:eu-west-1:ec2:terminate]\n",
            "/AlarmActions/0: AlarmActions[0] \"arn:aws:automate:eu-west-1:ec2:terminate\" does not match",
        ),
        (
            "YAML merge key",
            "Base: &base {SqsManagedSseEnabled: false}\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      <<: *base\n",
            "YAML merge keys",
        ),
        (
            "YAML anchor copying a violation",
            "Resources:\n  A:\n    Type: AWS::SQS::Queue\n    Properties: &p {SqsManagedSseEnabled: true, DelaySeconds: 901}\n  B:\n    Type: AWS::SQS::Queue\n    Properties: *p\n",
            "B (AWS::SQS::Queue): 1 violation",
        ),
        (
            "duplicate key in YAML",
            "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      DelaySeconds: 0\n      DelaySeconds: 901\n",
            "duplicate",
        ),
        (
            "duplicate key in JSON",
            "{\"Resources\": {\"Q\": {\"Type\": \"AWS::SQS::Queue\", \"Properties\": {\"DelaySeconds\": 0, \"DelaySeconds\": 901}}}}",
            "duplicate key",
        ),
        (
            "a condition on a value made from a parameter",
            "Parameters:\n  Env: {Type: String}\nConditions:\n  C: !Equals [!Sub '${Env}x', prodx]\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      SqsManagedSseEnabled: !If [C, true, false]\n",
            "SqsManagedSseEnabled must be true, not false",
        ),
        (
            "a Default overridden at deploy time",
            "Parameters:\n  Enc: {Type: String, Default: 'on'}\nConditions:\n  Off: !Equals [!Ref Enc, 'off']\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      SqsManagedSseEnabled: !If [Off, false, true]\n",
            "(when Enc = off)",
        ),
        (
            "Fn::Select counting an item AWS::NoValue removes",
            "Conditions:\n  Never: !Equals [a, b]\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      SqsManagedSseEnabled: true\n      DelaySeconds: !Select [1, [!If [Never, 0, !Ref AWS::NoValue], 0, 901]]\n",
            "DelaySeconds 901 is more than the maximum 900",
        ),
        (
            "Fn::Select after an item a parameter-driven condition removes",
            "Parameters:\n  Env: {Type: String}\nConditions:\n  Prod: !Equals [!Ref Env, prod]\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      SqsManagedSseEnabled: true\n      DelaySeconds: !Select [1, [!If [Prod, !Ref AWS::NoValue, 0], 0, 901]]\n",
            "DelaySeconds 901 is more than the maximum 900 (when Env = prod)",
        ),
        (
            "a YAML 1.1 boolean word in a condition hides a resource",
            "Conditions:\n  Hidden: !Equals [on, 'true']\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    Condition: Hidden\n    Properties:\n      SqsManagedSseEnabled: true\n      DelaySeconds: 901\n",
            "DelaySeconds 901 is more than the maximum 900",
        ),
        (
            "a YAML 1.1 octal index",
            "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      SqsManagedSseEnabled: true\n      DelaySeconds: !Select [010, [0, 0, 0, 0, 0, 0, 0, 0, 901, 0, 0]]\n",
            "DelaySeconds 901 is more than the maximum 900",
        ),
        (
            "a scalar YAML readers disagree on, in a condition",
            "Conditions:\n  Hidden: !Equals [y, 'true']\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    Condition: Hidden\n    Properties:\n      SqsManagedSseEnabled: true\n      DelaySeconds: 901\n",
            "condition Hidden is false in some scenarios",
        ),
        (
            "a deploy-time principal beside a foreign account",
            "Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties: {}\n  P:\n    Type: AWS::S3::BucketPolicy\n    Properties:\n      Bucket: my-bucket\n      PolicyDocument:\n        Version: '2012-10-17'\n        Statement:\n          - Effect: Allow\n            Principal:\n              AWS: [!GetAtt Role.Arn, 'arn:aws:iam::444455556666:root']\n            Action: s3:GetObject\n            Resource: arn:aws:s3:::my-bucket/*\n",
            "P (AWS::S3::BucketPolicy): 1 violation",
        ),
        (
            "a deploy-time action beside an escalating one",
            "Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties:\n      PermissionsBoundary: arn:aws:iam::111122223333:policy/org-permissions-boundary\n      AssumeRolePolicyDocument:\n        Version: '2012-10-17'\n        Statement:\n          - Effect: Allow\n            Principal: {Service: lambda.amazonaws.com}\n            Action: sts:AssumeRole\n      Policies:\n        - PolicyName: p\n          PolicyDocument:\n            Version: '2012-10-17'\n            Statement:\n              - Effect: Allow\n                Action: [iam:AttachRolePolicy, !ImportValue some-export]\n                Resource: '*'\n",
            "is a configuration the AWS::IAM::Role template forbids",
        ),
        (
            "a condition name YAML readers read as another condition",
            "Conditions:\n  y: !Equals [a, a]\n  'true': !Equals [a, b]\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      SqsManagedSseEnabled: true\n      DelaySeconds: !If [y, 0, 901]\n",
            "`y` names different conditions as YAML readers read it",
        ),
    ];
    let deep = format!(
        "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      Deep: {}1{}\n",
        "{a: ".repeat(10_000),
        "}".repeat(10_000)
    );
    // A long string aliased ten thousand times: 41 KB of YAML, 400 MB once copied.
    let long_aliases = format!(
        "S: &s {}\nL1: &l1 [{}]\nL2: [{}]\nResources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties: {{SqsManagedSseEnabled: true}}\n",
        "x".repeat(40_000),
        ["*s"; 100].join(", "),
        ["*l1"; 100].join(", ")
    );
    // A value of 300,000 items made with aliases, judged once per reading of eight `y`s.
    let mut many_scenarios = String::from("b0: &b0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n");
    for level in 1..5 {
        many_scenarios
            .push_str(&format!("b{level}: &b{level} [{}]\n", vec![format!("*b{}", level - 1); 10].join(", ")));
    }
    many_scenarios.push_str(
        "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      SqsManagedSseEnabled: true\n      Tags:\n",
    );
    for tag in 0..8 {
        many_scenarios.push_str(&format!("        - {{Key: k{tag}, Value: y}}\n"));
    }
    many_scenarios.push_str("      X: [*b4, *b4, *b4]\n");
    cases
        .into_iter()
        .map(|(name, template, expected)| (name, template.to_owned(), expected))
        .chain([
            ("a template nested 10,000 deep", deep, "cannot validate this file"),
            ("a long string aliased ten thousand times", long_aliases, "grows past 33554432 bytes"),
            (
                "a large aliased value judged in 256 readings",
                many_scenarios,
                "would go through more than 4000000 values",
            ),
        ])
        .collect()
}

#[test]
fn no_stack_template_slips_through_the_cli() {
    let cases = stack_cases();
    for (name, template, expected) in &cases {
        let suffix = if template.starts_with('{') { ".json" } else { ".yaml" };
        let file = temp_file(suffix, template);
        let path = file.path().to_str().unwrap();
        let run = rcfge(&["validate", "--account-id", "111122223333", "--region", "eu-west-1", path]);
        assert_ne!(run.code, 0, "{name}: passed\n{}", run.stdout);
        assert!(run.stdout.contains(expected), "{name}: missing {expected:?} in\n{}", run.stdout);
    }
    println!("bypass suite (stack templates): {} cases, every one refused", cases.len());
}

/// A document the provider schema types `["object", "string"]` (policies, patterns): its JSON
/// text is judged as the document it stands for, and text that is not a JSON object fails
/// closed. A template that keeps the provider's type (as `rcfge templates new` writes it) and
/// closes the object must refuse the policy in either form.
#[test]
fn a_document_written_as_json_text_is_judged_as_the_document() {
    let templates = tempfile::tempdir().unwrap();
    let template = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "typeName": "AWS::ApiGateway::RestApi",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "Name": {"type": "string"},
            "Policy": {"type": ["object", "string"], "additionalProperties": false, "properties": {}}
        }
    });
    std::fs::write(templates.path().join("aws-apigateway-restapi.json"), template.to_string()).unwrap();
    let dir = templates.path().to_str().unwrap();
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "*"}]});
    let answer = |policy: Value| {
        let event = crate::support::event(
            "AWS::ApiGateway::RestApi",
            "CREATE_PRE_PROVISION",
            json!({"Name": "api", "Policy": policy}),
        );
        crate::support::invoke_event(&event, dir).1
    };
    for (name, policy, status, code) in [
        ("the policy as an object", policy.clone(), "FAILED", json!("NonCompliant")),
        ("the same policy as JSON text", json!(policy.to_string()), "FAILED", json!("NonCompliant")),
        ("text that is not JSON", json!("{not json"), "FAILED", json!("InternalFailure")),
        ("JSON text that is not an object", json!("[1]"), "FAILED", json!("InternalFailure")),
        ("an empty document as JSON text", json!("{}"), "SUCCESS", Value::Null),
    ] {
        let response = answer(policy);
        assert_eq!(response["hookStatus"], status, "{name}: {response:#}");
        assert_eq!(response.get("errorCode").cloned().unwrap_or(Value::Null), code, "{name}: {response:#}");
    }
}
