//! User Service: accounts with argon2id password hashes, JWT login, public profiles, and
//! the token validation the Order Service calls at order time.
//!
//! Layout: `routes` (HTTP in and out) → `domain::Accounts` (rules, bounded hashing, login
//! throttles, tokens, who sees what) → `store` (sea-orm entities, migrations, queries).

pub mod config;
pub mod domain;
pub mod routes;
pub mod startup;
pub mod store;

pub use config::UserConfig;
pub use startup::{DEFAULT_PORT, SERVICE, build};
