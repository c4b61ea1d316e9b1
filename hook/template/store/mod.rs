//! Where templates come from: the [`TemplateSource`] trait (`source`) and its backends, a
//! directory (`dir`) or an S3 prefix (`s3`), chosen by a [`TemplateLocation`].
//!
//! A source maps a file name (`aws-s3-bucket.json`, `_variables.json`) to bytes plus a
//! version (a content hash, or an ETag for S3). It knows nothing about JSON or schemas.

mod dir;
mod s3;
mod source;

use std::path::PathBuf;

pub use dir::DirSource;
pub use s3::{S3Location, S3Settings, S3Source, client_from_environment};
pub(crate) use source::describe_error;
pub use source::{
    BASELINE_DIR, BoxFuture, Fetch, Fetched, StoreError, TemplateSource, VARIABLES_FILE, baseline_file_for_type,
    file_name_for_type,
};

/// Where templates are: a directory, or an S3 prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplateLocation {
    Dir(PathBuf),
    S3(S3Location),
}

impl TemplateLocation {
    /// `s3://bucket/prefix/` is S3; anything else is a directory path.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        if text.starts_with("s3://") {
            S3Location::parse(text).map(TemplateLocation::S3)
        } else if text.is_empty() {
            Err(StoreError::InvalidLocation { location: String::new(), reason: "empty".to_owned() })
        } else {
            Ok(TemplateLocation::Dir(PathBuf::from(text)))
        }
    }

    /// Opens the source (for S3, with the environment's AWS configuration).
    pub async fn open(&self, settings: &S3Settings) -> Result<Box<dyn TemplateSource>, StoreError> {
        Ok(match self {
            TemplateLocation::Dir(path) => Box::new(DirSource::new(path)?),
            TemplateLocation::S3(location) => Box::new(S3Source::from_environment(location.clone(), settings).await),
        })
    }
}
