//! Templates from a local directory. Two layouts are read, and which one a directory uses is
//! decided once, when the source is opened:
//! - a mirror of the bucket: the Guard rule files (`*.guard`) sit beside the templates, as
//!   they do under the bucket's prefix (`aws s3 sync s3://bucket/prefix/ DIR` makes one);
//! - the repository's layout: no `.guard` file beside the templates, so they are read from the
//!   `guard-rules` directory next to it (`templates/` and `guard-rules/`).
//!
//! Rules are never read from both places, so a stale copy in one cannot shadow the other.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::source::{
    BoxFuture, Fetch, Fetched, MAX_TEMPLATE_BYTES, StoreError, TemplateSource, check_file_name, content_version,
};

/// A directory of template files, as laid out in `templates/`.
#[derive(Clone, Debug)]
pub struct DirSource {
    root: PathBuf,
    guard_rules: PathBuf,
}

/// The directory beside the templates that holds the Guard rule files.
pub const GUARD_RULES_DIR: &str = "guard-rules";

impl DirSource {
    /// A source over `root`, which must be an existing directory. Its Guard rules are read
    /// beside the templates if any `.guard` file is there, else from `../guard-rules`.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        if !root.is_dir() {
            return Err(StoreError::NotADirectory { path: root });
        }
        let entries = std::fs::read_dir(&root).map_err(|source| StoreError::Read { path: root.clone(), source })?;
        let mirror = entries.filter_map(Result::ok).any(|entry| entry.path().extension().is_some_and(|e| e == "guard"));
        let guard_rules =
            if mirror { root.clone() } else { root.parent().unwrap_or(Path::new("")).join(GUARD_RULES_DIR) };
        Ok(DirSource { root, guard_rules })
    }

    /// Where this source reads Guard rule files.
    pub fn guard_rules_dir(&self) -> &Path {
        &self.guard_rules
    }

    /// The directory this source reads.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn read(&self, file_name: &str, known_version: Option<&str>) -> Result<Fetch, StoreError> {
        check_file_name(file_name)?;
        let directory = if file_name.ends_with(".guard") { &self.guard_rules } else { &self.root };
        let path = directory.join(file_name);
        let read_error = |source| StoreError::Read { path: path.clone(), source };
        let size = match std::fs::metadata(&path) {
            Ok(meta) => meta.len(),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Fetch::NotFound),
            Err(e) => return Err(read_error(e)),
        };
        if size > MAX_TEMPLATE_BYTES {
            return Err(StoreError::TooLarge { path, size, limit: MAX_TEMPLATE_BYTES });
        }
        let body = std::fs::read(&path).map_err(read_error)?;
        let version = content_version(&body);
        if known_version == Some(version.as_str()) {
            return Ok(Fetch::NotModified);
        }
        Ok(Fetch::Found(Fetched { body, version }))
    }
}

impl TemplateSource for DirSource {
    fn location(&self) -> String {
        format!("directory {}", self.root.display())
    }

    fn guard_rules_location(&self) -> String {
        format!("directory {}", self.guard_rules.display())
    }

    fn fetch<'a>(
        &'a self,
        file_name: &'a str,
        known_version: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Fetch, StoreError>> {
        Box::pin(async move { self.read(file_name, known_version) })
    }

    fn template_file_names(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async move {
            let mut names = Vec::new();
            for (dir, prefix) in [(self.root.clone(), ""), (self.root.join(super::BASELINE_DIR), "baseline/")] {
                let Ok(entries) = std::fs::read_dir(&dir) else { continue };
                names.extend(entries.filter_map(Result::ok).filter_map(|entry| {
                    let name = entry.file_name().into_string().ok()?;
                    (name.ends_with(".json") && !name.starts_with('_')).then(|| format!("{prefix}{name}"))
                }));
            }
            names
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    #[test]
    fn reads_found_missing_and_unchanged_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("aws-s3-bucket.json"), b"{}").unwrap();
        let source = DirSource::new(dir.path()).unwrap();

        let Fetch::Found(found) = block_on(source.fetch("aws-s3-bucket.json", None)).unwrap() else {
            panic!("expected the file");
        };
        assert_eq!(found.body, b"{}");
        let again = block_on(source.fetch("aws-s3-bucket.json", Some(&found.version))).unwrap();
        assert_eq!(again, Fetch::NotModified);
        assert_eq!(block_on(source.fetch("aws-sns-topic.json", None)).unwrap(), Fetch::NotFound);
    }

    #[test]
    fn a_changed_file_has_a_new_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x-y-z.json");
        std::fs::write(&path, b"{}").unwrap();
        let source = DirSource::new(dir.path()).unwrap();
        let Fetch::Found(first) = block_on(source.fetch("x-y-z.json", None)).unwrap() else { panic!() };
        std::fs::write(&path, b"{\"type\":\"object\"}").unwrap();
        let Fetch::Found(second) = block_on(source.fetch("x-y-z.json", Some(&first.version))).unwrap() else {
            panic!("expected the changed file");
        };
        assert_ne!(first.version, second.version);
    }

    #[test]
    fn unreadable_and_oversized_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a-b-c.json")).unwrap();
        let big = vec![b' '; (MAX_TEMPLATE_BYTES + 1) as usize];
        std::fs::write(dir.path().join("d-e-f.json"), big).unwrap();
        let source = DirSource::new(dir.path()).unwrap();
        assert!(matches!(block_on(source.fetch("a-b-c.json", None)), Err(StoreError::Read { .. })));
        assert!(matches!(block_on(source.fetch("d-e-f.json", None)), Err(StoreError::TooLarge { .. })));
        assert!(matches!(block_on(source.fetch("../x.json", None)), Err(StoreError::InvalidFileName { .. })));
    }

    #[test]
    fn a_missing_directory_is_refused() {
        assert!(matches!(DirSource::new("/nonexistent/rcfge"), Err(StoreError::NotADirectory { .. })));
    }
}
