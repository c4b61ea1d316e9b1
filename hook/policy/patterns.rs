//! Patterns the regex engine cannot run, as provider schemas write them.
//!
//! Provider schemas are written for Java's and ECMA-262's regex dialects; fancy-regex (the
//! engine that runs every `pattern` with a backtracking limit, so that no value can stall a
//! decision) accepts nearly all of them once jsonschema has translated them. For the rest:
//!
//! 1. A few Java constructs are rewritten into their equivalent (`\Z`, end of input; a class
//!    escape as a range end, `[\w-.]`, is a literal `-`).
//! 2. A pattern that still cannot be run is never dropped: the `pattern` keyword is replaced
//!    by [`UNRUNNABLE_PATTERN`], which refuses every string at that place with a message that
//!    says why. The rest of the schema is judged as usual, and `rcfge templates lint` reports
//!    the pattern so that a reviewed template never ships one.
//!
//! The `regress` crate runs ECMA-262 exactly, but it has no backtracking limit: a hostile value
//! could hold a decision past its time budget. Refusing a handful of properties is the safer
//! trade.

use serde_json::{Map, Value};

/// The keyword that stands in for a `pattern` rcfge cannot run: it refuses every string.
pub const UNRUNNABLE_PATTERN: &str = "x-rcfge-unrunnable-pattern";

/// Notes the `patternProperties` keys rcfge cannot run, removed from their (now closed) map.
pub const UNRUNNABLE_PATTERN_PROPERTIES: &str = "x-rcfge-unrunnable-pattern-properties";

/// Rewrites every `pattern` of a schema that uses a Java construct into its equivalent, before
/// the schema is compiled: `\Z` compiles, but as ECMA-262's literal `Z`, which would refuse
/// the values the provider means to allow and allow some it means to refuse.
pub(crate) fn prepare(schema: &mut Value) {
    prepare_node(schema, 0);
}

fn prepare_node(node: &mut Value, depth: usize) {
    if depth > 256 {
        return;
    }
    match node {
        Value::Object(map) => {
            if let Some(Value::String(pattern)) = map.get_mut("pattern")
                && let Some(rewritten) = rewrite(pattern)
            {
                *pattern = rewritten;
            }
            if let Some(Value::Object(keys)) = map.get_mut("patternProperties")
                && keys.keys().any(|k| rewrite(k).is_some())
            {
                let old = std::mem::take(keys);
                for (key, schema) in old {
                    // A rewritten key equal to another key would overwrite it; keep the
                    // original then (it is set aside if it cannot run).
                    match rewrite(&key).filter(|new| !keys.contains_key(new)) {
                        Some(new) => keys.insert(new, schema),
                        None => keys.insert(key, schema),
                    };
                }
            }
            for (key, child) in map.iter_mut() {
                // Data and metadata hold no schemas.
                if !matches!(key.as_str(), "enum" | "const" | "default" | "examples" | "x-rcfge") {
                    prepare_node(child, depth + 1);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| prepare_node(item, depth + 1)),
        _ => {}
    }
}

/// Sets aside every pattern under the schema node at `location` (where compiling failed) that
/// the engine cannot run: a `pattern` is replaced by [`UNRUNNABLE_PATTERN`]; a
/// `patternProperties` key is removed, its map closed (`additionalProperties: false`, so that
/// the names it would have matched are refused rather than let through unchecked) and noted
/// under [`UNRUNNABLE_PATTERN_PROPERTIES`]. Returns whether anything was set aside; when not,
/// the schema is refused as it is.
pub(crate) fn set_aside(schema: &mut Value, location: &str, runs: impl Fn(&str) -> bool + Copy) -> bool {
    let at =
        location.strip_suffix("/pattern").or_else(|| location.strip_suffix("/patternProperties")).unwrap_or(location);
    let at = if at == "/" { "" } else { at };
    match schema.pointer_mut(at) {
        Some(node) => set_aside_under(node, runs, 0),
        None => false,
    }
}

fn set_aside_under(node: &mut Value, runs: impl Fn(&str) -> bool + Copy, depth: usize) -> bool {
    if depth > 256 {
        return false;
    }
    let mut changed = false;
    match node {
        Value::Object(map) => {
            if let Some(Value::String(pattern)) = map.get("pattern")
                && !runs(pattern)
            {
                let pattern = pattern.clone();
                map.remove("pattern");
                map.insert(UNRUNNABLE_PATTERN.to_owned(), Value::String(pattern));
                changed = true;
            }
            if let Some(Value::Object(keys)) = map.get_mut("patternProperties") {
                let unrunnable: Vec<String> = keys.keys().filter(|k| !runs(k)).cloned().collect();
                if !unrunnable.is_empty() {
                    unrunnable.iter().for_each(|k| {
                        keys.remove(k);
                    });
                    map.insert("additionalProperties".to_owned(), Value::Bool(false));
                    map.insert(UNRUNNABLE_PATTERN_PROPERTIES.to_owned(), Value::from(unrunnable));
                    changed = true;
                }
            }
            for (key, child) in map.iter_mut() {
                if !matches!(key.as_str(), "enum" | "const" | "default" | "examples" | "x-rcfge") {
                    changed |= set_aside_under(child, runs, depth + 1);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                changed |= set_aside_under(item, runs, depth + 1);
            }
        }
        _ => {}
    }
    changed
}

/// Where a pattern was set aside under `not`, `if` or `oneOf` (directly or through a `$ref`):
/// there, refusing every string can let a value through (`not` inverts it, `if` takes the
/// other branch, `oneOf` may then find exactly one match). The schema is refused as a whole
/// then. `None` when every set-aside pattern only ever makes the schema stricter.
pub(crate) fn set_aside_where_it_could_loosen(schema: &Value) -> Option<String> {
    let mut seen = Vec::new();
    loosening(schema, schema, false, &mut String::new(), &mut seen, 0)
}

fn loosening(
    root: &Value,
    node: &Value,
    inverted: bool,
    at: &mut String,
    seen: &mut Vec<(String, bool)>,
    depth: usize,
) -> Option<String> {
    if depth > 256 {
        // Deeper than the walk can judge: assume the worst.
        return Some(at.clone());
    }
    let Value::Object(map) = node else { return None };
    let set_aside = map.contains_key(UNRUNNABLE_PATTERN) || map.contains_key(UNRUNNABLE_PATTERN_PROPERTIES);
    if set_aside && inverted {
        return Some(at.clone());
    }
    if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
        let key = (reference.to_owned(), inverted);
        if !seen.contains(&key) {
            seen.push(key);
            if let Some(target) = reference.strip_prefix('#').and_then(|p| root.pointer(p)) {
                let mut there = reference.trim_start_matches('#').to_owned();
                if let Some(found) = loosening(root, target, inverted, &mut there, seen, depth + 1) {
                    return Some(found);
                }
            }
        }
    }
    // Every subschema by keyword; names in `properties` and the like are never keywords, and
    // `definitions` counts only where a `$ref` uses it (above).
    let mut subschemas: Vec<(String, &Value, bool)> = Vec::new();
    for (keyword, value) in map {
        let segment = crate::json::pointer_segment(keyword);
        match (keyword.as_str(), value) {
            ("properties" | "patternProperties" | "dependencies", Value::Object(named)) => {
                for (name, sub) in named {
                    subschemas.push((format!("/{segment}/{}", crate::json::pointer_segment(name)), sub, inverted));
                }
            }
            ("allOf" | "anyOf" | "items", Value::Array(list)) => {
                for (i, sub) in list.iter().enumerate() {
                    subschemas.push((format!("/{segment}/{i}"), sub, inverted));
                }
            }
            ("oneOf", Value::Array(list)) => {
                for (i, sub) in list.iter().enumerate() {
                    subschemas.push((format!("/{segment}/{i}"), sub, true));
                }
            }
            ("not" | "if", sub) => subschemas.push((format!("/{segment}"), sub, true)),
            (
                "then" | "else" | "items" | "additionalItems" | "additionalProperties" | "contains" | "propertyNames",
                sub,
            ) => subschemas.push((format!("/{segment}"), sub, inverted)),
            _ => {}
        }
    }
    for (segment, sub, below) in subschemas {
        let len = at.len();
        at.push_str(&segment);
        let found = loosening(root, sub, below, at, seen, depth + 1);
        at.truncate(len);
        if found.is_some() {
            return found;
        }
    }
    None
}

/// The same pattern in the form ECMA-262 reads as Java does, when a known rewrite applies:
/// `\A` and `\Z` (start and end of input) become `^` and `$`; a leading `(?s)` (dot matches
/// line breaks) becomes `[\s\S]` for every `.`; a `-` after a class escape in a class is a
/// literal.
fn rewrite(pattern: &str) -> Option<String> {
    let (dot_all, pattern) = match pattern.strip_prefix("(?s)") {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    let mut changed = dot_all;
    // Whether the previous item in a class was a class escape (`\w`, `\d`, `\s`, ...).
    let mut after_class_escape = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    out.push(c);
                    break;
                };
                if matches!(next, 'A' | 'Z') && !in_class {
                    // Java: start and end of input; ECMA has neither escape.
                    out.push(if next == 'A' { '^' } else { '$' });
                    changed = true;
                    after_class_escape = false;
                    continue;
                }
                out.push(c);
                out.push(next);
                after_class_escape = in_class && matches!(next, 'w' | 'W' | 'd' | 'D' | 's' | 'S');
            }
            '-' if in_class && after_class_escape && chars.peek().is_some_and(|n| *n != ']') => {
                // `[\w-.]`: Java and ECMA read the `-` after a class escape as a literal.
                out.push_str("\\-");
                changed = true;
                after_class_escape = false;
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push_str("\\]");
                    chars.next();
                    changed = true;
                }
                after_class_escape = false;
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '.' if dot_all && !in_class => out.push_str("[\\s\\S]"),
            _ => {
                out.push(c);
                after_class_escape = false;
            }
        }
    }
    changed.then_some(out)
}

/// The patterns a compiled schema could not run, by location, for lint.
pub(crate) fn unrunnable(schema: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    collect(schema, &mut String::new(), &mut found, 0);
    found
}

fn collect(value: &Value, at: &mut String, found: &mut Vec<(String, String)>, depth: usize) {
    if depth > 256 {
        return;
    }
    match value {
        Value::Object(map) => {
            if let Some(Value::String(pattern)) = map.get(UNRUNNABLE_PATTERN) {
                found.push((format!("{at}/pattern"), pattern.clone()));
            }
            for key in map.get(UNRUNNABLE_PATTERN_PROPERTIES).and_then(Value::as_array).into_iter().flatten() {
                found.push((format!("{at}/patternProperties"), key.as_str().unwrap_or_default().to_owned()));
            }
            for (key, child) in map {
                let len = at.len();
                at.push('/');
                at.push_str(&crate::json::pointer_segment(key));
                collect(child, at, found, depth + 1);
                at.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let len = at.len();
                at.push_str(&format!("/{i}"));
                collect(child, at, found, depth + 1);
                at.truncate(len);
            }
        }
        _ => {}
    }
}

/// The message for a value refused because its pattern cannot be run.
pub(crate) fn refusal(type_name: &str, label: &str, pattern: &str) -> (String, String) {
    (
        format!(
            "{label} cannot be checked: the {type_name} schema restricts it with the pattern {pattern:?}, \
             which uses regular-expression syntax rcfge cannot run, so every value is refused"
        ),
        format!(
            "Leave {label} out, or ask the security team for a reviewed {type_name} template that restricts it \
             with a pattern rcfge can run"
        ),
    )
}

/// The schema's `x-rcfge-unrunnable-pattern` keyword, for the validator.
pub(crate) struct Unrunnable {
    message: String,
}

impl Unrunnable {
    pub(crate) fn factory<'a>(
        _parent: &'a Map<String, Value>,
        value: &'a Value,
        _path: jsonschema::paths::Location,
    ) -> Result<Box<dyn for<'i> jsonschema::Keyword<'i>>, jsonschema::ValidationError<'a>> {
        let pattern = value.as_str().unwrap_or_default();
        Ok(Box::new(Unrunnable { message: pattern.to_owned() }))
    }
}

impl<'i> jsonschema::Keyword<'i> for Unrunnable {
    fn validate(&self, instance: &'i Value) -> Result<(), jsonschema::ValidationError<'i>> {
        if instance.is_string() { Err(jsonschema::ValidationError::custom(self.message.clone())) } else { Ok(()) }
    }

    fn is_valid(&self, instance: &'i Value) -> bool {
        !instance.is_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_constructs_are_rewritten() {
        assert_eq!(rewrite(r"^(sg-)([a-z0-9]+)\Z").as_deref(), Some(r"^(sg-)([a-z0-9]+)$"));
        assert_eq!(rewrite(r"^[\w-.]+$").as_deref(), Some(r"^[\w\-.]+$"));
        assert_eq!(rewrite(r"^[\w-]+$"), None, "a trailing `-` is already a literal");
        assert_eq!(rewrite(r"^[a-z]+$"), None);
        assert_eq!(rewrite(r"^[\Z]$"), None, "inside a class it is not an anchor");
        assert_eq!(rewrite(r"\A[0-9]+$").as_deref(), Some(r"^[0-9]+$"));
        assert_eq!(rewrite(r"(?s).+\.[.]").as_deref(), Some(r"[\s\S]+\.[.]"));
    }
}
