//! Restaurant Service configuration: the shared settings plus cache lifetimes.

use clap::Parser;
use testbed_common::config::ServiceConfig;

/// Restaurant Service of the food-delivery chaos testbed.
#[derive(Parser, Clone, Debug)]
#[command(version)]
pub struct RestaurantConfig {
    #[command(flatten)]
    pub common: ServiceConfig,
    /// How long `GET /menus` stays cached, in seconds.
    #[arg(long, env = "MENU_LIST_TTL_SECS", default_value_t = 10)]
    pub menu_list_ttl_secs: u64,
    /// How long `GET /menus/{id}` stays cached, in seconds.
    #[arg(long, env = "MENU_TTL_SECS", default_value_t = 30)]
    pub menu_ttl_secs: u64,
}

impl RestaurantConfig {
    pub fn new(common: ServiceConfig) -> Self {
        Self {
            common,
            menu_list_ttl_secs: 10,
            menu_ttl_secs: 30,
        }
    }
}
