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

/// Whether `name` matches `pattern`, where `*` stands for any run of characters (also none) and
/// `?` for exactly one, as CloudFormation Hooks stack name filters and IAM ARN patterns
/// (`ArnLike`, `Resource`) match. Case-sensitive, like both.
fn wildcard_matches(pattern: &str, name: &str) -> bool {
    let (pattern, name): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // matched[j]: the pattern so far matches the first j characters of the name.
    let mut matched = vec![false; name.len() + 1];
    matched[0] = true;
    for p in pattern {
        let mut next = vec![false; name.len() + 1];
        for j in 0..=name.len() {
            next[j] = match p {
                '*' => matched[j] || (j > 0 && next[j - 1]),
                '?' => j > 0 && matched[j - 1],
                literal => j > 0 && matched[j - 1] && name[j - 1] == literal,
            };
        }
        matched = next;
    }
    matched[name.len()]
}

/// A stack instance ID as StackSets makes them (a version 4 UUID, lowercase).
const UUID: &str = "3f2b8c1e-9a4d-4e7b-8c2f-1d5e6a7b9c0d";
/// A second StackSet whose name starts with the rollout's.
const LOOK_ALIKES: [&str; 7] = ["rcfge-shadow", "rcfge2", "RCFGE", "Rcfge-x", "rcfge-", "rCfGe", "RCFGE-shadow"];

#[test]
fn the_wildcard_matcher_matches_like_aws() {
    assert!(wildcard_matches("StackSet-rcfge-*", "StackSet-rcfge-shadow-x"));
    assert!(wildcard_matches("a*", "a"));
    assert!(wildcard_matches("a?c", "abc"));
    assert!(wildcard_matches("*/*", "stack/x"));
    assert!(!wildcard_matches("a?c", "ac"));
    assert!(!wildcard_matches("a?c", "abbc"));
    assert!(!wildcard_matches("abc", "abC"));
    assert!(!wildcard_matches("a*b", "a"));
}

/// The hook's stack name exclusion for the default `StackSetName`, as deployed, and the
/// member template.
fn member_exclusion() -> (String, rcfge::cfn::StackTemplate) {
    let member = rcfge::cfn::parse(&std::fs::read_to_string("stacksets/rcfge-member.yaml").unwrap()).unwrap();
    let hook = member.resources.iter().find(|r| r.type_name == "AWS::CloudFormation::LambdaHook").unwrap();
    let mut subs = Vec::new();
    collect_subs(&hook.properties["StackFilters"]["StackNames"]["Exclude"], &mut subs);
    subs.dedup();
    assert_eq!(subs.len(), 1, "one exclusion built from StackSetName: {subs:?}");
    let default = member.parameters["StackSetName"]["Default"].as_str().unwrap().to_owned();
    assert_eq!(default, "rcfge");
    (subs[0].replace("${StackSetName}", &default), member)
}

fn collect_subs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(text)) = map.get("Fn::Sub") {
                out.push(text.clone());
            }
            map.values().for_each(|v| collect_subs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_subs(v, out)),
        _ => {}
    }
}

/// The rollout's hook stacks are excluded from the hook by name. The exclusion must match the
/// rollout's own stack instances and nothing another StackSet could produce.
#[test]
fn the_hook_skips_exactly_the_rollouts_own_stack_instances() {
    let (exclusion, member) = member_exclusion();
    assert_eq!(exclusion, "StackSet-rcfge-????????-????-????-????-????????????");
    assert!(wildcard_matches(&exclusion, &format!("StackSet-rcfge-{UUID}")));
    for name in LOOK_ALIKES {
        let instance = format!("StackSet-{name}-{UUID}");
        assert!(!wildcard_matches(&exclusion, &instance), "{instance} would not be judged by the hook");
    }
    for other in [
        format!("StackSet-rcfge-{UUID}-x"),
        format!("StackSet-rcfge-x{UUID}"),
        "StackSet-rcfge-".to_owned(),
        format!("stackset-rcfge-{UUID}"),
    ] {
        assert!(!wildcard_matches(&exclusion, &other), "{other}");
    }

    // The longest StackSetName either template accepts still gives a filter the hook accepts.
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string("schemas/aws-cloudformation-lambdahook.json").unwrap()).unwrap();
    let stack_name = &schema["definitions"]["StackName"];
    let max = stack_name["maxLength"].as_u64().unwrap() as usize;
    let filter = fancy_regex::Regex::new(stack_name["pattern"].as_str().unwrap()).unwrap();
    let admin = rcfge::cfn::parse(&std::fs::read_to_string("stacksets/rcfge-admin.yaml").unwrap()).unwrap();
    for template in [&member, &admin] {
        let allowed = template.parameters["StackSetName"]["AllowedPattern"].as_str().unwrap();
        let allowed = fancy_regex::Regex::new(allowed).unwrap();
        let longest =
            (1..=200).map(|n| "a".repeat(n)).take_while(|name| allowed.is_match(name).unwrap()).last().unwrap();
        let widest = exclusion.replace("rcfge", &longest);
        assert!(widest.chars().count() <= max, "{} characters: {widest}", widest.chars().count());
        assert!(filter.is_match(&widest).unwrap(), "{widest}");
        assert!(allowed.is_match("rcfge").unwrap());
    }
}

/// The SCP reserves the names the hook skips to the StackSets execution role, and spares that
/// role by its exact name.
#[test]
fn the_scp_reserves_exactly_the_names_the_hook_skips() {
    let (exclusion, _) = member_exclusion();
    let scp: Value =
        serde_json::from_str(&std::fs::read_to_string("stacksets/scp-protect-rcfge.json").unwrap()).unwrap();
    let statements = scp["Statement"].as_array().unwrap();
    let statement = |sid: &str| statements.iter().find(|s| s["Sid"] == sid).unwrap();

    // Stacks: the same set of names as the exclusion, in any account and Region.
    let stacks = strings(&statement("ProtectHookStacks")["Resource"]);
    assert_eq!(stacks, [format!("arn:aws:cloudformation:*:*:stack/{exclusion}/*")]);
    let arn = |name: &str| {
        format!("arn:aws:cloudformation:eu-west-1:111122223333:stack/{name}/0a1b2c3d-0000-1111-2222-333344445555")
    };
    assert!(wildcard_matches(&stacks[0], &arn(&format!("StackSet-rcfge-{UUID}"))));
    for name in LOOK_ALIKES {
        assert!(!wildcard_matches(&stacks[0], &arn(&format!("StackSet-{name}-{UUID}"))), "{name}");
    }

    // The carve-outs: the execution role's exact name, not a prefix a new role could share.
    let exec_role = "arn:aws:iam::111122223333:role/stacksets-exec-899a82a2cb437e970934262f85c7628a";
    let look_alike_roles = [
        "arn:aws:iam::111122223333:role/stacksets-exec-mine",
        "arn:aws:iam::111122223333:role/stacksets-exec-899a82a2cb437e970934262f85c7628a-x",
        "arn:aws:iam::111122223333:role/team/stacksets-exec-899a82a2cb437e970934262f85c7628a",
        "arn:aws:iam::111122223333:role/AWSControlTowerExecution2",
    ];
    for statement in statements {
        let spared = strings(&statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"]);
        assert!(!spared.is_empty(), "{}: spares nobody", statement["Sid"]);
        assert!(spared.iter().any(|p| wildcard_matches(p, exec_role)), "{}: {spared:?}", statement["Sid"]);
        for role in look_alike_roles {
            assert!(!spared.iter().any(|p| wildcard_matches(p, role)), "{}: spares {role}", statement["Sid"]);
        }
        for pattern in &spared {
            assert!(!pattern.ends_with('*'), "{}: {pattern} is a prefix", statement["Sid"]);
        }
    }

    // Nobody else may create a role with the execution role's name or change the real one
    // (its trust policy would let them act as it).
    let roles = statement("ProtectHookRoles");
    let protected = strings(&roles["Resource"]);
    for role in [exec_role, look_alike_roles[0], "arn:aws:iam::111122223333:role/rcfge/x-HookFunctionRole-ABC"] {
        assert!(protected.iter().any(|p| wildcard_matches(p, role)), "{role} is not protected");
    }
    for action in ["iam:CreateRole", "iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:AttachRolePolicy"] {
        assert!(!strings(&roles["NotAction"]).iter().any(|p| wildcard_matches(p, action)), "{action} is allowed");
    }
}

/// A StackSet with the reserved name, or one that starts with it, is refused by the bundled
/// StackSet template, unless it is exactly the rollout's own name.
#[test]
fn only_the_rollout_may_name_a_stack_set_like_the_rollout() {
    use rcfge::authoring::lint::sample_context;
    use rcfge::{Action, DirSource, Engine, EngineConfig, Target, Verdict};

    let engine = Engine::new(DirSource::new("templates").unwrap(), EngineConfig::default());
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let decide = |name: &str| {
        let properties = serde_json::json!({
            "StackSetName": name,
            "PermissionModel": "SERVICE_MANAGED",
            "TemplateURL": "https://s3.eu-west-1.amazonaws.com/acme-rcfge-code-eu-west-1/stacksets/rcfge-member.yaml"
        });
        let target = Target {
            type_name: "AWS::CloudFormation::StackSet".into(),
            logical_id: "Subject".into(),
            action: Action::Create,
            properties,
            context: sample_context(),
        };
        runtime.block_on(engine.decide(&target)).verdict
    };
    for name in LOOK_ALIKES {
        match decide(name) {
            Verdict::NonCompliant(violations) => {
                assert!(violations.iter().any(|v| v.pointer == "/StackSetName"), "{name}: {violations:?}")
            }
            other => panic!("{name} is not refused: {other:?}"),
        }
    }
    for name in ["rcfge", "baseline", "acme-rcfge", "rcfg", "r"] {
        assert!(matches!(decide(name), Verdict::Compliant), "{name} is refused: {:?}", decide(name));
    }

    // The rollout itself, with the StackSet declared: its own name passes, a look-alike does not.
    let validate = |name: &str| {
        let stack_set_name = format!("StackSetName={name}");
        rcfge(&[
            "validate",
            "--account-id",
            "111122223333",
            "--region",
            "eu-west-1",
            "--parameter",
            "HomeRegion=eu-west-1",
            "--parameter",
            "DeployStackSet=true",
            "--parameter",
            "MemberTemplateURL=https://acme-rcfge-code-eu-west-1.s3.eu-west-1.amazonaws.com/stacksets/rcfge-member.yaml",
            "--parameter",
            "TargetOrganizationalUnitIds=ou-abcd-11111111",
            "--parameter",
            "TargetRegions=eu-west-1",
            "--parameter",
            &stack_set_name,
            "stacksets/rcfge-admin.yaml",
        ])
    };
    let own = validate("rcfge");
    assert!(own.stdout.contains("PASS   RcfgeStackSet"), "{}{}", own.stdout, own.stderr);
    let shadow = validate("rcfge-shadow");
    assert!(shadow.stdout.contains("FAIL   RcfgeStackSet"), "{}{}", shadow.stdout, shadow.stderr);
    assert!(shadow.stdout.contains("/StackSetName"), "{}", shadow.stdout);
}
