//! The workspace-hack crate, maintained by `cargo hakari` (see `.config/hakari.toml`): it
//! depends on the union of the features every workspace crate asks of its dependencies, so
//! `cargo build -p testbed` and `cargo build -p loadgen` resolve the same set and the second
//! compiles no dependency again (`scripts/build-once.sh` checks this). It has no code.
