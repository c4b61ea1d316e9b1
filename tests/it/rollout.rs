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

/// How every statement of the SCP spares the StackSets execution role: its exact name.
const EXEC_ROLE_PATTERN: &str = "arn:aws:iam::*:role/stacksets-exec-????????????????????????????????";
/// The IAM path of the member template's roles, which only the execution role may create.
const HOOK_ROLES_PATTERN: &str = "arn:aws:iam::*:role/rcfge/*";
/// The tag by which the SCP protects the hook's environment key.
const HOOK_KEY_TAG: (&str, &str) = ("rcfge:component", "hook-environment");

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
    let stack = rcfge::stack::parse(&text).unwrap();
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
fn member_exclusion() -> (String, rcfge::stack::StackTemplate) {
    let member = template("stacksets/rcfge-member.yaml");
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

    // Every StackSetName either template accepts gives a filter the hook accepts (a rename must
    // stay within 82 characters).
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string("schemas/aws-cloudformation-lambdahook.json").unwrap()).unwrap();
    let stack_name = &schema["definitions"]["StackName"];
    let max = stack_name["maxLength"].as_u64().unwrap() as usize;
    let filter = fancy_regex::Regex::new(stack_name["pattern"].as_str().unwrap()).unwrap();
    let admin = template("stacksets/rcfge-admin.yaml");
    for template in [&member, &admin] {
        let allowed = strings(&template.parameters["StackSetName"]["AllowedValues"]);
        assert!(allowed.contains(&"rcfge".to_owned()), "{allowed:?}");
        for name in allowed {
            let filter_text = exclusion.replace("rcfge", &name);
            assert!(filter_text.chars().count() <= max, "{} characters: {filter_text}", filter_text.chars().count());
            assert!(filter.is_match(&filter_text).unwrap(), "{filter_text}");
        }
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
        let sid = statement["Sid"].as_str().unwrap();
        let spared = strings(&statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"]);
        assert!(spared.contains(&EXEC_ROLE_PATTERN.to_owned()), "{sid}: {spared:?}");
        assert!(spared.iter().any(|p| wildcard_matches(p, exec_role)), "{sid}: {spared:?}");
        for role in look_alike_roles {
            assert!(!spared.iter().any(|p| wildcard_matches(p, role)), "{sid}: spares {role}");
        }
        // Besides the execution role: Control Tower where resources are created, and the hook's
        // own roles (a path nobody else can create roles under) where the hook writes its log.
        for pattern in spared.iter().filter(|p| *p != EXEC_ROLE_PATTERN) {
            let expected = match sid {
                "CreateCoveredResourcesOnlyThroughCloudFormation" => "arn:aws:iam::*:role/AWSControlTowerExecution",
                "ProtectHookLogWriting" => HOOK_ROLES_PATTERN,
                _ => panic!("{sid}: spares {pattern} too"),
            };
            assert_eq!(pattern, expected, "{sid}");
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
    let validate = |name: &str, admin: &str| {
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
            admin,
        ])
    };
    let own = validate("rcfge", "stacksets/rcfge-admin.yaml");
    assert!(own.stdout.contains("PASS   RcfgeStackSet"), "{}{}", own.stdout, own.stderr);
    // The admin template only takes the name the SCP reserves...
    let shadow = validate("rcfge-shadow", "stacksets/rcfge-admin.yaml");
    assert_ne!(shadow.code, 0, "{}{}", shadow.stdout, shadow.stderr);
    assert!(shadow.stdout.contains("not one of its AllowedValues"), "{}{}", shadow.stdout, shadow.stderr);
    // ...and if someone widens it, the hook still refuses the StackSet.
    let text = std::fs::read_to_string("stacksets/rcfge-admin.yaml").unwrap();
    assert_eq!(text.matches("AllowedValues: [rcfge]").count(), 1);
    let widened = crate::support::temp_file(
        ".yaml",
        &text.replace("AllowedValues: [rcfge]", "AllowedValues: [rcfge, rcfge-shadow]"),
    );
    let shadow = validate("rcfge-shadow", widened.path().to_str().unwrap());
    assert!(shadow.stdout.contains("FAIL   RcfgeStackSet"), "{}{}", shadow.stdout, shadow.stderr);
    assert!(shadow.stdout.contains("/StackSetName"), "{}", shadow.stdout);
}

fn template(path: &str) -> rcfge::stack::StackTemplate {
    rcfge::stack::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn resource<'a>(stack: &'a rcfge::stack::StackTemplate, logical_id: &str) -> &'a rcfge::stack::Resource {
    stack.resources.iter().find(|r| r.logical_id == logical_id).unwrap_or_else(|| panic!("no {logical_id}"))
}

fn scp() -> Value {
    serde_json::from_str(&std::fs::read_to_string("stacksets/scp-protect-rcfge.json").unwrap()).unwrap()
}

fn scp_statement<'a>(scp: &'a Value, sid: &str) -> &'a Value {
    scp["Statement"].as_array().unwrap().iter().find(|s| s["Sid"] == sid).unwrap_or_else(|| panic!("no {sid}"))
}

fn request<'a>(principal: &'a str, action: &'a str, resource: &'a str, context: Context<'a>) -> Request<'a> {
    Request { principal, action, resource, context }
}

/// Condition keys of a request besides `aws:PrincipalArn`, each with its values.
type Context<'a> = &'a [(&'a str, &'a [&'a str])];

/// One request as an SCP sees it: who, what, on which ARN, and the other condition keys.
struct Request<'a> {
    principal: &'a str,
    action: &'a str,
    resource: &'a str,
    context: Context<'a>,
}

/// The Sids of the SCP's statements that deny `request`, evaluated as IAM does for the
/// elements and condition operators the SCP uses (any other operator fails the test, so that
/// the evaluation never silently ignores a condition). Actions and condition key names match
/// in any case, ARNs and values case-sensitively unless the operator says otherwise; a
/// negated operator matches a missing key, `ForAnyValue` does not.
fn denied_by(scp: &Value, request: &Request) -> Vec<String> {
    let value_of = |key: &str| -> Option<Vec<String>> {
        if key.eq_ignore_ascii_case("aws:PrincipalArn") {
            return Some(vec![request.principal.to_owned()]);
        }
        let found = request.context.iter().find(|(k, _)| k.eq_ignore_ascii_case(key));
        found.map(|(_, values)| values.iter().map(|v| (*v).to_owned()).collect())
    };
    let condition_holds = |operator: &str, key: &str, expected: &[String]| -> bool {
        let (any_value, base) = match operator.strip_prefix("ForAnyValue:") {
            Some(base) => (true, base),
            None => (false, operator),
        };
        let (negated, matches): (bool, fn(&str, &str) -> bool) = match base {
            "StringEquals" | "ArnEquals" => (false, |p, v| p == v),
            "StringNotEquals" | "ArnNotEquals" => (true, |p, v| p == v),
            "StringEqualsIgnoreCase" => (false, |p, v| p.eq_ignore_ascii_case(v)),
            "StringNotEqualsIgnoreCase" => (true, |p, v| p.eq_ignore_ascii_case(v)),
            "StringLike" | "ArnLike" => (false, wildcard_matches),
            "StringNotLike" | "ArnNotLike" => (true, wildcard_matches),
            other => panic!("the test cannot evaluate the condition operator {other}"),
        };
        assert!(!(any_value && negated), "the test cannot evaluate {operator}");
        let Some(actual) = value_of(key) else { return negated };
        let any_match = actual.iter().any(|v| expected.iter().any(|p| matches(p, v)));
        if negated { !any_match } else { any_match }
    };
    let action_matches = |pattern: &str| wildcard_matches(&pattern.to_lowercase(), &request.action.to_lowercase());
    let mut sids = Vec::new();
    for statement in scp["Statement"].as_array().unwrap() {
        assert_eq!(statement["Effect"], "Deny", "an SCP of deny statements only");
        let action = match (statement.get("Action"), statement.get("NotAction")) {
            (Some(actions), None) => strings(actions).iter().any(|p| action_matches(p)),
            (None, Some(actions)) => !strings(actions).iter().any(|p| action_matches(p)),
            _ => panic!("{}: Action or NotAction", statement["Sid"]),
        };
        let resource = match (statement.get("Resource"), statement.get("NotResource")) {
            (Some(arns), None) => strings(arns).iter().any(|p| wildcard_matches(p, request.resource)),
            (None, Some(arns)) => !strings(arns).iter().any(|p| wildcard_matches(p, request.resource)),
            _ => panic!("{}: Resource or NotResource", statement["Sid"]),
        };
        let conditions = statement.get("Condition").and_then(Value::as_object).into_iter().flatten();
        let mut condition = true;
        for (operator, block) in conditions {
            for (key, expected) in block.as_object().unwrap() {
                condition &= condition_holds(operator, key, &strings(expected));
            }
        }
        if action && resource && condition {
            sids.push(statement["Sid"].as_str().unwrap().to_owned());
        }
    }
    sids
}

const ACCOUNT_ADMIN: &str = "arn:aws:iam::111122223333:role/Admin";
const EXEC_ROLE: &str = "arn:aws:iam::111122223333:role/stacksets-exec-899a82a2cb437e970934262f85c7628a";
const FUNCTION_ROLE: &str =
    "arn:aws:iam::111122223333:role/rcfge/StackSet-rcfge-3f2b8c1e-9a4d-4e7b-HookFunctionRole-0AB1CD2EF3GH";
const HOOK_KEY: &str = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const OTHER_KEY: &str = "arn:aws:kms:eu-west-1:111122223333:key/0987dcba-09ba-87dc-65fe-0987654321ba";
/// What a member administrator could do to the environment key to stop the function from
/// decrypting its environment, and with FailureMode FAIL every CloudFormation operation.
const KEY_ADMIN_ACTIONS: [&str; 9] = [
    "kms:DisableKey",
    "kms:ScheduleKeyDeletion",
    "kms:PutKeyPolicy",
    "kms:DisableKeyRotation",
    "kms:UpdateKeyDescription",
    "kms:RevokeGrant",
    "kms:RetireGrant",
    "kms:TagResource",
    "kms:UntagResource",
];

/// The environment key can only be administered by the StackSets execution role: the SCP
/// finds it by its tag and spares nobody else, and the function's own decryption is untouched.
#[test]
fn only_the_execution_role_administers_the_hook_key() {
    let scp = scp();
    let statement = scp_statement(&scp, "ProtectHookKey");
    assert_eq!(statement["Effect"], "Deny");
    let actions = strings(&statement["Action"]);
    for action in KEY_ADMIN_ACTIONS {
        assert!(actions.contains(&action.to_owned()), "{action} is not denied: {actions:?}");
    }
    assert_eq!(strings(&statement["Resource"]), ["arn:aws:kms:*:*:key/*"]);
    let (tag_key, tag_value) = HOOK_KEY_TAG;
    let condition = statement["Condition"].as_object().unwrap();
    assert_eq!(condition.len(), 2, "nothing else narrows the deny: {condition:?}");
    assert_eq!(
        statement["Condition"]["StringEquals"],
        serde_json::json!({ format!("aws:ResourceTag/{tag_key}"): tag_value })
    );
    assert_eq!(strings(&statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"]), [EXEC_ROLE_PATTERN]);

    let resource_tag = format!("aws:ResourceTag/{tag_key}");
    let tagged: Context = &[(&resource_tag, &[tag_value])];
    for action in KEY_ADMIN_ACTIONS {
        for principal in [ACCOUNT_ADMIN, FUNCTION_ROLE, "arn:aws:iam::111122223333:role/stacksets-exec-mine"] {
            let denied = denied_by(&scp, &request(principal, action, HOOK_KEY, tagged));
            assert!(denied.contains(&"ProtectHookKey".to_owned()), "{principal} may {action}: {denied:?}");
        }
        assert_eq!(denied_by(&scp, &request(EXEC_ROLE, action, HOOK_KEY, tagged)), Vec::<String>::new(), "{action}");
        // Other keys are the account's own business.
        assert_eq!(denied_by(&scp, &request(ACCOUNT_ADMIN, action, OTHER_KEY, &[])), Vec::<String>::new(), "{action}");
    }
    // Condition key names match in any case, and so does the tag key part of aws:ResourceTag.
    let upper = format!("AWS:RESOURCETAG/{}", tag_key.to_uppercase());
    let denied = denied_by(&scp, &request(ACCOUNT_ADMIN, "kms:DisableKey", HOOK_KEY, &[(&upper, &[tag_value])]));
    assert_eq!(denied, ["ProtectHookKey"]);

    // Lambda decrypts the environment as the function's role; describing and using the key is
    // never denied.
    let via_lambda: Context = &[(&resource_tag, &[tag_value]), ("kms:ViaService", &["lambda.eu-west-1.amazonaws.com"])];
    for action in ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "kms:CreateGrant"] {
        assert_eq!(
            denied_by(&scp, &request(FUNCTION_ROLE, action, HOOK_KEY, via_lambda)),
            Vec::<String>::new(),
            "{action}"
        );
    }
}

/// Nobody but the execution role may put the reserved tag on anything (to make another key look
/// like the hook's) or take it off (to leave the real key unprotected), in any case.
#[test]
fn only_the_execution_role_sets_or_removes_the_reserved_tag() {
    let scp = scp();
    let statement = scp_statement(&scp, "ReserveHookTagKey");
    let (tag_key, tag_value) = HOOK_KEY_TAG;
    assert_eq!(strings(&statement["Action"]), ["*"]);
    assert_eq!(strings(&statement["Resource"]), ["*"]);
    assert_eq!(statement["Condition"].as_object().unwrap().len(), 2);
    assert_eq!(strings(&statement["Condition"]["ForAnyValue:StringEqualsIgnoreCase"]["aws:TagKeys"]), [tag_key]);
    assert_eq!(strings(&statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"]), [EXEC_ROLE_PATTERN]);

    let resource_tag = format!("aws:ResourceTag/{tag_key}");
    let upper = tag_key.to_uppercase();
    let log_group = "arn:aws:logs:eu-west-1:111122223333:log-group:/app/orders";
    let cases: [(&str, &str, Context); 6] = [
        (
            "kms:TagResource",
            OTHER_KEY,
            &[("aws:TagKeys", &[tag_key]), (&format!("aws:RequestTag/{tag_key}"), &[tag_value])],
        ),
        ("kms:TagResource", OTHER_KEY, &[("aws:TagKeys", &["team", &upper])]),
        ("kms:CreateKey", "*", &[("aws:TagKeys", &[tag_key])]),
        ("kms:UntagResource", HOOK_KEY, &[("aws:TagKeys", &[tag_key]), (&resource_tag, &[tag_value])]),
        ("logs:TagResource", log_group, &[("aws:TagKeys", &[tag_key])]),
        ("s3:CreateBucket", "arn:aws:s3:::orders", &[("aws:TagKeys", &[tag_key])]),
    ];
    for (action, resource, context) in cases {
        let denied = denied_by(&scp, &request(ACCOUNT_ADMIN, action, resource, context));
        assert!(denied.contains(&"ReserveHookTagKey".to_owned()), "{action} on {resource}: {denied:?}");
        let denied = denied_by(&scp, &request(EXEC_ROLE, action, resource, context));
        assert_eq!(denied, Vec::<String>::new(), "the execution role: {action} on {resource}");
    }
    // Other tags, and requests without tags, are not touched.
    let team: Context = &[("aws:TagKeys", &["team", "rcfge:owner"])];
    assert_eq!(denied_by(&scp, &request(ACCOUNT_ADMIN, "kms:TagResource", OTHER_KEY, team)), Vec::<String>::new());
    assert_eq!(denied_by(&scp, &request(ACCOUNT_ADMIN, "logs:TagResource", log_group, team)), Vec::<String>::new());
    assert_eq!(denied_by(&scp, &request(ACCOUNT_ADMIN, "kms:Decrypt", OTHER_KEY, &[])), Vec::<String>::new());
}

/// The member template puts exactly the tag the SCP protects on the key the function uses, and
/// the function can still decrypt with it.
#[test]
fn the_member_template_tags_the_hook_key_as_the_scp_expects() {
    let member = template("stacksets/rcfge-member.yaml");
    let key = resource(&member, "EnvironmentKey");
    assert_eq!(key.type_name, "AWS::KMS::Key");
    let (tag_key, tag_value) = HOOK_KEY_TAG;
    assert_eq!(key.properties["Tags"], serde_json::json!([{ "Key": tag_key, "Value": tag_value }]));
    for other in member.resources.iter().filter(|r| r.logical_id != "EnvironmentKey") {
        assert!(!other.properties.to_string().contains(tag_key), "{} carries the reserved tag", other.logical_id);
    }
    let key_arn = serde_json::json!({ "Fn::GetAtt": ["EnvironmentKey", "Arn"] });
    let function = resource(&member, "HookFunction");
    assert_eq!(function.properties["KmsKeyArn"], key_arn, "the function uses the tagged key");

    // The key policy leaves the key's use to IAM in the account, and the function's role may decrypt.
    let statements = key.properties["KeyPolicy"]["Statement"].as_array().unwrap();
    let root = serde_json::json!({ "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root" });
    assert!(
        statements.iter().any(|s| s["Effect"] == "Allow"
            && s["Principal"]["AWS"] == root
            && strings(&s["Action"]).iter().any(|a| wildcard_matches(a, "kms:Decrypt"))),
        "{statements:?}"
    );
    assert!(!statements.iter().any(|s| s["Effect"] == "Deny"), "{statements:?}");
    let role = resource(&member, "HookFunctionRole");
    let policy = &role.properties["Policies"][0]["PolicyDocument"]["Statement"];
    assert!(
        policy
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["Effect"] == "Allow" && strings(&s["Action"]) == ["kms:Decrypt"] && s["Resource"] == key_arn),
        "{policy}"
    );
}

/// Only the hook function writes the decision log (and the execution role, which owns the log
/// group); nobody but the execution role changes where it goes, how it is masked, transformed
/// or kept.
#[test]
fn only_the_hook_writes_its_decision_log() {
    let scp = scp();
    let writing = scp_statement(&scp, "ProtectHookLogWriting");
    assert_eq!(strings(&writing["Action"]), ["logs:CreateLogStream", "logs:PutLogEvents"]);
    assert_eq!(writing["Condition"].as_object().unwrap().len(), 1);
    assert_eq!(
        strings(&writing["Condition"]["ArnNotLike"]["aws:PrincipalArn"]),
        [EXEC_ROLE_PATTERN, HOOK_ROLES_PATTERN]
    );
    // The function's role is under that path, and nobody else can create a role there.
    let member = template("stacksets/rcfge-member.yaml");
    assert_eq!(resource(&member, "HookFunctionRole").properties["Path"], "/rcfge/");
    let forged = "arn:aws:iam::111122223333:role/rcfge/forger";
    let create = Request { principal: ACCOUNT_ADMIN, action: "iam:CreateRole", resource: forged, context: &[] };
    assert_eq!(denied_by(&scp, &create), ["ProtectHookRoles"]);

    let group = "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/rcfge-hook";
    let stream = format!("{group}:log-stream:2025/01/31/[$LATEST]0123456789abcdef0123456789abcdef");
    for (action, resource) in [("logs:CreateLogStream", group), ("logs:PutLogEvents", stream.as_str())] {
        for writer in [FUNCTION_ROLE, EXEC_ROLE] {
            assert_eq!(
                denied_by(&scp, &request(writer, action, resource, &[])),
                Vec::<String>::new(),
                "{writer}: {action}"
            );
        }
        for forger in [
            ACCOUNT_ADMIN,
            "arn:aws:iam::111122223333:role/rcfge-admin",
            "arn:aws:iam::111122223333:role/team/rcfge/x",
            "arn:aws:iam::111122223333:user/rcfge/x",
            "arn:aws:iam::111122223333:root",
        ] {
            assert_eq!(
                denied_by(&scp, &request(forger, action, resource, &[])),
                ["ProtectHookLogWriting"],
                "{forger}: {action}"
            );
        }
        // Other log groups, also ones named like it, are not touched.
        for other in ["/aws/lambda/rcfge-hook-2", "/aws/lambda/orders"] {
            let resource = resource.replace("/aws/lambda/rcfge-hook", other);
            assert_eq!(
                denied_by(&scp, &request(ACCOUNT_ADMIN, action, &resource, &[])),
                Vec::<String>::new(),
                "{resource}"
            );
        }
    }

    for action in [
        "logs:PutSubscriptionFilter",
        "logs:DeleteSubscriptionFilter",
        "logs:PutDataProtectionPolicy",
        "logs:DeleteDataProtectionPolicy",
        "logs:AssociateKmsKey",
        "logs:DisassociateKmsKey",
        "logs:PutTransformer",
        "logs:DeleteTransformer",
        "logs:TagResource",
        "logs:UntagResource",
        "logs:DeleteLogGroup",
        "logs:DeleteLogStream",
        "logs:PutRetentionPolicy",
        "logs:DeleteRetentionPolicy",
    ] {
        for principal in [ACCOUNT_ADMIN, FUNCTION_ROLE] {
            assert!(
                denied_by(&scp, &request(principal, action, group, &[])).contains(&"ProtectHookLogs".to_owned()),
                "{principal}: {action}"
            );
        }
        assert_eq!(denied_by(&scp, &request(EXEC_ROLE, action, group, &[])), Vec::<String>::new(), "{action}");
    }
}

/// The SCP names the function, its log group, the role path and the stack instances literally:
/// the templates must deploy exactly those names, and can deploy no others.
#[test]
fn the_scp_names_what_the_templates_deploy() {
    let member = template("stacksets/rcfge-member.yaml");
    let admin = template("stacksets/rcfge-admin.yaml");
    let only_value = |stack: &rcfge::stack::StackTemplate, name: &str| {
        let parameter = &stack.parameters[name];
        let default = parameter["Default"].as_str().unwrap().to_owned();
        let allowed = strings(&parameter["AllowedValues"]);
        assert_eq!(allowed, std::slice::from_ref(&default), "{name}: one allowed value, the default");
        default
    };
    let function = only_value(&member, "FunctionName");
    let stack_set = only_value(&member, "StackSetName");
    assert_eq!(only_value(&admin, "StackSetName"), stack_set);
    let variables: Value =
        serde_json::from_str(&std::fs::read_to_string("templates/_variables.json").unwrap()).unwrap();
    assert_eq!(variables["rolloutStackSetName"], stack_set.as_str());

    let scp = scp();
    assert_eq!(
        strings(&scp_statement(&scp, "ProtectHookFunction")["Resource"]),
        [format!("arn:aws:lambda:*:*:function:{function}"), format!("arn:aws:lambda:*:*:function:{function}:*")]
    );
    let log_group = format!("/aws/lambda/{function}");
    for sid in ["ProtectHookLogs", "ProtectHookLogWriting"] {
        assert_eq!(
            strings(&scp_statement(&scp, sid)["Resource"]),
            [format!("arn:aws:logs:*:*:log-group:{log_group}"), format!("arn:aws:logs:*:*:log-group:{log_group}:*")],
            "{sid}"
        );
    }
    assert_eq!(
        resource(&member, "HookLogGroup").properties["LogGroupName"],
        serde_json::json!({ "Fn::Sub": "/aws/lambda/${FunctionName}" })
    );
    assert_eq!(
        resource(&member, "HookFunction").properties["FunctionName"],
        serde_json::json!({ "Ref": "FunctionName" })
    );
    assert_eq!(
        strings(&scp_statement(&scp, "ProtectHookStacks")["Resource"]),
        [format!("arn:aws:cloudformation:*:*:stack/StackSet-{stack_set}-????????-????-????-????-????????????/*")]
    );
    assert!(strings(&scp_statement(&scp, "ProtectHookRoles")["Resource"]).contains(&HOOK_ROLES_PATTERN.to_owned()));
    for role in ["HookFunctionRole", "HookExecutionRole"] {
        assert_eq!(resource(&member, role).properties["Path"], "/rcfge/", "{role}");
    }
}
