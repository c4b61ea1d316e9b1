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
struct Walk {
    expanded: Vec<usize>,
    visited: Vec<usize>,
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
///
/// The schema is read once, into one [`Node`] per subschema, which name the subschemas they
/// apply by index: finding the schemas that apply at a location is then a walk over a few
/// indexes, where reading the schema's JSON at every location of every resource was a fifth
/// of validating a large template.
pub struct Normalizer {
    /// Every subschema reachable from the root; the root is the first.
    nodes: Vec<Node>,
    /// `patternProperties` keys, compiled. A key fancy-regex cannot compile is left out: the
    /// values under it are then judged as written (stricter, never looser).
    patterns: Vec<Regex>,
}

/// What normalising reads of one subschema.
#[derive(Default)]
struct Node {
    /// Applies at its location but says nothing normalising reads (`true`, `false`).
    opaque: bool,
    /// Draft 7: a `$ref` replaces its siblings. `Some(None)` when it does not resolve to a
    /// location in the schema, which then adds nothing.
    reference: Option<Option<usize>>,
    /// The subschemas that apply to the same value, in a fixed order: `allOf`, `anyOf` and
    /// `oneOf` branches, then `if`, `then`, `else`, `not`, then `dependencies`.
    applies: Vec<usize>,
    /// The types this schema allows, from `type`, or else from `enum` and `const`.
    types: Types,
    /// [`NORMALIZE_KEYWORD`].
    declared: Option<Value>,
    /// `properties`, sorted by name.
    properties: Vec<(String, usize)>,
    /// `patternProperties`: the index of the compiled pattern (none when it does not compile)
    /// and the subschema.
    pattern_properties: Vec<(Option<usize>, usize)>,
    additional_properties: Option<usize>,
    items: Items,
    additional_items: Option<usize>,
    contains: Option<usize>,
}

#[derive(Default)]
enum Items {
    #[default]
    None,
    /// One schema for every item.
    Every(usize),
    /// A schema per position (draft 7's tuple form).
    Tuple(Vec<usize>),
}

impl Normalizer {
    /// Prepares normalisation for `schema`.
    pub fn new(schema: &Value) -> Self {
        let mut builder = Builder {
            root: schema,
            nodes: Vec::new(),
            ids: HashMap::new(),
            unread: Vec::new(),
            patterns: Vec::new(),
            pattern_ids: HashMap::new(),
        };
        builder.node(schema);
        // A work list, not recursion: a schema nested however deep cannot overflow the stack.
        while let Some((id, schema)) = builder.unread.pop() {
            builder.nodes[id] = builder.read(schema);
        }
        Normalizer { nodes: builder.nodes, patterns: builder.patterns }
    }

    /// Converts, in place, every scalar of `instance` that the schema expects in another type.
    ///
    /// A location whose schemas expand past the budget, or a value nested deeper than
    /// [`MAX_DEPTH`], is an error rather than a partial answer: with `not` in a schema, leaving
    /// a string unconverted can make a value pass that its converted form would fail.
    pub fn normalize(&self, instance: &mut Value) -> Result<(), NormalizeError> {
        let mut walk = Walk { expanded: Vec::new(), visited: Vec::new() };
        self.visit(&[ROOT], instance, 0, &mut walk)
    }

    fn visit(
        &self,
        schemas: &[usize],
        instance: &mut Value,
        depth: usize,
        walk: &mut Walk,
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
        for &schema in schemas {
            self.expand(schema, &mut walk.expanded, &mut walk.visited, &mut budget);
        }
        if budget == 0 {
            return Err(NormalizeError::TooManySchemas { pointer: String::new() });
        }
        let facets: Vec<&Node> = walk.expanded.iter().map(|&id| &self.nodes[id]).collect();
        let types = facets.iter().fold(Types::default(), |types, facet| Types(types.0 | facet.types.0));
        coerce(types, instance).map_err(|reason| NormalizeError::NotADocument { pointer: String::new(), reason })?;
        for declared in facets.iter().filter_map(|facet| facet.declared.as_ref()) {
            apply_declared(declared, instance);
        }
        let mut children = Vec::new();
        match instance {
            Value::Object(map) => {
                for (key, child) in map.iter_mut() {
                    self.property_schemas(&facets, key, &mut children);
                    self.visit(&children, child, depth + 1, walk)
                        .map_err(|error| error.within(&crate::json::pointer_segment(key)))?;
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter_mut().enumerate() {
                    item_schemas(&facets, index, &mut children);
                    self.visit(&children, child, depth + 1, walk).map_err(|error| error.within(&index.to_string()))?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Adds `schema` and every schema it stands for (`$ref` targets, `allOf`/`anyOf`/`oneOf`
    /// branches, `if`/`then`/`else`/`not`, `dependencies`) to `out`, each once. Every step
    /// spends the budget, which reaching zero makes the location an error.
    fn expand(&self, schema: usize, out: &mut Vec<usize>, visited: &mut Vec<usize>, budget: &mut usize) {
        // A schema reached twice (a shared definition, a reference cycle) adds nothing new.
        if visited.contains(&schema) || *budget == 0 {
            return;
        }
        *budget -= 1;
        visited.push(schema);
        let node = &self.nodes[schema];
        if node.opaque {
            return;
        }
        if let Some(target) = node.reference {
            if let Some(target) = target {
                self.expand(target, out, visited, budget);
            }
            return;
        }
        out.push(schema);
        for &sub in &node.applies {
            self.expand(sub, out, visited, budget);
        }
    }

    /// The schemas that apply to property `key` of an object, into `out`.
    fn property_schemas(&self, facets: &[&Node], key: &str, out: &mut Vec<usize>) {
        out.clear();
        for facet in facets {
            let mut matched = false;
            if let Ok(at) = facet.properties.binary_search_by(|(name, _)| name.as_str().cmp(key)) {
                out.push(facet.properties[at].1);
                matched = true;
            }
            for &(pattern, sub) in &facet.pattern_properties {
                let is_match = pattern.is_some_and(|at| self.patterns[at].is_match(key).unwrap_or(false));
                if is_match {
                    out.push(sub);
                    matched = true;
                }
            }
            if !matched && let Some(sub) = facet.additional_properties {
                out.push(sub);
            }
        }
    }
}

/// The root schema's index in [`Normalizer::nodes`].
const ROOT: usize = 0;

/// The schemas that apply to item `index` of an array, into `out`.
fn item_schemas(facets: &[&Node], index: usize, out: &mut Vec<usize>) {
    out.clear();
    for facet in facets {
        match &facet.items {
            Items::Every(sub) => out.push(*sub),
            Items::Tuple(tuple) => match tuple.get(index) {
                Some(sub) => out.push(*sub),
                None => out.extend(facet.additional_items),
            },
            Items::None => {}
        }
        out.extend(facet.contains);
    }
}

/// Reads a schema into [`Node`]s, each subschema once (a `$ref` target is the subschema it
/// points at, so references to it share its node, and cycles end).
struct Builder<'s> {
    root: &'s Value,
    nodes: Vec<Node>,
    /// The node of each subschema read so far, by address: identity, as the walk over the
    /// schema's JSON reaches it, is what makes two references one schema.
    ids: HashMap<*const Value, usize>,
    /// Subschemas given a node but not yet read.
    unread: Vec<(usize, &'s Value)>,
    patterns: Vec<Regex>,
    pattern_ids: HashMap<&'s str, Option<usize>>,
}

impl<'s> Builder<'s> {
    /// The node of `schema`, read later if it is new.
    fn node(&mut self, schema: &'s Value) -> usize {
        if let Some(&id) = self.ids.get(&std::ptr::from_ref(schema)) {
            return id;
        }
        let id = self.nodes.len();
        self.nodes.push(Node::default());
        self.ids.insert(std::ptr::from_ref(schema), id);
        self.unread.push((id, schema));
        id
    }

    fn read(&mut self, schema: &'s Value) -> Node {
        let Value::Object(object) = schema else { return Node { opaque: true, ..Node::default() } };
        if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
            let target = match reference {
                "#" => Some(self.root),
                _ => reference.strip_prefix('#').filter(|p| !p.is_empty()).and_then(|p| self.root.pointer(p)),
            };
            return Node { reference: Some(target.map(|target| self.node(target))), ..Node::default() };
        }
        let mut node = Node::default();
        // One pass over the keywords, then the subschemas that apply to the same value in a
        // fixed order, whatever the template's.
        let mut combinators: [Option<&'s Vec<Value>>; 3] = [None; 3];
        let mut conditionals: [Option<&'s Value>; 4] = [None; 4];
        let mut dependencies = None;
        let (mut types, mut enumeration, mut constant) = (None, None, None);
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
                ("type", _) => types = Some(sub),
                ("enum", Value::Array(values)) => enumeration = Some(values),
                ("const", _) => constant = Some(sub),
                ("properties", Value::Object(map)) => {
                    node.properties = map.iter().map(|(name, sub)| (name.clone(), self.node(sub))).collect();
                    node.properties.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                }
                ("patternProperties", Value::Object(map)) => {
                    node.pattern_properties =
                        map.iter().map(|(pattern, sub)| (self.pattern(pattern), self.node(sub))).collect();
                }
                ("additionalProperties", Value::Object(_)) => node.additional_properties = Some(self.node(sub)),
                ("items", Value::Object(_)) => node.items = Items::Every(self.node(sub)),
                ("items", Value::Array(tuple)) => {
                    node.items = Items::Tuple(tuple.iter().map(|sub| self.node(sub)).collect());
                }
                ("additionalItems", Value::Object(_)) => node.additional_items = Some(self.node(sub)),
                ("contains", Value::Object(_)) => node.contains = Some(self.node(sub)),
                (NORMALIZE_KEYWORD, _) => node.declared = Some(sub.clone()),
                _ => {}
            }
        }
        node.types = allowed_types(types, enumeration, constant);
        let dependencies = dependencies.into_iter().flat_map(|map| map.values()).filter(|d| d.is_object());
        let applies: Vec<&'s Value> = combinators
            .into_iter()
            .flatten()
            .flatten()
            .chain(conditionals.into_iter().flatten())
            .chain(dependencies)
            .collect();
        node.applies = applies.into_iter().map(|sub| self.node(sub)).collect();
        node
    }

    fn pattern(&mut self, pattern: &'s str) -> Option<usize> {
        if let Some(&id) = self.pattern_ids.get(pattern) {
            return id;
        }
        let compiled = RegexBuilder::new(pattern).backtrack_limit(REGEX_BACKTRACK_LIMIT).build().ok();
        let id = compiled.map(|re| {
            self.patterns.push(re);
            self.patterns.len() - 1
        });
        self.pattern_ids.insert(pattern, id);
        id
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

/// The types one schema allows: those its `type` names, or else those of its `enum` and
/// `const` values.
fn allowed_types(types: Option<&Value>, enumeration: Option<&Vec<Value>>, constant: Option<&Value>) -> Types {
    let mut allowed = Types::default();
    match types {
        Some(Value::String(name)) => allowed.add_name(name),
        Some(Value::Array(names)) => {
            names.iter().filter_map(Value::as_str).for_each(|n| allowed.add_name(n));
            // Exactly these two: a list of every type is free-form data, not a document.
            let named = |name: &str| names.iter().any(|n| n.as_str() == Some(name));
            if names.len() == 2 && named("object") && named("string") {
                allowed.0 |= Types::DOCUMENT;
            }
        }
        _ => {
            enumeration.into_iter().flatten().for_each(|v| allowed.add_value(v));
            if let Some(value) = constant {
                allowed.add_value(value);
            }
        }
    }
    allowed
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn normalized(schema: Value, instance: Value) -> Value {
        let mut instance = instance;
        Normalizer::new(&schema).normalize(&mut instance).unwrap();
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
        let error = Normalizer::new(&schema).normalize(&mut instance).unwrap_err();
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
    fn a_schema_nested_past_the_budget_is_read_and_its_locations_refused() {
        // Read with a work list: nesting this deep in the schema cannot overflow the stack.
        let mut deep = json!({"type": "boolean"});
        for _ in 0..600 {
            deep = json!({"allOf": [deep]});
        }
        let schema = json!({"properties": {"On": deep}});
        let normalizer = Normalizer::new(&schema);
        let error = normalizer.normalize(&mut json!({"On": "true"})).unwrap_err();
        assert!(matches!(&error, NormalizeError::TooManySchemas { pointer } if pointer == "/On"), "{error:?}");
        assert_eq!(normalized(schema, json!({"Other": "true"})), json!({"Other": "true"}));
    }

    #[test]
    fn a_reference_however_deep_in_the_schema_is_followed() {
        // Rendered templates can nest deeper than a template file may: a reference left
        // unfollowed there would leave "true" a string, which passes `not: {const: true}`.
        let mut deep = json!({"$ref": "#/definitions/NotTrue"});
        for _ in 0..70 {
            deep = json!({"allOf": [deep]});
        }
        let schema = json!({"definitions": {"NotTrue": {"not": {"const": true}}}, "properties": {"P": deep}});
        assert_eq!(normalized(schema, json!({"P": "true"})), json!({"P": true}));
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
