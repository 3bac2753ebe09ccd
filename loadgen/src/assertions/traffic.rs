//! The rules judged on the whole run's traffic: the share of declined orders, an
//! endpoint's latency percentile, error rate and request count, cache hits against
//! misses, and open-loop iterations dropped.

use std::time::Duration;

use super::{AssertionResult, Evidence, percent, share, verdict};
use crate::duration::format_micros;
use crate::scenario::Assertion;

/// `failed_share`: declined orders as a share of those answered, within the tolerance.
pub(super) fn failed_share(
    assertion: &Assertion,
    evidence: &Evidence,
    target: f64,
    tolerance: f64,
) -> AssertionResult {
    let tally = &evidence.tally;
    let expected = format!("{} ± {}", percent(target), percent(tolerance));
    let answered = tally.paid + tally.declined;
    if answered == 0 {
        return verdict(
            assertion,
            false,
            expected,
            "no paid or declined orders".into(),
            "no order reached payment".into(),
        );
    }
    let declined = share(tally.declined, answered);
    let off = (declined - target).abs();
    verdict(
        assertion,
        off <= tolerance,
        expected,
        format!("{} ({} of {})", percent(declined), tally.declined, answered),
        format!(
            "off by {:.1} points, {:.1} beyond the tolerance",
            off * 100.0,
            (off - tolerance) * 100.0
        ),
    )
}

/// `latency`: the endpoint's (or the slowest endpoint's, `*`) percentile under the bound.
pub(super) fn latency(
    assertion: &Assertion,
    evidence: &Evidence,
    endpoint: &str,
    percentile: f64,
    max: Duration,
) -> AssertionResult {
    let bound = max.as_micros() as f64;
    let expected = format!("p{percentile} < {}", format_micros(bound));
    match evidence.endpoint(endpoint) {
        Some((requests, _, latency)) if requests > 0 => {
            let value = latency.percentile(percentile) as f64;
            verdict(
                assertion,
                value < bound,
                expected,
                format!("p{percentile} = {}", format_micros(value)),
                format!(
                    "{} over the bound ({:.0}% above)",
                    format_micros(value - bound),
                    (value / bound - 1.0) * 100.0
                ),
            )
        }
        _ => never_called(assertion, expected, endpoint),
    }
}

/// `error_rate`: the endpoint's (or all endpoints', `*`) errors as a share of requests.
pub(super) fn error_rate(
    assertion: &Assertion,
    evidence: &Evidence,
    endpoint: &str,
    max_rate: f64,
) -> AssertionResult {
    let expected = format!("≤ {}", percent(max_rate));
    match evidence.endpoint(endpoint) {
        Some((requests, errors, _)) if requests > 0 => {
            let rate = share(errors, requests);
            verdict(
                assertion,
                rate <= max_rate,
                expected,
                format!("{} ({errors} of {requests})", percent(rate)),
                format!("{:.1} points over the bound", (rate - max_rate) * 100.0),
            )
        }
        _ => never_called(assertion, expected, endpoint),
    }
}

fn never_called(assertion: &Assertion, expected: String, endpoint: &str) -> AssertionResult {
    verdict(
        assertion,
        false,
        expected,
        "no requests".into(),
        format!("{endpoint} was never called"),
    )
}

/// `min_requests`: at least this many requests reached the endpoint.
pub(super) fn min_requests(
    assertion: &Assertion,
    evidence: &Evidence,
    endpoint: &str,
    min: u64,
) -> AssertionResult {
    let requests = evidence.endpoint(endpoint).map_or(0, |e| e.0);
    verdict(
        assertion,
        requests >= min,
        format!("≥ {min}"),
        requests.to_string(),
        format!("{} short", min - requests.min(min)),
    )
}

/// `cache_hit_faster`: hits and enough misses seen, and hits faster at p50.
pub(super) fn cache_hit_faster(
    assertion: &Assertion,
    evidence: &Evidence,
    endpoint: &str,
    min_misses: u64,
) -> AssertionResult {
    let found = evidence.endpoints.iter().find(|e| e.endpoint == endpoint);
    let hits = found.and_then(|e| e.cache_hits.clone()).unwrap_or_default();
    let misses = found
        .and_then(|e| e.cache_misses.clone())
        .unwrap_or_default();
    let actual = format!(
        "hits {} × p50 {}, misses {} × p50 {}",
        hits.count,
        format_micros(hits.p50 as f64),
        misses.count,
        format_micros(misses.p50 as f64)
    );
    let expected = format!("hits > 0, misses ≥ {min_misses}, hit p50 < miss p50");
    if hits.count == 0 || misses.count < min_misses {
        return verdict(
            assertion,
            false,
            expected,
            actual.clone(),
            format!("not enough hits and misses to compare: {actual}"),
        );
    }
    verdict(
        assertion,
        hits.p50 < misses.p50,
        expected,
        actual,
        format!(
            "hits slower by {}",
            format_micros(hits.p50 as f64 - misses.p50 as f64)
        ),
    )
}

/// `dropped`: open-loop iterations not started on time, as a share of those scheduled.
pub(super) fn dropped(
    assertion: &Assertion,
    evidence: &Evidence,
    max_rate: f64,
) -> AssertionResult {
    let stats = &evidence.iterations;
    let dropped = stats.dropped_share();
    verdict(
        assertion,
        dropped <= max_rate,
        format!("≤ {} of scheduled iterations dropped", percent(max_rate)),
        format!(
            "{} of {} dropped ({})",
            stats.dropped,
            stats.scheduled,
            percent(dropped)
        ),
        format!(
            "{:.1} points over: the system could not keep up with the rate while {} \
             iterations ran (max_in_flight)",
            (dropped - max_rate) * 100.0,
            stats.max_in_flight
        ),
    )
}
