//! Order Service end-to-end tests: all three real services in-process on random ports (the
//! test kit's stack), over real HTTP, against the real PostgreSQL + Redis and the embedded
//! mode — the saga and its compensation, idempotency keys, hung-up callers, metrics.

mod hangup;
mod idempotency;
mod metrics;
mod saga;
