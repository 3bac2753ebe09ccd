//! `loadgen compare <baseline> <run>`: a CI regression gate. For every endpoint it sets
//! the run beside its baseline — p50, p95, p99 (from the runs' full HDR histograms),
//! throughput and error rate — and flags a change only when it is both past a threshold
//! (command line, else the run's scenario `[compare]`) and significant: both runs have at
//! least `min_samples` requests on the endpoint and enough beyond each percentile for it to
//! be measured (5 samples above p99 means ≥ 500 requests), and a latency rise exceeds the
//! noise floor `min_change` and is more than chance by the histograms (see
//! [`significant_rise`]). It prints the table, writes `compare.html` and `compare.json`,
//! and exits 1 past a threshold (0 otherwise, 2 when the runs cannot be read).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use hdrhistogram::Histogram;
use maud::{Markup, html};
use serde::Serialize;

use crate::duration::{format_micros, parse_duration};
use crate::merge::{LoadedRun, load_run};
use crate::report::page;
use crate::scenario::{CompareThresholds, parse_percent};

/// Requests an endpoint needs in both runs unless told otherwise.
pub const DEFAULT_MIN_SAMPLES: u64 = 50;
/// Latency rises below this are noise unless told otherwise.
pub const DEFAULT_MIN_CHANGE: Duration = Duration::from_millis(1);
/// Samples a percentile needs beyond it to be measured at all.
const TAIL_SAMPLES: f64 = 5.0;

#[derive(Args, Debug, Clone)]
pub struct CompareArgs {
    /// The baseline run's directory (<report-dir>/<scenario>/<timestamp>/).
    pub baseline: PathBuf,
    /// The run to judge against it.
    pub run: PathBuf,
    /// Fail when an endpoint's p50 rises by more than this, e.g. 20%.
    #[arg(long, value_parser = parse_percent, value_name = "PERCENT")]
    pub p50_regression: Option<f64>,
    /// Fail when an endpoint's p95 rises by more than this, e.g. 20%.
    #[arg(long, value_parser = parse_percent, value_name = "PERCENT")]
    pub p95_regression: Option<f64>,
    /// Fail when an endpoint's p99 rises by more than this, e.g. 20%.
    #[arg(long, value_parser = parse_percent, value_name = "PERCENT")]
    pub p99_regression: Option<f64>,
    /// Fail when an endpoint's requests per second fall by more than this.
    #[arg(long, value_parser = parse_percent, value_name = "PERCENT")]
    pub throughput_drop: Option<f64>,
    /// Fail when an endpoint's error rate rises by more than this many points, e.g. 1%.
    #[arg(long, value_parser = parse_percent, value_name = "PERCENT")]
    pub error_rate_increase: Option<f64>,
    /// Requests an endpoint needs in both runs before it is judged [default: 50].
    #[arg(long)]
    pub min_samples: Option<u64>,
    /// Latency rises smaller than this are never regressions [default: 1ms].
    #[arg(long, value_parser = parse_duration)]
    pub min_change: Option<Duration>,
    /// Where compare.html and compare.json go [default: the run's directory].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

impl CompareArgs {
    /// The command line's thresholds over the scenario's.
    fn thresholds(&self, scenario: &CompareThresholds) -> CompareThresholds {
        CompareThresholds {
            p50_regression: self.p50_regression.or(scenario.p50_regression),
            p95_regression: self.p95_regression.or(scenario.p95_regression),
            p99_regression: self.p99_regression.or(scenario.p99_regression),
            throughput_drop: self.throughput_drop.or(scenario.throughput_drop),
            error_rate_increase: self.error_rate_increase.or(scenario.error_rate_increase),
            min_samples: self.min_samples.or(scenario.min_samples),
            min_change: self.min_change.or(scenario.min_change),
        }
    }
}

/// How one figure of one endpoint compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Within the threshold (or no threshold set).
    Ok,
    /// Past the threshold and significant.
    Regression,
    /// Not judged: too few samples (in either run) to measure this figure.
    TooFewSamples,
    /// Past the threshold, but the histograms do not show it is more than chance.
    NotSignificant,
}

/// One figure of one endpoint in both runs.
#[derive(Debug, Clone, Serialize)]
pub struct Delta {
    pub figure: String,
    pub baseline: f64,
    pub run: f64,
    /// Relative change (run / baseline − 1), or the difference in points for error rates.
    pub change: f64,
    pub threshold: Option<f64>,
    pub verdict: Verdict,
}

/// One endpoint's comparison.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointComparison {
    pub endpoint: String,
    pub baseline_requests: u64,
    pub run_requests: u64,
    pub deltas: Vec<Delta>,
}

/// The whole comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub baseline: String,
    pub run: String,
    pub scenario: String,
    pub thresholds: CompareThresholds,
    pub endpoints: Vec<EndpointComparison>,
    pub notes: Vec<String>,
    pub passed: bool,
}

/// What compare reads of one endpoint of one run.
struct Figures<'a> {
    histogram: Option<&'a Histogram<u64>>,
    requests: u64,
    errors: u64,
    load_secs: f64,
}

impl Figures<'_> {
    fn requests_per_second(&self) -> f64 {
        self.requests as f64 / self.load_secs.max(0.001)
    }

    fn error_rate(&self) -> f64 {
        self.errors as f64 / (self.requests.max(1)) as f64
    }
}

fn figures<'a>(run: &'a LoadedRun, endpoint: &str) -> Figures<'a> {
    let record = run.record.endpoints.iter().find(|e| e.endpoint == endpoint);
    Figures {
        histogram: run.histograms.endpoints.get(endpoint).map(|h| &h.all),
        requests: record.map_or(0, |e| e.requests),
        errors: record.map_or(0, |e| e.errors),
        load_secs: run.record.load_secs,
    }
}

/// Requests needed to measure a percentile: `min_samples`, and enough beyond it.
fn samples_needed(percentile: f64, min_samples: u64) -> u64 {
    let tail = (TAIL_SAMPLES / (1.0 - percentile / 100.0)).ceil() as u64;
    min_samples.max(tail)
}

fn latency_delta(
    percentile: f64,
    base: &Figures<'_>,
    run: &Figures<'_>,
    threshold: Option<f64>,
    limits: (u64, Duration),
) -> Delta {
    let at = |f: &Figures<'_>| {
        f.histogram
            .map_or(0, |h| h.value_at_quantile(percentile / 100.0)) as f64
    };
    let (before, after) = (at(base), at(run));
    let change = after / before.max(1.0) - 1.0;
    let enough = base.requests.min(run.requests) >= samples_needed(percentile, limits.0);
    let past =
        threshold.is_some_and(|t| change > t) && after - before > limits.1.as_micros() as f64;
    let significant = match (base.histogram, run.histogram) {
        (Some(b), Some(r)) => significant_rise(b, r, percentile),
        _ => false,
    };
    Delta {
        figure: format!("p{percentile}"),
        baseline: before,
        run: after,
        change,
        threshold,
        verdict: match (enough, past, significant) {
            (false, _, _) => Verdict::TooFewSamples,
            (true, true, true) => Verdict::Regression,
            (true, true, false) => Verdict::NotSignificant,
            (true, false, _) => Verdict::Ok,
        },
    }
}

/// Whether the run is slower than the baseline at `percentile` by more than chance. With
/// `t` halfway between the two runs' values at that percentile, the shares of requests
/// slower than `t` in each run are compared by a one-sided two-proportion z-test at the
/// 2.5 % level (z ≥ 1.96): a p99 that moved because of a handful of outliers in a small
/// run does not count, a whole distribution shifted does.
pub fn significant_rise(baseline: &Histogram<u64>, run: &Histogram<u64>, percentile: f64) -> bool {
    let quantile = percentile / 100.0;
    let (before, after) = (
        baseline.value_at_quantile(quantile),
        run.value_at_quantile(quantile),
    );
    if after <= before || baseline.is_empty() || run.is_empty() {
        return false;
    }
    let midpoint = before + (after - before) / 2;
    let slower = |h: &Histogram<u64>| (h.len() - h.count_between(0, midpoint)) as f64;
    let (n_base, n_run) = (baseline.len() as f64, run.len() as f64);
    let (slow_base, slow_run) = (slower(baseline), slower(run));
    let pooled = (slow_base + slow_run) / (n_base + n_run);
    let spread = (pooled * (1.0 - pooled) * (1.0 / n_base + 1.0 / n_run)).sqrt();
    if spread == 0.0 {
        return false;
    }
    (slow_run / n_run - slow_base / n_base) / spread >= 1.96
}

fn endpoint_comparison(
    endpoint: &str,
    baseline: &LoadedRun,
    run: &LoadedRun,
    limits: &CompareThresholds,
) -> EndpointComparison {
    let (base, new) = (figures(baseline, endpoint), figures(run, endpoint));
    let min_samples = limits.min_samples.unwrap_or(DEFAULT_MIN_SAMPLES);
    let floor = (min_samples, limits.min_change.unwrap_or(DEFAULT_MIN_CHANGE));
    let enough = base.requests.min(new.requests) >= min_samples;
    let judged = |past: bool| match (enough, past) {
        (false, _) => Verdict::TooFewSamples,
        (true, true) => Verdict::Regression,
        (true, false) => Verdict::Ok,
    };
    let throughput_change = new.requests_per_second() / base.requests_per_second().max(1e-9) - 1.0;
    let error_change = new.error_rate() - base.error_rate();
    EndpointComparison {
        endpoint: endpoint.to_string(),
        baseline_requests: base.requests,
        run_requests: new.requests,
        deltas: vec![
            latency_delta(50.0, &base, &new, limits.p50_regression, floor),
            latency_delta(95.0, &base, &new, limits.p95_regression, floor),
            latency_delta(99.0, &base, &new, limits.p99_regression, floor),
            Delta {
                figure: "throughput".into(),
                baseline: base.requests_per_second(),
                run: new.requests_per_second(),
                change: throughput_change,
                threshold: limits.throughput_drop,
                verdict: judged(
                    limits
                        .throughput_drop
                        .is_some_and(|t| -throughput_change > t),
                ),
            },
            Delta {
                figure: "error rate".into(),
                baseline: base.error_rate(),
                run: new.error_rate(),
                change: error_change,
                threshold: limits.error_rate_increase,
                verdict: judged(limits.error_rate_increase.is_some_and(|t| error_change > t)),
            },
        ],
    }
}

/// Compares `run` with `baseline` under `thresholds`.
pub fn compare_runs(
    baseline: &LoadedRun,
    run: &LoadedRun,
    thresholds: CompareThresholds,
) -> Comparison {
    let mut names: Vec<&str> = baseline
        .record
        .endpoints
        .iter()
        .chain(&run.record.endpoints)
        .map(|e| e.endpoint.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    let endpoints: Vec<EndpointComparison> = names
        .iter()
        .map(|name| endpoint_comparison(name, baseline, run, &thresholds))
        .collect();
    let mut notes = Vec::new();
    if baseline.record.scenario.name != run.record.scenario.name {
        notes.push(format!(
            "different scenarios: the baseline ran \"{}\", the run \"{}\"",
            baseline.record.scenario.name, run.record.scenario.name
        ));
    } else if baseline.record.scenario != run.record.scenario {
        notes.push("the scenario file differs between the runs".into());
    }
    if baseline.record.config.mode != run.record.config.mode {
        notes.push("the runs used different load modes (closed/open loop or rate)".into());
    }
    let passed = endpoints
        .iter()
        .flat_map(|e| &e.deltas)
        .all(|d| d.verdict != Verdict::Regression);
    Comparison {
        baseline: baseline.dir.display().to_string(),
        run: run.dir.display().to_string(),
        scenario: run.record.scenario.name.clone(),
        thresholds,
        endpoints,
        notes,
        passed,
    }
}

/// A figure's value for people.
fn show(figure: &str, value: f64) -> String {
    match figure {
        "throughput" => format!("{value:.1}/s"),
        "error rate" => format!("{:.2}%", value * 100.0),
        _ => format_micros(value),
    }
}

/// A change for people: relative, or in points for error rates.
fn show_change(delta: &Delta) -> String {
    if delta.figure == "error rate" {
        format!("{:+.2} pt", delta.change * 100.0)
    } else {
        format!("{:+.1}%", delta.change * 100.0)
    }
}

fn verdict_word(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Ok => "ok",
        Verdict::Regression => "REGRESSION",
        Verdict::TooFewSamples => "too few samples",
        Verdict::NotSignificant => "not significant",
    }
}

/// The comparison as terminal lines.
pub fn text(comparison: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "compare {}: baseline {} → run {}",
        comparison.scenario, comparison.baseline, comparison.run
    );
    for e in &comparison.endpoints {
        let _ = writeln!(
            out,
            "  {} ({} → {} requests)",
            e.endpoint, e.baseline_requests, e.run_requests
        );
        for d in &e.deltas {
            let limit = d
                .threshold
                .map_or(String::new(), |t| format!(" (limit {:.0}%)", t * 100.0));
            let _ = writeln!(
                out,
                "    {:<11} {:>10} → {:>10}  {:>9}{limit}  {}",
                d.figure,
                show(&d.figure, d.baseline),
                show(&d.figure, d.run),
                show_change(d),
                verdict_word(d.verdict)
            );
        }
    }
    for note in &comparison.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    let _ = writeln!(
        out,
        "{}",
        if comparison.passed {
            "PASSED: no regression past the thresholds"
        } else {
            "FAILED: regression past the thresholds"
        }
    );
    out
}

/// The comparison as a self-contained HTML page, styled like the run reports.
pub fn html(comparison: &Comparison) -> String {
    let body = html! {
        p.muted { "baseline " (comparison.baseline) br; "run " (comparison.run) }
        p.muted {
            "A change counts only past its threshold, when both runs have enough requests to \
            measure the figure, and — for latency — when it exceeds the noise floor."
        }
        table id="compare" {
            tr {
                th.l { "endpoint" } th.l { "figure" } th { "baseline" } th { "run" }
                th { "change" } th { "limit" } th.l { "verdict" }
            }
            @for e in &comparison.endpoints {
                @for (i, d) in e.deltas.iter().enumerate() {
                    (delta_row((i == 0).then_some(e), d))
                }
            }
        }
        @for note in &comparison.notes {
            p.muted { "note: " (note) }
        }
    };
    let title = format!("{} — loadgen compare", comparison.scenario);
    let heading = format!("{}: run vs baseline", comparison.scenario);
    page(&title, &heading, comparison.passed, body)
}

/// One figure of one endpoint; `first` names the endpoint on its first row.
fn delta_row(first: Option<&EndpointComparison>, d: &Delta) -> Markup {
    let class = match d.verdict {
        Verdict::Regression => Some("bad"),
        Verdict::TooFewSamples | Verdict::NotSignificant => Some("muted"),
        Verdict::Ok => None,
    };
    let limit = d
        .threshold
        .map_or("–".to_string(), |t| format!("{:.0}%", t * 100.0));
    html! {
        tr {
            td.l {
                @if let Some(e) = first {
                    (e.endpoint) br;
                    span.muted { (e.baseline_requests) " → " (e.run_requests) " requests" }
                }
            }
            td.l { (d.figure) }
            td { (show(&d.figure, d.baseline)) }
            td { (show(&d.figure, d.run)) }
            td class=[class] { (show_change(d)) }
            td { (limit) }
            td.l { (verdict_word(d.verdict)) }
        }
    }
}

/// Writes `compare.html` and `compare.json` into `dir`.
pub fn write_files(comparison: &Comparison, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let write = |name: &str, contents: String| {
        let path = dir.join(name);
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))
    };
    write("compare.html", html(comparison))?;
    write("compare.json", serde_json::to_string_pretty(comparison)?)
}

/// `loadgen compare`: exit 0 when no regression, 1 past a threshold.
pub fn command(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    let baseline = load_run(&args.baseline).context("the baseline")?;
    let run = load_run(&args.run).context("the run")?;
    let thresholds = args.thresholds(&run.record.scenario.compare);
    let comparison = compare_runs(&baseline, &run, thresholds);
    print!("{}", text(&comparison));
    let dir = args.out.clone().unwrap_or_else(|| run.dir.clone());
    write_files(&comparison, &dir)?;
    println!("diff: {}", dir.join("compare.html").display());
    Ok(if comparison.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_percentile_needs_samples_beyond_it() {
        assert_eq!(samples_needed(50.0, 50), 50);
        assert_eq!(samples_needed(95.0, 50), 100);
        assert_eq!(samples_needed(99.0, 50), 500);
        assert_eq!(samples_needed(99.0, 2_000), 2_000);
    }

    fn histogram(values: &[(u64, u64)]) -> Histogram<u64> {
        let mut histogram = crate::histogram::new_histogram();
        for &(micros, count) in values {
            histogram.record_n(micros, count).expect("in range");
        }
        histogram
    }

    #[test]
    fn a_shifted_tail_is_significant_a_few_outliers_in_a_small_run_are_not() {
        // p99 10 ms → 20 ms in both cases.
        let base = histogram(&[(10_000, 1_000)]);
        let run = histogram(&[(10_000, 985), (20_000, 15)]);
        assert!(significant_rise(&base, &run, 99.0));
        let small_base = histogram(&[(10_000, 100)]);
        let small_run = histogram(&[(10_000, 98), (20_000, 2)]);
        assert!(!significant_rise(&small_base, &small_run, 99.0));
        // Faster or equal is never a rise.
        assert!(!significant_rise(&run, &base, 99.0));
        assert!(!significant_rise(&base, &base, 50.0));
        // The whole distribution shifted: significant at the median too.
        let slow = histogram(&[(300_000, 100)]);
        assert!(significant_rise(&small_base, &slow, 50.0));
    }

    #[test]
    fn percentages_parse_with_or_without_the_sign() {
        assert_eq!(parse_percent("20%"), Ok(0.2));
        assert_eq!(parse_percent(" 5 "), Ok(0.05));
        assert!(parse_percent("-3%").is_err());
        assert!(parse_percent("fast").is_err());
    }
}
