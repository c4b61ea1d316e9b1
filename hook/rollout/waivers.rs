//! Waivers: `_waivers.json` beside the templates, written by the security team. Each lets one
//! rule of one type pass where its scope says, for a reason, until it expires:
//!
//! ```json
//! {
//!   "maxLifetimeDays": 90,
//!   "waivers": [{
//!     "id": "W-2026-014",
//!     "type": "AWS::S3::Bucket",
//!     "rule": "/LoggingConfiguration",
//!     "accounts": ["111122223333", "{{sandboxAccounts}}"],
//!     "stackName": "legacy-analytics-*",
//!     "logicalId": "RawEvents",
//!     "reason": "Access logs move to the central bucket with SEC-123",
//!     "approver": "jane.doe@example.com",
//!     "ticket": "SEC-123",
//!     "created": "2026-11-02",
//!     "expires": "2027-01-31"
//!   }]
//! }
//! ```
//!
//! `type`, `rule`, `reason`, `approver`, `created` and `expires` are required; `expires` may be
//! at most `maxLifetimeDays` after `created`. A waiver applies from `created` to `expires`
//! included (UTC), to a resource of its type whose account, stack name and logical ID are in its
//! scope (an absent field does not narrow it), and to the violations its `rule` names (see
//! [`RuleSelector`]). `accounts` holds account IDs and `{{name}}` of organisation variables
//! (`_variables.json`) whose value is an account ID or a list of them. A scope that names a fact
//! the decision does not know (no stack name given to `rcfge validate`, say) does not match.
//! Only `accounts` is a boundary a developer cannot cross: whoever deploys chooses the stack
//! name and the logical IDs, so `rcfge waivers lint` reports a waiver without accounts.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::decision::{Context, TemplateKind, Violation, WaiverUse, is_account_id};
use crate::rollout::enforcement::{RuleSelector, is_type_pattern};

/// What a violation is judged against: the resource it was found in, and where it is deployed.
pub struct Subject<'a> {
    pub type_name: &'a str,
    /// The type whose template judged it: the type itself, or
    /// `AWS::CloudFormation::CustomResource` for a custom resource.
    pub judged_as: &'a str,
    pub logical_id: &'a str,
    pub template_kind: Option<TemplateKind>,
    pub context: &'a Context,
}

/// The file, at the root of every source, that holds the waivers.
pub const WAIVERS_FILE: &str = "_waivers.json";

/// CloudFormation's longest stack name, and so the longest `stackName` pattern.
const MAX_STACK_NAME_CHARS: usize = 128;

/// The longest lifetime an organisation may allow, in days.
pub const MAX_LIFETIME_DAYS: i64 = 3_650;

/// A day in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(time::Date);

impl Date {
    /// `YYYY-MM-DD`, a real calendar day.
    pub fn parse(text: &str) -> Option<Date> {
        let mut parts = text.split('-');
        let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if parts.next().is_some() || !digits(year, 4) || !digits(month, 2) || !digits(day, 2) {
            return None;
        }
        let month = time::Month::try_from(month.parse::<u8>().ok()?).ok()?;
        time::Date::from_calendar_date(year.parse().ok()?, month, day.parse().ok()?).ok().map(Date)
    }

    /// Today, in UTC.
    pub fn today() -> Date {
        Date(time::OffsetDateTime::now_utc().date())
    }

    /// The day `days` after this one (before it when negative), if the calendar has it.
    pub fn plus_days(self, days: i64) -> Option<Date> {
        self.0.checked_add(time::Duration::days(days)).map(Date)
    }

    /// Whole days from `earlier` to `self`.
    pub fn days_since(self, earlier: Date) -> i64 {
        (self.0 - earlier.0).whole_days()
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.0.year(), u8::from(self.0.month()), self.0.day())
    }
}

/// Why `_waivers.json` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum WaiverError {
    #[error("not valid waivers: {0}")]
    Invalid(serde_json::Error),
    #[error("maxLifetimeDays must be between 1 and {MAX_LIFETIME_DAYS}, not {0}")]
    Lifetime(i64),
    #[error("waiver {index}: {reason}")]
    Waiver { index: usize, reason: String },
    #[error("waiver id `{0}` is used twice")]
    DuplicateId(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WaiversFile {
    max_lifetime_days: i64,
    waivers: Vec<WaiverEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct WaiverEntry {
    id: String,
    #[serde(rename = "type")]
    type_name: String,
    rule: String,
    #[serde(default)]
    accounts: Option<Vec<String>>,
    #[serde(default)]
    stack_name: Option<String>,
    #[serde(default)]
    logical_id: Option<String>,
    reason: String,
    approver: String,
    #[serde(default)]
    ticket: Option<String>,
    created: String,
    expires: String,
}

/// One waiver, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiver {
    pub id: String,
    pub type_name: String,
    pub rule: RuleSelector,
    /// Account IDs and `{{name}}` organisation variables; `None` for every account.
    pub accounts: Option<Vec<String>>,
    /// A stack name, `*` standing for any run of characters.
    pub stack_name: Option<String>,
    pub logical_id: Option<String>,
    pub reason: String,
    pub approver: String,
    pub ticket: Option<String>,
    pub created: Date,
    pub expires: Date,
}

/// Every waiver of the organisation (none when `_waivers.json` is absent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Waivers {
    pub max_lifetime_days: i64,
    pub waivers: Vec<Waiver>,
    /// The waivers of each type, so that a violation is compared with its type's only.
    by_type: BTreeMap<String, Vec<usize>>,
}

/// What the waivers say about one violation.
pub(crate) enum Found<'a> {
    Applies(&'a Waiver),
    /// Only an expired waiver would have applied.
    Expired(&'a Waiver),
    None,
}

impl Waivers {
    /// Parses `_waivers.json`: every key known, every field well formed, every lifetime within
    /// the organisation's maximum. One bad waiver refuses the file: the security team fixes it
    /// before it is published (`rcfge waivers lint`, `rcfge publish`).
    pub fn parse(body: &[u8]) -> Result<Waivers, WaiverError> {
        let value = crate::json::from_slice(body).map_err(WaiverError::Invalid)?;
        let file: WaiversFile = serde_json::from_value(value).map_err(WaiverError::Invalid)?;
        if !(1..=MAX_LIFETIME_DAYS).contains(&file.max_lifetime_days) {
            return Err(WaiverError::Lifetime(file.max_lifetime_days));
        }
        let mut ids = BTreeSet::new();
        let mut waivers = Vec::with_capacity(file.waivers.len());
        for (index, entry) in file.waivers.into_iter().enumerate() {
            let waiver = entry.check(file.max_lifetime_days).map_err(|reason| WaiverError::Waiver { index, reason })?;
            if !ids.insert(waiver.id.clone()) {
                return Err(WaiverError::DuplicateId(waiver.id));
            }
            waivers.push(waiver);
        }
        let mut by_type: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (index, waiver) in waivers.iter().enumerate() {
            by_type.entry(waiver.type_name.clone()).or_default().push(index);
        }
        Ok(Waivers { max_lifetime_days: file.max_lifetime_days, waivers, by_type })
    }

    /// The waiver that lets `violation` pass today, or the expired one that would have.
    pub(crate) fn find(
        &self,
        subject: &Subject<'_>,
        violation: &Violation,
        variables: &Map<String, Value>,
        today: Date,
    ) -> Found<'_> {
        let mut expired = None;
        let of_type = self.by_type.get(subject.type_name).map(Vec::as_slice).unwrap_or_default();
        for waiver in of_type.iter().filter_map(|&index| self.waivers.get(index)) {
            if !waiver.covers(subject, violation, variables) || today < waiver.created {
                continue;
            }
            if today <= waiver.expires {
                return Found::Applies(waiver);
            }
            expired = expired.or(Some(waiver));
        }
        expired.map_or(Found::None, Found::Expired)
    }
}

impl WaiverEntry {
    fn check(self, max_lifetime_days: i64) -> Result<Waiver, String> {
        let plain = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if self.id.is_empty() || self.id.len() > 64 || !plain(&self.id) {
            return Err(format!("id `{}` must be 1 to 64 letters, digits, `-`, `_` or `.`", self.id));
        }
        let id = &self.id;
        if !is_type_pattern(&self.type_name, false) {
            return Err(format!("{id}: type `{}` is not a resource type name", self.type_name));
        }
        let rule = RuleSelector::parse(&self.rule).map_err(|reason| format!("{id}: rule `{}`: {reason}", self.rule))?;
        for account in self.accounts.iter().flatten() {
            if !is_account_id(account) && variable_name(account).is_none() {
                return Err(format!("{id}: `{account}` in accounts is neither an account ID nor {{{{variable}}}}"));
            }
        }
        if self.accounts.as_ref().is_some_and(Vec::is_empty) {
            return Err(format!("{id}: accounts is empty; leave it out to waive in every account"));
        }
        if let Some(stack) = &self.stack_name
            && (stack.is_empty()
                || stack.len() > MAX_STACK_NAME_CHARS
                || !stack.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '*'))
        {
            return Err(format!(
                "{id}: stackName `{stack}` is not a stack name (at most {MAX_STACK_NAME_CHARS} letters, digits, `-`, `*`)"
            ));
        }
        if let Some(logical) = &self.logical_id
            && (logical.is_empty() || !logical.chars().all(|c| c.is_ascii_alphanumeric()))
        {
            return Err(format!("{id}: logicalId `{logical}` is not a logical ID"));
        }
        for (field, text) in [("reason", &self.reason), ("approver", &self.approver)] {
            if text.trim().is_empty() {
                return Err(format!("{id}: {field} is required"));
            }
        }
        let date = |field: &str, text: &str| {
            Date::parse(text).ok_or_else(|| format!("{id}: {field} `{text}` is not a date (YYYY-MM-DD)"))
        };
        let created = date("created", &self.created)?;
        let expires = date("expires", &self.expires)?;
        let lifetime = expires.days_since(created);
        if lifetime < 0 {
            return Err(format!("{id}: expires ({expires}) is before created ({created})"));
        }
        if lifetime > max_lifetime_days {
            return Err(format!(
                "{id}: lives {lifetime} days ({created} to {expires}), longer than maxLifetimeDays ({max_lifetime_days})"
            ));
        }
        Ok(Waiver {
            id: self.id,
            type_name: self.type_name,
            rule,
            accounts: self.accounts,
            stack_name: self.stack_name,
            logical_id: self.logical_id,
            reason: self.reason,
            approver: self.approver,
            ticket: self.ticket,
            created,
            expires,
        })
    }
}

impl Waiver {
    /// Whether the waiver's scope and rule take in `violation` of `subject`, whatever the date.
    pub(crate) fn covers(&self, subject: &Subject<'_>, violation: &Violation, variables: &Map<String, Value>) -> bool {
        let context = subject.context;
        self.type_name == subject.type_name
            && self.logical_id.as_deref().is_none_or(|id| id == subject.logical_id)
            && self
                .stack_name
                .as_deref()
                .is_none_or(|pattern| context.stack_name.as_deref().is_some_and(|name| wildcard_matches(pattern, name)))
            && self.accounts.as_ref().is_none_or(|accounts| {
                context.account_id.as_deref().is_some_and(|account| {
                    accounts.iter().any(|entry| self.account_entry_names(entry, account, variables))
                })
            })
            && self.rule.matches(violation)
    }

    fn account_entry_names(&self, entry: &str, account: &str, variables: &Map<String, Value>) -> bool {
        match variable_name(entry) {
            None => entry == account,
            Some(name) => match variables.get(name) {
                Some(Value::String(one)) => one == account,
                Some(Value::Array(many)) => many.iter().any(|v| v.as_str() == Some(account)),
                _ => false,
            },
        }
    }

    /// What a decision records about the waiver it used.
    pub fn usage(&self) -> WaiverUse {
        WaiverUse { waiver: self.id.clone(), expires: self.expires.to_string(), approver: self.approver.clone() }
    }

    /// The organisation variables its account list names.
    pub fn account_variables(&self) -> impl Iterator<Item = &str> {
        self.accounts.iter().flatten().filter_map(|entry| variable_name(entry))
    }
}

/// `name` of `{{name}}`.
fn variable_name(entry: &str) -> Option<&str> {
    let name = entry.strip_prefix("{{")?.strip_suffix("}}")?.trim();
    crate::decision::check_variable_name(name).ok().map(|()| name)
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters (stack names
/// hold no other special characters). Backtracks only to the last `*`, so it takes at most
/// pattern × name steps: a pattern has at most 128 characters, and so has a stack name that
/// CloudFormation gives.
fn wildcard_matches(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < t.len() {
        if i < p.len() && p[i] == b'*' {
            star = Some((i, j));
            i += 1;
        } else if i < p.len() && p[i] == t[j] {
            i += 1;
            j += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::decision::Context;

    fn waivers(entries: Value) -> Result<Waivers, WaiverError> {
        Waivers::parse(json!({"maxLifetimeDays": 90, "waivers": entries}).to_string().as_bytes())
    }

    fn entry() -> Value {
        json!({
            "id": "W-1", "type": "AWS::S3::Bucket", "rule": "/LoggingConfiguration",
            "reason": "r", "approver": "a", "created": "2026-12-01", "expires": "2027-01-31"
        })
    }

    #[test]
    fn dates() {
        assert_eq!(Date::parse("2024-02-29").unwrap().to_string(), "2024-02-29");
        for bad in ["2023-02-29", "2026-13-01", "2026-1-01", "26-01-01", "2026-01-01T00:00", "", "2026-01-01-"] {
            assert!(Date::parse(bad).is_none(), "{bad}");
        }
        let (a, b) = (Date::parse("2026-12-31").unwrap(), Date::parse("2027-03-01").unwrap());
        assert_eq!(b.days_since(a), 60);
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_matches("legacy-*", "legacy-analytics"));
        assert!(wildcard_matches("*-prod-*", "app-prod-eu"));
        assert!(wildcard_matches("app", "app"));
        assert!(!wildcard_matches("app", "app2"));
        assert!(!wildcard_matches("legacy-*", "new-legacy-x"));
        assert!(wildcard_matches("*a*a*a*b", &"a".repeat(2000).replace("aaaa", "aaab")));
    }

    #[test]
    fn every_malformed_waiver_refuses_the_file() {
        let with = |key: &str, value: Value| {
            let mut e = entry();
            e[key] = value;
            json!([e])
        };
        let without = |key: &str| {
            let mut e = entry();
            e.as_object_mut().unwrap().remove(key);
            json!([e])
        };
        for bad in [
            without("expires"),
            without("created"),
            without("reason"),
            without("approver"),
            without("rule"),
            without("type"),
            with("expires", json!("2027-04-01")),
            with("expires", json!("2026-11-30")),
            with("expires", json!("soon")),
            with("reason", json!("  ")),
            with("rule", json!("LoggingConfiguration")),
            with("type", json!("AWS::S3::*")),
            with("accounts", json!([])),
            with("accounts", json!(["1111"])),
            with("accounts", json!(["{{accountId}}"])),
            with("stackName", json!("a b")),
            with("id", json!("")),
            with("extra", json!(1)),
            json!([entry(), entry()]),
        ] {
            assert!(waivers(bad.clone()).is_err(), "{bad}");
        }
        assert!(Waivers::parse(br#"{"maxLifetimeDays": 0, "waivers": []}"#).is_err());
        assert!(Waivers::parse(br#"{"waivers": []}"#).is_err());
        assert!(waivers(json!([entry()])).is_ok());
    }

    #[test]
    fn a_scope_that_names_an_unknown_fact_does_not_match() {
        let mut e = entry();
        e["accounts"] = json!(["{{sandbox}}"]);
        e["stackName"] = json!("legacy-*");
        let waivers = waivers(json!([e])).unwrap();
        let waiver = &waivers.waivers[0];
        let violation = Violation::new("/LoggingConfiguration".into(), "required".into(), None, "".into(), "".into());
        let variables: Map<String, Value> =
            serde_json::from_value(json!({"sandbox": ["111122223333", "444455556666"]})).unwrap();
        let covers = |account: Option<&str>, stack: Option<&str>| {
            let context = Context {
                account_id: account.map(Into::into),
                stack_name: stack.map(Into::into),
                ..Context::default()
            };
            let subject = Subject {
                type_name: "AWS::S3::Bucket",
                judged_as: "AWS::S3::Bucket",
                logical_id: "B",
                template_kind: None,
                context: &context,
            };
            waiver.covers(&subject, &violation, &variables)
        };
        assert!(covers(Some("444455556666"), Some("legacy-x")));
        assert!(!covers(Some("999999999999"), Some("legacy-x")));
        assert!(!covers(None, Some("legacy-x")));
        assert!(!covers(Some("444455556666"), None));
        assert!(!covers(Some("444455556666"), Some("other")));
    }
}
