//! User Service end-to-end tests: the real app on a random port (through the test kit),
//! against the real PostgreSQL + Redis and against the embedded SQLite + in-process cache.

mod app;
mod endpoints;
mod metrics;
