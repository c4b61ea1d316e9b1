//! The shape of a schema as property paths: `BucketName`,
//! `NotificationConfiguration.TopicConfigurations[].Topic`, `Tags[].Key`, `Labels.*`. Local
//! `$ref`s and combinator branches are followed; recursive definitions are followed once.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::json::pointer_segment;

/// Deeper than any real resource.
const MAX_DEPTH: usize = 24;

/// What a schema says about one property path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathInfo {
    /// JSON pointer to the (first) schema node that describes the path.
    pub pointer: String,
    /// The JSON types allowed there, when the schema says.
    pub types: BTreeSet<String>,
    /// The values are listed (`enum` or `const`) whenever the property is there (not only
    /// under an `if`).
    pub enumerated: bool,
}

/// Every property path of `schema`.
pub fn property_paths(schema: &Value) -> BTreeMap<String, PathInfo> {
    let mut walk = Walk { root: schema, refs: Vec::new(), out: BTreeMap::new() };
    walk.node(schema, "", "", 0, false);
    walk.out
}

/// A walk over a schema: the root (for `$ref`), the references being followed (to stop at
/// cycles), and the paths found.
struct Walk<'a> {
    root: &'a Value,
    refs: Vec<String>,
    out: BTreeMap<String, PathInfo>,
}

impl Walk<'_> {
    fn node(&mut self, node: &Value, path: &str, pointer: &str, depth: usize, conditional: bool) {
        let root = self.root;
        let Value::Object(object) = node else { return };
        if depth > MAX_DEPTH {
            return;
        }
        if !path.is_empty() {
            let info = self
                .out
                .entry(path.to_owned())
                .or_insert_with(|| PathInfo { pointer: pointer.to_owned(), ..PathInfo::default() });
            info.enumerated |= !conditional && (object.contains_key("enum") || object.contains_key("const"));
            match object.get("type") {
                Some(Value::String(t)) => {
                    info.types.insert(t.clone());
                }
                Some(Value::Array(types)) => {
                    info.types.extend(types.iter().filter_map(Value::as_str).map(str::to_owned))
                }
                _ => {}
            }
        }
        if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
            let target =
                reference.strip_prefix('#').and_then(|p| if p.is_empty() { Some(root) } else { root.pointer(p) });
            if let Some(target) = target
                && !self.refs.iter().any(|r| r == reference)
            {
                self.refs.push(reference.to_owned());
                self.node(target, path, &reference[1..], depth + 1, conditional);
                self.refs.pop();
            }
            return;
        }
        let mut child = |sub: &Value, child_path: String, child_pointer: String, conditional: bool| {
            self.node(sub, &child_path, &child_pointer, depth + 1, conditional);
        };
        if let Some(Value::Object(properties)) = object.get("properties") {
            // A property listed only to refuse it with advice (`{"allOf": [false],
            // "x-rcfge-remediation": ...}`) is not approved.
            for (name, sub) in properties.iter().filter(|(_, sub)| !refuses_every_value(sub)) {
                child(sub, join(path, name), format!("{pointer}/properties/{}", pointer_segment(name)), conditional);
            }
        }
        for (key, suffix) in [("patternProperties", ".*"), ("additionalProperties", ".*")] {
            match object.get(key) {
                Some(Value::Object(map)) if key == "patternProperties" => {
                    for (pattern, sub) in map {
                        child(
                            sub,
                            format!("{path}{suffix}"),
                            format!("{pointer}/{key}/{}", pointer_segment(pattern)),
                            conditional,
                        );
                    }
                }
                Some(sub @ Value::Object(_)) if key == "additionalProperties" => {
                    child(sub, format!("{path}{suffix}"), format!("{pointer}/{key}"), conditional);
                }
                _ => {}
            }
        }
        match object.get("items") {
            Some(sub @ Value::Object(_)) => child(sub, format!("{path}[]"), format!("{pointer}/items"), conditional),
            Some(Value::Array(tuple)) => {
                for (i, sub) in tuple.iter().enumerate() {
                    child(sub, format!("{path}[]"), format!("{pointer}/items/{i}"), conditional);
                }
            }
            _ => {}
        }
        for combinator in ["allOf", "anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = object.get(combinator) {
                for (i, sub) in branches.iter().enumerate() {
                    child(sub, path.to_owned(), format!("{pointer}/{combinator}/{i}"), conditional);
                }
            }
        }
        for branch in ["then", "else"] {
            if let Some(sub) = object.get(branch) {
                child(sub, path.to_owned(), format!("{pointer}/{branch}"), true);
            }
        }
    }
}

/// What `node` stands for: the target of its local `$ref` (followed through chains of them, as
/// draft 7 replaces a `$ref`'s siblings with its target), or the node itself. `None` for a
/// reference to nothing, or a chain longer than any template needs (a cycle).
pub fn resolve_refs<'a>(root: &'a Value, node: &'a Value) -> Option<&'a Value> {
    let mut node = node;
    for _ in 0..16 {
        match node.get("$ref").and_then(Value::as_str) {
            Some(reference) => node = root.pointer(reference.strip_prefix('#')?)?,
            None => return Some(node),
        }
    }
    None
}

/// A schema no value satisfies: `false`, or one whose `allOf` holds `false`.
fn refuses_every_value(schema: &Value) -> bool {
    match schema {
        Value::Bool(false) => true,
        Value::Object(object) => object
            .get("allOf")
            .and_then(Value::as_array)
            .is_some_and(|all| all.iter().any(|s| s == &Value::Bool(false))),
        _ => false,
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") }
}

/// A provider's `readOnlyProperties` pointer (`/properties/A/B`) as a property path (`A.B`).
pub(crate) fn path_of_property_pointer(pointer: &str) -> Option<String> {
    let rest = pointer.strip_prefix("/properties/")?;
    Some(rest.split('/').filter(|s| *s != "*").collect::<Vec<_>>().join("."))
}

/// `A.B[].C` → `A.B[]`, `A.B`, `A`.
pub(crate) fn ancestors(path: &str) -> impl Iterator<Item = String> + '_ {
    std::iter::successors(parent(path), |p| parent(p))
}

fn parent(path: &str) -> Option<String> {
    if let Some(stripped) = path.strip_suffix("[]").or_else(|| path.strip_suffix(".*")) {
        return Some(stripped.to_owned());
    }
    path.rsplit_once('.').map(|(parent, _)| parent.to_owned())
}

pub(crate) fn is_under(path: &str, ancestor: &str) -> bool {
    path.len() > ancestor.len() && path.starts_with(ancestor) && matches!(path.as_bytes()[ancestor.len()], b'.' | b'[')
}

/// Whether a type set `inner` is allowed by `outer` (`integer` is a `number`).
pub(crate) fn types_within(inner: &BTreeSet<String>, outer: &BTreeSet<String>) -> bool {
    inner.iter().all(|t| outer.contains(t) || (t == "integer" && outer.contains("number")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn paths_follow_refs_items_and_maps() {
        let schema = json!({
            "definitions": {
                "Topic": {"type": "object", "properties": {"Arn": {"type": "string"}}},
                "Node": {"type": "object", "properties": {"Child": {"$ref": "#/definitions/Node"}, "Name": {"type": "string"}}}
            },
            "properties": {
                "Topics": {"type": "array", "items": {"$ref": "#/definitions/Topic"}},
                "Tree": {"$ref": "#/definitions/Node"},
                "Labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "Either": {"anyOf": [{"type": "string"}, {"type": "object", "properties": {"X": {"type": "integer"}}}]}
            }
        });
        let paths = property_paths(&schema);
        let names: Vec<&str> = paths.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "Either",
                "Either.X",
                "Labels",
                "Labels.*",
                "Topics",
                "Topics[]",
                "Topics[].Arn",
                "Tree",
                "Tree.Child",
                "Tree.Name"
            ]
        );
        assert_eq!(paths["Topics[].Arn"].pointer, "/definitions/Topic/properties/Arn");
        assert_eq!(paths["Either"].types, BTreeSet::from(["object".to_owned(), "string".to_owned()]));
    }

    #[test]
    fn refs_are_followed_to_what_they_stand_for() {
        let root = json!({"definitions": {"A": {"$ref": "#/definitions/B"}, "B": {"type": "string"},
            "Loop": {"$ref": "#/definitions/Loop"}}});
        let node = json!({"$ref": "#/definitions/A"});
        assert_eq!(resolve_refs(&root, &node), Some(&json!({"type": "string"})));
        assert_eq!(resolve_refs(&root, &json!({"$ref": "#/definitions/Loop"})), None);
        assert_eq!(resolve_refs(&root, &json!({"$ref": "#/definitions/Nothing"})), None);
        assert_eq!(resolve_refs(&root, &json!({"$ref": "https://example.com/s.json"})), None);
    }

    #[test]
    fn a_property_listed_only_to_be_refused_is_not_approved() {
        let schema = json!({"properties": {
            "Kept": {"type": "string"},
            "Refused": {"allOf": [false], "x-rcfge-remediation": "Use a load balancer"},
            "AlsoRefused": false
        }});
        assert_eq!(property_paths(&schema).into_keys().collect::<Vec<_>>(), ["Kept"]);
    }

    #[test]
    fn read_only_pointers_become_paths() {
        assert_eq!(path_of_property_pointer("/properties/Arn").as_deref(), Some("Arn"));
        assert_eq!(path_of_property_pointer("/properties/A/B").as_deref(), Some("A.B"));
        assert_eq!(path_of_property_pointer("/definitions/A"), None);
    }

    #[test]
    fn parents() {
        assert_eq!(ancestors("A.B[].C").collect::<Vec<_>>(), ["A.B[]", "A.B", "A"]);
        assert!(is_under("A.B", "A"));
        assert!(is_under("A[]", "A"));
        assert!(!is_under("AB", "A"));
    }

    #[test]
    fn integer_is_a_number() {
        let set = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
        assert!(types_within(&set(&["integer"]), &set(&["number"])));
        assert!(!types_within(&set(&["string"]), &set(&["object"])));
    }
}
