//! `rcfge waivers lint`: what is wrong with `_waivers.json` beside the templates, beyond what
//! keeps it from loading. A waiver that has expired, that can never match a violation, or whose
//! scope is wider than one rule in a known place is reported, so that the file stays a short
//! list of deliberate, current exceptions.

use std::fmt::Write;
use std::path::Path;

use serde_json::{Map, Value};

use crate::authoring::AuthoringError;
use crate::rollout::{Date, RuleSelector, WAIVERS_FILE, Waiver, Waivers};
use crate::template::store::{BASELINE_DIR, VARIABLES_FILE};
use crate::template::{CUSTOM_RESOURCE_TYPE, baseline_file_for_type, file_name_for_type};

/// What is wrong with a waiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The file does not load: the hook would fail every decision that needs it.
    Malformed,
    Expired,
    /// It can never let a violation pass.
    NeverMatches,
    /// It lets more pass than one rule in a known place.
    OverBroad,
}

impl Problem {
    pub fn as_str(self) -> &'static str {
        match self {
            Problem::Malformed => "malformed",
            Problem::Expired => "expired",
            Problem::NeverMatches => "never matches",
            Problem::OverBroad => "over-broad",
        }
    }
}

/// One finding about the waivers file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaiverFinding {
    /// The waiver's id; `None` for the file as a whole.
    pub waiver: Option<String>,
    pub problem: Problem,
    pub message: String,
}

/// Lints `templates/_waivers.json` as of `today`; Guard rule names are looked up in
/// `guard_rules`. A missing file is an error: there is nothing to lint.
pub fn lint(templates: &Path, guard_rules: &Path, today: Date) -> Result<Vec<WaiverFinding>, AuthoringError> {
    let path = templates.join(WAIVERS_FILE);
    let body =
        std::fs::read(&path).map_err(|source| AuthoringError::Read { path: path.display().to_string(), source })?;
    let waivers = match Waivers::parse(&body) {
        Ok(waivers) => waivers,
        Err(error) => {
            return Ok(vec![WaiverFinding { waiver: None, problem: Problem::Malformed, message: error.to_string() }]);
        }
    };
    let variables = match std::fs::read(templates.join(VARIABLES_FILE)) {
        Ok(body) => crate::json::from_slice(&body).ok().and_then(|v: Value| v.as_object().cloned()).unwrap_or_default(),
        Err(_) => Map::new(),
    };
    let mut findings = Vec::new();
    for waiver in &waivers.waivers {
        let mut found = |problem, message: String| {
            findings.push(WaiverFinding { waiver: Some(waiver.id.clone()), problem, message });
        };
        if waiver.expires < today {
            found(Problem::Expired, format!("expired on {}: remove it, or renew it with a new review", waiver.expires));
        }
        for reason in never_matches(waiver, templates, guard_rules, &variables) {
            found(Problem::NeverMatches, reason);
        }
        for reason in over_broad(waiver) {
            found(Problem::OverBroad, reason);
        }
    }
    Ok(findings)
}

/// Why a waiver can never let a violation pass, if it cannot.
fn never_matches(waiver: &Waiver, templates: &Path, guard_rules: &Path, variables: &Map<String, Value>) -> Vec<String> {
    let mut reasons = Vec::new();
    let type_name = &waiver.type_name;
    let judged_as = if type_name.starts_with("Custom::") { CUSTOM_RESOURCE_TYPE } else { type_name.as_str() };
    let reviewed = file_name_for_type(judged_as).ok().map(|name| templates.join(name)).filter(|p| p.is_file());
    let baseline = baseline_file_for_type(judged_as)
        .ok()
        .map(|name| templates.join(name))
        .filter(|p| p.is_file() && !judged_as.eq(CUSTOM_RESOURCE_TYPE));
    if reviewed.is_none() && baseline.is_none() {
        reasons.push(format!(
            "no template judges {type_name} (neither {} nor {BASELINE_DIR}/): its resources fail closed, and a \
             waiver never turns that into a success",
            file_name_for_type(judged_as).unwrap_or_default()
        ));
    }
    if let RuleSelector::Guard(rule) = &waiver.rule {
        let name = rule.trim_start_matches("guard/");
        let rules_file = file_name_for_type(judged_as).ok().map(|f| crate::policy::guard::file_name_for(&f));
        let text = rules_file
            .iter()
            .flat_map(|f| [guard_rules.join(f), templates.join(f)])
            .find_map(|path| std::fs::read_to_string(path).ok());
        let declared = text.as_deref().is_some_and(|text| {
            text.lines().any(|line| {
                let mut words = line.split_whitespace();
                words.next() == Some("rule") && words.next().is_some_and(|w| w.trim_end_matches('{') == name)
            })
        });
        if !declared {
            reasons.push(format!("{type_name} has no Guard rule named {name}"));
        }
    }
    for name in waiver.account_variables() {
        let accounts = match variables.get(name) {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if accounts.is_empty() || !accounts.iter().all(|a| crate::is_account_id(a)) {
            reasons.push(format!(
                "accounts names {{{{{name}}}}}, which {VARIABLES_FILE} does not define as an account ID or a list of them"
            ));
        }
    }
    if let Some(stack) = &waiver.stack_name
        && !stack.starts_with(|c: char| c.is_ascii_alphabetic() || c == '*')
    {
        reasons.push(format!("stackName `{stack}`: stack names start with a letter"));
    }
    reasons
}

/// Why a waiver's scope is wider than one rule in a known place, if it is.
fn over_broad(waiver: &Waiver) -> Vec<String> {
    let mut reasons = Vec::new();
    if waiver.rule.is_whole_resource() {
        reasons.push(format!(
            "rule `/` waives every rule of {}: name the property or Guard rule it is for",
            waiver.type_name
        ));
    }
    if waiver.accounts.is_none() {
        // Whoever deploys chooses the stack name and the logical IDs: only accounts bound it.
        reasons.push(
            "names no accounts: whoever deploys chooses stack names and logical IDs, so it applies in every account"
                .into(),
        );
    }
    reasons
}

/// The findings as text, one line each, and a closing count.
pub fn text(findings: &[WaiverFinding]) -> String {
    let mut out = String::new();
    for finding in findings {
        let who = finding.waiver.as_deref().map(|id| format!("{id}: ")).unwrap_or_default();
        let _ = writeln!(out, "{WAIVERS_FILE}: {who}{}: {}", finding.problem.as_str(), finding.message);
    }
    let _ = match findings.len() {
        0 => writeln!(out, "{WAIVERS_FILE}: no findings"),
        1 => writeln!(out, "1 finding"),
        n => writeln!(out, "{n} findings"),
    };
    out
}
