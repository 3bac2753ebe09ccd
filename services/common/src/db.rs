//! Database connection for PostgreSQL and SQLite through sea-orm: creating the service's
//! database when it is missing (and allowed), SQLite tuning for the embedded mode, running
//! the service's migrations, and the write gate that serializes SQLite writers.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
};
use sea_orm_migration::MigratorTrait;
use tokio::sync::{Mutex, MutexGuard};

/// A service's database: the pool plus, on SQLite, a writer lock.
///
/// SQLite has no `SELECT … FOR UPDATE`; sea-orm silently drops `lock_exclusive()` there.
/// Serializing writers in the process gives the same guarantee the row lock gives on
/// PostgreSQL (and avoids `SQLITE_BUSY` on lock upgrades).
#[derive(Clone, Debug)]
pub struct Db {
    pub conn: DatabaseConnection,
    write_gate: Option<Arc<Mutex<()>>>,
}

impl Db {
    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    pub fn is_sqlite(&self) -> bool {
        self.backend() == DbBackend::Sqlite
    }

    /// Held for the length of a write transaction on SQLite; nothing on PostgreSQL, where
    /// row locks do the work. The Restaurant and Order Services' `store/` take it in their
    /// write functions; the layers above never do. (The User Service writes one row per
    /// statement on a table nothing else locks, and needs none.)
    pub async fn write_guard(&self) -> Option<MutexGuard<'_, ()>> {
        match &self.write_gate {
            Some(gate) => Some(gate.lock().await),
            None => None,
        }
    }

    /// Whether the database answers (for `/ready`).
    pub async fn ping(&self) -> Result<(), String> {
        tokio::time::timeout(Duration::from_secs(2), self.conn.ping())
            .await
            .map_err(|_| "database ping timed out".to_string())?
            .map_err(|e| e.to_string())
    }
}

/// Connects, creating the database if needed, and runs the migrations `M`.
pub async fn connect<M: MigratorTrait>(
    url: &str,
    pool_size: u32,
    create_if_missing: bool,
) -> anyhow::Result<Db> {
    let db = if url.starts_with("sqlite:") {
        connect_sqlite(url).await?
    } else {
        let url = &loopback_without_tls(url);
        if create_if_missing {
            create_postgres_database(url).await?;
        }
        Db {
            conn: connect_postgres_pool(url, pool_size).await?,
            write_gate: None,
        }
    };
    M::up(&db.conn, None).await?;
    Ok(db)
}

/// A pooled connection idle at least this long is pinged before it is handed out.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// The PostgreSQL pool. sqlx pings every connection on acquire by default (a round trip
/// before each statement outside a transaction; it also pings on release, which no option
/// turns off): here only a connection that sat idle for a while is pinged — one in steady
/// use answered moments ago, and one a fault or a restart broke is still caught after a
/// quiet spell. Prepared statements are cached per connection (sqlx's default, 100).
async fn connect_postgres_pool(url: &str, pool_size: u32) -> anyhow::Result<DatabaseConnection> {
    use sea_orm::sqlx::ConnectOptions as _;
    use sea_orm::sqlx::Connection as _;
    use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    let options = url.parse::<PgConnectOptions>()?.disable_statement_logging();
    let pool = PgPoolOptions::new()
        .max_connections(pool_size)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= IDLE_BEFORE_PING {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_with(options)
        .await?;
    Ok(sea_orm::SqlxPostgresConnector::from_sqlx_postgres_pool(
        pool,
    ))
}

async fn connect_sqlite(url: &str) -> anyhow::Result<Db> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if !path.is_empty()
        && path != ":memory:"
        && let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = ConnectOptions::new(url.to_string());
    options
        .max_connections(8)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    let conn = Database::connect(options).await?;
    // WAL lets readers run while the single writer works; the setting is stored in the file.
    conn.execute_unprepared("PRAGMA journal_mode=WAL").await?;
    Ok(Db {
        conn,
        write_gate: Some(Arc::new(Mutex::new(()))),
    })
}

/// sqlx negotiates TLS by default (`sslmode=prefer`), and Debian's PostgreSQL offers it: on
/// loopback that is pure cost (the profile showed libcrypto/rustls on every query). A URL
/// that names no `sslmode` and points at the local machine gets `sslmode=disable`; any
/// explicit choice, and every remote host, is left alone.
pub fn loopback_without_tls(url: &str) -> String {
    if url.contains("sslmode=") {
        return url.to_string();
    }
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = after_scheme.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(rest) = host_port.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    if matches!(host, "127.0.0.1" | "localhost" | "::1") {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}sslmode=disable")
    } else {
        url.to_string()
    }
}

/// Creates the PostgreSQL database named in `url` if it does not exist.
async fn create_postgres_database(url: &str) -> anyhow::Result<()> {
    let (server, name) = split_database_name(url)?;
    let admin_url = loopback_without_tls(&format!("{server}/postgres"));
    let mut options = ConnectOptions::new(admin_url);
    options
        .max_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    let admin = match Database::connect(options).await {
        Ok(admin) => admin,
        // Without access to the maintenance database we cannot create; try the target.
        Err(_) => return Ok(()),
    };
    let exists = admin
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 FROM pg_database WHERE datname = $1",
            [name.clone().into()],
        ))
        .await?
        .is_some();
    if !exists {
        let quoted = name.replace('"', "\"\"");
        if let Err(e) = admin
            .execute_unprepared(&format!("CREATE DATABASE \"{quoted}\""))
            .await
        {
            // Two services racing to create it is fine; anything else is reported.
            if !e.to_string().contains("already exists") {
                return Err(e.into());
            }
        }
        tracing::info!(database = %name, "created database");
    }
    admin.close().await?;
    Ok(())
}

/// Splits `postgres://u:p@h:5432/name?x` into (`postgres://u:p@h:5432`, `name`).
pub fn split_database_name(url: &str) -> anyhow::Result<(String, String)> {
    let without_query = url.split('?').next().unwrap_or(url);
    let scheme_end = without_query.find("://").map(|i| i + 3).unwrap_or(0);
    let slash = without_query[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .ok_or_else(|| anyhow::anyhow!("database URL has no database name: {url}"))?;
    let name = &without_query[slash + 1..];
    anyhow::ensure!(!name.is_empty(), "database URL has no database name: {url}");
    Ok((without_query[..slash].to_string(), name.to_string()))
}

/// Drops a PostgreSQL database (tests clean up after themselves with this).
pub async fn drop_postgres_database(url: &str) -> anyhow::Result<()> {
    let (server, name) = split_database_name(url)?;
    let admin = Database::connect(loopback_without_tls(&format!("{server}/postgres"))).await?;
    let quoted = name.replace('"', "\"\"");
    admin
        .execute_unprepared(&format!(
            "DROP DATABASE IF EXISTS \"{quoted}\" WITH (FORCE)"
        ))
        .await?;
    admin.close().await?;
    Ok(())
}

/// The `id` column every table here has: a 64-bit auto-increment primary key.
pub fn id_column<T: sea_orm_migration::sea_query::IntoIden>(
    name: T,
) -> sea_orm_migration::prelude::ColumnDef {
    sea_orm_migration::prelude::ColumnDef::new(name)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_database_name() {
        let (server, name) =
            split_database_name("postgres://u:p@127.0.0.1:5432/orders?sslmode=disable").unwrap();
        assert_eq!(server, "postgres://u:p@127.0.0.1:5432");
        assert_eq!(name, "orders");
        assert!(split_database_name("postgres://h:5432").is_err());
    }

    #[test]
    fn loopback_urls_skip_tls_unless_told_otherwise() {
        assert_eq!(
            loopback_without_tls("postgres://postgres@127.0.0.1:5432/orders"),
            "postgres://postgres@127.0.0.1:5432/orders?sslmode=disable"
        );
        assert_eq!(
            loopback_without_tls("postgres://u:p@localhost/db?application_name=x"),
            "postgres://u:p@localhost/db?application_name=x&sslmode=disable"
        );
        assert_eq!(
            loopback_without_tls("postgres://u@[::1]:5432/db"),
            "postgres://u@[::1]:5432/db?sslmode=disable"
        );
        let remote = "postgres://u:p@db.internal:5432/orders";
        assert_eq!(loopback_without_tls(remote), remote);
        let explicit = "postgres://u@127.0.0.1/db?sslmode=require";
        assert_eq!(loopback_without_tls(explicit), explicit);
    }
}
