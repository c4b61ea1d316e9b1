//! The decision's plain data, shared by every stage and importing none of them: what is judged
//! (a [`Target`] in its [`Context`]) and what was concluded (a [`Decision`] with its
//! [`Verdict`], every [`Violation`] or the [`Fault`] that stopped the judging). Formatting is
//! the job of `lambda::response` (hook JSON) and `report` (CLI text).
//!
//! A [`Context`] comes from a hook event or from CLI flags; together with the resource it is
//! turned into the variables that a template's placeholders may use.

use std::fmt;

use serde_json::{Map, Value};

/// What CloudFormation is about to do with the resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Create,
    Update,
    Delete,
}

impl Action {
    /// The upper-case word CloudFormation uses (`CREATE`, `UPDATE`, `DELETE`).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "CREATE",
            Action::Update => "UPDATE",
            Action::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where and by whom a resource is deployed. Unknown facts are `None`; a template that needs
/// one of them fails closed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub partition: Option<String>,
    pub stack_name: Option<String>,
    pub stack_id: Option<String>,
    pub change_set_id: Option<String>,
    pub hook_type_name: Option<String>,
}

/// One resource to judge.
#[derive(Clone, Debug)]
pub struct Target {
    /// `AWS::S3::Bucket`
    pub type_name: String,
    pub logical_id: String,
    pub action: Action,
    /// The resource's `Properties` object (empty on DELETE).
    pub properties: Value,
    pub context: Context,
}

/// The placeholder names rcfge itself provides. Organisation variables may not reuse them.
pub const BUILTIN_VARIABLES: [&str; 10] = [
    "accountId",
    "region",
    "partition",
    "stackName",
    "stackId",
    "changeSetId",
    "logicalResourceId",
    "typeName",
    "action",
    "hookTypeName",
];

/// Whether `name` is one of the `BUILTIN_VARIABLES`.
pub fn is_builtin_variable(name: &str) -> bool {
    BUILTIN_VARIABLES.contains(&name)
}

impl Context {
    /// The built-in variables for one resource, as a JSON object; facts that are unknown are
    /// left out, so that a placeholder using them is reported as having no value.
    pub fn variables(&self, type_name: &str, logical_id: &str, action: Action) -> Map<String, Value> {
        BUILTIN_VARIABLES
            .iter()
            .filter_map(|name| {
                let value = self.variable(name, type_name, logical_id, action)?;
                Some(((*name).to_owned(), Value::String(value.to_owned())))
            })
            .collect()
    }

    /// One built-in variable of [`Context::variables`], without making the others: `None` when
    /// the fact is unknown or `name` is not built in.
    pub fn variable<'a>(
        &'a self,
        name: &str,
        type_name: &'a str,
        logical_id: &'a str,
        action: Action,
    ) -> Option<&'a str> {
        match name {
            "accountId" => self.account_id.as_deref(),
            "region" => self.region.as_deref(),
            "partition" => self.partition.as_deref(),
            "stackName" => self.stack_name.as_deref(),
            "stackId" => self.stack_id.as_deref(),
            "changeSetId" => self.change_set_id.as_deref(),
            "logicalResourceId" => Some(logical_id),
            "typeName" => Some(type_name),
            "action" => Some(action.as_str()),
            "hookTypeName" => self.hook_type_name.as_deref(),
            _ => None,
        }
    }
}

/// A name that cannot be an organisation variable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VariableNameError {
    #[error("`{name}` is not a valid variable name (letters, digits and _)")]
    NotPlain { name: String },
    #[error("`{name}` is a built-in name and cannot be an organisation variable")]
    Builtin { name: String },
}

/// An organisation variable name: letters, digits and `_`, not starting with a digit, not a
/// built-in variable and not `json`.
pub fn check_variable_name(name: &str) -> Result<(), VariableNameError> {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !plain {
        return Err(VariableNameError::NotPlain { name: name.to_owned() });
    }
    if is_builtin_variable(name) || name == "json" {
        return Err(VariableNameError::Builtin { name: name.to_owned() });
    }
    Ok(())
}

/// Whether `text` is an AWS account ID: exactly 12 digits.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// The AWS partitions, as ARNs name them.
pub const PARTITIONS: &[&str] =
    &["aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"];

/// Whether `text` is written as a Region code is: lowercase words joined by `-`, the first two
/// to four letters, the last a number (`eu-west-1`, `us-gov-west-1`, `eusc-de-east-1`). Whether the
/// Region exists is not known here: new ones open every year.
pub fn is_region(text: &str) -> bool {
    let words: Vec<&str> = text.split('-').collect();
    let [first, middle @ .., last] = words.as_slice() else { return false };
    (2..=4).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && !middle.is_empty()
        && middle.iter().all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        && !last.is_empty()
        && last.len() <= 2
        && last.bytes().all(|b| b.is_ascii_digit())
}

/// The AWS partition a Region belongs to (`cn-north-1` → `aws-cn`).
pub fn partition_for_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("eu-isoe-") {
        "aws-iso-e"
    } else if region.starts_with("us-isof-") {
        "aws-iso-f"
    } else if region.starts_with("eusc-") {
        "aws-eusc"
    } else {
        "aws"
    }
}

/// A place in a file; both numbers start at 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Which kind of template judged a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TemplateKind {
    /// A restricted template the security team wrote and reviewed.
    Reviewed,
    /// The generated baseline: the pinned provider schema, closed (`rcfge templates freeze`).
    Baseline,
}

impl TemplateKind {
    /// The kind as reports name it.
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateKind::Reviewed => "reviewed",
            TemplateKind::Baseline => "baseline",
        }
    }
}

/// How a file was served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheUse {
    /// Fresh in the cache: no request made.
    Hit,
    /// Revalidated: the source said it had not changed (HTTP 304).
    Revalidated,
    /// Fetched (first use, or changed).
    Miss,
    /// Revalidation failed and the last good copy was used (stale-if-error).
    Stale,
}

/// Why a resource could not be judged: the message names the cause, from the stage that failed
/// down to its source. Plain data, so that a verdict carries nothing of the stages; each
/// stage's own error is turned into a fault where the engine decides.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Fault {
    pub message: String,
    /// The placeholders that had no value, when that is the cause: the CLI turns them into
    /// the flags to pass.
    pub missing_variables: Vec<String>,
}

/// One reason a resource is refused.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// JSON pointer into the resource's properties (`/NotificationConfiguration/...`); `/` for
    /// the properties object itself.
    pub pointer: String,
    /// The JSON Schema keyword that refused the value (`additionalProperties`, `pattern`, ...).
    pub keyword: String,
    /// The offending value as JSON, shortened; absent when the value is missing.
    pub value: Option<String>,
    /// What is wrong, in words a developer understands.
    pub message: String,
    /// What to do about it.
    pub remediation: String,
    /// Where in the stack template file, when judged from one (`rcfge validate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    /// The parameter values and conditions it was found under, when not under all of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// For `anyOf`/`oneOf`: per alternative, the reasons it failed, so that a value known only
    /// at deploy time can be weighed.
    #[serde(skip)]
    pub alternatives: Vec<Vec<Reason>>,
    /// What the organisation's rollout makes of it: refused (the default), reported only
    /// (audit mode) or waived.
    #[serde(skip_serializing_if = "Disposition::is_enforced")]
    pub disposition: Disposition,
    /// Why neither audit mode nor a waiver may let it pass, when that is so (a template's
    /// `denyDelete`, a custom resource's unknown `ServiceToken`, a key the Guard rules could
    /// not be shown).
    #[serde(skip)]
    pub always_enforced: Option<&'static str>,
}

/// What the organisation's rollout settings (`_settings.json` `enforcement`) and waivers
/// (`_waivers.json`) make of a violation. Set only by `Engine::settle`; a violation the rollout
/// was never applied to stays enforced, so forgetting it refuses more, never less.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Disposition {
    /// It refuses the resource.
    #[default]
    Enforced,
    /// Audit mode: it would refuse the resource, and is only reported.
    Audited,
    /// A waiver of the security team lets it pass until the waiver expires.
    Waived(WaiverUse),
}

impl Disposition {
    pub fn is_enforced(&self) -> bool {
        matches!(self, Disposition::Enforced)
    }

    /// The word reports put in front of the violation: `AUDIT` or `WAIVED`; none when enforced.
    pub fn label(&self) -> Option<&'static str> {
        match self {
            Disposition::Enforced => None,
            Disposition::Audited => Some("AUDIT"),
            Disposition::Waived(_) => Some("WAIVED"),
        }
    }
}

/// The waiver that let a violation pass.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WaiverUse {
    pub waiver: String,
    /// The last day (UTC) it applies, `YYYY-MM-DD`.
    pub expires: String,
    pub approver: String,
}

/// Why one alternative of an `anyOf`/`oneOf` failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason {
    /// See [`Violation::subject`].
    pub subject: String,
    /// The JSON Schema keyword that failed.
    pub keyword: String,
    /// No value of the subject's shape can satisfy the keyword (`const: "*"` for an object), so
    /// nothing inside the subject can change the outcome.
    pub settled_by_shape: bool,
    /// For a nested `anyOf`/`oneOf`: per alternative, the reasons it failed.
    pub alternatives: Vec<Vec<Reason>>,
}

impl Violation {
    /// The check that found it, the same in every report format: `rcfge/` and the JSON Schema
    /// keyword (`rcfge/pattern`, `rcfge/additionalProperties`) or the Guard rule
    /// (`rcfge/guard/sqs_fifo_queue_name`).
    pub fn rule_id(&self) -> String {
        format!("rcfge/{}", self.keyword)
    }

    /// A violation found without a stack file, scenario or alternatives.
    pub fn new(pointer: String, keyword: String, value: Option<String>, message: String, remediation: String) -> Self {
        Violation {
            pointer,
            keyword,
            value,
            message,
            remediation,
            position: None,
            when: None,
            alternatives: Vec::new(),
            disposition: Disposition::Enforced,
            always_enforced: None,
        }
    }

    /// The location the violation is about: the object, for a property that should not be
    /// there or is missing; the value itself otherwise.
    pub fn subject(&self) -> String {
        match self.keyword.as_str() {
            "additionalProperties" | "required" | "falseSchema" => match self.pointer.rfind('/') {
                Some(0) | None => "/".to_owned(),
                Some(i) => self.pointer[..i].to_owned(),
            },
            _ => self.pointer.clone(),
        }
    }
}

/// The outcome for one resource.
#[derive(Debug)]
pub enum Verdict {
    /// Every approved rule holds.
    Compliant,
    /// Evaluated and refused, with every reason: at least one violation is enforced.
    NonCompliant(Vec<Violation>),
    /// Evaluated and found violations, none of them enforced: each is audited or waived
    /// (see [`Disposition`]). CloudFormation may go ahead; every report says what would have
    /// refused it.
    Tolerated(Vec<Violation>),
    /// No template, and the type is on the configured exemption list.
    Exempt,
    /// Could not be evaluated; refused all the same.
    InternalFailure(Fault),
}

impl Verdict {
    /// Whether CloudFormation may go ahead.
    pub fn allows(&self) -> bool {
        matches!(self, Verdict::Compliant | Verdict::Exempt | Verdict::Tolerated(_))
    }

    /// The violations found, enforced or not.
    pub fn violations(&self) -> &[Violation] {
        match self {
            Verdict::NonCompliant(violations) | Verdict::Tolerated(violations) => violations,
            _ => &[],
        }
    }

    /// Whether the resource would be refused if every violation were enforced: a tolerated
    /// verdict with an audited violation (a waived one is allowed on purpose).
    pub fn would_refuse(&self) -> bool {
        match self {
            Verdict::Tolerated(violations) => violations.iter().any(|v| v.disposition == Disposition::Audited),
            _ => false,
        }
    }

    /// A one-word name for logs and tables.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Compliant => "compliant",
            Verdict::NonCompliant(_) => "non-compliant",
            Verdict::Tolerated(_) => "tolerated",
            Verdict::Exempt => "exempt",
            Verdict::InternalFailure(_) => "internal-failure",
        }
    }
}

/// A verdict together with what it was about.
#[derive(Debug)]
pub struct Decision {
    pub type_name: String,
    pub logical_id: String,
    pub action: Action,
    pub verdict: Verdict,
    /// The template version used, when one was loaded.
    pub template_version: Option<String>,
    /// Which template judged the resource, when one was loaded.
    pub template_kind: Option<TemplateKind>,
    /// Why a resource passed without its properties being judged (DELETE, exemption).
    pub note: Option<String>,
    /// How the template cache served the template (`None` when it was never asked).
    pub cache: Option<CacheUse>,
    /// The template was rendered and compiled for this decision (not found compiled).
    pub compiled: bool,
}

#[cfg(test)]
mod tests {

    #[test]
    fn region_codes_are_checked_for_their_form() {
        for region in ["us-east-1", "eu-west-1", "us-gov-west-1", "us-isob-east-1", "eusc-de-east-1", "ap-southeast-5"]
        {
            assert!(is_region(region), "{region}");
        }
        for text in ["euwest1", "eu-west", "EU-WEST-1", "eu--1", "-west-1", "eu-west-1-", "e-west-1", "eu-west-123", ""]
        {
            assert!(!is_region(text), "{text}");
        }
        assert_eq!(partition_for_region("eusc-de-east-1"), "aws-eusc");
        assert!(PARTITIONS.iter().all(|p| p.starts_with("aws")));
    }
    use super::*;

    #[test]
    fn unknown_facts_are_left_out() {
        let ctx = Context { account_id: Some("111122223333".into()), ..Context::default() };
        let vars = ctx.variables("AWS::S3::Bucket", "Bucket", Action::Update);
        assert_eq!(vars["accountId"], "111122223333");
        assert_eq!(vars["typeName"], "AWS::S3::Bucket");
        assert_eq!(vars["logicalResourceId"], "Bucket");
        assert_eq!(vars["action"], "UPDATE");
        assert!(!vars.contains_key("region"));
        assert!(vars.keys().all(|k| is_builtin_variable(k)));
    }

    #[test]
    fn partitions() {
        assert_eq!(partition_for_region("eu-west-1"), "aws");
        assert_eq!(partition_for_region("cn-northwest-1"), "aws-cn");
        assert_eq!(partition_for_region("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_for_region("us-iso-east-1"), "aws-iso");
        assert_eq!(partition_for_region("us-isob-east-1"), "aws-iso-b");
    }
}
