//! `rcfge-hook`: the Lambda function behind the CloudFormation Lambda Hook.
//!
//! `main` reads the configuration from the environment (a bad setting stops start-up, so the
//! hook fails closed), builds one engine shared by every invocation, and hands each event to
//! `rcfge::hook::answer`, which never fails: every fault becomes FAILED/InternalFailure.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use lambda_runtime::{LambdaEvent, service_fn};
use rcfge::config::HookConfig;
use rcfge::event::EventDefaults;
use rcfge::{Engine, HookResponse, hook};
use serde_json::value::RawValue;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let filter = EnvFilter::try_new(std::env::var("RCFGE_LOG").unwrap_or_else(|_| "info".to_owned()))?;
    tracing_subscriber::fmt().json().with_env_filter(filter).with_ansi(false).with_current_span(false).init();

    let (engine, defaults) = match start().await {
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
        async move { handle(&engine, &defaults, event.payload).await }
    }))
    .await
}

/// Reads and checks the configuration and builds the engine, once per container.
async fn start() -> anyhow::Result<(Engine, EventDefaults)> {
    let config = HookConfig::from_env(|name| std::env::var(name).ok())?;
    let engine = config.engine().await?;
    let ttl_seconds = config.freshness.ttl.map(|t| t.as_secs());
    tracing::info!(templates = %engine.location(), ttl_seconds, "rcfge-hook ready");
    Ok((engine, config.event_defaults()))
}

/// Answers one invocation and writes its decision line (log record and EMF metrics).
async fn handle(
    engine: &Engine,
    defaults: &EventDefaults,
    event: Box<RawValue>,
) -> Result<HookResponse, lambda_runtime::Error> {
    let answer = hook::answer_bytes(engine, event.get().as_bytes(), defaults).await;
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
    println!("{}", answer.record.emf(u64::try_from(now_ms).unwrap_or(u64::MAX)));
    Ok(answer.response)
}
