//! `rcfge schemas import`: pins official provider schemas into `schemas/`, one file per type
//! named like its template, and records where they came from in `schemas/SOURCE.md`.
//!
//! Sources: `CloudformationSchema.zip` as AWS publishes it (or a folder of its files), or an
//! unpacked `cfn-lint` source distribution (its `providers/<region>.json` maps each type to
//! `resources/<hash>.json`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::shape::property_paths;
use super::{AuthoringError, declared_types};
use crate::template::store::file_name_for_type;

/// Beside the pinned schemas: for each type, the property paths its last import added.
pub(crate) const NEW_PROPERTIES_FILE: &str = "NEW-PROPERTIES.json";

/// The Region whose schemas a cfn-lint distribution is read for.
pub(crate) const CFN_LINT_REGION: &str = "us-east-1";

/// Where provider schemas are read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SchemaSource {
    /// Files named like templates (`aws-s3-bucket.json`), as in an unpacked
    /// `CloudformationSchema.zip`.
    Folder(PathBuf),
    /// An unpacked cfn-lint sdist: `root` holds `PKG-INFO` and `src/cfnlint/...`.
    CfnLint {
        root: PathBuf,
        version: String,
        /// Every Region's type map, read once: a whole-snapshot import asks for ~1,900 types.
        regions: std::sync::OnceLock<Vec<(String, Value)>>,
    },
    /// `CloudformationSchema.zip`: files named like templates, at any depth.
    Zip(PathBuf),
}

impl SchemaSource {
    /// Recognises a cfn-lint distribution, else takes `from` as a folder of schema files.
    pub fn detect(from: &Path) -> Result<Self, AuthoringError> {
        if from.is_file() && from.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip")) {
            return Ok(SchemaSource::Zip(from.to_owned()));
        }
        if !from.is_dir() {
            let name = from.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
            let reason = if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
                format!(
                    "a .tar.gz is not read: unpack it first (tar xzf {}) and pass the folder it makes",
                    from.display()
                )
            } else if from.exists() {
                "not a folder of provider schemas, an unpacked cfn-lint distribution or a .zip of schemas".to_owned()
            } else {
                "no such file or folder".to_owned()
            };
            return Err(AuthoringError::Unreadable { path: from.to_owned(), reason });
        }
        if from.join(providers_file()).is_file() {
            let pkg_info = std::fs::read_to_string(from.join("PKG-INFO")).unwrap_or_default();
            let version =
                pkg_info.lines().find_map(|l| l.strip_prefix("Version: ")).unwrap_or("unknown").trim().to_owned();
            return Ok(SchemaSource::CfnLint { root: from.to_owned(), version, regions: std::sync::OnceLock::new() });
        }
        Ok(SchemaSource::Folder(from.to_owned()))
    }

    /// What the source is, for `SOURCE.md`.
    pub fn describe(&self) -> String {
        match self {
            SchemaSource::Folder(path) => format!("provider schema folder `{}`", path.display()),
            SchemaSource::CfnLint { version, .. } => {
                format!(
                    "the `cfn-lint` source distribution on PyPI, version {version} (Region {CFN_LINT_REGION}, and other Regions for the types it lacks)"
                )
            }
            SchemaSource::Zip(path) => format!("the provider schema archive `{}`", path.display()),
        }
    }

    /// The provider schema of one type.
    pub fn load(&self, type_name: &str) -> Result<(Value, String), AuthoringError> {
        let (path, origin) = match self {
            SchemaSource::Zip(archive) => return self.load_from_zip(archive, type_name),
            SchemaSource::Folder(dir) => {
                let file = file_name_for_type(type_name)?;
                (dir.join(&file), file)
            }
            SchemaSource::CfnLint { root, regions, .. } => {
                let (region, hash) = cached_regions(root, regions)?
                    .iter()
                    .find_map(|(region, providers)| {
                        providers.get(type_name).and_then(Value::as_str).map(|hash| (region.clone(), hash.to_owned()))
                    })
                    .ok_or_else(|| self.missing(type_name))?;
                let origin = if region == CFN_LINT_REGION {
                    format!("resources/{hash}.json")
                } else {
                    format!("resources/{hash}.json (Region {region}: not in {CFN_LINT_REGION})")
                };
                (root.join(resources_dir()).join(format!("{hash}.json")), origin)
            }
        };
        if !path.is_file() {
            return Err(self.missing(type_name));
        }
        let schema = read_provider_json(&path)?;
        if schema.get("typeName").and_then(Value::as_str) != Some(type_name) {
            return Err(AuthoringError::Unreadable { path, reason: format!("its typeName is not {type_name}") });
        }
        Ok((schema, origin))
    }

    fn load_from_zip(&self, archive: &Path, type_name: &str) -> Result<(Value, String), AuthoringError> {
        let unreadable = |reason: String| AuthoringError::Unreadable { path: archive.to_owned(), reason };
        let file = std::fs::File::open(archive).map_err(|e| unreadable(e.to_string()))?;
        let mut zip = zip::ZipArchive::new(file).map_err(|e| unreadable(e.to_string()))?;
        let wanted = file_name_for_type(type_name)?;
        let entry_name = zip
            .file_names()
            .filter_map(Result::ok)
            .find(|name| name.rsplit('/').next() == Some(wanted.as_str()))
            .map(|name| name.into_owned())
            .ok_or_else(|| self.missing(type_name))?;
        let mut text = String::new();
        let mut entry = zip.by_name(&entry_name).map_err(|e| unreadable(e.to_string()))?;
        std::io::Read::read_to_string(&mut entry, &mut text).map_err(|e| unreadable(format!("{entry_name}: {e}")))?;
        let schema: Value = serde_json::from_str(&text).map_err(|e| unreadable(format!("{entry_name}: {e}")))?;
        if schema.get("typeName").and_then(Value::as_str) != Some(type_name) {
            return Err(unreadable(format!("{entry_name}: its typeName is not {type_name}")));
        }
        Ok((schema, entry_name))
    }

    /// Every type the source has a schema for, sorted.
    pub fn types(&self) -> Result<Vec<String>, AuthoringError> {
        let mut types = Vec::new();
        match self {
            SchemaSource::CfnLint { root, regions, .. } => {
                for (_, providers) in cached_regions(root, regions)? {
                    types.extend(providers.as_object().into_iter().flat_map(|m| m.keys().cloned()));
                }
            }
            SchemaSource::Folder(dir) => {
                for path in super::freeze::provider_files(dir)? {
                    let schema = read_provider_json(&path)?;
                    types.extend(schema.get("typeName").and_then(Value::as_str).map(str::to_owned));
                }
            }
            SchemaSource::Zip(archive) => {
                let unreadable = |reason: String| AuthoringError::Unreadable { path: archive.to_owned(), reason };
                let file = std::fs::File::open(archive).map_err(|e| unreadable(e.to_string()))?;
                let mut zip = zip::ZipArchive::new(file).map_err(|e| unreadable(e.to_string()))?;
                for i in 0..zip.len() {
                    let mut entry = zip.by_index(i).map_err(|e| unreadable(e.to_string()))?;
                    let name = entry.name().map_err(|e| unreadable(e.to_string()))?.into_owned();
                    if !name.ends_with(".json") {
                        continue;
                    }
                    let mut text = String::new();
                    std::io::Read::read_to_string(&mut entry, &mut text)
                        .map_err(|e| unreadable(format!("{name}: {e}")))?;
                    let schema: Value = serde_json::from_str(&text).map_err(|e| unreadable(format!("{name}: {e}")))?;
                    types.extend(schema.get("typeName").and_then(Value::as_str).map(str::to_owned));
                }
            }
        }
        types.sort();
        types.dedup();
        Ok(types)
    }

    /// When the source's schemas were taken, if it says (cfn-lint records it).
    fn schema_date(&self) -> Option<String> {
        let SchemaSource::CfnLint { root, .. } = self else { return None };
        let version = read_provider_json(&root.join("src/cfnlint/data/schemas/version.json")).ok()?;
        version.get("schema_date").and_then(Value::as_str).map(str::to_owned)
    }

    fn missing(&self, type_name: &str) -> AuthoringError {
        AuthoringError::NoProviderSchema { type_name: type_name.to_owned(), source_description: self.describe() }
    }
}

/// The types the templates of `templates` are for.
pub(crate) fn template_types(templates: &Path) -> Result<Vec<String>, AuthoringError> {
    Ok(declared_types(templates)?.into_iter().map(|(_, type_name)| type_name).collect())
}

/// `rcfge schemas import`: pins the schemas of `types` (default: the type of every template in
/// `templates`) from `from` into `schemas`; returns how many were written and where from.
pub fn import_for_templates(
    from: &Path,
    types: Vec<String>,
    all: bool,
    templates: &Path,
    schemas: &Path,
) -> Result<(usize, String), AuthoringError> {
    let source = SchemaSource::detect(from)?;
    let types = match (all, types.is_empty()) {
        (true, _) => source.types()?,
        (false, true) => template_types(templates)?,
        (false, false) => types,
    };
    if types.is_empty() && all {
        return Err(AuthoringError::Unreadable {
            path: from.to_owned(),
            reason: "no provider schemas found (a folder of schema files, CloudformationSchema.zip, or an unpacked \
                     cfn-lint distribution with src/cfnlint/data/schemas/providers/us-east-1.json)"
                .to_owned(),
        });
    }
    if types.is_empty() {
        return Err(AuthoringError::NoTypes { dir: templates.display().to_string() });
    }
    std::fs::create_dir_all(schemas)?;
    let files = import(&source, &types, schemas)?;
    Ok((files.len(), source.describe()))
}

/// Imports the schemas of `types` into `to`, and rewrites `to/SOURCE.md`, keeping the rows of
/// the schemas it did not import. Returns the files written.
pub(crate) fn import(source: &SchemaSource, types: &[String], to: &Path) -> Result<Vec<String>, AuthoringError> {
    let kept = previous_rows(to, &source.describe());
    let mut rows = BTreeMap::new();
    let mut new_properties = read_new_properties(to);
    for type_name in types {
        let (schema, origin) = source.load(type_name)?;
        let file = file_name_for_type(type_name)?;
        if let Ok(previous) = read_provider_json(&to.join(&file)) {
            let before = property_paths(&previous);
            let added: Vec<String> = property_paths(&schema).into_keys().filter(|p| !before.contains_key(p)).collect();
            new_properties.insert(type_name.clone(), added);
        }
        let text = format!("{}\n", serde_json::to_string_pretty(&sorted(schema)).unwrap_or_default());
        let path = to.join(&file);
        std::fs::write(&path, text)
            .map_err(|e| AuthoringError::Unreadable { path: path.clone(), reason: e.to_string() })?;
        rows.insert(type_name.clone(), (file, origin));
    }
    let written: Vec<String> = rows.values().map(|(file, _)| file.clone()).collect();
    let mut all_rows = kept;
    all_rows.extend(rows);
    let path = to.join("SOURCE.md");
    std::fs::write(&path, source_md(source, &all_rows))
        .map_err(|e| AuthoringError::Unreadable { path, reason: e.to_string() })?;
    let path = to.join(NEW_PROPERTIES_FILE);
    let text = format!("{}\n", serde_json::to_string_pretty(&new_properties).unwrap_or_default());
    std::fs::write(&path, text).map_err(|e| AuthoringError::Unreadable { path, reason: e.to_string() })?;
    let snapshot = serde_json::json!({
        "source": source.describe(),
        "region": if matches!(source, SchemaSource::CfnLint { .. }) { CFN_LINT_REGION } else { "unknown" },
        "schemaDate": source.schema_date().unwrap_or_else(|| "unknown".to_owned()),
    });
    let path = to.join(super::freeze::SNAPSHOT_FILE);
    let text = format!("{}\n", serde_json::to_string_pretty(&snapshot).unwrap_or_default());
    std::fs::write(&path, text).map_err(|e| AuthoringError::Unreadable { path, reason: e.to_string() })?;
    Ok(written)
}

/// The rows of an existing `SOURCE.md` whose schema file is still there. A row from another
/// source says which.
fn previous_rows(dir: &Path, source: &str) -> BTreeMap<String, (String, String)> {
    let Ok(text) = std::fs::read_to_string(dir.join("SOURCE.md")) else { return BTreeMap::new() };
    let previous_source =
        text.lines().find_map(|l| l.strip_prefix("Source: ")).map(|s| s.trim_end_matches('.').to_owned());
    let mut rows = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let [type_name, file, origin] = cells.as_slice() else { continue };
        if !type_name.contains("::") || !dir.join(file).is_file() {
            continue;
        }
        let origin = match &previous_source {
            Some(previous) if previous != source && !origin.contains("(from ") => format!("{origin} (from {previous})"),
            _ => (*origin).to_owned(),
        };
        rows.insert((*type_name).to_owned(), ((*file).to_owned(), origin));
    }
    rows
}

fn source_md(source: &SchemaSource, rows: &BTreeMap<String, (String, String)>) -> String {
    let mut out = String::from(
        "# Pinned provider schemas\n\nThe official CloudFormation resource provider schemas, one file per type with the same name as\nits template: what the reviewed templates in `templates/` restrict, and what `rcfge templates\nfreeze` turns into the baseline in `templates/baseline/`. Written by `rcfge schemas import`\n(`--all` for the whole snapshot); `SNAPSHOT.json` records the source and its schema date.\nRefresh them with the same command, then review the diff, `rcfge templates gaps --since` the\nprevious snapshot and `rcfge templates gaps` (which marks the properties the refresh added, recorded\nin `NEW-PROPERTIES.json`), and run `rcfge templates freeze` as its own reviewed step.\n\n",
    );
    let _ = writeln!(out, "Source: {}.\n", source.describe());
    out.push_str("| type | file | taken from |\n|---|---|---|\n");
    for (type_name, (file, origin)) in rows {
        let _ = writeln!(out, "| {type_name} | {file} | {origin} |");
    }
    out.push_str(
        "\nTo refresh from cfn-lint:\n\n```sh\npip download --no-deps --no-binary :all: cfn-lint==VERSION -d /tmp/cfn-lint\ntar -xzf /tmp/cfn-lint/cfn_lint-VERSION.tar.gz -C /tmp/cfn-lint\nrcfge schemas import --from /tmp/cfn-lint/cfn_lint-VERSION --all\nrcfge templates freeze\n```\n",
    );
    out
}

/// The property paths the last import added, per type (empty when there is no record).
pub(crate) fn read_new_properties(dir: &Path) -> BTreeMap<String, Vec<String>> {
    std::fs::read(dir.join(NEW_PROPERTIES_FILE)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

/// Keys sorted at every level, so that a refresh shows only real changes.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

fn read_provider_json(path: &Path) -> Result<Value, AuthoringError> {
    let body =
        std::fs::read(path).map_err(|e| AuthoringError::Unreadable { path: path.to_owned(), reason: e.to_string() })?;
    serde_json::from_slice(&body)
        .map_err(|e| AuthoringError::Unreadable { path: path.to_owned(), reason: e.to_string() })
}

/// [`cfn_lint_regions`], read on first use.
fn cached_regions<'a>(
    root: &Path,
    cache: &'a std::sync::OnceLock<Vec<(String, Value)>>,
) -> Result<&'a [(String, Value)], AuthoringError> {
    if let Some(regions) = cache.get() {
        return Ok(regions);
    }
    let regions = cfn_lint_regions(root)?;
    Ok(cache.get_or_init(|| regions))
}

/// Every Region's map of types to schema files in a cfn-lint distribution, [`CFN_LINT_REGION`]
/// first, then the others by name: a type is taken from us-east-1 when it is there, else from
/// the first Region that has it. (In cfn-lint 1.58.0 a type's schema never has properties in
/// another Region that it lacks in us-east-1; some types exist only elsewhere.) `sam` is not a
/// Region: its `AWS::Serverless::*` types are a transform, expanded before any hook runs.
fn cfn_lint_regions(root: &Path) -> Result<Vec<(String, Value)>, AuthoringError> {
    let dir = root.join("src/cfnlint/data/schemas/providers");
    let mut regions = vec![(CFN_LINT_REGION.to_owned(), read_provider_json(&root.join(providers_file()))?)];
    let entries =
        std::fs::read_dir(&dir).map_err(|e| AuthoringError::Unreadable { path: dir.clone(), reason: e.to_string() })?;
    let mut others: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| p.file_stem().is_some_and(|s| s != CFN_LINT_REGION && s != "sam"))
        .collect();
    others.sort();
    for path in others {
        let region = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        regions.push((region, read_provider_json(&path)?));
    }
    Ok(regions)
}

fn providers_file() -> PathBuf {
    Path::new("src/cfnlint/data/schemas/providers").join(format!("{CFN_LINT_REGION}.json"))
}

fn resources_dir() -> PathBuf {
    PathBuf::from("src/cfnlint/data/schemas/resources")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cfn_lint_tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join(resources_dir())).unwrap();
        std::fs::create_dir_all(root.join("src/cfnlint/data/schemas/providers")).unwrap();
        std::fs::write(root.join("PKG-INFO"), "Metadata-Version: 2.1\nName: cfn-lint\nVersion: 9.9.9\n").unwrap();
        std::fs::write(root.join(providers_file()), json!({"AWS::X::Y": "abc123"}).to_string()).unwrap();
        std::fs::write(
            root.join(resources_dir()).join("abc123.json"),
            json!({"typeName": "AWS::X::Y", "b": 1, "a": {"d": 1, "c": 2}}).to_string(),
        )
        .unwrap();
        dir
    }

    #[test]
    fn imports_from_a_cfn_lint_distribution() {
        let tree = cfn_lint_tree();
        let source = SchemaSource::detect(tree.path()).unwrap();
        assert!(matches!(&source, SchemaSource::CfnLint { version, .. } if version == "9.9.9"));
        let out = tempfile::tempdir().unwrap();
        let files = import(&source, &["AWS::X::Y".to_owned()], out.path()).unwrap();
        assert_eq!(files, ["aws-x-y.json"]);
        let written = std::fs::read_to_string(out.path().join("aws-x-y.json")).unwrap();
        assert!(
            written.find("\"a\"").unwrap() < written.find("\"b\"").unwrap() && written.ends_with("}\n"),
            "{written}"
        );
        let source_md = std::fs::read_to_string(out.path().join("SOURCE.md")).unwrap();
        assert!(
            source_md.contains("version 9.9.9")
                && source_md.contains("| AWS::X::Y | aws-x-y.json | resources/abc123.json |")
        );
        assert!(matches!(
            import(&source, &["AWS::No::Such".to_owned()], out.path()),
            Err(AuthoringError::NoProviderSchema { .. })
        ));

        // Importing another type keeps the rows of the schemas already pinned.
        std::fs::write(out.path().join("aws-a-b.json"), "{}").unwrap();
        let with_other = source_md.replace(
            "| AWS::X::Y | aws-x-y.json | resources/abc123.json |",
            "| AWS::A::B | aws-a-b.json | resources/old.json |\n| AWS::X::Y | aws-x-y.json | resources/abc123.json |",
        );
        std::fs::write(out.path().join("SOURCE.md"), with_other).unwrap();
        import(&source, &["AWS::X::Y".to_owned()], out.path()).unwrap();
        let source_md = std::fs::read_to_string(out.path().join("SOURCE.md")).unwrap();
        assert!(source_md.contains("| AWS::A::B | aws-a-b.json | resources/old.json |"), "{source_md}");
        assert!(source_md.contains("| AWS::X::Y | aws-x-y.json | resources/abc123.json |"), "{source_md}");

        // A refresh records what upstream added since the previous snapshot.
        let newer = json!({"typeName": "AWS::X::Y", "properties": {"Old": {"type": "string"}, "NewFeature": {"type": "object", "properties": {"On": {"type": "boolean"}}}}});
        std::fs::write(
            out.path().join("aws-x-y.json"),
            json!({"typeName": "AWS::X::Y", "properties": {"Old": {"type": "string"}}}).to_string(),
        )
        .unwrap();
        std::fs::write(tree.path().join(resources_dir()).join("abc123.json"), newer.to_string()).unwrap();
        import(&source, &["AWS::X::Y".to_owned()], out.path()).unwrap();
        assert_eq!(read_new_properties(out.path())["AWS::X::Y"], ["NewFeature", "NewFeature.On"]);
    }

    #[test]
    fn imports_from_the_published_zip() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("CloudformationSchema.zip");
        let mut writer = zip::ZipWriter::new(std::fs::File::create(&archive).unwrap());
        let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        writer.start_file("aws-x-y.json", options).unwrap();
        std::io::Write::write_all(
            &mut writer,
            json!({"typeName": "AWS::X::Y", "properties": {}}).to_string().as_bytes(),
        )
        .unwrap();
        writer.finish().unwrap();
        let source = SchemaSource::detect(&archive).unwrap();
        assert_eq!(source, SchemaSource::Zip(archive.clone()));
        let out = tempfile::tempdir().unwrap();
        assert_eq!(import(&source, &["AWS::X::Y".to_owned()], out.path()).unwrap(), ["aws-x-y.json"]);
        assert!(matches!(source.load("AWS::No::Such"), Err(AuthoringError::NoProviderSchema { .. })));
        std::fs::write(dir.path().join("broken.zip"), b"not a zip").unwrap();
        let broken = SchemaSource::detect(&dir.path().join("broken.zip")).unwrap();
        assert!(matches!(broken.load("AWS::X::Y"), Err(AuthoringError::Unreadable { .. })));
    }

    #[test]
    fn imports_from_a_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("aws-x-y.json"), json!({"typeName": "AWS::X::Y"}).to_string()).unwrap();
        std::fs::write(dir.path().join("aws-x-z.json"), json!({"typeName": "AWS::Other::Type"}).to_string()).unwrap();
        let source = SchemaSource::detect(dir.path()).unwrap();
        assert_eq!(source, SchemaSource::Folder(dir.path().to_owned()));
        assert!(source.load("AWS::X::Y").is_ok());
        assert!(
            matches!(source.load("AWS::X::Z"), Err(AuthoringError::Unreadable { .. })),
            "a file holding another type is refused"
        );
    }
}
