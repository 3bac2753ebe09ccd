//! Shared plumbing for the food-delivery chaos testbed.
//!
//! Every service (users, restaurants, orders) is built from the same kit: configuration,
//! one JSON error type, the fault-injection layer, JWT auth, a cache with a Redis and an
//! in-process backend, database connection and migrations, telemetry (logs, request ids,
//! Prometheus metrics), OpenAPI docs, and the HTTP server with graceful shutdown. A service
//! only adds its own routes, domain rules and storage.

pub mod auth;
pub mod cache;
pub mod chaos;
pub mod config;
pub mod connections;
pub mod db;
pub mod docs;
pub mod error;
pub mod extract;
pub mod kit;
pub mod net;
pub mod ops;
pub mod responses;
pub mod server;
pub mod service_auth;
pub mod signals;
pub mod telemetry;

pub use error::{ApiError, ApiResult};
pub use kit::Kit;
