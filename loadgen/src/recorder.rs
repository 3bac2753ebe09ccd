//! The measurement store: every request's latency (µs, HDR histogram) per endpoint, split
//! by cache hit and miss where the service says, status counts, and a per-second timeline.
//! Recording takes one uncontended lock of a shard picked per thread; a snapshot merges the
//! shards, so a dashboard can read it at 1 Hz without slowing the load.
//!
//! Memory stays bounded however long the run: the whole-run histograms are one set per
//! endpoint and shard, and per-second latency histograms are kept only for the last few
//! seconds (requests are recorded when they end, under the second they started in). Older
//! seconds are *folded*: their histograms are merged across shards, reduced to a summary
//! (count, p50, p95, p99, max) and written to the run's [`SecondsLog`] as interval-log
//! lines, then dropped. What grows with the run is a few words per second.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::histogram::{coarse_histogram, new_histogram, record_into};
use crate::seconds_log::SecondsLog;

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

/// What a merged view knows of an endpoint.
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

    /// Adds another view's data for the same endpoint.
    pub fn merge(&mut self, other: &EndpointData) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.all.add(&other.all);
        let _ = self.hits.add(&other.hits);
        let _ = self.misses.add(&other.misses);
        for (status, count) in &other.statuses {
            *self.statuses.entry(*status).or_default() += count;
        }
        self.errors += other.errors;
        add_counts(&mut self.per_second, 0, &other.per_second);
    }

    /// Records one request of this endpoint into the whole-run figures (a shard's; its
    /// seconds are counted apart, see [`Recorder::record`]).
    fn record(&mut self, sample: &Sample, micros: u64) {
        record_into(&mut self.all, micros);
        match sample.cache {
            Some(CacheOutcome::Hit) => record_into(&mut self.hits, micros),
            Some(CacheOutcome::Miss) => record_into(&mut self.misses, micros),
            None => {}
        }
        *self.statuses.entry(sample.status).or_default() += 1;
        if sample.error {
            self.errors += 1;
        }
    }
}

impl Default for EndpointData {
    fn default() -> Self {
        Self::new()
    }
}

/// Adds `from` (requests, errors per second) into `into`, `from[0]` landing on `offset`.
fn add_counts(into: &mut Vec<(u64, u64)>, offset: usize, from: &[(u64, u64)]) {
    if into.len() < offset + from.len() {
        into.resize(offset + from.len(), (0, 0));
    }
    for (slot, (requests, errors)) in into[offset..].iter_mut().zip(from) {
        slot.0 += requests;
        slot.1 += errors;
    }
}

/// How many recent seconds a recorder keeps as histograms unless told otherwise: requests
/// are recorded when they end, under the second they started in, so a second stays open
/// for at least the longest request.
pub const DEFAULT_RETAIN_SECS: u64 = 30;

/// Seconds folded at once, so folding runs every few seconds rather than on every sample.
const FOLD_BATCH_SECS: u64 = 5;

/// The latency of one folded second, all endpoints together (µs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecondLatency {
    pub count: u64,
    pub p50: u64,
    pub p95: u64,
    pub p99: u64,
    pub max: u64,
}

impl SecondLatency {
    fn of(histogram: &Histogram<u64>) -> Self {
        Self {
            count: histogram.len(),
            p50: histogram.value_at_quantile(0.50),
            p95: histogram.value_at_quantile(0.95),
            p99: histogram.value_at_quantile(0.99),
            max: histogram.max(),
        }
    }
}

/// One recent second in one shard: latency of all endpoints, counts per endpoint.
struct SecondSlot {
    latency: Histogram<u64>,
    counts: BTreeMap<&'static str, (u64, u64)>,
}

impl SecondSlot {
    fn new() -> Self {
        Self {
            latency: coarse_histogram(),
            counts: BTreeMap::new(),
        }
    }

    fn add(&mut self, other: &SecondSlot) {
        let _ = self.latency.add(&other.latency);
        for (endpoint, (requests, errors)) in &other.counts {
            let slot = self.counts.entry(endpoint).or_default();
            slot.0 += requests;
            slot.1 += errors;
        }
    }
}

#[derive(Default)]
struct Shard {
    /// Whole-run figures per endpoint (their per-second counts stay empty: the seconds are
    /// in `recent`).
    endpoints: BTreeMap<&'static str, EndpointData>,
    /// The seconds not folded yet.
    recent: BTreeMap<u64, SecondSlot>,
}

/// The seconds folded out of the shards: small summaries stay, histograms went to the log.
struct Folded {
    /// Index = second; `None` for a second in which no request started.
    latency: Vec<Option<SecondLatency>>,
    /// Endpoint → (requests, errors) per second.
    counts: BTreeMap<&'static str, Vec<(u64, u64)>>,
    /// Requests recorded after their second was folded (only their latency is missing
    /// from that second's summary and log line).
    late: u64,
    log: Arc<SecondsLog>,
}

impl Folded {
    fn add_count(&mut self, endpoint: &'static str, second: usize, error: bool) {
        let counts = self.counts.entry(endpoint).or_default();
        add_counts(counts, second, &[(1, u64::from(error))]);
    }

    /// Keeps the summary of `second` (the next one) and writes its histogram to the log.
    fn push(&mut self, second: u64, slot: Option<SecondSlot>) {
        self.latency.resize(second as usize, None);
        match slot {
            Some(slot) => {
                self.latency.push(Some(SecondLatency::of(&slot.latency)));
                self.log.write_second(second, &slot.latency);
                for (endpoint, counts) in slot.counts {
                    let into = self.counts.entry(endpoint).or_default();
                    add_counts(into, second as usize, &[counts]);
                }
            }
            None => {
                self.latency.push(None);
                self.log.write_second(second, &coarse_histogram());
            }
        }
    }
}

/// What a recorder holds at a moment, for memory accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retained {
    /// Histograms held: whole-run ones per endpoint and shard, and recent seconds.
    pub histograms: usize,
    /// Bytes of their counts arrays.
    pub histogram_bytes: usize,
    /// Bytes of the per-second summaries and counts of folded seconds.
    pub per_second_bytes: usize,
}

/// Lock-light, shareable request recorder.
pub struct Recorder {
    started: Instant,
    /// Wall-clock time of `started`, so runs on several machines can be lined up.
    started_wall: SystemTime,
    shards: Vec<Mutex<Shard>>,
    retain_secs: u64,
    /// Seconds before this one are folded.
    folded_until: AtomicU64,
    /// One past the latest second a recorded request started in (0: none yet).
    seen_until: AtomicU64,
    folded: Mutex<Folded>,
}

static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);
thread_local! {
    static SHARD_OF_THREAD: Cell<usize> = Cell::new(NEXT_SHARD.fetch_add(1, Ordering::Relaxed));
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
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
            retain_secs: DEFAULT_RETAIN_SECS,
            folded_until: AtomicU64::new(0),
            seen_until: AtomicU64::new(0),
            folded: Mutex::new(Folded {
                latency: Vec::new(),
                counts: BTreeMap::new(),
                late: 0,
                log: Arc::new(SecondsLog::new()),
            }),
        }
    }

    /// Keeps the last `secs` seconds as histograms (at least 1): windows of the run's end
    /// that assertions read need them, and so does any request that may last that long.
    pub fn retaining(mut self, secs: u64) -> Self {
        self.retain_secs = secs.max(1);
        self
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
            .as_secs();
        let index = SHARD_OF_THREAD.with(Cell::get) % self.shards.len();
        let late = {
            let mut shard = lock(&self.shards[index]);
            shard
                .endpoints
                .entry(sample.endpoint)
                .or_default()
                .record(&sample, micros);
            // Read under the shard lock: a fold moves the boundary before it takes the
            // shards' seconds, so a second is either taken by it or seen as folded here.
            if second < self.folded_until.load(Ordering::SeqCst) {
                true
            } else {
                let slot = shard.recent.entry(second).or_insert_with(SecondSlot::new);
                record_into(&mut slot.latency, micros);
                let counts = slot.counts.entry(sample.endpoint).or_default();
                counts.0 += 1;
                counts.1 += u64::from(sample.error);
                false
            }
        };
        if late {
            let mut folded = lock(&self.folded);
            folded.late += 1;
            folded.add_count(sample.endpoint, second as usize, sample.error);
        }
        let seen = self
            .seen_until
            .fetch_max(second + 1, Ordering::Relaxed)
            .max(second + 1);
        let due = self.folded_until.load(Ordering::Relaxed) + self.retain_secs + FOLD_BATCH_SECS;
        if seen > due
            && let Ok(mut folded) = self.folded.try_lock()
        {
            self.fold(&mut folded, seen - self.retain_secs);
        }
    }

    /// Folds every second before `until`: merges the shards' histograms of each second,
    /// keeps its summary and counts, writes its log line and drops the histograms.
    fn fold(&self, folded: &mut Folded, until: u64) {
        let from = self.folded_until.load(Ordering::SeqCst);
        if until <= from {
            return;
        }
        self.folded_until.store(until, Ordering::SeqCst);
        let mut taken: BTreeMap<u64, SecondSlot> = BTreeMap::new();
        for shard in &self.shards {
            let old = {
                let mut shard = lock(shard);
                let keep = shard.recent.split_off(&until);
                std::mem::replace(&mut shard.recent, keep)
            };
            for (second, slot) in old {
                match taken.get_mut(&second) {
                    Some(into) => into.add(&slot),
                    None => {
                        taken.insert(second, slot);
                    }
                }
            }
        }
        for second in from..until {
            folded.push(second, taken.remove(&second));
        }
    }

    /// Folds every second recorded so far and returns the log of their histograms: call it
    /// when the load is over (a request recorded later counts as late).
    pub fn finish_log(&self) -> Arc<SecondsLog> {
        let mut folded = lock(&self.folded);
        let until = self.seen_until.load(Ordering::SeqCst);
        self.fold(&mut folded, until);
        folded.log.clone()
    }

    /// Requests recorded after their second had been folded.
    pub fn late_samples(&self) -> u64 {
        lock(&self.folded).late
    }

    /// What the recorder holds now (see [`Retained`]).
    pub fn retained(&self) -> Retained {
        let folded = lock(&self.folded);
        let counts_bytes: usize = folded
            .counts
            .values()
            .map(|c| c.len() * std::mem::size_of::<(u64, u64)>())
            .sum();
        let mut retained = Retained {
            histograms: 0,
            histogram_bytes: 0,
            per_second_bytes: folded.latency.len() * std::mem::size_of::<Option<SecondLatency>>()
                + counts_bytes,
        };
        let mut count = |histogram: &Histogram<u64>| {
            retained.histograms += 1;
            retained.histogram_bytes += histogram.distinct_values() * std::mem::size_of::<u64>();
        };
        for shard in &self.shards {
            let shard = lock(shard);
            for totals in shard.endpoints.values() {
                for histogram in [&totals.all, &totals.hits, &totals.misses] {
                    count(histogram);
                }
            }
            for slot in shard.recent.values() {
                count(&slot.latency);
            }
        }
        retained
    }

    /// Merges the shards and the folded seconds into one view of everything recorded so far.
    pub fn merged(&self) -> Merged {
        // The folded part is locked throughout, so no second moves from the shards to it
        // while they are read.
        let folded = lock(&self.folded);
        let mut merged = Merged {
            folded_latency: folded.latency.clone(),
            ..Merged::default()
        };
        for (endpoint, counts) in &folded.counts {
            merged
                .endpoints
                .entry(endpoint.to_string())
                .or_default()
                .per_second = counts.clone();
        }
        for shard in &self.shards {
            let shard = lock(shard);
            for (endpoint, totals) in &shard.endpoints {
                let data = merged.endpoints.entry(endpoint.to_string()).or_default();
                data.merge(totals);
            }
            for (second, slot) in &shard.recent {
                let _ = merged
                    .latency_by_second
                    .entry(*second)
                    .or_insert_with(coarse_histogram)
                    .add(&slot.latency);
                for (endpoint, counts) in &slot.counts {
                    let data = merged.endpoints.entry(endpoint.to_string()).or_default();
                    add_counts(&mut data.per_second, *second as usize, &[*counts]);
                }
            }
        }
        merged
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

/// Everything recorded, merged: whole-run figures per endpoint, per-second counts, and
/// per-second latency — as histograms for the seconds still held (the recent ones of a
/// live run; every second of a run read back from its log), as summaries for the seconds
/// folded away.
#[derive(Default, Clone)]
pub struct Merged {
    pub endpoints: BTreeMap<String, EndpointData>,
    pub latency_by_second: BTreeMap<u64, Histogram<u64>>,
    /// Index = second; `None` where the second is not folded or had no request.
    pub folded_latency: Vec<Option<SecondLatency>>,
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
        for (second, histogram) in &other.latency_by_second {
            let _ = self
                .latency_by_second
                .entry(*second)
                .or_insert_with(coarse_histogram)
                .add(histogram);
        }
        if self.folded_latency.len() < other.folded_latency.len() {
            self.folded_latency.resize(other.folded_latency.len(), None);
        }
        for (slot, theirs) in self.folded_latency.iter_mut().zip(&other.folded_latency) {
            *slot = match (*slot, theirs) {
                // Summaries cannot be added exactly: the larger percentiles bound the
                // sum's from above. (Views read back from logs hold histograms instead.)
                (Some(a), Some(b)) => Some(SecondLatency {
                    count: a.count + b.count,
                    p50: a.p50.max(b.p50),
                    p95: a.p95.max(b.p95),
                    p99: a.p99.max(b.p99),
                    max: a.max.max(b.max),
                }),
                (mine, theirs) => mine.or(*theirs),
            };
        }
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

    /// The latency of one second: from its histogram when held, else its folded summary.
    pub fn second_latency(&self, second: u64) -> Option<SecondLatency> {
        match self.latency_by_second.get(&second) {
            Some(histogram) => Some(SecondLatency::of(histogram)),
            None => self.folded_latency.get(second as usize).copied().flatten(),
        }
    }

    /// The whole run, second by second.
    pub fn timeline(&self) -> Vec<SecondPoint> {
        let held = self
            .latency_by_second
            .keys()
            .next_back()
            .map_or(0, |s| *s as usize + 1);
        let seconds = self
            .endpoints
            .values()
            .map(|d| d.per_second.len())
            .chain([held, self.folded_latency.len()])
            .max()
            .unwrap_or(0);
        (0..seconds)
            .map(|second| {
                let (requests, errors) = self
                    .endpoints
                    .values()
                    .filter_map(|d| d.per_second.get(second))
                    .fold((0, 0), |acc, (r, e)| (acc.0 + r, acc.1 + e));
                let latency = self.second_latency(second as u64).unwrap_or_default();
                SecondPoint {
                    second: second as u64,
                    requests,
                    errors,
                    p50: latency.p50,
                    p95: latency.p95,
                    p99: latency.p99,
                }
            })
            .collect()
    }

    /// Latency of all requests that started in `[from, to)` seconds, from the seconds held
    /// as histograms (a recorder keeps enough recent seconds for the run's windows).
    pub fn latency_between(&self, from: u64, to: u64) -> LatencySummary {
        let mut window = coarse_histogram();
        for histogram in self
            .latency_by_second
            .range(from..to.max(from))
            .map(|(_, h)| h)
        {
            let _ = window.add(histogram);
        }
        LatencySummary::of(&window)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample(
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

    /// Records `second`'s synthetic requests: three per endpoint, one of them an error,
    /// latency growing with the second so each second's percentiles differ.
    pub(crate) fn record_second(recorder: &Recorder, second: u64) {
        for endpoint in ["GET /menus", "POST /orders"] {
            for k in 0..3u64 {
                recorder.record(Sample {
                    endpoint,
                    status: if k == 2 { 503 } else { 200 },
                    latency: Duration::from_micros(1_000 + second * 10 + k * 100),
                    started: recorder.started() + Duration::from_millis(second * 1000 + k),
                    cache: None,
                    error: k == 2,
                });
            }
        }
    }

    #[test]
    fn an_hour_long_run_keeps_a_bounded_set_of_histograms() {
        let shards = 4;
        let retain = 20;
        let recorder = Recorder::with_shards(shards).retaining(retain);
        let mut checkpoints = Vec::new();
        for second in 0..3_600u64 {
            record_second(&recorder, second);
            if second % 600 == 599 {
                checkpoints.push((second + 1, recorder.retained()));
            }
        }
        // Whole-run histograms: 3 per endpoint per shard touched; recent seconds: at most
        // the retention plus one fold batch (this test records from one thread: one shard).
        let bound = shards * 2 * 3 + shards * (retain + FOLD_BATCH_SECS + 1) as usize;
        let first_bytes = checkpoints[0].1.histogram_bytes;
        for (seconds, retained) in &checkpoints {
            assert!(retained.histograms <= bound, "{seconds} s: {retained:?}");
            assert!(
                retained.histogram_bytes <= first_bytes * 11 / 10,
                "{seconds} s: {retained:?}, at 600 s {first_bytes}"
            );
            // A few words per second, never a histogram per second.
            assert!(
                retained.per_second_bytes <= *seconds as usize * 96,
                "{seconds} s: {retained:?}"
            );
        }
        let merged = recorder.merged();
        let timeline = merged.timeline();
        assert_eq!(timeline.len(), 3_600);
        assert!(timeline.iter().all(|p| p.requests == 6 && p.errors == 2));
        // A second folded long ago still has its percentiles: 1 000 + 10 s + up to 200 µs.
        let early = &timeline[100];
        assert!(
            (2_000..=2_220).contains(&early.p99) && early.p50 >= 2_000,
            "{early:?}"
        );
        assert!(merged.latency_by_second.len() <= retain as usize + FOLD_BATCH_SECS as usize + 1);
        let menus = &merged.endpoint_snapshots()[0];
        assert_eq!((menus.requests, menus.errors), (10_800, 3_600));
        assert_eq!(menus.rps.len(), 3_600);
        let log = recorder.finish_log();
        assert_eq!(log.lines(), 3_600);
        assert_eq!(recorder.retained().histograms, 2 * 3);
        assert_eq!(recorder.late_samples(), 0);
    }
}
