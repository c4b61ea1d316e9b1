//! The runtime facts a decision is made in: who deploys what, where.
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

/// Whether `name` is one of the [`BUILTIN_VARIABLES`].
pub fn is_builtin_variable(name: &str) -> bool {
    BUILTIN_VARIABLES.contains(&name)
}

impl Context {
    /// The built-in variables for one resource, as a JSON object; facts that are unknown are
    /// left out, so that a placeholder using them is reported as having no value.
    pub fn variables(&self, type_name: &str, logical_id: &str, action: Action) -> Map<String, Value> {
        let facts = [
            ("accountId", self.account_id.as_deref()),
            ("region", self.region.as_deref()),
            ("partition", self.partition.as_deref()),
            ("stackName", self.stack_name.as_deref()),
            ("stackId", self.stack_id.as_deref()),
            ("changeSetId", self.change_set_id.as_deref()),
            ("logicalResourceId", Some(logical_id)),
            ("typeName", Some(type_name)),
            ("action", Some(action.as_str())),
            ("hookTypeName", self.hook_type_name.as_deref()),
        ];
        facts
            .into_iter()
            .filter_map(|(name, value)| Some((name.to_owned(), Value::String(value?.to_owned()))))
            .collect()
    }
}

/// Whether `text` is an AWS account ID: exactly 12 digits.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
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
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
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
