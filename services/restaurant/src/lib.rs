//! Restaurant Service: restaurants and menus (cached reads), stock kept exact under a
//! pessimistic row lock, and an inventory ledger that makes every stock movement auditable
//! and idempotent per order.
//!
//! Layout: `routes` (HTTP in and out) → `domain` (stock rules, reservations,
//! compensation, cache keys) → `store` (sea-orm entities, migrations, seed data).

pub mod config;
pub mod domain;
pub mod metrics;
pub mod routes;
pub mod startup;
pub mod store;

pub use config::RestaurantConfig;
pub use startup::{DEFAULT_PORT, SERVICE, build};
