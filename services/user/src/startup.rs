//! Building the User Service: kit, state, routes, server. Tests and the launcher call
//! [`build`] exactly as `main` does.

use std::net::SocketAddr;

use testbed_common::Kit;
use testbed_common::chaos::Chaos;
use testbed_common::server::{Server, build_app};
use utoipa::OpenApi;

use crate::config::UserConfig;
use crate::domain::LoginThrottle;
use crate::routes::{self, ApiDoc, UserState};
use crate::store::migration::Migrator;

pub const SERVICE: &str = "user";
pub const DEFAULT_PORT: u16 = 8001;

/// Connects storage, runs migrations and binds the listener.
pub async fn build(config: UserConfig) -> anyhow::Result<Server> {
    let addr = SocketAddr::new(
        config.common.host,
        config.common.port.unwrap_or(DEFAULT_PORT),
    );
    let chaos = Chaos::builder(SERVICE).build();
    let kit = Kit::init::<Migrator>(SERVICE, config.common.clone(), chaos).await?;
    let state = UserState {
        throttle: LoginThrottle::new(config.login_attempts_per_minute),
        dummy_hash: crate::domain::dummy_hash().await?.into(),
        kit: kit.clone(),
    };
    let app = build_app(&kit, ApiDoc::openapi(), routes::router(), state);
    Server::bind("user-service", addr, app).await
}
