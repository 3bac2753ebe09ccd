//! The HDR histograms loadgen records request latency into: microseconds from 1 µs to 120 s,
//! whole-run histograms at 3 significant digits and per-second ones at 2, so that any two of
//! a kind can be added (across shards, seconds, runs and log files).

use hdrhistogram::Histogram;

/// Largest latency a histogram holds, in µs (longer ones are clamped to it).
pub const MAX_MICROS: u64 = 120_000_000;

/// An empty per-endpoint histogram: 1 µs .. 120 s at 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    // Bounded by construction: 1 µs .. MAX_MICROS at 3 significant digits.
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds")
}

/// An empty per-second histogram: 1 µs .. 120 s at 2 significant digits.
pub fn coarse_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 2).expect("valid histogram bounds")
}

/// Records one latency, clamped into the histogram's bounds.
pub fn record_into(histogram: &mut Histogram<u64>, micros: u64) {
    histogram.saturating_record(micros.clamp(1, MAX_MICROS));
}
