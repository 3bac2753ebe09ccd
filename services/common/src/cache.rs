//! The cache: one interface, two backends. Redis (through a connection manager that
//! reconnects by itself) when a URL is configured, an in-process cache otherwise (moka:
//! bounded in entries, each entry with its own lifetime, evicted without scanning the map).
//!
//! Values are stored as the bytes that are sent to the client, so a hit serves them without
//! re-serializing. Cache failures are never the caller's problem: a Redis error on read is a
//! miss, on write or delete it is logged, so the database keeps serving. After a Redis error,
//! reads and writes skip Redis for a short cool-down (deletes and `/ready` pings still try),
//! so an outage costs one failed call per cool-down instead of one per request; the first
//! call after it (or a successful ping) brings caching back by itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// A cache shared by a service's handlers.
#[derive(Clone)]
pub struct Cache {
    prefix: Arc<str>,
    backend: Backend,
    /// Reads by result, exported as `testbed_cache_lookups_total`.
    lookups: Family<LookupLabels, Counter>,
}

/// Label of the cache lookup counter: `result="hit"` or `"miss"`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LookupLabels {
    pub result: &'static str,
}

#[derive(Clone)]
enum Backend {
    Redis(ConnectionManager, Arc<Breaker>),
    Memory(moka::future::Cache<String, MemoryEntry>),
}

/// The lookup counters, with both results present from the start (at 0).
fn lookup_family() -> Family<LookupLabels, Counter> {
    let family = Family::default();
    for result in ["hit", "miss"] {
        let _ = family.get_or_create(&LookupLabels { result });
    }
    family
}

/// Most entries the in-process backend keeps; beyond it moka evicts the least useful.
const MEMORY_MAX_ENTRIES: u64 = 10_000;

/// An in-process entry: the stored bytes and how long they live.
#[derive(Clone)]
struct MemoryEntry {
    value: Bytes,
    ttl: Duration,
}

/// Each in-process entry expires after its own TTL, counted from its last write.
struct PerEntryTtl;

impl moka::Expiry<String, MemoryEntry> for PerEntryTtl {
    fn expire_after_create(
        &self,
        _key: &String,
        entry: &MemoryEntry,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        entry: &MemoryEntry,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.ttl)
    }
}

/// How long reads and writes skip Redis after it failed.
const REDIS_COOL_DOWN: Duration = Duration::from_secs(1);

/// Remembers a Redis failure for [`REDIS_COOL_DOWN`], and the invalidations that could not
/// reach Redis: they are replayed before Redis serves another read, so an entry whose delete
/// was lost during an outage (while Redis kept its data) is never served stale afterwards.
struct Breaker {
    origin: Instant,
    /// Milliseconds since `origin` until which Redis is skipped (0: not tripped).
    open_until_ms: AtomicU64,
    /// Keys whose delete failed, still to be deleted.
    missed_deletes: Mutex<Vec<String>>,
}

impl Breaker {
    fn new() -> Self {
        Self {
            origin: Instant::now(),
            open_until_ms: AtomicU64::new(0),
            missed_deletes: Mutex::new(Vec::new()),
        }
    }

    fn remember_missed(&self, keys: Vec<String>) {
        if let Ok(mut missed) = self.missed_deletes.lock() {
            missed.extend(keys);
        }
    }

    /// Replays missed deletes; false while some could not be applied (Redis must not serve).
    async fn replay_missed(&self, manager: &ConnectionManager) -> bool {
        let keys = match self.missed_deletes.lock() {
            Ok(mut missed) if !missed.is_empty() => std::mem::take(&mut *missed),
            Ok(_) => return true,
            Err(_) => return false,
        };
        let mut conn = manager.clone();
        match conn.del::<_, ()>(&keys).await {
            Ok(()) => {
                tracing::info!(
                    keys = keys.len(),
                    "replayed cache invalidations missed during a Redis outage"
                );
                true
            }
            Err(_) => {
                self.trip();
                self.remember_missed(keys);
                false
            }
        }
    }

    fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    fn is_open(&self) -> bool {
        self.now_ms() < self.open_until_ms.load(Ordering::Relaxed)
    }

    fn trip(&self) {
        let until = self.now_ms() + REDIS_COOL_DOWN.as_millis() as u64;
        self.open_until_ms.store(until, Ordering::Relaxed);
    }

    fn reset(&self) {
        self.open_until_ms.store(0, Ordering::Relaxed);
    }
}

impl Cache {
    /// Connects to Redis. Timeouts are short so that a dead Redis costs a read little.
    pub async fn redis(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(1000));
        let manager = tokio::time::timeout(
            Duration::from_secs(5),
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| anyhow::anyhow!("timed out connecting to Redis at {url}"))??;
        Ok(Self {
            prefix: Arc::from(prefix),
            backend: Backend::Redis(manager, Arc::new(Breaker::new())),
            lookups: lookup_family(),
        })
    }

    /// The in-process backend for the embedded mode.
    pub fn memory(prefix: &str) -> Self {
        Self {
            prefix: Arc::from(prefix),
            backend: Backend::Memory(
                moka::future::Cache::builder()
                    .max_capacity(MEMORY_MAX_ENTRIES)
                    .expire_after(PerEntryTtl)
                    .build(),
            ),
            lookups: lookup_family(),
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Redis(..) => "redis",
            Backend::Memory(_) => "memory",
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}:{}", self.prefix, key)
    }

    /// The hit/miss counters, for the metrics registry.
    pub fn lookup_counter(&self) -> Family<LookupLabels, Counter> {
        self.lookups.clone()
    }

    /// A read, counted as a hit or a miss.
    pub async fn get(&self, key: &str) -> Option<Bytes> {
        let value = self.read(key).await;
        let result = if value.is_some() { "hit" } else { "miss" };
        self.lookups.get_or_create(&LookupLabels { result }).inc();
        value
    }

    async fn read(&self, key: &str) -> Option<Bytes> {
        let key = self.key(key);
        match &self.backend {
            Backend::Redis(manager, breaker) => {
                if breaker.is_open() || !breaker.replay_missed(manager).await {
                    return None;
                }
                let mut conn = manager.clone();
                match conn.get::<_, Option<Vec<u8>>>(&key).await {
                    Ok(value) => value.map(Bytes::from),
                    Err(e) => {
                        breaker.trip();
                        tracing::warn!(error = %e, "cache read failed; serving from the database");
                        None
                    }
                }
            }
            Backend::Memory(cache) => cache.get(&key).await.map(|entry| entry.value),
        }
    }

    pub async fn set(&self, key: &str, value: Bytes, ttl: Duration) {
        let key = self.key(key);
        match &self.backend {
            Backend::Redis(manager, breaker) => {
                if breaker.is_open() || !breaker.replay_missed(manager).await {
                    return;
                }
                let mut conn = manager.clone();
                let millis = ttl.as_millis().max(1) as u64;
                let result: redis::RedisResult<()> = redis::cmd("SET")
                    .arg(&key)
                    .arg(value.as_ref())
                    .arg("PX")
                    .arg(millis)
                    .query_async(&mut conn)
                    .await;
                if let Err(e) = result {
                    breaker.trip();
                    tracing::warn!(error = %e, "cache write failed");
                }
            }
            Backend::Memory(cache) => cache.insert(key, MemoryEntry { value, ttl }).await,
        }
    }

    pub async fn delete(&self, keys: &[String]) {
        let keys: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        match &self.backend {
            // Always tried, even in the cool-down: a missed invalidation could serve stale data.
            Backend::Redis(manager, breaker) => {
                let mut conn = manager.clone();
                if let Err(e) = conn.del::<_, ()>(&keys).await {
                    breaker.trip();
                    breaker.remember_missed(keys);
                    tracing::warn!(error = %e, "cache delete failed; replayed before the next read");
                }
            }
            Backend::Memory(cache) => {
                for key in &keys {
                    cache.invalidate(key).await;
                }
            }
        }
    }

    /// Whether the cache answers (for `/ready`).
    pub async fn ping(&self) -> Result<(), String> {
        match &self.backend {
            Backend::Redis(manager, breaker) => {
                let mut conn = manager.clone();
                let result = redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string());
                match &result {
                    Ok(()) => breaker.reset(),
                    Err(_) => breaker.trip(),
                }
                result
            }
            Backend::Memory(_) => Ok(()),
        }
    }
}

/// Whether a read was served from the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheStatus {
    Hit,
    Miss,
}

impl CacheStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit => "HIT",
            CacheStatus::Miss => "MISS",
        }
    }
}

impl Cache {
    /// Cache-aside: the stored bytes on a hit; otherwise `load`, serialize, store, return.
    pub async fn get_or_load<T, F>(
        &self,
        key: &str,
        ttl: Duration,
        load: F,
    ) -> Result<(Bytes, CacheStatus), crate::ApiError>
    where
        T: serde::Serialize,
        F: AsyncFnOnce() -> Result<T, crate::ApiError>,
    {
        if let Some(bytes) = self.get(key).await {
            return Ok((bytes, CacheStatus::Hit));
        }
        let value = load().await?;
        let bytes = Bytes::from(serde_json::to_vec(&value).map_err(crate::ApiError::internal)?);
        self.set(key, bytes.clone(), ttl).await;
        Ok((bytes, CacheStatus::Miss))
    }
}

/// A JSON response from stored bytes, with `X-Cache: HIT|MISS`.
pub fn cached_json(bytes: Bytes, status: CacheStatus) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (
                header::HeaderName::from_static("x-cache"),
                HeaderValue::from_static(status.as_str()),
            ),
        ],
        bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_entries_live_for_their_own_ttl_and_deletes_remove_them() {
        let cache = Cache::memory("t");
        let short = Duration::from_millis(50);
        cache.set("short", Bytes::from_static(b"s"), short).await;
        cache
            .set("long", Bytes::from_static(b"l"), Duration::from_secs(60))
            .await;
        cache
            .set("gone", Bytes::from_static(b"g"), Duration::from_secs(60))
            .await;
        assert_eq!(cache.get("short").await, Some(Bytes::from_static(b"s")));
        cache.delete(&["gone".to_string()]).await;
        assert_eq!(cache.get("gone").await, None, "deleted");
        tokio::time::sleep(short * 3).await;
        assert_eq!(cache.get("short").await, None, "expired after its TTL");
        assert_eq!(cache.get("long").await, Some(Bytes::from_static(b"l")));
    }

    #[tokio::test]
    async fn the_memory_backend_stays_within_its_size_bound() {
        let cache = Cache::memory("t");
        let Backend::Memory(inner) = &cache.backend else {
            panic!("a memory cache");
        };
        let ttl = Duration::from_secs(60);
        for i in 0..MEMORY_MAX_ENTRIES * 2 {
            cache
                .set(&format!("k{i}"), Bytes::from_static(b"v"), ttl)
                .await;
        }
        inner.run_pending_tasks().await;
        assert!(
            inner.entry_count() <= MEMORY_MAX_ENTRIES,
            "{} entries kept",
            inner.entry_count()
        );
        assert!(inner.entry_count() > 0);
    }

    #[test]
    fn breaker_opens_on_failure_and_closes_on_success() {
        let breaker = Breaker::new();
        assert!(!breaker.is_open());
        breaker.trip();
        assert!(breaker.is_open(), "a failure skips Redis for the cool-down");
        breaker.reset();
        assert!(
            !breaker.is_open(),
            "a successful ping brings Redis back at once"
        );
    }

    #[tokio::test]
    async fn a_dead_redis_is_a_miss_and_costs_little_after_the_first_failure() {
        // Bind and drop a listener: nothing answers on that port afterwards.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).expect("URL");
        let manager = ConnectionManager::new_lazy_with_config(
            client,
            ConnectionManagerConfig::new().set_number_of_retries(0),
        )
        .expect("lazy manager");
        let cache = Cache {
            prefix: Arc::from("t"),
            backend: Backend::Redis(manager, Arc::new(Breaker::new())),
            lookups: lookup_family(),
        };
        assert_eq!(cache.get("k").await, None);
        assert!(cache.ping().await.is_err());
        let started = Instant::now();
        for _ in 0..100 {
            assert_eq!(cache.get("k").await, None);
            cache
                .set("k", Bytes::from_static(b"v"), Duration::from_secs(1))
                .await;
        }
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "reads and writes skip Redis in the cool-down: {:?}",
            started.elapsed()
        );
    }
}
