//! STACK and CHANGE_SET payloads: fetched from the presigned URL in the event (HTTPS only,
//! bounded in time and size) and read in either documented key casing. Every fault is an
//! error, so the target fails closed.

use std::sync::OnceLock;
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Map, Value};

use crate::decision::Action;
use crate::stack::{Change, ChangeSet};

/// Far above the largest stack template (1 MB) with its previous version and a change set's
/// contexts; a larger body is refused rather than read.
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024 * 1024;
/// The longest the whole fetch (connect, headers, body) may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(8);

/// Why a payload cannot be judged.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PayloadError {
    #[error("the payload URL is not a valid URL")]
    BadUrl,
    #[error("the payload URL must use HTTPS (plain HTTP only to a loopback address), not {scheme}://{host}")]
    NotHttps { scheme: String, host: String },
    #[error("cannot set up TLS for the payload: {0}")]
    Tls(String),
    #[error("cannot fetch the payload from {url}: {reason}")]
    Fetch { url: String, reason: String },
    #[error("fetching the payload from {url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("the payload at {url} is larger than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("no payload from {url} within {timeout_ms} ms")]
    Timeout { url: String, timeout_ms: u128 },
    #[error("the payload is not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    #[error("the payload is not a JSON object")]
    NotAnObject,
    #[error("the payload has no {field}")]
    Missing { field: &'static str },
    #[error("changed resource {index}: {reason}")]
    BadChange { index: usize, reason: String },
}

/// The body of a STACK payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackPayload {
    /// The new template text (JSON or YAML).
    pub template: String,
}

type HttpsClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// One client per process: loading the trusted roots is the slow part.
fn client() -> Result<&'static HttpsClient, PayloadError> {
    static CLIENT: OnceLock<Result<HttpsClient, String>> = OnceLock::new();
    let built = CLIENT.get_or_init(|| {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| e.to_string())?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Client::builder(TokioExecutor::new()).build(connector))
    });
    built.as_ref().map_err(|e| PayloadError::Tls(e.clone()))
}

/// Fetches a payload: HTTPS (plain HTTP only to a loopback address), a 200 answer, at most
/// [`MAX_PAYLOAD_BYTES`], all within `timeout`.
pub async fn fetch(url: &str, timeout: Duration) -> Result<Vec<u8>, PayloadError> {
    let uri: hyper::Uri = url.parse().map_err(|_| PayloadError::BadUrl)?;
    let scheme = uri.scheme_str().unwrap_or_default().to_owned();
    let host = uri.host().ok_or(PayloadError::BadUrl)?.to_owned();
    let loopback = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]" | "::1");
    if scheme != "https" && !(scheme == "http" && loopback) {
        return Err(PayloadError::NotHttps { scheme, host });
    }
    // Named in errors without its query: a presigned URL's signature is a credential.
    // Nor its user information (`user:password@`), if it has any.
    let port = uri.port().map(|p| format!(":{p}")).unwrap_or_default();
    let shown = format!("{scheme}://{host}{port}{}", uri.path());
    let client = client()?;
    let get = async {
        let fetch_error = |reason| PayloadError::Fetch { url: shown.clone(), reason };
        let response = client.get(uri).await.map_err(|e| fetch_error(error_chain(&e)))?;
        if response.status() != hyper::StatusCode::OK {
            return Err(PayloadError::Status { url: shown.clone(), status: response.status().as_u16() });
        }
        let body = Limited::new(response.into_body(), MAX_PAYLOAD_BYTES);
        match body.collect().await {
            Ok(collected) => Ok(collected.to_bytes().to_vec()),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                Err(PayloadError::TooLarge { url: shown.clone(), limit: MAX_PAYLOAD_BYTES })
            }
            Err(e) => Err(fetch_error(e.to_string())),
        }
    };
    tokio::time::timeout(timeout, get)
        .await
        .map_err(|_| PayloadError::Timeout { url: shown.clone(), timeout_ms: timeout.as_millis() })?
}

/// An error and its causes on one line (`connection refused` is a cause, not the error).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Reads a STACK payload.
pub fn parse_stack(bytes: &[u8]) -> Result<StackPayload, PayloadError> {
    let payload = object(bytes)?;
    let template = field(&payload, "template").and_then(Value::as_str).unwrap_or_default();
    if template.trim().is_empty() {
        return Err(PayloadError::Missing { field: "template" });
    }
    Ok(StackPayload { template: template.to_owned() })
}

/// Reads a CHANGE_SET payload.
pub fn parse_change_set(bytes: &[u8]) -> Result<ChangeSet, PayloadError> {
    let payload = object(bytes)?;
    let template = field(&payload, "template").and_then(Value::as_str).filter(|t| !t.trim().is_empty());
    let Some(Value::Array(changed)) = field(&payload, "changedResources") else {
        return Err(PayloadError::Missing { field: "changedResources" });
    };
    let changes = changed
        .iter()
        .enumerate()
        .map(|(index, change)| change_of(change).map_err(|reason| PayloadError::BadChange { index, reason }))
        .collect::<Result<_, _>>()?;
    Ok(ChangeSet { template: template.map(str::to_owned), changes })
}

fn object(bytes: &[u8]) -> Result<Map<String, Value>, PayloadError> {
    match crate::json::from_slice(bytes).map_err(PayloadError::NotJson)? {
        Value::Object(object) => Ok(object),
        _ => Err(PayloadError::NotAnObject),
    }
}

/// A field by its camelCase name, or the PascalCase name older libraries use.
fn field<'a>(object: &'a Map<String, Value>, camel: &str) -> Option<&'a Value> {
    object.get(camel).or_else(|| {
        let mut chars = camel.chars();
        let pascal: String = chars.next().map(|c| c.to_ascii_uppercase()).into_iter().chain(chars).collect();
        object.get(&pascal)
    })
}

fn change_of(change: &Value) -> Result<Change, String> {
    let Value::Object(change) = change else { return Err("is not an object".into()) };
    let text = |name: &'static str| {
        field(change, name).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| format!("has no {name}"))
    };
    let logical_id = text("logicalResourceId")?;
    let type_name = text("resourceType")?;
    let action = match text("action")?.as_str() {
        "CREATE" | "Add" | "Import" => Action::Create,
        "UPDATE" | "Modify" | "Dynamic" => Action::Update,
        "DELETE" | "Remove" => Action::Delete,
        other => return Err(format!("unknown action {other:?}")),
    };
    let properties = match action {
        Action::Delete => Value::Object(Map::new()),
        Action::Create | Action::Update => after_properties(field(change, "afterContext"))?,
    };
    Ok(Change { logical_id, type_name, action, properties })
}

/// The `Properties` of an `afterContext`, which is a JSON string (an object is accepted too).
/// A CREATE or UPDATE without one is refused: properties never seen are not judged as none.
fn after_properties(context: Option<&Value>) -> Result<Value, String> {
    let context = match context {
        Some(Value::String(text)) => {
            crate::json::from_str(text).map_err(|e| format!("afterContext is not JSON: {e}"))?
        }
        Some(object @ Value::Object(_)) => object.clone(),
        _ => return Err("has no afterContext".into()),
    };
    let Value::Object(context) = context else { return Err("afterContext is not a JSON object".into()) };
    match context.get("Properties").or_else(|| context.get("properties")) {
        None | Some(Value::Null) => Ok(Value::Object(Map::new())),
        Some(properties @ Value::Object(_)) => Ok(properties.clone()),
        Some(_) => Err("afterContext Properties is not an object".into()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn stack_payloads_in_both_casings() {
        let camel = parse_stack(br#"{"template": "Resources: {}", "previousTemplate": ""}"#).unwrap();
        let pascal = parse_stack(br#"{"Template": "Resources: {}", "PreviousTemplate": ""}"#).unwrap();
        assert_eq!(camel, pascal);
        assert!(matches!(parse_stack(br#"{"template": ""}"#), Err(PayloadError::Missing { field: "template" })));
        assert!(matches!(parse_stack(b"[]"), Err(PayloadError::NotAnObject)));
        assert!(matches!(parse_stack(br#"{"template": "a", "template": "b"}"#), Err(PayloadError::NotJson(_))));
    }

    #[test]
    fn change_set_contexts_are_json_strings() {
        let payload = parse_change_set(
            br#"{"template": "", "changedResources": [
                {"action": "UPDATE", "logicalResourceId": "Queue", "resourceType": "AWS::SQS::Queue",
                 "beforeContext": "{\"Properties\":{}}",
                 "afterContext": "{\"Properties\":{\"QueueName\":\"orders\",\"FifoQueue\":\"true\"}}"},
                {"Action": "Remove", "LogicalResourceId": "Old", "ResourceType": "AWS::SNS::Topic", "AfterContext": null},
                {"action": "CREATE", "logicalResourceId": "T", "resourceType": "AWS::SNS::Topic", "afterContext": "{\"properties\":{\"A\":\"1\"}}"}
            ]}"#,
        )
        .unwrap();
        assert_eq!(payload.template, None);
        assert_eq!(payload.changes[0].action, Action::Update);
        assert_eq!(payload.changes[0].properties, json!({"QueueName": "orders", "FifoQueue": "true"}));
        assert_eq!(payload.changes[1].action, Action::Delete);
        assert_eq!(payload.changes[2].properties, json!({"A": "1"}));
    }

    #[test]
    fn malformed_changes_are_refused() {
        for (change, expected) in [
            (json!({"action": "CREATE", "logicalResourceId": "Q", "resourceType": "T"}), "has no afterContext"),
            (
                json!({"action": "CREATE", "logicalResourceId": "Q", "resourceType": "T", "afterContext": "{"}),
                "not JSON",
            ),
            (json!({"action": "MOVE", "logicalResourceId": "Q", "resourceType": "T"}), "unknown action"),
            (json!({"action": "CREATE", "resourceType": "T", "afterContext": "{}"}), "has no logicalResourceId"),
            (
                json!({"action": "CREATE", "logicalResourceId": "Q", "resourceType": "T", "afterContext": "{\"Properties\": []}"}),
                "not an object",
            ),
        ] {
            let bytes = serde_json::to_vec(&json!({"changedResources": [change]})).unwrap();
            let error = parse_change_set(&bytes).unwrap_err().to_string();
            assert!(error.contains(expected), "{error}");
        }
        assert!(matches!(parse_change_set(b"{}"), Err(PayloadError::Missing { field: "changedResources" })));
    }

    #[tokio::test]
    async fn only_https_or_loopback_http() {
        for url in ["http://example.com/x", "ftp://127.0.0.1/x", "http://10.0.0.1/x"] {
            assert!(matches!(fetch(url, FETCH_TIMEOUT).await, Err(PayloadError::NotHttps { .. })), "{url}");
        }
        assert!(matches!(fetch("not a url", FETCH_TIMEOUT).await, Err(PayloadError::BadUrl)));
    }
}
