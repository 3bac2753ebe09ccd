//! The chaos testbed's load generator: named scenarios (TOML) drive the three services
//! with goose users or an open-loop rate while faults are switched on and off, every
//! request is timed into HDR histograms, stock is reconciled against paid orders, and each
//! run ends in assertions and reports (HTML, `summary.json`, `junit.xml`, `run.json`).
//!
//! For a live view (the dashboard), call [`run::start_run`] and read
//! [`run::RunHandle::snapshot`] as often as once a second; [`run::RunHandle::stop`] ends the
//! load gracefully and the run still produces its record.

pub mod api;
pub mod assertions;
pub mod chaos;
pub mod chaos_driver;
pub mod cli;
pub mod compare;
pub mod consistency;
pub mod dashboard;
pub mod duration;
pub mod fault_window;
pub mod histogram;
pub mod hlog;
pub mod merge;
pub mod record;
pub mod recorder;
pub mod recovery;
pub mod report;
pub mod run;
pub mod scenario;
pub mod seconds_log;
pub mod service;
pub mod switch;
pub mod workflow;

pub use run::{RunHandle, RunOptions, RunRecord, Snapshot, start_run};
pub use scenario::Scenario;
