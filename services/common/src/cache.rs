//! The cache: one interface, two backends. Redis (through a connection manager that
//! reconnects by itself) when a URL is configured, an in-process TTL map otherwise.
//!
//! Values are stored as the bytes that are sent to the client, so a hit serves them without
//! re-serializing. Cache failures are never the caller's problem: a Redis error on read is a
//! miss, on write or delete it is logged, so the database keeps serving.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// A cache shared by a service's handlers.
#[derive(Clone)]
pub struct Cache {
    prefix: Arc<str>,
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Redis(ConnectionManager),
    Memory(Arc<Mutex<HashMap<String, (Instant, Bytes)>>>),
}

/// Entries kept by the in-process backend before expired ones are swept.
const MEMORY_SWEEP_AT: usize = 10_000;

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
            backend: Backend::Redis(manager),
        })
    }

    /// The in-process backend for the embedded mode.
    pub fn memory(prefix: &str) -> Self {
        Self {
            prefix: Arc::from(prefix),
            backend: Backend::Memory(Arc::new(Mutex::new(HashMap::new()))),
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Redis(_) => "redis",
            Backend::Memory(_) => "memory",
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}:{}", self.prefix, key)
    }

    pub async fn get(&self, key: &str) -> Option<Bytes> {
        let key = self.key(key);
        match &self.backend {
            Backend::Redis(manager) => {
                let mut conn = manager.clone();
                match conn.get::<_, Option<Vec<u8>>>(&key).await {
                    Ok(value) => value.map(Bytes::from),
                    Err(e) => {
                        tracing::warn!(error = %e, "cache read failed; serving from the database");
                        None
                    }
                }
            }
            Backend::Memory(map) => {
                let map = map.lock().ok()?;
                map.get(&key)
                    .filter(|(expires, _)| *expires > Instant::now())
                    .map(|(_, v)| v.clone())
            }
        }
    }

    pub async fn set(&self, key: &str, value: Bytes, ttl: Duration) {
        let key = self.key(key);
        match &self.backend {
            Backend::Redis(manager) => {
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
                    tracing::warn!(error = %e, "cache write failed");
                }
            }
            Backend::Memory(map) => {
                if let Ok(mut map) = map.lock() {
                    let now = Instant::now();
                    if map.len() >= MEMORY_SWEEP_AT {
                        map.retain(|_, (expires, _)| *expires > now);
                    }
                    map.insert(key, (now + ttl, value));
                }
            }
        }
    }

    pub async fn delete(&self, keys: &[String]) {
        let keys: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        match &self.backend {
            Backend::Redis(manager) => {
                let mut conn = manager.clone();
                if let Err(e) = conn.del::<_, ()>(&keys).await {
                    tracing::warn!(error = %e, "cache delete failed");
                }
            }
            Backend::Memory(map) => {
                if let Ok(mut map) = map.lock() {
                    for key in &keys {
                        map.remove(key);
                    }
                }
            }
        }
    }

    /// Whether the cache answers (for `/ready`).
    pub async fn ping(&self) -> Result<(), String> {
        match &self.backend {
            Backend::Redis(manager) => {
                let mut conn = manager.clone();
                redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
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
