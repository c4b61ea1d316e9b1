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

use crate::decision::Violation;

// Guard's input limits. Guard copies its input several times over (the payload text, a tree
// parsed by its YAML loader, a tree of path-aware values holding every value's full path, and
// copies of that tree for the rules and the report), and its loader builds each object by
// taking entries off the front of a vector, which costs the square of the object's keys. So
// its time and memory grow much faster than the input; these limits keep the worst input
// under them well inside the hook's time budget and the Lambda function's 256 MB. The
// measurements they come from are "Worst cases" in BENCHMARKS.md. Ordinary resources are a
// few KiB, with objects of a few dozen keys.

/// The most JSON text, in bytes, that Guard is given for one resource (the properties, written
/// compactly). At this size the costliest bundled rule file and shape of input measured (objects
/// of 1,000 keys; security group rules) take under 0.2 s and under 150 MiB on top of the
/// process.
pub const MAX_INPUT_BYTES: usize = 256 * 1024;

/// The most bytes that the paths of the values given to Guard may add up to. Guard keeps every
/// value (and every object key) with its full path from the template root, so a long key above
/// many values costs its length once per value: 100 KiB of JSON can hold gigabytes of paths.
/// Inputs at [`MAX_INPUT_BYTES`] made of ordinary shapes (tags, ingress rules, lifecycle rules)
/// stay well under it.
pub const MAX_INPUT_PATH_BYTES: usize = 16 * 1024 * 1024;

/// The most keys one object given to Guard may have. Guard's loader takes a square of the
/// keys' count per object: 50,000 keys in one object took 7.5 s; 256 KiB made of objects of
/// 1,000 keys take 0.13 s in all. AWS's own limits keep real objects far smaller (50 tags,
/// 4 KB of Lambda environment variables).
pub const MAX_INPUT_OBJECT_KEYS: usize = 1_000;

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
    #[error(
        "the properties are too large for the Guard rules {file}: {size} {measure}, more than the limit of {limit}"
    )]
    TooLarge { file: String, measure: &'static str, size: usize, limit: usize },
}

/// The most JSON text, in bytes, given to Guard in one call when many resources are judged
/// together ([`GuardRules::check_many`]). Guard's memory grows much faster than its input (see
/// above); a quarter of what one resource may be keeps a batch's peak a fraction of the worst
/// single input's, and still parses the rules once per hundreds of ordinary resources.
pub const MAX_BATCH_BYTES: usize = MAX_INPUT_BYTES / 4;

/// One input's violations, or why the rules could not judge it.
pub type Checked = Result<Vec<Violation>, GuardError>;

/// The most threads that run Guard batches side by side (see [`GuardRules::check_many`]): each
/// holds one batch's memory at a time.
pub const GUARD_THREADS: usize = 2;

/// How much work a resource's properties are for Guard, measured without copying them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputSize {
    /// The properties as compact JSON text, in bytes.
    pub json_bytes: usize,
    /// The lengths of the paths Guard stores with every value and object key, added up.
    pub path_bytes: usize,
    /// The number of keys of the largest object.
    pub widest_object: usize,
}

impl InputSize {
    /// Measures `properties` as Guard would see them under `logical_id`.
    pub fn of(logical_id: &str, properties: &Value) -> Self {
        let mut counter = ByteCounter(0);
        // Writing to a counter cannot fail; a serialisation error would mean a non-string
        // key, which a `serde_json::Value` cannot hold.
        let _ = serde_json::to_writer(&mut counter, properties);
        // `/Resources/<LogicalId>/Properties`, the root of every path.
        let root = "/Resources/".len() + logical_id.len() + "/Properties".len();
        let mut widest_object = 0;
        let path_bytes = path_bytes(properties, root, &mut widest_object);
        InputSize { json_bytes: counter.0, path_bytes, widest_object }
    }

    /// Whether Guard may be given this input.
    pub fn within_limits(&self) -> bool {
        self.check("").is_ok()
    }

    /// The first limit this input exceeds, as an error naming it.
    fn check(&self, file: &str) -> Result<(), GuardError> {
        let too_large = |measure, size, limit| GuardError::TooLarge { file: file.to_owned(), measure, size, limit };
        if self.json_bytes > MAX_INPUT_BYTES {
            return Err(too_large("bytes of JSON", self.json_bytes, MAX_INPUT_BYTES));
        }
        if self.path_bytes > MAX_INPUT_PATH_BYTES {
            return Err(too_large("bytes of value paths", self.path_bytes, MAX_INPUT_PATH_BYTES));
        }
        if self.widest_object > MAX_INPUT_OBJECT_KEYS {
            return Err(too_large("keys in one object", self.widest_object, MAX_INPUT_OBJECT_KEYS));
        }
        Ok(())
    }
}

/// Counts what is written to it.
struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The paths below `value` (whose own path is `own` bytes long), added up, and the widest
/// object's keys in `widest`. An object's key is counted twice: Guard keeps it as a value of its
/// own beside the value it names.
fn path_bytes(value: &Value, own: usize, widest: &mut usize) -> usize {
    let below = match value {
        Value::Object(object) => {
            *widest = (*widest).max(object.len());
            object
                .iter()
                .map(|(key, child)| {
                    let path = own + 1 + key.len();
                    path.saturating_add(path_bytes(child, path, widest))
                })
                .fold(0, usize::saturating_add)
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, child)| path_bytes(child, own + 1 + decimal_digits(index), widest))
            .fold(0, usize::saturating_add),
        _ => 0,
    };
    own.saturating_add(below)
}

fn decimal_digits(n: usize) -> usize {
    n.checked_ilog10().map_or(1, |log| log as usize + 1)
}

/// `cfn-guard test -d DIR` through the library: every rule file of `dir` against its
/// `tests/<stem>_tests.yaml`. The report when every case passes; the failing cases otherwise.
pub fn run_tests(dir: &Path) -> Result<String, GuardTestError> {
    let run = |e: cfn_guard::Error| GuardTestError::Run(e.to_string());
    let mut writer = Writer::new(WriteBuffer::Vec(Vec::new())).map_err(run)?;
    let mut reader = Reader::new(ReadBuffer::Cursor(std::io::Cursor::new(Vec::new())));
    let test = TestBuilder::default().directory(Some(dir.display().to_string())).try_build().map_err(run)?;
    let code = test.execute(&mut writer, &mut reader).map_err(run)?;
    let output = writer.stripped().map_err(run)?;
    if code == 0 {
        return Ok(output);
    }
    let failing: Vec<&str> =
        output.lines().filter(|l| l.contains("Evaluated") || l.contains("Testing Guard File")).collect();
    Err(GuardTestError::Failing { cases: failing.join("; ") })
}

/// Why the Guard rule tests do not pass.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GuardTestError {
    /// cfn-guard could not run them (a test file that does not parse, ...).
    #[error("{0}")]
    Run(String),
    /// The cases that fail, `; `-separated.
    #[error("{cases}")]
    Failing { cases: String },
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

/// What one resource's Guard rules are given (see [`GuardRules::check_many`]).
#[derive(Clone, Debug)]
pub struct GuardInput {
    /// The type as the resource names it: what the rules match on.
    pub type_name: String,
    pub logical_id: String,
    /// The normalised properties (or those of them Guard may be shown, see `policy`).
    pub properties: Value,
    /// The size of `properties`, measured once.
    pub size: InputSize,
}

impl GuardInput {
    /// The input for `properties`, measured.
    pub fn new(type_name: &str, logical_id: &str, properties: Value) -> Self {
        let size = InputSize::of(logical_id, &properties);
        GuardInput { type_name: type_name.to_owned(), logical_id: logical_id.to_owned(), properties, size }
    }

    /// The resource as the JSON text Guard reads: a one-resource template. Guard reads its
    /// data as YAML, where control characters (C0 but tab and line breaks, DEL, C1) may only be
    /// written escaped, and a raw one made it refuse the data as if the rules did not parse:
    /// every character of the Basic Multilingual Plane outside printable ASCII is written as a
    /// `\\uXXXX` escape, which JSON and YAML read back as the same text.
    fn data(&self) -> String {
        let text = format!(
            "{{\"Resources\":{{{}:{{\"Type\":{},\"Properties\":{}}}}}}}",
            Value::from(self.logical_id.as_str()),
            Value::from(self.type_name.as_str()),
            self.properties
        );
        escape_for_guard(&text)
    }
}

/// `text` with every character of the Basic Multilingual Plane outside printable ASCII written
/// as a JSON `\\uXXXX` escape (see [`GuardInput::data`]).
fn escape_for_guard(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() && !c.is_ascii_control() {
            out.push(c);
        } else if (c as u32) < 0x10000 {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            // Outside the Basic Multilingual Plane, where JSON's escape is a surrogate pair that
            // a YAML reader refuses: written as it is (such characters are printable).
            out.push(c);
        }
    }
    out
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

    /// The violations of `properties` (already normalised) for one resource. Properties over
    /// [`MAX_INPUT_BYTES`] or `MAX_INPUT_PATH_BYTES` are refused before Guard sees them.
    pub fn check(&self, type_name: &str, logical_id: &str, properties: &Value) -> Result<Vec<Violation>, GuardError> {
        self.check_one(&GuardInput::new(type_name, logical_id, properties.clone()))
    }

    /// The violations of one input, judged alone.
    pub fn check_one(&self, input: &GuardInput) -> Result<Vec<Violation>, GuardError> {
        let result = self.check_many(std::slice::from_ref(input)).pop();
        result.unwrap_or_else(|| Err(self.evaluation("the input was not evaluated".into())))
    }

    /// The violations of each input, in order. The library parses the rules on every call, so
    /// the inputs are given to it together, each as a template of its own (so that each is
    /// judged exactly as alone, and its report is its own): one call per batch of at most
    /// [`MAX_BATCH_BYTES`] of data and `MAX_INPUT_PATH_BYTES` of paths (a single input larger
    /// than the batch size is a batch of its own), which bounds Guard's memory by what one
    /// resource may cost. An input over a limit
    /// is refused before Guard sees it; when a batch fails as a whole, its inputs are run one
    /// by one, so that a failure is only ever the input's own.
    pub fn check_many(&self, inputs: &[GuardInput]) -> Vec<Checked> {
        let mut results: Vec<Option<Checked>> =
            inputs.iter().map(|input| input.size.check(&self.file).err().map(Err)).collect();
        let mut batches: Vec<Vec<usize>> = Vec::new();
        let (mut bytes, mut paths) = (0usize, 0usize);
        for (index, input) in inputs.iter().enumerate() {
            if results[index].is_some() {
                continue;
            }
            let json_bytes = input.size.json_bytes;
            let full = bytes + json_bytes > MAX_BATCH_BYTES || paths + input.size.path_bytes > MAX_INPUT_PATH_BYTES;
            match batches.last_mut() {
                Some(batch) if !full => batch.push(index),
                _ => {
                    batches.push(vec![index]);
                    (bytes, paths) = (0, 0);
                }
            }
            bytes += json_bytes;
            paths += input.size.path_bytes;
        }
        for (batch, found) in batches.iter().zip(self.run_batches(inputs, &batches)) {
            for (&index, result) in batch.iter().zip(found) {
                results[index] = Some(result);
            }
        }
        results
            .into_iter()
            .map(|result| result.unwrap_or_else(|| Err(self.evaluation("the input was not evaluated".into()))))
            .collect()
    }

    /// Each batch's results, in order. Batches of ordinary resources run side by side on up
    /// to [`GUARD_THREADS`] threads (the library evaluates on the calling thread, and a large
    /// template has many); a batch over [`MAX_BATCH_BYTES`] (one large resource) runs alone,
    /// after them, so that at most one input of the largest size is in Guard at a time.
    fn run_batches(&self, inputs: &[GuardInput], batches: &[Vec<usize>]) -> Vec<Vec<Checked>> {
        let bytes = |batch: &Vec<usize>| batch.iter().map(|&index| inputs[index].size.json_bytes).sum::<usize>();
        let (small, large): (Vec<usize>, Vec<usize>) =
            (0..batches.len()).partition(|&at| bytes(&batches[at]) <= MAX_BATCH_BYTES);
        let mut results: Vec<Option<Vec<Checked>>> = vec![None; batches.len()];
        let next = std::sync::atomic::AtomicUsize::new(0);
        let work = || {
            let mut mine = Vec::new();
            while let Some(&at) = small.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
                mine.push((at, self.run_batch(inputs, &batches[at])));
            }
            mine
        };
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(GUARD_THREADS);
        let done: Vec<(usize, Vec<Checked>)> = std::thread::scope(|scope| {
            // The calling thread works too, so a thread that cannot be started only slows it.
            let helpers: Vec<_> = (1..threads.min(small.len()))
                .filter_map(|_| std::thread::Builder::new().spawn_scoped(scope, work).ok())
                .collect();
            let mut done = work();
            // A helper that panicked leaves its batches out; they are failed below.
            done.extend(helpers.into_iter().filter_map(|helper| helper.join().ok()).flatten());
            done
        });
        for (at, found) in done {
            results[at] = Some(found);
        }
        for at in large {
            results[at] = Some(self.run_batch(inputs, &batches[at]));
        }
        results
            .into_iter()
            .zip(batches)
            .map(|(found, batch)| {
                found.unwrap_or_else(|| {
                    batch.iter().map(|_| Err(self.evaluation("the Guard engine panicked".into()))).collect()
                })
            })
            .collect()
    }

    /// Runs the inputs `batch` names in one call: each one's result, in order.
    fn run_batch(&self, inputs: &[GuardInput], batch: &[usize]) -> Vec<Checked> {
        let data: Vec<String> = batch.iter().map(|&index| inputs[index].data()).collect();
        match self.run(&data) {
            Ok(reports) if reports.len() == batch.len() => reports
                .iter()
                .zip(batch)
                .enumerate()
                .map(|(number, (report, &index))| self.violations(report, number, &inputs[index]))
                .collect(),
            // One by one, so that a failure is only ever the input's own.
            _ if batch.len() > 1 => batch.iter().flat_map(|&index| self.run_batch(inputs, &[index])).collect(),
            Ok(_) => vec![Err(self.evaluation("expected one report".into()))],
            Err(error) => vec![Err(error)],
        }
    }

    /// The violations in the report on the `number`th data document, `input`'s.
    fn violations(&self, report: &Value, number: usize, input: &GuardInput) -> Result<Vec<Violation>, GuardError> {
        // Reports come in the order of the data; the name says it too.
        let name = format!("DATA_STDIN[{}]", number + 1);
        if report.get("name").and_then(Value::as_str) != Some(name.as_str()) {
            return Err(self.evaluation(format!("the report does not name the data {name}")));
        }
        let prefix = format!("/Resources/{}/Properties", crate::json::pointer_segment(&input.logical_id));
        match report.get("status").and_then(Value::as_str) {
            Some("PASS" | "SKIP") => Ok(Vec::new()),
            Some("FAIL") => {
                let failed = report.get("not_compliant").and_then(Value::as_array).filter(|f| !f.is_empty());
                let failed = failed.ok_or_else(|| self.evaluation("FAIL without a failing rule".into()))?;
                failed.iter().map(|rule| self.violation(rule, &prefix, &input.type_name)).collect()
            }
            other => Err(self.evaluation(format!("unexpected status {other:?}"))),
        }
    }

    /// Evaluates the rules on each data document and returns the reports, one per document in
    /// their order. Rules and data go in as a payload and the reports come back whole (the
    /// library's `run_checks` returns only the last 8 KiB of a larger report).
    fn run(&self, data: &[String]) -> Result<Vec<Value>, GuardError> {
        let payload = json!({"rules": [self.text], "data": data}).to_string();
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
            // The rules were parsed when they were loaded: a parse error now is about the data.
            Ok(Err(cfn_guard::Error::ParseError(reason))) if reason.contains("data file") => {
                return Err(self
                    .evaluation(format!("the resource could not be read by the Guard engine: {}", one_line(&reason))));
            }
            Ok(Err(cfn_guard::Error::ParseError(reason))) => {
                return Err(GuardError::Parse { file: self.file.clone(), reason: one_line(&reason) });
            }
            Ok(Err(error)) => return Err(self.evaluation(one_line(&error.to_string()))),
            Err(_) => return Err(self.evaluation("the Guard engine panicked".into())),
        }
        // The report is JSON, which has no terminal colours to strip: stripping them byte by
        // byte was a tenth of a large template's Guard time. A stray escape byte would be a
        // control character in a JSON string, which the reader refuses: an error, not a pass.
        let output = writer.into_string().map_err(|e| self.evaluation(one_line(&e.to_string())))?;
        if output.trim().is_empty() {
            return Err(self.evaluation("the Guard engine wrote no report".into()));
        }
        let reports: Value = serde_json::from_str(&output).map_err(|e| self.evaluation(e.to_string()))?;
        match reports {
            Value::Array(reports) => Ok(reports),
            _ => Err(self.evaluation("expected a list of reports".into())),
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
        let mut missing = Vec::new();
        collect(rule, &mut messages, &mut paths, &mut missing);
        let pointer = paths
            .iter()
            .find_map(|path| path.strip_prefix(prefix))
            .map(|rest| if rest.is_empty() { "/".to_owned() } else { rest.to_owned() })
            .unwrap_or_else(|| "/".to_owned());
        let absent = match missing.as_slice() {
            [] => None,
            [one] => Some(format!("{one} is missing")),
            several => Some(format!("{} are missing", several.join(", "))),
        };
        let message = match (messages.first(), absent) {
            (Some(message), Some(absent)) => format!("{message} ({absent})"),
            (Some(message), None) => message.clone(),
            (None, Some(absent)) => absent,
            (None, None) => format!("Guard rule {name} failed"),
        };
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
///
/// A check that failed because data is missing (`UnResolved`: Guard got to `traversed_to` and
/// found no `remaining_query` there) adds the missing property, both as the path to point at and
/// to `missing`, so that the finding says what is missing rather than only that the rule failed.
fn collect(value: &Value, messages: &mut Vec<String>, paths: &mut Vec<String>, missing: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            if let Some(message) = object.get("custom_message").and_then(Value::as_str) {
                let message = one_line(message);
                if !message.is_empty() && !messages.contains(&message) {
                    messages.push(message);
                }
            }
            let traversed = object.get("traversed_to").and_then(|v| v.get("path")).and_then(Value::as_str);
            let remaining = object.get("remaining_query").and_then(Value::as_str).map(one_line);
            if let (Some(path), Some(remaining)) = (traversed, remaining) {
                // The first property of the query that was not found, when it is a plain name.
                let first = remaining.split(['.', '[']).next().unwrap_or_default();
                if !first.is_empty() && first.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                    paths.push(format!("{path}/{}", crate::json::pointer_segment(first)));
                } else {
                    paths.push(path.to_owned());
                }
                if !missing.contains(&remaining) {
                    missing.push(remaining);
                }
            } else {
                for key in ["from", "traversed_to"] {
                    if let Some(path) = object.get(key).and_then(|v| v.get("path")).and_then(Value::as_str) {
                        paths.push(path.to_owned());
                    }
                }
            }
            object.values().for_each(|v| collect(v, messages, paths, missing));
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, messages, paths, missing)),
        _ => {}
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #[test]
    fn guard_data_escapes_what_yaml_may_not_hold_raw() {
        let document = serde_json::json!({"k\u{9b}": "a\u{202e}b\u{9b}c\u{e9}\u{1F600}\r"});
        let data = super::escape_for_guard(&document.to_string());
        assert_eq!(data, "{\"k\\u009b\":\"a\\u202eb\\u009bc\\u00e9\u{1F600}\\r\"}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&data).unwrap(), document);
    }

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
    fn a_rule_that_fails_on_missing_data_says_what_is_missing() {
        let text = "let queues = Resources.*[ Type == 'AWS::SQS::Queue' ]\n\
            rule needs_key when %queues !empty {\n  %queues.Properties.KmsMasterKeyId == /^alias/\n  << Use a KMS key alias >>\n}\n\
            rule needs_delay when %queues !empty {\n  %queues.Properties.RedrivePolicy.maxReceiveCount exists\n}\n";
        let rules = GuardRules::parse("aws-sqs-queue.guard", text.as_bytes()).unwrap();
        let violations = rules.check("AWS::SQS::Queue", "Q", &json!({"SqsManagedSseEnabled": true})).unwrap();
        let found: Vec<(&str, &str)> = violations.iter().map(|v| (v.pointer.as_str(), v.message.as_str())).collect();
        assert_eq!(
            found,
            [
                ("/KmsMasterKeyId", "Use a KMS key alias (KmsMasterKeyId is missing) (Guard rule needs_key)"),
                ("/RedrivePolicy", "RedrivePolicy.maxReceiveCount is missing (Guard rule needs_delay)"),
            ]
        );
    }

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

    /// Inputs given together are judged each as alone: the same violations, each at its own
    /// resource, an input over a limit refused on its own, and batches split by size.
    #[test]
    fn many_inputs_are_judged_each_as_alone() {
        let rules = GuardRules::parse("aws-s3-bucket.guard", RULES.as_bytes()).unwrap();
        let locked = json!({"ObjectLockEnabled": true, "VersioningConfiguration": {"Status": "Suspended"}});
        let versioned = json!({"ObjectLockEnabled": true, "VersioningConfiguration": {"Status": "Enabled"}});
        let too_wide: serde_json::Map<String, Value> =
            (0..=MAX_INPUT_OBJECT_KEYS).map(|i| (format!("K{i}"), Value::Null)).collect();
        // About 6 KiB each: several batches of at most MAX_BATCH_BYTES.
        let padded = json!({"Tags": [{"Key": "pad", "Value": "x".repeat(6000)}], "ObjectLockEnabled": true});
        let mut inputs = Vec::new();
        for i in 0..400 {
            let properties = match i % 4 {
                0 => locked.clone(),
                1 => versioned.clone(),
                2 => padded.clone(),
                _ => json!({}),
            };
            inputs.push(GuardInput::new("AWS::S3::Bucket", &format!("Bucket{i}"), properties));
        }
        inputs.insert(7, GuardInput::new("AWS::S3::Bucket", "Wide", Value::Object(too_wide)));
        // Over a batch's size: judged alone.
        let large = json!({"Tags": [{"Key": "pad", "Value": "x".repeat(100_000)}], "ObjectLockEnabled": true});
        inputs.insert(50, GuardInput::new("AWS::S3::Bucket", "Large", large));
        let total: usize = inputs.iter().map(|input| input.size.json_bytes).sum();
        assert!(total > 4 * MAX_BATCH_BYTES, "several batches: {total}");
        let together = rules.check_many(&inputs);
        assert_eq!(together.len(), inputs.len());
        for (input, result) in inputs.iter().zip(&together) {
            let alone = rules.check(&input.type_name, &input.logical_id, &input.properties);
            assert_eq!(result, &alone, "{}", input.logical_id);
        }
        assert!(matches!(together[7], Err(GuardError::TooLarge { .. })), "{:?}", together[7]);
        let refused = together.iter().filter(|r| r.as_ref().is_ok_and(|v| !v.is_empty())).count();
        assert_eq!(refused, 201, "the locked buckets without versioning, padded, large or not");
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
    fn input_size_counts_bytes_paths_and_keys() {
        let size = InputSize::of("B", &json!({"Tags": [{"Key": "k"}]}));
        assert_eq!(size.json_bytes, r#"{"Tags":[{"Key":"k"}]}"#.len());
        // `/Resources/B/Properties` (23), `/Tags` twice (key and value, 28 each), `/0` (30),
        // `/Key` twice (34 each).
        assert_eq!(size.path_bytes, 23 + 28 * 2 + 30 + 34 * 2);
        assert_eq!(size.widest_object, 1);
        let wide: serde_json::Map<String, Value> = (0..1_001).map(|i| (format!("k{i}"), json!(1))).collect();
        assert_eq!(InputSize::of("B", &Value::Object(wide)).widest_object, 1_001);
    }

    #[test]
    fn inputs_over_the_limits_are_refused_before_guard_sees_them() {
        let rules = GuardRules::parse("aws-s3-bucket.guard", RULES.as_bytes()).unwrap();
        let wide: serde_json::Map<String, Value> =
            (0..=MAX_INPUT_OBJECT_KEYS).map(|i| (format!("k{i}"), json!(1))).collect();
        let long_key = "k".repeat(64 * 1024);
        let deep_paths = json!({ long_key: vec![1; 300] });
        for (input, measure) in [
            (json!({"Name": "x".repeat(MAX_INPUT_BYTES)}), "bytes of JSON"),
            (deep_paths, "bytes of value paths"),
            (Value::Object(wide), "keys in one object"),
        ] {
            let refused = rules.check("AWS::S3::Bucket", "B", &input);
            assert!(
                matches!(&refused, Err(GuardError::TooLarge { measure: m, .. }) if *m == measure),
                "{measure}: {refused:?}"
            );
        }
    }

    #[test]
    fn guard_file_names_follow_the_template() {
        assert_eq!(file_name_for("aws-s3-bucket.json"), "aws-s3-bucket.guard");
    }
}
