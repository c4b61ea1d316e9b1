//! Every template in `templates/`: its rendered schema under a fixed sample context, its
//! verdicts on its fixture resources (`tests/fixtures/<type>/valid-*.json`, `invalid-*.json`),
//! and a mutation test of feature gating. A change to a template or to `schemas/` shows up as
//! a snapshot diff.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rcfge::authoring::lint::sample_context;
use rcfge::authoring::shape::{PathInfo, property_paths, resolve_refs};
use rcfge::{Action, DirSource, Engine, EngineConfig, Target, Verdict};
use serde_json::{Value, json};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn engine() -> Engine {
    Engine::new(DirSource::new(root().join("templates")).unwrap(), EngineConfig::default())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap()
}

/// (file stem, type name, template) of every bundled template.
fn templates() -> Vec<(String, String, Value)> {
    let mut found: Vec<_> = std::fs::read_dir(root().join("templates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        // Templates only: not the organisation files (`_variables.json`, `_settings.json`) nor
        // the generated baseline folder.
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('_'))
        .map(|p| {
            let template: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            (stem, template["typeName"].as_str().unwrap().to_owned(), template)
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

fn fixtures(stem: &str, prefix: &str) -> Vec<PathBuf> {
    let dir = root().join("tests/fixtures").join(stem);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}: every template needs its fixtures there, valid-*.json and invalid-*.json properties \
                 objects (CONTRIBUTING.md, \"Adding a resource type\")",
                dir.display()
            )
        })
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    files.sort();
    files
}

fn target(type_name: &str, properties: Value) -> Target {
    Target {
        type_name: type_name.into(),
        logical_id: "Fixture".into(),
        action: Action::Create,
        properties,
        context: sample_context(),
    }
}

#[test]
fn rendered_templates() {
    let engine = engine();
    let runtime = runtime();
    for (stem, type_name, _) in templates() {
        let schema = runtime.block_on(engine.render(&type_name, "Fixture", Action::Create, &sample_context())).unwrap();
        insta::assert_json_snapshot!(format!("rendered-{stem}"), schema);
    }
}

#[test]
fn fixture_verdicts() {
    let engine = engine();
    let runtime = runtime();
    for (stem, type_name, _) in templates() {
        let valid = fixtures(&stem, "valid-");
        let invalid = fixtures(&stem, "invalid-");
        assert!(valid.len() >= 2 && invalid.len() >= 3, "{stem}: at least 2 valid and 3 invalid fixtures");
        let mut verdicts = BTreeMap::new();
        let mut first_rules = Vec::new();
        for path in valid.iter().chain(&invalid) {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let properties: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
            let decision = runtime.block_on(engine.decide(&target(&type_name, properties)));
            match (&decision.verdict, name.starts_with("valid-")) {
                (Verdict::Compliant, true) => {
                    verdicts.insert(name, json!("compliant"));
                }
                (Verdict::NonCompliant(violations), false) => {
                    first_rules.push((violations[0].pointer.clone(), violations[0].keyword.clone()));
                    let listed: Vec<String> =
                        violations.iter().map(|v| format!("{}: {}", v.pointer, v.message)).collect();
                    verdicts.insert(name, json!(listed));
                }
                (other, _) => panic!("{stem}/{name}: unexpected verdict {other:?}"),
            }
        }
        first_rules.sort();
        first_rules.dedup();
        assert_eq!(first_rules.len(), invalid.len(), "{stem}: every invalid fixture breaks a different rule");
        insta::assert_json_snapshot!(format!("verdicts-{stem}"), verdicts);
    }
}

#[test]
fn every_unapproved_key_and_value_is_refused() {
    let engine = engine();
    let runtime = runtime();
    let (mut mutants, mut refused) = (0, 0);
    for (stem, type_name, template) in templates() {
        let paths = property_paths(&template);
        for path in fixtures(&stem, "valid-") {
            let properties: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            for (what, mutant) in mutate(&properties, &paths, &template) {
                mutants += 1;
                let decision = runtime.block_on(engine.decide(&target(&type_name, mutant)));
                assert!(
                    matches!(decision.verdict, Verdict::NonCompliant(_)),
                    "{stem}/{}: {what} was not refused ({:?})",
                    path.file_name().unwrap().to_string_lossy(),
                    decision.verdict
                );
                refused += 1;
            }
        }
    }
    println!("mutation test: {mutants} mutants, {refused} refused");
    assert!(mutants > 0);
}

/// One mutant per object node (an unapproved key added) and per enumerated value (replaced
/// by one that is not approved). An object the template deliberately leaves free-form (its
/// `patternProperties` take any name: a custom resource's own properties) takes any key.
fn mutate(properties: &Value, paths: &BTreeMap<String, PathInfo>, template: &Value) -> Vec<(String, Value)> {
    // A path the template does not describe at all sits under such a map (a valid fixture
    // could not hold it otherwise).
    let free_form = |path: &str| {
        if !path.is_empty() && !paths.contains_key(path) {
            return true;
        }
        // A node the security team leaves open on purpose (`x-rcfge.freeForm`).
        let listed = template.pointer("/x-rcfge/freeForm").and_then(Value::as_array);
        if paths
            .get(path)
            .is_some_and(|i| listed.is_some_and(|l| l.iter().any(|p| p.as_str() == Some(i.pointer.as_str()))))
        {
            return true;
        }
        let node =
            if path.is_empty() { Some(template) } else { paths.get(path).and_then(|i| template.pointer(&i.pointer)) };
        // A `$ref` stands for its target (a shared tag map).
        let node = node.and_then(|node| resolve_refs(template, node));
        node.and_then(|n| n.get("patternProperties")).and_then(Value::as_object).is_some_and(|keys| {
            keys.keys().any(|k| {
                fancy_regex::Regex::new(k).is_ok_and(|r| r.is_match("RcfgeUnapprovedFeature").unwrap_or(false))
            })
        })
    };
    let mut out = Vec::new();
    let mut pointers = Vec::new();
    collect(properties, String::new(), String::new(), &mut pointers);
    for (pointer, path, is_object) in pointers {
        let mut mutant = properties.clone();
        let Some(node) = (if pointer.is_empty() { Some(&mut mutant) } else { mutant.pointer_mut(&pointer) }) else {
            continue;
        };
        if is_object && free_form(&path) {
            continue;
        }
        if is_object {
            node.as_object_mut().unwrap().insert("RcfgeUnapprovedFeature".into(), json!(true));
            out.push((format!("an unapproved key at {}", if pointer.is_empty() { "/" } else { &pointer }), mutant));
        } else if paths.get(&path).is_some_and(|info| info.enumerated) {
            *node = json!("rcfge-unapproved-value");
            out.push((format!("an unapproved value at {pointer}"), mutant));
        }
    }
    out
}

/// (JSON pointer, property path, is an object) of every node.
fn collect(value: &Value, pointer: String, path: String, out: &mut Vec<(String, String, bool)>) {
    match value {
        Value::Object(map) => {
            out.push((pointer.clone(), path.clone(), true));
            for (key, child) in map {
                let child_path = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                collect(child, format!("{pointer}/{key}"), child_path, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect(child, format!("{pointer}/{i}"), format!("{path}[]"), out);
            }
        }
        _ => out.push((pointer, path, false)),
    }
}

/// Configurations a security review found accepted by earlier versions of the templates.
#[test]
fn reviewed_bypasses_stay_refused() {
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    let role = |extra: Value| {
        let mut properties = json!({"PermissionsBoundary": "arn:aws:iam::111122223333:policy/org-permissions-boundary", "AssumeRolePolicyDocument": trust});
        properties.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        properties
    };
    let document = |statement: Value| json!({"Version": "2012-10-17", "Statement": [statement]});
    let cases = [
        (
            "AWS::IAM::Role",
            role(
                json!({"Policies": [{"PolicyName": "p", "PolicyDocument": document(json!({"Effect": "Allow", "Action": "iam:*", "Resource": "*"}))}]}),
            ),
        ),
        ("AWS::IAM::Role", role(json!({"ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess-Amplify"]}))),
        ("AWS::IAM::Role", role(json!({"PermissionsBoundary": "arn:aws:iam::111122223333:policy/self-boundary"}))),
        (
            "AWS::IAM::ManagedPolicy",
            json!({"PolicyDocument": document(json!({"Effect": "Allow", "Action": "iam:*", "Resource": "arn:aws:iam::111122223333:*"}))}),
        ),
        (
            "AWS::IAM::ManagedPolicy",
            json!({"PolicyDocument": document(json!({"Effect": "Allow", "Action": ["iam:A*", "iam:C*"], "Resource": "*"}))}),
        ),
        (
            "AWS::IAM::ManagedPolicy",
            json!({"PolicyDocument": document(json!({"Effect": "Allow", "Action": "IAM:createpolicyversion", "Resource": "*"}))}),
        ),
        (
            "AWS::IAM::ManagedPolicy",
            json!({"ManagedPolicyName": "org-permissions-boundary", "PolicyDocument": document(json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}))}),
        ),
        (
            "AWS::IAM::Policy",
            json!({"PolicyName": "p", "Roles": ["r"], "PolicyDocument": document(json!({"Effect": "Allow", "Action": "iam:PutRolePolicy", "Resource": "arn:aws:iam::111122223333:role/x"}))}),
        ),
        (
            "AWS::EC2::SecurityGroup",
            json!({"GroupDescription": "x", "VpcId": "vpc-0123456789abcdef0", "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "1.0.0.0/8"}]}),
        ),
        (
            "AWS::EC2::SecurityGroup",
            json!({"GroupDescription": "x", "VpcId": "vpc-0123456789abcdef0", "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIpv6": "2000::/16"}]}),
        ),
        (
            "AWS::Events::Rule",
            json!({"ScheduleExpression": "rate(5 minutes)", "Targets": [{"Id": "t", "Arn": "arn:aws:events:eu-west-1:111122223333:api-destination/exfil/abcd", "RoleArn": "arn:aws:iam::111122223333:role/events"}]}),
        ),
    ];
    let engine = engine();
    let runtime = runtime();
    for (type_name, properties) in cases {
        let decision = runtime.block_on(engine.decide(&target(type_name, properties.clone())));
        assert!(
            matches!(decision.verdict, Verdict::NonCompliant(_)),
            "{type_name} accepted {properties}: {:?}",
            decision.verdict
        );
    }
    // A Deny statement may still name what an Allow may not.
    let deny = json!({"PolicyDocument": document(json!({"Effect": "Deny", "Action": "iam:*", "Resource": "*"}))});
    assert!(matches!(
        runtime.block_on(engine.decide(&target("AWS::IAM::ManagedPolicy", deny))).verdict,
        Verdict::Compliant
    ));
}

/// Rules copied from one template into another stay identical: a second type that does the same
/// thing (a record set written in a group, a policy on a group instead of a user) must not
/// drift from the first when either is changed.
#[test]
fn copied_rules_stay_identical() {
    let load = |stem: &str| -> Value {
        serde_json::from_slice(&std::fs::read(root().join("templates").join(format!("{stem}.json"))).unwrap()).unwrap()
    };
    let same = |(a, a_at): (&str, &str), (b, b_at): (&str, &str)| {
        let (left, right) = (load(a), load(b));
        let (left, right) = (left.pointer(a_at), right.pointer(b_at));
        assert!(left.is_some(), "{a}: nothing at {a_at}");
        assert_eq!(left, right, "{a} {a_at} and {b} {b_at} must stay identical");
    };
    // The IAM identity-policy rules of users, groups and roles; the escalation list everywhere.
    for shared in ["Policy", "IdentityPolicyDocument", "IdentityStatement", "Action", "Resource", "Condition"] {
        let at = format!("/definitions/{shared}");
        same(("aws-iam-user", &at), ("aws-iam-group", &at));
        same(("aws-iam-user", &at), ("aws-iam-role", &at));
    }
    for other in ["aws-iam-role", "aws-iam-group", "aws-iam-policy", "aws-iam-managedpolicy"] {
        same(("aws-iam-user", "/definitions/EscalatingAction"), (other, "/definitions/EscalatingAction"));
    }
    // A listener rule's actions as a listener's (the redirect and authentication settings differ
    // where the provider schemas do, and where a rule cannot see its listener's protocol).
    for shared in ["ForwardConfig", "FixedResponseConfig", "JwtValidationConfig"] {
        let at = format!("/definitions/{shared}");
        same(("aws-elasticloadbalancingv2-listener", &at), ("aws-elasticloadbalancingv2-listenerrule", &at));
    }
    // A record of a record set group is judged as a record set (without its own zone).
    let group = "aws-route53-recordsetgroup";
    for shared in ["HostedZoneId", "Route53NameServer"] {
        let at = format!("/definitions/{shared}");
        same(("aws-route53-recordset", &at), (group, &at));
    }
    same(("aws-route53-recordset", "/allOf"), (group, "/definitions/RecordSet/allOf"));
    same(("aws-route53-recordset", "/required"), (group, "/definitions/RecordSet/required"));
    let mut record = load("aws-route53-recordset")["properties"].clone();
    for zone in ["HostedZoneId", "HostedZoneName", "Comment"] {
        record.as_object_mut().unwrap().remove(zone);
    }
    assert_eq!(record, load(group)["definitions"]["RecordSet"]["properties"], "{group}: a record's properties");
}
