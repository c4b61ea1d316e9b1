//! CloudFormation scalar semantics: `"true"` and `true`, `"10"` and `10` are the same value.
//!
//! Hooks receive booleans and numbers as strings (change sets always do), and templates may
//! write either form. Before validation every scalar is converted to the type the schema
//! expects at its location, when the conversion is exact: `"true"`/`"false"` (any case) to a
//! boolean, an integer or decimal string to a number, a number or boolean to its string form.
//! Anything else (`"yes"`, `"1e999"`, digits beyond 64 bits) is left as it is, and the
//! validator refuses it. A stringified `"false"` can therefore neither slip past a rule that
//! requires `true` nor be refused where `false` is allowed.
//!
//! A template may also say how the service reads a value, with the keyword
//! [`NORMALIZE_KEYWORD`] beside the restriction it helps: `"lowercase"` where the service
//! ignores case (`Engine: MySQL` is `mysql`), `{"map": {"6": "tcp"}}` where it takes other
//! names for the same thing (protocol numbers), `"list"` where it reads a single item as a
//! list of one (an IAM policy's `Statement` written as one object), or a list of them, applied
//! in order after the scalar conversion. The value is then judged, by the schema and the Guard rules, in the form
//! the template's restrictions are written in. `rcfge templates lint` checks the restrictions
//! written beside the keyword (and under its combinators and `not`); a restriction elsewhere
//! that compares the same value (a `$ref`'d definition, another branch, a Guard rule) must be
//! written in the canonical form too, and the template's review checks it: a deny-list in
//! another case would never match again.

use std::collections::HashMap;

use fancy_regex::{Regex, RegexBuilder};
use serde_json::{Number, Value};

/// The template keyword that declares how the service reads a value (see the module docs).
pub const NORMALIZE_KEYWORD: &str = "x-rcfge-normalize";

/// Backtracking steps a `pattern` may take on one value before the match is refused. Provider
/// patterns are ECMA-262 and need fancy-regex's backtracking; the limit keeps a hostile value
/// from stalling the hook.
pub(crate) const REGEX_BACKTRACK_LIMIT: usize = 10_000;

/// Nesting depth beyond which a value is not normalised: the resource is refused.
const MAX_DEPTH: usize = 128;

/// How many `$ref`s and combinators one location may expand; guards against reference cycles.
const EXPANSION_BUDGET: usize = 256;

/// Why a resource's properties could not be normalised. Each one fails closed.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    #[error("the schemas that apply at {pointer:?} expand into more than {EXPANSION_BUDGET} subschemas")]
    TooManySchemas { pointer: String },
    #[error("the value at {pointer:?} is nested more than {MAX_DEPTH} levels deep")]
    TooDeep { pointer: String },
    #[error(
        "the value at {pointer:?} is a document written as a string, as CloudFormation allows, but it is not a JSON document: {reason}"
    )]
    NotADocument { pointer: String, reason: String },
}

/// Buffers reused from one location to the next (each location's expansion is finished before
/// its children are visited).
struct Walk<'s> {
    expanded: Vec<&'s Value>,
    visited: Vec<&'s Value>,
}

impl NormalizeError {
    /// The error, one level up: `segment` is the key or index it was found under.
    fn within(self, segment: &str) -> Self {
        match self {
            NormalizeError::TooManySchemas { pointer } => {
                NormalizeError::TooManySchemas { pointer: format!("/{segment}{pointer}") }
            }
            NormalizeError::TooDeep { pointer } => NormalizeError::TooDeep { pointer: format!("/{segment}{pointer}") },
            NormalizeError::NotADocument { pointer, reason } => {
                NormalizeError::NotADocument { pointer: format!("/{segment}{pointer}"), reason }
            }
        }
    }
}

/// Converts scalars to the types a schema expects. Built once per compiled policy.
pub struct Normalizer {
    /// `patternProperties` keys, compiled. A key fancy-regex cannot compile is left out: the
    /// values under it are then judged as written (stricter, never looser).
    pattern_keys: HashMap<String, Regex>,
    /// The target of every local `$ref` (`#/definitions/...`), resolved once: walking a JSON
    /// pointer on every use was most of the time normalising a large resource took.
    references: HashMap<String, Value>,
}

impl Normalizer {
    /// Prepares normalisation for `schema`.
    pub fn new(schema: &Value) -> Self {
        let mut pattern_keys = HashMap::new();
        collect_pattern_keys(schema, &mut pattern_keys, 0);
        let mut references = HashMap::new();
        collect_references(schema, schema, &mut references, 0);
        Normalizer { pattern_keys, references }
    }

    /// Converts, in place, every scalar of `instance` that the schema expects in another type.
    ///
    /// A location whose schemas expand past the budget, or a value nested deeper than
    /// [`MAX_DEPTH`], is an error rather than a partial answer: with `not` in a schema, leaving
    /// a string unconverted can make a value pass that its converted form would fail.
    pub fn normalize(&self, schema: &Value, instance: &mut Value) -> Result<(), NormalizeError> {
        let mut walk = Walk { expanded: Vec::new(), visited: Vec::new() };
        self.visit(schema, vec![schema], instance, 0, &mut walk)
    }

    fn visit<'s>(
        &'s self,
        root: &'s Value,
        schemas: Vec<&'s Value>,
        instance: &mut Value,
        depth: usize,
        walk: &mut Walk<'s>,
    ) -> Result<(), NormalizeError> {
        if schemas.is_empty() {
            return Ok(());
        }
        if depth > MAX_DEPTH {
            return Err(NormalizeError::TooDeep { pointer: String::new() });
        }
        walk.expanded.clear();
        walk.visited.clear();
        let mut budget = EXPANSION_BUDGET;
        for schema in schemas {
            self.expand(root, schema, &mut walk.expanded, &mut walk.visited, &mut budget);
        }
        if budget == 0 {
            return Err(NormalizeError::TooManySchemas { pointer: String::new() });
        }
        let facets: Vec<Facets<'s>> = walk.expanded.iter().copied().map(Facets::of).collect();
        coerce(allowed_types(&facets), instance)
            .map_err(|reason| NormalizeError::NotADocument { pointer: String::new(), reason })?;
        for declared in facets.iter().filter_map(|facet| facet.normalize) {
            apply_declared(declared, instance);
        }
        match instance {
            Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    let child_schemas = self.property_schemas(&facets, key);
                    self.visit(root, child_schemas, child, depth + 1, walk)
                        .map_err(|error| error.within(&crate::json::pointer_segment(key)))?;
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter_mut().enumerate() {
                    self.visit(root, item_schemas(&facets, index), child, depth + 1, walk)
                        .map_err(|error| error.within(&index.to_string()))?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Adds `schema` and every schema it stands for (`$ref` targets, `allOf`/`anyOf`/`oneOf`
    /// branches, `if`/`then`/`else`/`not`, `dependencies`) to `out`, each once. Every step
    /// spends the budget, which reaching zero makes the location an error.
    fn expand<'s>(
        &'s self,
        root: &'s Value,
        schema: &'s Value,
        out: &mut Vec<&'s Value>,
        visited: &mut Vec<&'s Value>,
        budget: &mut usize,
    ) {
        // A schema reached twice (a shared definition, a reference cycle) adds nothing new.
        if visited.iter().any(|seen| std::ptr::eq(*seen, schema)) {
            return;
        }
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        visited.push(schema);
        let Value::Object(object) = schema else { return };
        if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
            // Draft 7: a `$ref` replaces its siblings.
            if let Some(target) = self.resolve_local(root, reference) {
                self.expand(root, target, out, visited, budget);
            }
            return;
        }
        out.push(schema);
        // One pass over the keywords (a lookup per keyword hashed every name of every schema
        // on every visit), then the subschemas in a fixed order, whatever the template's.
        let mut combinators: [Option<&'s Vec<Value>>; 3] = [None; 3];
        let mut conditionals: [Option<&'s Value>; 4] = [None; 4];
        let mut dependencies = None;
        for (keyword, sub) in object {
            match (keyword.as_str(), sub) {
                ("allOf", Value::Array(branches)) => combinators[0] = Some(branches),
                ("anyOf", Value::Array(branches)) => combinators[1] = Some(branches),
                ("oneOf", Value::Array(branches)) => combinators[2] = Some(branches),
                // Conditional and negated subschemas also say what type a value is meant to
                // have; taking their types too can only leave more strings as strings
                // (refused), never fewer.
                ("if", _) => conditionals[0] = Some(sub),
                ("then", _) => conditionals[1] = Some(sub),
                ("else", _) => conditionals[2] = Some(sub),
                ("not", _) => conditionals[3] = Some(sub),
                ("dependencies", Value::Object(map)) => dependencies = Some(map),
                _ => {}
            }
        }
        for branch in combinators.into_iter().flatten().flatten() {
            self.expand(root, branch, out, visited, budget);
        }
        for sub in conditionals.into_iter().flatten() {
            self.expand(root, sub, out, visited, budget);
        }
        for sub in dependencies.into_iter().flat_map(|map| map.values()).filter(|d| d.is_object()) {
            self.expand(root, sub, out, visited, budget);
        }
    }

    fn resolve_local<'s>(&'s self, root: &'s Value, reference: &str) -> Option<&'s Value> {
        if reference == "#" { Some(root) } else { self.references.get(reference) }
    }

    /// The schemas that apply to property `key` of an object.
    fn property_schemas<'s>(&self, facets: &[Facets<'s>], key: &str) -> Vec<&'s Value> {
        let mut out = Vec::new();
        for facet in facets {
            let mut matched = false;
            if let Some(sub) = facet.properties.and_then(|p| p.get(key)) {
                out.push(sub);
                matched = true;
            }
            for (pattern, sub) in facet.pattern_properties.into_iter().flatten() {
                let is_match = self.pattern_keys.get(pattern).is_some_and(|re| re.is_match(key).unwrap_or(false));
                if is_match {
                    out.push(sub);
                    matched = true;
                }
            }
            if !matched && let Some(sub) = facet.additional_properties {
                out.push(sub);
            }
        }
        out
    }
}

/// The schemas that apply to item `index` of an array.
fn item_schemas<'s>(facets: &[Facets<'s>], index: usize) -> Vec<&'s Value> {
    let mut out = Vec::new();
    for facet in facets {
        match facet.items {
            Some(sub @ Value::Object(_)) => out.push(sub),
            Some(Value::Array(tuple)) => match tuple.get(index) {
                Some(sub) => out.push(sub),
                None => out.extend(facet.additional_items),
            },
            _ => {}
        }
        out.extend(facet.contains);
    }
    out
}

/// The keywords of one schema that normalising reads, found in one pass over its keys: a
/// lookup per keyword hashed every name of every schema at every location.
#[derive(Default)]
struct Facets<'s> {
    types: Option<&'s Value>,
    enumeration: Option<&'s Vec<Value>>,
    constant: Option<&'s Value>,
    properties: Option<&'s serde_json::Map<String, Value>>,
    pattern_properties: Option<&'s serde_json::Map<String, Value>>,
    additional_properties: Option<&'s Value>,
    items: Option<&'s Value>,
    additional_items: Option<&'s Value>,
    contains: Option<&'s Value>,
    /// [`NORMALIZE_KEYWORD`].
    normalize: Option<&'s Value>,
}

impl<'s> Facets<'s> {
    fn of(schema: &'s Value) -> Self {
        let mut facets = Facets::default();
        let Value::Object(object) = schema else { return facets };
        for (keyword, value) in object {
            match (keyword.as_str(), value) {
                ("type", _) => facets.types = Some(value),
                ("enum", Value::Array(values)) => facets.enumeration = Some(values),
                ("const", _) => facets.constant = Some(value),
                ("properties", Value::Object(map)) => facets.properties = Some(map),
                ("patternProperties", Value::Object(map)) => facets.pattern_properties = Some(map),
                ("additionalProperties", Value::Object(_)) => facets.additional_properties = Some(value),
                ("items", _) => facets.items = Some(value),
                ("additionalItems", Value::Object(_)) => facets.additional_items = Some(value),
                ("contains", Value::Object(_)) => facets.contains = Some(value),
                (NORMALIZE_KEYWORD, _) => facets.normalize = Some(value),
                _ => {}
            }
        }
        facets
    }
}

/// Applies a template's declared normalisation; a declaration it does not know (which
/// `templates lint` and `publish` refuse) leaves the value as written, so the template's
/// restrictions judge it as it is.
fn apply_declared(declared: &Value, instance: &mut Value) {
    match declared {
        Value::Array(steps) => steps.iter().for_each(|step| apply_step(step, instance)),
        step => apply_step(step, instance),
    }
}

/// One step of a declared normalisation: `"list"` on any value, `"lowercase"` or
/// `{"map": {...}}` on a string.
fn apply_step(step: &Value, instance: &mut Value) {
    if step.as_str() == Some("list") {
        // The item is judged where the list's items are, as the service reads it. `null` is no
        // item: left as written, the schema refuses it.
        if !instance.is_array() && !instance.is_null() {
            *instance = Value::Array(vec![instance.take()]);
        }
        return;
    }
    let Value::String(text) = instance else { return };
    match step {
        // ASCII only, as the services compare: a Unicode mapping (the Kelvin sign to `k`) could
        // turn a value the service refuses into one the template approves.
        Value::String(name) if name == "lowercase" && text.bytes().any(|b| b.is_ascii_uppercase()) => {
            text.make_ascii_lowercase();
        }
        Value::Object(step) => {
            if let Some(Value::String(canonical)) = step.get("map").and_then(|map| map.get(text.as_str())) {
                *text = canonical.clone();
            }
        }
        _ => {}
    }
}

/// The JSON types the schemas allow, as a bit set.
#[derive(Clone, Copy, Default)]
struct Types(u8);

impl Types {
    const STRING: u8 = 1;
    const BOOLEAN: u8 = 2;
    const INTEGER: u8 = 4;
    const NUMBER: u8 = 8;
    const OTHER: u8 = 16;
    const OBJECT: u8 = 32;
    const ARRAY: u8 = 64;
    /// One schema allows exactly an object or its JSON text (`"type": ["object", "string"]`),
    /// as provider schemas type policy documents.
    const DOCUMENT: u8 = 128;

    fn add_name(&mut self, name: &str) {
        self.0 |= match name {
            "string" => Self::STRING,
            "boolean" => Self::BOOLEAN,
            "integer" => Self::INTEGER,
            "number" => Self::NUMBER,
            "object" => Self::OBJECT,
            "array" => Self::ARRAY,
            _ => Self::OTHER,
        };
    }

    fn add_value(&mut self, value: &Value) {
        self.0 |= match value {
            Value::String(_) => Self::STRING,
            Value::Bool(_) => Self::BOOLEAN,
            Value::Number(n) if n.is_f64() => Self::NUMBER,
            Value::Number(_) => Self::INTEGER,
            Value::Object(_) => Self::OBJECT,
            Value::Array(_) => Self::ARRAY,
            Value::Null => Self::OTHER,
        };
    }

    fn has(self, bits: u8) -> bool {
        self.0 & bits != 0
    }
}

fn allowed_types(facets: &[Facets<'_>]) -> Types {
    let mut types = Types::default();
    for facet in facets {
        match facet.types {
            Some(Value::String(name)) => types.add_name(name),
            Some(Value::Array(names)) => {
                names.iter().filter_map(Value::as_str).for_each(|n| types.add_name(n));
                // Exactly these two: a list of every type is free-form data, not a document.
                let named = |name: &str| names.iter().any(|n| n.as_str() == Some(name));
                if names.len() == 2 && named("object") && named("string") {
                    types.0 |= Types::DOCUMENT;
                }
            }
            _ => {
                facet.enumeration.into_iter().flatten().for_each(|v| types.add_value(v));
                if let Some(value) = facet.constant {
                    types.add_value(value);
                }
            }
        }
    }
    types
}

/// Converts a scalar whose type the schema does not allow into one it does, when exact.
///
/// Where a schema allows a document both as an object and as a string, as
/// provider schemas type policy documents, CloudFormation reads the string as JSON: it is
/// judged as the document it stands for, and one that is not JSON is an error, never a string
/// that passes because strings are allowed.
fn coerce(types: Types, instance: &mut Value) -> Result<(), String> {
    let replacement = match instance {
        Value::String(text) if types.has(Types::DOCUMENT) => {
            let document: Value = crate::json::from_str(text).map_err(|e| e.to_string())?;
            if !document.is_object() {
                return Err(format!("it holds {}, not a JSON object", short(&document)));
            }
            Some(document)
        }
        Value::String(text) if !types.has(Types::STRING) => string_to_scalar(types, text),
        Value::Bool(b) if !types.has(Types::BOOLEAN) && types.has(Types::STRING) => Some(Value::String(b.to_string())),
        Value::Number(n) if !types.has(Types::INTEGER | Types::NUMBER) && types.has(Types::STRING) => {
            Some(Value::String(n.to_string()))
        }
        _ => None,
    };
    if let Some(value) = replacement {
        *instance = value;
    }
    Ok(())
}

/// A value's JSON, cut short for a message.
fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(40) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text,
    }
}

fn string_to_scalar(types: Types, text: &str) -> Option<Value> {
    if types.has(Types::BOOLEAN) {
        if text.eq_ignore_ascii_case("true") {
            return Some(Value::Bool(true));
        }
        if text.eq_ignore_ascii_case("false") {
            return Some(Value::Bool(false));
        }
    }
    if types.has(Types::INTEGER | Types::NUMBER)
        && let Some(integer) = parse_integer(text)
    {
        return Some(Value::Number(integer));
    }
    if types.has(Types::NUMBER) {
        return parse_decimal(text);
    }
    None
}

fn parse_integer(text: &str) -> Option<Number> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().map(Number::from).ok().or_else(|| text.parse::<u64>().map(Number::from).ok())
}

fn parse_decimal(text: &str) -> Option<Value> {
    let plain = text.bytes().any(|b| b.is_ascii_digit())
        && text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    if !plain {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    Number::from_f64(value).map(Value::Number)
}

fn collect_pattern_keys(schema: &Value, out: &mut HashMap<String, Regex>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match schema {
        Value::Object(object) => {
            if let Some(Value::Object(patterns)) = object.get("patternProperties") {
                for pattern in patterns.keys() {
                    let compiled = RegexBuilder::new(pattern).backtrack_limit(REGEX_BACKTRACK_LIMIT).build();
                    if let Ok(re) = compiled {
                        out.insert(pattern.clone(), re);
                    }
                }
            }
            object.values().for_each(|v| collect_pattern_keys(v, out, depth + 1));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_pattern_keys(v, out, depth + 1)),
        _ => {}
    }
}

/// Resolves every local `$ref` of `schema` against `root`, once.
fn collect_references(root: &Value, schema: &Value, out: &mut HashMap<String, Value>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    match schema {
        Value::Object(object) => {
            if let Some(reference) = object.get("$ref").and_then(Value::as_str)
                && let Some(pointer) = reference.strip_prefix('#').filter(|p| !p.is_empty())
                && !out.contains_key(reference)
                && let Some(target) = root.pointer(pointer)
            {
                out.insert(reference.to_owned(), target.clone());
            }
            object.values().for_each(|v| collect_references(root, v, out, depth + 1));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_references(root, v, out, depth + 1)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn normalized(schema: Value, instance: Value) -> Value {
        let mut instance = instance;
        Normalizer::new(&schema).normalize(&schema, &mut instance).unwrap();
        instance
    }

    #[test]
    fn a_declared_normalisation_reads_the_value_as_the_service_does() {
        let schema = json!({"type": "object", "properties": {
            "Engine": {"type": "string", "enum": ["mysql", "postgres"], "x-rcfge-normalize": "lowercase"},
            "IpProtocol": {"$ref": "#/definitions/Protocol"},
            "Name": {"type": "string"}
        }, "definitions": {"Protocol": {"type": "string", "enum": ["tcp", "udp", "-1"],
            "x-rcfge-normalize": ["lowercase", {"map": {"6": "tcp", "17": "udp"}}]}}});
        let out = normalized(schema.clone(), json!({"Engine": "MySQL", "IpProtocol": 6, "Name": "KeepMe"}));
        assert_eq!(out, json!({"Engine": "mysql", "IpProtocol": "tcp", "Name": "KeepMe"}));
        assert_eq!(normalized(schema.clone(), json!({"IpProtocol": "TCP"}))["IpProtocol"], "tcp");
        // Only ASCII letters change: the Kelvin sign is not `k` to a service.
        assert_eq!(normalized(schema.clone(), json!({"Engine": "MYSQ\u{212a}"}))["Engine"], "mysq\u{212a}");
        // What the map does not name stays as written, for the enum to refuse.
        assert_eq!(normalized(schema.clone(), json!({"IpProtocol": 50}))["IpProtocol"], "50");
        assert_eq!(normalized(schema, json!({"IpProtocol": "-1"}))["IpProtocol"], "-1");
        // A declaration rcfge does not know changes nothing (lint and publish refuse it).
        let unknown = json!({"type": "string", "x-rcfge-normalize": "uppercase"});
        assert_eq!(normalized(unknown, json!("MySQL")), json!("MySQL"));
    }

    #[test]
    fn a_single_item_is_read_as_a_list_of_one_and_then_normalised_as_an_item() {
        let schema = json!({"type": "object", "properties": {"Statement": {
            "type": "array", "x-rcfge-normalize": "list",
            "items": {"type": "object", "properties": {
                "Effect": {"type": "string"},
                "Action": {"type": "string", "x-rcfge-normalize": "lowercase"}}}}}});
        let out = normalized(schema.clone(), json!({"Statement": {"Effect": "Allow", "Action": "SNS:Publish"}}));
        assert_eq!(out, json!({"Statement": [{"Effect": "Allow", "Action": "sns:publish"}]}));
        let listed = json!({"Statement": [{"Effect": "Allow"}]});
        assert_eq!(normalized(schema.clone(), listed.clone()), listed);
        // `null` is no item: left for the schema to refuse.
        assert_eq!(normalized(schema, json!({"Statement": null})), json!({"Statement": null}));
    }

    #[test]
    fn a_location_with_too_many_schemas_is_an_error_not_a_partial_answer() {
        // Expanded in part, the `not` branch alone would say "integer", leave "true" a string,
        // and the string would pass `not: {const: true}`.
        let many: Vec<Value> = (0..300).map(|_| json!({"type": "integer"})).collect();
        let schema = json!({"properties": {"FifoQueue": {
            "not": {"allOf": many}, "allOf": [{"not": {"const": true}}]
        }}});
        let mut instance = json!({"FifoQueue": "true"});
        let error = Normalizer::new(&schema).normalize(&schema, &mut instance).unwrap_err();
        assert!(matches!(&error, NormalizeError::TooManySchemas { pointer } if pointer == "/FifoQueue"), "{error:?}");
    }

    #[test]
    fn shared_and_cyclic_references_expand_once() {
        let schema = json!({
            "definitions": {"Flag": {"type": "boolean"}, "Loop": {"allOf": [{"$ref": "#/definitions/Loop"}, {"$ref": "#/definitions/Flag"}]}},
            "properties": {"A": {"allOf": [{"$ref": "#/definitions/Loop"}, {"$ref": "#/definitions/Flag"}, {"$ref": "#/definitions/Flag"}]}}
        });
        assert_eq!(normalized(schema, json!({"A": "true"})), json!({"A": true}));
    }

    #[test]
    fn strings_become_the_expected_scalars() {
        let schema = json!({"properties": {
            "B": {"type": "boolean"}, "I": {"type": "integer"}, "N": {"type": "number"}, "S": {"type": "string"}
        }});
        let out = normalized(schema, json!({"B": "TRUE", "I": "-42", "N": "4.25", "S": 7}));
        assert_eq!(out, json!({"B": true, "I": -42, "N": 4.25, "S": "7"}));
    }

    #[test]
    fn inexact_strings_are_left_for_the_validator() {
        let schema =
            json!({"properties": {"B": {"type": "boolean"}, "I": {"type": "integer"}, "N": {"type": "number"}}});
        let out = normalized(schema, json!({"B": "yes", "I": "4.5", "N": "NaN"}));
        assert_eq!(out, json!({"B": "yes", "I": "4.5", "N": "NaN"}));
        let out = normalized(json!({"type": "integer"}), json!("99999999999999999999999"));
        assert_eq!(out, json!("99999999999999999999999"));
        let out = normalized(json!({"type": "number"}), json!("1e999"));
        assert_eq!(out, json!("1e999"));
    }

    #[test]
    fn strings_stay_strings_where_strings_are_allowed() {
        let out = normalized(json!({"type": ["string", "boolean"]}), json!("true"));
        assert_eq!(out, json!("true"));
    }

    #[test]
    fn follows_refs_items_and_combinators() {
        let schema = json!({
            "definitions": {"Block": {"properties": {"On": {"type": "boolean"}}}},
            "properties": {
                "Blocks": {"type": "array", "items": {"$ref": "#/definitions/Block"}},
                "Either": {"anyOf": [{"type": "integer"}, {"type": "boolean"}]},
                "Const": {"const": true},
                "Map": {"patternProperties": {"^n": {"type": "integer"}}, "additionalProperties": {"type": "boolean"}}
            }
        });
        let out = normalized(
            schema,
            json!({"Blocks": [{"On": "false"}], "Either": "10", "Const": "true", "Map": {"n1": "3", "x": "true"}}),
        );
        assert_eq!(out, json!({"Blocks": [{"On": false}], "Either": 10, "Const": true, "Map": {"n1": 3, "x": true}}));
    }

    #[test]
    fn negated_and_conditional_subschemas_type_the_value() {
        let schema = json!({"properties": {"Enc": {"not": {"const": false}}, "On": {"if": {"type": "boolean"}, "then": {"const": true}}}});
        assert_eq!(normalized(schema, json!({"Enc": "false", "On": "TRUE"})), json!({"Enc": false, "On": true}));
    }

    #[test]
    fn reference_cycles_terminate() {
        let schema = json!({"definitions": {"A": {"$ref": "#/definitions/B"}, "B": {"$ref": "#/definitions/A"}}, "$ref": "#/definitions/A"});
        assert_eq!(normalized(schema, json!({"x": "1"})), json!({"x": "1"}));
    }

    #[test]
    fn deep_values_do_not_overflow() {
        let schema = json!({"$ref": "#", "properties": {"a": {"$ref": "#"}}});
        let mut deep = json!("leaf");
        for _ in 0..100 {
            deep = json!({"a": deep});
        }
        let copy = deep.clone();
        assert_eq!(normalized(schema, deep), copy);
    }
}
