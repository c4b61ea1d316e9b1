//! A rendered schema compiled once into everything that judges a resource: the validator, and
//! the schema shape that scalar normalisation follows. Immutable, shared behind an `Arc`.

use jsonschema::{PatternOptions, Validator};
use serde_json::Value;

use super::normalize::{Normalizer, REGEX_BACKTRACK_LIMIT};

/// A template rendered for one context and compiled: immutable, shared behind an `Arc`.
pub struct Policy {
    pub type_name: String,
    /// The template version it was compiled from.
    pub version: String,
    schema: Value,
    validator: Validator,
    normalizer: Normalizer,
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
        if let Some(found) = schema.get("$schema") {
            let draft7 = found.as_str().is_some_and(|uri| {
                uri.trim_end_matches('#').trim_end_matches('/').ends_with("json-schema.org/draft-07/schema")
            });
            if !draft7 {
                return Err(CompileError::WrongDraft { found: found.to_string() });
            }
        }
        let validator = jsonschema::draft7::options()
            .with_pattern_options(PatternOptions::fancy_regex().backtrack_limit(REGEX_BACKTRACK_LIMIT))
            // A `format` the validator does not know would never fire: refuse the template.
            .should_ignore_unknown_formats(false)
            .offline()
            .build(&schema)
            .map_err(|e| CompileError::Invalid {
                location: location_of(e.instance_path().as_str()),
                reason: e.to_string(),
            })?;
        let normalizer = Normalizer::new(&schema);
        Ok(Policy { type_name: type_name.to_owned(), version: version.to_owned(), schema, validator, normalizer })
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
    fn a_bad_pattern_names_its_location() {
        let err = Policy::compile(
            "A::B::C",
            "v",
            json!({"properties": {"Name": {"type": "string", "pattern": "^(unclosed$"}}}),
        )
        .unwrap_err();
        let CompileError::Invalid { location, .. } = &err else { panic!("{err}") };
        assert_eq!(location, "/properties/Name/pattern");
    }

    #[test]
    fn a_bad_pattern_properties_key_is_refused() {
        assert!(Policy::compile("A::B::C", "v", json!({"patternProperties": {"^(x": {}}})).is_err());
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
    fn unknown_formats_are_refused() {
        let err =
            Policy::compile("A::B::C", "v", json!({"properties": {"K": {"format": "AWS::KMS::Key.Arn"}}})).unwrap_err();
        assert!(err.to_string().contains("AWS::KMS::Key.Arn"), "{err}");
        assert!(Policy::compile("A::B::C", "v", json!({"properties": {"K": {"format": "uri"}}})).is_ok());
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
