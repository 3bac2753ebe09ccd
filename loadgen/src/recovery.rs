//! Recovery time after each fault window: how long after the fault ended the error rate was
//! back under the scenario's threshold, p95 back under its bound, and the books balanced
//! (nothing PENDING that the fault left behind, no compensation outstanding, drift 0 but for
//! orders in flight). Pure functions over the run's per-second timeline and consistency
//! checks, so the run, the dashboard, the reports and `loadgen merge` all measure the same
//! way.
//!
//! How each figure is read (documented in `scenarios/README.md`):
//! - **Measured from** the window's end, or — when other faults were still on at that moment
//!   — from the moment the last of them (transitively overlapping) ended: recovery cannot be
//!   expected while the system is still faulted.
//! - **Watched until** the next fault window starts, or the end of the run.
//! - **Errors and p95** are judged per whole second of the timeline (a request counts under
//!   the second it started in; seconds without requests say nothing and are skipped). The
//!   figure is when the system recovered *for good*: the start of the last run of good
//!   seconds that lasts until the watch ends (never before the measuring point). If it was
//!   good earlier and went bad again, that is a relapse: counted, and the earlier time is
//!   kept as `first_s`. Resolution: one second.
//! - **Books** are judged on consistency checks whose reads began at or after the measuring
//!   point; the figure is when the first check finished that found them balanced *as far as
//!   the fault is concerned*: no compensation outstanding, no PENDING order created before
//!   the measuring point, and each menu's stock short of its paid orders by no more than the
//!   units its PENDING (newer, in-flight) orders may hold — drift 0 when none is in flight
//!   ([`ConsistencyCheck::balanced_since`]). Orders placed after the fault may be in flight:
//!   under steady load some always are, and waiting for a moment with none would measure
//!   the load, not the recovery. A later check is not a relapse: whatever a fault leaves
//!   behind (a stuck PENDING order, a compensation not done, stock not given back) stays
//!   visible until it is repaired, so one such check proves it was. Resolution: the
//!   checker's interval after a fault ends (250 ms, see `run.rs`).
//! - A window whose figure never came is **not recovered**; one with nothing to judge (no
//!   load after the fault, e.g. a fault that lasted until the load ended) is **not
//!   measured**.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::consistency::ConsistencyCheck;
use crate::fault_window::FaultWindow;
use crate::recorder::SecondPoint;
use crate::scenario::{Assertion, Rule};

/// The error-rate threshold when the scenario has no `recovery` assertion.
pub const DEFAULT_MAX_ERROR_RATE: f64 = 0.05;
/// The p95 bound when the scenario has no `recovery` assertion.
pub const DEFAULT_MAX_P95: Duration = Duration::from_secs(1);

/// When a second counts as recovered.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct RecoveryBounds {
    /// Share of a second's requests that may error (0.05 = 5 %).
    pub max_error_rate: f64,
    /// A second's p95 (all endpoints) must stay under this, in ms.
    pub max_p95_ms: f64,
}

impl Default for RecoveryBounds {
    fn default() -> Self {
        Self {
            max_error_rate: DEFAULT_MAX_ERROR_RATE,
            max_p95_ms: DEFAULT_MAX_P95.as_secs_f64() * 1000.0,
        }
    }
}

impl RecoveryBounds {
    /// The bounds of the scenario's first `recovery` assertion, else the defaults.
    pub fn of(assertions: &[Assertion]) -> Self {
        assertions
            .iter()
            .find_map(|a| match &a.rule {
                Rule::Recovery {
                    max_rate, max_p95, ..
                } => Some(Self {
                    max_error_rate: *max_rate,
                    max_p95_ms: max_p95.as_secs_f64() * 1000.0,
                }),
                _ => None,
            })
            .unwrap_or_default()
    }

    fn errors_ok(&self, point: &SecondPoint) -> bool {
        point.errors as f64 <= self.max_error_rate * point.requests as f64
    }

    fn p95_ok(&self, point: &SecondPoint) -> bool {
        (point.p95 as f64) < self.max_p95_ms * 1000.0
    }
}

/// How one measure came back after a fault.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Recovery {
    /// Back within bounds `after_s` after the measuring point, for good; `first_s` is when
    /// it first looked back (earlier when it relapsed `relapses` times).
    Recovered {
        after_s: f64,
        first_s: f64,
        relapses: u32,
    },
    /// Not yet, and the run is still watching (live views only).
    Recovering { for_s: f64 },
    /// Never within the run: watched for `watched_s`.
    NotRecovered { watched_s: f64 },
    /// Nothing to judge it on.
    NotMeasured { reason: String },
}

impl Recovery {
    /// Seconds to recover, when it did.
    pub fn seconds(&self) -> Option<f64> {
        match self {
            Recovery::Recovered { after_s, .. } => Some(*after_s),
            _ => None,
        }
    }

    /// A few words: `0.42s`, `3.0s (1 relapse)`, `not recovered (watched 12.0s)`, ….
    pub fn describe(&self) -> String {
        match self {
            Recovery::Recovered {
                after_s, relapses, ..
            } => match relapses {
                0 => format!("{after_s:.2}s"),
                1 => format!("{after_s:.2}s (after 1 relapse)"),
                n => format!("{after_s:.2}s (after {n} relapses)"),
            },
            Recovery::Recovering { for_s } => format!("recovering ({for_s:.1}s)"),
            Recovery::NotRecovered { watched_s } => {
                format!("not recovered (watched {watched_s:.1}s)")
            }
            Recovery::NotMeasured { reason } => format!("not measured: {reason}"),
        }
    }
}

/// Recovery after one fault window.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecoveryFigure {
    pub window: FaultWindow,
    /// Where recovery is measured from: the window's end, or later when other faults were
    /// still on then (see the module documentation).
    pub from_s: f64,
    /// The next fault window's start, which ends the watch; `None`: the run's end.
    pub until_s: Option<f64>,
    pub bounds: RecoveryBounds,
    pub errors: Recovery,
    pub p95: Recovery,
    pub books: Recovery,
}

impl RecoveryFigure {
    /// Whether every measure is settled as recovered.
    pub fn recovered(&self) -> bool {
        [&self.errors, &self.p95, &self.books]
            .iter()
            .all(|r| matches!(r, Recovery::Recovered { .. }))
    }
}

/// What recovery is measured on.
pub struct Observed<'a> {
    pub timeline: &'a [SecondPoint],
    pub checks: &'a [ConsistencyCheck],
    /// Seconds of the timeline that are complete: later ones are not judged.
    pub whole_secs: u64,
    /// Seconds into the load phase now (live) or at the last check (finished).
    pub now_s: f64,
    /// The run is over: what has not recovered never did.
    pub finished: bool,
}

/// Where recovery from `window` is measured from: its end, pushed on past every other
/// window still on at that moment.
pub fn measuring_point(window: &FaultWindow, windows: &[FaultWindow]) -> f64 {
    let mut from = window.end_s;
    loop {
        let later = windows
            .iter()
            .filter(|other| other.start_s <= from && other.end_s > from)
            .map(|other| other.end_s)
            .fold(from, f64::max);
        if later <= from {
            return from;
        }
        from = later;
    }
}

/// The recovery figure of every window.
pub fn measure(
    windows: &[FaultWindow],
    observed: &Observed<'_>,
    bounds: RecoveryBounds,
) -> Vec<RecoveryFigure> {
    windows
        .iter()
        .filter_map(|window| figure_of(window, windows, observed, bounds))
        .collect()
}

/// While the run goes on: the figures of the windows that have ended and whose measuring
/// point has come (none of the faults still `active` overlaps them).
pub fn measure_ended(
    ended: &[FaultWindow],
    active: &[FaultWindow],
    observed: &Observed<'_>,
    bounds: RecoveryBounds,
) -> Vec<RecoveryFigure> {
    let all = with_active(ended, active);
    ended
        .iter()
        .filter_map(|window| figure_of(window, &all, observed, bounds))
        .collect()
}

/// The measuring points that have come, with faults still `active` holding theirs back.
pub fn measuring_points(ended: &[FaultWindow], active: &[FaultWindow]) -> Vec<f64> {
    let all = with_active(ended, active);
    ended
        .iter()
        .map(|window| measuring_point(window, &all))
        .filter(|from| from.is_finite())
        .collect()
}

/// Whether a check read at or after `from_s` found the books balanced since then.
pub fn books_balanced_after(from_s: f64, checks: &[ConsistencyCheck]) -> bool {
    checks
        .iter()
        .any(|c| c.at_secs >= from_s && c.balanced_since(from_s))
}

/// Every window, the active ones with no end yet.
fn with_active(ended: &[FaultWindow], active: &[FaultWindow]) -> Vec<FaultWindow> {
    ended
        .iter()
        .cloned()
        .chain(active.iter().map(|window| FaultWindow {
            end_s: f64::INFINITY,
            ..window.clone()
        }))
        .collect()
}

/// One window's figure; `None` while a fault that overlaps it is still on.
fn figure_of(
    window: &FaultWindow,
    windows: &[FaultWindow],
    observed: &Observed<'_>,
    bounds: RecoveryBounds,
) -> Option<RecoveryFigure> {
    let from_s = measuring_point(window, windows);
    if !from_s.is_finite() {
        return None;
    }
    let until_s = windows
        .iter()
        .map(|other| other.start_s)
        .filter(|start| *start > from_s)
        .min_by(f64::total_cmp);
    let watch = Watch {
        from_s,
        until_s,
        observed,
    };
    Some(RecoveryFigure {
        window: window.clone(),
        from_s,
        until_s,
        bounds,
        errors: watch.seconds(|p| bounds.errors_ok(p)),
        p95: watch.seconds(|p| bounds.p95_ok(p)),
        books: watch.books(),
    })
}

/// One window's watch: from the measuring point to the next fault or the end.
struct Watch<'a> {
    from_s: f64,
    until_s: Option<f64>,
    observed: &'a Observed<'a>,
}

impl Watch<'_> {
    fn not_yet(&self, watched_to: f64) -> Recovery {
        let ended = self.observed.finished
            || self
                .until_s
                .is_some_and(|until| self.observed.now_s >= until);
        if ended {
            Recovery::NotRecovered {
                watched_s: (watched_to - self.from_s).max(0.0),
            }
        } else {
            Recovery::Recovering {
                for_s: (self.observed.now_s - self.from_s).max(0.0),
            }
        }
    }

    /// Errors or p95, per whole second (see the module documentation).
    fn seconds(&self, good: impl Fn(&SecondPoint) -> bool) -> Recovery {
        let first = self.from_s.floor().max(0.0) as u64;
        let seconds = self.observed.timeline.iter().filter(|p| {
            p.second >= first
                && p.second < self.observed.whole_secs
                && self
                    .until_s
                    .is_none_or(|until| (p.second + 1) as f64 <= until)
                && p.requests > 0
        });
        let mut streak: Option<u64> = None;
        let mut first_good: Option<u64> = None;
        let mut relapses = 0;
        let mut last_seen: Option<u64> = None;
        for point in seconds {
            last_seen = Some(point.second);
            if good(point) {
                streak.get_or_insert(point.second);
                first_good.get_or_insert(point.second);
            } else if streak.take().is_some() {
                relapses += 1;
            }
        }
        let since = |second: u64| (second as f64 - self.from_s).max(0.0);
        match (streak, first_good, last_seen) {
            (Some(start), Some(first), _) => Recovery::Recovered {
                after_s: since(start),
                first_s: since(first),
                relapses,
            },
            (_, _, Some(last)) => self.not_yet((last + 1) as f64),
            (_, _, None) if self.observed.finished => Recovery::NotMeasured {
                reason: "no requests after the fault ended".into(),
            },
            (_, _, None) => self.not_yet(self.from_s),
        }
    }

    /// Books: the first balanced check read after the measuring point.
    fn books(&self) -> Recovery {
        let checks = self.observed.checks.iter().filter(|c| {
            c.at_secs >= self.from_s && self.until_s.is_none_or(|until| c.at_secs < until)
        });
        // Checks may overlap (a slow one does not hold the next back): the earliest to finish
        // balanced counts.
        let mut first_balanced: Option<f64> = None;
        let mut last_done: Option<f64> = None;
        for check in checks {
            let done = check.done_secs();
            if check.balanced_since(self.from_s) {
                first_balanced = Some(first_balanced.map_or(done, |first| first.min(done)));
            }
            last_done = Some(last_done.map_or(done, |last| last.max(done)));
        }
        if let Some(done) = first_balanced {
            let after_s = (done - self.from_s).max(0.0);
            return Recovery::Recovered {
                after_s,
                first_s: after_s,
                relapses: 0,
            };
        }
        match last_done {
            Some(last) => self.not_yet(last),
            None if self.observed.finished => Recovery::NotMeasured {
                reason: "no consistency check after the fault ended".into(),
            },
            None => self.not_yet(self.from_s),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::consistency::ConsistencyRow;

    fn window(kind: &str, start_s: f64, end_s: f64) -> FaultWindow {
        FaultWindow {
            kind: kind.into(),
            target: "order".into(),
            label: format!("order: {kind}"),
            start_s,
            end_s,
        }
    }

    /// Seconds of 100 requests: `errors[i]` errors and `p95_ms[i]` p95 in second `i`.
    fn timeline(errors: &[u64], p95_ms: &[u64]) -> Vec<SecondPoint> {
        errors
            .iter()
            .zip(p95_ms)
            .enumerate()
            .map(|(second, (errors, p95))| SecondPoint {
                second: second as u64,
                requests: 100,
                errors: *errors,
                p50: p95 * 500,
                p95: p95 * 1000,
                p99: p95 * 1500,
            })
            .collect()
    }

    fn check(at_secs: f64, pending: u64, compensations: u64, drift: i64) -> ConsistencyCheck {
        ConsistencyCheck {
            at_secs,
            rows: vec![ConsistencyRow {
                key: "a".into(),
                drift,
                ..ConsistencyRow::default()
            }],
            orders_by_status: BTreeMap::from([("PENDING".into(), pending)]),
            error: None,
            compensations_outstanding: compensations,
            took_ms: 20.0,
            oldest_pending_age_ms: None,
        }
    }

    fn finished<'a>(timeline: &'a [SecondPoint], checks: &'a [ConsistencyCheck]) -> Observed<'a> {
        Observed {
            timeline,
            checks,
            whole_secs: timeline.len() as u64,
            now_s: 30.0,
            finished: true,
        }
    }

    /// The figure of one window, judged on `observed` with the default bounds.
    fn figure_of_one(window: FaultWindow, observed: &Observed<'_>) -> RecoveryFigure {
        let mut figures = measure(&[window], observed, RecoveryBounds::default());
        assert_eq!(figures.len(), 1, "{figures:?}");
        figures.remove(0)
    }

    #[test]
    fn a_recovered_window_reports_each_measure_from_its_end() {
        // Fault 2..5 s: errors high in 2..6, p95 high until 7; books balance at 5.75 s.
        let points = timeline(
            &[0, 0, 40, 40, 40, 30, 1, 0, 0, 0],
            &[50, 50, 900, 1500, 1500, 1500, 1200, 80, 60, 60],
        );
        let checks = [
            check(4.0, 12, 0, -3),
            check(5.0, 3, 1, -1),
            check(5.25, 0, 1, -1),
            check(5.5, 1, 0, -1),
            check(5.75, 0, 0, 0),
            check(6.0, 2, 0, -2),
        ];
        let figure = &figure_of_one(
            window("payment_fail", 2.0, 5.0),
            &finished(&points, &checks),
        );
        assert_eq!(figure.from_s, 5.0);
        assert_eq!(figure.until_s, None);
        assert_eq!(
            figure.errors.seconds(),
            Some(1.0),
            "second 6 is the first good one"
        );
        assert_eq!(
            figure.p95.seconds(),
            Some(2.0),
            "p95 under 1 s from second 7"
        );
        // The first balanced check began at 5.75 and took 20 ms; in-flight orders later do
        // not undo it.
        let books = figure.books.seconds().expect("books balanced");
        assert!((books - 0.77).abs() < 1e-9, "{books}");
        assert!(figure.recovered());
        assert_eq!(figure.books.describe(), "0.77s");
    }

    #[test]
    fn a_window_that_never_recovers_says_so_and_for_how_long_it_was_watched() {
        let points = timeline(&[0, 50, 50, 50, 50], &[50, 2000, 2000, 2000, 2000]);
        let checks = [
            check(2.0, 4, 0, -4),
            check(4.0, 4, 0, -4),
            check(9.5, 1, 0, 0),
        ];
        let figure = &figure_of_one(window("delay", 1.0, 2.0), &finished(&points, &checks));
        assert_eq!(figure.errors, Recovery::NotRecovered { watched_s: 3.0 });
        assert_eq!(figure.p95, Recovery::NotRecovered { watched_s: 3.0 });
        match &figure.books {
            Recovery::NotRecovered { watched_s } => assert!((watched_s - 7.52).abs() < 1e-9),
            other => panic!("{other:?}"),
        }
        assert!(!figure.recovered());
        // Live, the same series reads as still recovering.
        let live = Observed {
            finished: false,
            now_s: 4.6,
            ..finished(&points, &checks)
        };
        let figure = &figure_of_one(window("delay", 1.0, 2.0), &live);
        match figure.errors {
            Recovery::Recovering { for_s } => assert!((for_s - 2.6).abs() < 1e-9, "{for_s}"),
            ref other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_relapse_moves_the_figure_to_the_recovery_that_held_and_is_counted() {
        // Fault 0..2: good in 2 and 3, bad again in 4 and 5, good for good from 6.
        let points = timeline(
            &[30, 30, 0, 0, 20, 20, 0, 0, 0],
            &[50, 50, 50, 50, 50, 50, 50, 50, 50],
        );
        let figure = &figure_of_one(window("error", 0.0, 2.0), &finished(&points, &[]));
        assert_eq!(
            figure.errors,
            Recovery::Recovered {
                after_s: 4.0,
                first_s: 0.0,
                relapses: 1
            }
        );
        assert_eq!(figure.errors.describe(), "4.00s (after 1 relapse)");
        assert_eq!(figure.p95.seconds(), Some(0.0));
        assert!(matches!(figure.books, Recovery::NotMeasured { .. }));
    }

    #[test]
    fn overlapping_faults_are_measured_from_the_last_end_and_the_next_fault_ends_the_watch() {
        let windows = [
            window("error", 0.0, 2.0),
            window("delay", 1.0, 4.0),
            window("inventory_delay", 3.5, 5.0),
            window("payment_fail", 8.0, 9.0),
        ];
        assert_eq!(measuring_point(&windows[0], &windows), 5.0);
        assert_eq!(measuring_point(&windows[3], &windows), 9.0);
        // Errors bad until 7; the watch of the first three ends when payment_fail starts at 8.
        let points = timeline(
            &[9, 9, 9, 9, 9, 9, 9, 9, 0, 0, 0],
            &[50, 50, 50, 50, 50, 50, 50, 50, 50, 50, 50],
        );
        let checks = [
            check(5.5, 1, 0, -1),
            check(8.5, 0, 0, 0),
            check(9.25, 0, 0, 0),
        ];
        let figures = measure(
            &windows,
            &finished(&points, &checks),
            RecoveryBounds::default(),
        );
        assert_eq!(figures[0].until_s, Some(8.0));
        assert_eq!(figures[0].errors, Recovery::NotRecovered { watched_s: 3.0 });
        assert!(matches!(figures[0].books, Recovery::NotRecovered { .. }));
        assert_eq!(figures[3].errors.seconds(), Some(0.0));
        let books = figures[3].books.seconds().expect("balanced at 9.25");
        assert!((books - 0.27).abs() < 1e-9, "{books}");
    }

    #[test]
    fn no_load_after_a_fault_is_not_measured_and_bounds_come_from_the_recovery_rule() {
        let points = timeline(&[0, 0, 0], &[50, 50, 50]);
        let checks = [check(3.1, 0, 0, 0)];
        let figure = &figure_of_one(
            window("payment_fail", 0.0, 3.0),
            &finished(&points, &checks),
        );
        assert!(matches!(figure.errors, Recovery::NotMeasured { .. }));
        assert!(matches!(figure.p95, Recovery::NotMeasured { .. }));
        assert!(figure.books.seconds().is_some());
        let rule = Assertion {
            line: 3,
            rule: Rule::Recovery {
                window: Duration::from_secs(5),
                max_rate: 0.02,
                max_p95: Duration::from_millis(500),
            },
        };
        let bounds = RecoveryBounds::of(&[rule]);
        assert_eq!((bounds.max_error_rate, bounds.max_p95_ms), (0.02, 500.0));
        assert_eq!(RecoveryBounds::of(&[]), RecoveryBounds::default());
    }

    #[test]
    fn while_an_overlapping_fault_is_on_an_ended_window_waits() {
        let ended = [window("error", 0.0, 2.0)];
        let active = [window("delay", 1.0, 3.0)];
        let points = timeline(&[0, 0, 0], &[50, 50, 50]);
        let live = Observed {
            finished: false,
            now_s: 3.0,
            ..finished(&points, &[])
        };
        let bounds = RecoveryBounds::default();
        assert!(measure_ended(&ended, &active, &live, bounds).is_empty());
        assert!(measuring_points(&ended, &active).is_empty());
        let figures = measure_ended(&ended, &[], &live, bounds);
        assert_eq!(figures.len(), 1);
        assert_eq!(measuring_points(&ended, &[]), vec![2.0]);
        assert_eq!(figures[0].errors.seconds(), Some(0.0));
    }

    #[test]
    fn books_recover_under_load_once_only_orders_placed_after_the_fault_are_in_flight() {
        let points = timeline(&[0, 0, 0, 0, 0, 0], &[50, 50, 50, 50, 50, 50]);
        let in_flight = |at_secs: f64, oldest_age_ms: f64, drift: i64| ConsistencyCheck {
            oldest_pending_age_ms: Some(oldest_age_ms),
            rows: vec![ConsistencyRow {
                key: "a".into(),
                drift,
                in_flight_units: 2,
                ..ConsistencyRow::default()
            }],
            ..check(at_secs, 2, 0, drift)
        };
        let checks = [
            // An order from 1.5 s (during the fault) is still PENDING.
            in_flight(3.0, 1500.0, -2),
            // Both in flight now were placed after 3.25 s: balanced for a fault that ended at 3.
            in_flight(3.5, 250.0, -2),
            check(4.0, 0, 0, 0),
        ];
        let figure = &figure_of_one(
            window("inventory_delay", 1.0, 3.0),
            &finished(&points, &checks),
        );
        let books = figure.books.seconds().expect("balanced at 3.5");
        assert!((books - 0.52).abs() < 1e-9, "{books}");
    }
}
