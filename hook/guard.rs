//! Guard rules beside the schemas: `<type-file-stem>.guard` files written in the AWS
//! CloudFormation Guard language, for the requirements JSON Schema says awkwardly ("if object
//! lock is on, versioning must be on"). They run after the schema, on the same normalised
//! properties, through the `cfn-guard` library; both must pass.
//!
//! The resource is given to the rules as a one-resource template, so that rules are written
//! as for any CloudFormation template:
//!
//! ```text
//! { "Resources": { "<LogicalId>": { "Type": "AWS::S3::Bucket", "Properties": { ... } } } }
//! ```

use cfn_guard::commands::Executable;
use cfn_guard::commands::validate::{OutputFormatType, ShowSummaryType};
use cfn_guard::utils::reader::{ReadBuffer, Reader};
use cfn_guard::utils::writer::{WriteBuffer, Writer};
use cfn_guard::{CommandBuilder, TestBuilder, ValidateBuilder};
use std::path::Path;

use serde_json::{Value, json};

use crate::verdict::Violation;

/// Why a Guard rule file cannot be used. Each one fails closed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GuardError {
    #[error("the template requires Guard rules, but there is no {file} in {location}")]
    Missing { file: String, location: String },
    #[error("the Guard rules {file} do not parse: {reason}")]
    Parse { file: String, reason: String },
    #[error("the Guard rules {file} hold no rule")]
    NoRules { file: String },
    #[error("the Guard rules {file} are not UTF-8")]
    NotText { file: String },
    #[error("the Guard rules {file} could not be evaluated: {reason}")]
    Evaluation { file: String, reason: String },
}

/// `cfn-guard test -d DIR` through the library: every rule file of `dir` against its
/// `tests/<stem>_tests.yaml`. The report when every case passes; the failing cases otherwise.
pub fn run_tests(dir: &Path) -> Result<String, String> {
    let mut writer = Writer::new(WriteBuffer::Vec(Vec::new())).map_err(|e| e.to_string())?;
    let mut reader = Reader::new(ReadBuffer::Cursor(std::io::Cursor::new(Vec::new())));
    let test =
        TestBuilder::default().directory(Some(dir.display().to_string())).try_build().map_err(|e| e.to_string())?;
    let code = test.execute(&mut writer, &mut reader).map_err(|e| e.to_string())?;
    let output = writer.stripped().map_err(|e| e.to_string())?;
    if code == 0 {
        return Ok(output);
    }
    let failing: Vec<&str> =
        output.lines().filter(|l| l.contains("Evaluated") || l.contains("Testing Guard File")).collect();
    Err(failing.join("; "))
}

/// A parsed, checked Guard rule file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardRules {
    file: String,
    text: String,
}

/// The file name of a type's Guard rules, from its template file name.
pub fn file_name_for(template_file: &str) -> String {
    format!("{}.guard", template_file.trim_end_matches(".json"))
}

impl GuardRules {
    /// Reads a rule file, refusing one that does not parse or holds no rule.
    pub fn parse(file: &str, body: &[u8]) -> Result<Self, GuardError> {
        let text = std::str::from_utf8(body).map_err(|_| GuardError::NotText { file: file.to_owned() })?;
        let rules = GuardRules { file: file.to_owned(), text: text.to_owned() };
        // Evaluating against an empty template parses every rule (`run_checks` reports parse
        // errors as such) and names each one in a small report: a file of `let`s and comments
        // evaluates to no rule at all.
        let outcome = std::panic::catch_unwind(|| {
            cfn_guard::run_checks(
                cfn_guard::ValidateInput { content: r#"{"Resources": {}}"#, file_name: "resource" },
                cfn_guard::ValidateInput { content: text, file_name: file },
                false,
            )
        });
        let report = match outcome {
            Ok(Ok(report)) => report,
            Ok(Err(cfn_guard::Error::ParseError(reason))) => {
                return Err(GuardError::Parse { file: file.to_owned(), reason: one_line(&reason) });
            }
            Ok(Err(error)) => return Err(rules.evaluation(one_line(&error.to_string()))),
            Err(_) => return Err(rules.evaluation("the Guard engine panicked".into())),
        };
        let report: Option<Value> = serde_json::from_str(&report).ok();
        let named: usize = ["compliant", "not_applicable", "not_compliant"]
            .iter()
            .filter_map(|key| report.as_ref().and_then(|r| r.get(*key)).and_then(Value::as_array))
            .map(Vec::len)
            .sum();
        if named == 0 {
            return Err(GuardError::NoRules { file: file.to_owned() });
        }
        Ok(rules)
    }

    /// The violations of `properties` (already normalised) for one resource.
    pub fn check(&self, type_name: &str, logical_id: &str, properties: &Value) -> Result<Vec<Violation>, GuardError> {
        let document = json!({"Resources": {logical_id: {"Type": type_name, "Properties": properties}}});
        let report = self.run(&document)?;
        let prefix = format!("/Resources/{}/Properties", crate::position::escape(logical_id));
        match report.get("status").and_then(Value::as_str) {
            Some("PASS" | "SKIP") => Ok(Vec::new()),
            Some("FAIL") => {
                let failed = report.get("not_compliant").and_then(Value::as_array).filter(|f| !f.is_empty());
                let failed = failed.ok_or_else(|| self.evaluation("FAIL without a failing rule".into()))?;
                failed.iter().map(|rule| self.violation(rule, &prefix, type_name)).collect()
            }
            other => Err(self.evaluation(format!("unexpected status {other:?}"))),
        }
    }

    /// Evaluates the rules on `document` and returns the report. Rules and data go in as a
    /// payload and the report comes back whole (the library's `run_checks` returns only the
    /// last 8 KiB of a larger report).
    fn run(&self, document: &Value) -> Result<Value, GuardError> {
        let payload = json!({"rules": [self.text], "data": [document.to_string()]}).to_string();
        let mut reader = Reader::new(ReadBuffer::Cursor(std::io::Cursor::new(payload.into_bytes())));
        // Messages for stderr are kept in memory: the report alone decides.
        let mut writer = Writer::new_with_err(WriteBuffer::Vec(Vec::new()), WriteBuffer::Vec(Vec::new()))
            .map_err(|e| self.evaluation(one_line(&e.to_string())))?;
        let validate = ValidateBuilder::default()
            .payload(true)
            .structured(true)
            .output_format(OutputFormatType::JSON)
            .show_summary(vec![ShowSummaryType::None])
            .try_build()
            .map_err(|e| self.evaluation(one_line(&e.to_string())))?;
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| validate.execute(&mut writer, &mut reader)));
        match outcome {
            Ok(Ok(_exit_code)) => {}
            Ok(Err(cfn_guard::Error::ParseError(reason))) => {
                return Err(GuardError::Parse { file: self.file.clone(), reason: one_line(&reason) });
            }
            Ok(Err(error)) => return Err(self.evaluation(one_line(&error.to_string()))),
            Err(_) => return Err(self.evaluation("the Guard engine panicked".into())),
        }
        let output = writer.stripped().map_err(|e| self.evaluation(one_line(&e.to_string())))?;
        if output.trim().is_empty() {
            return Err(self.evaluation("the Guard engine wrote no report".into()));
        }
        let reports: Value = serde_json::from_str(&output).map_err(|e| self.evaluation(e.to_string()))?;
        match reports {
            Value::Array(mut reports) if reports.len() == 1 => Ok(reports.pop().unwrap_or_default()),
            _ => Err(self.evaluation("expected one report".into())),
        }
    }

    fn evaluation(&self, reason: String) -> GuardError {
        GuardError::Evaluation { file: self.file.clone(), reason }
    }

    /// One failed rule as a violation: its `<< message >>`, at the first property it checked.
    fn violation(&self, failed: &Value, prefix: &str, type_name: &str) -> Result<Violation, GuardError> {
        let rule = failed.get("Rule").ok_or_else(|| self.evaluation("a failed entry is not a rule".into()))?;
        let name = rule.get("name").and_then(Value::as_str).unwrap_or("unnamed");
        let mut messages = Vec::new();
        let mut paths = Vec::new();
        collect(rule, &mut messages, &mut paths);
        let pointer = paths
            .iter()
            .find_map(|path| path.strip_prefix(prefix))
            .map(|rest| if rest.is_empty() { "/".to_owned() } else { rest.to_owned() })
            .unwrap_or_else(|| "/".to_owned());
        let message = messages.first().cloned().unwrap_or_else(|| format!("Guard rule {name} failed"));
        Ok(Violation::new(
            pointer,
            format!("guard/{name}"),
            None,
            format!("{message} (Guard rule {name})"),
            format!("Change the resource so that Guard rule {name} of the {type_name} rules holds"),
        ))
    }
}

/// The custom messages and the checked paths inside a rule's report, in order.
fn collect(value: &Value, messages: &mut Vec<String>, paths: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            if let Some(message) = object.get("custom_message").and_then(Value::as_str) {
                let message = one_line(message);
                if !message.is_empty() && !messages.contains(&message) {
                    messages.push(message);
                }
            }
            for key in ["from", "traversed_to"] {
                if let Some(path) = object.get(key).and_then(|v| v.get("path")).and_then(Value::as_str) {
                    paths.push(path.to_owned());
                }
            }
            object.values().for_each(|v| collect(v, messages, paths));
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, messages, paths)),
        _ => {}
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = r#"
let buckets = Resources.*[ Type == 'AWS::S3::Bucket' ]

rule object_lock_needs_versioning when %buckets !empty {
    %buckets.Properties {
        when ObjectLockEnabled exists {
            ObjectLockEnabled != true or VersioningConfiguration.Status == 'Enabled'
            << Object lock needs versioning >>
        }
    }
}
"#;

    #[test]
    fn a_failed_rule_is_a_violation_with_its_message() {
        let rules = GuardRules::parse("aws-s3-bucket.guard", RULES.as_bytes()).unwrap();
        let locked = json!({"ObjectLockEnabled": true, "VersioningConfiguration": {"Status": "Suspended"}});
        let violations = rules.check("AWS::S3::Bucket", "Receipts", &locked).unwrap();
        assert_eq!(violations.len(), 1, "{violations:?}");
        assert_eq!(violations[0].keyword, "guard/object_lock_needs_versioning");
        assert_eq!(violations[0].message, "Object lock needs versioning (Guard rule object_lock_needs_versioning)");
        assert_eq!(violations[0].pointer, "/ObjectLockEnabled");
        let versioned = json!({"ObjectLockEnabled": true, "VersioningConfiguration": {"Status": "Enabled"}});
        assert_eq!(rules.check("AWS::S3::Bucket", "Receipts", &versioned).unwrap(), []);
        assert_eq!(rules.check("AWS::S3::Bucket", "Receipts", &json!({})).unwrap(), []);
    }

    #[test]
    fn a_large_report_is_read_whole() {
        let rules = std::fs::read("guard-rules/aws-ec2-securitygroup.guard").unwrap();
        let rules = GuardRules::parse("aws-ec2-securitygroup.guard", &rules).unwrap();
        let open = |cidr: &str| json!({"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "CidrIp": cidr});
        let ingress: Vec<Value> = (0..8).map(|i| open(&format!("{}.0.0.0/1", i * 16))).collect();
        let violations =
            rules.check("AWS::EC2::SecurityGroup", "Open", &json!({"SecurityGroupIngress": ingress})).unwrap();
        assert_eq!(violations.len(), 1, "one failed rule: {violations:?}");
        assert!(violations[0].message.contains("includes SSH (22)"), "{violations:?}");
    }

    #[test]
    fn broken_or_empty_rule_files_are_refused() {
        let broken = GuardRules::parse("x.guard", b"rule r { Resources.* == }");
        assert!(matches!(broken, Err(GuardError::Parse { .. })), "{broken:?}");
        assert!(matches!(GuardRules::parse("x.guard", b"# nothing\n"), Err(GuardError::NoRules { .. })));
        let only_lets = b"let queues = Resources.*[ Type == 'AWS::SQS::Queue' ]\n";
        assert!(matches!(GuardRules::parse("x.guard", only_lets), Err(GuardError::NoRules { .. })));
        assert!(matches!(GuardRules::parse("x.guard", &[0xff, 0xfe]), Err(GuardError::NotText { .. })));
    }

    #[test]
    fn guard_file_names_follow_the_template() {
        assert_eq!(file_name_for("aws-s3-bucket.json"), "aws-s3-bucket.guard");
    }
}
