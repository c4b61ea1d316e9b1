//! What operators see: one structured record per decision, and CloudWatch Embedded Metric
//! Format (EMF) lines so that dashboards need no extra code. Metadata only: never property
//! values or template bodies.

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::decision::{CacheUse, Disposition, TemplateKind};
use crate::decision::{Decision, Verdict, Violation};
use crate::json::shorten;
use crate::lambda::event::WholeTarget;
use crate::lambda::response::{ErrorCode, HookResponse, HookStatus};
use crate::stack::ResourceReport;

/// The CloudWatch namespace of the metrics.
pub const NAMESPACE: &str = "rcfge";

/// Which CloudWatch metrics a decision line carries (`RCFGE_METRICS`). Each distinct set of
/// dimension values is a custom metric billed by the hour it receives data, in every account
/// and Region: by type, that is a hundred or more per account (see `docs/scale.md`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Metrics {
    /// `Decisions` and `LatencyMicroseconds` by `Verdict`: five metrics' worth per account.
    #[default]
    ByVerdict,
    /// Also by `Verdict` and `TypeName`.
    ByType,
    /// None: the line is a log record only (Logs Insights and metric filters still read it).
    Off,
}

impl Metrics {
    /// `by-verdict`, `by-type` or `off`.
    pub fn parse(text: &str) -> Option<Metrics> {
        match text {
            "by-verdict" => Some(Metrics::ByVerdict),
            "by-type" => Some(Metrics::ByType),
            "off" => Some(Metrics::Off),
            _ => None,
        }
    }
}

/// One decision, for the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DecisionRecord {
    /// `null` when the event could not be read far enough to know.
    pub type_name: Option<String>,
    pub logical_id: Option<String>,
    pub stack: Option<String>,
    pub account: Option<String>,
    pub action: Option<&'static str>,
    /// `compliant`, `non-compliant`, `exempt` or `internal-failure`.
    pub verdict: &'static str,
    pub hook_status: HookStatus,
    pub error_code: Option<ErrorCode>,
    pub violations: usize,
    pub template_version: Option<String>,
    /// Which template judged the resource: `reviewed` or `baseline`.
    pub template_kind: Option<TemplateKind>,
    /// How the template cache served the template: `hit`, `revalidated` (304), `miss`,
    /// `stale` (stale-if-error); `null` when no template was asked for.
    pub cache: Option<CacheUse>,
    /// The template was rendered and compiled for this decision.
    pub compiled: bool,
    pub latency_us: u64,
    /// Why the resource could not be evaluated (internal failures only).
    pub reason: Option<String>,
    /// Allowed only because audit mode reported violations instead of refusing: the resource
    /// would be refused if its type were enforced.
    pub would_refuse: bool,
    /// Every violation, at most `MAX_RECORDED_FINDINGS` (100): where, which rule, and what the
    /// rollout made of it. Never the offending value.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<RecordedFinding>,
}

/// Findings per record: enough for any real resource, bounded against hostile ones.
pub const MAX_RECORDED_FINDINGS: usize = 100;
/// A finding's property pointer is cut to this many characters.
const MAX_RECORDED_POINTER_CHARS: usize = 256;

/// One violation in a decision record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RecordedFinding {
    /// The resource, in the record of a STACK or CHANGE_SET target.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub type_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub logical_id: Option<String>,
    /// JSON pointer into the properties.
    pub property: String,
    /// The JSON Schema keyword or `guard/RULE` that refused the value.
    pub rule: String,
    /// `refused`, `audit` or `waived`.
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub waiver: Option<String>,
}

impl RecordedFinding {
    fn of(violation: &Violation, resource: Option<(&str, &str)>) -> Self {
        let (outcome, waiver) = match &violation.disposition {
            Disposition::Enforced => ("refused", None),
            Disposition::Audited => ("audit", None),
            Disposition::Waived(w) => ("waived", Some(w.waiver.clone())),
        };
        RecordedFinding {
            type_name: resource.map(|(type_name, _)| type_name.to_owned()),
            logical_id: resource.map(|(_, logical_id)| logical_id.to_owned()),
            property: shorten(&violation.pointer, MAX_RECORDED_POINTER_CHARS),
            rule: shorten(&violation.keyword, MAX_RECORDED_POINTER_CHARS),
            outcome: outcome.to_owned(),
            waiver,
        }
    }
}

impl DecisionRecord {
    /// The record of a judged resource.
    pub fn of_decision(
        decision: &Decision,
        response: &HookResponse,
        stack: Option<String>,
        account: Option<String>,
        latency_us: u64,
    ) -> Self {
        let (violations, reason) = match &decision.verdict {
            Verdict::NonCompliant(v) | Verdict::Tolerated(v) => (v.len(), None),
            Verdict::InternalFailure(error) => (0, Some(error.to_string())),
            Verdict::Compliant | Verdict::Exempt => (0, None),
        };
        let findings = decision
            .verdict
            .violations()
            .iter()
            .take(MAX_RECORDED_FINDINGS)
            .map(|v| RecordedFinding::of(v, None))
            .collect();
        DecisionRecord {
            type_name: Some(decision.type_name.clone()),
            logical_id: Some(decision.logical_id.clone()),
            stack,
            account,
            action: Some(decision.action.as_str()),
            verdict: decision.verdict.label(),
            hook_status: response.hook_status,
            error_code: response.error_code,
            violations,
            template_version: decision.template_version.clone(),
            template_kind: decision.template_kind,
            cache: decision.cache,
            compiled: decision.compiled,
            latency_us,
            reason,
            would_refuse: decision.verdict.would_refuse(),
            findings,
        }
    }

    /// The record of a STACK or CHANGE_SET target (`type_name` is the target kind); its
    /// findings name their resources.
    pub fn of_whole_target(
        kind: &'static str,
        target: &WholeTarget,
        response: &HookResponse,
        reports: &[ResourceReport],
        reason: Option<String>,
        latency_us: u64,
    ) -> Self {
        let decisions = || reports.iter().filter_map(ResourceReport::decision);
        let violations = decisions().map(|d| d.verdict.violations().len()).sum();
        let findings = decisions()
            .flat_map(|d| d.verdict.violations().iter().map(move |v| (d, v)))
            .take(MAX_RECORDED_FINDINGS)
            .map(|(d, v)| RecordedFinding::of(v, Some((&d.type_name, &d.logical_id))))
            .collect();
        let would_refuse = response.error_code.is_none() && decisions().any(|d| d.verdict.would_refuse());
        let tolerated =
            reports.iter().filter_map(ResourceReport::decision).any(|d| matches!(d.verdict, Verdict::Tolerated(_)));
        let verdict = match response.error_code {
            None if tolerated => "tolerated",
            None => "compliant",
            Some(ErrorCode::NonCompliant) => "non-compliant",
            Some(ErrorCode::InternalFailure) => "internal-failure",
        };
        let context = &target.context;
        DecisionRecord {
            type_name: Some(kind.to_owned()),
            logical_id: Some(target.logical_id.clone()),
            stack: context.stack_name.clone().or_else(|| context.stack_id.clone()),
            account: context.account_id.clone(),
            action: Some(target.action.as_str()),
            verdict,
            hook_status: response.hook_status,
            error_code: response.error_code,
            violations,
            template_version: None,
            template_kind: None,
            cache: None,
            compiled: false,
            latency_us,
            reason,
            would_refuse,
            findings,
        }
    }

    /// The record of a request refused before any resource was judged.
    pub fn of_refusal(response: &HookResponse, reason: String, latency_us: u64) -> Self {
        DecisionRecord {
            type_name: None,
            logical_id: None,
            stack: None,
            account: None,
            action: None,
            verdict: "internal-failure",
            hook_status: response.hook_status,
            error_code: response.error_code,
            violations: 0,
            template_version: None,
            template_kind: None,
            cache: None,
            compiled: false,
            latency_us,
            reason: Some(reason),
            would_refuse: false,
            findings: Vec::new(),
        }
    }

    /// The log line for this decision: the record's fields, plus, unless `metrics` is off,
    /// CloudWatch Embedded Metric Format metadata that turns it into a `Decisions` count and
    /// `LatencyMicroseconds`, by `Verdict` (and by `Verdict` and `TypeName`). One line serves as
    /// log and metric.
    pub fn emf(&self, timestamp_ms: u64, metrics: Metrics) -> Value {
        let mut line = match serde_json::to_value(self) {
            Ok(Value::Object(fields)) => fields,
            _ => Map::new(),
        };
        let dimensions = match metrics {
            Metrics::Off => return Value::Object(line),
            Metrics::ByVerdict => json!([["Verdict"]]),
            Metrics::ByType => json!([["Verdict"], ["Verdict", "TypeName"]]),
        };
        line.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": dimensions,
                    "Metrics": [
                        {"Name": "Decisions", "Unit": "Count"},
                        {"Name": "LatencyMicroseconds", "Unit": "Microseconds"}
                    ]
                }]
            }),
        );
        line.insert("Verdict".to_owned(), json!(self.verdict));
        if metrics == Metrics::ByType {
            line.insert("TypeName".to_owned(), json!(self.type_name.as_deref().unwrap_or("unknown")));
        }
        line.insert("Decisions".to_owned(), json!(1));
        line.insert("LatencyMicroseconds".to_owned(), json!(self.latency_us));
        Value::Object(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_names_every_metric_and_dimension() {
        let response =
            HookResponse::internal_failure(&crate::lambda::RequestError::Panic { message: "x".into() }, None);
        let record = DecisionRecord::of_refusal(&response, "x".into(), 42);
        assert!(record.emf(1, Metrics::Off).get("_aws").is_none());
        assert_eq!(
            record.emf(1, Metrics::ByVerdict)["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Verdict"]])
        );
        let emf = record.emf(1_700_000_000_000, Metrics::ByType);
        let directive = &emf["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE);
        for dimensions in directive["Dimensions"].as_array().unwrap() {
            for name in dimensions.as_array().unwrap() {
                assert!(emf.get(name.as_str().unwrap()).is_some(), "dimension {name} has no value");
            }
        }
        for metric in directive["Metrics"].as_array().unwrap() {
            assert!(emf[metric["Name"].as_str().unwrap()].is_number());
        }
        assert_eq!(emf["Verdict"], "internal-failure");
        assert_eq!(emf["LatencyMicroseconds"], 42);
        assert_eq!(emf["reason"], "x", "the record's own fields are on the same line");
    }
}
