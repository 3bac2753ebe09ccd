//! The rules judged on recovery: the trailing window of the run (`recovery`: errors and
//! p95 back within bounds once the faults were removed) and the time each fault window
//! took to recover (`recovered_within`, from the recovery figures).

use std::time::Duration;

use super::{AssertionResult, Evidence, percent, share, verdict};
use crate::duration::{format_duration, format_micros};
use crate::recovery::{Recovery, RecoveryFigure};
use crate::scenario::{Assertion, RecoveryMeasure};

/// `recovery`: in the run's last `window`, the error rate and p95 back within bounds.
pub(super) fn trailing_window(
    assertion: &Assertion,
    evidence: &Evidence,
    window: Duration,
    max_rate: f64,
    max_p95: Duration,
) -> AssertionResult {
    let window_secs = window.as_secs();
    let Some(stats) = evidence
        .windows
        .iter()
        .find(|w| w.window_secs == window_secs)
    else {
        return verdict(
            assertion,
            false,
            "a trailing window".into(),
            "not measured".into(),
            "the run did not last long enough for the window".into(),
        );
    };
    let bound = max_p95.as_micros() as f64;
    let expected = format!(
        "errors ≤ {}, p95 < {}",
        percent(max_rate),
        format_micros(bound)
    );
    if stats.requests == 0 {
        return verdict(
            assertion,
            false,
            expected,
            "no requests".into(),
            "no requests in the window".into(),
        );
    }
    let rate = share(stats.errors, stats.requests);
    let p95 = stats.latency.p95 as f64;
    let mut misses = Vec::new();
    if rate > max_rate {
        misses.push(format!(
            "error rate {:.1} points over",
            (rate - max_rate) * 100.0
        ));
    }
    if p95 >= bound {
        misses.push(format!("p95 {} over", format_micros(p95 - bound)));
    }
    verdict(
        assertion,
        misses.is_empty(),
        expected,
        format!(
            "errors {} of {}, p95 {}",
            stats.errors,
            stats.requests,
            format_micros(p95)
        ),
        misses.join("; "),
    )
}

/// `recovered_within`: every matching fault window's measures recovered in time.
pub(super) fn within(
    assertion: &Assertion,
    evidence: &Evidence,
    within: Duration,
    measure: RecoveryMeasure,
    fault: Option<&str>,
) -> AssertionResult {
    let bound = within.as_secs_f64();
    let figures: Vec<&RecoveryFigure> = evidence
        .recovery
        .iter()
        .filter(|f| fault.is_none_or(|filter| f.window.matches(filter)))
        .collect();
    let expected = format!(
        "{} within {} of each fault's end",
        measure.name(),
        format_duration(within)
    );
    if figures.is_empty() {
        return verdict(
            assertion,
            false,
            expected,
            "no fault window".into(),
            "no fault window of the run matched, so nothing recovered".into(),
        );
    }
    let mut misses = Vec::new();
    let mut slowest: Option<(f64, String)> = None;
    for figure in &figures {
        let measures: Vec<(&str, &Recovery)> = match measure {
            RecoveryMeasure::Books => vec![("books", &figure.books)],
            RecoveryMeasure::Errors => vec![("errors", &figure.errors)],
            RecoveryMeasure::P95 => vec![("p95", &figure.p95)],
            RecoveryMeasure::All => vec![
                ("errors", &figure.errors),
                ("p95", &figure.p95),
                ("books", &figure.books),
            ],
        };
        let name = format!(
            "{} ({:.1}–{:.1}s)",
            figure.window.label, figure.window.start_s, figure.window.end_s
        );
        for (what, recovery) in measures {
            match recovery.seconds() {
                Some(after) if after <= bound => {}
                Some(after) => misses.push(format!(
                    "{name}: {what} after {}, {:.2}s over",
                    recovery.describe(),
                    after - bound
                )),
                None => misses.push(format!("{name}: {what} {}", recovery.describe())),
            }
            if let Some(after) = recovery.seconds()
                && slowest.as_ref().is_none_or(|(worst, _)| after > *worst)
            {
                slowest = Some((after, format!("{what} {after:.2}s after {name}")));
            }
        }
    }
    let actual = match (&slowest, misses.len()) {
        (Some((_, text)), 0) => format!("slowest: {text}"),
        (Some((_, text)), n) => format!("{n} late or missing; slowest measured: {text}"),
        (None, n) => format!("{n} not recovered"),
    };
    verdict(
        assertion,
        misses.is_empty(),
        expected,
        actual,
        misses.join("; "),
    )
}
