//! Templates from an S3 bucket: `s3://bucket/prefix/` holds the same files as `templates/`.
//!
//! Every request is bounded (connect, attempt and operation timeouts, two attempts) so that a
//! verdict always comes well inside CloudFormation's 30 s window. Revalidation uses
//! `If-None-Match` with the stored ETag: a `304` keeps what is cached.

use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;

use super::source::{
    BoxFuture, Fetch, Fetched, MAX_TEMPLATE_BYTES, StoreError, TemplateSource, check_file_name, content_version,
};

/// `s3://bucket/prefix/`: where the templates are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Empty, or ends with `/`.
    pub prefix: String,
}

impl S3Location {
    /// Parses `s3://bucket` or `s3://bucket/prefix/` (a missing trailing `/` is added).
    pub fn parse(uri: &str) -> Result<Self, StoreError> {
        let bad = |reason: &str| StoreError::InvalidLocation { location: uri.to_owned(), reason: reason.to_owned() };
        let rest = uri.strip_prefix("s3://").ok_or_else(|| bad("expected s3://bucket/prefix/"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(bad("not a valid bucket name"));
        }
        if prefix.split('/').any(|segment| segment == "..") {
            return Err(bad("the prefix may not contain `..`"));
        }
        let prefix = if prefix.is_empty() || prefix.ends_with('/') { prefix.to_owned() } else { format!("{prefix}/") };
        Ok(S3Location { bucket: bucket.to_owned(), prefix })
    }

    /// The object key of a template file.
    pub fn key(&self, file_name: &str) -> String {
        format!("{}{file_name}", self.prefix)
    }
}

impl std::fmt::Display for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// Client settings for the S3 source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Settings {
    /// Path-style addressing (`https://endpoint/bucket/key`), for S3-compatible servers.
    pub force_path_style: bool,
    pub connect_timeout: Duration,
    /// One HTTP attempt, up to the response headers.
    pub attempt_timeout: Duration,
    /// All attempts together, and the whole fetch including the body.
    pub operation_timeout: Duration,
    pub max_attempts: u32,
}

impl Default for S3Settings {
    fn default() -> Self {
        S3Settings {
            force_path_style: false,
            connect_timeout: Duration::from_secs(2),
            attempt_timeout: Duration::from_secs(3),
            operation_timeout: Duration::from_secs(8),
            max_attempts: 2,
        }
    }
}

impl S3Settings {
    /// The SDK's timeout configuration for these settings.
    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .operation_timeout(self.operation_timeout)
            .build()
    }

    /// The SDK's retry configuration for these settings.
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard().with_max_attempts(self.max_attempts).with_initial_backoff(Duration::from_millis(50))
    }
}

/// Templates in an S3 bucket.
#[derive(Clone, Debug)]
pub struct S3Source {
    client: Client,
    location: S3Location,
    /// The longest one fetch may take, body included.
    deadline: Duration,
}

/// An S3 client from the standard SDK configuration (credentials, Region, `AWS_ENDPOINT_URL`),
/// bounded by `settings`.
pub async fn client_from_environment(settings: &S3Settings) -> Client {
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(settings.timeout_config())
        .retry_config(settings.retry_config())
        .load()
        .await;
    let config = aws_sdk_s3::config::Builder::from(&shared).force_path_style(settings.force_path_style).build();
    Client::from_conf(config)
}

impl S3Source {
    /// A source using the standard AWS SDK configuration of the environment (credentials,
    /// Region, `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`) with these settings.
    pub async fn from_environment(location: S3Location, settings: &S3Settings) -> Self {
        S3Source::new(client_from_environment(settings).await, location, settings)
    }

    /// A source over an already configured client; `settings.operation_timeout` bounds each
    /// fetch, body included.
    pub fn new(client: Client, location: S3Location, settings: &S3Settings) -> Self {
        S3Source { client, location, deadline: settings.operation_timeout }
    }

    /// One fetch, bounded as a whole: the SDK's timeouts stop at the response headers, so
    /// reading the body is bounded here too.
    async fn get(&self, file_name: &str, known_version: Option<&str>) -> Result<Fetch, StoreError> {
        check_file_name(file_name)?;
        let key = self.location.key(file_name);
        match tokio::time::timeout(self.deadline, self.get_object(&key, known_version)).await {
            Ok(result) => result,
            Err(_) => Err(self.fault(&key, format!("no complete answer within {} ms", self.deadline.as_millis()))),
        }
    }

    async fn get_object(&self, key: &str, known_version: Option<&str>) -> Result<Fetch, StoreError> {
        let request = self.client.get_object().bucket(&self.location.bucket).key(key);
        let request = match known_version {
            Some(etag) => request.if_none_match(etag),
            None => request,
        };
        let mut output = match request.send().await {
            Ok(output) => output,
            Err(error) => return self.classify(key, error),
        };
        let too_large = |size: String| {
            self.fault(key, format!("the object is {size} bytes, more than the {MAX_TEMPLATE_BYTES} allowed"))
        };
        let declared = output.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        if declared > MAX_TEMPLATE_BYTES {
            return Err(too_large(declared.to_string()));
        }
        let mut body = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
        while let Some(chunk) = output.body.next().await {
            let chunk = chunk.map_err(|e| self.fault(key, format!("reading the body failed: {e}")))?;
            if (body.len() + chunk.len()) as u64 > MAX_TEMPLATE_BYTES {
                return Err(too_large("more than that".to_owned()));
            }
            body.extend_from_slice(&chunk);
        }
        // S3 always sends an ETag; a server that does not is still usable, just not cheaply.
        let version = output.e_tag().map_or_else(|| content_version(&body), str::to_owned);
        Ok(Fetch::Found(Fetched { body, version }))
    }

    fn fault(&self, key: &str, reason: String) -> StoreError {
        StoreError::S3 { location: format!("s3://{}/{key}", self.location.bucket), reason }
    }

    /// What an error answer means: not found (`NoSuchKey` only: a missing bucket or a
    /// misrouted endpoint is a fault), not modified, or a fault.
    fn classify(&self, key: &str, error: SdkError<GetObjectError>) -> Result<Fetch, StoreError> {
        let status = error.raw_response().map(|r| r.status().as_u16());
        if status == Some(304) {
            return Ok(Fetch::NotModified);
        }
        if let SdkError::ServiceError(service) = &error
            && matches!(service.err(), GetObjectError::NoSuchKey(_))
        {
            return Ok(Fetch::NotFound);
        }
        let reason = match (&error, status) {
            (SdkError::ServiceError(service), Some(status)) => {
                let code = service.err().code().unwrap_or("unknown error");
                let message = service.err().message().unwrap_or_default();
                format!("HTTP {status} {code} {message}").trim_end().to_owned()
            }
            _ => super::describe_error(&error),
        };
        Err(self.fault(key, reason))
    }
}

impl TemplateSource for S3Source {
    fn location(&self) -> String {
        self.location.to_string()
    }

    fn fetch<'a>(
        &'a self,
        file_name: &'a str,
        known_version: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Fetch, StoreError>> {
        Box::pin(self.get(file_name, known_version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locations() {
        let loc = S3Location::parse("s3://org-templates/rcfge/v1").unwrap();
        assert_eq!(loc, S3Location { bucket: "org-templates".into(), prefix: "rcfge/v1/".into() });
        assert_eq!(loc.key("aws-s3-bucket.json"), "rcfge/v1/aws-s3-bucket.json");
        assert_eq!(loc.to_string(), "s3://org-templates/rcfge/v1/");
        assert_eq!(S3Location::parse("s3://bucket").unwrap().prefix, "");
        assert_eq!(S3Location::parse("s3://bucket/").unwrap().prefix, "");
        for bad in ["bucket/prefix", "s3://", "s3://B", "s3://bucket_x/", "s3://bucket/../x/", "https://bucket/"] {
            assert!(S3Location::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
