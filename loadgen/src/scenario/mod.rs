//! The scenario file format (TOML, documented in `scenarios/README.md`): the checked
//! scenario (`model`), the file as serde reads it (`raw`), parsing and checking it with file
//! and line in every message (`parse`, with `faults` and `rules` for the `[[faults]]` and
//! `[[assertions]]` tables), and finding the named scenarios shipped in `scenarios/`
//! (`catalogue`).

mod catalogue;
mod faults;
mod model;
mod parse;
mod raw;
mod rules;
#[cfg(test)]
mod tests;

pub use catalogue::{
    all_scenarios, built_in_names, load_file, resolve, scenarios_dir, source_text,
    use_scenarios_dir,
};
pub use model::{
    Assertion, CompareThresholds, Load, MenuSetup, RecoveryMeasure, Rule, Scenario, Workflow,
    WorkflowKind, parse_percent,
};
pub use parse::parse_scenario;
pub use raw::ScenarioError;

// Scenarios name services and set their switches; those types have modules of their own.
pub use crate::service::{ENDPOINTS, Service};
pub use crate::switch::{Fault, FaultStep};
