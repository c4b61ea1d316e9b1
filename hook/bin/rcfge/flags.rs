//! The command line's flags, and their resolution into the library's settings in one place:
//! nothing past [`resolve`] sees a clap type, reads an environment variable of rcfge's (the
//! AWS SDK reads its own configuration when `publish` or an S3 source builds a client) or the
//! project file. For the template source and the context, a flag wins over its environment
//! variable, which wins over the project file (`.rcfge.yaml`).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use rcfge::config::project::{self, LoadedConfig};
use rcfge::config::{ConfigError, s3_settings};
use rcfge::lambda::EventDefaults;
use rcfge::report::TextOptions;
use rcfge::stack::NamedFiles;
use rcfge::template::check_variable_name;
use rcfge::template::{S3Settings, TemplateLocation, file_name_for_type};
use rcfge::{Context, EngineConfig};
use rcfge::{PARTITIONS, is_account_id, is_region, partition_for_region};
use serde_json::{Map, Value};

#[derive(Parser)]
#[command(name = "rcfge", version, about = "Enforce restricted resource schema templates on CloudFormation")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The project file to read instead of the nearest .rcfge.yaml at or above the working
    /// directory (or RCFGE_CONFIG).
    #[arg(long, global = true, value_name = "FILE", conflicts_with = "no_config")]
    config: Option<PathBuf>,
    /// Read no project file.
    #[arg(long, global = true)]
    no_config: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Validate every resource of CloudFormation templates (JSON or YAML).
    Validate {
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        exempt: ExemptArgs,
        #[command(flatten)]
        context: ContextArgs,
        /// Stack templates to validate (`-` for standard input), and directories to find them in
        /// (*.json, *.yaml, *.yml, *.template; hidden entries and node_modules left out; files
        /// that are not templates skipped). Default: the project file's `paths`.
        #[arg(value_name = "TEMPLATE|DIR")]
        files: Vec<PathBuf>,
        /// Skip named files that are not CloudFormation templates (no Resources section), as a
        /// directory walk does, instead of refusing them: for pre-commit, which passes every
        /// matching file.
        #[arg(long)]
        skip_non_templates: bool,
        /// Show only refused resources, resources that could not be judged and unreadable files
        /// (text format); the counts still cover everything.
        #[arg(long, short)]
        quiet: bool,
        /// Report format (html only with --summary).
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Print the overview of what enforcing today would refuse (by type, rule and file)
        /// instead of every finding.
        #[arg(long)]
        summary: bool,
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
    /// Summarise the hook's decision records (its log lines, as CloudWatch Logs exports them).
    Decisions {
        #[command(subcommand)]
        command: DecisionsCommand,
    },
    /// Check the security team's waivers.
    Waivers {
        #[command(subcommand)]
        command: WaiversCommand,
    },
    /// Pin official provider schemas.
    Schemas {
        #[command(subcommand)]
        command: SchemasCommand,
    },
    /// Print a shell completion script (bash: `rcfge completions bash > /etc/bash_completion.d/rcfge`;
    /// zsh: into a directory of `$fpath` as `_rcfge`; fish: `~/.config/fish/completions/rcfge.fish`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Upload the template set (templates, baseline, Guard rules, _variables.json,
    /// _settings.json, _waivers.json) to the hooks' bucket, after checking it; prints the diff
    /// against the bucket.
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
enum DecisionsCommand {
    /// What the hook refused and would refuse once enforced, by account, type and rule, and
    /// the waivers used.
    Summarize {
        /// Exported log files: JSON lines (optionally after a timestamp) or the output of
        /// `aws logs filter-log-events`.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: SummaryFormat,
    },
}

/// The formats of an overview.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SummaryFormat {
    Text,
    Json,
    Html,
}

#[derive(Subcommand)]
enum WaiversCommand {
    /// Check <templates>/_waivers.json: malformed, expired, never-matching and over-broad
    /// waivers (exit 1 on any finding).
    Lint {
        /// Template directory.
        #[arg(long, default_value = "templates", value_name = "DIR")]
        templates: PathBuf,
        /// The Guard rules directory (for waivers of a Guard rule).
        #[arg(long, default_value = "guard-rules", value_name = "DIR")]
        guard_rules: PathBuf,
    },
}

#[derive(Subcommand)]
enum SchemasCommand {
    /// Write schemas/<type>.json and schemas/SOURCE.md from a folder of provider schemas,
    /// CloudformationSchema.zip as AWS publishes it, or an unpacked cfn-lint source distribution
    /// (`pip download --no-deps --no-binary :all: cfn-lint==1.58.0`, then `tar xzf` it).
    Import {
        /// The folder, the .zip, or the unpacked cfn-lint distribution (a .tar.gz is not read:
        /// unpack it first).
        #[arg(long, value_name = "PATH")]
        from: PathBuf,
        /// Types to import (default: the type of every template).
        #[arg(long, value_name = "TYPE", value_delimiter = ',', value_parser = parse_type_name)]
        types: Vec<String>,
        /// Import every type of the source (the whole snapshot, for the baseline).
        #[arg(long, conflicts_with = "types")]
        all: bool,
        #[command(flatten)]
        dirs: AuthoringDirs,
    },
}

/// The report formats of `rcfge validate`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
    Junit,
    Html,
}

/// The formats of `rcfge templates list`.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
}

/// How `rcfge validate` prints its report.
#[derive(Clone, Copy)]
pub enum Output {
    /// Text, in colour or not, complete or failures only.
    Text(TextOptions),
    Json,
    Sarif,
    Junit,
    /// The overview of what enforcing would refuse.
    Summary(SummaryFormat),
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
    /// Check templates (exit 1 on any finding): the given files and directories, else every
    /// template of the templates directory.
    Lint {
        /// Template files or directories of templates (default: the templates directory).
        #[arg(value_name = "TEMPLATE|DIR")]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        dirs: AuthoringDirs,
    },
    /// The approved types: each reviewed template's owner, review date, Guard rules and delete
    /// protection, and whether the baseline judges the other types.
    List {
        #[arg(long, default_value = "templates", value_name = "DIR")]
        templates: PathBuf,
        /// text, or json for scripts.
        #[arg(long, value_enum, default_value = "text")]
        format: ListFormat,
    },
    /// Write the baseline: one generated template per pinned provider schema, closed, into
    /// <templates>/baseline/ (review the diff, then publish).
    Freeze {
        #[command(flatten)]
        dirs: AuthoringDirs,
    },
    /// The feature-gating report: provider properties each template does not approve.
    Gaps {
        /// Only this type.
        #[arg(long = "type", value_name = "TYPE", value_parser = parse_type_name)]
        type_name: Option<String>,
        /// Instead: what the pinned schemas add over an older snapshot (a folder of pinned
        /// schemas, such as schemas/ as committed before a refresh): new types, properties and
        /// allowed values, which `templates freeze` would let into the baseline.
        #[arg(long, value_name = "DIR", conflicts_with = "type_name")]
        since: Option<PathBuf>,
        #[command(flatten)]
        dirs: AuthoringDirs,
    },
}

/// Where the authoring commands read and write.
#[derive(Args)]
pub struct AuthoringDirs {
    /// Template directory.
    #[arg(long, default_value = "templates", value_name = "DIR")]
    pub templates: PathBuf,
    /// Pinned provider schemas.
    #[arg(long, default_value = "schemas", value_name = "DIR")]
    pub schemas: PathBuf,
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
        #[command(flatten)]
        exempt: ExemptArgs,
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
        #[command(flatten)]
        exempt: ExemptArgs,
        /// Region for events without a stack ARN (Cloud Control).
        #[arg(long, env = "RCFGE_DEFAULT_REGION", value_name = "REGION")]
        default_region: Option<String>,
        /// Also write the decision record of every answer to FILE, one JSON line each, as the
        /// function logs them (for `rcfge decisions summarize`).
        #[arg(long, value_name = "FILE")]
        records: Option<PathBuf>,
    },
}

#[derive(Args)]
struct SourceArgs {
    /// Where the templates are: a directory, or s3://bucket/prefix/ (standard AWS SDK
    /// configuration; RCFGE_S3_FORCE_PATH_STYLE for S3-compatible servers). Else RCFGE_TEMPLATES,
    /// else the project file's `templates`, else ./templates.
    #[arg(long, value_name = "DIR|S3_URI")]
    templates: Option<String>,
}

#[derive(Args)]
struct ExemptArgs {
    /// A resource type that may be used without a template (repeatable; a flag only, never read
    /// from the environment or the project file).
    #[arg(long = "exempt", value_name = "TYPE", value_parser = parse_type_name)]
    exempt: Vec<String>,
}

#[derive(Args)]
struct ContextArgs {
    /// Account ID for `{{accountId}}` (else RCFGE_ACCOUNT_ID, else the project file's).
    #[arg(long, value_name = "ID")]
    account_id: Option<String>,
    /// Region for `{{region}}` (else RCFGE_REGION, else the project file's).
    #[arg(long, value_name = "REGION")]
    region: Option<String>,
    /// Partition for `{{partition}}` (else RCFGE_PARTITION, else the project file's, else from
    /// the Region, else aws).
    #[arg(long, value_name = "PARTITION")]
    partition: Option<String>,
    /// Stack name for `{{stackName}}` (else RCFGE_STACK_NAME, else the project file's).
    #[arg(long, value_name = "NAME")]
    stack_name: Option<String>,
    /// An organisation variable, overriding _variables.json, RCFGE_VARS (a JSON object) and the
    /// project file's `vars`; VALUE is JSON if it parses as JSON, else a string (repeatable).
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
    check_variable_name(name).map_err(|e| e.to_string())?;
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok((name.to_owned(), value))
}

/// Where a command's templates are and how to reach them. The location and the S3 settings
/// are checked first, as the engine is built from them before anything else is used.
pub struct TemplateSettings {
    pub location: TemplateLocation,
    pub s3: S3Settings,
    pub config: EngineConfig,
}

/// A command, with its arguments resolved into the library's settings. A check that depends on
/// nothing but the arguments and environment is made here; the ones whose error must wait until
/// the templates are opened (so that, with two things wrong, the same one is reported as
/// always) are kept as results for `main` to take in order.
pub enum Run {
    Validate {
        source: TemplateSettings,
        context: anyhow::Result<Context>,
        /// Parameter values from `--parameters-file` and `--parameter`.
        parameters: anyhow::Result<BTreeMap<String, String>>,
        files: Vec<PathBuf>,
        named: NamedFiles,
        output: Output,
    },
    Render {
        source: TemplateSettings,
        context: anyhow::Result<Context>,
        type_name: String,
        logical_id: String,
    },
    HookInvoke {
        source: TemplateSettings,
        event: PathBuf,
        defaults: EventDefaults,
    },
    HookServeEvents {
        source: TemplateSettings,
        dir: PathBuf,
        defaults: EventDefaults,
        records: Option<PathBuf>,
    },
    TemplatesNew {
        type_name: String,
        dirs: AuthoringDirs,
        stdout: bool,
        force: bool,
    },
    TemplatesLint {
        paths: Vec<PathBuf>,
        schemas: PathBuf,
    },
    TemplatesList {
        templates: PathBuf,
        format: ListFormat,
    },
    TemplatesGaps {
        type_name: Option<String>,
        dirs: AuthoringDirs,
    },
    SchemaChanges {
        since: PathBuf,
        dirs: AuthoringDirs,
    },
    TemplatesFreeze {
        dirs: AuthoringDirs,
    },
    WaiversLint {
        templates: PathBuf,
        guard_rules: PathBuf,
    },
    DecisionsSummarize {
        files: Vec<PathBuf>,
        format: SummaryFormat,
    },
    SchemasImport {
        from: PathBuf,
        types: Vec<String>,
        all: bool,
        dirs: AuthoringDirs,
    },
    Completions {
        shell: clap_complete::Shell,
    },
    Publish {
        to: String,
        /// Checked after the set is: a set that fails its checks is reported first.
        s3: Result<S3Settings, ConfigError>,
        templates: PathBuf,
        guard_rules: PathBuf,
        schemas: PathBuf,
        dry_run: bool,
        delete: bool,
    },
}

/// Resolves the parsed arguments, reading the environment through `env` (`std::env::var_os`
/// in `main`, a map in tests): the only place the command line reads it.
pub fn resolve(cli: Cli, env: &impl Fn(&str) -> Option<OsString>) -> anyhow::Result<Run> {
    // A variable that is not Unicode is treated as unset, as `std::env::var` treats it.
    let var = |name: &str| env(name).and_then(|value| value.into_string().ok());
    // Read only by the commands that use it, so a broken project file stops nothing else.
    let (config, no_config) = (cli.config, cli.no_config);
    let layers = || Layers::load(config.clone(), no_config, &var);
    Ok(match cli.command {
        Command::Validate {
            source,
            exempt,
            context,
            files,
            skip_non_templates,
            quiet,
            format,
            summary,
            parameters,
            parameters_file,
        } => {
            let layers = layers()?;
            let source = source.resolve(exempt, context.variables(&layers)?, &layers, true)?;
            let files = match (files.is_empty(), &layers.file) {
                (false, _) => files,
                (true, Some(file)) if !file.config.paths.is_empty() => file.config.paths.clone(),
                (true, Some(file)) => {
                    bail!(
                        "name templates or directories to validate, or list them under `paths:` in {}",
                        file.path.display()
                    )
                }
                (true, None) => bail!(
                    "name templates or directories to validate, or list them under `paths:` in a {} file",
                    project::FILE_NAME
                ),
            };
            let given = match &parameters_file {
                Some(path) => rcfge::stack::read_parameters_file(path).map_err(anyhow::Error::from),
                None => Ok(BTreeMap::new()),
            };
            let parameters = given.map(|mut given| {
                given.extend(parameters);
                given
            });
            // Colour only for a person: a terminal, and no NO_COLOR (https://no-color.org).
            if quiet && (summary || !matches!(format, Format::Text)) {
                bail!("--quiet shortens the text report; the other formats and --summary are complete by design");
            }
            let output = match (format, summary) {
                (Format::Text, false) => Output::Text(TextOptions {
                    colour: std::io::stdout().is_terminal() && env("NO_COLOR").is_none(),
                    failures_only: quiet,
                }),
                (Format::Json, false) => Output::Json,
                (Format::Sarif, false) => Output::Sarif,
                (Format::Junit, false) => Output::Junit,
                (Format::Html, false) => bail!("--format html is the overview's: add --summary"),
                (Format::Text, true) => Output::Summary(SummaryFormat::Text),
                (Format::Json, true) => Output::Summary(SummaryFormat::Json),
                (Format::Html, true) => Output::Summary(SummaryFormat::Html),
                (Format::Sarif | Format::Junit, true) => bail!("--summary prints text, json or html"),
            };
            let named = if skip_non_templates { NamedFiles::SkipOthers } else { NamedFiles::Templates };
            Run::Validate { source, context: context.context(&layers), parameters, files, named, output }
        }
        Command::Render { type_name, source, context, logical_id } => {
            let layers = layers()?;
            let source =
                source.resolve(ExemptArgs { exempt: Vec::new() }, context.variables(&layers)?, &layers, true)?;
            Run::Render { source, context: context.context(&layers), type_name, logical_id }
        }
        Command::Hook { command: HookCommand::Invoke { event, source, exempt, default_region: region } } => {
            let source = source.resolve(exempt, Variables::default(), &layers()?, false)?;
            Run::HookInvoke { source, event, defaults: event_defaults(region, &var) }
        }
        Command::Hook {
            command: HookCommand::ServeEvents { dir, source, exempt, default_region: region, records },
        } => Run::HookServeEvents {
            source: source.resolve(exempt, Variables::default(), &layers()?, false)?,
            dir,
            defaults: event_defaults(region, &var),
            records,
        },
        Command::Templates { command: TemplatesCommand::New { type_name, dirs, stdout, force } } => {
            Run::TemplatesNew { type_name, dirs, stdout, force }
        }
        Command::Templates { command: TemplatesCommand::Lint { paths, dirs } } => {
            let paths = if paths.is_empty() { vec![dirs.templates] } else { paths };
            Run::TemplatesLint { paths, schemas: dirs.schemas }
        }
        Command::Templates { command: TemplatesCommand::Gaps { type_name, since, dirs } } => match since {
            Some(since) => Run::SchemaChanges { since, dirs },
            None => Run::TemplatesGaps { type_name, dirs },
        },
        Command::Templates { command: TemplatesCommand::Freeze { dirs } } => Run::TemplatesFreeze { dirs },
        Command::Templates { command: TemplatesCommand::List { templates, format } } => {
            Run::TemplatesList { templates, format }
        }
        Command::Decisions { command: DecisionsCommand::Summarize { files, format } } => {
            Run::DecisionsSummarize { files, format }
        }
        Command::Waivers { command: WaiversCommand::Lint { templates, guard_rules } } => {
            Run::WaiversLint { templates, guard_rules }
        }
        Command::Schemas { command: SchemasCommand::Import { from, types, all, dirs } } => {
            Run::SchemasImport { from, types, all, dirs }
        }
        Command::Completions { shell } => Run::Completions { shell },
        Command::Publish { to, templates, guard_rules, schemas, dry_run, delete } => {
            Run::Publish { to, s3: s3_settings(&var), templates, guard_rules, schemas, dry_run, delete }
        }
    })
}

/// Where the template source and the context come from besides the flags: the environment and
/// the project file.
struct Layers<'a> {
    file: Option<LoadedConfig>,
    var: &'a dyn Fn(&str) -> Option<String>,
}

/// A setting's value and where it was given, for the message if it is wrong.
struct Setting {
    value: String,
    origin: String,
}

impl<'a> Layers<'a> {
    /// `--config`, else `RCFGE_CONFIG`, else the nearest `.rcfge.yaml` at or above the working
    /// directory; none with `--no-config`.
    fn load(config: Option<PathBuf>, no_config: bool, var: &'a dyn Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let path = match (config, var("RCFGE_CONFIG").filter(|v| !v.is_empty())) {
            _ if no_config => None,
            (Some(path), _) => Some(path),
            (None, Some(path)) => Some(PathBuf::from(path)),
            (None, None) => std::env::current_dir().ok().and_then(|dir| project::find(&dir)),
        };
        let file = path.as_deref().map(project::load).transpose()?;
        Ok(Layers { file, var })
    }

    /// The flag, else the environment variable, else the project file's key.
    fn pick(
        &self,
        flag: Option<String>,
        flag_name: &str,
        env_name: &str,
        key: &str,
        from_file: impl FnOnce(&project::ProjectConfig) -> Option<String>,
    ) -> Option<Setting> {
        if let Some(value) = flag {
            return Some(Setting { value, origin: flag_name.to_owned() });
        }
        if let Some(value) = (self.var)(env_name).filter(|v| !v.is_empty()) {
            return Some(Setting { value, origin: env_name.to_owned() });
        }
        let file = self.file.as_ref()?;
        let value = from_file(&file.config)?;
        Some(Setting { value, origin: format!("`{key}` in {}", file.path.display()) })
    }
}

impl SourceArgs {
    /// `suggest_types` for the commands that answer a person (`validate`, `render`), not for the
    /// `hook` ones, which answer as the function does.
    fn resolve(
        self,
        exempt: ExemptArgs,
        variables: Variables,
        layers: &Layers,
        suggest_types: bool,
    ) -> anyhow::Result<TemplateSettings> {
        let templates = layers
            .pick(self.templates, "--templates", "RCFGE_TEMPLATES", "templates", |c| c.templates.clone())
            .map_or_else(|| "templates".to_owned(), |setting| setting.value);
        let location = TemplateLocation::parse(&templates)?;
        let config = EngineConfig {
            exempt_types: exempt.exempt.into_iter().collect(),
            variables: variables.overrides,
            variable_fallbacks: variables.fallbacks,
            suggest_types,
            ..EngineConfig::default()
        };
        Ok(TemplateSettings { location, s3: s3_settings(&layers.var)?, config })
    }
}

impl ContextArgs {
    fn context(&self, layers: &Layers) -> anyhow::Result<Context> {
        let account_id = layers.pick(self.account_id.clone(), "--account-id", "RCFGE_ACCOUNT_ID", "account-id", |c| {
            c.account_id.as_ref().map(ToString::to_string)
        });
        if let Some(Setting { value, origin }) = account_id.as_ref().filter(|s| !is_account_id(&s.value)) {
            bail!("{origin} must be an account ID of 12 digits, not `{value}`");
        }
        let region = layers.pick(self.region.clone(), "--region", "RCFGE_REGION", "region", |c| c.region.clone());
        if let Some(Setting { value, origin }) = region.as_ref().filter(|s| !is_region(&s.value)) {
            bail!("{origin} must be a Region code such as eu-west-1, not `{value}`");
        }
        let partition =
            layers.pick(self.partition.clone(), "--partition", "RCFGE_PARTITION", "partition", |c| c.partition.clone());
        if let Some(Setting { value, origin }) = partition.as_ref().filter(|s| !PARTITIONS.contains(&s.value.as_str()))
        {
            bail!("{origin} must be one of {}, not `{value}`", PARTITIONS.join(", "));
        }
        // Given in different places (a Region flag over a project file's partition), the two
        // could name ARNs no account has.
        if let (Some(region), Some(partition)) = (&region, &partition) {
            let expected = partition_for_region(&region.value);
            if partition.value != expected {
                bail!(
                    "{} `{}` does not match {} `{}`, a Region of the {expected} partition",
                    partition.origin,
                    partition.value,
                    region.origin,
                    region.value
                );
            }
        }
        let region = region.map(|s| s.value);
        let partition = partition
            .map(|s| s.value)
            .unwrap_or_else(|| region.as_deref().map_or("aws", partition_for_region).to_owned());
        let stack_name = layers
            .pick(self.stack_name.clone(), "--stack-name", "RCFGE_STACK_NAME", "stack-name", |c| c.stack_name.clone());
        if let Some(Setting { value, origin }) = stack_name.as_ref().filter(|s| !is_stack_name(&s.value)) {
            bail!("{origin} must be a stack name (a letter, then letters, digits and -; at most 128), not `{value}`");
        }
        Ok(Context {
            account_id: account_id.map(|s| s.value),
            region,
            partition: Some(partition),
            stack_name: stack_name.map(|s| s.value),
            ..Context::default()
        })
    }

    /// `RCFGE_VARS`, then `--var` (overriding it name by name), over `_variables.json`; and the
    /// project file's `vars`, which only fill in what `_variables.json` leaves undefined: a
    /// file a pull request can change must not be able to loosen the set's values.
    fn variables(&self, layers: &Layers) -> anyhow::Result<Variables> {
        let mut fallbacks = Map::new();
        if let Some(file) = &layers.file {
            for (name, value) in &file.config.vars {
                check_variable_name(name).with_context(|| format!("`vars` in {}", file.path.display()))?;
                fallbacks.insert(name.clone(), value.clone());
            }
        }
        let mut variables = Map::new();
        if let Some(text) = (layers.var)("RCFGE_VARS").filter(|v| !v.is_empty()) {
            let Ok(Value::Object(given)) = serde_json::from_str::<Value>(&text) else {
                bail!("RCFGE_VARS must be a JSON object of organisation variables, such as {{\"orgId\": \"o-abc\"}}");
            };
            for (name, value) in given {
                check_variable_name(&name).context("RCFGE_VARS")?;
                variables.insert(name, value);
            }
        }
        variables.extend(self.vars.iter().cloned());
        Ok(Variables { overrides: variables, fallbacks })
    }
}

/// Organisation variables given besides the template set's `_variables.json`.
#[derive(Default)]
struct Variables {
    /// From the environment and the flags: they win over `_variables.json`.
    overrides: Map<String, Value>,
    /// From the project file: used only where `_variables.json` has no value.
    fallbacks: Map<String, Value>,
}

/// A name CloudFormation accepts for a stack.
fn is_stack_name(name: &str) -> bool {
    name.len() <= 128
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The Region for events without a stack ARN: the flag (or `RCFGE_DEFAULT_REGION`), else
/// `AWS_REGION`, as the function takes it; neither is checked here, the event is.
fn event_defaults(flag: Option<String>, var: &impl Fn(&str) -> Option<String>) -> EventDefaults {
    EventDefaults { region: flag.or_else(|| var("AWS_REGION").filter(|region| !region.is_empty())) }
}
