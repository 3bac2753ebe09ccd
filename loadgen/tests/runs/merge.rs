//! Two load processes at once against one stack, then `loadgen merge`: the merged report's
//! request count is the sum of the two runs', and every endpoint's merged p99 is the p99 of
//! all the samples both processes recorded, read here from their raw histogram logs with
//! hdrhistogram's own log reader and added into fresh histograms, not an average of the two
//! runs' p99s.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use loadgen::api::Targets;
use loadgen::report;
use loadgen::run::RunRecord;
use testkit::unique;

use crate::stack::start_stack;

const SCENARIO: &str = r#"
name = "merge-two"
description = "Orders and reads from two load processes at once"

[load]
users = 3
run_time = "4s"
think_time = "5ms..20ms"
settle = "3s"

[[menus]]
key = "rice"
stock = 1000000

[[workflows]]
kind = "order"
menus = ["rice"]
reads = 2
weight = 2

[[workflows]]
kind = "browse_menus"

[[assertions]]
kind = "no_drift"

[[assertions]]
kind = "error_rate"
max_rate = 0.05
"#;

fn described(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The one run directory under `<report dir>/merge-two/`.
fn run_dir(report_dir: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(report_dir.join("merge-two"))
        .expect("the scenario's report directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
}

/// Endpoint tag → every histogram with that tag in the log, added into a fresh histogram;
/// untagged (per-second) intervals under "".
fn read_log_independently(path: &Path) -> BTreeMap<String, Histogram<u64>> {
    let bytes = std::fs::read(path).expect("the histogram log reads");
    let mut by_tag: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    let mut deserializer = Deserializer::new();
    for entry in IntervalLogIterator::new(&bytes) {
        if let LogEntry::Interval(interval) = entry.expect("a well-formed log") {
            let encoded = base64::engine::general_purpose::STANDARD
                .decode(interval.encoded_histogram())
                .expect("base64");
            let histogram: Histogram<u64> = deserializer
                .deserialize(&mut encoded.as_slice())
                .expect("a V2 histogram");
            let tag = interval.tag().map_or("", |t| t.as_str()).to_string();
            by_tag
                .entry(tag)
                .or_insert_with(|| Histogram::new(3).expect("a fresh histogram"))
                .add(&histogram)
                .expect("adds");
        }
    }
    by_tag
}

/// Starts two `loadgen run`s of the scenario at once, with different user counts so their
/// latencies differ; returns their run directories once both succeeded.
async fn run_two_at_once(targets: &Targets, file: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let (dir_a, dir_b) = (dir.join("a"), dir.join("b"));
    let spawn = |report_dir: &Path, users: &str| {
        Command::new(env!("CARGO_BIN_EXE_loadgen"))
            .arg("run")
            .arg(file)
            .args(["--no-dashboard", "--users", users, "--report-dir"])
            .arg(report_dir)
            .args(["--user-url", &targets.user])
            .args(["--restaurant-url", &targets.restaurant])
            .args(["--order-url", &targets.order])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("loadgen starts")
    };
    let (a, b) = (spawn(&dir_a, "2"), spawn(&dir_b, "4"));
    let (a, b) = tokio::task::spawn_blocking(move || {
        (
            a.wait_with_output().expect("run a ends"),
            b.wait_with_output().expect("run b ends"),
        )
    })
    .await
    .expect("joined");
    assert!(a.status.success(), "run a: {}", described(&a));
    assert!(b.status.success(), "run b: {}", described(&b));
    (run_dir(&dir_a), run_dir(&dir_b))
}

/// `loadgen merge a b --out merged`, which must succeed.
async fn merge(run_a: &Path, run_b: &Path, merged_dir: &Path) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_loadgen"));
    command
        .arg("merge")
        .arg(run_a)
        .arg(run_b)
        .arg("--out")
        .arg(merged_dir);
    let merge = tokio::task::spawn_blocking(move || command.output().expect("loadgen merge runs"))
        .await
        .expect("joined");
    assert!(merge.status.success(), "merge: {}", described(&merge));
    println!("{}", String::from_utf8_lossy(&merge.stdout));
}

fn load(dir: &Path) -> RunRecord {
    report::load_record(&dir.join("run.json")).expect("a saved run")
}

/// Counts are sums, and the aligned timeline holds every request.
fn assert_counts_are_sums(merged: &RunRecord, record_a: &RunRecord, record_b: &RunRecord) {
    assert!(record_a.total_requests() > 0 && record_b.total_requests() > 0);
    assert_eq!(
        merged.total_requests(),
        record_a.total_requests() + record_b.total_requests()
    );
    assert_eq!(
        merged.total_errors(),
        record_a.total_errors() + record_b.total_errors()
    );
    assert_eq!(
        merged.timeline.iter().map(|p| p.requests).sum::<u64>(),
        merged.total_requests(),
        "the aligned timeline holds every request"
    );
    assert_eq!(merged.merged_from.len(), 2);
    assert_eq!(merged.tally.paid, record_a.tally.paid + record_b.tally.paid);
}

/// One endpoint's requests and p99 in a run (0, 0 when it has none).
fn own(record: &RunRecord, endpoint: &str) -> (u64, u64) {
    let found = record.endpoints.iter().find(|e| e.endpoint == endpoint);
    found.map_or((0, 0), |e| (e.requests, e.latency.p99))
}

/// Every endpoint's merged p99 is the p99 of both processes' samples together, read from
/// their own histogram logs; prints how often averaging the two p99s would have been wrong.
fn assert_p99s_of_all_samples(merged: &RunRecord, runs: [(&RunRecord, &Path); 2]) {
    let samples = runs.map(|(_, dir)| read_log_independently(&dir.join("histograms.hlog")));
    let mut averaged_differs = 0;
    println!(
        "{:<20} {:>8} {:>8} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "endpoint",
        "req a",
        "req b",
        "merged",
        "p99 a",
        "p99 b",
        "avg p99",
        "all p99",
        "merged p99"
    );
    for endpoint in &merged.endpoints {
        let name = &endpoint.endpoint;
        let tag = name.replace(' ', "_");
        let mut all: Histogram<u64> = Histogram::new(3).expect("a fresh histogram");
        for histogram in samples.iter().filter_map(|s| s.get(&tag)) {
            all.add(histogram).expect("adds");
        }
        let [(requests_a, p99_a), (requests_b, p99_b)] = runs.map(|(record, _)| own(record, name));
        let average = (p99_a + p99_b) / 2;
        let all_p99 = all.value_at_quantile(0.99);
        println!(
            "{name:<20} {requests_a:>8} {requests_b:>8} {:>8} {p99_a:>10} {p99_b:>10} {average:>10} \
             {all_p99:>10} {:>10}",
            endpoint.requests, endpoint.latency.p99
        );
        assert_eq!(endpoint.requests, requests_a + requests_b, "{name}");
        assert_eq!(endpoint.requests, all.len(), "{name}");
        assert_eq!(
            endpoint.latency.p99, all_p99,
            "{name}: the merged p99 is the p99 of all samples"
        );
        assert_eq!(endpoint.latency.max, all.max(), "{name}");
        if requests_a > 0 && requests_b > 0 && average != endpoint.latency.p99 {
            averaged_differs += 1;
        }
    }
    println!(
        "{averaged_differs} of {} endpoints: the average of the two p99s differs from the true p99",
        merged.endpoints.len()
    );
}

/// The merged directory is a complete report, with its own (merged) histogram log.
fn assert_complete_report(merged: &RunRecord, merged_dir: &Path) {
    for file in [
        "index.html",
        "summary.json",
        "junit.xml",
        "run.json",
        "histograms.hlog",
    ] {
        assert!(merged_dir.join(file).is_file(), "{file}");
    }
    let merged_log = read_log_independently(&merged_dir.join("histograms.hlog"));
    assert_eq!(
        merged_log.get("").map(Histogram::len),
        Some(merged.total_requests()),
        "the merged per-second intervals hold every request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_load_processes_at_once_merge_into_summed_counts_and_the_p99_of_all_samples() {
    let stack = start_stack().await;
    let dir = std::env::temp_dir().join(unique("loadgen-merge"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("merge-two.toml");
    std::fs::write(&file, SCENARIO).expect("scenario written");

    let (run_a, run_b) = run_two_at_once(&stack.targets, &file, &dir).await;
    let merged_dir = dir.join("merged");
    merge(&run_a, &run_b, &merged_dir).await;

    let (record_a, record_b, merged) = (load(&run_a), load(&run_b), load(&merged_dir));
    assert_counts_are_sums(&merged, &record_a, &record_b);
    assert_p99s_of_all_samples(&merged, [(&record_a, &run_a), (&record_b, &run_b)]);
    assert_complete_report(&merged, &merged_dir);
    let _ = std::fs::remove_dir_all(&dir);
}
