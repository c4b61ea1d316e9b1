//! `rcfge`: the command line over the rcfge library. [`flags`] parses the arguments and
//! resolves them into the library's settings; `main` builds one engine, calls the library,
//! prints what it returns and maps the outcome to an exit code. Nothing about validation,
//! formatting or walking directories lives here.

mod flags;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use rcfge::authoring::{self, publish};
use rcfge::lambda;
use rcfge::report::{self, events, exit, impact};
use rcfge::template::{S3Location, client_from_environment};
use rcfge::{Action, Engine, stack};

use flags::{Cli, ListFormat, Output, Run, SummaryFormat, TemplateSettings};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    let outcome = flags::resolve(cli, &|name| std::env::var_os(name)).and_then(run);
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            // Paths and names in an error come from the command line and the file system.
            eprintln!("rcfge: {}", report::terminal_safe(&format!("{error:#}")));
            ExitCode::from(exit::USAGE)
        }
    }
}

fn print_impact(impact: &impact::Impact, format: SummaryFormat) -> anyhow::Result<()> {
    match format {
        SummaryFormat::Text => out!("{}", impact::text(impact)),
        SummaryFormat::Json => outln!("{}", serde_json::to_string_pretty(&impact::json(impact))?),
        SummaryFormat::Html => out!("{}", impact::html(impact)),
    }
    Ok(())
}

async fn engine(source: TemplateSettings) -> anyhow::Result<Engine> {
    Ok(Engine::open(&source.location, &source.s3, source.config).await?)
}

/// The engine for a command that judges or renders for a person: a source that cannot be read
/// is said once, as a usage error (exit 2), not once per resource as a finding. The `hook`
/// commands answer as the function would, so they do not check first.
async fn checked_engine(source: TemplateSettings) -> anyhow::Result<Engine> {
    let engine = engine(source).await?;
    engine.check_source().await?;
    Ok(engine)
}

fn run(command: Run) -> anyhow::Result<u8> {
    // `validate` of several files judges them side by side (`stack::check_files`): a worker per
    // core. Everything else does one thing at a time, and one thread holds less memory.
    let runtime = match &command {
        Run::Validate { files, .. } if files.len() > 1 || files.iter().any(|f| f.is_dir()) => {
            tokio::runtime::Builder::new_multi_thread().enable_all().build()?
        }
        _ => tokio::runtime::Builder::new_current_thread().enable_all().build()?,
    };
    runtime.block_on(async {
        match command {
            Run::Validate { source, context, parameters, files, named, output } => {
                let engine = std::sync::Arc::new(checked_engine(source).await?);
                let (context, options) = (context?, stack::StackOptions::for_files(parameters?));
                let files = stack::stack_files(&files, named)?;
                let reports = stack::check_files(&engine, &context, &options, &files).await;
                match output {
                    Output::Text(options) => out!("{}", report::text_styled(&reports, options)),
                    Output::Json => outln!("{}", serde_json::to_string_pretty(&report::json::render(&reports))?),
                    Output::Sarif => outln!("{}", serde_json::to_string_pretty(&report::sarif::render(&reports))?),
                    Output::Junit => out!("{}", report::junit::render(&reports)),
                    Output::Summary(format) => print_impact(&impact::of_files(&reports), format)?,
                }
                // The process ends next: freeing every compiled schema one by one is work for nothing.
                std::mem::forget(engine);
                Ok(report::exit_code(&reports))
            }
            Run::Render { source, context, type_name, logical_id } => {
                let engine = checked_engine(source).await?;
                match engine.render(&type_name, &logical_id, Action::Create, &context?).await {
                    Ok(schema) => {
                        outln!("{}", serde_json::to_string_pretty(&schema)?);
                        Ok(exit::CLEAN)
                    }
                    Err(fault) => {
                        let (text, code) = report::render_failure(&fault);
                        eprint!("{text}");
                        Ok(code)
                    }
                }
            }
            Run::HookInvoke { source, event, defaults } => {
                let engine = engine(source).await?;
                let bytes = std::fs::read(&event).with_context(|| format!("cannot read {}", event.display()))?;
                let answer = lambda::answer_bytes(&engine, &bytes, &defaults, lambda::TIME_BUDGET).await;
                outln!("{}", serde_json::to_string_pretty(&answer.response)?);
                Ok(events::exit_code(&answer.response))
            }
            Run::HookServeEvents { source, dir, defaults, records } => {
                let engine = engine(source).await?;
                let replayed = lambda::replay_dir(&engine, &dir, &defaults).await?;
                if let Some(path) = records {
                    std::fs::write(&path, events::records(&replayed))
                        .with_context(|| format!("cannot write {}", path.display()))?;
                }
                out!("{}", events::table(&replayed));
                Ok(events::worst_exit_code(&replayed))
            }
            Run::TemplatesNew { type_name, dirs, stdout, force } => {
                if stdout {
                    out!("{}", authoring::scaffold::scaffold_text(&type_name, &dirs.schemas)?);
                } else {
                    let written =
                        authoring::scaffold::write_scaffold(&type_name, &dirs.schemas, &dirs.templates, force)?;
                    outln!("wrote {}: prune it, tighten it, then run rcfge templates lint", written.display());
                }
                Ok(exit::CLEAN)
            }
            Run::TemplatesLint { paths, schemas } => {
                let linted = authoring::lint::lint_paths(&paths, &schemas)?;
                out!("{}", authoring::lint::text(&linted));
                Ok(if linted.findings.is_empty() { exit::CLEAN } else { exit::FINDINGS })
            }
            Run::TemplatesList { templates, format } => {
                let listed = authoring::list::list(&templates)?;
                match format {
                    ListFormat::Text => out!("{}", authoring::list::text(&listed)),
                    ListFormat::Json => outln!("{}", serde_json::to_string_pretty(&listed)?),
                }
                Ok(exit::CLEAN)
            }
            Run::TemplatesGaps { type_name, dirs } => {
                let reports = authoring::gaps::for_templates(&dirs.templates, &dirs.schemas, type_name.as_deref())?;
                out!("{}", authoring::gaps::text(&reports));
                Ok(exit::CLEAN)
            }
            Run::SchemaChanges { since, dirs } => {
                let changes = authoring::changes::since(&since, &dirs.schemas)?;
                out!("{}", authoring::changes::text(&changes, &since));
                Ok(exit::CLEAN)
            }
            Run::TemplatesFreeze { dirs } => {
                let baseline = dirs.templates.join(rcfge::template::BASELINE_DIR);
                let frozen = authoring::freeze::freeze_dir(&dirs.schemas, &baseline)?;
                outln!("froze {} baseline templates into {} ({})", frozen.written, baseline.display(), frozen.snapshot);
                for removed in &frozen.removed {
                    outln!("removed {removed}: the snapshot no longer has its type");
                }
                Ok(exit::CLEAN)
            }
            Run::DecisionsSummarize { files, format } => {
                let mut reader = impact::RecordsReader::default();
                for path in &files {
                    let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
                    reader.read(&path.display().to_string(), std::io::BufReader::new(file))?;
                }
                let overview = reader.finish()?;
                print_impact(&overview, format)?;
                Ok(if overview.refuses() { exit::FINDINGS } else { exit::CLEAN })
            }
            Run::WaiversLint { templates, guard_rules } => {
                let today = rcfge::rollout::Date::today();
                let findings = authoring::waivers::lint(&templates, &guard_rules, today)?;
                out!("{}", authoring::waivers::text(&findings));
                Ok(if findings.is_empty() { exit::CLEAN } else { exit::FINDINGS })
            }
            Run::SchemasImport { from, types, all, dirs } => {
                let (count, source) =
                    authoring::import::import_for_templates(&from, types, all, &dirs.templates, &dirs.schemas)?;
                outln!("imported {count} schemas from {source} into {}", dirs.schemas.display());
                Ok(exit::CLEAN)
            }
            Run::Completions { shell } => {
                let mut script = Vec::new();
                clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "rcfge", &mut script);
                out!("{}", String::from_utf8_lossy(&script));
                Ok(exit::CLEAN)
            }
            Run::Publish { to, s3, templates, guard_rules, schemas, dry_run, delete } => {
                let location = S3Location::parse(&to)?;
                let files = publish::local_set(&templates, &guard_rules)?;
                let problems = publish::check_set(&templates, &guard_rules, &schemas, &files);
                if !problems.is_empty() {
                    eprintln!("rcfge: {}", publish::PublishError::Refused { problems });
                    return Ok(exit::FINDINGS);
                }
                let client = client_from_environment(&s3?).await;
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
