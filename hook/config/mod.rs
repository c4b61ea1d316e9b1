//! The environment variables rcfge reads: all of the Lambda function's, checked once at
//! start-up, and the S3 settings the CLI shares with it. A bad setting stops the function from
//! starting (CloudFormation then fails the hook, closed) rather than being guessed at.
//!
//! [`project`] reads the command line's project file, `.rcfge.yaml`.

pub mod project;

use std::collections::BTreeSet;
use std::time::Duration;

use crate::engine::{Engine, EngineConfig};
use crate::lambda::Metrics;
use crate::lambda::event::EventDefaults;
use crate::template::cache::Freshness;
use crate::template::store::{S3Settings, StoreError, TemplateLocation, file_name_for_type};

/// The longest TTL or stale window accepted, in seconds.
const MAX_SECONDS: u64 = 3600;

/// Everything `rcfge-hook` needs, from its environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookConfig {
    /// `RCFGE_TEMPLATES`: `s3://bucket/prefix/` or a directory.
    pub templates: TemplateLocation,
    /// `RCFGE_CACHE_TTL_SECONDS` (default 60) and `RCFGE_STALE_IF_ERROR_SECONDS` (default 0).
    pub freshness: Freshness,
    /// `RCFGE_EXEMPT_TYPES`: comma-separated resource types allowed without a template.
    pub exempt_types: BTreeSet<String>,
    /// `RCFGE_DEFAULT_REGION`, else `AWS_REGION`: for events without a stack ARN.
    pub default_region: Option<String>,
    /// `RCFGE_S3_FORCE_PATH_STYLE`, on by default when a custom endpoint is set.
    pub s3: S3Settings,
    /// `RCFGE_LOG`: the log filter (`tracing` syntax), default `info`.
    pub log_filter: String,
    /// `RCFGE_METRICS`: `by-verdict` (default), `by-type` or `off`.
    pub metrics: Metrics,
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not set: {hint}")]
    Missing { name: &'static str, hint: &'static str },
    #[error("{name}={value:?} is not valid: {reason}")]
    Invalid { name: &'static str, value: String, reason: String },
}

impl HookConfig {
    /// Reads the configuration through `get` (`std::env::var` in the function; a map in tests).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let templates = get("RCFGE_TEMPLATES").filter(|v| !v.is_empty()).ok_or(ConfigError::Missing {
            name: "RCFGE_TEMPLATES",
            hint: "set it to s3://bucket/prefix/ or a template directory",
        })?;
        let templates = TemplateLocation::parse(&templates).map_err(|e| ConfigError::Invalid {
            name: "RCFGE_TEMPLATES",
            value: templates.clone(),
            reason: e.to_string(),
        })?;
        let ttl = seconds(&get, "RCFGE_CACHE_TTL_SECONDS", 60)?;
        let stale_if_error = seconds(&get, "RCFGE_STALE_IF_ERROR_SECONDS", 0)?;
        Ok(HookConfig {
            templates,
            freshness: Freshness { ttl: Some(ttl), stale_if_error },
            exempt_types: exempt_types(&get)?,
            default_region: default_region(&get)?,
            s3: s3_settings(&get)?,
            log_filter: log_filter(&get)?,
            metrics: metrics(&get)?,
        })
    }

    /// The engine this configuration describes.
    pub async fn engine(&self) -> Result<Engine, StoreError> {
        let config = EngineConfig {
            exempt_types: self.exempt_types.clone(),
            freshness: self.freshness,
            ..EngineConfig::default()
        };
        Engine::open(&self.templates, &self.s3, config).await
    }

    /// What events that lack a Region fall back to.
    pub fn event_defaults(&self) -> EventDefaults {
        EventDefaults { region: self.default_region.clone() }
    }
}

/// S3 client settings from the environment: `RCFGE_S3_FORCE_PATH_STYLE` (`1`/`true`,
/// `0`/`false`), on by default when `AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_S3` is set.
pub fn s3_settings(get: &impl Fn(&str) -> Option<String>) -> Result<S3Settings, ConfigError> {
    let custom_endpoint =
        ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"].iter().any(|name| get(name).is_some_and(|v| !v.is_empty()));
    let force_path_style = match get("RCFGE_S3_FORCE_PATH_STYLE").as_deref() {
        None | Some("") => custom_endpoint,
        Some("1" | "true") => true,
        Some("0" | "false") => false,
        Some(other) => {
            return Err(invalid("RCFGE_S3_FORCE_PATH_STYLE", other, "expected 1, true, 0 or false"));
        }
    };
    Ok(S3Settings { force_path_style, ..S3Settings::default() })
}

fn seconds(get: &impl Fn(&str) -> Option<String>, name: &'static str, default: u64) -> Result<Duration, ConfigError> {
    let Some(value) = get(name).filter(|v| !v.is_empty()) else {
        return Ok(Duration::from_secs(default));
    };
    match value.parse::<u64>() {
        Ok(n) if n <= MAX_SECONDS => Ok(Duration::from_secs(n)),
        _ => Err(invalid(name, &value, &format!("expected whole seconds from 0 to {MAX_SECONDS}"))),
    }
}

fn exempt_types(get: &impl Fn(&str) -> Option<String>) -> Result<BTreeSet<String>, ConfigError> {
    let value = get("RCFGE_EXEMPT_TYPES").unwrap_or_default();
    let mut types = BTreeSet::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        file_name_for_type(name).map_err(|e| invalid("RCFGE_EXEMPT_TYPES", &value, &e.to_string()))?;
        types.insert(name.to_owned());
    }
    Ok(types)
}

/// The Region for events without a stack ARN: `RCFGE_DEFAULT_REGION`, else `AWS_REGION`.
fn default_region(get: &impl Fn(&str) -> Option<String>) -> Result<Option<String>, ConfigError> {
    for name in ["RCFGE_DEFAULT_REGION", "AWS_REGION"] {
        if let Some(region) = get(name).filter(|v| !v.is_empty()) {
            let plain = region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !plain {
                return Err(invalid(
                    if name == "AWS_REGION" { "AWS_REGION" } else { "RCFGE_DEFAULT_REGION" },
                    &region,
                    "not a Region name",
                ));
            }
            return Ok(Some(region));
        }
    }
    Ok(None)
}

fn log_filter(get: &impl Fn(&str) -> Option<String>) -> Result<String, ConfigError> {
    let filter = get("RCFGE_LOG").filter(|v| !v.is_empty()).unwrap_or_else(|| "info".to_owned());
    tracing_subscriber::EnvFilter::try_new(&filter).map_err(|e| invalid("RCFGE_LOG", &filter, &e.to_string()))?;
    Ok(filter)
}

fn metrics(get: &impl Fn(&str) -> Option<String>) -> Result<Metrics, ConfigError> {
    match get("RCFGE_METRICS").filter(|v| !v.is_empty()) {
        None => Ok(Metrics::default()),
        Some(value) => Metrics::parse(&value)
            .ok_or_else(|| invalid("RCFGE_METRICS", &value, "expected by-verdict, by-type or off")),
    }
}

fn invalid(name: &'static str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid { name, value: value.to_owned(), reason: reason.to_owned() }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::template::store::S3Location;

    fn config(vars: &[(&str, &str)]) -> Result<HookConfig, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        HookConfig::from_env(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults() {
        let c = config(&[("RCFGE_TEMPLATES", "s3://org-rcfge/templates/"), ("AWS_REGION", "eu-west-1")]).unwrap();
        assert_eq!(
            c.templates,
            TemplateLocation::S3(S3Location { bucket: "org-rcfge".into(), prefix: "templates/".into() })
        );
        assert_eq!(c.freshness, Freshness { ttl: Some(Duration::from_secs(60)), stale_if_error: Duration::ZERO });
        assert!(c.exempt_types.is_empty());
        assert_eq!(c.default_region.as_deref(), Some("eu-west-1"));
        assert!(!c.s3.force_path_style);
    }

    #[test]
    fn every_setting() {
        let c = config(&[
            ("RCFGE_TEMPLATES", "templates"),
            ("RCFGE_CACHE_TTL_SECONDS", "5"),
            ("RCFGE_STALE_IF_ERROR_SECONDS", "300"),
            ("RCFGE_EXEMPT_TYPES", "AWS::CloudFormation::WaitConditionHandle, Custom::Thing"),
            ("RCFGE_DEFAULT_REGION", "us-gov-west-1"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9000"),
            ("RCFGE_METRICS", "off"),
        ])
        .unwrap();
        assert_eq!(c.metrics, Metrics::Off);
        assert_eq!(c.templates, TemplateLocation::Dir("templates".into()));
        assert_eq!(c.freshness.ttl, Some(Duration::from_secs(5)));
        assert_eq!(c.freshness.stale_if_error, Duration::from_secs(300));
        assert_eq!(c.exempt_types.len(), 2);
        assert_eq!(c.default_region.as_deref(), Some("us-gov-west-1"));
        assert!(c.s3.force_path_style, "on by default with a custom endpoint");
        let c =
            config(&[("RCFGE_TEMPLATES", "t"), ("AWS_ENDPOINT_URL", "http://x"), ("RCFGE_S3_FORCE_PATH_STYLE", "0")])
                .unwrap();
        assert!(!c.s3.force_path_style);
    }

    #[test]
    fn bad_settings_are_refused_with_the_variable_name() {
        let cases: [&[(&str, &str)]; 9] = [
            &[("RCFGE_TEMPLATES", "t"), ("RCFGE_LOG", "rcfge=loud")],
            &[("RCFGE_TEMPLATES", "t"), ("RCFGE_METRICS", "by-account")],
            &[],
            &[("RCFGE_TEMPLATES", "s3://Bad_Bucket/")],
            &[("RCFGE_TEMPLATES", "t"), ("RCFGE_CACHE_TTL_SECONDS", "-1")],
            &[("RCFGE_TEMPLATES", "t"), ("RCFGE_CACHE_TTL_SECONDS", "86400")],
            &[("RCFGE_TEMPLATES", "t"), ("RCFGE_EXEMPT_TYPES", "AWS::S3::Bucket,../etc")],
            &[("RCFGE_TEMPLATES", "t"), ("RCFGE_S3_FORCE_PATH_STYLE", "yes")],
            &[("RCFGE_TEMPLATES", "t"), ("RCFGE_DEFAULT_REGION", "EU West")],
        ];
        for vars in cases {
            let err = config(vars).unwrap_err().to_string();
            assert!(err.starts_with("RCFGE_"), "{vars:?}: {err}");
        }
    }
}
