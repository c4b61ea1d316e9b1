//! Which files `rcfge validate` reads: each file named, and the stack templates under each
//! directory named, walked in name order so that the report's order never depends on the file
//! system.

use std::path::{Path, PathBuf};

/// A stack template file to validate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackFile {
    pub path: PathBuf,
    /// Found by walking a directory, not named: a file there without a `Resources` section is
    /// something else (a `package.json`, a CDK manifest) and is skipped, not an error.
    pub walked: bool,
}

/// The extensions of the files a directory walk picks up.
pub const TEMPLATE_EXTENSIONS: [&str; 4] = ["json", "yaml", "yml", "template"];

/// Directories a walk does not enter besides hidden ones: installed packages hold JSON and
/// YAML that are never stack templates.
const SKIPPED_DIRECTORIES: [&str; 1] = ["node_modules"];

/// How deep a walk goes: deeper trees are refused rather than followed (a symbolic link loop
/// is not followed at all: links to directories are skipped).
pub const MAX_WALK_DEPTH: usize = 32;

/// Files found by a walk that are larger than this are skipped: CloudFormation accepts
/// templates of at most 1 MB, and a large data file in the tree would otherwise be parsed
/// whole before it turned out not to be a template.
pub const MAX_WALKED_FILE_BYTES: u64 = 2 * 1024 * 1024;

/// How the files named on the command line are taken.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NamedFiles {
    /// Each must be a stack template: anything else is an error (exit 2).
    #[default]
    Templates,
    /// As files found by a walk: one that cannot be a stack template is skipped and listed.
    /// For pre-commit, which passes every staged file whose name matches, `package.json` and
    /// CI workflows included; a file without `Resources` cannot deploy a resource anyway.
    SkipOthers,
}

/// A path that cannot be walked.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path} nests directories more than {MAX_WALK_DEPTH} deep")]
    TooDeep { path: String },
    #[error("no stack templates (*.json, *.yaml, *.yml, *.template) in {path}")]
    Empty { path: String },
}

/// The files to validate: every path that is not a directory, as given (a missing file is
/// reported by the validation, with the others), and for each directory every file under it
/// with a [`TEMPLATE_EXTENSIONS`] extension in any case (`.YAML` too), symbolic links to files
/// included, leaving out hidden entries, `node_modules` and symbolic links to directories. A
/// directory without any such file is an error: a typo in a path must not validate nothing.
pub fn stack_files(paths: &[PathBuf], named: NamedFiles) -> Result<Vec<StackFile>, WalkError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let before = files.len();
            walk(path, 0, &mut files)?;
            if files.len() == before {
                return Err(WalkError::Empty { path: path.display().to_string() });
            }
        } else {
            files.push(StackFile { path: path.clone(), walked: named == NamedFiles::SkipOthers });
        }
    }
    Ok(files)
}

/// Whether a walk picks up `path`: a template extension, in any case.
fn is_template_name(path: &Path) -> bool {
    path.extension().is_some_and(|e| TEMPLATE_EXTENSIONS.iter().any(|t| e.eq_ignore_ascii_case(t)))
}

fn walk(dir: &Path, depth: usize, files: &mut Vec<StackFile>) -> Result<(), WalkError> {
    if depth > MAX_WALK_DEPTH {
        return Err(WalkError::TooDeep { path: dir.display().to_string() });
    }
    let read_error = |source| WalkError::Read { path: dir.display().to_string(), source };
    let mut entries: Vec<(PathBuf, std::fs::FileType)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let kind = entry.file_type().map_err(read_error)?;
        entries.push((entry.path(), kind));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, kind) in entries {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with('.') || SKIPPED_DIRECTORIES.contains(&name.as_str()) {
            continue;
        }
        if kind.is_dir() {
            walk(&path, depth + 1, files)?;
        } else if kind.is_file() && is_template_name(&path) {
            files.push(StackFile { path, walked: true });
        } else if kind.is_symlink() && is_template_name(&path) && std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            // A link to a file is read like the file; a link to a directory is not followed.
            files.push(StackFile { path, walked: true });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_in_name_order_and_leaves_out_what_is_never_a_template() {
        let dir = tempfile::tempdir().unwrap();
        for file in
            ["b/stack.yaml", "a.json", "b/a.template", "C.YAML", "node_modules/x/p.json", ".git/c.json", "notes.txt"]
        {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "{}").unwrap();
        }
        std::os::unix::fs::symlink(dir.path().join("a.json"), dir.path().join("d-link.json")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("b"), dir.path().join("e-dir-link")).unwrap();
        let named = dir.path().join("notes.txt");
        let files = stack_files(&[dir.path().to_path_buf(), named.clone()], NamedFiles::Templates).unwrap();
        let found: Vec<(String, bool)> =
            files.iter().map(|f| (f.path.strip_prefix(dir.path()).unwrap().display().to_string(), f.walked)).collect();
        let expected = [
            ("C.YAML", true),
            ("a.json", true),
            ("b/a.template", true),
            ("b/stack.yaml", true),
            ("d-link.json", true),
            ("notes.txt", false),
        ];
        assert_eq!(found, expected.map(|(p, w)| (p.to_owned(), w)));
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        std::fs::write(empty.join("notes.txt"), "x").unwrap();
        assert!(matches!(stack_files(&[empty], NamedFiles::Templates), Err(WalkError::Empty { .. })));
        let files = stack_files(&[named], NamedFiles::SkipOthers).unwrap();
        assert!(files[0].walked, "a named file is then taken as a walk would find it");
    }
}
