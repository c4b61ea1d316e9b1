//! Tools for the security engineers who write templates: pinning provider schemas
//! ([`import`]), the property shape of a schema ([`shape`]), scaffolding a template from a
//! pinned provider schema ([`scaffold`]), linting templates ([`lint`]) and waivers
//! ([`waivers`]), listing what is approved ([`list`]), the feature-gating report ([`gaps`]) and
//! publishing ([`publish`]).

pub mod changes;
pub mod freeze;
pub mod gaps;
pub mod import;
pub mod lint;
pub mod list;
pub mod publish;
pub mod scaffold;
pub mod shape;
pub mod waivers;

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::rollout::WAIVERS_FILE;
use crate::template::SETTINGS_FILE;
use crate::template::store::{StoreError, VARIABLES_FILE};

/// Why an authoring command cannot do its work. The CLI prints it with its cause (`source`).
#[derive(Debug, thiserror::Error)]
pub enum AuthoringError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("cannot read {path}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} is not valid JSON")]
    NotJson { path: String, source: serde_json::Error },
    #[error("cannot write {path}")]
    Write { path: String, source: std::io::Error },
    /// A provider schema source that cannot be read as such.
    #[error("{path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("no provider schema for {type_name} in {source_description}")]
    NoProviderSchema { type_name: String, source_description: String },
    #[error(
        "no pinned provider schema for {type_name} ({path}): pin it first with \
         `rcfge schemas import --from PATH --types {type_name}`"
    )]
    NotPinned { type_name: String, path: String },
    #[error("{path} exists; pass --force to overwrite it")]
    Exists { path: String },
    #[error("the provider schema has no typeName")]
    NoTypeName,
    #[error(transparent)]
    Serialize(serde_json::Error),
    #[error("no template found for {wanted}")]
    NoTemplate { wanted: String },
    #[error("no types to import: pass --types or add templates to {dir}")]
    NoTypes { dir: String },
    #[error(transparent)]
    TypeName(#[from] StoreError),
}

/// Reads a JSON file (strictly: a duplicate key is an error).
pub(crate) fn read_json(path: &Path) -> Result<Value, AuthoringError> {
    let shown = || path.display().to_string();
    let body = std::fs::read(path).map_err(|source| AuthoringError::Read { path: shown(), source })?;
    crate::json::from_slice(&body).map_err(|source| AuthoringError::NotJson { path: shown(), source })
}

/// The template files of a directory (`*.json` but the organisation files `_variables.json`,
/// `_settings.json` and `_waivers.json`), sorted.
pub(crate) fn template_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| p.file_name().is_some_and(|n| n != VARIABLES_FILE && n != SETTINGS_FILE && n != WAIVERS_FILE))
        .collect();
    files.sort();
    Ok(files)
}

/// Every template of `dir` with the type it declares (`typeName`); templates that declare
/// none are left out.
pub(crate) fn declared_types(dir: &Path) -> Result<Vec<(Value, String)>, AuthoringError> {
    let mut declared = Vec::new();
    for path in template_files(dir)? {
        let template = read_json(&path)?;
        if let Some(type_name) = template.get("typeName").and_then(Value::as_str).map(str::to_owned) {
            declared.push((template, type_name));
        }
    }
    Ok(declared)
}

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
pub const OTHER_KEYWORDS: [&str; 6] =
    ["oneOf", "not", "typeName", "x-rcfge", crate::policy::NORMALIZE_KEYWORD, crate::policy::REMEDIATION_KEYWORD];

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
