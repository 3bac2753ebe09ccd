//! Building the User Service: kit, state, routes, server. Tests and the launcher call
//! [`build`] exactly as `main` does.

use testbed_common::Kit;
use testbed_common::chaos::Chaos;
use testbed_common::server::{Server, bind_service};

use crate::config::UserConfig;
use crate::domain::Accounts;
use crate::routes::{self, UserState};
use crate::store::migration::Migrator;

pub const SERVICE: &str = "user";
pub const DEFAULT_PORT: u16 = 8001;

/// Connects storage, runs migrations and binds the listener.
pub async fn build(config: UserConfig) -> anyhow::Result<Server> {
    let chaos = Chaos::builder(SERVICE).build();
    let kit = Kit::init::<Migrator>(SERVICE, config.common.clone(), chaos).await?;
    let state = UserState {
        accounts: Accounts::new(kit.db.conn.clone(), kit.jwt.clone(), &config.login_limits())
            .await?,
        trust_x_real_ip: config.trust_x_real_ip,
        kit: kit.clone(),
    };
    bind_service(&kit, DEFAULT_PORT, routes::router(), state).await
}
