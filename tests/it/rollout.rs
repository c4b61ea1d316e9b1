//! The rollout (`stacksets/`) passes its own rules: the templates validate clean with rcfge's
//! templates, and the SCP and the bucket policies are IAM policy documents within AWS's size
//! limits.

use serde_json::Value;

use crate::support::rcfge;

/// AWS Organizations' limit for one SCP, in characters (whitespace counts, so it is measured
/// minified, as the console and API store it).
const SCP_LIMIT: usize = 5_120;
/// S3's limit for a bucket policy, in bytes.
const BUCKET_POLICY_LIMIT: usize = 20_480;

/// The problems that make `document` not a valid IAM policy document.
fn policy_problems(document: &Value, resource_policy: bool) -> Vec<String> {
    let mut problems = Vec::new();
    if document["Version"] != "2012-10-17" {
        problems.push("Version must be 2012-10-17".to_owned());
    }
    let statements = match &document["Statement"] {
        Value::Array(statements) if !statements.is_empty() => statements.clone(),
        Value::Object(_) => vec![document["Statement"].clone()],
        _ => return vec!["Statement must be a statement or a non-empty list of them".to_owned()],
    };
    let mut sids = Vec::new();
    for (i, statement) in statements.iter().enumerate() {
        let mut problem = |text: &str| problems.push(format!("Statement {i}: {text}"));
        let Some(object) = statement.as_object() else {
            problem("is not an object");
            continue;
        };
        let known = [
            "Sid",
            "Effect",
            "Principal",
            "NotPrincipal",
            "Action",
            "NotAction",
            "Resource",
            "NotResource",
            "Condition",
        ];
        for key in object.keys().filter(|k| !known.contains(&k.as_str())) {
            problem(&format!("unknown element {key}"));
        }
        if !matches!(object.get("Effect").and_then(Value::as_str), Some("Allow" | "Deny")) {
            problem("Effect must be Allow or Deny");
        }
        if object.contains_key("Action") == object.contains_key("NotAction") {
            problem("needs exactly one of Action and NotAction");
        }
        for action in ["Action", "NotAction"].iter().filter_map(|k| object.get(*k)).flat_map(strings) {
            let valid = action == "*"
                || action.split_once(':').is_some_and(|(service, name)| {
                    !service.is_empty()
                        && service.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                        && !name.is_empty()
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '*')
                });
            if !valid {
                problem(&format!("{action:?} is not an action"));
            }
        }
        let has_resource = object.contains_key("Resource") || object.contains_key("NotResource");
        // Intrinsic functions in a stack template stand for ARNs known at deploy time.
        if !has_resource {
            problem("needs Resource or NotResource");
        }
        if resource_policy && !object.contains_key("Principal") && !object.contains_key("NotPrincipal") {
            problem("a resource policy statement needs a Principal");
        }
        if let Some(condition) = object.get("Condition") {
            let well_formed = condition.as_object().is_some_and(|operators| operators.values().all(Value::is_object));
            if !well_formed {
                problem("Condition must map operators to objects of condition keys");
            }
        }
        if let Some(sid) = object.get("Sid").and_then(Value::as_str) {
            if sid.is_empty() || !sid.chars().all(|c| c.is_ascii_alphanumeric()) {
                problem(&format!("Sid {sid:?} must be alphanumeric"));
            }
            if sids.contains(&sid.to_owned()) {
                problem(&format!("Sid {sid:?} is used twice"));
            }
            sids.push(sid.to_owned());
        }
    }
    problems
}

/// A string, or the strings of a list (an intrinsic function yields nothing to check).
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn the_scp_is_a_valid_policy_within_the_size_limit() {
    let text = std::fs::read_to_string("stacksets/scp-protect-rcfge.json").unwrap();
    let scp: Value = rcfge::json::from_str(&text).expect("strict JSON, no duplicate keys");
    assert_eq!(policy_problems(&scp, false), Vec::<String>::new());
    let minified = serde_json::to_string(&scp).unwrap();
    assert!(minified.chars().count() <= SCP_LIMIT, "the SCP is {} characters minified", minified.chars().count());
    // It protects what the rollout depends on.
    for needed in [
        "cloudformation:SetTypeConfiguration",
        "cloudformation:DeactivateType",
        "stacksets-exec-*",
        "aws:CalledViaFirst",
    ] {
        assert!(text.contains(needed), "the SCP does not mention {needed}");
    }
}

#[test]
fn the_bucket_policies_are_valid_policies_within_the_size_limit() {
    let text = std::fs::read_to_string("stacksets/rcfge-admin.yaml").unwrap();
    let stack = rcfge::cfn::parse(&text).unwrap();
    let policies: Vec<_> = stack.resources.iter().filter(|r| r.type_name == "AWS::S3::BucketPolicy").collect();
    assert!(policies.len() >= 2, "the templates and code buckets each have a policy");
    for policy in policies {
        let document = &policy.properties["PolicyDocument"];
        assert_eq!(policy_problems(document, true), Vec::<String>::new(), "{}", policy.logical_id);
        let size = serde_json::to_string(document).unwrap().len();
        assert!(size <= BUCKET_POLICY_LIMIT, "{}: {size} bytes", policy.logical_id);
        // TLS only.
        assert!(document.to_string().contains("aws:SecureTransport"), "{}: no TLS-only statement", policy.logical_id);
    }
}

#[test]
fn the_policy_check_can_fail() {
    let broken: Value = serde_json::json!({
        "Version": "2008-10-17",
        "Statement": [{"Sid": "A", "Effect": "Permit", "Action": "s3 GetObject"}, {"Sid": "A", "Effect": "Deny", "NotAction": "*", "Action": "*", "Resource": "*", "Condition": {"Bool": true}}]
    });
    let problems = policy_problems(&broken, true);
    for expected in [
        "Version",
        "Effect must be",
        "is not an action",
        "needs Resource",
        "needs a Principal",
        "exactly one of Action",
        "Condition must",
        "used twice",
    ] {
        assert!(problems.iter().any(|p| p.contains(expected)), "{expected}: {problems:?}");
    }
}

#[test]
fn the_rollout_passes_its_own_rules() {
    for file in ["stacksets/rcfge-admin.yaml", "stacksets/rcfge-member.yaml"] {
        let run = rcfge(&["validate", "--account-id", "111122223333", "--region", "eu-west-1", file]);
        assert_eq!(run.code, 0, "{file}:\n{}{}", run.stdout, run.stderr);
    }
}
