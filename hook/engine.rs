//! The engine: one resource and its context in, one [`Decision`] out.
//!
//! ```text
//! Target ─► store (via cache) ─► Template ─► render(variables) ─► Policy (cached)
//!        ─► normalize(properties) ─► validate ─► Verdict
//! ```

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use tokio::sync::Semaphore;

use crate::cache::{CacheUse, Cached, FileCache, Freshness, LoadError, Pairing, PolicyCache};
use crate::context::{Action, Context, is_builtin_variable};
use crate::error::Error;
use crate::guard::{self, GuardError, GuardRules, InputSize};
use crate::policy::Policy;
use crate::render::Template;
use crate::store::{self, TemplateSource, VARIABLES_FILE};
use crate::unwind::CatchUnwind;
use crate::validate;
use crate::verdict::{Decision, Verdict, Violation};

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
}

/// Judges resources against the templates of one source. Build it once; it is `Send + Sync`
/// and caches everything it loads.
pub struct Engine {
    source: Box<dyn TemplateSource>,
    config: EngineConfig,
    templates: FileCache<Template>,
    guard_rules: FileCache<GuardRules>,
    variables: FileCache<Map<String, Value>>,
    policies: PolicyCache,
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
    cache: Option<CacheUse>,
    compiled: bool,
}

impl Engine {
    pub fn new(source: impl TemplateSource + 'static, config: EngineConfig) -> Self {
        Engine {
            source: Box::new(source),
            templates: FileCache::new(config.freshness),
            guard_rules: FileCache::new(config.freshness),
            variables: FileCache::new(config.freshness),
            policies: PolicyCache::default(),
            large_judgements: Arc::new(Semaphore::new(LARGE_JUDGEMENTS)),
            config,
        }
    }

    /// Where templates come from, for messages.
    pub fn location(&self) -> String {
        self.source.location()
    }

    /// Judges one resource. Never fails and never panics: every fault, a panic included, is a
    /// [`Verdict::InternalFailure`].
    pub async fn decide(&self, target: &Target) -> Decision {
        let mut trace = Trace::default();
        let outcome = match CatchUnwind::new(self.evaluate(target, &mut trace)).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(error)) => Outcome::of(Verdict::InternalFailure(error)),
            Err(message) => Outcome::of(Verdict::InternalFailure(Error::Panic { message })),
        };
        Decision {
            type_name: target.type_name.clone(),
            logical_id: target.logical_id.clone(),
            action: target.action,
            verdict: outcome.verdict,
            template_version: trace.version,
            note: outcome.note,
            cache: trace.cache,
            compiled: trace.compiled,
        }
    }

    /// The JSON Schema a type's template renders to in a context (for template authors).
    pub async fn render(
        &self,
        type_name: &str,
        logical_id: &str,
        action: Action,
        context: &Context,
    ) -> Result<Value, Error> {
        let template = self.template(type_name).await?.value.ok_or_else(|| self.no_template(type_name))?;
        let vars = self.variables_for(&template, type_name, logical_id, action, context).await?;
        template.render(&vars).map_err(|source| Error::Render { type_name: type_name.to_owned(), source })
    }

    async fn evaluate(&self, target: &Target, trace: &mut Trace) -> Result<Outcome, Error> {
        let type_name = &target.type_name;
        progress(|| format!("loading the template for {type_name} (templates unreachable or too slow)"));
        let cached = self.template(type_name).await?;
        trace.cache = Some(cached.status);
        let Some(template) = cached.value else {
            return self.untemplated(target);
        };
        trace.version = Some(template.version.clone());
        if target.action == Action::Delete {
            return Ok(delete_outcome(&template));
        }
        let properties = match &target.properties {
            Value::Object(_) => &target.properties,
            other => return Err(Error::PropertiesNotAnObject { found: json_kind(other) }),
        };
        let mut left = MAX_PROPERTIES_BYTES;
        if larger_than(properties, &mut left) {
            // The estimate is rough; the limit is exact.
            let size = InputSize::of(&target.logical_id, properties).json_bytes;
            if size > MAX_PROPERTIES_BYTES {
                return Err(Error::PropertiesTooLarge { size, limit: MAX_PROPERTIES_BYTES });
            }
        }
        let vars = self.variables_for(&template, type_name, &target.logical_id, target.action, &target.context).await?;
        let (policy, compiled) = self.policy(&template, &vars)?;
        trace.compiled = compiled;
        let rules = if template.guard_rules {
            // The rules are used with this copy of the template: never older, nor stale unless
            // the template is.
            let pairing =
                Pairing { not_checked_before: cached.checked_at, allow_stale: cached.status == CacheUse::Stale };
            progress(|| format!("loading the Guard rules of {type_name} (templates unreachable or too slow)"));
            Some(self.guard_rules(type_name, pairing).await?)
        } else {
            None
        };
        let judgement = Judgement {
            type_name: type_name.clone(),
            logical_id: target.logical_id.clone(),
            properties: properties.clone(),
            policy,
            rules,
        };
        let violations = self.judge(judgement).await?;
        Ok(Outcome::of(if violations.is_empty() { Verdict::Compliant } else { Verdict::NonCompliant(violations) }))
    }

    /// Runs a judgement: small ones here, large ones on a blocking thread, one at a time, so
    /// that the caller's task stays free to notice that its time is up. Once started, a large
    /// judgement runs to its end even if nobody waits for it any more: it holds nothing but its
    /// own copy of the properties and shared, read-only policy and rules, so it cannot disturb
    /// the caches or answer anybody.
    async fn judge(&self, judgement: Judgement) -> Result<Vec<Violation>, Error> {
        let mut left = INLINE_MAX_BYTES;
        if !larger_than(&judgement.properties, &mut left) {
            return judgement.run();
        }
        let size = InputSize::of(&judgement.logical_id, &judgement.properties).json_bytes;
        let subject = format!("{} ({})", judgement.logical_id, judgement.type_name);
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
            .map_err(|_| Error::Panic { message: "the judgement slots are closed".to_owned() })?;
        progress(|| format!("judging {subject} ({size} bytes of properties) against its schema and Guard rules"));
        let running = tokio::task::spawn_blocking(move || {
            let _slot = permit;
            judgement.run()
        });
        match running.await {
            Ok(result) => result,
            Err(error) => Err(Error::Panic { message: join_error_message(error) }),
        }
    }

    /// The verdict for a type that has no template: refused unless exempt; DELETE is allowed.
    fn untemplated(&self, target: &Target) -> Result<Outcome, Error> {
        if target.action == Action::Delete {
            let note = "DELETE of a type with no template: nothing to protect".to_owned();
            return Ok(Outcome::noted(Verdict::Compliant, note));
        }
        if self.config.exempt_types.contains(&target.type_name) {
            let note = format!("{} has no template and is on the exemption list", target.type_name);
            return Ok(Outcome::noted(Verdict::Exempt, note));
        }
        Err(self.no_template(&target.type_name))
    }

    fn no_template(&self, type_name: &str) -> Error {
        Error::NoTemplate { type_name: type_name.to_owned(), location: self.source.location() }
    }

    /// The type's template (`value` is `None` when the source has none), and how the cache
    /// served it.
    async fn template(&self, type_name: &str) -> Result<Cached<Template>, Error> {
        let file_name = store::file_name_for_type(type_name)
            .map_err(|source| Error::Store { type_name: type_name.to_owned(), source })?;
        let cached = self
            .templates
            .get(self.source.as_ref(), &file_name, |fetched| {
                Template::parse(type_name, &fetched.version, &fetched.body)
            })
            .await
            .map_err(|e| match e {
                LoadError::Store(source) => Error::Store { type_name: type_name.to_owned(), source },
                LoadError::Parse(source) => Error::Template { type_name: type_name.to_owned(), source },
            })?;
        if let Some(template) = &cached.value {
            template
                .check_type(type_name)
                .map_err(|source| Error::Template { type_name: type_name.to_owned(), source })?;
        }
        Ok(cached)
    }

    /// The type's Guard rules, which its template says exist: a missing file is a fault.
    async fn guard_rules(&self, type_name: &str, pairing: Pairing) -> Result<Arc<GuardRules>, Error> {
        let store_error = |source| Error::Store { type_name: type_name.to_owned(), source };
        let file_name = guard::file_name_for(&store::file_name_for_type(type_name).map_err(store_error)?);
        let cached = self
            .guard_rules
            .get_paired(self.source.as_ref(), &file_name, Some(pairing), |fetched| {
                GuardRules::parse(&file_name, &fetched.body)
            })
            .await
            .map_err(|e| match e {
                LoadError::Store(source) => store_error(source),
                LoadError::Parse(source) => Error::Guard { type_name: type_name.to_owned(), source },
            })?;
        cached.value.ok_or_else(|| Error::Guard {
            type_name: type_name.to_owned(),
            source: GuardError::Missing { file: file_name.clone(), location: self.source.location() },
        })
    }

    /// The organisation variables from `_variables.json` (none when the file is absent).
    async fn organisation_variables(&self) -> Result<Arc<Map<String, Value>>, Error> {
        let cached = self
            .variables
            .get(self.source.as_ref(), VARIABLES_FILE, |fetched| parse_variables(&fetched.body))
            .await
            .map_err(|e| Error::Variables {
                file: VARIABLES_FILE.to_owned(),
                reason: match e {
                    LoadError::Store(source) => source.to_string(),
                    LoadError::Parse(reason) => reason,
                },
            })?;
        Ok(cached.value.unwrap_or_default())
    }

    /// The values of the variables `template` uses; unknown ones are left out.
    async fn variables_for(
        &self,
        template: &Template,
        type_name: &str,
        logical_id: &str,
        action: Action,
        context: &Context,
    ) -> Result<Map<String, Value>, Error> {
        if template.variables().is_empty() {
            return Ok(Map::new());
        }
        let builtins = context.variables(type_name, logical_id, action);
        let needs_organisation = template.variables().iter().any(|name| !is_builtin_variable(name));
        let organisation = if needs_organisation { self.organisation_variables().await? } else { Arc::new(Map::new()) };
        let mut vars = Map::new();
        for name in template.variables() {
            let value = if is_builtin_variable(name) {
                builtins.get(name)
            } else {
                self.config.variables.get(name).or_else(|| organisation.get(name))
            };
            if let Some(value) = value {
                vars.insert(name.clone(), value.clone());
            }
        }
        Ok(vars)
    }

    /// The compiled policy, and whether it was compiled now (not found in the cache).
    fn policy(&self, template: &Template, vars: &Map<String, Value>) -> Result<(Arc<Policy>, bool), Error> {
        let type_name = &template.type_name;
        let render_error = |source| Error::Render { type_name: type_name.clone(), source };
        let key = (type_name.clone(), template.version.clone(), template.variable_key(vars).map_err(render_error)?);
        let (policy, from_cache) = self.policies.get_or_compile(key, || {
            let schema = template.render(vars).map_err(render_error)?;
            Policy::compile(type_name, &template.version, schema)
                .map_err(|source| Error::Compile { type_name: type_name.clone(), source })
        })?;
        Ok((policy, !from_cache))
    }
}

/// The CPU work of a decision, with everything it needs owned or shared read-only, so that it
/// can run on another thread and outlive the decision that started it.
struct Judgement {
    type_name: String,
    logical_id: String,
    /// A copy of the resource's properties, normalised in place.
    properties: Value,
    policy: Arc<Policy>,
    rules: Option<Arc<GuardRules>>,
}

impl Judgement {
    /// Normalises the properties, validates them against the schema, then runs the Guard rules.
    fn run(self) -> Result<Vec<Violation>, Error> {
        let Judgement { type_name, logical_id, mut properties, policy, rules } = self;
        policy
            .normalizer()
            .normalize(policy.schema(), &mut properties)
            .map_err(|source| Error::Normalize { type_name: type_name.clone(), source })?;
        let mut violations = validate::check(&policy, &properties);
        if let Some(rules) = rules {
            let (input, size) = guard_input(&logical_id, &properties, &violations);
            let found = rules.check_measured(&type_name, &logical_id, &input, size);
            violations.extend(found.map_err(|source| Error::Guard { type_name: type_name.clone(), source })?);
        }
        Ok(violations)
    }
}

/// What the Guard rules are given: the properties, whole whenever Guard accepts them. Only
/// when they are over Guard's input limits and the schema has already refused properties
/// that are not approved are those left out: the resource is refused whatever the rules
/// say, their findings on the approved properties are still reported, and a resource padded
/// with thousands of unapproved keys costs Guard nothing. Leaving out object keys keeps every
/// other value's pointer as it was.
/// Returns the input with its size, measured once.
fn guard_input<'a>(logical_id: &str, properties: &'a Value, violations: &[Violation]) -> (Cow<'a, Value>, InputSize) {
    let size = InputSize::of(logical_id, properties);
    if size.within_limits() {
        return (Cow::Borrowed(properties), size);
    }
    let mut unapproved: BTreeMap<&str, HashSet<String>> = BTreeMap::new();
    for violation in violations.iter().filter(|v| v.keyword == "additionalProperties") {
        if let Some((parent, key)) = violation.pointer.rsplit_once('/') {
            unapproved.entry(parent).or_default().insert(key.replace("~1", "/").replace("~0", "~"));
        }
    }
    if unapproved.is_empty() {
        return (Cow::Borrowed(properties), size);
    }
    let approved = copy_without(properties, "", &unapproved);
    let size = InputSize::of(logical_id, &approved);
    (Cow::Owned(approved), size)
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

/// A copy of `value` (found at `pointer`) without the keys `unapproved` names under each
/// object's pointer; what is not below any of them is cloned whole.
fn copy_without(value: &Value, pointer: &str, unapproved: &BTreeMap<&str, HashSet<String>>) -> Value {
    // Whether anything under `child` is to be left out.
    let affected = |child: &str| {
        let below = format!("{child}/");
        unapproved.contains_key(child)
            || unapproved.range(below.as_str()..).next().is_some_and(|(p, _)| p.starts_with(&below))
    };
    let copy_child = |child: &Value, child_pointer: String| {
        if affected(&child_pointer) { copy_without(child, &child_pointer, unapproved) } else { child.clone() }
    };
    match value {
        Value::Object(object) => {
            let dropped = unapproved.get(pointer);
            let kept = object.iter().filter(|(key, _)| dropped.is_none_or(|keys| !keys.contains(key.as_str())));
            Value::Object(
                kept.map(|(key, child)| {
                    let child_pointer = format!("{pointer}/{}", crate::position::escape(key));
                    (key.clone(), copy_child(child, child_pointer))
                })
                .collect(),
            )
        }
        Value::Array(items) => Value::Array(
            items.iter().enumerate().map(|(index, child)| copy_child(child, format!("{pointer}/{index}"))).collect(),
        ),
        other => other.clone(),
    }
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
    pub async fn watch<F: std::future::Future>(&self, future: F) -> F::Output {
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
fn join_error_message(error: tokio::task::JoinError) -> String {
    if !error.is_panic() {
        return "the judgement was cancelled".to_owned();
    }
    let payload = error.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// DELETE carries no properties: allowed, unless the template protects the type.
fn delete_outcome(template: &Template) -> Outcome {
    if !template.deny_delete {
        return Outcome::noted(Verdict::Compliant, "DELETE: there are no properties to validate".to_owned());
    }
    let type_name = &template.type_name;
    let violation = Violation::new(
        "/".to_owned(),
        "x-rcfge.denyDelete".to_owned(),
        None,
        format!("deleting a {type_name} is denied by its template"),
        format!("Keep the resource, or ask the security team to allow deleting {type_name}"),
    );
    Outcome::of(Verdict::NonCompliant(vec![violation]))
}

/// Parses `_variables.json`: an object of organisation variables with plain names that do
/// not shadow the built-in ones.
pub fn parse_variables(body: &[u8]) -> Result<Map<String, Value>, String> {
    let value = crate::json::from_slice(body).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Object(map) = value else {
        return Err("must be a JSON object of variable names to values".to_owned());
    };
    for name in map.keys() {
        check_variable_name(name)?;
    }
    Ok(map)
}

/// An organisation variable name: letters, digits and `_`, not starting with a digit, not a
/// built-in variable and not `json`.
pub fn check_variable_name(name: &str) -> Result<(), String> {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !plain {
        return Err(format!("`{name}` is not a valid variable name (letters, digits and _)"));
    }
    if is_builtin_variable(name) || name == "json" {
        return Err(format!("`{name}` is a built-in name and cannot be an organisation variable"));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
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

    #[test]
    fn leaving_out_unapproved_keys_keeps_every_other_pointer() {
        let properties = serde_json::json!({
            "Keep": {"a": 1, "Drop~/x": 2}, "Drop": 3, "Keep-x": [{"Drop": 4, "b": 5}]
        });
        let violation = |pointer: &str| {
            Violation::new(pointer.into(), "additionalProperties".into(), None, String::new(), String::new())
        };
        let mut violations = vec![violation("/Keep/Drop~0~1x"), violation("/Drop"), violation("/Keep-x/0/Drop")];
        // Over the keys-per-object limit, so that the copy is made.
        let mut padded = properties.clone();
        for i in 0..=guard::MAX_INPUT_OBJECT_KEYS {
            padded[format!("Pad{i}")] = Value::Null;
            violations.push(violation(&format!("/Pad{i}")));
        }
        let (approved, size) = guard_input("L", &padded, &violations);
        assert_eq!(*approved, serde_json::json!({"Keep": {"a": 1}, "Keep-x": [{"b": 5}]}));
        assert_eq!(size, InputSize::of("L", &approved), "the size is the given input's");
        // Within the limits the properties are given whole, unapproved keys and all.
        assert!(matches!(guard_input("L", &properties, &violations).0, Cow::Borrowed(_)));
    }
}
