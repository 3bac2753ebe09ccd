//! The shared plumbing's own tests: the Redis cache against a private server, the config's
//! secret files, and the connection limits of the HTTP server.

mod cache;
mod config;
mod connections;
