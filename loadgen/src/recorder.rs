//! The measurement store: every request's latency (µs, HDR histogram) per endpoint, split
//! by cache hit and miss where the service says, status counts, and a per-second timeline.
//! Recording takes one uncontended lock of a shard picked per thread; a snapshot merges the
//! shards, so a dashboard can read it at 1 Hz without slowing the load.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Largest latency a histogram holds, in µs (longer ones are clamped to it).
const MAX_MICROS: u64 = 120_000_000;

/// The status of a request that got no HTTP answer (connect error, timeout).
pub const TRANSPORT_ERROR: u16 = 0;

/// Whether the service said the answer came from its cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CacheOutcome {
    Hit,
    Miss,
}

/// One request as the recorder takes it.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub endpoint: &'static str,
    /// HTTP status, or [`TRANSPORT_ERROR`].
    pub status: u16,
    pub latency: Duration,
    /// When the request started (or was meant to start, in open-loop mode).
    pub started: Instant,
    pub cache: Option<CacheOutcome>,
    /// The request failed in a way that counts against error-rate bounds.
    pub error: bool,
}

/// An empty per-endpoint histogram: 1 µs .. 120 s at 3 significant digits.
pub(crate) fn new_histogram() -> Histogram<u64> {
    // Bounded by construction: 1 µs .. MAX_MICROS at 3 significant digits.
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds")
}

/// An empty per-second histogram: 1 µs .. 120 s at 2 significant digits.
pub(crate) fn coarse_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 2).expect("valid histogram bounds")
}

fn record_into(histogram: &mut Histogram<u64>, micros: u64) {
    histogram.saturating_record(micros.clamp(1, MAX_MICROS));
}

/// What one shard (or a merged snapshot) knows of an endpoint.
#[derive(Clone)]
pub struct EndpointData {
    pub all: Histogram<u64>,
    pub hits: Histogram<u64>,
    pub misses: Histogram<u64>,
    pub statuses: BTreeMap<u16, u64>,
    pub errors: u64,
    /// Requests and errors per second since the start.
    pub per_second: Vec<(u64, u64)>,
}

impl EndpointData {
    pub fn new() -> Self {
        Self {
            all: new_histogram(),
            hits: new_histogram(),
            misses: new_histogram(),
            statuses: BTreeMap::new(),
            errors: 0,
            per_second: Vec::new(),
        }
    }

    /// Adds another shard's data for the same endpoint.
    pub fn merge(&mut self, other: &EndpointData) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.all.add(&other.all);
        let _ = self.hits.add(&other.hits);
        let _ = self.misses.add(&other.misses);
        for (status, count) in &other.statuses {
            *self.statuses.entry(*status).or_default() += count;
        }
        self.errors += other.errors;
        if self.per_second.len() < other.per_second.len() {
            self.per_second.resize(other.per_second.len(), (0, 0));
        }
        for (slot, (requests, errors)) in self.per_second.iter_mut().zip(&other.per_second) {
            slot.0 += requests;
            slot.1 += errors;
        }
    }
}

impl Default for EndpointData {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Default)]
struct Shard {
    endpoints: BTreeMap<&'static str, EndpointData>,
    /// Latency of all requests per second (coarse), for the timeline and recovery checks.
    latency_by_second: Vec<Option<Histogram<u64>>>,
}

/// Lock-light, shareable request recorder.
pub struct Recorder {
    started: Instant,
    /// Wall-clock time of `started`, so runs on several machines can be lined up.
    started_wall: SystemTime,
    shards: Vec<Mutex<Shard>>,
}

static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static SHARD_OF_THREAD: Cell<usize> = Cell::new(NEXT_SHARD.fetch_add(1, Ordering::Relaxed));
}

impl Recorder {
    pub fn new() -> Self {
        let shards = std::thread::available_parallelism()
            .map(|n| n.get() * 2)
            .unwrap_or(4)
            .clamp(2, 16);
        Self::with_shards(shards)
    }

    pub fn with_shards(count: usize) -> Self {
        Self {
            started: Instant::now(),
            started_wall: SystemTime::now(),
            shards: (0..count.max(1))
                .map(|_| Mutex::new(Shard::default()))
                .collect(),
        }
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    /// When recording began, by the wall clock: second 0 of the timeline.
    pub fn started_wall(&self) -> SystemTime {
        self.started_wall
    }

    /// Records one request.
    pub fn record(&self, sample: Sample) {
        let micros = u64::try_from(sample.latency.as_micros()).unwrap_or(u64::MAX);
        let second = sample
            .started
            .saturating_duration_since(self.started)
            .as_secs() as usize;
        let index = SHARD_OF_THREAD.with(Cell::get) % self.shards.len();
        let mut shard = match self.shards[index].lock() {
            Ok(shard) => shard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let data = shard.endpoints.entry(sample.endpoint).or_default();
        record_into(&mut data.all, micros);
        match sample.cache {
            Some(CacheOutcome::Hit) => record_into(&mut data.hits, micros),
            Some(CacheOutcome::Miss) => record_into(&mut data.misses, micros),
            None => {}
        }
        *data.statuses.entry(sample.status).or_default() += 1;
        if data.per_second.len() <= second {
            data.per_second.resize(second + 1, (0, 0));
        }
        data.per_second[second].0 += 1;
        if sample.error {
            data.errors += 1;
            data.per_second[second].1 += 1;
        }
        if shard.latency_by_second.len() <= second {
            shard.latency_by_second.resize(second + 1, None);
        }
        let histogram = shard.latency_by_second[second].get_or_insert_with(coarse_histogram);
        record_into(histogram, micros);
    }

    /// Merges the shards into one view of everything recorded so far.
    pub fn merged(&self) -> Merged {
        let mut merged = Merged::default();
        for shard in &self.shards {
            let shard = match shard.lock() {
                Ok(shard) => shard,
                Err(poisoned) => poisoned.into_inner(),
            };
            for (endpoint, data) in &shard.endpoints {
                merged
                    .endpoints
                    .entry(endpoint.to_string())
                    .or_default()
                    .merge(data);
            }
            add_seconds(&mut merged.latency_by_second, &shard.latency_by_second);
        }
        merged
    }
}

/// Adds per-second histograms second by second.
fn add_seconds(into: &mut Vec<Option<Histogram<u64>>>, from: &[Option<Histogram<u64>>]) {
    if into.len() < from.len() {
        into.resize(from.len(), None);
    }
    for (slot, histogram) in into.iter_mut().zip(from) {
        if let Some(histogram) = histogram {
            let _ = slot.get_or_insert_with(coarse_histogram).add(histogram);
        }
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

/// All shards merged.
#[derive(Default, Clone)]
pub struct Merged {
    pub endpoints: BTreeMap<String, EndpointData>,
    pub latency_by_second: Vec<Option<Histogram<u64>>>,
}

/// Percentiles every report and the dashboard show.
pub const REPORTED_PERCENTILES: [f64; 6] = [50.0, 90.0, 95.0, 99.0, 99.9, 100.0];

/// A histogram reduced to what reports need, in µs.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LatencySummary {
    pub count: u64,
    pub min: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p95: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    /// (percentile, µs) points of the percentile curve, for charts.
    pub curve: Vec<(f64, u64)>,
    /// (upper bound µs, count) of log-spaced buckets, for bar histograms.
    pub buckets: Vec<(u64, u64)>,
}

impl LatencySummary {
    pub fn of(histogram: &Histogram<u64>) -> Self {
        if histogram.is_empty() {
            return Self::default();
        }
        let curve = [
            0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 97.5, 99.0, 99.5, 99.9, 99.95, 99.99, 100.0,
        ]
        .iter()
        .map(|&p| (p, histogram.value_at_quantile(p / 100.0)))
        .collect();
        let mut buckets = Vec::new();
        let mut upper = 100u64;
        let mut below = 0u64;
        let max = histogram.max();
        while below < histogram.len() {
            let count_up_to = histogram.count_between(0, upper);
            buckets.push((upper, count_up_to.saturating_sub(below)));
            below = count_up_to;
            if upper > max {
                break;
            }
            upper = upper.saturating_mul(2);
        }
        Self {
            count: histogram.len(),
            min: histogram.min(),
            mean: histogram.mean(),
            p50: histogram.value_at_quantile(0.50),
            p90: histogram.value_at_quantile(0.90),
            p95: histogram.value_at_quantile(0.95),
            p99: histogram.value_at_quantile(0.99),
            p999: histogram.value_at_quantile(0.999),
            max,
            curve,
            buckets,
        }
    }

    /// The latency at a percentile (0..=100), µs.
    pub fn percentile(&self, percentile: f64) -> u64 {
        match percentile {
            p if p >= 100.0 => self.max,
            p if (p - 99.9).abs() < 1e-9 => self.p999,
            p if (p - 99.0).abs() < 1e-9 => self.p99,
            p if (p - 95.0).abs() < 1e-9 => self.p95,
            p if (p - 90.0).abs() < 1e-9 => self.p90,
            p if (p - 50.0).abs() < 1e-9 => self.p50,
            p => {
                // Between curve points: the first point at or above p.
                self.curve
                    .iter()
                    .find(|(q, _)| *q >= p)
                    .map_or(self.max, |(_, v)| *v)
            }
        }
    }
}

/// One endpoint in a snapshot.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EndpointSnapshot {
    pub endpoint: String,
    pub latency: LatencySummary,
    pub cache_hits: Option<LatencySummary>,
    pub cache_misses: Option<LatencySummary>,
    pub statuses: BTreeMap<u16, u64>,
    pub requests: u64,
    pub errors: u64,
    /// Requests per second, one entry per second of the run.
    pub rps: Vec<u64>,
    /// Errors per second.
    pub errors_per_second: Vec<u64>,
}

/// One second of the whole run.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SecondPoint {
    pub second: u64,
    pub requests: u64,
    pub errors: u64,
    pub p50: u64,
    pub p95: u64,
    pub p99: u64,
}

impl Merged {
    /// Adds another view with the same second 0 (counts, statuses and histograms add up;
    /// percentiles are then computed from the sums, never averaged).
    pub fn merge(&mut self, other: &Merged) {
        for (endpoint, data) in &other.endpoints {
            self.endpoints
                .entry(endpoint.clone())
                .or_default()
                .merge(data);
        }
        add_seconds(&mut self.latency_by_second, &other.latency_by_second);
    }

    /// Per-endpoint summaries.
    pub fn endpoint_snapshots(&self) -> Vec<EndpointSnapshot> {
        self.endpoints
            .iter()
            .map(|(endpoint, data)| EndpointSnapshot {
                endpoint: endpoint.clone(),
                latency: LatencySummary::of(&data.all),
                cache_hits: (!data.hits.is_empty()).then(|| LatencySummary::of(&data.hits)),
                cache_misses: (!data.misses.is_empty()).then(|| LatencySummary::of(&data.misses)),
                statuses: data.statuses.clone(),
                requests: data.all.len(),
                errors: data.errors,
                rps: data.per_second.iter().map(|(r, _)| *r).collect(),
                errors_per_second: data.per_second.iter().map(|(_, e)| *e).collect(),
            })
            .collect()
    }

    /// The whole run, second by second.
    pub fn timeline(&self) -> Vec<SecondPoint> {
        let seconds = self
            .endpoints
            .values()
            .map(|d| d.per_second.len())
            .chain(std::iter::once(self.latency_by_second.len()))
            .max()
            .unwrap_or(0);
        (0..seconds)
            .map(|second| {
                let (requests, errors) = self
                    .endpoints
                    .values()
                    .filter_map(|d| d.per_second.get(second))
                    .fold((0, 0), |acc, (r, e)| (acc.0 + r, acc.1 + e));
                let latency = self.latency_by_second.get(second).and_then(Option::as_ref);
                let at = |q: f64| latency.map_or(0, |h| h.value_at_quantile(q));
                SecondPoint {
                    second: second as u64,
                    requests,
                    errors,
                    p50: at(0.50),
                    p95: at(0.95),
                    p99: at(0.99),
                }
            })
            .collect()
    }

    /// Latency of all requests that started in `[from, to)` seconds.
    pub fn latency_between(&self, from: u64, to: u64) -> LatencySummary {
        let mut window = coarse_histogram();
        for histogram in self
            .latency_by_second
            .iter()
            .skip(from as usize)
            .take(to.saturating_sub(from) as usize)
            .flatten()
        {
            let _ = window.add(histogram);
        }
        LatencySummary::of(&window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(
        recorder: &Recorder,
        endpoint: &'static str,
        ms: u64,
        status: u16,
        at_second: u64,
    ) -> Sample {
        Sample {
            endpoint,
            status,
            latency: Duration::from_millis(ms),
            started: recorder.started() + Duration::from_secs(at_second),
            cache: None,
            error: status >= 500,
        }
    }

    #[test]
    fn shards_merge_into_one_histogram() {
        let recorder = std::sync::Arc::new(Recorder::with_shards(4));
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let recorder = recorder.clone();
                std::thread::spawn(move || {
                    for i in 0..250u64 {
                        let ms = 1 + (t * 250 + i) % 1000;
                        recorder.record(sample(&recorder, "GET /menus", ms, 200, i % 3));
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("recording thread");
        }
        let merged = recorder.merged();
        let menus = &merged.endpoint_snapshots()[0];
        assert_eq!(menus.requests, 1000);
        assert_eq!(menus.rps.iter().sum::<u64>(), 1000);
        assert_eq!(menus.rps.len(), 3);
        // Uniform 1..=1000 ms: the median is about 500 ms, within HDR's 0.1 %.
        let p50 = menus.latency.p50 as f64;
        assert!((p50 - 500_000.0).abs() < 1_500.0, "p50 = {p50}");
        assert!(menus.latency.max >= 999_000);
        assert_eq!(merged.timeline().len(), 3);
    }

    #[test]
    fn merge_adds_counts_statuses_and_timelines() {
        let recorder = Recorder::with_shards(1);
        let mut left = EndpointData::new();
        let mut right = EndpointData::new();
        record_into(&mut left.all, 1_000);
        record_into(&mut right.all, 3_000);
        record_into(&mut right.all, 5_000);
        left.statuses.insert(200, 1);
        right.statuses.insert(200, 1);
        right.statuses.insert(503, 1);
        right.errors = 1;
        left.per_second = vec![(1, 0)];
        right.per_second = vec![(0, 0), (2, 1)];
        left.merge(&right);
        assert_eq!(left.all.len(), 3);
        assert!(left.all.equivalent(left.all.max(), 5_000));
        assert_eq!(left.statuses.get(&200), Some(&2));
        assert_eq!(left.statuses.get(&503), Some(&1));
        assert_eq!(left.per_second, vec![(1, 0), (2, 1)]);
        drop(recorder);
    }

    #[test]
    fn cache_outcomes_and_errors_are_kept_apart() {
        let recorder = Recorder::with_shards(2);
        for (ms, cache) in [
            (40, CacheOutcome::Miss),
            (2, CacheOutcome::Hit),
            (3, CacheOutcome::Hit),
        ] {
            recorder.record(Sample {
                cache: Some(cache),
                ..sample(&recorder, "GET /orders/{id}", ms, 200, 0)
            });
        }
        recorder.record(sample(&recorder, "POST /orders", 5, 503, 1));
        let snapshots = recorder.merged().endpoint_snapshots();
        let reads = snapshots
            .iter()
            .find(|s| s.endpoint == "GET /orders/{id}")
            .expect("reads");
        assert_eq!(reads.cache_hits.as_ref().map(|h| h.count), Some(2));
        assert_eq!(reads.cache_misses.as_ref().map(|h| h.count), Some(1));
        let orders = snapshots
            .iter()
            .find(|s| s.endpoint == "POST /orders")
            .expect("orders");
        assert_eq!(
            (orders.errors, orders.errors_per_second.clone()),
            (1, vec![0, 1])
        );
    }
}
