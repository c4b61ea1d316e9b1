//! The [`TemplateSource`] trait every backend implements, what it answers, its errors, and the
//! file names it answers for.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

/// The file, at the root of every source, that holds the organisation variables.
pub const VARIABLES_FILE: &str = "_variables.json";

/// Templates are small; anything larger than this is refused rather than parsed.
pub const MAX_TEMPLATE_BYTES: u64 = 4 * 1024 * 1024;

/// A boxed future, so that [`TemplateSource`] stays object safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One object as the source holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    pub body: Vec<u8>,
    /// Changes whenever the body changes (content hash, ETag).
    pub version: String,
}

/// What a source answered for a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fetch {
    Found(Fetched),
    /// The caller's `known_version` is still current.
    NotModified,
    NotFound,
}

/// A place templates are read from.
pub trait TemplateSource: Send + Sync {
    /// Where the templates are, for messages (`directory templates/`, `s3://bucket/prefix/`).
    fn location(&self) -> String;

    /// Where the Guard rule files (`*.guard`) are, for messages: beside the templates unless
    /// the source says otherwise.
    fn guard_rules_location(&self) -> String {
        self.location()
    }

    /// Reads `file_name`. With `known_version`, a source may answer [`Fetch::NotModified`].
    fn fetch<'a>(
        &'a self,
        file_name: &'a str,
        known_version: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Fetch, StoreError>>;

    /// The file names of the templates it holds, reviewed and baseline (`aws-sqs-queue.json`,
    /// `baseline/aws-sqs-queue.json`), to suggest a type when a resource names one that has no
    /// template. Only for messages: a source that cannot list cheaply (S3) returns none.
    fn template_file_names(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async { Vec::new() })
    }
}

impl<T: TemplateSource + ?Sized> TemplateSource for Box<T> {
    fn location(&self) -> String {
        (**self).location()
    }

    fn guard_rules_location(&self) -> String {
        (**self).guard_rules_location()
    }

    fn fetch<'a>(
        &'a self,
        file_name: &'a str,
        known_version: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Fetch, StoreError>> {
        (**self).fetch(file_name, known_version)
    }

    fn template_file_names(&self) -> BoxFuture<'_, Vec<String>> {
        (**self).template_file_names()
    }
}

/// Why a source could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("`{type_name}` is not a CloudFormation resource type name")]
    InvalidTypeName { type_name: String },
    #[error("`{file_name}` is not a template file name")]
    InvalidFileName { file_name: String },
    #[error("template directory {path} does not exist or is not a directory")]
    NotADirectory { path: PathBuf },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("`{location}` is not a template location: {reason}")]
    InvalidLocation { location: String, reason: String },
    #[error("cannot read {location}: {reason}")]
    S3 { location: String, reason: String },
    #[error("fetching {file_name} failed while this request waited for it: {reason}")]
    RecentFailure { file_name: String, reason: String },
    #[error("unexpected answer for {file_name}: {reason}")]
    Unexpected { file_name: String, reason: String },
    #[error("{path} is {size} bytes, more than the {limit} bytes a template may have")]
    TooLarge { path: PathBuf, size: u64, limit: u64 },
}

/// The file that holds the template for a resource type: `AWS::S3::Bucket` →
/// `aws-s3-bucket.json`.
///
/// The type name is checked first (two to four `::`-separated alphanumeric segments), so an
/// event can never name a file outside the source.
pub fn file_name_for_type(type_name: &str) -> Result<String, StoreError> {
    // Written in one pass: every decision asks for it.
    let mut name = String::with_capacity(type_name.len() + ".json".len());
    let mut segments = 0;
    for segment in type_name.split("::") {
        if segment.is_empty() || !segment.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(StoreError::InvalidTypeName { type_name: type_name.to_owned() });
        }
        if segments > 0 {
            name.push('-');
        }
        name.extend(segment.bytes().map(|b| char::from(b.to_ascii_lowercase())));
        segments += 1;
    }
    if !(2..=4).contains(&segments) {
        return Err(StoreError::InvalidTypeName { type_name: type_name.to_owned() });
    }
    name.push_str(".json");
    Ok(name)
}

/// The content's SHA-256, shortened: a version for sources without ETags, stable across
/// machines and toolchains.
pub(crate) fn content_version(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(body).iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The folder, at the root of every source, that holds the generated baseline templates: kept
/// apart so that a baseline can never be mistaken for a reviewed template.
pub const BASELINE_DIR: &str = "baseline";

/// The file that holds the baseline template of a type: `baseline/aws-s3-bucket.json`.
pub fn baseline_file_for_type(type_name: &str) -> Result<String, StoreError> {
    Ok(format!("{BASELINE_DIR}/{}", file_name_for_type(type_name)?))
}

/// Whether a file name may be asked of a source: one plain name, no path but the baseline
/// folder.
pub(crate) fn check_file_name(file_name: &str) -> Result<(), StoreError> {
    let name = file_name.strip_prefix(BASELINE_DIR).and_then(|n| n.strip_prefix('/')).unwrap_or(file_name);
    check_plain_name(name).map_err(|_| StoreError::InvalidFileName { file_name: file_name.to_owned() })
}

fn check_plain_name(file_name: &str) -> Result<(), StoreError> {
    let plain = !file_name.is_empty()
        && (file_name.ends_with(".json") || file_name.ends_with(".guard"))
        && !file_name.starts_with('.')
        && file_name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if plain { Ok(()) } else { Err(StoreError::InvalidFileName { file_name: file_name.to_owned() }) }
}

/// An error and its causes on one line, each said once: the SDK's own rendering adds a
/// `Debug` dump of the error that helps no one reading a hook answer.
pub fn describe_error(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_map_to_file_names() {
        assert_eq!(file_name_for_type("AWS::S3::Bucket").unwrap(), "aws-s3-bucket.json");
        assert_eq!(file_name_for_type("AWS::EC2::SecurityGroup").unwrap(), "aws-ec2-securitygroup.json");
        assert_eq!(file_name_for_type("Custom::Thing").unwrap(), "custom-thing.json");
    }

    #[test]
    fn odd_type_names_are_refused() {
        for bad in [
            "",
            "AWS",
            "../../etc/passwd",
            "AWS::S3::",
            "AWS::S3/x::Bucket",
            "A::B::C::D::E",
            "AWS::S3::Bucket ",
            "AWS::S3::Bück",
        ] {
            assert!(file_name_for_type(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn file_names_are_plain() {
        assert!(check_file_name("aws-s3-bucket.json").is_ok());
        assert!(check_file_name(VARIABLES_FILE).is_ok());
        assert!(check_file_name("baseline/aws-s3-bucket.json").is_ok());
        assert_eq!(baseline_file_for_type("AWS::S3::Bucket").unwrap(), "baseline/aws-s3-bucket.json");
        for bad in [
            "../x.json",
            "a/b.json",
            ".json",
            "x.txt",
            "",
            "baseline/",
            "baseline/../x.json",
            "baseline/a/b.json",
            "baseline//x.json",
        ] {
            assert!(check_file_name(bad).is_err(), "{bad:?} accepted");
        }
    }
}
