//! `rcfge-hook`: the Lambda function behind the CloudFormation Lambda Hook.
//!
//! `main` reads the configuration from the environment (a bad setting stops start-up, so the
//! hook fails closed), builds one engine shared by every invocation, and hands each event to
//! `rcfge::lambda::answer_bytes`, which never fails: every fault becomes FAILED/InternalFailure.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::{LambdaEvent, service_fn};
use rcfge::config::HookConfig;
use rcfge::lambda;
use rcfge::lambda::{EventDefaults, Metrics};
use rcfge::{Engine, HookResponse};
use serde_json::value::RawValue;
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Kept free before Lambda's deadline to send the answer.
const DEADLINE_MARGIN: Duration = Duration::from_secs(2);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // A bad RCFGE_LOG is reported by the configuration check below; log at info meanwhile.
    let filter = std::env::var("RCFGE_LOG").ok().and_then(|f| EnvFilter::try_new(f).ok());
    let filter = filter.unwrap_or_else(|| EnvFilter::new("info"));
    tracing_subscriber::fmt().json().with_env_filter(filter).with_ansi(false).with_current_span(false).init();

    let (engine, defaults, metrics) = match start().await {
        Ok(ready) => ready,
        Err(error) => {
            // Not starting is failing closed: CloudFormation gets no SUCCESS from this function.
            tracing::error!(error = format!("{error:#}"), "rcfge-hook cannot start");
            eprintln!("rcfge-hook: {error:#}");
            return Err(error.into());
        }
    };
    let engine = Arc::new(engine);
    // The raw payload, so the event is parsed strictly (duplicate keys refused) by the library.
    lambda_runtime::run(service_fn(|event: LambdaEvent<Box<RawValue>>| {
        let engine = engine.clone();
        let defaults = defaults.clone();
        let budget = time_budget(event.context.deadline);
        async move { handle(&engine, &defaults, metrics, event.payload, budget).await }
    }))
    .await
}

/// Reads and checks the configuration and builds the engine, once per container.
async fn start() -> anyhow::Result<(Engine, EventDefaults, Metrics)> {
    let config = HookConfig::from_env(|name| std::env::var(name).ok())?;
    let engine = config.engine().await?;
    let ttl_seconds = config.freshness.ttl.map(|t| t.as_secs());
    tracing::info!(templates = %engine.location(), ttl_seconds, "rcfge-hook ready");
    Ok((engine, config.event_defaults(), config.metrics))
}

/// Time left before Lambda's deadline (in ms since the epoch), less a margin to send the
/// answer, and never more than the hook's own budget.
fn time_budget(deadline_ms: u64) -> Duration {
    let now_ms = u64::try_from(now().as_millis()).unwrap_or(u64::MAX);
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms)).saturating_sub(DEADLINE_MARGIN);
    left.min(lambda::TIME_BUDGET)
}

/// Answers one invocation and writes its decision line (log record and EMF metrics).
async fn handle(
    engine: &Engine,
    defaults: &EventDefaults,
    metrics: Metrics,
    event: Box<RawValue>,
    budget: Duration,
) -> Result<HookResponse, lambda_runtime::Error> {
    let answer = lambda::answer_bytes(engine, event.get().as_bytes(), defaults, budget).await;
    let line = answer.record.emf(u64::try_from(now().as_millis()).unwrap_or(u64::MAX), metrics);
    // A log line that cannot be written must not turn the answer into a Lambda error.
    let _ = writeln!(std::io::stdout().lock(), "{line}");
    Ok(answer.response)
}

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}
