//! User Service configuration: the shared settings plus login throttling.

use clap::Parser;
use testbed_common::config::ServiceConfig;

#[derive(Parser, Clone, Debug)]
#[command(
    name = "user-service",
    version,
    about = "User Service of the food-delivery chaos testbed"
)]
pub struct UserConfig {
    #[command(flatten)]
    pub common: ServiceConfig,
    /// Login attempts allowed per user name per minute before 429.
    #[arg(long, env = "LOGIN_ATTEMPTS_PER_MINUTE", default_value_t = 30)]
    pub login_attempts_per_minute: u32,
}

impl UserConfig {
    pub fn new(common: ServiceConfig) -> Self {
        Self {
            common,
            login_attempts_per_minute: 30,
        }
    }
}
