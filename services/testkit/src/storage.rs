//! The storage of one test: a throw-away PostgreSQL database per service (created by the
//! service, dropped with the test), a unique Redis key prefix, or a temporary SQLite
//! directory with the in-process cache. Tests talk to the real PostgreSQL and Redis on
//! localhost (`TEST_DATABASE_SERVER`, `TEST_REDIS_URL` override where they are).

use std::path::PathBuf;

use testbed_common::config::ServiceConfig;

/// Which storage a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Real PostgreSQL and Redis.
    Postgres,
    /// SQLite files and the in-process cache (the embedded mode).
    Embedded,
}

/// The PostgreSQL server tests create their databases on.
pub fn database_server() -> String {
    std::env::var("TEST_DATABASE_SERVER")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string())
}

/// The Redis server tests use, each under its own key prefix.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

/// A short random name, e.g. for databases, users and cache prefixes.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// A temporary directory, created now and removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Self {
        let dir = std::env::temp_dir().join(unique(prefix));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// PostgreSQL databases (by URL) dropped when this goes away, also when a test panics.
#[derive(Default)]
pub struct Databases(pub Vec<String>);

impl Databases {
    /// The three databases the launcher creates with `database_prefix = "<prefix>_"`.
    pub fn of_launcher(server: &str, prefix: &str) -> Self {
        Self(
            ["users", "restaurants", "orders"]
                .iter()
                .map(|db| format!("{server}/{prefix}_{db}"))
                .collect(),
        )
    }
}

impl Drop for Databases {
    fn drop(&mut self) {
        let urls = std::mem::take(&mut self.0);
        if urls.is_empty() {
            return;
        }
        // Drop may run inside the test's runtime: clean up on a thread with its own.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(async {
                    for url in urls {
                        let _ = testbed_common::db::drop_postgres_database(&url).await;
                    }
                });
            }
        })
        .join();
    }
}

/// The storage of one test's services; the SQLite directory is removed and the PostgreSQL
/// databases dropped when it goes away.
pub struct TestStorage {
    pub backend: Backend,
    pub dir: PathBuf,
    databases: Databases,
    prefix: String,
}

impl TestStorage {
    pub fn new(backend: Backend) -> Self {
        let prefix = unique("t");
        let dir = std::env::temp_dir().join(format!("testbed-{prefix}"));
        Self {
            backend,
            dir,
            databases: Databases::default(),
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
            self.databases.0.push(url.clone());
            config.database_url = Some(url);
            config.redis_url = Some(redis_url());
        }
        config
    }
}

impl Drop for TestStorage {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
