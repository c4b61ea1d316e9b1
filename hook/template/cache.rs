//! Warm-container caches: source files by name (revalidated after a TTL), and compiled
//! policies by template version and the variable values they were rendered with.
//!
//! Concurrent requests for the same file wait for one fetch instead of each making their own;
//! if that fetch fails, the requests queued behind it get the same error at once. A failed
//! fetch or parse is never cached beyond that: the next request tries again, and
//! until it succeeds every decision that needs the file fails closed. The one exception is an explicit
//! `stale_if_error` window: when revalidating *fails* (timeout, 5xx, 403), the last good copy
//! may be used for that long past its TTL. A 404 or a broken new version is never masked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use jsonschema::PatternCache;

use crate::decision::CacheUse;
use crate::policy::Policy;
use crate::template::store::{Fetch, Fetched, StoreError, TemplateSource};

/// How many compiled policies are kept before the cache starts afresh. Templates that use
/// per-stack or per-resource variables (`stackName`, `logicalResourceId`) compile once per
/// value. A large compiled schema takes about half a megabyte, so this keeps the cache within
/// ~64 MiB of a 256 MB function (fuzzing with 1,024 filled it to ~500 MB).
const MAX_POLICIES: usize = 128;

/// How many source files are kept before the cache starts afresh. With the baseline, any of
/// ~1,900 types may be asked for; a parsed template is up to a few hundred kilobytes, so this
/// keeps the files within tens of megabytes however many types one container sees.
const MAX_FILES: usize = 256;

/// How long cached files are trusted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Freshness {
    /// After this, the next use revalidates; `None`: never (a one-shot CLI run).
    pub ttl: Option<Duration>,
    /// How long past the TTL a copy may still be used when revalidating fails.
    pub stale_if_error: Duration,
}

/// A value read from a source file, or the knowledge that the file does not exist.
pub struct Cached<T> {
    pub value: Option<Arc<T>>,
    pub status: CacheUse,
    /// When the source last confirmed this copy.
    pub checked_at: Instant,
}

/// What a copy must satisfy besides the TTL: a file used together with another (Guard rules
/// with their template) must be at least as recent, and may be stale only if the other is.
#[derive(Clone, Copy, Debug)]
pub struct Pairing {
    /// Revalidate a copy confirmed before this instant.
    pub not_checked_before: Instant,
    /// Whether a stale copy may be served when revalidation fails (stale-if-error).
    pub allow_stale: bool,
}

/// Why a cached file could not be produced.
#[derive(Debug)]
pub enum FetchError<E> {
    Store(StoreError),
    Parse(E),
}

struct Entry<T> {
    value: Option<Arc<T>>,
    version: Option<String>,
    checked_at: Instant,
}

/// One file's cache state.
struct Slot<T> {
    entry: Option<Entry<T>>,
    /// The last failed fetch: requests that queued behind it get its error at once instead
    /// of each waiting for their own timeout. A request that arrives after it tries again, so
    /// one transient error fails only the requests that were waiting for that fetch.
    failed: Option<(Instant, String)>,
}

/// Parsed source files by file name.
pub struct FileCache<T> {
    freshness: Freshness,
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot<T>>>>>,
}

impl<T> FileCache<T> {
    pub fn new(freshness: Freshness) -> Self {
        FileCache { freshness, slots: Mutex::new(HashMap::new()) }
    }

    /// The parsed file, fetched (or revalidated) when it is not fresh.
    pub async fn get<E>(
        &self,
        source: &dyn TemplateSource,
        file_name: &str,
        parse: impl FnOnce(&Fetched) -> Result<T, E>,
    ) -> Result<Cached<T>, FetchError<E>> {
        self.get_paired(source, file_name, None, parse).await
    }

    /// [`FileCache::get`], for a file that must be as recent as the one it is used with.
    pub async fn get_paired<E>(
        &self,
        source: &dyn TemplateSource,
        file_name: &str,
        pairing: Option<Pairing>,
        parse: impl FnOnce(&Fetched) -> Result<T, E>,
    ) -> Result<Cached<T>, FetchError<E>> {
        let asked_at = Instant::now();
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            if slots.len() >= MAX_FILES && !slots.contains_key(file_name) {
                // Requests holding a slot keep it alive through their `Arc`; they finish as if
                // nothing happened, and the next request for that file fetches it again.
                slots.clear();
            }
            slots
                .entry(file_name.to_owned())
                .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(Slot { entry: None, failed: None })))
                .clone()
        };
        // Held across the fetch: concurrent requests for this file wait and then find it fresh.
        let mut slot = slot.lock().await;
        let recent_enough = |e: &Entry<T>| pairing.is_none_or(|p| e.checked_at >= p.not_checked_before);
        if let Some(current) = slot.entry.as_ref().filter(|e| self.is_fresh(e) && recent_enough(e)) {
            return Ok(current.serve(CacheUse::Hit));
        }
        let recent_failure = slot.failed.as_ref().filter(|(at, _)| *at >= asked_at).map(|(_, reason)| reason.clone());
        let fetched = match recent_failure {
            Some(reason) => Err(StoreError::RecentFailure { file_name: file_name.to_owned(), reason }),
            None => {
                let known_version = slot.entry.as_ref().and_then(|e| e.version.clone());
                source.fetch(file_name, known_version.as_deref()).await
            }
        };
        let fetched = match fetched {
            Ok(fetched) => fetched,
            Err(error) => {
                if !matches!(error, StoreError::RecentFailure { .. }) {
                    slot.failed = Some((Instant::now(), error.to_string()));
                }
                let stale_allowed = pairing.is_none_or(|p| p.allow_stale);
                return match slot.entry.as_ref().filter(|e| stale_allowed && self.may_serve_stale(e)) {
                    Some(stale) => {
                        tracing::warn!(file = file_name, %error, "revalidation failed; using the cached copy (stale-if-error)");
                        Ok(stale.serve(CacheUse::Stale))
                    }
                    None => Err(FetchError::Store(error)),
                };
            }
        };
        slot.failed = None;
        let now = Instant::now();
        let (updated, status) = match (fetched, slot.entry.take()) {
            (Fetch::NotModified, Some(current)) => (Entry { checked_at: now, ..current }, CacheUse::Revalidated),
            (Fetch::NotModified, None) => {
                let reason = "not modified, but nothing was cached".to_owned();
                return Err(FetchError::Store(StoreError::Unexpected { file_name: file_name.to_owned(), reason }));
            }
            (Fetch::NotFound, _) => (Entry { value: None, version: None, checked_at: now }, CacheUse::Miss),
            (Fetch::Found(found), _) => {
                let value = parse(&found).map_err(FetchError::Parse)?;
                (Entry { value: Some(Arc::new(value)), version: Some(found.version), checked_at: now }, CacheUse::Miss)
            }
        };
        let served = updated.serve(status);
        slot.entry = Some(updated);
        Ok(served)
    }

    fn is_fresh(&self, entry: &Entry<T>) -> bool {
        self.freshness.ttl.is_none_or(|ttl| entry.checked_at.elapsed() < ttl)
    }

    fn may_serve_stale(&self, entry: &Entry<T>) -> bool {
        let Some(ttl) = self.freshness.ttl else { return false };
        entry.value.is_some() && entry.checked_at.elapsed() < ttl + self.freshness.stale_if_error
    }
}

impl<T> Entry<T> {
    fn serve(&self, status: CacheUse) -> Cached<T> {
        Cached { value: self.value.clone(), status, checked_at: self.checked_at }
    }
}

/// What a compiled policy is cached by: (type, template version, variable values used).
pub type PolicyKey = (String, String, String);

/// Compiled policies by (file, template version, variable values used).
#[derive(Default)]
pub struct PolicyCache {
    policies: Mutex<Policies>,
}

/// The compiled policies, and the regular expressions they were compiled with: emptied
/// together, so that neither outgrows the other.
#[derive(Default)]
struct Policies {
    compiled: HashMap<PolicyKey, Arc<Policy>>,
    patterns: PatternCache,
    /// Compiles begun since `patterns` was last emptied. A compile that fails is not cached
    /// and is tried again, but its regular expressions stay in `patterns`: counted here, they
    /// cannot grow it without bound.
    compiles: usize,
}

impl PolicyCache {
    /// The cached policy, or the one `compile` makes (then cached); and whether it came from
    /// the cache.
    pub fn get_or_compile<E>(
        &self,
        key: PolicyKey,
        compile: impl FnOnce(&PatternCache) -> Result<Policy, E>,
    ) -> Result<(Arc<Policy>, bool), E> {
        let patterns = {
            let mut policies = self.lock();
            if let Some(policy) = policies.compiled.get(&key) {
                return Ok((policy.clone(), true));
            }
            policies.compiles += 1;
            if policies.compiles > MAX_POLICIES {
                // Compiled policies keep the expressions they use; only the sharing is lost.
                policies.patterns = PatternCache::new();
                policies.compiles = 1;
            }
            policies.patterns.clone()
        };
        // Compiled outside the lock: a slow compile must not hold up other types.
        let policy = Arc::new(compile(&patterns)?);
        let mut policies = self.lock();
        if policies.compiled.len() >= MAX_POLICIES {
            *policies = Policies::default();
        }
        policies.compiled.insert(key, policy.clone());
        Ok((policy, false))
    }

    /// Whether the policy for `key` is compiled.
    pub fn contains(&self, key: &PolicyKey) -> bool {
        self.lock().compiled.contains_key(key)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Policies> {
        self.policies.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::template::store::{BoxFuture, Fetch, Fetched, StoreError, TemplateSource};

    /// One file whose body is its fetch count; fetches fail while `failing` is set.
    #[derive(Default)]
    struct Counting {
        fetches: AtomicUsize,
        failing: AtomicBool,
    }

    impl TemplateSource for Counting {
        fn location(&self) -> String {
            "memory".into()
        }

        fn fetch<'a>(&'a self, file: &'a str, _: Option<&'a str>) -> BoxFuture<'a, Result<Fetch, StoreError>> {
            Box::pin(async move {
                if self.failing.load(Ordering::SeqCst) {
                    return Err(StoreError::Unexpected { file_name: file.into(), reason: "down".into() });
                }
                let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
                Ok(Fetch::Found(Fetched { body: n.to_string().into_bytes(), version: n.to_string() }))
            })
        }
    }

    fn parse(fetched: &Fetched) -> Result<String, String> {
        Ok(String::from_utf8_lossy(&fetched.body).into_owned())
    }

    #[tokio::test]
    async fn a_paired_file_is_never_older_than_its_partner() {
        let source = Counting::default();
        let cache: FileCache<String> = FileCache::new(Freshness {
            ttl: Some(Duration::from_secs(3600)),
            stale_if_error: Duration::from_secs(3600),
        });
        let first = cache.get(&source, "rules", parse).await.unwrap();
        assert_eq!(first.value.as_deref().map(String::as_str), Some("1"));
        // Fresh by its own TTL, but confirmed before its partner was: revalidated.
        let partner_checked = Instant::now();
        let pairing = Pairing { not_checked_before: partner_checked, allow_stale: false };
        let second = cache.get_paired(&source, "rules", Some(pairing), parse).await.unwrap();
        assert_eq!((second.value.as_deref().map(String::as_str), second.status), (Some("2"), CacheUse::Miss));
        // Recent enough: served from the cache.
        let third = cache.get_paired(&source, "rules", Some(pairing), parse).await.unwrap();
        assert_eq!(third.status, CacheUse::Hit);
        // Its partner is fresh, so a stale copy is not served beside it, stale-if-error or not.
        source.failing.store(true, Ordering::SeqCst);
        let newer = Pairing { not_checked_before: Instant::now(), allow_stale: false };
        assert!(cache.get_paired(&source, "rules", Some(newer), parse).await.is_err());
        let both_stale = Pairing { not_checked_before: Instant::now(), allow_stale: true };
        let stale = cache.get_paired(&source, "rules", Some(both_stale), parse).await.unwrap();
        assert_eq!(stale.status, CacheUse::Stale);
    }

    #[tokio::test]
    async fn the_file_cache_is_bounded() {
        let source = Counting::default();
        let cache: FileCache<String> = FileCache::new(Freshness::default());
        for i in 0..(MAX_FILES * 2 + 3) {
            cache.get(&source, &format!("file-{i}"), parse).await.unwrap();
            assert!(cache.slots.lock().unwrap().len() <= MAX_FILES);
        }
        // A file asked for again after the cache started afresh is fetched again.
        let before = source.fetches.load(Ordering::SeqCst);
        cache.get(&source, "file-0", parse).await.unwrap();
        assert_eq!(source.fetches.load(Ordering::SeqCst), before + 1);
    }

    #[test]
    fn the_policy_cache_is_bounded() {
        let cache = PolicyCache::default();
        let schema = serde_json::json!({"type": "object"});
        for i in 0..(MAX_POLICIES * 2 + 3) {
            let key = ("A::B::C".to_owned(), "v1".to_owned(), format!("stack-{i}"));
            let compiled = cache.get_or_compile(key, |_| Policy::compile("A::B::C", "v1", schema.clone()));
            assert!(compiled.is_ok());
            assert!(cache.lock().compiled.len() <= MAX_POLICIES);
        }
    }

    #[test]
    fn failing_compiles_cannot_grow_the_shared_patterns_without_bound() {
        let cache = PolicyCache::default();
        let schema = serde_json::json!({"properties": {"A": {"pattern": "^a-[0-9]+$"}}, "type": 12});
        for i in 0..(MAX_POLICIES * 3) {
            let key = ("A::B::C".to_owned(), "v1".to_owned(), format!("stack-{i}"));
            let compiled = cache
                .get_or_compile(key, |patterns| Policy::compile_sharing("A::B::C", "v1", schema.clone(), patterns));
            assert!(compiled.is_err());
            let policies = cache.lock();
            assert!(policies.compiled.is_empty());
            assert!((1..=MAX_POLICIES).contains(&policies.compiles), "{}", policies.compiles);
        }
    }
}
