//! Why a stack template cannot be read: one error for the JSON and the YAML readers, so that
//! a template fails the same way whichever it is written in.

/// Why a stack template cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("not valid JSON: {0}")]
    Json(#[source] serde_json::Error),
    #[error("not valid YAML: {0}")]
    Yaml(String),
    #[error("YAML merge keys (`<<`) are not supported by CloudFormation; write the keys out")]
    MergeKey,
    #[error("unknown YAML tag {tag}")]
    UnknownTag { tag: String },
    #[error("a mapping key must be a string, not {found}")]
    KeyNotAString { found: String },
    #[error("a number is not finite")]
    NotFinite,
    /// `at` is ` at line N column M` (the second occurrence), or empty where unknown.
    #[error("duplicate key `{key}`{at}")]
    DuplicateKey { key: String, at: String },
    #[error("the key `{key}` is reserved for rcfge's own use")]
    ReservedKey { key: String },
    #[error("collections nest more than {limit} deep")]
    TooDeep { limit: usize },
    #[error("the template grows past {limit} bytes once its YAML aliases are copied")]
    TooLarge { limit: usize },
    #[error("Transform must be a name, a list of names, or {{Name, Parameters}} objects")]
    BadTransform,
    #[error("the template has no Resources section")]
    NoResources,
    #[error("resource {logical_id}: {reason}")]
    BadResource { logical_id: String, reason: String },
}
