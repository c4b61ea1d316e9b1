//! Tools for the security engineers who write templates: pinning provider schemas
//! ([`import`]), the property shape of a schema ([`shape`]), scaffolding a template from a
//! pinned provider schema ([`scaffold`]), linting templates ([`lint`]) and the feature-gating
//! report ([`gaps`]).

pub mod gaps;
pub mod import;
pub mod lint;
pub mod scaffold;
pub mod shape;

/// The JSON Schema draft-07 keywords (with the annotations rcfge templates use). Anything
/// else in a schema position is ignored by the validator, so a rule written with it would
/// never fire.
pub const DRAFT7_KEYWORDS: [&str; 44] = [
    "$schema",
    "$id",
    "$ref",
    "$comment",
    "title",
    "description",
    "default",
    "readOnly",
    "writeOnly",
    "examples",
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "additionalItems",
    "items",
    "maxItems",
    "minItems",
    "uniqueItems",
    "contains",
    "maxProperties",
    "minProperties",
    "required",
    "additionalProperties",
    "definitions",
    "properties",
    "patternProperties",
    "dependencies",
    "propertyNames",
    "const",
    "enum",
    "type",
    "format",
    "contentMediaType",
    "contentEncoding",
    "if",
    "then",
    "else",
    "allOf",
    "anyOf",
];

/// Keywords beyond [`DRAFT7_KEYWORDS`] that may appear in a schema position.
pub const OTHER_KEYWORDS: [&str; 4] = ["oneOf", "not", "typeName", "x-rcfge"];

/// Formats draft-07 defines; the validator refuses a template with any other.
pub const DRAFT7_FORMATS: [&str; 17] = [
    "date-time",
    "date",
    "time",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

/// Whether `key` is a keyword rcfge templates may use.
pub fn is_known_keyword(key: &str) -> bool {
    DRAFT7_KEYWORDS.contains(&key) || OTHER_KEYWORDS.contains(&key)
}
