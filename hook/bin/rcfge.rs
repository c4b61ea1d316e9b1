//! `rcfge`: the command line over the rcfge library. It parses arguments, builds one engine,
//! calls the library and maps the outcome to an exit code; nothing about validation lives here.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use rcfge::context::{is_account_id, partition_for_region};
use rcfge::engine::check_variable_name;
use rcfge::event::EventDefaults;
use rcfge::report::{self, FileReport, exit};
use rcfge::response::{ErrorCode, HookStatus};
use rcfge::{Action, Context, DirSource, Engine, EngineConfig, cfn, hook};
use serde_json::{Map, Value};

#[derive(Parser)]
#[command(
    name = "rcfge",
    version,
    about = "Enforce restricted resource schema templates on CloudFormation"
)]
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
}

#[derive(Args)]
struct SourceArgs {
    /// Directory of restricted resource schema templates.
    #[arg(long, default_value = "templates", value_name = "DIR")]
    templates: PathBuf,
    /// A resource type that may be used without a template (repeatable).
    #[arg(long = "exempt", value_name = "TYPE")]
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

fn engine(source: &SourceArgs, variables: Map<String, Value>) -> anyhow::Result<Engine> {
    let dir = DirSource::new(&source.templates)?;
    let config = EngineConfig {
        exempt_types: source.exempt.iter().cloned().collect(),
        cache_ttl: None,
        variables,
    };
    Ok(Engine::new(dir, config))
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
    match cli.command {
        Command::Validate { source, context, files } => {
            let engine = engine(&source, context.variables())?;
            let context = context.context()?;
            let reports = runtime.block_on(validate_files(&engine, &context, &files));
            print!("{}", report::text(&reports));
            Ok(report::exit_code(&reports))
        }
        Command::Render {
            type_name,
            source,
            context,
            logical_id,
        } => {
            let engine = engine(&source, context.variables())?;
            let context = context.context()?;
            match runtime.block_on(engine.render(&type_name, &logical_id, Action::Create, &context)) {
                Ok(schema) => {
                    println!("{}", serde_json::to_string_pretty(&schema)?);
                    Ok(exit::CLEAN)
                }
                Err(error) => {
                    eprintln!("rcfge: {error}");
                    let missing = error.missing_variables();
                    for name in missing {
                        eprintln!("hint: {}", report::hint_for_variable(name));
                    }
                    Ok(if missing.is_empty() {
                        exit::FINDINGS
                    } else {
                        exit::USAGE
                    })
                }
            }
        }
        Command::Hook {
            command:
                HookCommand::Invoke {
                    event,
                    source,
                    default_region,
                },
        } => {
            let engine = engine(&source, Map::new())?;
            let bytes = std::fs::read(&event).with_context(|| format!("cannot read {}", event.display()))?;
            let defaults = EventDefaults { region: default_region };
            let response = runtime.block_on(hook::answer_bytes(&engine, &bytes, &defaults));
            println!("{}", serde_json::to_string_pretty(&response)?);
            Ok(match (response.hook_status, response.error_code) {
                (HookStatus::Success, _) => 0,
                (HookStatus::Failed, Some(ErrorCode::NonCompliant)) => 1,
                (HookStatus::Failed, _) => 2,
            })
        }
    }
}

async fn validate_files(engine: &Engine, context: &Context, files: &[PathBuf]) -> Vec<FileReport> {
    let mut reports = Vec::with_capacity(files.len());
    for path in files {
        let outcome = match read_stack(path) {
            Ok(stack) => Ok(cfn::check_stack(engine, &stack, context).await),
            Err(reason) => Err(reason),
        };
        reports.push(FileReport {
            path: path.display().to_string(),
            outcome,
        });
    }
    reports
}

fn read_stack(path: &Path) -> Result<cfn::StackTemplate, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    cfn::parse(&text).map_err(|e| e.to_string())
}
