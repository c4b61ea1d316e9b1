//! The engine: one resource and its context in, one [`Decision`] out.
//!
//! ```text
//! Target ─► store (via cache) ─► Template ─► render(variables) ─► Policy (cached)
//!        ─► normalize(properties) ─► validate ─► Verdict
//! ```

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::cache::{CacheUse, Cached, FileCache, Freshness, LoadError, Pairing, PolicyCache};
use crate::context::{Action, Context, is_builtin_variable};
use crate::error::Error;
use crate::guard::{self, GuardError, GuardRules};
use crate::policy::Policy;
use crate::render::Template;
use crate::store::{self, TemplateSource, VARIABLES_FILE};
use crate::unwind::CatchUnwind;
use crate::validate;
use crate::verdict::{Decision, Verdict, Violation};

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
        let vars = self.variables_for(&template, type_name, &target.logical_id, target.action, &target.context).await?;
        let (policy, compiled) = self.policy(&template, &vars)?;
        trace.compiled = compiled;
        let mut normalized = properties.clone();
        policy
            .normalizer()
            .normalize(policy.schema(), &mut normalized)
            .map_err(|source| Error::Normalize { type_name: type_name.clone(), source })?;
        let mut violations = validate::check(&policy, &normalized);
        if template.guard_rules {
            // The rules are used with this copy of the template: never older, nor stale unless
            // the template is.
            let pairing =
                Pairing { not_checked_before: cached.checked_at, allow_stale: cached.status == CacheUse::Stale };
            let rules = self.guard_rules(type_name, pairing).await?;
            let found = rules.check(type_name, &target.logical_id, &normalized);
            violations.extend(found.map_err(|source| Error::Guard { type_name: type_name.clone(), source })?);
        }
        Ok(Outcome::of(if violations.is_empty() { Verdict::Compliant } else { Verdict::NonCompliant(violations) }))
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
