//! A real S3-protocol server on loopback for tests: `s3s-fs` (objects on disk) behind the
//! `s3s` HTTP service, wrapped to honour `If-None-Match` on GetObject (s3s-fs ignores it),
//! count requests, and inject faults. The code under test talks to it with the real AWS SDK.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use rcfge::template::{S3Location, S3Settings, S3Source};
use s3s::auth::SimpleAuth;
use s3s::dto::*;
use s3s::service::S3ServiceBuilder;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

pub const BUCKET: &str = "org-rcfge";
pub const PREFIX: &str = "templates/v1/";
pub const ACCESS_KEY: &str = "rcfge-test";
pub const SECRET_KEY: &str = "rcfge-test-secret";

/// What the server does to the next GetObject requests.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    None,
    /// Answer with this S3 error (AccessDenied → 403, InternalError → 500, ...).
    Error(S3ErrorCode),
    /// Wait this long before answering.
    Delay(Duration),
    /// Send the headers and the first byte of the body, then nothing more.
    StallBody,
    /// Send the headers and half of the body, then end the response early.
    TruncateBody,
    /// For each request: an error (500 or 503) with this probability in thousandths, else a
    /// random delay of up to `max_delay` before the normal answer.
    Random {
        errors_per_mille: u64,
        max_delay: Duration,
    },
}

/// A body that sends one chunk and then either ends, whatever the declared length, or never
/// finishes.
struct OneChunk {
    chunk: Option<bytes::Bytes>,
    then_stall: bool,
}

impl futures_core::Stream for OneChunk {
    type Item = Result<bytes::Bytes, std::io::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        match self.chunk.take() {
            Some(chunk) => std::task::Poll::Ready(Some(Ok(chunk))),
            None if self.then_stall => std::task::Poll::Pending,
            None => std::task::Poll::Ready(None),
        }
    }
}

/// Request counters and the fault switch, shared with the test.
#[derive(Debug)]
pub struct Observed {
    pub gets: AtomicUsize,
    /// Errors answered because of `Fault::Random`.
    pub injected_errors: AtomicUsize,
    random: Mutex<u64>,
    /// The key of every GET, in order.
    pub keys: Mutex<Vec<String>>,
    pub not_modified: AtomicUsize,
    fault: Mutex<Fault>,
}

impl Observed {
    pub fn gets(&self) -> usize {
        self.gets.load(Ordering::SeqCst)
    }

    /// GETs of keys ending in `suffix` (`.json` for templates, `.guard` for Guard rules).
    pub fn gets_of(&self, suffix: &str) -> usize {
        self.keys.lock().unwrap().iter().filter(|key| key.ends_with(suffix)).count()
    }

    pub fn not_modified(&self) -> usize {
        self.not_modified.load(Ordering::SeqCst)
    }

    pub fn set_fault(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }

    /// A pseudo-random number below `bound` (xorshift: repeatable from the fixed seed).
    fn random_below(&self, bound: u64) -> u64 {
        let mut state = self.random.lock().unwrap();
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state % bound.max(1)
    }
}

struct TestS3 {
    inner: s3s_fs::FileSystem,
    root: std::path::PathBuf,
    observed: Arc<Observed>,
}

#[async_trait::async_trait]
impl S3 for TestS3 {
    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        self.observed.gets.fetch_add(1, Ordering::SeqCst);
        self.observed.keys.lock().unwrap().push(req.input.key.clone());
        let fault = self.observed.fault.lock().unwrap().clone();
        match fault {
            Fault::None => {}
            Fault::Error(code) => return Err(S3Error::new(code)),
            Fault::Delay(delay) => tokio::time::sleep(delay).await,
            Fault::StallBody => {
                let mut response = self.inner.get_object(req).await?;
                response.output.body = Some(StreamingBlob::wrap(OneChunk {
                    chunk: Some(bytes::Bytes::from_static(b"{")),
                    then_stall: true,
                }));
                return Ok(response);
            }
            Fault::TruncateBody => {
                // s3s-fs keeps each object in a file named by its bucket and key.
                let file = self.root.join(&req.input.bucket).join(&req.input.key);
                let whole = bytes::Bytes::from(std::fs::read(file).unwrap_or_default());
                let mut response = self.inner.get_object(req).await?;
                let half = whole.slice(..whole.len() / 2);
                response.output.content_length = Some(whole.len() as i64);
                response.output.body = Some(StreamingBlob::wrap(OneChunk { chunk: Some(half), then_stall: false }));
                return Ok(response);
            }
            Fault::Random { errors_per_mille, max_delay } => {
                if self.observed.random_below(1000) < errors_per_mille {
                    self.observed.injected_errors.fetch_add(1, Ordering::SeqCst);
                    let code = if self.observed.random_below(2) == 0 {
                        S3ErrorCode::InternalError
                    } else {
                        S3ErrorCode::ServiceUnavailable
                    };
                    return Err(S3Error::new(code));
                }
                let delay = self.observed.random_below(max_delay.as_micros() as u64 + 1);
                tokio::time::sleep(Duration::from_micros(delay)).await;
            }
        }
        // As S3 does (s3s-fs answers NoSuchKey for a missing bucket).
        if !self.root.join(&req.input.bucket).is_dir() {
            return Err(S3Error::new(S3ErrorCode::NoSuchBucket));
        }
        let condition = req.input.if_none_match.clone();
        let response = self.inner.get_object(req).await?;
        let current = response.output.e_tag.as_ref();
        if let (Some(wanted), Some(current)) = (condition.as_ref().and_then(ETagCondition::as_etag), current)
            && wanted.value() == current.value()
        {
            self.observed.not_modified.fetch_add(1, Ordering::SeqCst);
            return Err(S3Error::new(S3ErrorCode::NotModified));
        }
        Ok(response)
    }

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        self.inner.put_object(req).await
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.inner.delete_object(req).await
    }

    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        self.inner.create_bucket(req).await
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        self.inner.head_object(req).await
    }

    async fn list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        self.inner.list_objects_v2(req).await
    }
}

/// A running server; stops when dropped.
pub struct S3Server {
    pub endpoint: String,
    pub observed: Arc<Observed>,
    pub client: Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _root: tempfile::TempDir,
}

impl S3Server {
    /// Starts a server with the bucket created and every file of `templates/` uploaded.
    pub fn start() -> Self {
        Self::start_with(&bundled_templates())
    }

    /// Starts a server with the bucket created and these (file name, body) objects uploaded.
    pub fn start_with(files: &[(String, Vec<u8>)]) -> Self {
        let root = tempfile::tempdir().unwrap();
        let observed = Arc::new(Observed {
            gets: AtomicUsize::new(0),
            keys: Mutex::new(Vec::new()),
            not_modified: AtomicUsize::new(0),
            injected_errors: AtomicUsize::new(0),
            random: Mutex::new(0x2545_f491_4f6c_dd1d),
            fault: Mutex::new(Fault::None),
        });
        let mut builder = S3ServiceBuilder::new(TestS3 {
            inner: s3s_fs::FileSystem::new(root.path()).unwrap(),
            root: root.path().to_owned(),
            observed: observed.clone(),
        });
        // Requests are SigV4-signed by the SDK and verified by the server.
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        let service = builder.build();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let http = ConnBuilder::new(TokioExecutor::new());
                loop {
                    tokio::select! {
                        accepted = listener.accept() => {
                            let Ok((socket, _)) = accepted else { continue };
                            // As real endpoints do: without it, Nagle's algorithm and delayed
                            // ACKs hold small answers back ~40 ms.
                            let _ = socket.set_nodelay(true);
                            let connection = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
                            tokio::spawn(async move { let _ = connection.await; });
                        }
                        _ = &mut stopped => break,
                    }
                }
            });
        });
        let client = client_for(&endpoint, &S3Settings { force_path_style: true, ..S3Settings::default() });
        let server = S3Server { endpoint, observed, client, stop: Some(stop), _root: root };
        block_on(async {
            server.client.create_bucket().bucket(BUCKET).send().await.unwrap();
        });
        for (name, body) in files {
            server.put(name, body);
        }
        server.observed.gets.store(0, Ordering::SeqCst);
        server
    }

    /// Uploads (or replaces) a template file under the prefix.
    pub fn put(&self, file_name: &str, body: &[u8]) {
        let body = body.to_vec();
        block_on(async {
            self.client
                .put_object()
                .bucket(BUCKET)
                .key(format!("{PREFIX}{file_name}"))
                .body(ByteStream::from(body))
                .send()
                .await
                .unwrap();
        });
    }

    /// Deletes a template file.
    pub fn delete(&self, file_name: &str) {
        block_on(async {
            self.client.delete_object().bucket(BUCKET).key(format!("{PREFIX}{file_name}")).send().await.unwrap();
        });
    }

    /// `s3://org-rcfge/templates/v1/`
    pub fn uri(&self) -> String {
        format!("s3://{BUCKET}/{PREFIX}")
    }

    /// Runs the `rcfge` binary with the standard AWS configuration pointed at this server
    /// (through `endpoint_variable`: `AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_S3`).
    pub fn run_rcfge(&self, args: &[&str], endpoint_variable: &str) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_rcfge"))
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_ENDPOINT_URL_S3")
            .env(endpoint_variable, &self.endpoint)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("AWS_REGION", "eu-west-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .output()
            .unwrap()
    }

    /// The object names under the prefix.
    pub fn names(&self) -> Vec<String> {
        block_on(async {
            let mut names = Vec::new();
            let mut pages = self.client.list_objects_v2().bucket(BUCKET).prefix(PREFIX).into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.unwrap();
                names.extend(page.contents().iter().filter_map(|o| o.key()?.strip_prefix(PREFIX).map(str::to_owned)));
            }
            names
        })
    }

    /// A template source over this server, with these client settings.
    pub fn source(&self, settings: &S3Settings) -> S3Source {
        S3Source::new(client_for(&self.endpoint, settings), S3Location::parse(&self.uri()).unwrap(), settings)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// An SDK client for a loopback endpoint with test credentials.
pub fn client_for(endpoint: &str, settings: &S3Settings) -> Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "tests"))
        .force_path_style(settings.force_path_style)
        .timeout_config(settings.timeout_config())
        .retry_config(settings.retry_config())
        .build();
    Client::from_conf(config)
}

/// Every file of the bundled `templates/` directory.
/// The bundled templates and Guard rules, as `rcfge publish` lays them out: side by side
/// under one prefix.
pub fn bundled_templates() -> Vec<(String, Vec<u8>)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(root.join("templates"))
        .unwrap()
        .chain(std::fs::read_dir(root.join("guard-rules")).unwrap())
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .map(|path| (path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&path).unwrap()))
        .collect();
    files.sort();
    files
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}
