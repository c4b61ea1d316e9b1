//! `rcfge`: the command line over the rcfge library. It parses arguments, builds one engine,
//! calls the library and maps the outcome to an exit code; nothing about validation lives here.

// As in the library: nothing from outside (arguments, events, files, S3) may panic the
// process; every fault is an error or a FAILED answer.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, anyhow, bail};
use clap::{Args, Parser, Subcommand};
use rcfge::authoring;
use rcfge::config::s3_settings;
use rcfge::context::{is_account_id, partition_for_region};
use rcfge::engine::check_variable_name;
use rcfge::event::EventDefaults;
use rcfge::intrinsics::Mode;
use rcfge::publish;
use rcfge::report::{self, FileReport, exit};
use rcfge::response::{ErrorCode, HookStatus};
use rcfge::stack::{self, StackOptions};
use rcfge::store::{S3Location, TemplateLocation, client_from_environment, file_name_for_type};
use rcfge::{Action, Context, Engine, EngineConfig, HookResponse, hook};
use serde_json::{Map, Value};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "rcfge", version, about = "Enforce restricted resource schema templates on CloudFormation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate every resource of CloudFormation templates (JSON or YAML).
    Validate {
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        context: ContextArgs,
        /// Stack templates to validate.
        #[arg(required = true, value_name = "TEMPLATE")]
        files: Vec<PathBuf>,
        /// Report format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// A template parameter's value (repeatable). Without one, a parameter with
        /// AllowedValues is checked for each of them, else its Default is used.
        #[arg(long = "parameter", value_name = "NAME=VALUE", value_parser = parse_parameter)]
        parameters: Vec<(String, String)>,
        /// A JSON file of parameter values ({"Name": "value"} or the AWS CLI's
        /// ParameterKey/ParameterValue list); --parameter wins over it.
        #[arg(long, value_name = "FILE")]
        parameters_file: Option<PathBuf>,
    },
    /// Print the JSON Schema a type's template renders to.
    Render {
        /// Resource type, e.g. AWS::S3::Bucket.
        #[arg(value_name = "TYPE")]
        type_name: String,
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        context: ContextArgs,
        /// Logical ID to render `{{logicalResourceId}}` with.
        #[arg(long, default_value = "Resource")]
        logical_id: String,
    },
    /// Run the Lambda Hook locally.
    Hook {
        #[command(subcommand)]
        command: HookCommand,
    },
    /// Write and check restricted templates.
    Templates {
        #[command(subcommand)]
        command: TemplatesCommand,
    },
    /// Pin official provider schemas.
    Schemas {
        #[command(subcommand)]
        command: SchemasCommand,
    },
    /// Upload the template set (templates, Guard rules, _variables.json) to the hooks' bucket,
    /// after checking it; prints the diff against the bucket.
    Publish {
        /// Where the hooks read their templates: s3://bucket/prefix/.
        #[arg(long, value_name = "S3_URI")]
        to: String,
        /// The templates directory.
        #[arg(long, default_value = "templates", value_name = "DIR")]
        templates: PathBuf,
        /// The Guard rules directory.
        #[arg(long, default_value = "guard-rules", value_name = "DIR")]
        guard_rules: PathBuf,
        /// The pinned provider schemas the templates are linted against.
        #[arg(long, default_value = "schemas", value_name = "DIR")]
        schemas: PathBuf,
        /// Print the diff and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Delete objects under the prefix that are not in the set.
        #[arg(long)]
        delete: bool,
    },
}

#[derive(Subcommand)]
enum SchemasCommand {
    /// Write schemas/<type>.json and schemas/SOURCE.md from a folder of provider schemas or an
    /// unpacked cfn-lint source distribution.
    Import {
        /// The folder or the unpacked cfn-lint distribution.
        #[arg(long, value_name = "PATH")]
        from: PathBuf,
        /// Types to import (default: the type of every template).
        #[arg(long, value_name = "TYPE", value_delimiter = ',', value_parser = parse_type_name)]
        types: Vec<String>,
        #[command(flatten)]
        dirs: AuthoringDirs,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Text,
    Json,
    Sarif,
    Junit,
}

#[derive(Subcommand)]
enum TemplatesCommand {
    /// Scaffold a restricted template from the pinned provider schema, for a human to tighten.
    New {
        /// Resource type, e.g. AWS::S3::Bucket.
        #[arg(value_name = "TYPE", value_parser = parse_type_name)]
        type_name: String,
        #[command(flatten)]
        dirs: AuthoringDirs,
        /// Print the scaffold instead of writing it into the templates directory.
        #[arg(long)]
        stdout: bool,
        /// Overwrite an existing template.
        #[arg(long)]
        force: bool,
    },
    /// Check every template of a directory (exit 1 on any finding).
    Lint {
        /// The templates to check.
        #[arg(value_name = "DIR", default_value = "templates")]
        dir: PathBuf,
        /// Pinned provider schemas.
        #[arg(long, default_value = "schemas", value_name = "DIR")]
        schemas: PathBuf,
    },
    /// The feature-gating report: provider properties each template does not approve.
    Gaps {
        /// Only this type.
        #[arg(long = "type", value_name = "TYPE", value_parser = parse_type_name)]
        type_name: Option<String>,
        #[command(flatten)]
        dirs: AuthoringDirs,
    },
}

#[derive(Args)]
struct AuthoringDirs {
    /// Template directory.
    #[arg(long, default_value = "templates", value_name = "DIR")]
    templates: PathBuf,
    /// Pinned provider schemas.
    #[arg(long, default_value = "schemas", value_name = "DIR")]
    schemas: PathBuf,
}

#[derive(Subcommand)]
enum HookCommand {
    /// Answer one hook event (a JSON file) exactly as the Lambda function would. Exit code:
    /// 0 SUCCESS, 1 FAILED/NonCompliant, 2 FAILED/InternalFailure.
    Invoke {
        /// The hook event.
        #[arg(long, value_name = "FILE")]
        event: PathBuf,
        #[command(flatten)]
        source: SourceArgs,
        /// Region for events without a stack ARN (Cloud Control).
        #[arg(long, env = "RCFGE_DEFAULT_REGION", value_name = "REGION")]
        default_region: Option<String>,
    },
    /// Replay every recorded event (*.json) in a directory and print a verdict table. Exit
    /// code: the worst answer (0 all SUCCESS, 1 a NonCompliant, 2 an InternalFailure).
    ServeEvents {
        /// Directory of hook events.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        #[command(flatten)]
        source: SourceArgs,
        /// Region for events without a stack ARN (Cloud Control).
        #[arg(long, env = "RCFGE_DEFAULT_REGION", value_name = "REGION")]
        default_region: Option<String>,
    },
}

#[derive(Args)]
struct SourceArgs {
    /// Where the templates are: a directory, or s3://bucket/prefix/ (standard AWS SDK
    /// configuration; RCFGE_S3_FORCE_PATH_STYLE for S3-compatible servers).
    #[arg(long, default_value = "templates", value_name = "DIR|S3_URI")]
    templates: String,
    /// A resource type that may be used without a template (repeatable).
    #[arg(long = "exempt", value_name = "TYPE", value_parser = parse_type_name)]
    exempt: Vec<String>,
}

#[derive(Args)]
struct ContextArgs {
    /// Account ID for `{{accountId}}`.
    #[arg(long, value_name = "ID")]
    account_id: Option<String>,
    /// Region for `{{region}}`.
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// Partition for `{{partition}}` (default: from --region, else aws).
    #[arg(long, value_name = "PARTITION")]
    partition: Option<String>,
    /// Stack name for `{{stackName}}`.
    #[arg(long, value_name = "NAME")]
    stack_name: Option<String>,
    /// An organisation variable, overriding _variables.json; VALUE is JSON if it parses as
    /// JSON, else a string (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    vars: Vec<(String, Value)>,
}

fn parse_type_name(text: &str) -> Result<String, String> {
    file_name_for_type(text).map(|_| text.to_owned()).map_err(|e| e.to_string())
}

fn parse_parameter(text: &str) -> Result<(String, String), String> {
    let (name, value) = text.split_once('=').ok_or("expected NAME=VALUE")?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!("`{name}` is not a parameter name (letters and digits only)"));
    }
    Ok((name.to_owned(), value.to_owned()))
}

fn parse_var(text: &str) -> Result<(String, Value), String> {
    let (name, value) = text.split_once('=').ok_or("expected NAME=VALUE")?;
    check_variable_name(name)?;
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok((name.to_owned(), value))
}

impl ContextArgs {
    fn context(&self) -> anyhow::Result<Context> {
        if let Some(id) = self.account_id.as_deref().filter(|id| !is_account_id(id)) {
            bail!("--account-id must be 12 digits, not `{id}`");
        }
        let partition = self
            .partition
            .clone()
            .unwrap_or_else(|| self.region.as_deref().map_or("aws", partition_for_region).to_owned());
        Ok(Context {
            account_id: self.account_id.clone(),
            region: self.region.clone(),
            partition: Some(partition),
            stack_name: self.stack_name.clone(),
            ..Context::default()
        })
    }

    fn variables(&self) -> Map<String, Value> {
        self.vars.iter().cloned().collect()
    }
}

async fn engine(source: &SourceArgs, variables: Map<String, Value>) -> anyhow::Result<Engine> {
    let location = TemplateLocation::parse(&source.templates)?;
    let settings = s3_settings(&|name| std::env::var(name).ok())?;
    let config =
        EngineConfig { exempt_types: source.exempt.iter().cloned().collect(), variables, ..EngineConfig::default() };
    Ok(Engine::new(location.open(&settings).await?, config))
}

/// `print!` that ends the program quietly when stdout is closed (`rcfge validate ... | head`)
/// instead of panicking; the exit code is then 141, as for a shell pipeline cut by SIGPIPE.
macro_rules! out {
    ($($arg:tt)*) => { write_stdout(&format!($($arg)*)) };
}

/// `println!`, with the same handling of a closed stdout as [`out!`].
macro_rules! outln {
    ($($arg:tt)*) => { write_stdout(&format!("{}\n", format_args!($($arg)*))) };
}

fn write_stdout(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        eprintln!("rcfge: cannot write to stdout: {error}");
        std::process::exit(i32::from(exit::USAGE));
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("rcfge: {error:#}");
            ExitCode::from(exit::USAGE)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        match cli.command {
            Command::Validate { source, context, files, format, parameters, parameters_file } => {
                let engine = engine(&source, context.variables()).await?;
                let context = context.context()?;
                let mut given = match &parameters_file {
                    Some(path) => {
                        let text =
                            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
                        stack::parse_parameters_file(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?
                    }
                    None => BTreeMap::new(),
                };
                given.extend(parameters);
                let options = StackOptions {
                    parameters: given,
                    mode: Mode::EveryBranch,
                    action: Action::Create,
                    positions: true,
                };
                let reports = validate_files(&engine, &context, &options, &files).await;
                match format {
                    Format::Text => {
                        let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
                        out!("{}", report::text_styled(&reports, colour));
                    }
                    Format::Json => outln!("{}", serde_json::to_string_pretty(&report::json::render(&reports))?),
                    Format::Sarif => outln!("{}", serde_json::to_string_pretty(&report::sarif::render(&reports))?),
                    Format::Junit => out!("{}", report::junit::render(&reports)),
                }
                Ok(report::exit_code(&reports))
            }
            Command::Render { type_name, source, context, logical_id } => {
                let engine = engine(&source, context.variables()).await?;
                let context = context.context()?;
                render(&engine, &type_name, &logical_id, &context).await
            }
            Command::Hook { command: HookCommand::Invoke { event, source, default_region } } => {
                let engine = engine(&source, Map::new()).await?;
                let bytes = std::fs::read(&event).with_context(|| format!("cannot read {}", event.display()))?;
                let answer =
                    hook::answer_bytes(&engine, &bytes, &event_defaults(default_region), hook::TIME_BUDGET).await;
                outln!("{}", serde_json::to_string_pretty(&answer.response)?);
                Ok(hook_exit_code(&answer.response))
            }
            Command::Hook { command: HookCommand::ServeEvents { dir, source, default_region } } => {
                let engine = engine(&source, Map::new()).await?;
                serve_events(&engine, &dir, &event_defaults(default_region)).await
            }
            Command::Templates { command } => templates(command),
            Command::Schemas { command: SchemasCommand::Import { from, types, dirs } } => {
                import_schemas(&from, types, &dirs)
            }
            Command::Publish { to, templates, guard_rules, schemas, dry_run, delete } => {
                let location = S3Location::parse(&to)?;
                let files = publish::local_set(&templates, &guard_rules)?;
                let problems = publish::check_set(&templates, &guard_rules, &schemas, &files);
                if !problems.is_empty() {
                    eprintln!("rcfge: the set fails its checks; nothing was published:");
                    problems.iter().for_each(|p| eprintln!("  {p}"));
                    return Ok(exit::FINDINGS);
                }
                let client = client_from_environment(&s3_settings(&|name| std::env::var(name).ok())?).await;
                let plan = publish::plan(&client, &location, &files).await?;
                if dry_run {
                    out!("{}", plan.diff(&location));
                    outln!("dry run: {} files checked, nothing changed", files.len());
                    return Ok(exit::CLEAN);
                }
                let applied = publish::apply(&client, &location, &files, &plan, delete).await?;
                out!("{}", applied.diff(&location));
                outln!("published: {} files checked", files.len());
                Ok(exit::CLEAN)
            }
        }
    })
}

async fn render(engine: &Engine, type_name: &str, logical_id: &str, context: &Context) -> anyhow::Result<u8> {
    match engine.render(type_name, logical_id, Action::Create, context).await {
        Ok(schema) => {
            outln!("{}", serde_json::to_string_pretty(&schema)?);
            Ok(exit::CLEAN)
        }
        Err(error) => {
            eprintln!("rcfge: {error}");
            let missing = error.missing_variables();
            for name in missing {
                eprintln!("hint: {}", report::hint_for_variable(name));
            }
            Ok(if missing.is_empty() { exit::FINDINGS } else { exit::USAGE })
        }
    }
}

fn templates(command: TemplatesCommand) -> anyhow::Result<u8> {
    match command {
        TemplatesCommand::New { type_name, dirs, stdout, force } => {
            let file_name = file_name_for_type(&type_name)?;
            let provider = read_json(&dirs.schemas.join(&file_name))?;
            let template = authoring::scaffold::scaffold(&provider, &file_name).map_err(anyhow::Error::msg)?;
            let text = format!("{}\n", serde_json::to_string_pretty(&template)?);
            if stdout {
                out!("{text}");
                return Ok(exit::CLEAN);
            }
            let target = dirs.templates.join(&file_name);
            if target.exists() && !force {
                bail!("{} exists; pass --force to overwrite it", target.display());
            }
            std::fs::write(&target, text).with_context(|| format!("cannot write {}", target.display()))?;
            outln!("wrote {}: prune it, tighten it, then run rcfge templates lint", target.display());
            Ok(exit::CLEAN)
        }
        TemplatesCommand::Lint { dir, schemas } => {
            let findings =
                authoring::lint::lint_dir(&dir, &schemas).with_context(|| format!("cannot read {}", dir.display()))?;
            for f in &findings {
                outln!("{}/{}:{}: {}", dir.display(), f.file, f.pointer, f.message);
            }
            let files = authoring::lint::template_files(&dir)?.len();
            let plural = |n: usize, word: &str| if n == 1 { format!("{n} {word}") } else { format!("{n} {word}s") };
            outln!("{}, {}", plural(files, "template"), plural(findings.len(), "finding"));
            Ok(if findings.is_empty() { exit::CLEAN } else { exit::FINDINGS })
        }
        TemplatesCommand::Gaps { type_name, dirs } => {
            let mut reports = Vec::new();
            let new_properties = authoring::import::read_new_properties(&dirs.schemas);
            for path in authoring::lint::template_files(&dirs.templates)? {
                let template = read_json(&path)?;
                let Some(declared) = template.get("typeName").and_then(Value::as_str).map(str::to_owned) else {
                    continue;
                };
                if type_name.as_ref().is_some_and(|wanted| *wanted != declared) {
                    continue;
                }
                let file_name = file_name_for_type(&declared)?;
                let provider = read_json(&dirs.schemas.join(&file_name))?;
                let new_upstream = new_properties.get(&declared).into_iter().flatten().cloned().collect();
                reports.push(authoring::gaps::gaps(&declared, &template, &provider, &new_upstream));
            }
            if reports.is_empty() {
                bail!("no template found for {}", type_name.as_deref().unwrap_or("any type"));
            }
            out!("{}", authoring::gaps::text(&reports));
            Ok(exit::CLEAN)
        }
    }
}

fn import_schemas(from: &Path, types: Vec<String>, dirs: &AuthoringDirs) -> anyhow::Result<u8> {
    let types = if types.is_empty() {
        let mut declared = Vec::new();
        for path in authoring::lint::template_files(&dirs.templates)? {
            declared.extend(read_json(&path)?.get("typeName").and_then(Value::as_str).map(str::to_owned));
        }
        declared
    } else {
        types
    };
    if types.is_empty() {
        bail!("no types to import: pass --types or add templates to {}", dirs.templates.display());
    }
    let source = authoring::import::SchemaSource::detect(from)?;
    std::fs::create_dir_all(&dirs.schemas)?;
    let files = authoring::import::import(&source, &types, &dirs.schemas)?;
    outln!("imported {} schemas from {} into {}", files.len(), source.describe(), dirs.schemas.display());
    Ok(exit::CLEAN)
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let body = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    rcfge::json::from_slice(&body).with_context(|| format!("{} is not valid JSON", path.display()))
}

/// The Region for events without a stack ARN: the flag, else `AWS_REGION`, as in the function.
fn event_defaults(default_region: Option<String>) -> EventDefaults {
    EventDefaults { region: default_region.or_else(|| std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty())) }
}

/// 0 SUCCESS, 1 FAILED/NonCompliant, 2 FAILED/InternalFailure.
fn hook_exit_code(response: &HookResponse) -> u8 {
    match (response.hook_status, response.error_code) {
        (HookStatus::Success, _) => 0,
        (HookStatus::Failed, Some(ErrorCode::NonCompliant)) => 1,
        (HookStatus::Failed, _) => 2,
    }
}

async fn serve_events(engine: &Engine, dir: &Path, defaults: &EventDefaults) -> anyhow::Result<u8> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no *.json events in {}", dir.display());
    }
    let mut rows = Vec::with_capacity(files.len());
    let mut worst = exit::CLEAN;
    for path in &files {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let answer = hook::answer_bytes(engine, &bytes, defaults, hook::TIME_BUDGET).await;
        worst = worst.max(hook_exit_code(&answer.response));
        rows.push(EventRow::new(path, &answer));
    }
    out!("{}", EventRow::table(&rows));
    Ok(worst)
}

/// One line of the `serve-events` table.
struct EventRow {
    event: String,
    resource: String,
    answer: String,
    latency_us: u64,
    message: String,
}

impl EventRow {
    fn new(path: &Path, answer: &hook::Answer) -> Self {
        let record = &answer.record;
        let resource = match (&record.logical_id, &record.type_name) {
            (Some(id), Some(type_name)) => format!("{id} ({type_name})"),
            _ => "-".to_owned(),
        };
        let outcome = match answer.response.error_code {
            Some(code) => format!("FAILED/{code:?}"),
            None => "SUCCESS".to_owned(),
        };
        let event = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        let message = report::shorten_line(&answer.response.message, 100);
        EventRow { event, resource, answer: outcome, latency_us: record.latency_us, message }
    }

    fn table(rows: &[EventRow]) -> String {
        let width = |field: fn(&EventRow) -> &str, title: &str| {
            rows.iter().map(|r| field(r).chars().count()).max().unwrap_or(0).max(title.len())
        };
        let e = width(|r| &r.event, "EVENT");
        let r = width(|r| &r.resource, "RESOURCE");
        let a = width(|r| &r.answer, "ANSWER");
        let mut out = format!("{:e$}  {:r$}  {:a$}  {:>10}  MESSAGE\n", "EVENT", "RESOURCE", "ANSWER", "LATENCY_US");
        for row in rows {
            let line = format!(
                "{:e$}  {:r$}  {:a$}  {:>10}  {}",
                row.event, row.resource, row.answer, row.latency_us, row.message
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

async fn validate_files(
    engine: &Engine,
    context: &Context,
    options: &StackOptions,
    files: &[PathBuf],
) -> Vec<FileReport> {
    let mut reports = Vec::with_capacity(files.len());
    for path in files {
        let shown = path.display().to_string();
        let checked = match std::fs::read_to_string(path) {
            Ok(text) => stack::check_text(engine, &text, context, options).await.map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        reports.push(match checked {
            Ok(checked) => FileReport { path: shown, outcome: Ok(checked.resources), notes: checked.notes },
            Err(reason) => FileReport::unreadable(shown, reason),
        });
    }
    reports
}
