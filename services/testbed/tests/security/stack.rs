//! The launcher's in-process stack with an admin token configured, on either backend, and
//! the raw calls the security tests make: with or without the admin token and a bearer.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use testbed::{Stack, StackConfig};
use testkit::{Backend, Clients, Databases, TempDir, database_server, redis_url, unique};

pub struct AdminStack {
    pub stack: Stack,
    pub http: reqwest::Client,
    admin: String,
    _dir: TempDir,
    _databases: Databases,
}

impl AdminStack {
    pub async fn start(admin: &str, backend: Backend) -> Self {
        Self::start_with(admin, backend, |_| {}).await
    }

    /// Every port picked freely, `admin` required for admin calls, `tweak` applied last.
    pub async fn start_with(
        admin: &str,
        backend: Backend,
        tweak: impl FnOnce(&mut StackConfig),
    ) -> Self {
        let dir = TempDir::new("security");
        let mut config = StackConfig::embedded(dir.0.join("data"));
        (config.user_port, config.restaurant_port, config.order_port) = (0, 0, 0);
        config.admin_token = Some(admin.into());
        let mut databases = Databases::default();
        if backend == Backend::Postgres {
            let prefix = unique("sec");
            config.database_server = Some(database_server());
            config.database_prefix = format!("{prefix}_");
            config.redis_url = Some(redis_url());
            config.cache_prefix = prefix.clone();
            databases = Databases::of_launcher(&database_server(), &prefix);
        }
        tweak(&mut config);
        let stack = Stack::start(&config).await.expect("stack starts");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .expect("HTTP client");
        Self {
            stack,
            http,
            admin: admin.into(),
            _dir: dir,
            _databases: databases,
        }
    }

    /// The three services' clients, the operator's calls with the admin token.
    pub fn clients(&self) -> Clients {
        let stack = &self.stack;
        Clients::new(
            &self.http,
            &stack.user_url,
            &stack.restaurant_url,
            &stack.order_url,
        )
        .with_admin_token(Some(&self.admin))
    }

    /// A raw call: `admin` as `X-Admin-Token` and `token` as the bearer, when given.
    pub async fn send(
        &self,
        method: Method,
        url: String,
        admin: Option<&str>,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, url);
        if let Some(admin) = admin {
            request = request.header("x-admin-token", admin);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("an answer");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn stop(self) {
        self.stack.stop().await.expect("stack stops");
    }
}
