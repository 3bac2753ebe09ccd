//! What a merged record carries over from each run as it was: client tallies (added up),
//! fault windows and recovery figures (each run's own, measured on its own timeline),
//! fault markers, consistency checks, menus, notes, and a line about the run itself — each
//! moved onto the merged timeline by the run's offset and named after its run.

use std::collections::BTreeMap;

use super::LoadedRun;
use crate::consistency::{ConsistencyCheck, ConsistencyRow};
use crate::fault_window::FaultWindow;
use crate::hlog;
use crate::record::{FaultMarker, RunRecord, SourceRun};
use crate::recovery::RecoveryFigure;
use crate::workflow::TallySnapshot;

/// How things of run number `index` (from 0) are named in a merge of `several` runs (one
/// run merged alone keeps its names).
#[derive(Clone, Copy)]
pub(super) struct RunLabel {
    pub(super) index: usize,
    pub(super) several: bool,
}

impl RunLabel {
    /// The run's number for people (from 1).
    pub(super) fn number(self) -> usize {
        self.index + 1
    }

    /// A menu key: `rice (run 2)`.
    fn key(self, key: &str) -> String {
        if self.several {
            format!("{key} (run {})", self.number())
        } else {
            key.to_string()
        }
    }

    /// A fault or marker label: `[run 2] order: payment fail 30%`.
    fn label(self, label: &str) -> String {
        if self.several {
            format!("[run {}] {label}", self.number())
        } else {
            label.to_string()
        }
    }
}

/// Everything carried over so far.
#[derive(Default)]
pub(super) struct Carried<'a> {
    pub(super) tally: TallySnapshot,
    pub(super) fault_windows: Vec<FaultWindow>,
    pub(super) recovery: Vec<RecoveryFigure>,
    pub(super) markers: Vec<FaultMarker>,
    pub(super) history: Vec<ConsistencyCheck>,
    pub(super) menu_ids: BTreeMap<String, i64>,
    pub(super) notes: Vec<String>,
    pub(super) sources: Vec<SourceRun>,
    /// The menus of every run's final check.
    final_rows: Vec<ConsistencyRow>,
    /// The final check made last, at its merged time.
    last_check: Option<(f64, &'a ConsistencyCheck)>,
    /// Runs whose final check was not made or not read.
    check_errors: Vec<String>,
}

impl<'a> Carried<'a> {
    /// Adds `run`, whose second 0 is `offset` seconds into the merged timeline; `first` is
    /// run 1, whose settings the merged record uses.
    pub(super) fn add(
        &mut self,
        label: RunLabel,
        run: &'a LoadedRun,
        offset: u64,
        first: &RunRecord,
    ) {
        let record = &run.record;
        add_tally(&mut self.tally, &record.tally);
        self.add_faults(label, record, offset);
        self.add_checks(label, record, offset);
        for (key, id) in &record.config.menu_ids {
            self.menu_ids.insert(label.key(key), *id);
        }
        for note in &record.notes {
            self.notes.push(format!("run {}: {note}", label.number()));
        }
        if label.index > 0 {
            self.notes.extend(differences(label, run, first));
        }
        self.sources.push(source_of(run, offset));
    }

    /// Fault windows, recovery figures and markers. Each run's recovery was measured on its
    /// own timeline and checks: carried over as it was, moved onto the merged timeline.
    fn add_faults(&mut self, label: RunLabel, record: &RunRecord, offset: u64) {
        for window in &record.fault_windows {
            self.fault_windows
                .push(shifted_window(window, offset, label));
        }
        for figure in &record.recovery {
            let mut figure = figure.clone();
            figure.window = shifted_window(&figure.window, offset, label);
            figure.from_s += offset as f64;
            figure.until_s = figure.until_s.map(|until| until + offset as f64);
            self.recovery.push(figure);
        }
        for marker in &record.markers {
            let mut marker = marker.clone();
            marker.at_secs += offset as f64;
            marker.description = label.label(&marker.description);
            self.markers.push(marker);
        }
    }

    fn add_checks(&mut self, label: RunLabel, record: &'a RunRecord, offset: u64) {
        self.history.extend(
            record
                .consistency_history
                .iter()
                .map(|check| shifted_check(check, offset, label)),
        );
        let Some(check) = &record.final_check else {
            let number = label.number();
            self.check_errors
                .push(format!("run {number} made no final check"));
            return;
        };
        self.final_rows
            .extend(shifted_check(check, offset, label).rows);
        if let Some(error) = &check.error {
            self.check_errors
                .push(format!("run {}: {error}", label.number()));
        }
        let at = check.at_secs + offset as f64;
        if self.last_check.is_none_or(|(last, _)| at >= last) {
            self.last_check = Some((at, check));
        }
    }

    /// The merged final check, and everything in time order. The check made last saw every
    /// run's orders: its Order Service totals are the merged run's (they count all orders,
    /// not one run's).
    pub(super) fn finish(&mut self) -> Option<ConsistencyCheck> {
        self.markers.sort_by(|a, b| a.at_secs.total_cmp(&b.at_secs));
        self.history.sort_by(|a, b| a.at_secs.total_cmp(&b.at_secs));
        self.fault_windows
            .sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        self.recovery
            .sort_by(|a, b| a.window.start_s.total_cmp(&b.window.start_s));
        let rows = std::mem::take(&mut self.final_rows);
        let errors = &self.check_errors;
        self.last_check.map(|(at_secs, check)| ConsistencyCheck {
            at_secs,
            rows,
            orders_by_status: check.orders_by_status.clone(),
            error: (!errors.is_empty()).then(|| errors.join("; ")),
            compensations_outstanding: check.compensations_outstanding,
            took_ms: check.took_ms,
            oldest_pending_age_ms: check.oldest_pending_age_ms,
        })
    }
}

fn add_tally(into: &mut TallySnapshot, t: &TallySnapshot) {
    into.order_attempts += t.order_attempts;
    into.paid += t.paid;
    into.declined += t.declined;
    into.out_of_stock += t.out_of_stock;
    into.order_errors += t.order_errors;
    into.cancelled += t.cancelled;
    into.cancel_refused += t.cancel_refused;
    into.login_failures += t.login_failures;
    into.unknown_outcomes += t.unknown_outcomes;
    for (menu, quantity) in &t.net_sold {
        *into.net_sold.entry(*menu).or_default() += quantity;
    }
    for (menu, quantity) in &t.unknown_quantity {
        *into.unknown_quantity.entry(*menu).or_default() += quantity;
    }
}

/// A check moved onto the merged timeline, its menus named after their run.
fn shifted_check(check: &ConsistencyCheck, offset: u64, label: RunLabel) -> ConsistencyCheck {
    let mut check = check.clone();
    check.at_secs += offset as f64;
    for row in &mut check.rows {
        row.key = label.key(&row.key);
    }
    check
}

/// A fault window moved onto the merged timeline, named after its run.
fn shifted_window(window: &FaultWindow, offset: u64, label: RunLabel) -> FaultWindow {
    FaultWindow {
        start_s: window.start_s + offset as f64,
        end_s: window.end_s + offset as f64,
        label: label.label(&window.label),
        ..window.clone()
    }
}

/// Notes for what run `label` did differently from run 1 (whose settings the merge uses).
fn differences(label: RunLabel, run: &LoadedRun, first: &RunRecord) -> Vec<String> {
    let record = &run.record;
    let differs = |what: &str| {
        format!(
            "run {} ({}) has a different {what} from run 1; the merged report uses run 1's",
            label.number(),
            run.dir.display()
        )
    };
    let mut notes = Vec::new();
    if record.scenario != first.scenario {
        notes.push(differs("scenario file"));
    }
    if record.config.run_time != first.config.run_time || record.config.short != first.config.short
    {
        notes.push(differs("run time"));
    }
    if record.config.targets != first.config.targets {
        notes.push(differs("set of targets"));
    }
    notes
}

/// The merged record's line about one of its runs.
fn source_of(run: &LoadedRun, offset: u64) -> SourceRun {
    let record = &run.record;
    SourceRun {
        dir: run.dir.display().to_string(),
        run_tag: record.config.run_tag.clone(),
        started_at: record.started_at.clone(),
        load_started_at: hlog::rfc3339(run.histograms.load_started),
        offset_secs: offset,
        load_secs: record.load_secs,
        users: record.config.users,
        requests: record.total_requests(),
        errors: record.total_errors(),
        passed: record.passed,
        failed: record
            .assertions
            .iter()
            .filter(|a| !a.passed)
            .map(|a| a.title.clone())
            .collect(),
        p99: record
            .endpoints
            .iter()
            .map(|e| (e.endpoint.clone(), e.latency.p99))
            .collect(),
    }
}
