//! `rcfge publish`: ships the template set (templates, the generated baseline, Guard rules,
//! `_variables.json`, `_settings.json`, `_waivers.json`) to the bucket the hooks read, and only
//! a set that passes its own checks.
//!
//! ```text
//! local set ─► check (lint, Guard rules parse, every asked-for rule file present)
//!           ─► plan (compare SHA-256 with what the bucket holds) ─► apply (upload, delete)
//! ```
//!
//! Uploads carry the content's SHA-256 as an S3 checksum (S3 refuses a corrupted body) and as
//! `x-amz-meta-sha256`, which the next plan compares. Guard rules and variables go up before
//! the templates that use them, the settings and waivers after the templates, and
//! deletions come last, so that a hook reading mid-publish fails closed rather than judging
//! with half a set. Requests run `CONCURRENT_REQUESTS` (32) at a time: a full baseline is ~1,900
//! objects.

use std::collections::BTreeMap;
use std::path::Path;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ChecksumAlgorithm;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::authoring::{freeze, lint};
use crate::policy::guard::{self, GuardRules};
use crate::rollout::{WAIVERS_FILE, Waivers};
use crate::template::SETTINGS_FILE;
use crate::template::settings::{Settings, parse_settings};
use crate::template::store::{BASELINE_DIR, S3Location, VARIABLES_FILE};

/// How many S3 requests publishing keeps in flight.
const CONCURRENT_REQUESTS: usize = 32;

/// The metadata key holding a file's SHA-256 (hex).
pub const HASH_METADATA: &str = "sha256";

/// One file of the set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalFile {
    /// The object name under the prefix (`aws-s3-bucket.json`, `aws-s3-bucket.guard`).
    pub name: String,
    pub body: Vec<u8>,
    /// SHA-256 of `body`, hex.
    pub sha256: String,
}

/// What publishing does to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    Add,
    Update,
    Unchanged,
    /// In the bucket, not in the set: deleted with `--delete`, else left alone.
    Remove,
    Keep,
}

impl Change {
    fn sign(self) -> &'static str {
        match self {
            Change::Add => "+",
            Change::Update => "~",
            Change::Unchanged => "=",
            Change::Remove => "-",
            Change::Keep => "?",
        }
    }
}

/// Every object name with what publishing does to it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub changes: BTreeMap<String, Change>,
}

impl Plan {
    /// The diff against the bucket, one line per object that changes, then a count.
    pub fn diff(&self, location: &S3Location) -> String {
        let mut out = String::new();
        for (name, change) in &self.changes {
            match change {
                Change::Unchanged => {}
                Change::Keep => {
                    out.push_str(&format!("? {name} (in the bucket only; kept, --delete removes it)\n"));
                }
                other => out.push_str(&format!("{} {name}\n", other.sign())),
            }
        }
        let count = |c: Change| self.changes.values().filter(|v| **v == c).count();
        out.push_str(&format!(
            "{location}: {} to add, {} to update, {} unchanged, {} to delete, {} kept\n",
            count(Change::Add),
            count(Change::Update),
            count(Change::Unchanged),
            count(Change::Remove),
            count(Change::Keep)
        ));
        out
    }

    /// Whether applying it would change the bucket.
    pub fn is_empty(&self) -> bool {
        self.changes.values().all(|c| matches!(c, Change::Unchanged | Change::Keep))
    }
}

/// Why publishing stopped.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    /// The set fails `check_set`: one problem a line.
    #[error("the set fails its checks; nothing was published:{}", .problems.iter().map(|p| format!("\n  {p}")).collect::<String>())]
    Refused { problems: Vec<String> },
    #[error("S3 {operation} {location}: {reason}")]
    S3 { operation: &'static str, location: String, reason: String },
}

/// The set to publish: `templates/*.json` (with `_variables.json`, `_settings.json` and
/// `_waivers.json`),
/// `templates/baseline/*.json` (as `baseline/<file>`) and `guard-rules/*.guard`.
pub fn local_set(templates: &Path, guard_rules: &Path) -> Result<Vec<LocalFile>, PublishError> {
    let mut files = Vec::new();
    let baseline = templates.join(BASELINE_DIR);
    for (dir, extension, required) in
        [(templates, "json", true), (&baseline, "json", false), (guard_rules, "guard", false)]
    {
        let folder = if dir == baseline { format!("{BASELINE_DIR}/") } else { String::new() };
        let read_error = |reason: String| PublishError::Read { path: dir.display().to_string(), reason };
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(read_error(e.to_string())),
        };
        for entry in entries {
            let path = entry.map_err(|e| read_error(e.to_string()))?.path();
            if !path.is_file() || path.extension().is_none_or(|e| e != extension) {
                continue;
            }
            let name = format!("{folder}{}", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default());
            let body = std::fs::read(&path)
                .map_err(|e| PublishError::Read { path: path.display().to_string(), reason: e.to_string() })?;
            files.push(LocalFile { sha256: hex_sha256(&body), name, body });
        }
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

/// Everything that must hold before a set may be published: `rcfge templates lint` is clean,
/// every Guard rule file parses and is asked for by its template, every template that asks for
/// Guard rules has them, and the rules pass their `cfn-guard test` cases (`<guard>/tests/`).
pub fn check_set(templates: &Path, guard_rules: &Path, schemas: &Path, files: &[LocalFile]) -> Vec<String> {
    let mut problems: Vec<String> = match lint::lint_dir(templates, schemas) {
        Ok(linted) => linted.findings.iter().map(|f| format!("{}: {}: {}", f.file, f.pointer, f.message)).collect(),
        Err(e) => vec![format!("cannot lint {}: {e}", templates.display())],
    };
    problems.extend(check_baseline(schemas, files));
    if let Some(settings) = files.iter().find(|f| f.name == SETTINGS_FILE) {
        match parse_settings(&settings.body) {
            Ok(settings) => problems.extend(unknown_types(&settings, templates, schemas)),
            Err(e) => problems.push(format!("{SETTINGS_FILE}: {e}")),
        }
    }
    // A waivers file that does not load would fail every decision with a violation.
    if let Some(waivers) = files.iter().find(|f| f.name == WAIVERS_FILE)
        && let Err(e) = Waivers::parse(&waivers.body)
    {
        problems.push(format!("{WAIVERS_FILE}: {e}"));
    }
    let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    let asking: Vec<String> = files
        .iter()
        .filter(|f| f.name.ends_with(".json") && asks_for_guard_rules(&f.body))
        .map(|f| guard::file_name_for(&f.name))
        .collect();
    for file in files {
        if file.name.ends_with(".guard") {
            if let Err(error) = GuardRules::parse(&file.name, &file.body) {
                problems.push(error.to_string());
            }
            // Rules no template asks for would never run: a typo or a forgotten flag.
            if !asking.contains(&file.name) {
                problems.push(format!("{}: no template sets x-rcfge.guardRules for these rules", file.name));
            }
        } else if file.name != VARIABLES_FILE && asks_for_guard_rules(&file.body) {
            let wanted = guard::file_name_for(&file.name);
            if !names.contains(&wanted.as_str()) {
                problems.push(format!("{}: x-rcfge.guardRules is set but there is no {wanted}", file.name));
            }
        }
    }
    problems.extend(guard_tests(guard_rules));
    problems
}

/// The type names and services the settings name that no pinned schema or template has: a
/// misspelt name (`AWS::IAM::role`) would never match, and leave its type to the default.
fn unknown_types(settings: &Settings, templates: &Path, schemas: &Path) -> Vec<String> {
    // The type a schema or template file declares, as it spells it.
    let declared = |path: &Path| -> Option<String> {
        let document = crate::json::from_slice(&std::fs::read(path).ok()?).ok()?;
        document.get("typeName")?.as_str().map(str::to_owned)
    };
    let known = |type_name: &str| {
        type_name.starts_with("Custom::")
            || crate::template::file_name_for_type(type_name).is_ok_and(|file| {
                [schemas.join(&file), templates.join(&file)].iter().any(|p| declared(p).as_deref() == Some(type_name))
            })
    };
    let pinned = crate::authoring::freeze::provider_files(schemas).unwrap_or_default();
    let names =
        settings.reviewed_template_required.iter().map(String::as_str).chain(settings.enforcement.named_types());
    let mut problems = Vec::new();
    for name in names {
        let found = match name.strip_suffix('*') {
            // `AWS::IAM::*` → a pinned `aws-iam-*.json` whose type starts `AWS::IAM::`.
            Some(service) => {
                let prefix = service.to_ascii_lowercase().replace("::", "-");
                pinned
                    .iter()
                    .find(|path| path.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&prefix)))
                    .and_then(|path| declared(path))
                    .is_some_and(|type_name| type_name.starts_with(service))
            }
            None => known(name),
        };
        if !found {
            problems.push(format!("{SETTINGS_FILE}: `{name}` names no pinned type (type names are case-sensitive)"));
        }
    }
    problems
}

/// The rules' `cfn-guard test` cases: a rule whose type filter is misspelt skips every
/// resource, and only its test cases show it.
fn guard_tests(dir: &Path) -> Option<String> {
    if !dir.join("tests").is_dir() {
        return None;
    }
    guard::run_tests(dir).err().map(|detail| format!("the Guard rule tests in {} fail: {detail}", dir.display()))
}

fn asks_for_guard_rules(body: &[u8]) -> bool {
    crate::json::from_slice(body)
        .ok()
        .and_then(|t| t.get("x-rcfge").and_then(|m| m.get("guardRules")).and_then(serde_json::Value::as_bool))
        .unwrap_or(false)
}

/// Compares the set with the objects directly under the prefix.
pub async fn plan(client: &Client, location: &S3Location, files: &[LocalFile]) -> Result<Plan, PublishError> {
    let remote = remote_hashes(client, location).await?;
    let mut plan = Plan::default();
    for file in files {
        let change = match remote.get(&file.name) {
            None => Change::Add,
            Some(Some(hash)) if *hash == file.sha256 => Change::Unchanged,
            Some(_) => Change::Update,
        };
        plan.changes.insert(file.name.clone(), change);
    }
    for name in remote.keys() {
        plan.changes.entry(name.clone()).or_insert(Change::Keep);
    }
    Ok(plan)
}

/// Applies a plan: uploads, then deletions when `delete` is set. Returns the plan as applied
/// (objects only in the bucket become [`Change::Remove`] with `delete`).
pub async fn apply(
    client: &Client,
    location: &S3Location,
    files: &[LocalFile],
    plan: &Plan,
    delete: bool,
) -> Result<Plan, PublishError> {
    let mut applied = plan.clone();
    let uploads: Vec<&LocalFile> =
        files.iter().filter(|f| matches!(plan.changes.get(&f.name), Some(Change::Add | Change::Update))).collect();
    // In waves, each finished before the next starts: Guard rules and variables before the
    // templates and waivers that use them, the settings after the baseline they may switch on.
    let wave = |f: &LocalFile| match f.name.as_str() {
        VARIABLES_FILE => 0,
        SETTINGS_FILE | WAIVERS_FILE => 2,
        name if name.ends_with(".guard") => 0,
        _ => 1,
    };
    for current in 0..3 {
        let batch: Vec<LocalFile> = uploads.iter().filter(|f| wave(f) == current).map(|f| (*f).clone()).collect();
        let (client, location) = (client.clone(), location.clone());
        run_all(batch, move |file| {
            let (client, location) = (client.clone(), location.clone());
            async move { upload(&client, &location, &file).await }
        })
        .await?;
    }
    if delete {
        let names: Vec<String> =
            applied.changes.iter().filter(|(_, c)| **c == Change::Keep).map(|(name, _)| name.clone()).collect();
        let (client, location) = (client.clone(), location.clone());
        run_all(names.clone(), move |name| {
            let (client, location) = (client.clone(), location.clone());
            async move {
                let key = location.key(&name);
                client.delete_object().bucket(&location.bucket).key(&key).send().await.map_err(|e| {
                    PublishError::S3 {
                        operation: "DeleteObject",
                        location: format!("s3://{}/{key}", location.bucket),
                        reason: crate::template::store::describe_error(&e),
                    }
                })?;
                Ok(())
            }
        })
        .await?;
        for name in names {
            applied.changes.insert(name, Change::Remove);
        }
    }
    Ok(applied)
}

/// Runs `task` on every item, [`CONCURRENT_REQUESTS`] at a time; the first error stops the
/// rest from starting and is returned once the running ones have finished.
async fn run_all<T, F, Fut, R>(items: Vec<T>, task: F) -> Result<Vec<R>, PublishError>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<R, PublishError>> + Send + 'static,
{
    let mut running = tokio::task::JoinSet::new();
    let mut results = Vec::with_capacity(items.len());
    let mut first_error = None;
    let mut items = items.into_iter();
    loop {
        while first_error.is_none() && running.len() < CONCURRENT_REQUESTS {
            let Some(item) = items.next() else { break };
            running.spawn(task(item));
        }
        let Some(joined) = running.join_next().await else { break };
        match joined {
            Ok(Ok(result)) => results.push(result),
            Ok(Err(error)) => {
                first_error.get_or_insert(error);
            }
            Err(join) => {
                first_error.get_or_insert(PublishError::S3 {
                    operation: "request",
                    location: String::new(),
                    reason: join.to_string(),
                });
            }
        }
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(results),
    }
}

/// Every baseline file of the set must be exactly what `rcfge templates freeze` makes of its
/// pinned schema: the baseline is generated, never edited.
fn check_baseline(schemas: &Path, files: &[LocalFile]) -> Vec<String> {
    let mut problems = Vec::new();
    for file in files {
        let Some(name) = file.name.strip_prefix(&format!("{BASELINE_DIR}/")) else { continue };
        let pinned = schemas.join(name);
        let expected =
            crate::authoring::read_json(&pinned).and_then(|provider| freeze::freeze(&provider)).and_then(|template| {
                serde_json::to_string_pretty(&template).map_err(crate::authoring::AuthoringError::Serialize)
            });
        match expected {
            Ok(text) if format!("{text}\n").as_bytes() == file.body.as_slice() => {}
            Ok(_) => problems.push(format!(
                "{}: differs from what `rcfge templates freeze` makes of {}: run it again, never edit a baseline",
                file.name,
                pinned.display()
            )),
            Err(e) => problems.push(format!("{}: no usable pinned schema to check it against: {e}", file.name)),
        }
    }
    problems
}

async fn upload(client: &Client, location: &S3Location, file: &LocalFile) -> Result<(), PublishError> {
    let key = location.key(&file.name);
    let content_type = if file.name.ends_with(".json") { "application/json" } else { "text/plain; charset=utf-8" };
    let digest = Sha256::digest(&file.body);
    client
        .put_object()
        .bucket(&location.bucket)
        .key(&key)
        .content_type(content_type)
        .metadata(HASH_METADATA, &file.sha256)
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .checksum_sha256(base64::engine::general_purpose::STANDARD.encode(digest))
        .body(ByteStream::from(file.body.clone()))
        .send()
        .await
        .map_err(|e| PublishError::S3 {
            operation: "PutObject",
            location: format!("s3://{}/{key}", location.bucket),
            reason: crate::template::store::describe_error(&e),
        })?;
    Ok(())
}

/// The objects directly under the prefix, with the SHA-256 they were published with (`None`
/// when an object was not put there by `rcfge publish`).
async fn remote_hashes(
    client: &Client,
    location: &S3Location,
) -> Result<BTreeMap<String, Option<String>>, PublishError> {
    let s3_error = |operation: &'static str, reason: String| PublishError::S3 {
        operation,
        location: location.to_string(),
        reason,
    };
    let mut names = Vec::new();
    let mut pages = client.list_objects_v2().bucket(&location.bucket).prefix(&location.prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| s3_error("ListObjectsV2", crate::template::store::describe_error(&e)))?;
        for object in page.contents() {
            // The set's own places only: directly under the prefix, and its baseline folder.
            let name = object.key().and_then(|key| key.strip_prefix(&location.prefix));
            let ours = name.is_some_and(|n| {
                let rest = n.strip_prefix(&format!("{BASELINE_DIR}/")).unwrap_or(n);
                !rest.is_empty() && !rest.contains('/')
            });
            if let Some(name) = name.filter(|_| ours) {
                names.push(name.to_owned());
            }
        }
    }
    let (head_client, head_location) = (client.clone(), location.clone());
    let heads = run_all(names, move |name| {
        let (client, location) = (head_client.clone(), head_location.clone());
        async move {
            let head =
                client.head_object().bucket(&location.bucket).key(location.key(&name)).send().await.map_err(|e| {
                    PublishError::S3 {
                        operation: "HeadObject",
                        location: location.to_string(),
                        reason: crate::template::store::describe_error(&e),
                    }
                })?;
            Ok((name, head.metadata().and_then(|m| m.get(HASH_METADATA)).cloned()))
        }
    })
    .await?;
    Ok(heads.into_iter().collect())
}

fn hex_sha256(body: &[u8]) -> String {
    Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_set_passes_its_checks() {
        let files = local_set(Path::new("templates"), Path::new("guard-rules")).unwrap();
        assert!(files.iter().any(|f| f.name == "aws-s3-bucket.guard"));
        assert!(files.iter().any(|f| f.name == VARIABLES_FILE));
        assert!(!files.iter().any(|f| f.name.ends_with(".yaml")), "guard tests are not published");
        assert_eq!(
            check_set(Path::new("templates"), Path::new("guard-rules"), Path::new("schemas"), &files),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_template_asking_for_missing_guard_rules_is_refused() {
        let mut files = local_set(Path::new("templates"), Path::new("guard-rules")).unwrap();
        files.retain(|f| f.name != "aws-sqs-queue.guard");
        let problems = check_set(Path::new("templates"), Path::new("guard-rules"), Path::new("schemas"), &files);
        assert_eq!(problems, ["aws-sqs-queue.json: x-rcfge.guardRules is set but there is no aws-sqs-queue.guard"]);
    }

    #[test]
    fn guard_rules_no_template_asks_for_are_refused() {
        let mut files = local_set(Path::new("templates"), Path::new("guard-rules")).unwrap();
        files.push(LocalFile {
            name: "aws-sns-topic.guard".into(),
            body: b"rule r { Resources !empty }".to_vec(),
            sha256: String::new(),
        });
        let problems = check_set(Path::new("templates"), Path::new("guard-rules"), Path::new("schemas"), &files);
        assert_eq!(problems, ["aws-sns-topic.guard: no template sets x-rcfge.guardRules for these rules"]);
    }

    #[test]
    fn the_diff_lists_changes_and_counts() {
        let plan = Plan {
            changes: BTreeMap::from([
                ("a.json".to_owned(), Change::Add),
                ("b.json".to_owned(), Change::Unchanged),
                ("c.guard".to_owned(), Change::Update),
                ("old.json".to_owned(), Change::Keep),
            ]),
        };
        let location = S3Location::parse("s3://org-rcfge/templates/").unwrap();
        assert_eq!(
            plan.diff(&location),
            "+ a.json\n~ c.guard\n? old.json (in the bucket only; kept, --delete removes it)\n\
             s3://org-rcfge/templates/: 1 to add, 1 to update, 1 unchanged, 0 to delete, 1 kept\n"
        );
        assert!(!plan.is_empty());
    }
}
