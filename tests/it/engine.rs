//! The library API end to end: caching, concurrency, panics, and templates changing under a
//! running engine.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcfge::CacheUse;
use rcfge::template::{BoxFuture, Fetch, StoreError};
use rcfge::{Action, Context, DirSource, Engine, EngineConfig, Target, TemplateSource, Verdict};
use serde_json::{Value, json};

/// The bundled directory source, counting fetches per file and yielding before each one so
/// that concurrent requests really overlap.
#[derive(Clone)]
struct CountingSource {
    inner: DirSource,
    fetches: Arc<Mutex<HashMap<String, usize>>>,
    panic_on: Option<&'static str>,
}

impl CountingSource {
    fn new(dir: &std::path::Path) -> Self {
        CountingSource { inner: DirSource::new(dir).unwrap(), fetches: Arc::default(), panic_on: None }
    }

    fn fetches(&self, file: &str) -> usize {
        self.fetches.lock().unwrap().get(file).copied().unwrap_or(0)
    }
}

impl TemplateSource for CountingSource {
    fn location(&self) -> String {
        self.inner.location()
    }

    fn fetch<'a>(
        &'a self,
        file_name: &'a str,
        known_version: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Fetch, StoreError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            if self.panic_on == Some(file_name) {
                panic!("source exploded on {file_name}");
            }
            *self.fetches.lock().unwrap().entry(file_name.to_owned()).or_default() += 1;
            self.inner.fetch(file_name, known_version).await
        })
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap()
}

fn templates() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates")
}

fn context() -> Context {
    Context {
        account_id: Some("111122223333".into()),
        region: Some("eu-west-1".into()),
        partition: Some("aws".into()),
        ..Context::default()
    }
}

fn queue(logical_id: &str, properties: Value) -> Target {
    Target {
        type_name: "AWS::SQS::Queue".into(),
        logical_id: logical_id.into(),
        action: Action::Create,
        properties,
        context: context(),
    }
}

#[test]
fn a_warm_engine_fetches_and_compiles_once() {
    let source = CountingSource::new(&templates());
    let engine = Engine::new(source.clone(), EngineConfig::default());
    runtime().block_on(async {
        let first = engine.decide(&queue("Q0", json!({"SqsManagedSseEnabled": true}))).await;
        assert!(matches!(first.verdict, Verdict::Compliant), "{:?}", first.verdict);
        assert_eq!((first.cache, first.compiled), (Some(CacheUse::Miss), true));
        for i in 1..50 {
            let decision = engine.decide(&queue(&format!("Q{i}"), json!({"SqsManagedSseEnabled": "true"}))).await;
            assert!(matches!(decision.verdict, Verdict::Compliant));
            assert_eq!((decision.cache, decision.compiled), (Some(CacheUse::Hit), false), "decision {i}");
        }
    });
    assert_eq!(source.fetches("aws-sqs-queue.json"), 1);
    // The queue template uses only built-in variables: the organisation file is never read.
    assert_eq!(source.fetches("_variables.json"), 0);
}

#[test]
fn concurrent_requests_for_one_type_share_one_fetch() {
    let source = CountingSource::new(&templates());
    let engine = Arc::new(Engine::new(source.clone(), EngineConfig::default()));
    runtime().block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..32 {
            let engine = engine.clone();
            tasks.spawn(
                async move { engine.decide(&queue(&format!("Q{i}"), json!({"SqsManagedSseEnabled": true}))).await },
            );
        }
        while let Some(decision) = tasks.join_next().await {
            assert!(matches!(decision.unwrap().verdict, Verdict::Compliant));
        }
    });
    assert_eq!(source.fetches("aws-sqs-queue.json"), 1);
}

#[test]
fn a_panic_becomes_an_internal_failure() {
    let mut source = CountingSource::new(&templates());
    source.panic_on = Some("aws-sqs-queue.json");
    let engine = Engine::new(source, EngineConfig::default());
    runtime().block_on(async {
        let decision = engine.decide(&queue("Q", json!({}))).await;
        let Verdict::InternalFailure(error) = &decision.verdict else { panic!("{:?}", decision.verdict) };
        assert!(error.to_string().contains("source exploded on aws-sqs-queue.json"), "{error}");
        // Other types are unaffected.
        let mut bucket = queue("B", json!({}));
        bucket.type_name = "AWS::SNS::Topic".into();
        bucket.properties = json!({"KmsMasterKeyId": "alias/aws/sns", "SignatureVersion": "2"});
        assert!(matches!(engine.decide(&bucket).await.verdict, Verdict::Compliant));
    });
}

#[test]
fn templates_are_revalidated_after_the_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test-changing-type.json");
    let target = Target { type_name: "Test::Changing::Type".into(), ..queue("T", json!({"Name": "x"})) };
    std::fs::write(
        &path,
        r#"{"type": "object", "additionalProperties": false, "properties": {"Name": {"type": "string"}}}"#,
    )
    .unwrap();

    let forever = Engine::new(DirSource::new(dir.path()).unwrap(), EngineConfig::default());
    let expiring = Engine::new(
        DirSource::new(dir.path()).unwrap(),
        EngineConfig {
            freshness: rcfge::template::Freshness { ttl: Some(Duration::ZERO), stale_if_error: Duration::ZERO },
            ..EngineConfig::default()
        },
    );
    runtime().block_on(async {
        assert!(matches!(forever.decide(&target).await.verdict, Verdict::Compliant));
        assert!(matches!(expiring.decide(&target).await.verdict, Verdict::Compliant));

        std::fs::write(&path, r#"{"type": "object", "additionalProperties": false, "properties": {}}"#).unwrap();
        assert!(
            matches!(forever.decide(&target).await.verdict, Verdict::Compliant),
            "no TTL: the loaded template stays"
        );
        assert!(
            matches!(expiring.decide(&target).await.verdict, Verdict::NonCompliant(_)),
            "new template used after the TTL"
        );

        std::fs::remove_file(&path).unwrap();
        let Verdict::InternalFailure(error) = expiring.decide(&target).await.verdict else {
            panic!("deleted template must fail closed")
        };
        assert!(error.to_string().contains("no template for Test::Changing::Type"), "{error}");

        std::fs::write(&path, "{ broken").unwrap();
        assert!(
            matches!(expiring.decide(&target).await.verdict, Verdict::InternalFailure(_)),
            "broken template fails closed"
        );
    });
}

#[test]
fn a_type_name_must_match_the_template_on_every_use() {
    let engine = Engine::new(DirSource::new(templates()).unwrap(), EngineConfig::default());
    let topic = |type_name: &str| Target {
        type_name: type_name.into(),
        properties: json!({"KmsMasterKeyId": "alias/aws/sns", "SignatureVersion": "2"}),
        ..queue("T", json!({}))
    };
    runtime().block_on(async {
        assert!(matches!(engine.decide(&topic("AWS::SNS::Topic")).await.verdict, Verdict::Compliant));
        // Same file name, cached template: the declared type still has to match.
        let Verdict::InternalFailure(error) = engine.decide(&topic("aws::sns::topic")).await.verdict else {
            panic!("a case variant of the type name must not share the template");
        };
        // It is the resource that misspells its type, not the template that is broken.
        let expected =
            "`aws::sns::topic` is not a resource type: type names are case-sensitive; did you mean `AWS::SNS::Topic`?";
        assert_eq!(error.to_string(), expected);
    });
}

#[test]
fn a_misspelt_type_is_answered_with_a_suggestion_only_for_people_and_only_when_it_is_misspelt() {
    let dir = tempfile::tempdir().unwrap();
    let closed = r#"{"type": "object", "additionalProperties": false, "properties": {}}"#;
    std::fs::create_dir(dir.path().join("baseline")).unwrap();
    std::fs::write(
        dir.path().join("aws-iam-policy.json"),
        closed.replace("{\"type\"", "{\"typeName\": \"AWS::IAM::Policy\", \"type\""),
    )
    .unwrap();
    // A real type of the snapshot (in the baseline), with the baseline off: no template judges
    // it, but it is spelt right, so nothing is suggested.
    std::fs::write(
        dir.path().join("baseline/aws-iot-policy.json"),
        closed.replace("{\"type\"", "{\"typeName\": \"AWS::IoT::Policy\", \"type\""),
    )
    .unwrap();
    let for_people = Engine::new(
        DirSource::new(dir.path()).unwrap(),
        EngineConfig { suggest_types: true, ..EngineConfig::default() },
    );
    let for_the_hook = Engine::new(DirSource::new(dir.path()).unwrap(), EngineConfig::default());
    let fault = |engine: &Engine, type_name: &str| {
        let target = Target { type_name: type_name.into(), ..queue("P", json!({})) };
        match runtime().block_on(engine.decide(&target)).verdict {
            Verdict::InternalFailure(fault) => fault.to_string(),
            other => panic!("{type_name}: {other:?}"),
        }
    };
    assert!(fault(&for_people, "AWS::IAM::Polcy").ends_with("did you mean `AWS::IAM::Policy`?"));
    assert!(!fault(&for_people, "AWS::IoT::Policy").contains("did you mean"));
    assert!(!fault(&for_the_hook, "AWS::IAM::Polcy").contains("did you mean"));
    // A name far longer than any type is not measured against every file.
    let long = format!("AWS::IAM::{}", "P".repeat(300));
    assert!(!fault(&for_people, &long).contains("did you mean"));
}
