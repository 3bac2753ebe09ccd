//! Fault windows: when each fault of a run was on, on the load timeline. A run records one
//! [`FaultWindow`] per fault it applied (switches, process faults, link toxics, partitions,
//! dependency outages) in `run.json` (`RunRecord::fault_windows`); recovery measurements,
//! reports and the dashboard read them. Kept deliberately plain (strings and seconds) so
//! every consumer can use it without knowing how the fault was driven.

use serde::{Deserialize, Serialize};

/// One fault, from the moment it was applied to the moment it was cleared.
///
/// - `kind`: the scenario's fault kind: a switch (`delay`, `error`, `payment_fail`,
///   `inventory_delay`), a process fault (`kill`, `restart`, `pause`), `link` (a toxic),
///   `partition` or `dependency_down`.
/// - `target`: what it acts on: a service (`order`) for switches and process faults, a link
///   name (`order->restaurant`) for link toxics and partitions, `<service>->postgres|redis`
///   or `*->postgres|redis` (every service) for dependency outages.
/// - `label`: the words the dashboard and reports show, e.g. `kill order` or
///   `latency 200ms ±100ms on restaurant->postgres`.
/// - `start_s`, `end_s`: seconds since the start of the load (second 0 of the timeline);
///   `end_s` is when the fault was cleared (a `duration` running out, a later `clear`, or
///   the end of the load when nothing cleared it earlier). A fault on from the start has
///   `start_s` 0.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FaultWindow {
    pub kind: String,
    pub target: String,
    pub label: String,
    pub start_s: f64,
    pub end_s: f64,
}

impl FaultWindow {
    /// How long the fault was on, in seconds.
    pub fn duration_s(&self) -> f64 {
        (self.end_s - self.start_s).max(0.0)
    }
}
