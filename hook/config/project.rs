//! The project file, `.rcfge.yaml`: what a repository's developers would otherwise type on every
//! `rcfge validate` (the account, Region, stack name, template source, organisation variables
//! and the paths to check). The command line finds it by walking up from the working
//! directory, as cfn-lint finds `.cfnlintrc`; environment variables override it and flags
//! override both.
//!
//! It is a convenience for the developer's machine and CI, never a control: the hook reads
//! nothing from a repository. For the same reason it cannot exempt a type: an exemption is a
//! flag someone types and a reviewer sees, not a line a pull request can slip in.
//!
//! Relative paths in the file are relative to the file, so a bare `rcfge validate` means the
//! same thing from any folder of the repository.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::stack::ReadError;

/// The file's name.
pub const FILE_NAME: &str = ".rcfge.yaml";

/// The largest project file read: a few lines are expected, and the file is read before anything
/// else is checked.
const MAX_BYTES: u64 = 64 * 1024;

/// What a project file sets. Every field is optional; values are checked where the same value
/// given as a flag is checked, so a bad one is reported the same way, naming the file.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ProjectConfig {
    /// Where the templates are: a directory (relative to the file) or `s3://bucket/prefix/`.
    pub templates: Option<String>,
    /// For `{{accountId}}`, in quotes: YAML reads unquoted digits as a number (an octal one when
    /// they start with 0), which is refused with that advice.
    pub account_id: Option<Scalar>,
    /// For `{{region}}`.
    pub region: Option<String>,
    /// For `{{partition}}`.
    pub partition: Option<String>,
    /// For `{{stackName}}`.
    pub stack_name: Option<String>,
    /// Organisation variables, overriding the template set's `_variables.json`.
    #[serde(default)]
    pub vars: Map<String, Value>,
    /// What a bare `rcfge validate` checks: templates and directories, relative to the file.
    #[serde(default)]
    pub paths: Vec<PathBuf>,
}

/// A value YAML may read as a number or a string.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    Text(String),
    Number(serde_json::Number),
}

impl std::fmt::Display for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scalar::Text(text) => f.write_str(text),
            Scalar::Number(number) => write!(f, "{number}"),
        }
    }
}

/// A project file that cannot be used. The cause is part of each message (and not a `source`,
/// which the command line would print a second time).
#[derive(Debug, thiserror::Error)]
pub enum ProjectConfigError {
    #[error("cannot read {path}: {reason}")]
    Read { path: PathBuf, reason: std::io::Error },
    #[error("{path} is larger than {MAX_BYTES} bytes: is it the right file?")]
    TooLarge { path: PathBuf },
    #[error("{path}: {reason}")]
    Yaml { path: PathBuf, reason: ReadError },
    #[error("{path}: {reason} (see the README, \"The project file\")")]
    Shape { path: PathBuf, reason: serde_json::Error },
    #[error(
        "{path}: write account-id in quotes (\"111122223333\"): YAML reads unquoted digits as a number, and \
         digits that start with 0 as an octal one ({number})"
    )]
    UnquotedAccountId { path: PathBuf, number: serde_json::Number },
}

/// A project file, read, with its relative paths made relative to its folder.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedConfig {
    pub path: PathBuf,
    pub config: ProjectConfig,
}

/// The nearest `.rcfge.yaml` in the working directory `cwd` or a folder above it, as a path
/// relative to `cwd` (`../../.rcfge.yaml`), so that what is read from it is reported as a
/// developer would write it. The search stops at the root of the Git repository `cwd` is in:
/// a file above it (in a home folder, a CI runner's work folder) belongs to no project.
pub fn find(cwd: &Path) -> Option<PathBuf> {
    let mut up = PathBuf::new();
    for dir in cwd.ancestors() {
        if dir.join(FILE_NAME).is_file() {
            return Some(up.join(FILE_NAME));
        }
        if dir.join(".git").exists() {
            return None;
        }
        up.push("..");
    }
    None
}

/// Reads a project file. An empty file sets nothing.
pub fn load(path: &Path) -> Result<LoadedConfig, ProjectConfigError> {
    use std::io::Read as _;
    let read = |reason| ProjectConfigError::Read { path: path.to_owned(), reason };
    // Read through a limit, not by the size the file system reports (`/dev/zero` reports none).
    let mut text = String::new();
    std::fs::File::open(path).and_then(|file| file.take(MAX_BYTES + 1).read_to_string(&mut text)).map_err(read)?;
    if text.len() as u64 > MAX_BYTES {
        return Err(ProjectConfigError::TooLarge { path: path.to_owned() });
    }
    let value = crate::stack::yaml::to_json(&text)
        .map_err(|reason| ProjectConfigError::Yaml { path: path.to_owned(), reason })?;
    let value = if value.is_null() { Value::Object(Map::new()) } else { value };
    let mut config: ProjectConfig =
        serde_json::from_value(value).map_err(|reason| ProjectConfigError::Shape { path: path.to_owned(), reason })?;
    if let Some(Scalar::Number(number)) = &config.account_id {
        // 111122223333 unquoted is that number, but 011112222333 is an octal one: a different
        // account, or none. Only the quoted form is certain.
        return Err(ProjectConfigError::UnquotedAccountId { path: path.to_owned(), number: number.clone() });
    }
    let base = path.parent().unwrap_or(Path::new("."));
    for entry in &mut config.paths {
        *entry = relative_to(base, entry);
    }
    if let Some(templates) = &mut config.templates
        && !templates.starts_with("s3://")
    {
        *templates = relative_to(base, Path::new(templates.as_str())).display().to_string();
    }
    Ok(LoadedConfig { path: path.to_owned(), config })
}

/// `path` read from a file in `base`; `-` (standard input) stays as it is.
fn relative_to(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() || path == Path::new("-") || base.as_os_str().is_empty() {
        path.to_owned()
    } else {
        base.join(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join(FILE_NAME);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn paths_are_relative_to_the_file_and_account_ids_are_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            "templates: policy/templates\naccount-id: '111122223333'\nregion: eu-west-1\npaths: [cdk.out, /abs]\nvars:\n  orgId: o-abc\n",
        );
        let loaded = load(&path).unwrap();
        assert_eq!(loaded.config.templates, Some(dir.path().join("policy/templates").display().to_string()));
        assert_eq!(loaded.config.account_id.map(|a| a.to_string()), Some("111122223333".to_owned()));
        assert_eq!(loaded.config.paths, vec![dir.path().join("cdk.out"), PathBuf::from("/abs")]);
        assert_eq!(loaded.config.vars["orgId"], "o-abc");
        for unquoted in ["account-id: 111122223333\n", "account-id: 011112222333\n"] {
            let error = load(&write(dir.path(), unquoted)).unwrap_err().to_string();
            assert!(error.contains("write account-id in quotes"), "{error}");
        }
    }

    #[test]
    fn an_s3_source_is_kept_and_an_empty_file_sets_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let loaded = load(&write(dir.path(), "templates: s3://bucket/prefix/\n")).unwrap();
        assert_eq!(loaded.config.templates.as_deref(), Some("s3://bucket/prefix/"));
        assert_eq!(load(&write(dir.path(), "")).unwrap().config, ProjectConfig::default());
    }

    #[test]
    fn a_misspelt_key_or_a_wrong_shape_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let error = load(&write(dir.path(), "acount-id: '111122223333'\n")).unwrap_err().to_string();
        assert!(error.contains("unknown field `acount-id`") && error.contains(FILE_NAME), "{error}");
        let error = load(&write(dir.path(), "paths: cdk.out\n")).unwrap_err().to_string();
        assert!(error.contains("invalid type"), "{error}");
        let error = load(&write(dir.path(), "region: eu-west-1\nregion: eu-west-2\n")).unwrap_err().to_string();
        assert!(error.contains("duplicate key `region`"), "{error}");
        // An exemption is never read from a repository.
        let error = load(&write(dir.path(), "exempt: [AWS::IAM::Role]\n")).unwrap_err().to_string();
        assert!(error.contains("unknown field `exempt`"), "{error}");
    }

    #[test]
    fn the_nearest_file_above_the_start_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        assert_eq!(find(&nested), None);
        write(dir.path(), "region: eu-west-1\n");
        assert_eq!(find(&nested), Some(PathBuf::from("../../.rcfge.yaml")));
        assert_eq!(find(dir.path()), Some(PathBuf::from(".rcfge.yaml")));
        // Not above the repository the search starts in.
        std::fs::create_dir(dir.path().join("a/.git")).unwrap();
        assert_eq!(find(&nested), None);
        std::fs::write(dir.path().join("a").join(FILE_NAME), "").unwrap();
        assert_eq!(find(&nested), Some(PathBuf::from("../.rcfge.yaml")));
    }
}
