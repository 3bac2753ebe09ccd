//! The raw histogram log: a run's latency histograms, written beside its report as
//! `histograms.hlog` in the standard HdrHistogram interval log format (what Java's
//! `HistogramLogWriter` writes and `HistogramLogProcessor` reads), and read back by
//! `loadgen merge`, which adds histograms instead of averaging percentiles.
//!
//! The layout (all values are request latencies in microseconds; each histogram V2 +
//! Deflate encoded, base64, as the Java tools write them):
//! - header: comments saying what the file is, `#[StartTime: …]` and `#[BaseTime: …]`,
//!   both the wall-clock start of the load (second 0 of the report's timeline), so every
//!   interval timestamp is seconds since the load began;
//! - one **tagged** interval per endpoint spanning the whole load, at full precision
//!   (3 significant digits): `Tag=POST_/orders` (the endpoint name with its space written
//!   as `_`, since tags may hold no spaces), and for cached reads also
//!   `Tag=GET_/orders/{id}:hit` and `Tag=GET_/orders/{id}:miss`;
//! - one **untagged** interval per second of the load: every endpoint's requests that
//!   started in that second (2 significant digits), so a tool that reads untagged
//!   intervals (`HistogramLogProcessor -i histograms.hlog`) sees the whole run second by
//!   second, and `-tag POST_/orders` shows one endpoint.
//!
//! Reading accepts any interval log: intervals with the same tag are added together, and
//! untagged ones are added into the second they start in.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail};
use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};
use hdrhistogram::serialization::{Deserializer, V2DeflateSerializer};

use crate::histogram::{coarse_histogram, new_histogram};
use crate::recorder::Merged;
use crate::seconds_log::{SecondsLog, second_lines};

/// The log's file name in a run directory.
pub const FILE_NAME: &str = "histograms.hlog";

const HIT_SUFFIX: &str = ":hit";
const MISS_SUFFIX: &str = ":miss";

/// One endpoint's histograms (µs).
#[derive(Clone, PartialEq)]
pub struct EndpointHistograms {
    pub all: Histogram<u64>,
    /// Requests the service answered from its cache (`X-Cache: HIT`); empty when none.
    pub hits: Histogram<u64>,
    /// `X-Cache: MISS`; empty when none.
    pub misses: Histogram<u64>,
}

impl Default for EndpointHistograms {
    fn default() -> Self {
        Self {
            all: new_histogram(),
            hits: new_histogram(),
            misses: new_histogram(),
        }
    }
}

/// A run's raw histograms: what `histograms.hlog` holds.
#[derive(Clone, PartialEq)]
pub struct RunHistograms {
    /// Wall-clock start of the load, whole milliseconds (the precision of the log).
    pub load_started: SystemTime,
    pub endpoints: BTreeMap<String, EndpointHistograms>,
    /// All endpoints together, per second of the load by request start.
    pub per_second: Seconds,
}

/// The per-second histograms of a run.
#[derive(Clone)]
pub enum Seconds {
    /// In memory (a log read back, a merge); `None` for a second in which no request
    /// started.
    Histograms(Vec<Option<Histogram<u64>>>),
    /// Already written as interval lines while the run went (see [`SecondsLog`]).
    Spooled(Arc<SecondsLog>),
}

impl Seconds {
    /// The histograms, decoding spooled lines when needed.
    pub fn histograms(&self) -> anyhow::Result<Vec<Option<Histogram<u64>>>> {
        match self {
            Seconds::Histograms(seconds) => Ok(seconds.clone()),
            Seconds::Spooled(log) => {
                let mut text =
                    b"#[StartTime: 0.000 (seconds since epoch)]\n#[BaseTime: 0.000 (seconds since epoch)]\n"
                        .to_vec();
                text.extend(log.contents()?);
                read(&text)?.per_second.histograms()
            }
        }
    }

    /// The interval lines, one per second.
    fn lines(&self) -> anyhow::Result<Vec<u8>> {
        match self {
            Seconds::Spooled(log) => log.contents(),
            Seconds::Histograms(seconds) => {
                let empty = coarse_histogram();
                second_lines(
                    seconds
                        .iter()
                        .enumerate()
                        .map(|(second, h)| (second as u64, h.as_ref().unwrap_or(&empty))),
                )
            }
        }
    }
}

impl PartialEq for Seconds {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Seconds::Spooled(a), Seconds::Spooled(b)) if Arc::ptr_eq(a, b) => true,
            _ => match (self.histograms(), other.histograms()) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            },
        }
    }
}

impl fmt::Debug for RunHistograms {
    // The counts arrays are large; say what there is instead.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts: BTreeMap<&str, u64> = self
            .endpoints
            .iter()
            .map(|(name, h)| (name.as_str(), h.all.len()))
            .collect();
        f.debug_struct("RunHistograms")
            .field("load_started", &self.load_started)
            .field("endpoints", &counts)
            .field(
                "seconds",
                &match &self.per_second {
                    Seconds::Histograms(seconds) => seconds.len() as u64,
                    Seconds::Spooled(log) => log.lines(),
                },
            )
            .finish()
    }
}

/// `time` truncated to whole milliseconds.
fn to_millis(time: SystemTime) -> SystemTime {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => UNIX_EPOCH + Duration::from_millis(since.as_millis() as u64),
        Err(_) => time,
    }
}

impl RunHistograms {
    /// The raw histograms of a merged view whose second 0 was `load_started`, with the
    /// per-second histograms it holds (all of them for a view read back from logs; a live
    /// recorder's folded seconds are in its log: see [`RunHistograms::of_run`]).
    pub fn from_merged(merged: &Merged, load_started: SystemTime) -> Self {
        let held = merged
            .latency_by_second
            .keys()
            .next_back()
            .map_or(0, |s| *s as usize + 1);
        let mut seconds = vec![None; held];
        for (second, histogram) in &merged.latency_by_second {
            seconds[*second as usize] = Some(histogram.clone());
        }
        Self::of_run(merged, load_started, Seconds::Histograms(seconds))
    }

    /// A run's histograms: the whole-run ones from `merged`, the per-second ones as given
    /// (a recorder's [`Recorder::finish_log`](crate::recorder::Recorder::finish_log)).
    pub fn of_run(merged: &Merged, load_started: SystemTime, per_second: Seconds) -> Self {
        Self {
            load_started: to_millis(load_started),
            endpoints: merged
                .endpoints
                .iter()
                .map(|(name, data)| {
                    let histograms = EndpointHistograms {
                        all: data.all.clone(),
                        hits: data.hits.clone(),
                        misses: data.misses.clone(),
                    };
                    (name.clone(), histograms)
                })
                .collect(),
            per_second,
        }
    }
}

/// A wall-clock time as RFC 3339 in local time, to the millisecond.
pub fn rfc3339(time: SystemTime) -> String {
    chrono::DateTime::<chrono::Local>::from(time)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

/// The tag of an endpoint's histogram: `POST /orders` → `POST_/orders`.
pub fn tag_of(endpoint: &str) -> String {
    endpoint.replace(' ', "_")
}

/// What a tag holds: the endpoint, and which of its histograms.
fn parse_tag(tag: &str) -> (String, Part) {
    let (name, part) = if let Some(name) = tag.strip_suffix(HIT_SUFFIX) {
        (name, Part::Hits)
    } else if let Some(name) = tag.strip_suffix(MISS_SUFFIX) {
        (name, Part::Misses)
    } else {
        (tag, Part::All)
    };
    // Endpoint names are "METHOD /path" and methods have no `_`: the first `_` was the space.
    (name.replacen('_', " ", 1), part)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    All,
    Hits,
    Misses,
}

/// Writes the log. `load_secs` is the length of the whole-run intervals; `about` goes into
/// the header comments (scenario, run tag, …).
pub fn write(
    histograms: &RunHistograms,
    load_secs: f64,
    about: &str,
    out: &mut impl std::io::Write,
) -> anyhow::Result<()> {
    let mut serializer = V2DeflateSerializer::new();
    let mut builder = IntervalLogWriterBuilder::new();
    builder
        .add_comment(&format!("loadgen histogram log: {about}"))
        .add_comment(
            "Values: request latency in microseconds (HistogramLogProcessor: \
             -outputValueUnitRatio 1000 prints milliseconds). Interval_Max is in milliseconds.",
        )
        .add_comment(
            "Tagged intervals: one per endpoint over the whole load, 3 significant digits; \
             Tag=METHOD_/path (the space written as _), :hit / :miss for cache outcomes.",
        )
        .add_comment(
            "Untagged intervals: all endpoints, one per second of the load by request start, \
             2 significant digits. Timestamps: seconds since BaseTime, the start of the load.",
        )
        .add_comment("[Histogram log format version 1.3]")
        .with_start_time(histograms.load_started)
        .with_base_time(histograms.load_started)
        .with_max_value_divisor(1000.0);
    let mut writer = builder
        .begin_log_with(out, &mut serializer)
        .context("writing the histogram log header")?;
    let whole = Duration::from_millis((load_secs.max(0.0) * 1000.0).round() as u64);
    for (endpoint, parts) in &histograms.endpoints {
        let base = tag_of(endpoint);
        for (suffix, histogram, always) in [
            ("", &parts.all, true),
            (HIT_SUFFIX, &parts.hits, false),
            (MISS_SUFFIX, &parts.misses, false),
        ] {
            if !always && histogram.is_empty() {
                continue;
            }
            let name = format!("{base}{suffix}");
            let tag = Tag::new(&name)
                .ok_or_else(|| anyhow!("endpoint \"{endpoint}\" cannot be a log tag"))?;
            writer
                .write_histogram(histogram, Duration::ZERO, whole, Some(tag))
                .map_err(|e| anyhow!("writing the histogram of {endpoint}: {e}"))?;
        }
    }
    drop(writer);
    out.write_all(&histograms.per_second.lines()?)
        .context("writing the per-second intervals")?;
    Ok(())
}

/// Writes the log to `path`.
pub fn write_file(
    histograms: &RunHistograms,
    load_secs: f64,
    about: &str,
    path: &Path,
) -> anyhow::Result<()> {
    let mut text = Vec::new();
    write(histograms, load_secs, about, &mut text)?;
    let mut file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(&text)
        .with_context(|| format!("writing {}", path.display()))
}

fn line_of(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// `histogram` in the standard bounds `into` has (so any two can be added).
fn normalized(
    histogram: &Histogram<u64>,
    mut into: Histogram<u64>,
) -> anyhow::Result<Histogram<u64>> {
    into.add(histogram)
        .map_err(|e| anyhow!("values beyond the 120 s loadgen records: {e:?}"))?;
    Ok(into)
}

/// Reads a log.
pub fn read(bytes: &[u8]) -> anyhow::Result<RunHistograms> {
    let entries = read_entries(bytes)?;
    // Timestamps as Java's HistogramLogReader reads them: relative to BaseTime when there is
    // one; else relative to StartTime when they are far smaller than it; else absolute.
    let first = entries.intervals.first().map(|(_, at, _)| *at);
    let year = Duration::from_secs(365 * 24 * 3600);
    let base = match (entries.base_time, entries.start_time, first) {
        (Some(base), _, _) => base,
        (None, Some(start), Some(first)) if first + year < start => start,
        _ => Duration::ZERO,
    };
    let Some(start) = entries
        .start_time
        .or(entries.base_time)
        .or(first.map(|f| base + f))
    else {
        bail!("no StartTime, BaseTime or interval: not a histogram log");
    };
    let mut endpoints: BTreeMap<String, EndpointHistograms> = BTreeMap::new();
    let mut per_second: Vec<Option<Histogram<u64>>> = Vec::new();
    for (tag, at, histogram) in entries.intervals {
        match tag {
            Some(tag) => add_tagged(&mut endpoints, &tag, &histogram)?,
            None if histogram.is_empty() => {}
            None => {
                let second = (base + at).saturating_sub(start).as_secs() as usize;
                add_second(&mut per_second, second, &histogram)?;
            }
        }
    }
    Ok(RunHistograms {
        load_started: UNIX_EPOCH + start,
        endpoints,
        per_second: Seconds::Histograms(per_second),
    })
}

/// What a log holds, as written: its header times and its intervals (tag, start, histogram).
struct LogEntries {
    start_time: Option<Duration>,
    base_time: Option<Duration>,
    intervals: Vec<(Option<String>, Duration, Histogram<u64>)>,
}

/// Reads every line of a log, decoding each interval's histogram.
fn read_entries(bytes: &[u8]) -> anyhow::Result<LogEntries> {
    let mut entries = LogEntries {
        start_time: None,
        base_time: None,
        intervals: Vec::new(),
    };
    let mut deserializer = Deserializer::new();
    for (index, entry) in IntervalLogIterator::new(bytes).enumerate() {
        let entry = entry.map_err(|e| match e {
            hdrhistogram::serialization::interval_log::LogIteratorError::ParseError { offset } => {
                anyhow!(
                    "line {}: not an interval log line (expected \
                 [Tag=…,]start,length,max,base64 histogram)",
                    line_of(bytes, offset)
                )
            }
        })?;
        match entry {
            LogEntry::StartTime(at) => entries.start_time = Some(at),
            LogEntry::BaseTime(at) => entries.base_time = Some(at),
            LogEntry::Interval(interval) => {
                let tag = interval.tag().map(|t| t.as_str().to_string());
                let what = || match &tag {
                    Some(tag) => format!("interval {} (Tag={tag})", index + 1),
                    None => format!(
                        "interval {} (at {:.3}s)",
                        index + 1,
                        interval.start_timestamp().as_secs_f64()
                    ),
                };
                let encoded = base64::engine::general_purpose::STANDARD
                    .decode(interval.encoded_histogram())
                    .with_context(|| format!("{}: the histogram is not base64", what()))?;
                let histogram: Histogram<u64> = deserializer
                    .deserialize(&mut encoded.as_slice())
                    .map_err(|e| {
                    anyhow!("{}: the histogram cannot be decoded: {e:?}", what())
                })?;
                entries
                    .intervals
                    .push((tag, interval.start_timestamp(), histogram));
            }
        }
    }
    Ok(entries)
}

/// Adds a tagged interval into its endpoint's histogram (all, hits or misses).
fn add_tagged(
    endpoints: &mut BTreeMap<String, EndpointHistograms>,
    tag: &str,
    histogram: &Histogram<u64>,
) -> anyhow::Result<()> {
    let (endpoint, part) = parse_tag(tag);
    let parts = endpoints.entry(endpoint).or_default();
    let slot = match part {
        Part::All => &mut parts.all,
        Part::Hits => &mut parts.hits,
        Part::Misses => &mut parts.misses,
    };
    let histogram = normalized(histogram, new_histogram()).with_context(|| format!("Tag={tag}"))?;
    slot.add(&histogram)
        .map_err(|e| anyhow!("Tag={tag}: {e:?}"))
}

/// Adds an untagged interval into the second it starts in.
fn add_second(
    per_second: &mut Vec<Option<Histogram<u64>>>,
    second: usize,
    histogram: &Histogram<u64>,
) -> anyhow::Result<()> {
    if per_second.len() <= second {
        per_second.resize(second + 1, None);
    }
    let histogram =
        normalized(histogram, coarse_histogram()).with_context(|| format!("second {second}"))?;
    let slot = per_second[second].get_or_insert_with(coarse_histogram);
    slot.add(&histogram)
        .map_err(|e| anyhow!("second {second}: {e:?}"))
}

/// Reads the log at `path`.
pub fn read_file(path: &Path) -> anyhow::Result<RunHistograms> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    read(&bytes).with_context(|| format!("{} is not a readable histogram log", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recorder::tests::{record_second, sample};
    use crate::recorder::{CacheOutcome, Recorder, Sample};
    use crate::service::ENDPOINTS;

    /// A recorder with requests on every endpoint over 5 seconds, cache outcomes on reads,
    /// a silent second 3 and latencies from 40 µs to beyond the 120 s ceiling.
    fn recorded() -> Recorder {
        let recorder = Recorder::with_shards(3);
        let mut n = 0u64;
        for second in [0u64, 1, 2, 4] {
            for (i, endpoint) in ENDPOINTS.iter().enumerate() {
                for k in 0..(20 + i as u64 * 7) {
                    n += 1;
                    let micros = 40 + (n * 7919 % 50_000) * (1 + k % 3);
                    let cached = endpoint.starts_with("GET /") && endpoint.ends_with("{id}");
                    let cache = cached.then_some(if k % 4 == 0 {
                        CacheOutcome::Miss
                    } else {
                        CacheOutcome::Hit
                    });
                    recorder.record(Sample {
                        endpoint,
                        status: 200,
                        latency: Duration::from_micros(micros),
                        started: recorder.started() + Duration::from_millis(second * 1000 + k),
                        cache,
                        error: false,
                    });
                }
            }
        }
        recorder.record(Sample {
            endpoint: "POST /orders",
            status: 504,
            latency: Duration::from_secs(300),
            started: recorder.started() + Duration::from_millis(4_500),
            cache: None,
            error: true,
        });
        recorder
    }

    fn written(histograms: &RunHistograms) -> String {
        let mut text = Vec::new();
        write(histograms, 5.25, "test run", &mut text).expect("written");
        String::from_utf8(text).expect("the log is text")
    }

    #[test]
    fn a_log_reads_back_as_the_very_histograms_written() {
        let recorder = recorded();
        let original = RunHistograms::from_merged(&recorder.merged(), recorder.started_wall());
        let text = written(&original);
        let read_back = read(text.as_bytes()).expect("reads");
        assert_eq!(read_back.load_started, original.load_started);
        assert_eq!(
            read_back.endpoints.keys().collect::<Vec<_>>(),
            original.endpoints.keys().collect::<Vec<_>>()
        );
        for (endpoint, parts) in &original.endpoints {
            let back = &read_back.endpoints[endpoint];
            assert!(back.all == parts.all, "{endpoint}: all");
            assert!(back.hits == parts.hits, "{endpoint}: hits");
            assert!(back.misses == parts.misses, "{endpoint}: misses");
            assert_eq!(back.all.len(), parts.all.len());
            assert_eq!(
                back.all.value_at_quantile(0.99),
                parts.all.value_at_quantile(0.99)
            );
        }
        let seconds = read_back.per_second.histograms().expect("histograms");
        assert_eq!(seconds.len(), 5);
        assert!(seconds[3].is_none(), "the silent second");
        assert!(read_back.per_second == original.per_second);
        assert!(read_back == original);
        // Written again, the log is byte for byte the same.
        assert_eq!(written(&read_back), text);
    }

    #[test]
    fn the_log_is_in_the_java_tools_format() {
        let recorder = recorded();
        let histograms = RunHistograms::from_merged(&recorder.merged(), recorder.started_wall());
        let text = written(&histograms);
        let since_epoch = histograms
            .load_started
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs_f64();
        assert!(text.contains(&format!(
            "#[StartTime: {since_epoch:.3} (seconds since epoch)]"
        )));
        assert!(text.contains(&format!(
            "#[BaseTime: {since_epoch:.3} (seconds since epoch)]"
        )));
        let intervals: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        // 8 endpoints + hits and misses of the 2 cached ones, then 5 seconds.
        assert_eq!(intervals.len(), 8 + 4 + 5, "{text}");
        assert!(
            intervals[0].starts_with("Tag=GET_/menus,0.000,5.250,"),
            "{text}"
        );
        assert!(
            intervals
                .iter()
                .any(|l| l.starts_with("Tag=GET_/orders/{id}:hit,"))
        );
        assert!(
            intervals
                .iter()
                .any(|l| l.starts_with("Tag=POST_/orders/{id}/cancel,"))
        );
        // The Java tools write V2 compressed histograms: base64 of cookie 0x1c849304.
        for line in &intervals {
            let encoded = line.rsplit(',').next().expect("histogram");
            assert!(encoded.starts_with("HISTFAAA"), "{line}");
        }
        assert!(
            intervals[12].starts_with("0.000,1.000,"),
            "{}",
            intervals[12]
        );
        assert!(
            intervals[15].starts_with("3.000,1.000,0.000,"),
            "empty second 3"
        );
        // Interval_Max in ms: the 300 s request was clamped to the 120 s ceiling.
        assert!(
            intervals
                .iter()
                .any(|l| l.starts_with("Tag=POST_/orders,0.000,5.250,1200")),
            "{text}"
        );
    }

    #[test]
    fn tags_name_endpoints_both_ways() {
        for endpoint in ENDPOINTS.iter().copied() {
            let tag = tag_of(endpoint);
            assert!(Tag::new(&tag).is_some(), "{tag}");
            for (suffix, expected) in [
                ("", Part::All),
                (HIT_SUFFIX, Part::Hits),
                (MISS_SUFFIX, Part::Misses),
            ] {
                let (name, part) = parse_tag(&format!("{tag}{suffix}"));
                assert_eq!((name.as_str(), part), (endpoint, expected));
            }
        }
    }

    #[test]
    fn java_written_logs_and_repeated_tags_add_up() {
        // A log as Java's HistogramLogWriter writes it (no BaseTime: the timestamps are
        // relative to StartTime by the year rule), with one tag twice.
        let mut one = new_histogram();
        one.record(1_000).expect("in range");
        let mut two = new_histogram();
        two.record(3_000).expect("in range");
        two.record(5_000).expect("in range");
        let mut serializer = V2DeflateSerializer::new();
        let encode = |h: &Histogram<u64>, s: &mut V2DeflateSerializer| {
            let mut bytes = Vec::new();
            hdrhistogram::serialization::Serializer::serialize(s, h, &mut bytes)
                .expect("serialized");
            base64::engine::general_purpose::STANDARD.encode(bytes)
        };
        let text = format!(
            "#[Histogram log format version 1.3]\n\
             #[StartTime: 1700000000.500 (seconds since epoch), Tue Nov 14 22:13:20 UTC 2023]\n\
             \"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n\
             Tag=GET_/menus,0.000,1.000,1.000,{a}\n\
             Tag=GET_/menus,1.000,1.000,5.000,{b}\n\
             2.250,1.000,5.000,{b}\n",
            a = encode(&one, &mut serializer),
            b = encode(&two, &mut serializer),
        );
        let read_back = read(text.as_bytes()).expect("reads");
        let menus = &read_back.endpoints["GET /menus"].all;
        assert_eq!(menus.len(), 3);
        assert!(menus.equivalent(menus.max(), 5_000));
        let seconds = read_back.per_second.histograms().expect("histograms");
        assert_eq!(seconds.len(), 3);
        assert_eq!(seconds[2].as_ref().map(Histogram::len), Some(2));
        assert_eq!(
            read_back.load_started,
            UNIX_EPOCH + Duration::from_millis(1_700_000_000_500)
        );
    }

    #[test]
    fn a_broken_log_names_the_line() {
        let text = "#[StartTime: 1700000000.000 (seconds since epoch)]\n0.000,1.000,2.000,HISTFAAA\nnot a log line\n";
        let error = format!("{:#}", read(text.as_bytes()).expect_err("refused"));
        assert!(error.contains("cannot be decoded"), "{error}");
        let text = "#[StartTime: 1700000000.000 (seconds since epoch)]\nnot a log line\n";
        let error = format!("{:#}", read(text.as_bytes()).expect_err("refused"));
        assert!(error.contains("line 2"), "{error}");
        assert!(read(b"").is_err(), "an empty file is not a log");
    }

    #[test]
    fn folded_seconds_write_the_same_log_as_kept_ones() {
        // The recorder spools what it folds; written out, the log matches a recorder that
        // kept every second in memory.
        let folding = Recorder::with_shards(3).retaining(5);
        let keeping = Recorder::with_shards(3).retaining(10_000);
        for second in 0..200 {
            record_second(&folding, second);
            record_second(&keeping, second);
        }
        // A request ending long after its second was folded still counts.
        folding.record(sample(&folding, "GET /menus", 3, 200, 10));
        keeping.record(sample(&keeping, "GET /menus", 3, 200, 10));
        assert_eq!(folding.late_samples(), 1);
        let (folded, kept) = (folding.merged(), keeping.merged());
        assert_eq!(folded.endpoint_snapshots(), kept.endpoint_snapshots());
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let write = |histograms: &RunHistograms| {
            let mut text = Vec::new();
            write(histograms, 200.0, "test", &mut text).expect("written");
            String::from_utf8(text).expect("text")
        };
        let spooled = RunHistograms::of_run(&folded, at, Seconds::Spooled(folding.finish_log()));
        let from_memory = RunHistograms::from_merged(&kept, at);
        let (spooled_text, memory_text) = (write(&spooled), write(&from_memory));
        // Identical but for second 10, which the late request joined only in memory.
        let differing: Vec<(&str, &str)> = spooled_text
            .lines()
            .zip(memory_text.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(spooled_text.lines().count(), memory_text.lines().count());
        assert_eq!(differing.len(), 1, "{differing:?}");
        assert!(differing[0].0.starts_with("10.000,1.000,"), "{differing:?}");
        let timeline = folded.timeline();
        assert_eq!(
            timeline,
            kept.timeline()
                .iter()
                .map(|p| if p.second == 10 {
                    timeline[10].clone()
                } else {
                    p.clone()
                })
                .collect::<Vec<_>>()
        );
        assert_eq!(timeline[10].requests, 7);
    }
}
