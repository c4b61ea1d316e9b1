//! Placeholders: a parsed template, rendered into a JSON Schema for one context.
//!
//! Templates are parsed as JSON first; placeholders are rendered on the string leaves and
//! object keys of the parsed document, never on its text, so no value can change the
//! schema's structure. Inside a `pattern` string or a `patternProperties` key, every
//! substituted value is regex-escaped. A string that is exactly `{{json name}}` is replaced by
//! the variable's JSON value (a list of ARNs can become an `enum`).
//!
//! Only four placeholder forms exist: `{{name}}`, `{{name.field}}`, `{{json name}}` and, in
//! a regular expression only, `{{any name}}`: a list of strings as an alternation of the
//! escaped strings, `(?:a|b)` (the organisation's buckets in a URL pattern).
//! Anything else handlebars could do (blocks, partials, raw `{{{ }}}` output, other helpers)
//! is refused, so that the variables a template uses are known before it is rendered: they
//! are part of the compiled-policy cache key, and lint can check them.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, LazyLock};

use handlebars::template::{Parameter, Template as HbTemplate, TemplateElement};
use handlebars::{
    Context as HbContext, Handlebars, Helper, HelperDef, HelperResult, Output, RenderContext, Renderable, StringOutput,
};
use serde_json::{Map, Value};

use crate::decision::is_builtin_variable;

/// A template file, parsed and checked, ready to be rendered for any context.
#[derive(Clone, Debug)]
pub struct Template {
    pub type_name: String,
    /// The source's version of the file (content hash or ETag).
    pub version: String,
    /// The top-level `x-rcfge.denyDelete`: refuse DELETE for this type.
    pub deny_delete: bool,
    /// The top-level `x-rcfge.guardRules`: the type also has Guard rules, which must be there.
    pub guard_rules: bool,
    /// The top-level `typeName`, when the template names its type.
    declared_type: Option<String>,
    document: Value,
    variables: BTreeSet<String>,
    /// Every string with placeholders, parsed once when the template is read: parsing them
    /// again on every render was a fifth of the time a first decision took.
    parsed: HashMap<String, Arc<Parsed>>,
}

/// A string's placeholders, and the string as handlebars renders it.
#[derive(Debug)]
struct Parsed {
    template: HbTemplate,
    /// The placeholders in order, up to the first construct that is not one of the three forms.
    placeholders: Vec<Placeholder>,
    /// Whether such a construct follows them: the string is refused, after the checks of the
    /// placeholders before it (so the first fault in the string is the one reported).
    unsupported: bool,
}

/// A template that cannot be used for any context.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template is not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("template is not a JSON object")]
    NotAnObject,
    #[error("template says it is for `{found}`, but it is stored as the template of `{expected}`")]
    WrongType { expected: String, found: String },
    #[error("`x-rcfge.{field}` must be true or false")]
    NotAFlag { field: &'static str },
    #[error("placeholder in {text:?} at {pointer} does not parse: {reason}")]
    Syntax { pointer: String, text: String, reason: String },
    #[error(
        "placeholder in {text:?} at {pointer} is not supported: use {{{{name}}}}, {{{{name.field}}}}, {{{{json name}}}} or, in a pattern, {{{{any name}}}}"
    )]
    Unsupported { pointer: String, text: String },
    #[error("placeholder {{{{json {name}}}}} at {pointer} cannot be used inside a regular expression")]
    JsonInPattern { pointer: String, name: String },
    #[error(
        "placeholder {{{{any {name}}}}} at {pointer} is only for regular expressions (`pattern`, `patternProperties`)"
    )]
    AnyOutsidePattern { pointer: String, name: String },
    #[error(
        "placeholder in the keyword {text:?} at {pointer}: only property names, pattern keys and values may use placeholders"
    )]
    PlaceholderInKeyword { pointer: String, text: String },
    #[error("two keys of the object at {pointer} are both `{key}`")]
    DuplicateKey { pointer: String, key: String },
}

/// A template that cannot be rendered for this context.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("unknown placeholder `{name}`: it is neither a built-in variable nor an organisation variable")]
    UnknownVariable { name: String },
    #[error("{} no value in this context", describe_missing(.names))]
    NoValue { names: Vec<String> },
    #[error(
        "placeholder `{path}` at {pointer} is a list or an object: use it as {{{{json {path}}}}}, alone in its string"
    )]
    NotScalar { pointer: String, path: String },
    #[error("placeholder {{{{any {path}}}}} at {pointer} needs a non-empty list of strings")]
    NotAList { pointer: String, path: String },
    #[error("placeholder `{path}` at {pointer} does not exist in the variable's value")]
    MissingField { pointer: String, path: String },
    #[error("placeholder at {pointer} could not be rendered: {reason}")]
    Handlebars { pointer: String, reason: String },
    #[error("rendering made two keys of the object at {pointer} both `{key}`")]
    DuplicateKey { pointer: String, key: String },
}

impl Template {
    /// Parses and checks a template file for `type_name`.
    pub fn parse(type_name: &str, version: &str, body: &[u8]) -> Result<Self, TemplateError> {
        let document = crate::json::from_slice(body).map_err(TemplateError::Json)?;
        let object = document.as_object().ok_or(TemplateError::NotAnObject)?;
        let declared_type = object.get("typeName").and_then(Value::as_str).map(str::to_owned);
        let flag = |field: &'static str| match object.get("x-rcfge").and_then(|meta| meta.get(field)) {
            None => Ok(false),
            Some(Value::Bool(set)) => Ok(*set),
            Some(_) => Err(TemplateError::NotAFlag { field }),
        };
        let deny_delete = flag("denyDelete")?;
        let guard_rules = flag("guardRules")?;
        let mut variables = BTreeSet::new();
        let mut parsed = HashMap::new();
        let mut scan = |site: &Site<'_>| -> Result<Option<Value>, TemplateError> {
            if let Some(found) = analyse(site, &parsed)? {
                variables.extend(found.placeholders.iter().map(|p| p.root().to_owned()));
                parsed.entry(site.text.to_owned()).or_insert(found);
            }
            Ok(None)
        };
        walk(&document, Position::Schema, &mut Vec::new(), &mut scan)?;
        let template = Template {
            type_name: type_name.to_owned(),
            version: version.to_owned(),
            deny_delete,
            guard_rules,
            declared_type,
            document,
            variables,
            parsed,
        };
        template.check_type(type_name)?;
        Ok(template)
    }

    /// Checks, on every use, that the template is for the type asked about: file names are
    /// case-insensitive, type names are not.
    pub fn check_type(&self, type_name: &str) -> Result<(), TemplateError> {
        match &self.declared_type {
            Some(found) if found != type_name => {
                Err(TemplateError::WrongType { expected: type_name.to_owned(), found: found.clone() })
            }
            _ => Ok(()),
        }
    }

    /// The root names of every variable the template uses.
    pub fn variables(&self) -> &BTreeSet<String> {
        &self.variables
    }

    /// The template as written, placeholders and all.
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// Checks that every variable the template uses has a value, and returns the values that
    /// matter: two contexts with the same key render the same schema.
    pub fn variable_key(&self, vars: &Map<String, Value>) -> Result<String, RenderError> {
        // The names and values in the template's order, written as one JSON list: no copy of
        // the values, no map (this runs for every resource judged).
        let mut used: Vec<(&str, &Value)> = Vec::with_capacity(self.variables.len());
        let mut missing = Vec::new();
        for name in &self.variables {
            match vars.get(name) {
                Some(Value::Null) => missing.push(name.clone()),
                None if is_builtin_variable(name) => missing.push(name.clone()),
                None => return Err(RenderError::UnknownVariable { name: name.clone() }),
                Some(value) => used.push((name, value)),
            }
        }
        if !missing.is_empty() {
            return Err(RenderError::NoValue { names: missing });
        }
        serde_json::to_string(&used)
            .map_err(|e| RenderError::Handlebars { pointer: "/".to_owned(), reason: e.to_string() })
    }

    /// Renders the template into a JSON Schema with these variables.
    pub fn render(&self, vars: &Map<String, Value>) -> Result<Value, RenderError> {
        self.variable_key(vars)?;
        let context = HbContext::from(Value::Object(vars.clone()));
        let data = context.data();
        let mut fill = |site: &Site<'_>| -> Result<Option<Value>, RenderFault> {
            let Some(found) = analyse(site, &self.parsed)? else {
                return Ok(None);
            };
            let placeholders = &found.placeholders;
            if let [Placeholder::Json(path)] = placeholders.as_slice()
                && site.whole_json_call
                && !site.is_key
            {
                return lookup(data, path, site).map(|v| Some(v.clone())).map_err(Into::into);
            }
            for placeholder in placeholders {
                match placeholder {
                    Placeholder::Var(path) => {
                        let value = lookup(data, path, site)?;
                        if value.is_array() || value.is_object() {
                            return Err(RenderError::NotScalar { pointer: site.pointer(), path: path.join(".") }.into());
                        }
                    }
                    Placeholder::Any(path) => {
                        let strings = lookup(data, path, site)?
                            .as_array()
                            .filter(|items| !items.is_empty() && items.iter().all(Value::is_string));
                        if strings.is_none() {
                            return Err(RenderError::NotAList { pointer: site.pointer(), path: path.join(".") }.into());
                        }
                    }
                    Placeholder::Json(_) => {}
                }
            }
            let registry = if site.is_pattern { &*PATTERN_REGISTRY } else { &*PLAIN_REGISTRY };
            let mut rendered = StringOutput::new();
            found
                .template
                .render(registry, &context, &mut RenderContext::new(None), &mut rendered)
                .map_err(|e| RenderError::Handlebars { pointer: site.pointer(), reason: e.to_string() })?;
            let rendered = rendered
                .into_string()
                .map_err(|e| RenderError::Handlebars { pointer: site.pointer(), reason: e.to_string() })?;
            Ok(Some(Value::String(rendered)))
        };
        walk(&self.document, Position::Schema, &mut Vec::new(), &mut fill).map_err(|fault| match fault {
            RenderFault::Render(e) => e,
            // Parsing already accepted every placeholder; keep the reason if that ever changes.
            RenderFault::Template(e) => RenderError::Handlebars { pointer: "/".to_owned(), reason: e.to_string() },
        })
    }
}

/// Either fault can arise while rendering: the walk reuses the parse-time checks.
enum RenderFault {
    Template(TemplateError),
    Render(RenderError),
}

impl From<TemplateError> for RenderFault {
    fn from(e: TemplateError) -> Self {
        RenderFault::Template(e)
    }
}

impl From<RenderError> for RenderFault {
    fn from(e: RenderError) -> Self {
        RenderFault::Render(e)
    }
}

/// Two keys of one object that are (or became) the same: a value must never overwrite a
/// sibling rule.
struct KeyCollision {
    pointer: String,
    key: String,
}

impl From<KeyCollision> for TemplateError {
    fn from(c: KeyCollision) -> Self {
        TemplateError::DuplicateKey { pointer: c.pointer, key: c.key }
    }
}

impl From<KeyCollision> for RenderFault {
    fn from(c: KeyCollision) -> Self {
        RenderFault::Render(RenderError::DuplicateKey { pointer: c.pointer, key: c.key })
    }
}

/// One use of a variable inside a string.
#[derive(Debug)]
enum Placeholder {
    /// `{{a.b}}`: the path's segments.
    Var(Vec<String>),
    /// `{{json a.b}}`
    Json(Vec<String>),
    /// `{{any a.b}}`, in a pattern: the list's strings as an alternation.
    Any(Vec<String>),
}

impl Placeholder {
    fn root(&self) -> &str {
        let (Placeholder::Var(path) | Placeholder::Json(path) | Placeholder::Any(path)) = self;
        path.first().map_or("", String::as_str)
    }
}

/// A string in the template: a leaf value or an object key.
struct Site<'a> {
    text: &'a str,
    path: &'a [String],
    /// The string is a regular expression (`pattern`, a `patternProperties` key).
    is_pattern: bool,
    is_key: bool,
    /// A key in a schema object: a JSON Schema keyword, never rendered.
    is_keyword: bool,
    /// Set by `analyse`'s caller: the whole string is one `{{json …}}`.
    whole_json_call: bool,
}

impl Site<'_> {
    fn pointer(&self) -> String {
        pointer_of(self.path)
    }
}

/// The placeholders in a string, or `None` when it has none: taken from `parsed` (every string
/// of a template is parsed when it is read) or parsed now, then checked for where it is.
fn analyse(site: &Site<'_>, parsed: &HashMap<String, Arc<Parsed>>) -> Result<Option<Arc<Parsed>>, TemplateError> {
    if !site.text.contains("{{") {
        return Ok(None);
    }
    if site.is_keyword {
        return Err(TemplateError::PlaceholderInKeyword { pointer: site.pointer(), text: site.text.to_owned() });
    }
    let found = match parsed.get(site.text) {
        Some(found) => found.clone(),
        None => Arc::new(parse_placeholders(site)?),
    };
    for placeholder in &found.placeholders {
        match placeholder {
            Placeholder::Json(path) if site.is_pattern => {
                return Err(TemplateError::JsonInPattern { pointer: site.pointer(), name: path.join(".") });
            }
            Placeholder::Any(path) if !site.is_pattern => {
                return Err(TemplateError::AnyOutsidePattern { pointer: site.pointer(), name: path.join(".") });
            }
            _ => {}
        }
    }
    if found.unsupported {
        return Err(TemplateError::Unsupported { pointer: site.pointer(), text: site.text.to_owned() });
    }
    Ok(Some(found))
}

/// Parses a string's placeholders, up to the first handlebars construct that is not one of
/// the three forms.
fn parse_placeholders(site: &Site<'_>) -> Result<Parsed, TemplateError> {
    let parsed = HbTemplate::compile(site.text).map_err(|e| TemplateError::Syntax {
        pointer: site.pointer(),
        text: site.text.to_owned(),
        reason: e.to_string(),
    })?;
    let mut placeholders = Vec::new();
    let mut unsupported = false;
    for element in &parsed.elements {
        let placeholder = match element {
            TemplateElement::RawString(_) | TemplateElement::Comment(_) => continue,
            TemplateElement::Expression(helper) if !helper.block && helper.hash.is_empty() => {
                match (&helper.name, helper.params.as_slice()) {
                    (Parameter::Path(path), []) => named_path(path).map(Placeholder::Var),
                    (Parameter::Name(name), [Parameter::Path(path)]) if name == "json" => {
                        named_path(path).map(Placeholder::Json)
                    }
                    (Parameter::Name(name), [Parameter::Path(path)]) if name == "any" => {
                        named_path(path).map(Placeholder::Any)
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        match placeholder {
            Some(placeholder) => placeholders.push(placeholder),
            None => {
                unsupported = true;
                break;
            }
        }
    }
    Ok(Parsed { template: parsed, placeholders, unsupported })
}

/// The segments of a plain `a.b.c` path; `None` for `this`, `../a`, `@root` and the like.
fn named_path(path: &handlebars::Path) -> Option<Vec<String>> {
    let handlebars::Path::Relative((segments, _)) = path else {
        return None;
    };
    let names: Option<Vec<String>> = segments
        .iter()
        .map(|s| match s {
            handlebars::PathSeg::Named(name) if name != "this" => Some(name.clone()),
            _ => None,
        })
        .collect();
    names.filter(|n| !n.is_empty())
}

/// The value at `path` in the variables; the root is known to exist (`variable_key` ran).
fn lookup<'v>(data: &'v Value, path: &[String], site: &Site<'_>) -> Result<&'v Value, RenderError> {
    let missing = || RenderError::MissingField { pointer: site.pointer(), path: path.join(".") };
    let mut value = data;
    for segment in path {
        value = match value {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        }
        .ok_or_else(missing)?;
    }
    if value.is_null() {
        return Err(RenderError::NoValue { names: vec![path.join(".")] });
    }
    Ok(value)
}

/// "placeholder `a` has" / "placeholders `a`, `b` have".
fn describe_missing(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [one] => format!("placeholder {one} has"),
        _ => format!("placeholders {} have", quoted.join(", ")),
    }
}

/// What a JSON node is, seen as part of a JSON Schema.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Position {
    /// A schema: its keys are keywords.
    Schema,
    /// A map from names to schemas (`properties`, `definitions`).
    SchemaMap,
    /// `patternProperties`: a map from regular expressions to schemas.
    PatternMap,
    /// Plain data (`enum`, `const`, `default`, `examples`): no keyword has meaning here.
    Data,
    /// Prose for readers (`description`, `title`, `$comment`): never rendered, so provider
    /// text such as "{{ }}" in a description is kept as written, not read as a placeholder.
    Annotation,
}

/// Where a keyword's value sits.
fn position_of(keyword: &str) -> Position {
    match keyword {
        "properties" | "definitions" | "dependencies" => Position::SchemaMap,
        "patternProperties" => Position::PatternMap,
        "enum" | "const" | "default" | "examples" => Position::Data,
        "description" | "title" | "$comment" => Position::Annotation,
        _ => Position::Schema,
    }
}

/// Copies `value`, letting `visit` replace any string leaf or object key. `x-rcfge` metadata
/// is copied as it is.
fn walk<E: From<KeyCollision>>(
    value: &Value,
    position: Position,
    path: &mut Vec<String>,
    visit: &mut impl FnMut(&Site<'_>) -> Result<Option<Value>, E>,
) -> Result<Value, E> {
    match value {
        Value::String(text) => {
            let is_pattern = position == Position::Schema && path.last().is_some_and(|k| k == "pattern");
            let site = Site {
                text,
                path,
                is_pattern,
                is_key: false,
                is_keyword: false,
                whole_json_call: is_whole_json_call(text),
            };
            Ok(visit(&site)?.unwrap_or_else(|| value.clone()))
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                out.push(walk(item, position, path, visit)?);
                path.pop();
            }
            Ok(Value::Array(out))
        }
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, child) in map {
                path.push(key.clone());
                let key_site = Site {
                    text: key,
                    path,
                    is_pattern: position == Position::PatternMap,
                    is_key: true,
                    is_keyword: position == Position::Schema,
                    whole_json_call: false,
                };
                let new_key = match visit(&key_site)? {
                    Some(Value::String(k)) => k,
                    _ => key.clone(),
                };
                let child_position = match position {
                    Position::Schema if key == "x-rcfge" => None,
                    Position::Schema if position_of(key) == Position::Annotation => None,
                    Position::Schema => Some(position_of(key)),
                    Position::SchemaMap | Position::PatternMap => Some(Position::Schema),
                    Position::Data => Some(Position::Data),
                    Position::Annotation => None,
                };
                let new_child = match child_position {
                    Some(p) => walk(child, p, path, visit)?,
                    None => child.clone(),
                };
                path.pop();
                if out.contains_key(&new_key) {
                    return Err(KeyCollision { pointer: pointer_of(path), key: new_key }.into());
                }
                out.insert(new_key, new_child);
            }
            Ok(Value::Object(out))
        }
        _ => Ok(value.clone()),
    }
}

fn is_whole_json_call(text: &str) -> bool {
    let inner = text.trim().strip_prefix("{{").and_then(|t| t.strip_suffix("}}"));
    inner.is_some_and(|t| t.trim_start().starts_with("json ") && !t.contains("{{") && !t.contains("}}"))
}

/// A JSON pointer (RFC 6901) for a path of keys and indexes.
pub fn pointer_of(path: &[String]) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    path.iter().map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1"))).collect()
}

static PLAIN_REGISTRY: LazyLock<Handlebars<'static>> = LazyLock::new(|| {
    let mut registry = registry_with(handlebars::no_escape);
    registry.register_helper("json", value_helper("json", json_text));
    registry
});

static PATTERN_REGISTRY: LazyLock<Handlebars<'static>> = LazyLock::new(|| {
    let mut registry = registry_with(|text: &str| fancy_regex::escape(text).into_owned());
    registry.register_helper("any", value_helper("any", alternation));
    registry
});

/// A strict registry with none of handlebars' built-in helpers: the three placeholder forms
/// are all a template may use.
fn registry_with(escape: impl Fn(&str) -> String + Send + Sync + 'static) -> Handlebars<'static> {
    let mut registry = Handlebars::new();
    registry.set_strict_mode(true);
    registry.register_escape_fn(escape);
    for builtin in [
        "if", "unless", "each", "with", "lookup", "raw", "log", "eq", "ne", "gt", "gte", "lt", "lte", "and", "or",
        "not", "len",
    ] {
        registry.unregister_helper(builtin);
    }
    registry
}

/// A helper that writes its one argument's value as `write` words it.
fn value_helper(name: &'static str, write: fn(&Value) -> String) -> Box<dyn HelperDef + Send + Sync> {
    Box::new(
        move |helper: &Helper<'_>,
              _: &Handlebars<'_>,
              _: &HbContext,
              _: &mut RenderContext<'_, '_>,
              out: &mut dyn Output|
              -> HelperResult {
            let value =
                helper.param(0).ok_or_else(|| handlebars::RenderErrorReason::ParamNotFoundForIndex(name, 0))?.value();
            out.write(&write(value))?;
            Ok(())
        },
    )
}

/// `{{json name}}` inside a longer string: the value's JSON text.
fn json_text(value: &Value) -> String {
    value.to_string()
}

/// `{{any name}}` in a pattern: `(?:a|b)`, every string regex-escaped (`render` checked that
/// the value is a non-empty list of strings).
fn alternation(value: &Value) -> String {
    let escaped: Vec<String> = value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|s| fancy_regex::escape(s).into_owned())
        .collect();
    format!("(?:{})", escaped.join("|"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn template(doc: Value) -> Result<Template, TemplateError> {
        Template::parse("AWS::S3::Bucket", "v1", doc.to_string().as_bytes())
    }

    fn vars(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn renders_string_leaves_and_keys() {
        let t = template(json!({
            "properties": {"Topic": {"type": "string", "const": "in {{accountId}}/{{region}}"}},
            "definitions": {"{{region}}Thing": {"type": "string"}}
        }))
        .unwrap();
        assert_eq!(t.variables().iter().collect::<Vec<_>>(), ["accountId", "region"]);
        let out = t.render(&vars(json!({"accountId": "111122223333", "region": "eu-west-1"}))).unwrap();
        assert_eq!(out["properties"]["Topic"]["const"], "in 111122223333/eu-west-1");
        assert!(out["definitions"]["eu-west-1Thing"].is_object());
    }

    #[test]
    fn values_in_patterns_are_regex_escaped() {
        let t = template(json!({
            "properties": {"Topic": {"type": "string", "pattern": "^arn:{{partition}}:sns:[a-z0-9-]+:{{accountId}}:.+$"}},
            "patternProperties": {"^{{stackName}}$": {"type": "string"}}
        }))
        .unwrap();
        let out = t.render(&vars(json!({"partition": "aws", "accountId": "1.1|(2)", "stackName": "a.b"}))).unwrap();
        assert_eq!(out["properties"]["Topic"]["pattern"], r"^arn:aws:sns:[a-z0-9-]+:1\.1\|\(2\):.+$");
        assert!(out["patternProperties"][r"^a\.b$"].is_object());
    }

    #[test]
    fn a_value_cannot_change_the_structure() {
        let t = template(json!({"const": "{{accountId}}"})).unwrap();
        let out = t.render(&vars(json!({"accountId": "\", \"additionalProperties\": true, \"x\": \""}))).unwrap();
        assert_eq!(out.as_object().unwrap().len(), 1);
        assert!(out["const"].as_str().unwrap().contains("additionalProperties"));
    }

    #[test]
    fn data_named_pattern_is_not_a_regex() {
        let t = template(
            json!({"const": {"pattern": "{{accountId}}"}, "properties": {"pattern": {"enum": ["{{accountId}}"]}}}),
        )
        .unwrap();
        let out = t.render(&vars(json!({"accountId": "a.b"}))).unwrap();
        assert_eq!(out["const"]["pattern"], "a.b");
        assert_eq!(out["properties"]["pattern"]["enum"][0], "a.b");
    }

    #[test]
    fn whole_json_placeholder_becomes_the_value() {
        let t = template(
            json!({"properties": {"Key": {"enum": "{{json approvedKeys}}", "const": "one of {{json approvedKeys}}"}}}),
        )
        .unwrap();
        let out = t.render(&vars(json!({"approvedKeys": ["k1", "k2"]}))).unwrap();
        assert_eq!(out["properties"]["Key"]["enum"], json!(["k1", "k2"]));
        assert_eq!(out["properties"]["Key"]["const"], r#"one of ["k1","k2"]"#);
    }

    #[test]
    fn nested_variable_fields() {
        let t = template(json!({"const": "{{org.ou}}-{{org.ids.[1]}}"})).unwrap();
        assert_eq!(t.variables().iter().collect::<Vec<_>>(), ["org"]);
        let out = t.render(&vars(json!({"org": {"ou": "ou-1", "ids": ["a", "b"]}}))).unwrap();
        assert_eq!(out["const"], "ou-1-b");
        let err = template(json!({"const": "{{org.nope}}"})).unwrap().render(&vars(json!({"org": {}}))).unwrap_err();
        assert!(matches!(err, RenderError::MissingField { .. }), "{err}");
    }

    #[test]
    fn unknown_and_missing_variables_are_errors() {
        let t = template(json!({"const": "{{accountId}} {{nonsense}}"})).unwrap();
        let err = t.render(&vars(json!({"accountId": "1"}))).unwrap_err();
        assert!(matches!(&err, RenderError::UnknownVariable { name } if name == "nonsense"), "{err}");
        let err = t.render(&vars(json!({"nonsense": "1"}))).unwrap_err();
        assert!(matches!(&err, RenderError::NoValue { names } if names == &["accountId"]), "{err}");
        let err = t.render(&vars(json!({"accountId": null, "nonsense": "x"}))).unwrap_err();
        assert!(matches!(&err, RenderError::NoValue { names } if names == &["accountId"]), "{err}");
        let both = template(json!({"const": "{{accountId}} {{region}}"})).unwrap();
        let err = both.render(&Map::new()).unwrap_err();
        assert_eq!(err.to_string(), "placeholders `accountId`, `region` have no value in this context");
    }

    #[test]
    fn any_is_an_alternation_of_escaped_strings_in_patterns_only() {
        let t = template(json!({"pattern": "^https://{{any buckets}}\\.s3\\.amazonaws\\.com/"})).unwrap();
        let out = t.render(&vars(json!({"buckets": ["org-a", "org.b|(c)"]}))).unwrap();
        assert_eq!(out["pattern"], json!("^https://(?:org-a|org\\.b\\|\\(c\\))\\.s3\\.amazonaws\\.com/"));
        let re = fancy_regex::Regex::new(out["pattern"].as_str().unwrap()).unwrap();
        assert!(re.is_match("https://org.b|(c).s3.amazonaws.com/x").unwrap());
        assert!(!re.is_match("https://orgxb.s3.amazonaws.com/x").unwrap());
        assert!(!re.is_match("https://evil.s3.amazonaws.com/x").unwrap());
        for bad in [json!([]), json!("org-a"), json!([1]), json!({"a": "b"})] {
            let err = t.render(&vars(json!({ "buckets": bad }))).unwrap_err();
            assert!(matches!(err, RenderError::NotAList { .. }), "{err}");
        }
        let err = template(json!({"const": "{{any buckets}}"})).unwrap_err();
        assert!(matches!(err, TemplateError::AnyOutsidePattern { .. }), "{err}");
    }

    #[test]
    fn lists_need_the_json_form() {
        let t = template(json!({"const": "{{keys}}"})).unwrap();
        assert!(matches!(t.render(&vars(json!({"keys": ["a"]}))), Err(RenderError::NotScalar { .. })));
    }

    #[test]
    fn unsupported_constructs_are_refused_at_parse_time() {
        for text in [
            "{{#if accountId}}x{{/if}}",
            "{{{accountId}}}",
            "{{> partial}}",
            "{{lookup a b}}",
            "{{this}}",
            "{{../a}}",
            "{{a b=c}}",
            "{{json}}x{{json a b}}",
        ] {
            let err = template(json!({"const": text})).unwrap_err();
            assert!(matches!(err, TemplateError::Unsupported { .. }), "{text}: {err}");
        }
        let err = template(json!({"const": "{{accountId"})).unwrap_err();
        assert!(matches!(err, TemplateError::Syntax { .. }), "{err}");
        let err = template(json!({"pattern": "^{{json ids}}$"})).unwrap_err();
        assert!(matches!(err, TemplateError::JsonInPattern { .. }), "{err}");
        // The first fault in a string is the one reported, whatever comes after it.
        let err = template(json!({"pattern": "^{{json a}}{{../b}}$"})).unwrap_err();
        assert!(matches!(err, TemplateError::JsonInPattern { .. }), "{err}");
        let err = template(json!({"pattern": "^{{../b}}{{json a}}$"})).unwrap_err();
        assert!(matches!(err, TemplateError::Unsupported { .. }), "{err}");
        // A string seen before at an allowed place is still checked where it is now.
        let err = template(json!({"properties": {"A": {"const": "{{json a}}"}, "B": {"pattern": "{{json a}}"}}}))
            .unwrap_err();
        assert!(matches!(err, TemplateError::JsonInPattern { .. }), "{err}");
    }

    #[test]
    fn escaped_braces_stay_literal() {
        let t = template(json!({"pattern": r"^\{{resolve:.*}}$"})).unwrap();
        assert!(t.variables().is_empty());
        assert_eq!(t.render(&Map::new()).unwrap()["pattern"], "^{{resolve:.*}}$");
    }

    #[test]
    fn file_level_checks() {
        assert!(matches!(Template::parse("AWS::S3::Bucket", "v", b"{"), Err(TemplateError::Json(_))));
        assert!(matches!(Template::parse("AWS::S3::Bucket", "v", b"[]"), Err(TemplateError::NotAnObject)));
        assert!(matches!(Template::parse("AWS::S3::Bucket", "v", br#"{"a":1,"a":2}"#), Err(TemplateError::Json(_))));
        assert!(matches!(template(json!({"typeName": "AWS::SNS::Topic"})), Err(TemplateError::WrongType { .. })));
        assert!(matches!(
            template(json!({"x-rcfge": {"denyDelete": "yes"}})),
            Err(TemplateError::NotAFlag { field: "denyDelete" })
        ));
        assert!(template(json!({"x-rcfge": {"denyDelete": true}})).unwrap().deny_delete);
    }

    #[test]
    fn a_value_cannot_overwrite_a_sibling_key() {
        let t = template(json!({"properties": {"Safe": {"const": "x"}, "{{logicalResourceId}}": {}}})).unwrap();
        let err = t.render(&vars(json!({"logicalResourceId": "Safe"}))).unwrap_err();
        assert!(matches!(err, RenderError::DuplicateKey { .. }), "{err}");
        assert!(t.render(&vars(json!({"logicalResourceId": "Other"}))).is_ok());
    }

    #[test]
    fn keywords_take_no_placeholders() {
        let err = template(json!({"properties": {"A": {"{{keyword}}": 3}}})).unwrap_err();
        assert!(matches!(err, TemplateError::PlaceholderInKeyword { .. }), "{err}");
    }

    #[test]
    fn annotations_are_not_rendered() {
        // Provider schemas use `{{` in prose (ECS task definitions, Logs query definitions).
        let t = template(json!({
            "description": "Use {{resolve:ssm:/a}} or {{ anything }}",
            "properties": {"description": {"type": "string", "title": "{{#if}}", "$comment": "{{x"}}
        }))
        .unwrap();
        assert!(t.variables().is_empty());
        let out = t.render(&Map::new()).unwrap();
        assert_eq!(out["description"], "Use {{resolve:ssm:/a}} or {{ anything }}");
        assert_eq!(out["properties"]["description"]["title"], "{{#if}}");
        // A property named `description` is a property, not prose: its schema is rendered.
        let t = template(json!({"properties": {"description": {"const": "{{accountId}}"}}})).unwrap();
        assert_eq!(t.variables().iter().collect::<Vec<_>>(), ["accountId"]);
    }

    #[test]
    fn metadata_is_not_rendered() {
        let t = template(json!({"x-rcfge": {"rationale": "uses {{whatever}}"}})).unwrap();
        assert!(t.variables().is_empty());
        assert_eq!(t.render(&Map::new()).unwrap()["x-rcfge"]["rationale"], "uses {{whatever}}");
    }
}
