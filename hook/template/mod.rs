//! The template stage: from a resource type to what judges it. The type's restricted template
//! is fetched from its source (`store`), kept across decisions (`cache`), parsed once and
//! rendered for the decision's context (`restricted`, with the organisation `variables`),
//! then compiled into a [`Policy`]; the type's Guard rules come along when its template asks
//! for them.
//!
//! ```text
//! type ─► store ─► cache ─► Template ─► render(context, variables) ─► Policy (cached)
//!                                     └► Guard rules (when the template names them)
//! ```

pub(crate) mod cache;
pub(crate) mod restricted;
pub(crate) mod settings;
pub(crate) mod store;
pub(crate) mod variables;

use std::collections::HashMap;
use std::sync::Arc;

use jsonschema::PatternCache;
use serde_json::{Map, Value};

use crate::decision::{Action, Context, Target, is_builtin_variable};
use crate::policy::guard::{self, GuardError, GuardRules};
use crate::policy::{CompileError, Policy};
use crate::rollout::{WAIVERS_FILE, WaiverError, Waivers};
use cache::{Cached, FetchError, FileCache, Pairing, PolicyCache};
use settings::{Settings, SettingsError, parse_settings};
use variables::{VariablesError, parse_variables};

pub use crate::decision::{VariableNameError, check_variable_name};
pub use cache::Freshness;
pub use restricted::{RenderError, Template, TemplateError};
pub use settings::SETTINGS_FILE;
pub use store::{
    BASELINE_DIR, BoxFuture, DirSource, Fetch, Fetched, S3Location, S3Settings, S3Source, StoreError, TemplateLocation,
    TemplateSource, VARIABLES_FILE, baseline_file_for_type, client_from_environment, file_name_for_type,
};

/// Why a type's template, its organisation variables or its Guard rules cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    #[error("cannot load the template for {type_name}: {source}")]
    Store { type_name: String, source: StoreError },
    #[error("cannot load the organisation variables ({file}): {source}")]
    Variables { file: String, source: VariablesError },
    #[error("cannot load the organisation settings ({file}): {source}")]
    Settings { file: String, source: SettingsError },
    #[error("cannot load the waivers ({WAIVERS_FILE}): {0}")]
    WaiversStore(StoreError),
    #[error("cannot load the waivers ({WAIVERS_FILE}): {0}")]
    Waivers(WaiverError),
    #[error("the template for {type_name} is broken: {source}")]
    Template { type_name: String, source: TemplateError },
    /// The file is found case-insensitively and the template declares the type in another
    /// case: the resource misspells its type; the template is fine.
    #[error("`{type_name}` is not a resource type: type names are case-sensitive; did you mean `{declared}`?")]
    TypeNameCase { type_name: String, declared: String },
    #[error("the template for {type_name} cannot be rendered: {source}")]
    Render { type_name: String, source: RenderError },
    #[error("the template for {type_name} is not a valid schema: {source}")]
    Compile { type_name: String, source: CompileError },
    #[error("the Guard rules of {type_name} cannot be used: {source}")]
    GuardRules { type_name: String, source: GuardError },
}

impl LoadError {
    /// The placeholders that had no value, when that is the cause.
    pub fn missing_variables(&self) -> &[String] {
        match self {
            LoadError::Render { source: RenderError::NoValue { names }, .. } => names,
            _ => &[],
        }
    }
}

/// A template that cannot be used for `type_name`; when it only declares the type in another
/// case, it is the resource's type name that is wrong, and the error says so.
fn template_error(type_name: &str, source: TemplateError) -> LoadError {
    match source {
        TemplateError::WrongType { found, .. } if found.eq_ignore_ascii_case(type_name) => {
            LoadError::TypeNameCase { type_name: type_name.to_owned(), declared: found }
        }
        source => LoadError::Template { type_name: type_name.to_owned(), source },
    }
}

/// The type every custom resource is judged as: custom resources have no provider schema of
/// their own, so `AWS::CloudFormation::CustomResource` and every `Custom::*` share one template.
pub const CUSTOM_RESOURCE_TYPE: &str = "AWS::CloudFormation::CustomResource";

/// The type whose template judges `type_name`: itself, or [`CUSTOM_RESOURCE_TYPE`] for a custom
/// resource (`Custom::` and a name of letters, digits, `_`, `@` and `-`, as CloudFormation
/// allows).
pub(crate) fn template_type(type_name: &str) -> Result<&str, LoadError> {
    let Some(name) = type_name.strip_prefix("Custom::") else { return Ok(type_name) };
    let valid = (1..=60).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '@' | '-'));
    if valid {
        Ok(CUSTOM_RESOURCE_TYPE)
    } else {
        Err(LoadError::Store {
            type_name: type_name.to_owned(),
            source: StoreError::InvalidTypeName { type_name: type_name.to_owned() },
        })
    }
}

/// The templates of one source, and everything made from them, cached for as long as the
/// source allows. `Send + Sync`; built once per process.
pub(crate) struct Templates {
    source: Box<dyn TemplateSource>,
    /// Organisation variables that override `_variables.json` (`rcfge --var`).
    overrides: Map<String, Value>,
    /// Organisation variables used only where `_variables.json` does not define them.
    fallbacks: Map<String, Value>,
    /// The source's template file names, listed once (for `closest_type`).
    file_names: tokio::sync::OnceCell<Vec<String>>,
    /// `closest_type`'s answer (the declared type) per file name asked about, so a stack with
    /// thousands of resources of one misspelt type measures the names once.
    suggestions: std::sync::Mutex<HashMap<String, Option<String>>>,
    /// Parsed restricted templates, by file name.
    restricted: FileCache<Template>,
    guard_rules: FileCache<GuardRules>,
    variables: FileCache<Map<String, Value>>,
    settings: FileCache<Settings>,
    waivers: FileCache<Waivers>,
    policies: PolicyCache,
}

/// A template rendered with `vars` and compiled: what the policy cache holds, compiled the same
/// way whether a decision or `Templates::precompile` asks first.
fn compile_policy(
    template: &Template,
    vars: &Map<String, Value>,
    patterns: &PatternCache,
) -> Result<Policy, LoadError> {
    let type_name = &template.type_name;
    let schema = template.render(vars).map_err(|source| LoadError::Render { type_name: type_name.clone(), source })?;
    Policy::compile_sharing(type_name, &template.version, schema, patterns)
        .map_err(|source| LoadError::Compile { type_name: type_name.clone(), source })
}

impl Templates {
    pub fn new(
        source: Box<dyn TemplateSource>,
        freshness: Freshness,
        overrides: Map<String, Value>,
        fallbacks: Map<String, Value>,
    ) -> Self {
        Templates {
            source,
            overrides,
            fallbacks,
            file_names: tokio::sync::OnceCell::new(),
            suggestions: std::sync::Mutex::new(HashMap::new()),
            restricted: FileCache::new(freshness),
            guard_rules: FileCache::new(freshness),
            variables: FileCache::new(freshness),
            settings: FileCache::new(freshness),
            waivers: FileCache::new(freshness),
            policies: PolicyCache::default(),
        }
    }

    /// Where templates come from, for messages.
    pub fn location(&self) -> String {
        self.source.location()
    }

    /// Whether the source answers at all: one request for `_variables.json`, which may be
    /// absent. A source that cannot answer it (no credentials, no bucket, denied) cannot
    /// answer for any template either. The file goes into the cache as any use would put it
    /// there, so the decisions that need it do not fetch it again; a file that does not parse
    /// is not this check's concern: the decisions that use it fail closed on it.
    pub async fn reachable(&self) -> Result<(), StoreError> {
        let read = self.variables.get(self.source.as_ref(), VARIABLES_FILE, |fetched| parse_variables(&fetched.body));
        match read.await {
            Ok(_) | Err(FetchError::Parse(_)) => Ok(()),
            Err(FetchError::Store(error)) => Err(error),
        }
    }

    /// The type's reviewed template (`value` is `None` when the source has none), and how the
    /// cache served it.
    pub async fn template(&self, type_name: &str) -> Result<Cached<Template>, LoadError> {
        let template_type = template_type(type_name)?;
        let file_name = store::file_name_for_type(template_type)
            .map_err(|source| LoadError::Store { type_name: type_name.to_owned(), source })?;
        self.template_from(template_type, &file_name).await
    }

    /// The type's generated baseline template (`value` is `None` when the source has none).
    pub async fn baseline(&self, type_name: &str) -> Result<Cached<Template>, LoadError> {
        let template_type = template_type(type_name)?;
        let file_name = store::baseline_file_for_type(template_type)
            .map_err(|source| LoadError::Store { type_name: type_name.to_owned(), source })?;
        self.template_from(template_type, &file_name).await
    }

    /// The type a misspelt `type_name` most likely means (`AWS::SQS::Queeu`): of the source's
    /// template files, the nearest whose name is at most two edits away, read for the type it
    /// declares. None when the source does not list its files or nothing is that close.
    pub async fn closest_type(&self, type_name: &str) -> Option<String> {
        /// Longer than any type name: nothing to suggest, and no time spent measuring.
        const MAX_NAME: usize = 128;
        /// Distinct names remembered; past it, each is measured again (the input chose them).
        const MAX_REMEMBERED: usize = 1024;
        let wanted = store::file_name_for_type(type_name).ok().filter(|name| name.len() <= MAX_NAME)?;
        let remembered = self.suggestions.lock().ok().and_then(|cache| cache.get(&wanted).cloned());
        let declared = match remembered {
            Some(declared) => declared,
            None => {
                let declared = self.closest_declared_type(&wanted).await;
                if let Ok(mut cache) = self.suggestions.lock()
                    && cache.len() < MAX_REMEMBERED
                {
                    cache.insert(wanted, declared.clone());
                }
                declared
            }
        };
        declared.filter(|declared| declared != type_name)
    }

    /// The type declared by the template file nearest to `wanted` (a template file name).
    async fn closest_declared_type(&self, wanted: &str) -> Option<String> {
        let names = self.file_names.get_or_init(|| self.source.template_file_names()).await;
        // A type the snapshot has is spelt right: it has no template here for another reason.
        if names.iter().any(|name| name.strip_prefix("baseline/").unwrap_or(name) == wanted) {
            return None;
        }
        let (_, file_name) = names
            .iter()
            .map(|name| name.strip_prefix("baseline/").map_or((name, name.as_str()), |bare| (name, bare)))
            .filter(|(_, bare)| bare.len().abs_diff(wanted.len()) <= 2)
            .map(|(name, bare)| (strsim::damerau_levenshtein(wanted, bare), name))
            .filter(|&(distance, _)| (1..=2).contains(&distance) && distance * 4 < wanted.len())
            .min()?;
        let Ok(Fetch::Found(fetched)) = self.source.fetch(file_name, None).await else { return None };
        let template: Value = serde_json::from_slice(&fetched.body).ok()?;
        template.get("typeName")?.as_str().map(str::to_owned)
    }

    /// The organisation settings from `_settings.json` (the defaults when the file is absent).
    pub async fn settings(&self) -> Result<Arc<Settings>, LoadError> {
        let cached = self
            .settings
            .get(self.source.as_ref(), SETTINGS_FILE, |fetched| parse_settings(&fetched.body))
            .await
            .map_err(|e| LoadError::Settings {
                file: SETTINGS_FILE.to_owned(),
                source: match e {
                    FetchError::Store(source) => SettingsError::Store(source),
                    FetchError::Parse(source) => source,
                },
            })?;
        Ok(cached.value.unwrap_or_default())
    }

    /// The organisation's waivers from `_waivers.json` (none when the file is absent).
    pub async fn waivers(&self) -> Result<Arc<Waivers>, LoadError> {
        let cached = self
            .waivers
            .get(self.source.as_ref(), WAIVERS_FILE, |fetched| Waivers::parse(&fetched.body))
            .await
            .map_err(|e| match e {
                FetchError::Store(source) => LoadError::WaiversStore(source),
                FetchError::Parse(source) => LoadError::Waivers(source),
            })?;
        Ok(cached.value.unwrap_or_default())
    }

    async fn template_from(&self, type_name: &str, file_name: &str) -> Result<Cached<Template>, LoadError> {
        let cached = self
            .restricted
            .get(self.source.as_ref(), file_name, |fetched| Template::parse(type_name, &fetched.version, &fetched.body))
            .await
            .map_err(|e| match e {
                FetchError::Store(source) => LoadError::Store { type_name: type_name.to_owned(), source },
                FetchError::Parse(source) => template_error(type_name, source),
            })?;
        if let Some(template) = &cached.value {
            template.check_type(type_name).map_err(|source| template_error(type_name, source))?;
        }
        Ok(cached)
    }

    /// The type's Guard rules, which its template says exist: a missing file is a fault.
    pub async fn guard_rules(&self, type_name: &str, pairing: Pairing) -> Result<Arc<GuardRules>, LoadError> {
        let store_error = |source| LoadError::Store { type_name: type_name.to_owned(), source };
        let file_name =
            guard::file_name_for(&store::file_name_for_type(template_type(type_name)?).map_err(store_error)?);
        let cached = self
            .guard_rules
            .get_paired(self.source.as_ref(), &file_name, Some(pairing), |fetched| {
                GuardRules::parse(&file_name, &fetched.body)
            })
            .await
            .map_err(|e| match e {
                FetchError::Store(source) => store_error(source),
                FetchError::Parse(source) => LoadError::GuardRules { type_name: type_name.to_owned(), source },
            })?;
        cached.value.ok_or_else(|| LoadError::GuardRules {
            type_name: type_name.to_owned(),
            source: GuardError::Missing { file: file_name.clone(), location: self.source.guard_rules_location() },
        })
    }

    /// The template compiled for a resource in its context, and whether it was compiled now
    /// (not found in the cache).
    pub async fn policy(
        &self,
        template: &Template,
        type_name: &str,
        logical_id: &str,
        action: Action,
        context: &Context,
    ) -> Result<(Arc<Policy>, bool), LoadError> {
        let vars = self.variables_for(template, type_name, logical_id, action, context).await?;
        let type_name = &template.type_name;
        let render_error = |source| LoadError::Render { type_name: type_name.clone(), source };
        let key = (type_name.clone(), template.version.clone(), template.variable_key(&vars).map_err(render_error)?);
        let (policy, from_cache) =
            self.policies.get_or_compile(key, |patterns| compile_policy(template, &vars, patterns))?;
        Ok((policy, !from_cache))
    }

    /// Compiles the policies that `wanted` (a template, and the first resource of it to be
    /// judged) will need and the cache does not hold, side by side on the machine's cores:
    /// compiling (regular expressions above all) is most of the first decision of a type, and a
    /// stack template names many types. Best effort: what fails or panics here is left for the
    /// decision that needs it, which compiles again and reports the fault.
    pub async fn precompile(&self, wanted: &[(Arc<Template>, &Target)]) {
        let mut jobs: Vec<(cache::PolicyKey, &Template, Map<String, Value>)> = Vec::new();
        for (template, target) in wanted {
            let variables =
                self.variables_for(template, &target.type_name, &target.logical_id, target.action, &target.context);
            let Ok(vars) = variables.await else { continue };
            let Ok(variable_key) = template.variable_key(&vars) else { continue };
            let key = (template.type_name.clone(), template.version.clone(), variable_key);
            if !self.policies.contains(&key) && !jobs.iter().any(|(known, ..)| *known == key) {
                jobs.push((key, template, vars));
            }
        }
        let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(jobs.len());
        if threads < 2 {
            return;
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let work = || {
            while let Some((key, template, vars)) = jobs.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
                // A fault or a panic here is the decision's to report: it compiles again.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.policies.get_or_compile(key.clone(), |patterns| compile_policy(template, vars, patterns))
                }));
            }
        };
        std::thread::scope(|scope| {
            // The calling thread works too: a thread that cannot be started only slows this.
            for _ in 1..threads {
                let _ = std::thread::Builder::new().spawn_scoped(scope, work);
            }
            work();
        });
    }

    /// The JSON Schema the template renders to for a resource in its context (for template
    /// authors: `rcfge render`).
    pub async fn rendered(
        &self,
        template: &Template,
        type_name: &str,
        logical_id: &str,
        action: Action,
        context: &Context,
    ) -> Result<Value, LoadError> {
        let vars = self.variables_for(template, type_name, logical_id, action, context).await?;
        template.render(&vars).map_err(|source| LoadError::Render { type_name: type_name.to_owned(), source })
    }

    /// The organisation variables from `_variables.json` (none when the file is absent), with
    /// the overrides given to the engine.
    pub async fn organisation_variables_with_overrides(&self) -> Result<Map<String, Value>, LoadError> {
        let mut variables = (*self.organisation_variables().await?).clone();
        for (name, value) in &self.fallbacks {
            variables.entry(name.clone()).or_insert_with(|| value.clone());
        }
        variables.extend(self.overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(variables)
    }

    /// The organisation variables from `_variables.json` (none when the file is absent).
    async fn organisation_variables(&self) -> Result<Arc<Map<String, Value>>, LoadError> {
        let cached = self
            .variables
            .get(self.source.as_ref(), VARIABLES_FILE, |fetched| parse_variables(&fetched.body))
            .await
            .map_err(|e| LoadError::Variables {
                file: VARIABLES_FILE.to_owned(),
                source: match e {
                    FetchError::Store(source) => VariablesError::Store(source),
                    FetchError::Parse(source) => source,
                },
            })?;
        Ok(cached.value.unwrap_or_default())
    }

    /// The values of the variables `template` uses for a resource of `type_name` (as the
    /// resource names it; the template may have been loaded under another spelling of the same
    /// file name); unknown ones are left out.
    async fn variables_for(
        &self,
        template: &Template,
        type_name: &str,
        logical_id: &str,
        action: Action,
        context: &Context,
    ) -> Result<Map<String, Value>, LoadError> {
        if template.variables().is_empty() {
            return Ok(Map::new());
        }
        let needs_organisation = template.variables().iter().any(|name| !is_builtin_variable(name));
        let organisation = if needs_organisation { self.organisation_variables().await? } else { Arc::new(Map::new()) };
        let mut vars = Map::new();
        for name in template.variables() {
            let value = if is_builtin_variable(name) {
                context.variable(name, type_name, logical_id, action).map(|fact| Value::String(fact.to_owned()))
            } else {
                self.overrides
                    .get(name)
                    .or_else(|| organisation.get(name))
                    .or_else(|| self.fallbacks.get(name))
                    .cloned()
            };
            if let Some(value) = value {
                vars.insert(name.clone(), value);
            }
        }
        Ok(vars)
    }
}
