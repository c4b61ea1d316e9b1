//! The engine, the decision core: one [`Target`] in, one [`Decision`] out. It asks the
//! template stage for what judges the target's type and has the policy judge the properties;
//! every fault on the way, a panic included, becomes a [`Fault`], so [`Engine::decide`] never
//! fails. Its time budget is its caller's: the stage a decision is working on is recorded
//! ([`Progress`]), so that an answer that runs out of time names what did not finish.
//!
//! ```text
//! Target ─► template (store, cache, render, compile) ─► Policy, Guard rules
//!        ─► policy::judge (normalize, schema, guard) ─► Verdict
//! ```

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;

use serde_json::{Map, Value};
use tokio::sync::Semaphore;

use crate::decision::{Action, CacheUse, Context, Decision, Fault, Target, TemplateKind, Verdict, Violation};
use crate::policy::guard::{GuardError, GuardInput, GuardRules, InputSize};
use crate::policy::{self, JudgeError, Policy};
use crate::rollout::{self, Date, Rollout, Subject};
use crate::template::cache::{Cached, Freshness, Pairing};
use crate::template::restricted::Template;
use crate::template::store::{S3Settings, StoreError, TemplateLocation, TemplateSource};
use crate::template::{CUSTOM_RESOURCE_TYPE, LoadError, Templates};

/// The largest properties judged, as compact JSON. CloudFormation accepts templates of at
/// most 1 MB, so a resource is smaller, unless intrinsic functions (a parameter of 4 KB
/// substituted many times) grow it when CloudFormation resolves them; twice that leaves room
/// for them. The hook event itself may be 6 MiB: at that size the refusals alone (one
/// violation per unapproved key) took 326 MB, more than the function has. At this limit the
/// costliest input (unapproved keys) takes under 0.3 s and about 125 MiB above the process
/// (see "Worst cases" in BENCHMARKS.md). Larger properties are `InternalFailure`.
pub const MAX_PROPERTIES_BYTES: usize = 2 * 1024 * 1024;

/// Properties up to this size (compact JSON) are judged on the calling task: normalising,
/// validating and Guard together take well under a millisecond on them (every bundled
/// fixture is under 5 KiB), less than handing them to another thread would add. Larger ones
/// are judged on a blocking thread, so that a hook's time budget holds whatever they cost.
pub const INLINE_MAX_BYTES: usize = 16 * 1024;

/// How many large judgements (over [`INLINE_MAX_BYTES`]) may run at once in one process. One:
/// each may use up to ~140 MiB at its peak (see "Worst cases" in BENCHMARKS.md), the Lambda
/// function answers one invocation at a time, and a judgement that outlived its answer's
/// budget keeps running on its thread (a thread cannot be stopped safely). With one slot such
/// a runaway holds the only slot until it ends, so later large inputs answer `InternalFailure`
/// instead of piling up threads and memory; small ones are not held up.
pub const LARGE_JUDGEMENTS: usize = 1;

/// Violations settled between two chances for the caller's time budget to end the work.
const SETTLE_BATCH: usize = 256;

/// Settings that hold for every decision.
#[derive(Clone, Debug, Default)]
pub struct EngineConfig {
    /// Types that may be used without a template. A type on this list that *has* a template
    /// is still judged by it.
    pub exempt_types: BTreeSet<String>,
    /// How long fetched files are trusted before they are revalidated.
    pub freshness: Freshness,
    /// Organisation variables that override `_variables.json` (`rcfge --var`).
    pub variables: Map<String, Value>,
    /// Organisation variables used only where `_variables.json` does not define them (a
    /// project file's `vars`: a repository may fill a gap in the set, never change its values).
    pub variable_fallbacks: Map<String, Value>,
    /// The day waivers are judged on; `None` for today in UTC (tests fix it).
    pub today: Option<Date>,
    /// Name the closest type that has a template when a resource names one that has none
    /// (`did you mean`): for people at the command line. It reads the source's file list, so
    /// the hook, which only ever sees type names CloudFormation knows, leaves it off.
    pub suggest_types: bool,
}

/// A number of violations, as words: `1 violation`, `2 violations`.
#[derive(Debug)]
pub(crate) struct Count(usize);

impl std::fmt::Display for Count {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            1 => f.write_str("1 violation"),
            n => write!(f, "{n} violations"),
        }
    }
}

/// A template source that does not answer.
#[derive(Debug, thiserror::Error)]
#[error("the templates in {location} cannot be read: {error}")]
pub struct UnreadableSource {
    pub location: String,
    pub error: StoreError,
}

/// The type a resource most likely meant, when it names one without a template: shown as
/// `; did you mean `TYPE`?`, or as nothing.
#[derive(Debug, Default)]
pub(crate) struct Suggestion(Option<String>);

impl std::fmt::Display for Suggestion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(type_name) => write!(f, "; did you mean `{type_name}`?"),
            None => Ok(()),
        }
    }
}

/// Why a resource could not be judged; it becomes the verdict's [`Fault`].
#[derive(Debug, thiserror::Error)]
pub(crate) enum EngineError {
    #[error("no template for {type_name} in {location}: the type is not approved{suggestion}")]
    NoTemplate { type_name: String, location: String, suggestion: Suggestion },
    #[error(
        "no reviewed template for {type_name} in {location}, and the organisation settings require one for \
         `{entry}`: the baseline does not judge this type"
    )]
    ReviewedTemplateRequired { type_name: String, location: String, entry: String },
    #[error("no template for {type_name} in {location}, reviewed or baseline: the type is not approved{suggestion}")]
    NoBaseline { type_name: String, location: String, suggestion: Suggestion },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Judge(#[from] JudgeError),
    #[error(
        "the resource's properties are {size} bytes of JSON, more than the {limit} that are judged \
         (a CloudFormation template is at most 1 MB)"
    )]
    PropertiesTooLarge { size: usize, limit: usize },
    #[error("the resource's properties must be a JSON object, not {found}")]
    PropertiesNotAnObject { found: &'static str },
    #[error("the evaluation panicked: {message}")]
    Panic { message: String },
    #[error(
        "refused for {violations}, and the organisation's audit settings and waivers that could allow them cannot \
         be used: {source}"
    )]
    Rollout { violations: Count, source: LoadError },
}

impl From<EngineError> for Fault {
    fn from(error: EngineError) -> Self {
        let missing_variables = match &error {
            EngineError::Load(load) => load.missing_variables().to_vec(),
            _ => Vec::new(),
        };
        Fault { message: error.to_string(), missing_variables }
    }
}

/// Judges resources against the templates of one source. Build it once; it is `Send + Sync`
/// and caches everything it loads.
pub struct Engine {
    templates: Templates,
    exempt_types: BTreeSet<String>,
    suggest_types: bool,
    today: Option<Date>,
    /// Slots for large judgements, see [`LARGE_JUDGEMENTS`].
    large_judgements: Arc<Semaphore>,
}

/// A verdict, and why the properties were not judged (DELETE, exemption).
struct Outcome {
    verdict: Verdict,
    note: Option<String>,
}

impl Outcome {
    fn of(verdict: Verdict) -> Self {
        Outcome { verdict, note: None }
    }

    fn noted(verdict: Verdict, note: String) -> Self {
        Outcome { verdict, note: Some(note) }
    }
}

/// What an evaluation used, filled in as it goes so that it is known even when it fails.
#[derive(Default)]
struct Trace {
    version: Option<String>,
    kind: Option<TemplateKind>,
    cache: Option<CacheUse>,
    compiled: bool,
}

impl Engine {
    pub fn new(source: impl TemplateSource + 'static, config: EngineConfig) -> Self {
        Engine {
            templates: Templates::new(Box::new(source), config.freshness, config.variables, config.variable_fallbacks),
            exempt_types: config.exempt_types,
            suggest_types: config.suggest_types,
            today: config.today,
            large_judgements: Arc::new(Semaphore::new(LARGE_JUDGEMENTS)),
        }
    }

    /// An engine over the templates at `location` (a directory, or S3 with `s3`'s settings):
    /// how the Lambda function and the CLI build theirs.
    pub async fn open(location: &TemplateLocation, s3: &S3Settings, config: EngineConfig) -> Result<Self, StoreError> {
        Ok(Engine::new(location.open(s3).await?, config))
    }

    /// Where templates come from, for messages.
    pub fn location(&self) -> String {
        self.templates.location()
    }

    /// Checks that the template source answers, so that a command run by a person can say
    /// once that it cannot be read (a configuration error) instead of failing every resource
    /// with the same cause. The hook does not ask: every decision fails closed on its own.
    pub async fn check_source(&self) -> Result<(), UnreadableSource> {
        self.templates.reachable().await.map_err(|error| UnreadableSource { location: self.location(), error })
    }

    /// Judges one resource. Never fails and never panics: every fault, a panic included, is a
    /// [`Verdict::InternalFailure`].
    pub async fn decide(&self, target: &Target) -> Decision {
        let mut trace = Trace::default();
        let properties = Cow::Borrowed(&target.properties);
        let outcome = match CatchUnwind::new(self.evaluate(target, properties, &mut trace, false)).await {
            Ok(Ok(Staged::Done(outcome))) => outcome,
            Ok(Ok(Staged::AwaitingGuard(awaiting))) => {
                let AwaitingGuard { mut violations, rules, input } = *awaiting;
                let result = self.run_guard(rules, vec![input]).await.pop();
                let result = result.unwrap_or_else(|| Err(EngineError::Panic { message: "no Guard result".into() }));
                match result {
                    Ok(found) => {
                        violations.extend(found);
                        Outcome::of(verdict_of(violations))
                    }
                    Err(error) => Outcome::of(Verdict::InternalFailure(error.into())),
                }
            }
            Ok(Err(error)) => Outcome::of(Verdict::InternalFailure(error.into())),
            Err(message) => Outcome::of(Verdict::InternalFailure(EngineError::Panic { message }.into())),
        };
        decision_of(target, trace, outcome)
    }

    /// Judges several resources, each exactly as [`Engine::decide`] would, in order. The Guard
    /// rules of a type are run once for all of its resources here (see
    /// [`GuardRules::check_many`]): the library parses the rules on every call, and that is most
    /// of their cost. For the resources of a stack template; a single resource uses `decide`.
    pub async fn decide_all(&self, mut targets: Vec<Target>) -> Vec<Decision> {
        self.precompile(&targets).await;
        let mut traces = Vec::with_capacity(targets.len());
        let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(targets.len());
        // The targets awaiting their Guard rules: (target index, schema violations, rules), and
        // beside them each one's input.
        let mut awaiting: Vec<(usize, Vec<Violation>, Arc<GuardRules>)> = Vec::new();
        let mut inputs: Vec<Option<GuardInput>> = Vec::new();
        for (index, target) in targets.iter_mut().enumerate() {
            let mut trace = Trace::default();
            // Judged from this copy, which the targets do not need again.
            let properties = Cow::Owned(std::mem::take(&mut target.properties));
            let outcome = match CatchUnwind::new(self.evaluate(target, properties, &mut trace, true)).await {
                Ok(Ok(Staged::Done(outcome))) => Some(outcome),
                Ok(Ok(Staged::AwaitingGuard(waiting))) => {
                    let AwaitingGuard { violations, rules, input } = *waiting;
                    awaiting.push((index, violations, rules));
                    inputs.push(Some(input));
                    None
                }
                Ok(Err(error)) => Some(Outcome::of(Verdict::InternalFailure(error.into()))),
                Err(message) => Some(Outcome::of(Verdict::InternalFailure(EngineError::Panic { message }.into()))),
            };
            traces.push(trace);
            outcomes.push(outcome);
        }
        // One group per rule file (the same loaded rules), in the order first met.
        let mut groups: Vec<(Arc<GuardRules>, Vec<usize>)> = Vec::new();
        for (at, (_, _, rules)) in awaiting.iter().enumerate() {
            match groups.iter_mut().find(|(group, _)| Arc::ptr_eq(group, rules)) {
                Some((_, members)) => members.push(at),
                None => groups.push((rules.clone(), vec![at])),
            }
        }
        for (rules, members) in groups {
            let batch: Vec<GuardInput> = members.iter().filter_map(|&at| inputs[at].take()).collect();
            let results = self.run_guard(rules, batch).await;
            for (&at, result) in members.iter().zip(results) {
                let (index, violations, _) = &mut awaiting[at];
                outcomes[*index] = Some(match result {
                    Ok(found) => {
                        let mut violations = std::mem::take(violations);
                        violations.extend(found);
                        Outcome::of(verdict_of(violations))
                    }
                    Err(error) => Outcome::of(Verdict::InternalFailure(error.into())),
                });
            }
        }
        targets
            .iter()
            .zip(traces)
            .zip(outcomes)
            .map(|((target, trace), outcome)| {
                // Every awaiting input was given to its rules; a gap would be a bug, and fails closed.
                let outcome = outcome.unwrap_or_else(|| {
                    let message = "the Guard rules were not run".to_owned();
                    Outcome::of(Verdict::InternalFailure(EngineError::Panic { message }.into()))
                });
                decision_of(target, trace, outcome)
            })
            .collect()
    }

    /// Compiles, side by side, the policies of the types among `targets` whose first decision
    /// would compile one (see `Templates::precompile`). Only a template that is found is
    /// compiled; every fault is left for the decision, which meets it again and reports it.
    async fn precompile(&self, targets: &[Target]) {
        let mut wanted: Vec<(Arc<Template>, &Target)> = Vec::new();
        for target in targets {
            if target.action == Action::Delete || wanted.iter().any(|(_, seen)| seen.type_name == target.type_name) {
                continue;
            }
            let template = match self.templates.template(&target.type_name).await {
                Ok(Cached { value: Some(template), .. }) => Some(template),
                Ok(_) if self.untemplated(target).is_none() => match self.baseline(&target.type_name).await {
                    Ok(Cached { value, .. }) => value,
                    Err(_) => None,
                },
                _ => None,
            };
            if let Some(template) = template {
                wanted.push((template, target));
            }
        }
        self.templates.precompile(&wanted).await;
    }

    /// Runs `rules` on `inputs`: on this task when they are small together, else on a blocking
    /// thread in the slot for large judgements, as a large judgement is run.
    async fn run_guard(
        &self,
        rules: Arc<GuardRules>,
        inputs: Vec<GuardInput>,
    ) -> Vec<Result<Vec<Violation>, EngineError>> {
        let count = inputs.len();
        let bytes: usize = inputs.iter().map(|input| input.size.json_bytes).sum();
        let as_engine_errors = |results: Vec<Result<Vec<Violation>, GuardError>>, inputs: &[GuardInput]| {
            results
                .into_iter()
                .zip(inputs)
                .map(|(result, input)| {
                    result.map_err(|source| {
                        EngineError::Judge(JudgeError::Guard { type_name: input.type_name.clone(), source })
                    })
                })
                .collect::<Vec<_>>()
        };
        if bytes <= INLINE_MAX_BYTES {
            let results = rules.check_many(&inputs);
            return as_engine_errors(results, &inputs);
        }
        let every =
            |message: String| (0..count).map(|_| Err(EngineError::Panic { message: message.clone() })).collect();
        progress(|| {
            format!("waiting to run Guard rules on {count} resources ({bytes} bytes) while a large judgement runs")
        });
        let Ok(permit) = self.large_judgements.clone().acquire_owned().await else {
            return every("the judgement slots are closed".to_owned());
        };
        progress(|| format!("running Guard rules on {count} resources ({bytes} bytes)"));
        let running = tokio::task::spawn_blocking(move || {
            let _slot = permit;
            let results = rules.check_many(&inputs);
            (results, inputs)
        });
        match running.await {
            Ok((results, inputs)) => as_engine_errors(results, &inputs),
            Err(error) => every(join_error_message(error)),
        }
    }

    /// Applies the organisation's rollout to a judged resource: its waivers (`_waivers.json`)
    /// and what it only audits (`_settings.json` `enforcement`); see [`crate::rollout`]. Called
    /// once every violation of the resource is known (a stack template's resource is judged
    /// once per scenario, then merged). Only a `NonCompliant` verdict changes: to `Tolerated`
    /// when no violation is left enforced, or to `InternalFailure` when the files cannot be
    /// read. A decision this is never applied to keeps every violation enforced.
    pub async fn settle(&self, decision: &mut Decision, context: &Context) {
        let Verdict::NonCompliant(violations) = &decision.verdict else { return };
        let count = violations.len();
        progress(|| "loading the organisation settings and waivers (templates unreachable or too slow)".to_owned());
        let loaded = async {
            let settings = self.templates.settings().await?;
            let waivers = self.templates.waivers().await?;
            let names_variables = waivers.waivers.iter().any(|w| w.account_variables().next().is_some());
            let variables = if names_variables {
                self.templates.organisation_variables_with_overrides().await?
            } else {
                Map::new()
            };
            Ok::<_, LoadError>((settings, waivers, variables))
        };
        match CatchUnwind::new(loaded).await {
            Ok(Ok((settings, waivers, variables))) => {
                let Decision { type_name, logical_id, template_kind, verdict, .. } = decision;
                let judged_as = crate::template::template_type(type_name).unwrap_or(type_name);
                let subject = Subject { type_name, judged_as, logical_id, template_kind: *template_kind, context };
                let rollout = Rollout {
                    enforcement: &settings.enforcement,
                    waivers: &waivers,
                    variables: &variables,
                    today: self.today.unwrap_or_else(Date::today),
                };
                if let Verdict::NonCompliant(violations) = verdict {
                    // A resource may have a hundred thousand violations: give the caller's
                    // time budget a chance to end the work between batches.
                    for batch in violations.chunks_mut(SETTLE_BATCH) {
                        batch.iter_mut().for_each(|violation| rollout.settle_violation(violation, &subject));
                        tokio::task::yield_now().await;
                    }
                }
                rollout::conclude(verdict);
            }
            Ok(Err(source)) => {
                let error = EngineError::Rollout { violations: Count(count), source };
                decision.verdict = Verdict::InternalFailure(error.into());
            }
            Err(message) => decision.verdict = Verdict::InternalFailure(EngineError::Panic { message }.into()),
        }
    }

    /// The JSON Schema a type's template renders to in a context (for template authors).
    pub async fn render(
        &self,
        type_name: &str,
        logical_id: &str,
        action: Action,
        context: &Context,
    ) -> Result<Value, Fault> {
        let rendered = async {
            let template = match self.templates.template(type_name).await?.value {
                Some(reviewed) => reviewed,
                None => self.baseline(type_name).await?.value.ok_or_else(|| self.no_template(type_name))?,
            };
            Ok::<_, EngineError>(self.templates.rendered(&template, type_name, logical_id, action, context).await?)
        };
        match rendered.await {
            Ok(schema) => Ok(schema),
            Err(error) => Err(Fault::from(self.with_suggestion(error).await)),
        }
    }

    /// Evaluates a target; with `defer_guard`, a resource with Guard rules comes back judged
    /// against its schema and awaiting them.
    async fn evaluate(
        &self,
        target: &Target,
        properties: Cow<'_, Value>,
        trace: &mut Trace,
        defer_guard: bool,
    ) -> Result<Staged, EngineError> {
        match self.evaluate_with_template(target, properties, trace, defer_guard).await {
            Err(error) => Err(self.with_suggestion(error).await),
            outcome => outcome,
        }
    }

    /// Evaluates `target`, whose properties are `properties` (a copy the caller does not need
    /// again is judged in place).
    async fn evaluate_with_template(
        &self,
        target: &Target,
        properties: Cow<'_, Value>,
        trace: &mut Trace,
        defer_guard: bool,
    ) -> Result<Staged, EngineError> {
        let type_name = &target.type_name;
        progress(|| format!("loading the template for {type_name} (templates unreachable or too slow)"));
        let mut cached = self.templates.template(type_name).await?;
        let mut kind = TemplateKind::Reviewed;
        if cached.value.is_none() {
            if let Some(outcome) = self.untemplated(target) {
                trace.cache = Some(cached.status);
                return Ok(Staged::Done(outcome));
            }
            progress(|| format!("loading the baseline template for {type_name} (templates unreachable or too slow)"));
            cached = self.baseline(type_name).await?;
            kind = TemplateKind::Baseline;
        }
        trace.cache = Some(cached.status);
        let Some(template) = cached.value else {
            return Err(self.no_template(type_name));
        };
        trace.version = Some(template.version.clone());
        trace.kind = Some(kind);
        if target.action == Action::Delete {
            return Ok(Staged::Done(delete_outcome(&template)));
        }
        if !properties.is_object() {
            return Err(EngineError::PropertiesNotAnObject { found: json_kind(&properties) });
        }
        let mut left = MAX_PROPERTIES_BYTES;
        if larger_than(&properties, &mut left) {
            // The estimate is rough; the limit is exact.
            let size = InputSize::of(&target.logical_id, &properties).json_bytes;
            if size > MAX_PROPERTIES_BYTES {
                return Err(EngineError::PropertiesTooLarge { size, limit: MAX_PROPERTIES_BYTES });
            }
        }
        let (policy, compiled) =
            self.templates.policy(&template, type_name, &target.logical_id, target.action, &target.context).await?;
        trace.compiled = compiled;
        let rules = if template.guard_rules {
            // The rules are used with this copy of the template: never older, nor stale unless
            // the template is.
            let pairing =
                Pairing { not_checked_before: cached.checked_at, allow_stale: cached.status == CacheUse::Stale };
            progress(|| format!("loading the Guard rules of {type_name} (templates unreachable or too slow)"));
            Some(self.templates.guard_rules(type_name, pairing).await?)
        } else {
            None
        };
        let work = Work {
            type_name: type_name.clone(),
            logical_id: target.logical_id.clone(),
            properties: properties.into_owned(),
            policy,
            rules,
            defer_guard,
        };
        self.judge(work).await
    }

    /// Runs a judgement: small ones here, large ones on a blocking thread, one at a time, so
    /// that the caller's task stays free to notice that its time is up. Once started, a large
    /// judgement runs to its end even if nobody waits for it any more: it holds nothing but its
    /// own copy of the properties and shared, read-only policy and rules, so it cannot disturb
    /// the caches or answer anybody.
    async fn judge(&self, work: Work) -> Result<Staged, EngineError> {
        let mut left = INLINE_MAX_BYTES;
        if !larger_than(&work.properties, &mut left) {
            return Ok(work.run()?);
        }
        let size = InputSize::of(&work.logical_id, &work.properties).json_bytes;
        let subject = format!("{} ({})", work.logical_id, work.type_name);
        progress(|| {
            format!(
                "waiting to judge {subject} ({size} bytes of properties) while an earlier large judgement still runs"
            )
        });
        // The semaphore is never closed, so acquiring fails only if it were.
        let permit = self
            .large_judgements
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| EngineError::Panic { message: "the judgement slots are closed".to_owned() })?;
        progress(|| format!("judging {subject} ({size} bytes of properties) against its schema and Guard rules"));
        let running = tokio::task::spawn_blocking(move || {
            let _slot = permit;
            work.run()
        });
        match running.await {
            Ok(result) => Ok(result?),
            Err(error) => Err(EngineError::Panic { message: join_error_message(error) }),
        }
    }

    /// The verdict for a type that has no reviewed template, when it needs no baseline:
    /// DELETE is allowed, and so is a type on the exemption list (an explicit choice, which the
    /// baseline does not override).
    fn untemplated(&self, target: &Target) -> Option<Outcome> {
        if target.action == Action::Delete {
            let note = "DELETE of a type with no reviewed template: nothing to protect".to_owned();
            return Some(Outcome::noted(Verdict::Compliant, note));
        }
        if self.exempt_types.contains(&target.type_name) {
            let note = format!("{} has no template and is on the exemption list", target.type_name);
            return Some(Outcome::noted(Verdict::Exempt, note));
        }
        None
    }

    /// The baseline template of a type without a reviewed one, as the organisation settings
    /// allow: switched on, and the type not among those that need a reviewed template. A type
    /// the baseline does not cover is refused with the reason.
    async fn baseline(&self, type_name: &str) -> Result<Cached<Template>, EngineError> {
        // A custom resource runs code wherever its ServiceToken points: only the reviewed
        // custom-resource template judges it, never the provider's open schema.
        if crate::template::template_type(type_name)? == CUSTOM_RESOURCE_TYPE {
            return Err(self.no_template(type_name));
        }
        let settings = self.templates.settings().await?;
        if !settings.baseline {
            return Err(self.no_template(type_name));
        }
        if let Some(entry) = settings.requires_reviewed_template(type_name) {
            return Err(EngineError::ReviewedTemplateRequired {
                type_name: type_name.to_owned(),
                location: self.templates.location(),
                entry: entry.to_owned(),
            });
        }
        let cached = self.templates.baseline(type_name).await?;
        if cached.value.is_none() {
            return Err(EngineError::NoBaseline {
                type_name: type_name.to_owned(),
                location: self.templates.location(),
                suggestion: Suggestion::default(),
            });
        }
        Ok(cached)
    }

    fn no_template(&self, type_name: &str) -> EngineError {
        EngineError::NoTemplate {
            type_name: type_name.to_owned(),
            location: self.templates.location(),
            suggestion: Suggestion::default(),
        }
    }

    /// `error`, with the type the resource most likely meant when the type has no template.
    async fn with_suggestion(&self, mut error: EngineError) -> EngineError {
        if !self.suggest_types {
            return error;
        }
        if let EngineError::NoTemplate { type_name, suggestion, .. }
        | EngineError::NoBaseline { type_name, suggestion, .. } = &mut error
        {
            suggestion.0 = self.templates.closest_type(type_name).await;
        }
        error
    }
}

/// The CPU work of a decision, with everything it needs owned or shared read-only, so that it
/// can run on another thread and outlive the decision that started it.
struct Work {
    /// The type as the resource names it: what Guard rules match on and messages say.
    type_name: String,
    logical_id: String,
    /// A copy of the resource's properties, normalised in place.
    properties: Value,
    policy: Arc<Policy>,
    rules: Option<Arc<GuardRules>>,
    /// Stop after the schema, leaving the Guard rules to the caller (see [`Engine::decide_all`]).
    defer_guard: bool,
}

impl Work {
    fn run(self) -> Result<Staged, JudgeError> {
        let Work { type_name, logical_id, properties, policy, rules, defer_guard } = self;
        if !defer_guard {
            let violations = policy::judge(&policy, rules.as_deref(), &type_name, &logical_id, properties)?;
            return Ok(Staged::Done(Outcome::of(verdict_of(violations))));
        }
        let judged = policy::judge_schema(&policy, rules.is_some(), &type_name, &logical_id, properties)?;
        Ok(match (rules, judged.guard_input) {
            (Some(rules), Some(input)) => {
                Staged::AwaitingGuard(Box::new(AwaitingGuard { violations: judged.violations, rules, input }))
            }
            _ => Staged::Done(Outcome::of(verdict_of(judged.violations))),
        })
    }
}

/// Where an evaluation got to: done, or judged against the schema and awaiting its Guard rules.
enum Staged {
    Done(Outcome),
    AwaitingGuard(Box<AwaitingGuard>),
}

/// A resource judged against its schema, to be given to its Guard rules.
struct AwaitingGuard {
    /// The schema's violations, which come first.
    violations: Vec<Violation>,
    rules: Arc<GuardRules>,
    input: GuardInput,
}

fn verdict_of(violations: Vec<Violation>) -> Verdict {
    if violations.is_empty() { Verdict::Compliant } else { Verdict::NonCompliant(violations) }
}

fn decision_of(target: &Target, trace: Trace, outcome: Outcome) -> Decision {
    Decision {
        type_name: target.type_name.clone(),
        logical_id: target.logical_id.clone(),
        action: target.action,
        verdict: outcome.verdict,
        template_version: trace.version,
        template_kind: trace.kind,
        note: outcome.note,
        cache: trace.cache,
        compiled: trace.compiled,
    }
}

/// Whether `value` is larger than `left` bytes as JSON, roughly (an estimate that counts
/// strings and keys exactly and every other value as a few bytes), looking no further than
/// that: ordinary resources are told apart from large ones in a few hundred steps.
fn larger_than(value: &Value, left: &mut usize) -> bool {
    let own = match value {
        Value::String(text) => text.len() + 2,
        Value::Number(_) => 8,
        _ => 4,
    };
    let Some(rest) = left.checked_sub(own) else {
        return true;
    };
    *left = rest;
    match value {
        Value::Object(object) => object.iter().any(|(key, child)| match left.checked_sub(key.len() + 3) {
            Some(rest) => {
                *left = rest;
                larger_than(child, left)
            }
            None => true,
        }),
        Value::Array(items) => items.iter().any(|child| larger_than(child, left)),
        _ => false,
    }
}

/// DELETE carries no properties: allowed, unless the template protects the type.
fn delete_outcome(template: &Template) -> Outcome {
    if !template.deny_delete {
        return Outcome::noted(Verdict::Compliant, "DELETE: there are no properties to validate".to_owned());
    }
    let type_name = &template.type_name;
    let mut violation = Violation::new(
        "/".to_owned(),
        "x-rcfge.denyDelete".to_owned(),
        None,
        format!("deleting a {type_name} is denied by its template"),
        format!("Keep the resource, or ask the security team to allow deleting {type_name}"),
    );
    // A deletion cannot be undone: only the template (its `denyDelete`) decides.
    violation.always_enforced = Some("a template's denyDelete is changed in the template, never by the rollout");
    Outcome::of(Verdict::NonCompliant(vec![violation]))
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Runs a future; a panic inside it resolves to `Err(message)` instead of unwinding further.
pub struct CatchUnwind<F> {
    inner: Pin<Box<F>>,
}

impl<F> CatchUnwind<F> {
    pub fn new(future: F) -> Self {
        CatchUnwind { inner: Box::pin(future) }
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.get_mut().inner;
        match std::panic::catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()))),
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

tokio::task_local! {
    /// What the current decision is doing, for the message of one that runs out of time.
    static PROGRESS: Progress;
}

/// What a decision was last doing, shared with whoever waits for it: when the time is up,
/// the answer names the stage that did not finish.
#[derive(Clone, Debug, Default)]
pub struct Progress(Arc<Mutex<Option<String>>>);

impl Progress {
    /// Runs `future` with its stages recorded here.
    pub async fn watch<F: Future>(&self, future: F) -> F::Output {
        PROGRESS.scope(self.clone(), future).await
    }

    /// The last stage recorded, if any.
    pub fn last(&self) -> Option<String> {
        self.0.lock().ok().and_then(|stage| stage.clone())
    }

    /// Records a stage.
    pub fn set(&self, stage: String) {
        if let Ok(mut current) = self.0.lock() {
            *current = Some(stage);
        }
    }
}

/// Records what the current decision is doing, when someone watches it.
pub fn progress(stage: impl FnOnce() -> String) {
    let _ = PROGRESS.try_with(|progress| progress.set(stage()));
}

/// The message of a judgement thread that panicked (or, never here, was cancelled).
pub fn join_error_message(error: tokio::task::JoinError) -> String {
    if !error.is_panic() {
        return "the judgement was cancelled".to_owned();
    }
    panic_message(error.into_panic().as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    fn block_on<T>(f: impl Future<Output = T>) -> T {
        runtime().block_on(f)
    }

    #[test]
    fn passes_values_through_and_catches_panics() {
        assert_eq!(block_on(CatchUnwind::new(async { 7 })), Ok(7));
        let caught = block_on(CatchUnwind::new(async {
            tokio::task::yield_now().await;
            if true {
                panic!("boom {}", 1);
            }
        }));
        assert_eq!(caught, Err("boom 1".to_owned()));
    }

    #[test]
    fn a_panic_on_the_judgement_thread_keeps_its_message() {
        let joined = runtime().block_on(async {
            tokio::task::spawn_blocking(|| {
                if true {
                    panic!("boom {}", 2);
                }
            })
            .await
        });
        assert_eq!(join_error_message(joined.unwrap_err()), "boom 2");
    }

    #[test]
    fn progress_is_recorded_only_where_someone_watches() {
        let watched = Progress::default();
        runtime().block_on(watched.watch(async {
            tokio::task::yield_now().await;
            progress(|| "judging".to_owned());
        }));
        assert_eq!(watched.last().as_deref(), Some("judging"));
        // Outside a watch, recording is a no-op rather than a panic.
        progress(|| unreachable!("not evaluated without a watcher"));
    }

    #[test]
    fn the_size_estimate_stops_early_and_errs_large() {
        let small = serde_json::json!({"Tags": [{"Key": "team", "Value": "payments"}]});
        assert!(!larger_than(&small, &mut 1024));
        assert!(larger_than(&small, &mut 8));
        let big = Value::Array(vec![Value::String("x".repeat(100)); 1_000]);
        let mut left = INLINE_MAX_BYTES;
        assert!(larger_than(&big, &mut left));
        assert_eq!(left, (INLINE_MAX_BYTES - 4) % 102, "stopped at the first value that did not fit");
    }
}
