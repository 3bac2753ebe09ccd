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
///   `partition` or `dependency_down`. A `resume` step has no window of its own: it ends
///   its service's `pause` window; a `restart` lasts as long as the restart took.
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
