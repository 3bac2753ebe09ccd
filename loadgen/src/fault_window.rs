//! Fault windows: when each fault of a run was on, on the load timeline, as the report
//! shades them and recovery is measured from their ends. A run records one [`FaultWindow`]
//! per fault it applied in `run.json` (`RunRecord::fault_windows`).
//!
//! - Switch faults (delay, 500s, payment failure, inventory delay): a window runs from the
//!   step that turns a switch on for a service until the step that turns it off (its
//!   `clear`, a zero delay or percentage, or `enable = false`), or until the teardown at the
//!   end of the load; a change while on extends the label ([`switch_windows`]).
//! - Process, link and dependency faults: a window runs from the moment the fault is applied
//!   to the moment its clearing begins, so a killed service's start-up counts as recovery; a
//!   `restart` lasts as long as the restart took, a `resume` ends its service's `pause`
//!   ([`WindowBook`], kept by the run as it goes).
//!
//! Kept plain (strings and seconds) so every consumer can use it without knowing how the
//! fault was driven.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::chaos::{ChaosStep, ProcessAction};
use crate::service::Service;
use crate::switch::{Fault, FaultStep};

/// One span during which a fault was on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FaultWindow {
    /// What kind of fault (`delay`, `error`, `payment_fail`, `inventory_delay`, …).
    pub kind: String,
    /// What it acted on (a service name, a link, …).
    pub target: String,
    /// For people: what was set, and what it was changed to while on.
    pub label: String,
    /// Seconds into the load phase.
    pub start_s: f64,
    pub end_s: f64,
}

impl FaultWindow {
    /// Whether a scenario's `fault = "…"` filter names this window: its kind, its target,
    /// or both as `kind:target`.
    pub fn matches(&self, filter: &str) -> bool {
        filter == self.kind
            || filter == self.target
            || filter == format!("{}:{}", self.kind, self.target)
    }

    /// `kind target` for tables and messages.
    pub fn name(&self) -> String {
        format!("{} {}", self.kind, self.target)
    }

    /// How long the fault was on, in seconds.
    pub fn duration_s(&self) -> f64 {
        (self.end_s - self.start_s).max(0.0)
    }
}

/// The switch a fault step acts on, and whether the step leaves it on; `None` for `clear`.
fn switch_of(fault: &Fault) -> Option<(&'static str, bool)> {
    match fault {
        Fault::Delay { delay_ms } => Some(("delay", *delay_ms > 0)),
        Fault::Error { enable, percent } => Some(("error", *enable && *percent != Some(0))),
        Fault::PaymentFail { percent } => Some(("payment_fail", *percent > 0)),
        Fault::InventoryDelay { delay_ms } => Some(("inventory_delay", *delay_ms > 0)),
        Fault::Clear => None,
    }
}

/// Windows of the switch faults, from steps applied at the given seconds (in the order they
/// were applied). Windows still on at `now_s` come back separately, ending at `now_s`.
pub fn switch_windows(
    applied: &[(f64, FaultStep)],
    now_s: f64,
) -> (Vec<FaultWindow>, Vec<FaultWindow>) {
    let mut open: BTreeMap<(Service, &'static str), FaultWindow> = BTreeMap::new();
    let mut closed = Vec::new();
    for (at, step) in applied {
        let ending: Vec<&'static str> = match switch_of(&step.fault) {
            None => open
                .keys()
                .filter(|(service, _)| *service == step.service)
                .map(|(_, kind)| *kind)
                .collect(),
            Some((kind, false)) => vec![kind],
            Some((kind, true)) => {
                let description = step.fault.to_string();
                open.entry((step.service, kind))
                    .and_modify(|window| window.label.push_str(&format!(" → {description}")))
                    .or_insert_with(|| FaultWindow {
                        kind: kind.to_string(),
                        target: step.service.name().to_string(),
                        label: format!("{}: {description}", step.service),
                        start_s: *at,
                        end_s: *at,
                    });
                Vec::new()
            }
        };
        for kind in ending {
            if let Some(mut window) = open.remove(&(step.service, kind)) {
                window.end_s = *at;
                closed.push(window);
            }
        }
    }
    let still_on = open
        .into_values()
        .map(|mut window| {
            window.end_s = now_s.max(window.start_s);
            window
        })
        .collect();
    closed.sort_by(|a, b| {
        a.start_s
            .total_cmp(&b.start_s)
            .then(a.end_s.total_cmp(&b.end_s))
    });
    (closed, still_on)
}

/// The windows a scenario plans, its steps taken at their (scaled) times and every fault
/// still on ending with the load at `run_secs`: the switches' and the process, link and
/// dependency faults' (a `resume` ends its service's pause; a `restart` is a moment).
pub fn planned_windows(
    steps: &[FaultStep],
    chaos: &[ChaosStep],
    run_secs: f64,
) -> Vec<FaultWindow> {
    let mut timed: Vec<(f64, FaultStep)> = steps
        .iter()
        .map(|step| (step.at.as_secs_f64(), step.clone()))
        .collect();
    timed.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut windows, still_on) = switch_windows(&timed, run_secs);
    windows.extend(still_on);
    windows.extend(planned_chaos_windows(chaos, run_secs));
    windows.sort_by(|a, b| {
        a.start_s
            .total_cmp(&b.start_s)
            .then(a.end_s.total_cmp(&b.end_s))
    });
    windows
}

/// The windows of a run as it goes: open ones (keyed by what closes them) and closed ones.
#[derive(Debug, Default)]
pub struct WindowBook {
    open: Vec<(String, FaultWindow)>,
    closed: Vec<FaultWindow>,
}

impl WindowBook {
    /// Opens a window under `key`; one already open under the same key ends where this one
    /// starts (a switch set again replaces its earlier setting).
    pub fn open(&mut self, key: &str, window: FaultWindow) {
        self.close(key, window.start_s);
        self.open.push((key.to_string(), window));
    }

    /// Ends the window open under `key`, if any, at `at_s`.
    pub fn close(&mut self, key: &str, at_s: f64) {
        self.close_where(|open_key, _| open_key == key, at_s);
    }

    /// Ends every open window `matches` picks (by key and window) at `at_s`.
    pub fn close_where(&mut self, matches: impl Fn(&str, &FaultWindow) -> bool, at_s: f64) {
        let (ending, staying): (Vec<_>, Vec<_>) = std::mem::take(&mut self.open)
            .into_iter()
            .partition(|(key, window)| matches(key, window));
        self.open = staying;
        for (_, mut window) in ending {
            window.end_s = at_s.max(window.start_s);
            self.closed.push(window);
        }
    }

    /// The windows so far, open ones ending `now_s`, in order of start.
    pub fn all(&self, now_s: f64) -> Vec<FaultWindow> {
        let mut windows = self.closed.clone();
        windows.extend(self.open.iter().map(|(_, window)| FaultWindow {
            end_s: now_s.max(window.start_s),
            ..window.clone()
        }));
        windows.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        windows
    }

    /// The windows still open.
    pub fn active(&self) -> Vec<FaultWindow> {
        self.open.iter().map(|(_, window)| window.clone()).collect()
    }

    /// The windows that have ended, and the open ones ending `now_s`.
    pub fn split(&self, now_s: f64) -> (Vec<FaultWindow>, Vec<FaultWindow>) {
        let active = self
            .open
            .iter()
            .map(|(_, window)| FaultWindow {
                end_s: now_s.max(window.start_s),
                ..window.clone()
            })
            .collect();
        (self.closed.clone(), active)
    }
}

/// The windows the process, link and dependency steps plan (see [`planned_windows`]).
fn planned_chaos_windows(chaos: &[ChaosStep], run_secs: f64) -> Vec<FaultWindow> {
    let mut book = WindowBook::default();
    let mut steps: Vec<&ChaosStep> = chaos.iter().collect();
    steps.sort_by_key(|step| step.at);
    for step in steps {
        let at = step.at.as_secs_f64();
        let key = format!("chaos:{}", step.line);
        if let Some((ProcessAction::Resume, service)) = step.fault.process() {
            let target = service.to_string();
            book.close_where(|_, w| w.kind == "pause" && w.target == target, at);
            continue;
        }
        book.open(
            &key,
            FaultWindow {
                kind: step.fault.kind().into(),
                target: step.fault.target(),
                label: step.label(),
                start_s: at,
                end_s: at,
            },
        );
        match step.end() {
            Some(end) => book.close(&key, end.as_secs_f64()),
            None if step
                .fault
                .process()
                .is_some_and(|(a, _)| a == ProcessAction::Restart) =>
            {
                book.close(&key, at)
            }
            None => {}
        }
    }
    book.all(run_secs)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn step(at: u64, service: Service, fault: Fault) -> FaultStep {
        FaultStep {
            at: Duration::from_secs(at),
            service,
            fault,
        }
    }

    #[test]
    fn a_switch_runs_from_its_step_to_its_clear_and_changes_extend_the_label() {
        let steps = [
            step(0, Service::User, Fault::Delay { delay_ms: 2000 }),
            step(
                0,
                Service::User,
                Fault::Error {
                    enable: true,
                    percent: None,
                },
            ),
            step(
                20,
                Service::User,
                Fault::Error {
                    enable: false,
                    percent: None,
                },
            ),
            step(20, Service::User, Fault::Delay { delay_ms: 300 }),
            step(45, Service::User, Fault::Clear),
            step(5, Service::Order, Fault::PaymentFail { percent: 30 }),
        ];
        let windows = planned_windows(&steps, &[], 60.0);
        let summary: Vec<(String, f64, f64)> = windows
            .iter()
            .map(|w| (w.name(), w.start_s, w.end_s))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("error user".to_string(), 0.0, 20.0),
                ("delay user".to_string(), 0.0, 45.0),
                ("payment_fail order".to_string(), 5.0, 60.0),
            ]
        );
        assert_eq!(windows[1].label, "user: delay 2000 ms → delay 300 ms");
        assert!(windows[2].matches("payment_fail"));
        assert!(windows[2].matches("order"));
        assert!(windows[2].matches("payment_fail:order"));
        assert!(!windows[2].matches("delay"));
    }

    #[test]
    fn zero_settings_end_a_window_and_open_windows_end_now() {
        let applied = [
            (
                1.0,
                step(
                    1,
                    Service::Restaurant,
                    Fault::InventoryDelay { delay_ms: 100 },
                ),
            ),
            (
                4.5,
                step(
                    4,
                    Service::Restaurant,
                    Fault::InventoryDelay { delay_ms: 0 },
                ),
            ),
            (
                6.0,
                step(6, Service::Order, Fault::PaymentFail { percent: 10 }),
            ),
        ];
        let (closed, open) = switch_windows(&applied, 8.0);
        assert_eq!(closed.len(), 1);
        assert_eq!((closed[0].start_s, closed[0].end_s), (1.0, 4.5));
        assert_eq!(open.len(), 1);
        assert_eq!((open[0].start_s, open[0].end_s), (6.0, 8.0));
        // A clear with nothing on closes nothing.
        let (closed, open) = switch_windows(&[(2.0, step(2, Service::User, Fault::Clear))], 3.0);
        assert!(closed.is_empty() && open.is_empty());
    }

    fn window(kind: &str, start_s: f64) -> FaultWindow {
        FaultWindow {
            kind: kind.into(),
            target: "order".into(),
            label: kind.into(),
            start_s,
            end_s: start_s,
        }
    }

    #[test]
    fn a_window_ends_when_closed_replaced_or_at_the_end() {
        let mut book = WindowBook::default();
        book.open("switch:order:delay", window("delay", 1.0));
        book.open("switch:order:delay", window("delay", 3.0));
        book.open("chaos:12", window("kill", 4.0));
        book.close("chaos:12", 6.5);
        book.open("switch:user:error", window("error", 5.0));
        assert_eq!(book.active().len(), 2);
        let all = book.all(10.0);
        let spans: Vec<(&str, f64, f64)> = all
            .iter()
            .map(|w| (w.kind.as_str(), w.start_s, w.end_s))
            .collect();
        assert_eq!(
            spans,
            [
                ("delay", 1.0, 3.0),
                ("delay", 3.0, 10.0),
                ("kill", 4.0, 6.5),
                ("error", 5.0, 10.0)
            ]
        );
        book.close_where(|key, _| key.starts_with("switch:order:"), 8.0);
        assert_eq!(book.active().len(), 1);
        assert!((all[2].duration_s() - 2.5).abs() < 1e-9);
    }
}
