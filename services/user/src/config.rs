//! User Service configuration: the shared settings plus login throttling and the bounds on
//! password hashing.

use clap::Parser;
use testbed_common::config::ServiceConfig;

/// User Service of the food-delivery chaos testbed.
#[derive(Parser, Clone, Debug)]
#[command(version)]
pub struct UserConfig {
    #[command(flatten)]
    pub common: ServiceConfig,
    /// Login attempts allowed per user name per minute before 429.
    #[arg(long, env = "LOGIN_ATTEMPTS_PER_MINUTE", default_value_t = 30)]
    pub login_attempts_per_minute: u32,
    /// Failed logins allowed per client address per minute before 429 (0: no limit, e.g.
    /// for a load test whose made-up users all log in from one address).
    #[arg(
        long,
        env = "LOGIN_FAILURES_PER_ADDRESS_PER_MINUTE",
        default_value_t = 60
    )]
    pub login_failures_per_address_per_minute: u32,
    /// Throttle on the gateway's `X-Real-IP` header instead of the TCP peer. Only behind
    /// the gateway: anyone can send the header to a service reached directly.
    #[arg(long, env = "TRUST_X_REAL_IP", default_value_t = false, action = clap::ArgAction::Set)]
    pub trust_x_real_ip: bool,
    /// Password hashing threads (each argon2id hash takes 19 MiB); 0: one per CPU.
    #[arg(long, env = "HASH_WORKERS", default_value_t = 0)]
    pub hash_workers: usize,
    /// Requests allowed to wait for a hashing thread; beyond it 503 with `Retry-After`.
    #[arg(long, env = "HASH_QUEUE", default_value_t = 16)]
    pub hash_queue: usize,
}

impl UserConfig {
    pub fn new(common: ServiceConfig) -> Self {
        Self {
            common,
            login_attempts_per_minute: 30,
            login_failures_per_address_per_minute: 60,
            trust_x_real_ip: false,
            hash_workers: 0,
            hash_queue: 16,
        }
    }

    /// The login limits, with `hash_workers = 0` resolved to the CPU count.
    pub fn login_limits(&self) -> crate::domain::LoginLimits {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        crate::domain::LoginLimits {
            per_name_per_minute: self.login_attempts_per_minute,
            failures_per_address_per_minute: self.login_failures_per_address_per_minute,
            hash_workers: if self.hash_workers == 0 {
                cpus
            } else {
                self.hash_workers
            },
            hash_queue: self.hash_queue,
        }
    }
}
