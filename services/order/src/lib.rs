//! Order Service: the heart of the testbed. An order is a saga across the User Service
//! (who is ordering), the Restaurant Service (stock) and a simulated payment; every failure
//! is compensated so stock stays exact, and a recovery loop finishes any order a crash left
//! half-done.
//!
//! Layout: `routes` (HTTP in and out) → `domain` (order rules, the saga, payment,
//! recovery) → `store` (sea-orm entities, migrations, queries) and `clients` (the other
//! services over HTTP).

pub mod clients;
pub mod config;
pub mod domain;
pub mod metrics;
pub mod routes;
pub mod startup;
pub mod store;

pub use config::OrderConfig;
pub use startup::{DEFAULT_PORT, SERVICE, build};
