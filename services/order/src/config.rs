//! Order Service configuration: the shared settings plus where the other services are, how
//! long to wait for them, caching and recovery timing, and the test-only crash point.

use clap::Parser;
use testbed_common::config::ServiceConfig;

/// Order Service of the food-delivery chaos testbed.
#[derive(Parser, Clone, Debug)]
#[command(version)]
pub struct OrderConfig {
    #[command(flatten)]
    pub common: ServiceConfig,
    /// Base URL of the User Service.
    #[arg(
        long,
        env = "USER_SERVICE_URL",
        default_value = "http://127.0.0.1:8001"
    )]
    pub user_service_url: String,
    /// Base URL of the Restaurant Service.
    #[arg(
        long,
        env = "RESTAURANT_SERVICE_URL",
        default_value = "http://127.0.0.1:8002"
    )]
    pub restaurant_service_url: String,
    /// Timeout of each call to another service, in milliseconds. Shorter than the 2 s delay
    /// the brief injects, so the delay scenario shows the timeout path.
    #[arg(long, env = "UPSTREAM_TIMEOUT_MS", default_value_t = 1500)]
    pub upstream_timeout_ms: u64,
    /// How long `GET /orders/{id}` stays cached, in seconds.
    #[arg(long, env = "ORDER_TTL_SECS", default_value_t = 300)]
    pub order_ttl_secs: u64,
    /// Orders PENDING longer than this (a crash mid-saga) are recovered, in seconds.
    #[arg(long, env = "PENDING_TIMEOUT_SECS", default_value_t = 30)]
    pub pending_timeout_secs: u64,
    /// How often the recovery loop runs, in seconds.
    #[arg(long, env = "RECOVERY_INTERVAL_SECS", default_value_t = 5)]
    pub recovery_interval_secs: u64,
    /// Test-only fault point: exit the process right after an order's stock is reserved.
    #[arg(long, env = "FAULT_CRASH_AFTER_RESERVE", hide = true, action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub crash_after_reserve: bool,
}

impl OrderConfig {
    pub fn new(
        common: ServiceConfig,
        user_service_url: String,
        restaurant_service_url: String,
    ) -> Self {
        Self {
            common,
            user_service_url,
            restaurant_service_url,
            upstream_timeout_ms: 1500,
            order_ttl_secs: 300,
            pending_timeout_secs: 30,
            recovery_interval_secs: 5,
            crash_after_reserve: false,
        }
    }
}
