//! What the engine concluded about one resource, as plain data. Formatting is the job of
//! `response` (hook JSON) and `report` (CLI text).

use crate::cache::CacheUse;
use crate::context::Action;
use crate::error::Error;
use crate::position::Position;

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
    /// Evaluated and refused, with every reason.
    NonCompliant(Vec<Violation>),
    /// No template, and the type is on the configured exemption list.
    Exempt,
    /// Could not be evaluated; refused all the same.
    InternalFailure(Error),
}

impl Verdict {
    /// Whether CloudFormation may go ahead.
    pub fn allows(&self) -> bool {
        matches!(self, Verdict::Compliant | Verdict::Exempt)
    }

    /// The violations, when refused for them.
    pub fn violations(&self) -> &[Violation] {
        match self {
            Verdict::NonCompliant(violations) => violations,
            _ => &[],
        }
    }

    /// A one-word name for logs and tables.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Compliant => "compliant",
            Verdict::NonCompliant(_) => "non-compliant",
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
    /// Why a resource passed without its properties being judged (DELETE, exemption).
    pub note: Option<String>,
    /// How the template cache served the template (`None` when it was never asked).
    pub cache: Option<CacheUse>,
    /// The template was rendered and compiled for this decision (not found compiled).
    pub compiled: bool,
}
