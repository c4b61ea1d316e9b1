//! Stack templates: judging every resource of a CloudFormation template, for `rcfge validate`
//! and for the hook's STACK and CHANGE_SET targets. The file is `read` (JSON or YAML, with
//! `position`s for findings), its intrinsic functions resolved per scenario
//! (`intrinsics`), and each resource handed to the [`Engine`] as a [`Target`].
//!
//! ```text
//! text ─► read ─► StackTemplate ─► intrinsics (per scenario) ─► Target ─► Engine::decide
//!                                                        ResourceReport ◄─ Decision
//! ```
//!
//! Each resource is judged once per scenario (see `intrinsics`): every allowed parameter value
//! and every `Fn::If` branch the conditions allow. A value that cannot be known before deploy
//! is never judged as a value: a violation at or under it is set aside and the value is
//! reported as checked at deploy time, where the hook sees it resolved. The keys around it are
//! still judged: `NewFeature: !If [...]` is refused for its name.

mod error;
mod files;
pub(crate) mod intrinsics;
pub(crate) mod position;
pub(crate) mod read;
pub(crate) mod yaml;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::decision::{Action, Context};
use crate::engine::Engine;
use crate::stack::intrinsics::{Chooser, Existence, Facts, Placed, Scenario};
use crate::stack::read::{get_att_parts, intrinsic_function, is_within};

pub use error::ReadError;
pub use files::{MAX_WALK_DEPTH, NamedFiles, StackFile, TEMPLATE_EXTENSIONS, WalkError, stack_files};
pub use intrinsics::{Mode, ResolveError};
pub use read::{Resource, StackTemplate, parse};

use crate::decision::{Decision, Position, Reason, Target, Verdict, Violation};
use crate::json::pointer_segment;

/// The most scenarios judged for one resource.
pub(crate) const MAX_SCENARIOS: usize = 256;

/// The most values (the nodes of a resource's properties, once per scenario) one file's
/// scenarios may go through: with YAML aliases a small file can hold a large value, and 256
/// scenarios of it would take minutes. A 1 MB template judged in a few scenarios per resource
/// stays far below.
pub(crate) const MAX_SCENARIO_WORK: usize = 4_000_000;

/// How to read a stack's intrinsic functions.
#[derive(Clone, Debug)]
pub struct StackOptions {
    /// Parameter values given for the run (`--parameter K=V`).
    pub parameters: BTreeMap<String, String>,
    pub mode: Mode,
    /// What CloudFormation is about to do with each resource.
    pub action: Action,
    /// Locate findings by line and column (for people; the hook has no use for them).
    pub positions: bool,
}

impl StackOptions {
    /// How `rcfge validate` reads a file: every branch, as if each resource were created, with
    /// positions for the findings.
    pub fn for_files(parameters: BTreeMap<String, String>) -> Self {
        StackOptions { parameters, mode: Mode::EveryBranch, action: Action::Create, positions: true }
    }
}

/// What became of one resource.
#[derive(Debug)]
pub enum Judgement {
    Decided(Decision),
    /// Not judged from this template, and why (a transform expands it; whether it is created
    /// is decided at deploy time). The hook judges it at deploy time.
    NotJudged(String),
    /// Its intrinsic functions are wrong: CloudFormation would refuse the template.
    Invalid(ResolveError),
}

/// One resource's outcome, with the values that were left to deploy time.
#[derive(Debug)]
pub struct ResourceReport {
    pub logical_id: String,
    pub type_name: String,
    /// Where the resource is in the file.
    pub position: Option<Position>,
    pub judgement: Judgement,
    pub deferred: Vec<DeferredValue>,
    /// Anything else the reader should know (scenarios left out).
    pub notes: Vec<String>,
}

impl ResourceReport {
    /// The decision, when the resource was judged.
    pub fn decision(&self) -> Option<&Decision> {
        match &self.judgement {
            Judgement::Decided(decision) => Some(decision),
            _ => None,
        }
    }

    /// Whether this resource stands in the way of a deploy.
    pub fn refuses(&self) -> bool {
        match &self.judgement {
            Judgement::Decided(decision) => !decision.verdict.allows(),
            Judgement::NotJudged(_) => false,
            Judgement::Invalid(_) => true,
        }
    }
}

/// A value known only at deploy time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeferredValue {
    /// Where in the properties (`/BucketName`; `/` for the whole properties object).
    pub pointer: String,
    /// `Ref`, `Fn::GetAtt`, `dynamic reference`, ...
    pub function: String,
    /// Why it is known only at deploy time.
    pub reason: String,
    /// Where in the stack template file.
    pub position: Option<Position>,
}

/// A stack template file's resources, judged, and what holds for the whole file.
#[derive(Debug)]
pub struct StackReport {
    pub resources: Vec<ResourceReport>,
    pub notes: Vec<String>,
}

/// The body of a CHANGE_SET payload.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ChangeSet {
    /// The change set's template text, when given: its parameters, mappings and conditions
    /// explain intrinsic functions left in the contexts.
    pub template: Option<String>,
    pub changes: Vec<Change>,
}

/// One changed resource of a change set.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Change {
    pub logical_id: String,
    pub type_name: String,
    pub action: Action,
    /// The properties after the change (empty for a removal).
    pub properties: Value,
}

/// One stack template's results, or why it could not be judged.
#[derive(Debug)]
pub struct FileReport {
    pub path: String,
    pub outcome: Result<Vec<ResourceReport>, String>,
    /// What holds for the whole file (a macro may rewrite it before deploy).
    pub notes: Vec<String>,
    /// Why a file found in a directory was left out (not a stack template): it has no
    /// resources and is counted apart.
    pub skipped: Option<String>,
}

impl FileReport {
    /// A file that could not be read.
    pub fn unreadable(path: String, reason: String) -> Self {
        FileReport { path, outcome: Err(reason), notes: Vec::new(), skipped: None }
    }

    /// A file found in a directory that is not a stack template.
    fn skipped(path: String, reason: String) -> Self {
        FileReport { path, outcome: Ok(Vec::new()), notes: Vec::new(), skipped: Some(reason) }
    }
}

/// Whether a file that failed to read as a template failed on its form as YAML or JSON (a
/// `docker-compose.yml` with merge keys, an Ansible file with its own tags, a `tsconfig.json`
/// with comments), which other files fail too; not on a refusal only a template can earn
/// (rcfge's reserved key, a bad `Transform` or resource).
fn is_other_format(error: &ReadError) -> bool {
    matches!(
        error,
        ReadError::Json(_)
            | ReadError::Yaml(_)
            | ReadError::MergeKey
            | ReadError::UnknownTag { .. }
            | ReadError::KeyNotAString { .. }
            | ReadError::DuplicateKey { .. }
    )
}

/// Whether `text` could hold a `Resources` key even though the word is not in it: written out,
/// or hidden behind an escape (`"\u0052esources"` in JSON, `"\x52esources"` or a line
/// continuation in a double-quoted YAML key), which CloudFormation reads as the word. A file
/// that fails to read is skipped as no template only when it cannot.
fn could_name_resources(text: &str) -> bool {
    text.contains("Resources")
        || text.contains("AWSTemplateFormatVersion")
        || ["\\u", "\\U", "\\x", "\\\n", "\\\r"].iter().any(|escape| text.contains(escape))
}

/// The path that names standard input (`rcfge validate -`).
pub const STDIN_PATH: &str = "-";

/// Reads and judges each stack template file (`-` is standard input); a file that cannot be
/// read or parsed is reported as such and the others are still judged. The output of `aws
/// cloudformation get-template` (`{"TemplateBody": ...}`) is judged as its template. A file
/// found in a directory is skipped when it cannot be a stack template: larger than any template
/// CloudFormation accepts, without a `Resources` section, or neither parsed nor mentioning
/// `Resources` or `AWSTemplateFormatVersion`.
///
/// Files are judged side by side, as many at a time as the machine has cores (on a runtime
/// with that many workers), and reported in the order given, so the report does not depend on
/// which finished first.
pub async fn check_files(
    engine: &Arc<Engine>,
    context: &Context,
    options: &StackOptions,
    files: &[StackFile],
) -> Vec<FileReport> {
    if let [file] = files {
        return vec![check_file(engine, context, options, file).await];
    }
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let slots = Arc::new(tokio::sync::Semaphore::new(cores));
    let (context, options) = (Arc::new(context.clone()), Arc::new(options.clone()));
    let running: Vec<_> = files
        .iter()
        .map(|file| {
            let (engine, context, options, slots, file) =
                (Arc::clone(engine), Arc::clone(&context), Arc::clone(&options), Arc::clone(&slots), file.clone());
            tokio::spawn(async move {
                // The semaphore is never closed; without a slot the file is still judged.
                let _slot = slots.acquire_owned().await;
                check_file(&engine, &context, &options, &file).await
            })
        })
        .collect();
    let mut reports = Vec::with_capacity(files.len());
    for (file, running) in files.iter().zip(running) {
        reports.push(match running.await {
            Ok(report) => report,
            Err(error) => FileReport::unreadable(
                file.path.display().to_string(),
                format!("judging it failed: {}", crate::engine::join_error_message(error)),
            ),
        });
    }
    reports
}

/// Reads and judges one stack template file (see [`check_files`]).
async fn check_file(engine: &Engine, context: &Context, options: &StackOptions, file: &StackFile) -> FileReport {
    let shown = file.path.display().to_string();
    if file.walked
        && let Ok(metadata) = std::fs::metadata(&file.path)
        && metadata.len() > files::MAX_WALKED_FILE_BYTES
    {
        let reason = format!("{} bytes, larger than any template CloudFormation accepts", metadata.len());
        return FileReport::skipped(shown, reason);
    }
    let read = if file.path.as_os_str() == STDIN_PATH {
        std::io::read_to_string(std::io::stdin().lock())
    } else {
        std::fs::read_to_string(&file.path)
    };
    let text = match read {
        Ok(text) => text,
        Err(error) => return FileReport::unreadable(shown, error.to_string()),
    };
    let mut notes = Vec::new();
    let mut checked = check_text(engine, &text, context, options).await;
    if matches!(checked, Err(ReadError::NoResources))
        && let Some(body) = template_body(&text)
    {
        notes.push(
            "the file is `aws cloudformation get-template` output: its TemplateBody is judged, and positions are \
             within it"
                .to_owned(),
        );
        checked = check_text(engine, &body, context, options).await;
    }
    match checked {
        Ok(mut checked) => {
            notes.append(&mut checked.notes);
            FileReport { path: shown, outcome: Ok(checked.resources), notes, skipped: None }
        }
        Err(ReadError::NoResources) if file.walked => FileReport::skipped(shown, "no Resources section".to_owned()),
        Err(error) if file.walked && is_other_format(&error) && !could_name_resources(&text) => {
            FileReport::skipped(shown, "not a CloudFormation template".to_owned())
        }
        Err(reason) => FileReport::unreadable(shown, reason.to_string()),
    }
}

/// The template of `aws cloudformation get-template` output: `TemplateBody` as text (a YAML or
/// JSON template) or as the JSON template itself.
fn template_body(text: &str) -> Option<String> {
    let document: Value = serde_json::from_str(text).ok()?;
    match document.get("TemplateBody")? {
        Value::String(body) => Some(body.clone()),
        body @ Value::Object(_) => serde_json::to_string_pretty(body).ok(),
        _ => None,
    }
}

/// Reads a stack template (JSON or YAML) and judges every resource in it.
pub async fn check_text(
    engine: &Engine,
    text: &str,
    context: &Context,
    options: &StackOptions,
) -> Result<StackReport, ReadError> {
    let stack = if options.positions { crate::stack::read::parse(text)? } else { crate::stack::read::read(text)? };
    let mut notes: Vec<String> = stack
        .macros()
        .map(|name| {
            format!(
                "the macro {name} may rewrite this template at deploy time: resources are judged as written, and the hook judges what the macro makes"
            )
        })
        .collect();
    if options.mode == Mode::EveryBranch {
        for name in options.parameters.keys().filter(|name| !stack.parameters.contains_key(*name)) {
            notes.push(format!("--parameter {name} is not a parameter of this template"));
        }
    }
    let resources = check_stack(engine, &stack, context, options).await;
    Ok(StackReport { resources, notes })
}

/// Judges the changed resources of a change set (removals need no judging here: the hook is
/// asked about each DELETE on its own). The change set's template, when given, supplies the
/// parameters, mappings and conditions for intrinsic functions left in the contexts.
pub(crate) async fn check_change_set(
    engine: &Engine,
    payload: &ChangeSet,
    context: &Context,
) -> Result<Vec<ResourceReport>, ReadError> {
    let mut stack = match &payload.template {
        Some(text) => crate::stack::read::read(text)?,
        None => StackTemplate::default(),
    };
    for change in &payload.changes {
        crate::stack::read::refuse_reserved_keys(&change.properties)?;
    }
    let mut reports = Vec::with_capacity(payload.changes.len());
    for action in [Action::Create, Action::Update] {
        stack.resources = payload
            .changes
            .iter()
            .filter(|change| change.action == action)
            .map(|change| Resource {
                logical_id: change.logical_id.clone(),
                type_name: change.type_name.clone(),
                properties: change.properties.clone(),
                condition: None,
                suppressions: Vec::new(),
            })
            .collect();
        let options = StackOptions { parameters: BTreeMap::new(), mode: Mode::CertainOnly, action, positions: false };
        reports.extend(check_stack(engine, &stack, context, &options).await);
    }
    Ok(reports)
}

/// Why a parameters file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ParametersError {
    #[error("cannot read {path}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: not valid JSON: {error}")]
    NotJson { path: String, error: serde_json::Error },
    #[error("{path}: {item} has no ParameterKey and ParameterValue")]
    NoKeyValue { path: String, item: String },
    #[error("{path}: expected an object of parameter values, or a list of ParameterKey/ParameterValue")]
    NotParameters { path: String },
    #[error("{path}: parameter {key}: {value} is not a value")]
    NotAValue { path: String, key: String, value: String },
}

/// Reads parameter values from a file: `{"Name": "value"}`, the AWS CLI's
/// `[{"ParameterKey": ..., "ParameterValue": ...}]`, or CodePipeline's `{"Parameters": {...}}`.
/// Lists are joined with commas, as CloudFormation takes them.
pub fn read_parameters_file(path: &std::path::Path) -> Result<BTreeMap<String, String>, ParametersError> {
    let shown = || path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ParametersError::Read { path: shown(), source })?;
    parse_parameters(&text, &shown())
}

/// The parameter values of a parameters file's text; `path` names it in errors.
pub(crate) fn parse_parameters(text: &str, path: &str) -> Result<BTreeMap<String, String>, ParametersError> {
    let path = || path.to_owned();
    let document: Value =
        crate::json::from_str(text).map_err(|error| ParametersError::NotJson { path: path(), error })?;
    let pairs: Vec<(String, &Value)> = match &document {
        Value::Array(items) => items
            .iter()
            .map(|item| match (item.get("ParameterKey").and_then(Value::as_str), item.get("ParameterValue")) {
                (Some(key), Some(value)) => Ok((key.to_owned(), value)),
                _ => Err(ParametersError::NoKeyValue { path: path(), item: item.to_string() }),
            })
            .collect::<Result<_, _>>()?,
        Value::Object(object) => {
            let object = match object.get("Parameters") {
                Some(Value::Object(inner)) if object.len() == 1 => inner,
                _ => object,
            };
            object.iter().map(|(k, v)| (k.clone(), v)).collect()
        }
        _ => return Err(ParametersError::NotParameters { path: path() }),
    };
    pairs
        .into_iter()
        .map(|(key, value)| {
            intrinsics::parameter_text(value)
                .map(|text| (key.clone(), text))
                .ok_or_else(|| ParametersError::NotAValue { path: path(), key: key.clone(), value: value.to_string() })
        })
        .collect()
}

/// How many values (see [`count_values`]) of resolved properties are held at once waiting to be
/// judged together: the resources of a stack template are resolved in chunks of about this
/// much, and each chunk is judged with one [`Engine::decide_all`] (Guard calls of up to
/// [`crate::policy::guard::MAX_BATCH_BYTES`] of a type's resources each, on both cores). A chunk
/// is about 1,300 S3 buckets, several Guard batches already. Resolved properties take a few
/// hundred bytes a value, so the bound keeps a large template's copies (and what YAML aliases
/// can multiply) from being held all at once: ten times as large a chunk added a tenth to the
/// peak memory of `rcfge validate` on 3,000 buckets (BENCHMARKS.md).
const CHUNK_VALUES: usize = 20_000;

/// Judges every resource of a stack template in `context`.
pub(crate) async fn check_stack(
    engine: &Engine,
    stack: &StackTemplate,
    context: &Context,
    options: &StackOptions,
) -> Vec<ResourceReport> {
    let facts = Facts {
        parameters: &stack.parameters,
        mappings: &stack.mappings,
        conditions: &stack.conditions,
        resources: &stack.resource_types,
        given: &options.parameters,
        context,
        mode: options.mode,
        transform_adds_resources: stack.transforms.iter().any(|t| t != crate::stack::read::LANGUAGE_EXTENSIONS),
    };
    let mut reports = Vec::with_capacity(stack.resources.len());
    let mut work_left = MAX_SCENARIO_WORK;
    let mut chunk: Vec<Resolving<'_>> = Vec::new();
    let mut chunk_values = 0;
    for resource in &stack.resources {
        let resolving = resolve_resource(stack, &facts, resource, options.action, &mut work_left);
        chunk_values += resolving.values;
        chunk.push(resolving);
        if chunk_values >= CHUNK_VALUES {
            judge_chunk(engine, stack, &facts, std::mem::take(&mut chunk), &mut reports).await;
            chunk_values = 0;
        }
    }
    judge_chunk(engine, stack, &facts, chunk, &mut reports).await;
    reports
}

/// What one scenario of a resource came to, before it is judged.
enum Resolved {
    Properties(Placed, Vec<String>),
    NotCreated(String),
    Undecided(String),
}

fn resolve(facts: &Facts<'_>, chooser: &mut Chooser, resource: &Resource) -> Result<Resolved, ResolveError> {
    let mut scenario = Scenario::new(facts, chooser);
    Ok(match scenario.existence(resource.condition.as_deref())? {
        Existence::Created => {
            scenario.decide_conditions_in(&resource.properties)?;
            let placed = scenario.place_properties(&resource.properties)?;
            Resolved::Properties(placed, scenario.assumptions)
        }
        Existence::NotCreated(reason) => Resolved::NotCreated(reason),
        Existence::Undecided(reason) => Resolved::Undecided(reason),
    })
}

/// A resource's scenarios, resolved and waiting for their decisions.
struct Resolving<'a> {
    resource: &'a Resource,
    report: ResourceReport,
    /// The scenarios in order, the last one possibly what ended them.
    scenarios: Vec<ScenarioStep>,
    /// What each `Judge` scenario asks the engine, in their order.
    targets: Vec<Target>,
    /// The values of the properties to be judged.
    values: usize,
}

/// One scenario of a resource, resolved.
enum ScenarioStep {
    NotCreated(String),
    /// All of the properties are known only at deploy time.
    WhollyDeferred(Option<String>),
    /// To be judged (its target is in [`Resolving::targets`]): where its values came from, and
    /// its assumptions.
    Judge {
        placed: Placed,
        assumptions: Vec<String>,
    },
    /// The resource's judgement, whatever the scenarios after it (none are resolved).
    Stop(Judgement),
}

/// Resolves every scenario of a resource (at most [`MAX_SCENARIOS`]), up to the first one that
/// settles its judgement.
fn resolve_resource<'a>(
    stack: &StackTemplate,
    facts: &Facts<'_>,
    resource: &'a Resource,
    action: Action,
    work_left: &mut usize,
) -> Resolving<'a> {
    let resource_pointer = format!("/Resources/{}", pointer_segment(&resource.logical_id));
    let mut report = ResourceReport {
        logical_id: resource.logical_id.clone(),
        type_name: resource.type_name.clone(),
        position: stack.positions.find(&resource_pointer),
        judgement: Judgement::NotJudged(String::new()),
        deferred: Vec::new(),
        notes: Vec::new(),
    };
    if !resource.suppressions.is_empty() {
        report.notes.push(format!(
            "its Metadata suppresses checks for {}: rcfge ignores suppressions written in a template, here and in the \
             hook; only a waiver of the security team lets a violation pass",
            resource.suppressions.join(", ")
        ));
    }
    let mut resolving = Resolving { resource, report, scenarios: Vec::new(), targets: Vec::new(), values: 0 };
    if let Some(reason) = stack.not_judged(resource) {
        resolving.scenarios.push(ScenarioStep::Stop(Judgement::NotJudged(reason)));
        return resolving;
    }
    let mut chooser = Chooser::default();
    let weight = count_values(&resource.properties);
    for _ in 0..MAX_SCENARIOS {
        if weight > *work_left {
            let stop = Judgement::Invalid(ResolveError::TooMuchWork { limit: MAX_SCENARIO_WORK });
            resolving.scenarios.push(ScenarioStep::Stop(stop));
            return resolving;
        }
        *work_left -= weight;
        let step = match resolve(facts, &mut chooser, resource) {
            Err(error) => ScenarioStep::Stop(Judgement::Invalid(error)),
            Ok(Resolved::Undecided(reason)) => ScenarioStep::Stop(Judgement::NotJudged(reason)),
            Ok(Resolved::NotCreated(reason)) => ScenarioStep::NotCreated(reason),
            Ok(Resolved::Properties(placed, _)) if placed.unknown.iter().any(|(site, _)| site == "/") => {
                let reason = placed.unknown.iter().find(|(site, _)| site == "/").map(|(_, u)| u.reason.clone());
                ScenarioStep::WhollyDeferred(reason)
            }
            Ok(Resolved::Properties(mut placed, assumptions)) => {
                // Merging needs only where values came from, not the values: no second copy.
                // Counted as resolved: a mapping or a list parameter can make them far larger
                // than they are written, and the chunk holds them until they are judged.
                resolving.values += count_values(&placed.properties);
                resolving.targets.push(Target {
                    type_name: resource.type_name.clone(),
                    logical_id: resource.logical_id.clone(),
                    action,
                    properties: std::mem::take(&mut placed.properties),
                    context: facts.context.clone(),
                });
                ScenarioStep::Judge { placed, assumptions }
            }
        };
        let stops = matches!(step, ScenarioStep::Stop(_));
        resolving.scenarios.push(step);
        if stops || !chooser.advance() {
            return resolving;
        }
    }
    // Judging only some combinations would pass what the others might refuse.
    let stop = Judgement::Invalid(ResolveError::TooManyScenarios { limit: MAX_SCENARIOS });
    resolving.scenarios.push(ScenarioStep::Stop(stop));
    resolving
}

/// Judges the scenarios of a chunk of resources together, and appends each resource's report.
async fn judge_chunk(
    engine: &Engine,
    stack: &StackTemplate,
    facts: &Facts<'_>,
    mut chunk: Vec<Resolving<'_>>,
    reports: &mut Vec<ResourceReport>,
) {
    let targets: Vec<Target> = chunk.iter_mut().flat_map(|resolving| std::mem::take(&mut resolving.targets)).collect();
    let mut decisions = engine.decide_all(targets).await.into_iter();
    for resolving in chunk {
        let report = conclude(engine, stack, facts, resolving, &mut decisions).await;
        reports.push(report);
    }
}

/// Merges a resource's scenarios, in order, with their decisions (taken from `decisions`, in
/// the order the scenarios were resolved), into its report.
async fn conclude(
    engine: &Engine,
    stack: &StackTemplate,
    facts: &Facts<'_>,
    resolving: Resolving<'_>,
    decisions: &mut impl Iterator<Item = Decision>,
) -> ResourceReport {
    let Resolving { resource, mut report, scenarios, .. } = resolving;
    let properties_pointer = format!("/Resources/{}/Properties", pointer_segment(&resource.logical_id));
    let locate =
        |pointer: &str| stack.positions.find(&format!("{properties_pointer}{}", pointer.trim_end_matches('/')));
    let mut merged = Merged::default();
    let mut failed = false;
    for step in scenarios {
        match step {
            // The scenarios after a failed decision are not merged, and what ended them does
            // not count: the failure is the judgement.
            _ if failed => {
                if let ScenarioStep::Judge { .. } = step {
                    decisions.next();
                }
            }
            ScenarioStep::Stop(judgement) => {
                report.judgement = judgement;
                return report;
            }
            ScenarioStep::NotCreated(reason) => {
                merged.not_created.get_or_insert(reason);
            }
            ScenarioStep::WhollyDeferred(reason) => {
                merged.wholly_deferred = merged.wholly_deferred.take().or(reason);
            }
            ScenarioStep::Judge { placed, assumptions, .. } => {
                let Some(decision) = decisions.next() else {
                    report.judgement = Judgement::Invalid(ResolveError::TooManyScenarios { limit: MAX_SCENARIOS });
                    return report;
                };
                failed = matches!(decision.verdict, Verdict::InternalFailure(_));
                merged.add(decision, &placed, assumptions, &locate);
            }
        }
    }
    if merged.first.is_none()
        && let Some(reason) = merged.wholly_deferred
    {
        // Nothing of the resource is known here, so nothing was judged.
        report.judgement = Judgement::NotJudged(format!("its properties are known only at deploy time: {reason}"));
        return report;
    }
    if merged.first.is_some() {
        if let Some(reason) = &merged.not_created {
            report.notes.push(format!("judged where it is created ({reason} in some scenarios)"));
        }
        if let Some(reason) = &merged.wholly_deferred {
            report.notes.push(format!("in some scenarios its properties are known only at deploy time: {reason}"));
        }
    }
    report.deferred = std::mem::take(&mut merged.deferred);
    report.judgement = merged.judgement();
    refuse_unknown_service_token(&mut report, resource, facts);
    if let Judgement::Decided(decision) = &mut report.judgement {
        engine.settle(decision, facts.context).await;
    }
    report
}

/// A custom resource's `ServiceToken` decides which code receives the stack's properties and
/// answers for the resource. Taken from a parameter (or anything else known only at deploy
/// time), it could name another account's function, and whether CloudFormation asks a hook
/// about a custom resource at deploy time is not documented: refuse it here. An export
/// (`Fn::ImportValue`) is always the deploying account's and Region's, so it stays deferred.
fn refuse_unknown_service_token(report: &mut ResourceReport, resource: &Resource, facts: &Facts<'_>) {
    let custom = report.type_name.starts_with("Custom::") || report.type_name == crate::template::CUSTOM_RESOURCE_TYPE;
    if !custom || names_own_function_or_topic(&resource.properties["ServiceToken"], facts.resources) {
        return;
    }
    let Some(index) =
        report.deferred.iter().position(|d| d.pointer == "/ServiceToken" && d.function != "Fn::ImportValue")
    else {
        return;
    };
    let Judgement::Decided(decision) = &mut report.judgement else { return };
    let deferred = report.deferred.remove(index);
    let mut violation = Violation::new(
        "/ServiceToken".to_owned(),
        "serviceToken".to_owned(),
        None,
        format!(
            "ServiceToken comes from {} and is known only at deploy time, so it could name another account's function; \
             a custom resource's ServiceToken must be known where it is judged",
            deferred.function
        ),
        "Give the function's or topic's ARN, !GetAtt of a function or topic in this template, or !ImportValue of \
         this account's export"
            .to_owned(),
    );
    violation.position = deferred.position;
    violation.always_enforced =
        Some("a ServiceToken known only at deploy time could run another account's code with the stack's properties");
    match &mut decision.verdict {
        Verdict::Compliant => decision.verdict = Verdict::NonCompliant(vec![violation]),
        Verdict::NonCompliant(violations) => violations.push(violation),
        // The rollout is applied after this check.
        Verdict::Tolerated(_) | Verdict::Exempt | Verdict::InternalFailure(_) => {}
    }
}

/// Whether a `ServiceToken` is written as the ARN of a Lambda function or SNS topic of this
/// template (`!GetAtt Function.Arn`, `!Ref Topic`, `!GetAtt Topic.TopicArn`): a stack's
/// resources are created in its own account and Region, and that function or topic is judged by
/// its own template. Only the plain form counts; anything computed around it stays refused.
fn names_own_function_or_topic(token: &Value, resources: &BTreeMap<String, String>) -> bool {
    let type_of = |name: &str| resources.get(name).map(String::as_str);
    let Some(function) = intrinsic_function(token) else { return false };
    let (name, attribute) = match (function, &token[function]) {
        ("Ref", Value::String(name)) => (name.as_str(), None),
        ("Fn::GetAtt", arguments) => match get_att_parts(arguments) {
            (Some(name), Some(attribute)) => (name, Some(attribute)),
            _ => return false,
        },
        _ => return false,
    };
    matches!(
        (type_of(name), attribute),
        (Some("AWS::Lambda::Function"), Some("Arn"))
            | (Some("AWS::SNS::Topic"), None)
            | (Some("AWS::SNS::Topic"), Some("TopicArn"))
    )
}

/// The outcomes of a resource's scenarios, merged into one.
#[derive(Default)]
struct Merged {
    first: Option<Decision>,
    scenarios: usize,
    violations: Vec<Seen>,
    deferred: Vec<DeferredValue>,
    not_created: Option<String>,
    /// Why, in some scenario, all of the properties were known only at deploy time.
    wholly_deferred: Option<String>,
}

/// A violation, and the scenarios it was found in.
struct Seen {
    violation: Violation,
    scenarios: Vec<String>,
}

impl Merged {
    fn add(
        &mut self,
        decision: Decision,
        placed: &Placed,
        assumptions: Vec<String>,
        locate: &dyn Fn(&str) -> Option<Position>,
    ) {
        self.scenarios += 1;
        for (pointer, unknown) in &placed.unknown {
            if !self.deferred.iter().any(|d| &d.pointer == pointer && d.function == unknown.function) {
                self.deferred.push(DeferredValue {
                    pointer: pointer.clone(),
                    function: unknown.function.clone(),
                    reason: unknown.reason.clone(),
                    position: locate(&placed.written_at(pointer)),
                });
            }
        }
        if let Verdict::NonCompliant(violations) = &decision.verdict {
            let judged_now = violations.iter().filter(|v| !depends_on_deferred(v, placed));
            for violation in judged_now {
                let same = |s: &&mut Seen| {
                    s.violation.pointer == violation.pointer
                        && s.violation.keyword == violation.keyword
                        && s.violation.message == violation.message
                };
                let scenario = assumptions.join(", ");
                match self.violations.iter_mut().find(same) {
                    Some(seen) => seen.scenarios.push(scenario),
                    None => {
                        let mut violation = violation.clone();
                        violation.position = locate(&written_location(placed, &violation));
                        self.violations.push(Seen { violation, scenarios: vec![scenario] });
                    }
                }
            }
        }
        if self.first.is_none() || matches!(decision.verdict, Verdict::InternalFailure(_)) {
            self.first = Some(decision);
        }
    }

    fn judgement(self) -> Judgement {
        let Some(mut decision) = self.first else {
            let reason = self.not_created.unwrap_or_default();
            return Judgement::NotJudged(format!("{reason} for these parameter values"));
        };
        if matches!(decision.verdict, Verdict::InternalFailure(_)) {
            return Judgement::Decided(decision);
        }
        let scenarios = self.scenarios;
        let violations: Vec<Violation> = self
            .violations
            .into_iter()
            .map(|seen| {
                let mut violation = seen.violation;
                if seen.scenarios.len() < scenarios {
                    violation.when = Some(describe_scenarios(&seen.scenarios));
                }
                violation
            })
            .collect();
        if !violations.is_empty() {
            decision.verdict = Verdict::NonCompliant(violations);
        } else if matches!(decision.verdict, Verdict::NonCompliant(_)) {
            decision.verdict = Verdict::Compliant;
        }
        Judgement::Decided(decision)
    }
}

/// Whether a violation might not hold once the values known only at deploy time are known.
/// Only then is it set aside: a definite value that fails beside a deferred one is reported.
fn depends_on_deferred(violation: &Violation, placed: &Placed) -> bool {
    let reason = Reason {
        subject: violation.subject(),
        keyword: violation.keyword.clone(),
        settled_by_shape: false,
        alternatives: violation.alternatives.clone(),
    };
    may_clear(&reason, placed)
}

/// Whether some deploy-time value could make `reason` go away.
fn may_clear(reason: &Reason, placed: &Placed) -> bool {
    let sites = || placed.unknown.iter();
    // The reason judges a deferred value itself, or something inside one.
    if sites().any(|(site, _)| is_within(&reason.subject, site)) {
        return true;
    }
    let inside = || sites().any(|(site, _)| is_within(site, &reason.subject));
    match reason.keyword.as_str() {
        // An alternative clears only when every reason it failed for can.
        "anyOf" | "oneOf" if !reason.alternatives.is_empty() => reason
            .alternatives
            .iter()
            .any(|reasons| !reasons.is_empty() && reasons.iter().all(|r| may_clear(r, placed))),
        "enum" | "const" => !reason.settled_by_shape && inside(),
        // The alternatives were not reported: any of them might match.
        "anyOf" | "oneOf" => inside(),
        // No item matched; a deferred item may be the one that does.
        "contains" => inside(),
        // An undecided `Fn::If` directly inside may turn out to be `AWS::NoValue`: that can lower
        // a count, or remove the member a `not` (`not: {required: [X]}`) matched on.
        "maxItems" | "maxProperties" | "not" => {
            sites().any(|(site, unknown)| unknown.function == "Fn::If" && parent_of(site) == reason.subject)
        }
        // `not` otherwise: the forbidden schema matched with the deferred values in place, and
        // another value beside a definite match (an extra action beside `iam:AttachRolePolicy`)
        // cannot unmatch it. `uniqueItems`: the duplicates are there whatever else the list
        // holds. `type`, `pattern`, `required`, `additionalProperties`, ...: a value inside the
        // subject changes neither its type nor its keys.
        _ => false,
    }
}

/// How many values `value` holds, itself included.
fn count_values(value: &Value) -> usize {
    let mut count = 0;
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        count += 1;
        match value {
            Value::Object(object) => pending.extend(object.values()),
            Value::Array(items) => pending.extend(items),
            _ => {}
        }
    }
    count
}

fn parent_of(pointer: &str) -> &str {
    match pointer.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &pointer[..i],
    }
}

/// `Env = dev`, or `Env = dev; Env = test` for several scenarios (at most three shown).
fn describe_scenarios(scenarios: &[String]) -> String {
    let mut distinct: Vec<&str> = Vec::new();
    for scenario in scenarios {
        if !distinct.contains(&scenario.as_str()) {
            distinct.push(scenario);
        }
    }
    let shown = distinct.iter().take(3).copied().collect::<Vec<_>>().join("; ");
    if distinct.len() > 3 { format!("{shown}; and {} more", distinct.len() - 3) } else { shown }
}

/// Where a violation is in the properties as written: for a property that is not approved,
/// its key (not the `Fn::If` branch its value came from).
fn written_location(placed: &Placed, violation: &Violation) -> String {
    match (violation.keyword.as_str(), violation.pointer.rsplit_once('/')) {
        ("additionalProperties", Some((parent, key))) => {
            // A key of the properties themselves is under `Properties: !If [...]` when they
            // came from a branch.
            let parent = placed.written_at(if parent.is_empty() { "/" } else { parent });
            format!("{}/{key}", parent.trim_end_matches('/'))
        }
        _ => placed.written_at(&violation.pointer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_level_violations_are_judged_around_intrinsics() {
        assert!(is_within("/A/B", "/A"));
        assert!(is_within("/A", "/A"));
        assert!(!is_within("/AB", "/A"));
    }

    #[test]
    fn parameter_files_in_every_common_shape() {
        let parse = |text: &str| parse_parameters(text, "p.json").map_err(|e| e.to_string());
        let expected = BTreeMap::from([("Env".to_owned(), "prod".to_owned()), ("Ids".to_owned(), "a,b".to_owned())]);
        assert_eq!(parse(r#"{"Env": "prod", "Ids": ["a", "b"]}"#), Ok(expected.clone()));
        assert_eq!(parse(r#"{"Parameters": {"Env": "prod", "Ids": "a,b"}}"#), Ok(expected.clone()));
        assert_eq!(
            parse(
                r#"[{"ParameterKey": "Env", "ParameterValue": "prod"}, {"ParameterKey": "Ids", "ParameterValue": "a,b"}]"#
            ),
            Ok(expected)
        );
        assert_eq!(
            parse(r#"[{"Key": "Env"}]"#),
            Err(r#"p.json: {"Key":"Env"} has no ParameterKey and ParameterValue"#.into())
        );
        assert_eq!(
            parse(r#"{"Env": {"nested": 1}}"#),
            Err(r#"p.json: parameter Env: {"nested":1} is not a value"#.into())
        );
        assert!(parse(r#"{"Env": "a", "Env": "b"}"#).unwrap_err().starts_with("p.json: not valid JSON: "));
    }

    #[test]
    fn scenarios_are_described_briefly() {
        let scenarios = ["A = 1", "A = 2", "A = 1", "A = 3", "A = 4"].map(String::from);
        assert_eq!(describe_scenarios(&scenarios), "A = 1; A = 2; A = 3; and 1 more");
    }
}
