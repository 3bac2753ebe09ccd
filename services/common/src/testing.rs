//! Test support shared by every service's tests: a throw-away PostgreSQL database per test
//! (created, then dropped), a unique Redis key prefix, or a temporary SQLite directory with
//! the in-process cache. Tests talk to the real PostgreSQL and Redis on localhost
//! (`TEST_DATABASE_SERVER`, `TEST_REDIS_URL` override where they are).

use std::path::PathBuf;

use crate::config::ServiceConfig;

/// Which storage a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Real PostgreSQL and Redis.
    Postgres,
    /// SQLite files and the in-process cache (the embedded mode).
    Embedded,
}

pub fn database_server() -> String {
    std::env::var("TEST_DATABASE_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string())
}

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

/// A short random name, e.g. for databases, users and cache prefixes.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// The storage of one test; PostgreSQL databases are dropped when it goes away.
pub struct TestStorage {
    pub backend: Backend,
    pub dir: PathBuf,
    databases: Vec<String>,
    prefix: String,
}

impl TestStorage {
    pub fn new(backend: Backend) -> Self {
        let prefix = unique("t");
        let dir = std::env::temp_dir().join(format!("testbed-{prefix}"));
        Self {
            backend,
            dir,
            databases: Vec::new(),
            prefix,
        }
    }

    /// A development-mode config for `service` with its own database and cache prefix.
    pub fn config(&mut self, service: &str) -> ServiceConfig {
        let mut config = ServiceConfig {
            port: Some(0),
            dev: true,
            db_pool_size: 8,
            data_dir: self.dir.clone(),
            cache_prefix: Some(format!("{}:{service}", self.prefix)),
            ..ServiceConfig::default()
        };
        if self.backend == Backend::Postgres {
            let url = format!("{}/{}_{service}", database_server(), self.prefix);
            self.databases.push(url.clone());
            config.database_url = Some(url);
            config.redis_url = Some(redis_url());
        }
        config
    }
}

impl Drop for TestStorage {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if self.databases.is_empty() {
            return;
        }
        let databases = std::mem::take(&mut self.databases);
        // Drop runs inside the test's runtime; clean up on a thread with its own.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(async {
                    for url in databases {
                        let _ = crate::db::drop_postgres_database(&url).await;
                    }
                });
            }
        })
        .join();
    }
}

/// A port that was free a moment ago, for processes that must be told their port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}
