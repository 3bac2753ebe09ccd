//! The service kit: everything a service's handlers share that is not its own domain —
//! configuration, database, cache, fault switches, JWT keys and metrics — built once at
//! start-up from a [`ServiceConfig`].

use std::sync::Arc;

use axum::extract::FromRef;
use sea_orm_migration::MigratorTrait;

use crate::auth::{AdminToken, JwtKeys};
use crate::cache::Cache;
use crate::chaos::Chaos;
use crate::config::ServiceConfig;
use crate::db::Db;
use crate::telemetry::Metrics;

/// Shared, cheaply cloneable state of one service. The switches, JWT keys, metrics and
/// admin token can be extracted from it directly (`FromRef`).
#[derive(Clone, FromRef)]
pub struct Kit {
    #[from_ref(skip)]
    pub service: &'static str,
    #[from_ref(skip)]
    pub config: Arc<ServiceConfig>,
    #[from_ref(skip)]
    pub db: Db,
    #[from_ref(skip)]
    pub cache: Cache,
    pub chaos: Chaos,
    pub jwt: JwtKeys,
    pub metrics: Metrics,
    pub admin: AdminToken,
}

impl Kit {
    /// Connects database and cache, runs migrations `M`, and checks the secrets.
    pub async fn init<M: MigratorTrait>(
        service: &'static str,
        config: ServiceConfig,
        chaos: Chaos,
    ) -> anyhow::Result<Self> {
        let secret = config.jwt_secret()?;
        let url = config.database_url_for(service);
        let db = crate::db::connect::<M>(&url, config.db_pool_size, config.create_database)
            .await
            .map_err(|e| anyhow::anyhow!("{service}: database {}: {e}", redact(&url)))?;
        let prefix = config
            .cache_prefix
            .clone()
            .unwrap_or_else(|| service.to_string());
        let cache = match &config.redis_url {
            Some(url) => Cache::redis(url, &prefix)
                .await
                .map_err(|e| anyhow::anyhow!("{service}: Redis {url}: {e}"))?,
            None => Cache::memory(&prefix),
        };
        let metrics = Metrics::for_service(&chaos, &cache);
        Ok(Self {
            service,
            jwt: JwtKeys::new(&secret, config.jwt_ttl_secs),
            admin: AdminToken(config.admin_token.as_deref().map(Arc::from)),
            config: Arc::new(config),
            db,
            cache,
            chaos,
            metrics,
        })
    }
}

/// Hides the password in a database URL for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(super::redact("sqlite://data/x.db"), "sqlite://data/x.db");
    }
}
