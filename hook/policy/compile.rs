//! A rendered schema compiled once into everything that judges a resource: the validator, and
//! the schema shape that scalar normalisation follows. Immutable, shared behind an `Arc`.

use jsonschema::{PatternCache, PatternOptions, Validator};
use serde_json::Value;

use super::normalize::{Normalizer, REGEX_BACKTRACK_LIMIT};
use super::patterns::{self, UNRUNNABLE_PATTERN, Unrunnable};

/// How many patterns one schema may have set aside (rewritten or refused, see
/// [`patterns`]) before it is refused as a whole; each costs one more compilation.
const MAX_SET_ASIDE: usize = 64;

/// A template rendered for one context and compiled: immutable, shared behind an `Arc`.
pub struct Policy {
    pub type_name: String,
    /// The template version it was compiled from.
    pub version: String,
    schema: Value,
    validator: Validator,
    normalizer: Normalizer,
    /// Patterns the engine cannot run, by location: every string there is refused.
    unrunnable: Vec<(String, String)>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy").field("type_name", &self.type_name).field("version", &self.version).finish()
    }
}

/// A rendered schema that is not a usable JSON Schema.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("templates are JSON Schema draft-07, but `$schema` says {found}")]
    WrongDraft { found: String },
    #[error("schema does not compile at {location}: {reason}")]
    Invalid { location: String, reason: String },
}

impl Policy {
    /// Compiles a rendered schema (Draft 7, fancy-regex with a backtrack limit, no remote
    /// references).
    pub fn compile(type_name: &str, version: &str, schema: Value) -> Result<Self, CompileError> {
        Self::compile_sharing(type_name, version, schema, &PatternCache::new())
    }

    /// As [`Policy::compile`], taking the regular expressions other schemas compiled with the
    /// same `patterns` from there: templates share many (account ARNs, subnet and
    /// security-group ids), and compiling them was most of the time a first decision took.
    pub fn compile_sharing(
        type_name: &str,
        version: &str,
        schema: Value,
        patterns: &PatternCache,
    ) -> Result<Self, CompileError> {
        if let Some(found) = schema.get("$schema") {
            // CloudFormation's provider definition meta-schema is draft-07 with annotations.
            let draft7 = found.as_str().is_some_and(|uri| {
                let uri = uri.trim_end_matches('#').trim_end_matches('/');
                uri.ends_with("json-schema.org/draft-07/schema") || uri.ends_with("/provider.definition.schema.v1.json")
            });
            if !draft7 {
                return Err(CompileError::WrongDraft { found: found.to_string() });
            }
        }
        let mut schema = schema;
        patterns::prepare(&mut schema);
        let mut set_aside = 0;
        let validator = loop {
            let (location, reason) = match build(&schema, patterns) {
                Ok(validator) => break validator,
                Err(e) => (location_of(e.instance_path().as_str()), e.to_string()),
            };
            if set_aside < MAX_SET_ASIDE && patterns::set_aside(&mut schema, &location, pattern_runs) {
                set_aside += 1;
                continue;
            }
            return Err(CompileError::Invalid { location, reason });
        };
        if set_aside > 0
            && let Some(location) = patterns::set_aside_where_it_could_loosen(&schema)
        {
            let reason = "a pattern the regex engine cannot run sits under `not`, `if` or `oneOf`, where refusing \
                          every value there could let a value through"
                .to_owned();
            return Err(CompileError::Invalid { location: location_of(&location), reason });
        }
        let unrunnable = if set_aside > 0 { patterns::unrunnable(&schema) } else { Vec::new() };
        let normalizer = Normalizer::new(&schema);
        Ok(Policy {
            type_name: type_name.to_owned(),
            version: version.to_owned(),
            schema,
            validator,
            normalizer,
            unrunnable,
        })
    }

    /// The patterns this schema has that the engine cannot run (location, pattern): the
    /// values there are all refused. A reviewed template should have none (lint says so).
    pub fn unrunnable_patterns(&self) -> &[(String, String)] {
        &self.unrunnable
    }

    /// The rendered schema.
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    pub(crate) fn validator(&self) -> &Validator {
        &self.validator
    }

    pub(crate) fn normalizer(&self) -> &Normalizer {
        &self.normalizer
    }
}

/// The validator for a schema: draft-07, fancy-regex with a backtrack limit, no remote
/// references.
fn build<'s>(schema: &'s Value, patterns: &PatternCache) -> Result<Validator, jsonschema::ValidationError<'s>> {
    let mut options = jsonschema::draft7::options()
        .with_pattern_options(PatternOptions::fancy_regex().backtrack_limit(REGEX_BACKTRACK_LIMIT))
        .with_pattern_cache(patterns.clone())
        // A `format` the validator does not know would never fire: refuse the schema.
        .should_ignore_unknown_formats(false)
        .with_keyword(UNRUNNABLE_PATTERN, Unrunnable::factory)
        .offline();
    // Except cfn-lint's own format names, which provider schemas use and CloudFormation does
    // not enforce: annotations, as draft-07 makes every format it does not define. Lint, and
    // so publish, refuse them in a reviewed template all the same.
    let mut formats = std::collections::BTreeSet::new();
    collect_formats(schema, &mut formats, 0);
    for name in formats.into_iter().filter(|f| is_cfn_lint_format(f)) {
        options = options.with_format(name, |_: &str| true);
    }
    options.build(schema)
}

/// cfn-lint's format vocabulary: `AWS::EC2::VPC.Id`-style names, and the few it defines
/// besides draft-07's; and a regular expression written where a format belongs (one provider
/// schema's mistake), which no validator could take for a format name.
fn is_cfn_lint_format(name: &str) -> bool {
    const NAMED: [&str; 8] =
        ["int64", "double", "json", "ipv4-network", "ipv6-network", "timestamp", "string", "password"];
    if NAMED.contains(&name) || (name.starts_with("(^") && name.ends_with(')')) {
        return true;
    }
    let Some((resource, attribute)) = name.split_once('.') else { return false };
    let segments: Vec<&str> = resource.split("::").collect();
    segments.len() == 3
        && segments.iter().all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric()))
        && !attribute.is_empty()
        && attribute.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
}

fn collect_formats(node: &Value, out: &mut std::collections::BTreeSet<String>, depth: usize) {
    if depth > 256 {
        return;
    }
    match node {
        Value::Object(map) => {
            if let Some(Value::String(format)) = map.get("format") {
                out.insert(format.clone());
            }
            for (key, child) in map {
                if !matches!(key.as_str(), "enum" | "const" | "default" | "examples" | "x-rcfge") {
                    collect_formats(child, out, depth + 1);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_formats(item, out, depth + 1)),
        _ => {}
    }
}

fn pattern_runs(pattern: &str) -> bool {
    build(&serde_json::json!({ "pattern": pattern }), &PatternCache::new()).is_ok()
}

fn location_of(pointer: &str) -> String {
    if pointer.is_empty() { "/".to_owned() } else { pointer.to_owned() }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn compiles_a_draft7_schema() {
        let policy = Policy::compile("A::B::C", "v", json!({"type": "object", "additionalProperties": false})).unwrap();
        assert!(policy.validator().is_valid(&json!({})));
        assert!(!policy.validator().is_valid(&json!({"x": 1})));
    }

    #[test]
    fn a_pattern_that_cannot_run_refuses_its_property_only() {
        let schema = json!({
            "properties": {
                "Name": {"type": "string", "pattern": "^(unclosed$"},
                "Other": {"type": "string"},
                "Nested": {"$ref": "#/definitions/Nested"}
            },
            "definitions": {"Nested": {"type": "object", "properties": {"Id": {"type": "string", "pattern": "[\\p{Lu"}}}}
        });
        let policy = Policy::compile("A::B::C", "v", schema).unwrap();
        assert_eq!(
            policy.unrunnable_patterns(),
            [
                ("/properties/Name/pattern".to_owned(), "^(unclosed$".to_owned()),
                ("/definitions/Nested/properties/Id/pattern".to_owned(), "[\\p{Lu".to_owned())
            ]
        );
        assert!(policy.validator().is_valid(&json!({"Other": "x"})));
        assert!(!policy.validator().is_valid(&json!({"Name": "unclosed"})));
        assert!(!policy.validator().is_valid(&json!({"Nested": {"Id": "A"}})), "also through a $ref");
        assert!(policy.validator().is_valid(&json!({"Nested": {}})));
        let found = crate::policy::schema::check(&policy, &json!({"Name": "x"}));
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("cannot be checked"), "{}", found[0].message);
    }

    #[test]
    fn a_pattern_that_cannot_run_where_refusing_could_loosen_refuses_the_schema() {
        for schema in [
            json!({"properties": {"Name": {"not": {"pattern": "^(admin"}}}}),
            json!({"properties": {"Name": {"if": {"pattern": "^(x"}, "then": {"maxLength": 3}}}}),
            json!({"properties": {"Name": {"oneOf": [{"pattern": "^alias/(x"}, {"pattern": "^alias/"}]}}}),
            json!({"properties": {"Name": {"not": {"$ref": "#/definitions/D"}}}, "definitions": {"D": {"pattern": "^(x"}}}),
            json!({"properties": {"enum": {"not": {"pattern": "^(x"}}}}),
        ] {
            let err = Policy::compile("A::B::C", "v", schema.clone()).unwrap_err();
            assert!(err.to_string().contains("could let a value through"), "{schema}: {err}");
        }
        // Under `anyOf` or `then`, refusing is only ever stricter.
        let policy = Policy::compile(
            "A::B::C",
            "v",
            json!({"properties": {"Name": {"anyOf": [{"pattern": "^(x"}, {"maxLength": 2}]}}}),
        )
        .unwrap();
        assert!(policy.validator().is_valid(&json!({"Name": "ab"})));
        assert!(!policy.validator().is_valid(&json!({"Name": "abc"})));
    }

    #[test]
    fn java_end_of_input_is_read_as_java_does() {
        let policy =
            Policy::compile("A::B::C", "v", json!({"properties": {"G": {"pattern": "^(sg-)([a-z0-9]+)\\Z"}}})).unwrap();
        assert!(policy.unrunnable_patterns().is_empty());
        assert!(policy.validator().is_valid(&json!({"G": "sg-abc"})));
        assert!(!policy.validator().is_valid(&json!({"G": "sg-abcZ"})));
    }

    #[test]
    fn a_pattern_properties_key_that_cannot_run_closes_its_map() {
        // Open as written: names matching the key would otherwise pass unchecked.
        let schema = json!({"patternProperties": {"^(x": {"type": "string"}, "^y": {"type": "string"}}});
        let policy = Policy::compile("A::B::C", "v", schema).unwrap();
        assert_eq!(policy.unrunnable_patterns(), [("/patternProperties".to_owned(), "^(x".to_owned())]);
        assert!(policy.validator().is_valid(&json!({"y1": "a"})));
        assert!(!policy.validator().is_valid(&json!({"(x": "a"})));
        assert!(!policy.validator().is_valid(&json!({"other": "a"})));
    }

    #[test]
    fn schemas_sharing_compiled_patterns_judge_as_each_alone() {
        let schemas = [
            json!({"properties": {"Id": {"pattern": "^sg-[0-9a-f]{8}$"}, "Tag": {"pattern": "^(?!aws:)"}}}),
            json!({"properties": {"Group": {"pattern": "^sg-[0-9a-f]{8}$"}, "Tag": {"pattern": "^(?!aws:)"}}}),
            // A pattern that cannot run is remembered as such, and set aside in each schema.
            json!({"properties": {"Id": {"pattern": "^(x"}, "Tag": {"pattern": "^(?!aws:)"}}}),
            json!({"properties": {"Group": {"pattern": "^(x"}}}),
        ];
        let values = [
            json!({"Id": "sg-0123abcd", "Group": "sg-0123abcd", "Tag": "team"}),
            json!({"Id": "sg-0123", "Group": "sg-0123abcd"}),
            json!({"Group": "sg-0123ABCD", "Tag": "aws:x"}),
            json!({"Id": "(x", "Group": "x"}),
        ];
        let patterns = PatternCache::new();
        for schema in schemas {
            let shared = Policy::compile_sharing("A::B::C", "v", schema.clone(), &patterns).unwrap();
            let alone = Policy::compile("A::B::C", "v", schema.clone()).unwrap();
            assert_eq!(shared.unrunnable_patterns(), alone.unrunnable_patterns(), "{schema}");
            for value in &values {
                assert_eq!(shared.validator().is_valid(value), alone.validator().is_valid(value), "{schema} {value}");
            }
        }
    }

    #[test]
    fn invalid_keywords_are_refused() {
        assert!(Policy::compile("A::B::C", "v", json!({"type": 12})).is_err());
        assert!(Policy::compile("A::B::C", "v", json!({"minLength": "three"})).is_err());
    }

    #[test]
    fn remote_references_are_refused() {
        assert!(Policy::compile("A::B::C", "v", json!({"$ref": "https://example.com/schema.json"})).is_err());
        assert!(Policy::compile("A::B::C", "v", json!({"$ref": "file:///etc/passwd"})).is_err());
        assert!(Policy::compile("A::B::C", "v", json!({"$ref": "#/definitions/Missing"})).is_err());
    }

    #[test]
    fn cfn_lint_formats_are_annotations_other_unknown_ones_refuse_the_schema() {
        let policy = Policy::compile(
            "A::B::C",
            "v",
            json!({"properties": {"K": {"format": "AWS::KMS::Key.Arn"}, "N": {"format": "int64"}}}),
        )
        .unwrap();
        assert!(policy.validator().is_valid(&json!({"K": "anything", "N": "x"})));
        for typo in ["ipv4 ", "uri-refrence", "AWS::KMS.Arn"] {
            let err = Policy::compile("A::B::C", "v", json!({"properties": {"K": {"format": typo}}})).unwrap_err();
            assert!(err.to_string().contains(typo), "{typo}: {err}");
        }
        let policy = Policy::compile("A::B::C", "v", json!({"properties": {"K": {"format": "ipv4"}}})).unwrap();
        assert!(policy.validator().is_valid(&json!({"K": "10.0.0.1"})));
        assert!(!policy.validator().is_valid(&json!({"K": "10.0.0"})));
    }

    #[test]
    fn other_drafts_are_refused() {
        let err = Policy::compile("A::B::C", "v", json!({"$schema": "https://json-schema.org/draft/2020-12/schema"}))
            .unwrap_err();
        assert!(matches!(err, CompileError::WrongDraft { .. }));
        assert!(Policy::compile("A::B::C", "v", json!({"$schema": "http://json-schema.org/draft-07/schema#"})).is_ok());
    }

    #[test]
    fn catastrophic_patterns_hit_the_backtrack_limit() {
        let pattern = "^(\\w+\\s?)*(?<!x)$";
        let policy = Policy::compile("A::B::C", "v", json!({"pattern": pattern})).unwrap();
        let hostile = format!("{}!", "a".repeat(40));
        // The engine itself gives up on this value: the refusal below is the limit at work,
        // not a quick mismatch.
        let regex = fancy_regex::RegexBuilder::new(pattern).backtrack_limit(REGEX_BACKTRACK_LIMIT).build().unwrap();
        assert!(
            matches!(regex.is_match(&hostile), Err(fancy_regex::Error::RuntimeError(_))),
            "{:?}",
            regex.is_match(&hostile)
        );
        let instance = json!(hostile);
        assert!(!policy.validator().is_valid(&instance), "an unfinished match never passes");
        // Nor under `not`: either outcome of the match could be the true one.
        let negated = Policy::compile("A::B::C", "v", json!({"not": {"pattern": pattern}})).unwrap();
        assert!(!negated.validator().is_valid(&instance), "an unfinished match under `not` never passes");
        assert!(!crate::policy::schema::check(&negated, &instance).is_empty(), "and it is reported");
        let errors: Vec<_> = policy.validator().iter_errors(&instance).map(|e| e.kind().keyword().to_owned()).collect();
        assert_eq!(errors, ["pattern"]);
    }
}
