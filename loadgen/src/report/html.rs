//! The self-contained HTML report: verdict, assertions, latency percentile curves, cache
//! hits against misses, throughput, errors and latency over time with the fault changes
//! marked and the fault windows shaded, recovery after each fault, the consistency table,
//! what the clients saw, and the run's configuration.

use std::fmt::Write as _;

use super::svg::{self, Band, Chart, Marker, PALETTE, Series, escape};
use crate::duration::{format_duration, format_micros};
use crate::recovery::Recovery;
use crate::run::RunRecord;

pub(crate) const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;background:#fafafa}\
h1{margin:0 0 4px}h2{margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}\
table{border-collapse:collapse;margin:8px 0;background:#fff}th,td{border:1px solid #ddd;padding:4px 8px;text-align:right;font-size:13px}\
th{background:#f0f0f0}td.l,th.l{text-align:left}.pass{color:#1a7f37;font-weight:bold}.fail{color:#c62828;font-weight:bold}\
.badge{display:inline-block;padding:4px 12px;border-radius:4px;color:#fff;font-weight:bold}.badge.pass{background:#1a7f37;color:#fff}.badge.fail{background:#c62828;color:#fff}\
.bad{background:#fdecea;color:#c62828;font-weight:bold}.muted{color:#666;font-size:13px}svg.chart{background:#fff;border:1px solid #ddd;margin:8px 0;max-width:100%;height:auto}\
pre{background:#fff;border:1px solid #ddd;padding:8px;overflow:auto;font-size:12px}";

fn ms_label(value: f64) -> String {
    if value >= 1000.0 {
        format!("{}s", value / 1000.0)
    } else {
        format!("{value}ms")
    }
}

fn count_label(value: f64) -> String {
    format!("{value:.0}")
}

/// Position of a percentile on a "nines" axis: 90 → 1, 99 → 2, 99.9 → 3; 100 → 4.5.
fn nines(percentile: f64) -> f64 {
    if percentile >= 100.0 {
        4.5
    } else {
        (-(1.0 - percentile / 100.0).log10()).min(4.0)
    }
}

fn fault_markers(record: &RunRecord) -> Vec<Marker> {
    record
        .markers
        .iter()
        .filter(|m| m.origin != "teardown" || m.at_secs < record.load_secs)
        .map(|m| Marker {
            x: m.at_secs.max(0.0),
            label: format!("{}: {}", m.service, m.description),
            color: if m.description.contains("off") {
                "#2e7d32".into()
            } else {
                "#d62728".into()
            },
        })
        .collect()
}

/// The fault windows as shaded bands.
fn fault_bands(record: &RunRecord) -> Vec<Band> {
    record
        .fault_windows
        .iter()
        .map(|w| Band {
            from: w.start_s.max(0.0),
            to: w.end_s,
            label: w.name(),
            color: "#d62728".into(),
        })
        .collect()
}

/// One recovery figure as a table cell: green when recovered, red when it never was.
fn recovery_cell(recovery: &Recovery) -> String {
    let class = match recovery {
        Recovery::Recovered { .. } => "l",
        Recovery::NotMeasured { .. } => "l muted",
        Recovery::Recovering { .. } | Recovery::NotRecovered { .. } => "l bad",
    };
    format!(
        "<td class=\"{class}\">{}</td>",
        escape(&recovery.describe())
    )
}

/// Recovery after each fault window, and how it was measured.
fn recovery_table(page: &mut String, record: &RunRecord) {
    if record.recovery.is_empty() {
        return;
    }
    page.push_str("<h2>Recovery after each fault</h2><table id=\"recovery\"><tr><th class=\"l\">fault</th><th class=\"l\">window</th><th>measured from</th><th class=\"l\">errors back</th><th class=\"l\">p95 back</th><th class=\"l\">books balanced</th></tr>");
    for figure in &record.recovery {
        let w = &figure.window;
        let _ = write!(
            page,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{:.1}–{:.1}s</td><td>{:.1}s</td>{}{}{}</tr>",
            escape(&w.label),
            w.start_s,
            w.end_s,
            figure.from_s,
            recovery_cell(&figure.errors),
            recovery_cell(&figure.p95),
            recovery_cell(&figure.books),
        );
    }
    page.push_str("</table>");
    let bounds = record.recovery[0].bounds;
    let mut costs: Vec<f64> = record
        .consistency_history
        .iter()
        .map(|c| c.took_ms)
        .filter(|ms| *ms > 0.0)
        .collect();
    costs.sort_by(f64::total_cmp);
    let cost = match costs.len() {
        0 => String::new(),
        n => format!(
            " {n} consistency checks took {:.1} ms at the median, {:.1} ms at most.",
            costs[n / 2],
            costs[n - 1]
        ),
    };
    let _ = write!(
        page,
        "<p class=\"muted\">Time after the fault ended (or, when other faults were still on then, \
after the last of them ended: \"measured from\") until: the error rate of each second stayed \
at or under {:.1}%, the p95 of each second stayed under {}, and a consistency check found the \
books balanced: no compensation outstanding, no order PENDING since before the fault ended, and \
drift 0 (or no more than the stock orders placed since, still in flight, may hold). Errors and \
p95 have a resolution of one second and count the recovery that held (a relapse moves it later \
and is named); books are checked every {} ms after a fault ends.{cost}</p>",
        bounds.max_error_rate * 100.0,
        format_micros(bounds.max_p95_ms * 1000.0),
        crate::run::RECOVERY_CHECK_EVERY.as_millis(),
    );
}

/// For a record made by `loadgen merge`: the runs, their own verdicts, and each endpoint's
/// p99 merged beside the runs' own.
fn merged_runs(page: &mut String, record: &RunRecord) {
    let runs = &record.merged_from;
    let _ = write!(
        page,
        "<h2>Merged from {} runs</h2><p class=\"muted\">Every latency figure in this report comes \
from the runs' HDR histograms added together, never from averaging their percentiles; counts \
are sums. Second 0 is when the first load began; each run is placed at the wall-clock second \
its own load began. The assertions were evaluated again on the merged data; each run's own \
verdict is listed here.</p>",
        runs.len()
    );
    page.push_str("<table id=\"runs\"><tr><th>run</th><th class=\"l\">directory</th><th class=\"l\">load started</th><th>at</th><th>load</th><th>users</th><th>requests</th><th>errors</th><th class=\"l\">own verdict</th></tr>");
    for (index, run) in runs.iter().enumerate() {
        let verdict = if run.passed {
            "<span class=\"pass\">PASS</span>".to_string()
        } else {
            format!(
                "<span class=\"fail\">FAIL</span> {}",
                escape(&run.failed.join("; "))
            )
        };
        let _ = write!(
            page,
            "<tr><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>+{}s</td><td>{:.1}s</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l\">{verdict}</td></tr>",
            index + 1,
            escape(&run.dir),
            escape(&run.load_started_at),
            run.offset_secs,
            run.load_secs,
            run.users,
            run.requests,
            run.errors,
        );
    }
    page.push_str("</table><table id=\"p99\"><tr><th class=\"l\">endpoint</th><th>merged p99</th>");
    for index in 0..runs.len() {
        let _ = write!(page, "<th>run {} p99</th>", index + 1);
    }
    page.push_str("</tr>");
    for endpoint in &record.endpoints {
        let _ = write!(
            page,
            "<tr><td class=\"l\">{}</td><td>{}</td>",
            escape(&endpoint.endpoint),
            format_micros(endpoint.latency.p99 as f64)
        );
        for run in runs {
            let own = run
                .p99
                .get(&endpoint.endpoint)
                .map_or("–".to_string(), |p99| format_micros(*p99 as f64));
            let _ = write!(page, "<td>{own}</td>");
        }
        page.push_str("</tr>");
    }
    page.push_str("</table>");
}

/// Renders the report page.
/// Open loop: how many iterations were due, how many were dropped at the in-flight cap.
fn open_loop_iterations(page: &mut String, record: &RunRecord) {
    let i = &record.iterations;
    if i.max_in_flight == 0 {
        return;
    }
    let _ = write!(
        page,
        "<p id=\"iterations\">Open-loop iterations: {} scheduled, <span{}>{} dropped</span> \
         ({:.1}%: due while max_in_flight = {} were running), at most {} in flight.</p>",
        i.scheduled,
        if i.dropped > 0 { " class=\"bad\"" } else { "" },
        i.dropped,
        i.dropped_share() * 100.0,
        i.max_in_flight,
        i.peak_in_flight,
    );
}

pub fn render_html(record: &RunRecord) -> String {
    let scenario = &record.scenario;
    let mut page = String::new();
    let verdict = if record.passed { "pass" } else { "fail" };
    let _ = write!(
        page,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{name} — loadgen report</title>\
<style>{STYLE}</style></head><body><h1>{name} <span class=\"badge {verdict}\">{VERDICT}</span></h1>\
<p>{description}</p><p class=\"muted\">started {started}, load {load:.1}s of {planned}{early}; {requests} requests, {errors} errors; mode: {mode}</p>",
        name = escape(&scenario.name),
        VERDICT = verdict.to_uppercase(),
        description = escape(&scenario.description),
        started = escape(&record.started_at),
        load = record.load_secs,
        planned = format_duration(record.config.run_time),
        early = if record.stopped_early {
            " (stopped early)"
        } else {
            ""
        },
        requests = record.total_requests(),
        errors = record.total_errors(),
        mode = match &record.config.mode {
            crate::run::LoadMode::ClosedLoop { engine } => format!("closed loop, {engine}"),
            crate::run::LoadMode::OpenLoop { rate } => format!("open loop, {rate}/s"),
        },
    );
    if !scenario.tests.is_empty() {
        let _ = write!(page, "<p class=\"muted\">{}</p>", escape(&scenario.tests));
    }
    open_loop_iterations(&mut page, record);
    if !record.merged_from.is_empty() {
        merged_runs(&mut page, record);
    }

    // Assertions.
    page.push_str("<h2>Assertions</h2><table id=\"assertions\"><tr><th class=\"l\">assertion</th><th>line</th><th class=\"l\">expected</th><th class=\"l\">actual</th><th>result</th><th class=\"l\">by how much</th></tr>");
    for a in &record.assertions {
        let (class, word) = if a.passed {
            ("pass", "PASS")
        } else {
            ("fail", "FAIL")
        };
        let _ = write!(
            page,
            "<tr><td class=\"l\">{}</td><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"{class}\">{word}</td><td class=\"l\">{}</td></tr>",
            escape(&a.title),
            a.line,
            escape(&a.expected),
            escape(&a.actual),
            escape(&a.detail)
        );
    }
    page.push_str("</table>");

    // Endpoints.
    page.push_str("<h2>Latency per endpoint</h2><table id=\"endpoints\"><tr><th class=\"l\">endpoint</th><th>requests</th><th>errors</th><th class=\"l\">statuses</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>p99.9</th><th>max</th></tr>");
    for e in &record.endpoints {
        let statuses: Vec<String> = e
            .statuses
            .iter()
            .map(|(status, count)| {
                let status = if *status == 0 {
                    "transport".to_string()
                } else {
                    status.to_string()
                };
                format!("{status}×{count}")
            })
            .collect();
        let l = &e.latency;
        let _ = write!(
            page,
            "<tr><td class=\"l\">{}</td><td>{}</td><td{}>{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&e.endpoint),
            e.requests,
            if e.errors > 0 { " class=\"bad\"" } else { "" },
            e.errors,
            escape(&statuses.join(" ")),
            format_micros(l.p50 as f64),
            format_micros(l.p90 as f64),
            format_micros(l.p95 as f64),
            format_micros(l.p99 as f64),
            format_micros(l.p999 as f64),
            format_micros(l.max as f64),
        );
    }
    page.push_str("</table>");
    let _ = write!(
        page,
        "<p class=\"muted\">{}</p>",
        escape(&record.measurement)
    );
    let curves: Vec<Series> = record
        .endpoints
        .iter()
        .enumerate()
        .filter(|(_, e)| e.requests > 0)
        .map(|(i, e)| Series {
            name: e.endpoint.clone(),
            color: PALETTE[i % PALETTE.len()].into(),
            points: e
                .latency
                .curve
                .iter()
                .map(|(p, micros)| (nines(*p), *micros as f64 / 1000.0))
                .collect(),
        })
        .collect();
    page.push_str(&svg::render(&Chart {
        title: "Latency by percentile".into(),
        y_label: "latency (ms, log)".into(),
        x_label: "percentile".into(),
        x_ticks: vec![
            (0.0, "p0".into()),
            (nines(50.0), "p50".into()),
            (1.0, "p90".into()),
            (2.0, "p99".into()),
            (3.0, "p99.9".into()),
            (4.0, "p99.99".into()),
            (4.5, "max".into()),
        ],
        log_y: true,
        series: curves,
        markers: Vec::new(),
        bands: Vec::new(),
        y_format: ms_label,
    }));

    // Cache.
    let cached: Vec<_> = record
        .endpoints
        .iter()
        .filter(|e| e.cache_hits.is_some() || e.cache_misses.is_some())
        .collect();
    if !cached.is_empty() {
        page.push_str("<h2>Cache: hits against misses</h2><table id=\"cache\"><tr><th class=\"l\">endpoint</th><th>hits</th><th>hit p50</th><th>hit p95</th><th>hit p99</th><th>misses</th><th>miss p50</th><th>miss p95</th><th>miss p99</th><th>hit ratio</th></tr>");
        for e in cached {
            let hits = e.cache_hits.clone().unwrap_or_default();
            let misses = e.cache_misses.clone().unwrap_or_default();
            let total = (hits.count + misses.count).max(1);
            let _ = write!(
                page,
                "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}%</td></tr>",
                escape(&e.endpoint),
                hits.count,
                format_micros(hits.p50 as f64),
                format_micros(hits.p95 as f64),
                format_micros(hits.p99 as f64),
                misses.count,
                format_micros(misses.p50 as f64),
                format_micros(misses.p95 as f64),
                format_micros(misses.p99 as f64),
                hits.count as f64 * 100.0 / total as f64
            );
        }
        page.push_str("</table>");
    }

    // Over time.
    page.push_str("<h2>Throughput, errors and latency over time</h2>");
    let markers = fault_markers(record);
    let per_second = |pick: fn(&crate::recorder::SecondPoint) -> f64| -> Vec<(f64, f64)> {
        // The last second of the load is partial; leave it out so throughput does not dip.
        let whole_seconds = (record.load_secs.floor() as u64).max(1);
        record
            .timeline
            .iter()
            .filter(|p| p.second < whole_seconds)
            .map(|p| (p.second as f64, pick(p)))
            .collect()
    };
    page.push_str(&svg::render(&Chart {
        title: "Requests and errors per second (dashed lines: fault changes, shaded: faults on)"
            .into(),
        y_label: "per second".into(),
        x_label: "seconds into the run".into(),
        x_ticks: Vec::new(),
        log_y: false,
        series: vec![
            Series {
                name: "requests/s".into(),
                color: "#1f77b4".into(),
                points: per_second(|p| p.requests as f64),
            },
            Series {
                name: "errors/s".into(),
                color: "#d62728".into(),
                points: per_second(|p| p.errors as f64),
            },
        ],
        markers: markers.clone(),
        bands: fault_bands(record),
        y_format: count_label,
    }));
    page.push_str(&svg::render(&Chart {
        title: "Latency per second (all endpoints)".into(),
        y_label: "latency (ms, log)".into(),
        x_label: "seconds into the run".into(),
        x_ticks: Vec::new(),
        log_y: true,
        series: vec![
            Series {
                name: "p50".into(),
                color: "#2ca02c".into(),
                points: per_second(|p| p.p50 as f64 / 1000.0),
            },
            Series {
                name: "p95".into(),
                color: "#ff7f0e".into(),
                points: per_second(|p| p.p95 as f64 / 1000.0),
            },
            Series {
                name: "p99".into(),
                color: "#9467bd".into(),
                points: per_second(|p| p.p99 as f64 / 1000.0),
            },
        ],
        markers,
        bands: fault_bands(record),
        y_format: ms_label,
    }));
    if !record.markers.is_empty() {
        page.push_str("<table id=\"faults\"><tr><th>at</th><th class=\"l\">service</th><th class=\"l\">change</th><th class=\"l\">origin</th></tr>");
        for m in &record.markers {
            let _ = write!(
                page,
                "<tr><td>{:.1}s</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
                m.at_secs,
                m.service,
                escape(&m.description),
                escape(&m.origin)
            );
        }
        page.push_str("</table>");
    }
    recovery_table(&mut page, record);

    // Consistency.
    page.push_str("<h2>Inventory consistency</h2>");
    match &record.final_check {
        Some(check) => {
            if let Some(error) = &check.error {
                let _ = write!(
                    page,
                    "<p class=\"fail\">The final check failed: {}</p>",
                    escape(error)
                );
            }
            page.push_str("<table id=\"consistency\"><tr><th class=\"l\">menu</th><th>id</th><th>initial</th><th>stock</th><th>reserved</th><th>restored</th><th>sold (PAID)</th><th>drift</th><th>ledger gap</th><th>max |drift| during run</th></tr>");
            for row in &check.rows {
                let during = record
                    .consistency_history
                    .iter()
                    .flat_map(|c| c.rows.iter())
                    .filter(|r| r.menu_id == row.menu_id)
                    .map(|r| r.drift.abs())
                    .max()
                    .unwrap_or(0);
                let flag = |bad: bool| if bad { " class=\"bad\"" } else { "" };
                let _ = write!(
                    page,
                    "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td{}>{}</td><td>{}</td><td>{}</td><td{}>{}</td><td{}>{:+}</td><td{}>{:+}</td><td>{}</td></tr>",
                    escape(&row.key),
                    row.menu_id,
                    row.initial,
                    flag(row.stock < 0),
                    row.stock,
                    row.reserved,
                    row.restored,
                    flag(row.sold > row.initial),
                    row.sold,
                    flag(row.drift != 0),
                    row.drift,
                    flag(row.identity_gap != 0),
                    row.identity_gap,
                    during
                );
            }
            page.push_str("</table>");
            let statuses: Vec<String> = check
                .orders_by_status
                .iter()
                .map(|(status, count)| format!("{status} {count}"))
                .collect();
            let _ = write!(
                page,
                "<p class=\"muted\">drift = stock − (initial − sold); ledger gap = stock − (initial − reserved + restored). Order Service totals (all runs): {}. \"During run\" counts orders in flight, so it may be non-zero while the final check is 0.</p>",
                escape(&statuses.join(", "))
            );
        }
        None => page.push_str("<p class=\"fail\">No final consistency check was made.</p>"),
    }
    let t = &record.tally;
    let _ = write!(
        page,
        "<h2>What the clients saw</h2><table id=\"orders\"><tr><th>order attempts</th><th>PAID</th><th>declined (402)</th><th>out of stock (409)</th><th>other failures</th><th>unknown outcome</th><th>cancelled</th><th>cancel refused</th><th>login failures</th></tr>\
<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table>",
        t.order_attempts,
        t.paid,
        t.declined,
        t.out_of_stock,
        t.order_errors,
        t.unknown_outcomes,
        t.cancelled,
        t.cancel_refused,
        t.login_failures
    );

    // Configuration.
    let c = &record.config;
    let _ = write!(
        page,
        "<h2>Configuration</h2><table id=\"config\">\
<tr><th class=\"l\">scenario file</th><td class=\"l\">{}</td></tr>\
<tr><th class=\"l\">users</th><td class=\"l\">{} (hatch {}/s)</td></tr>\
<tr><th class=\"l\">run time</th><td class=\"l\">{}{}</td></tr>\
<tr><th class=\"l\">think time</th><td class=\"l\">{}..{}</td></tr>\
<tr><th class=\"l\">seed</th><td class=\"l\">{}</td></tr>\
<tr><th class=\"l\">targets</th><td class=\"l\">user {} · restaurant {} · order {}{}</td></tr>\
<tr><th class=\"l\">menus created</th><td class=\"l\">{}</td></tr>\
<tr><th class=\"l\">fault schedule</th><td class=\"l\">{}</td></tr>\
<tr><th class=\"l\">workflows</th><td class=\"l\">{}</td></tr></table>",
        escape(&scenario.source),
        c.users,
        c.hatch_rate,
        format_duration(c.run_time),
        if c.short { " (short mode)" } else { "" },
        format_duration(c.think_min),
        format_duration(c.think_max),
        c.seed,
        escape(&c.targets.user),
        escape(&c.targets.restaurant),
        escape(&c.targets.order),
        c.targets
            .gateway
            .as_ref()
            .map(|g| format!(" · gateway {}", escape(g)))
            .unwrap_or_default(),
        escape(
            &c.menu_ids
                .iter()
                .map(|(k, id)| format!("{k} = #{id}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        escape(&if c.faults.is_empty() {
            "none".to_string()
        } else {
            c.faults
                .iter()
                .map(|f| format!("{} {}: {}", format_duration(f.at), f.service, f.fault))
                .collect::<Vec<_>>()
                .join("; ")
        }),
        escape(
            &scenario
                .workflows
                .iter()
                .map(|w| format!("{} ×{}", w.label(), w.weight))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    if !record.notes.is_empty() {
        page.push_str("<h2>Notes</h2><ul>");
        for note in &record.notes {
            let _ = write!(page, "<li>{}</li>", escape(note));
        }
        page.push_str("</ul>");
    }
    page.push_str("<p class=\"muted\">Generated by loadgen. This page loads nothing from the network.</p></body></html>\n");
    page
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::fixed_run;

    #[test]
    fn the_page_is_self_contained_and_shows_every_section() {
        let mut record = fixed_run();
        if let Some(check) = record.final_check.as_mut() {
            check.rows[0].drift = -2;
        }
        let html = render_html(&record);
        assert!(html.starts_with("<!DOCTYPE html>"));
        // No network: no external scripts, styles or images.
        for needle in ["<script src", "<link", "http://cdn", "https://"] {
            assert!(!html.contains(needle), "found {needle}");
        }
        for id in [
            "assertions",
            "endpoints",
            "cache",
            "faults",
            "consistency",
            "orders",
            "config",
        ] {
            assert!(html.contains(&format!("id=\"{id}\"")), "section {id}");
        }
        assert_eq!(
            html.matches("<svg").count(),
            3,
            "percentile, throughput, latency charts"
        );
        assert!(html.contains("badge fail"));
        assert!(html.contains("40.0ms over the bound (80% above)"));
        assert!(
            html.contains("order: payment fail 30%"),
            "fault marker label"
        );
        assert!(html.contains("Coordinated omission is NOT corrected"));
        assert!(html.contains("<td class=\"bad\">-2</td>"), "drift in red");
    }

    #[test]
    fn fault_windows_are_shaded_and_recovery_has_its_table() {
        let record = fixed_run();
        let html = render_html(&record);
        // One window, shaded on the throughput and the latency-over-time charts.
        assert_eq!(html.matches("class=\"fault-window\"").count(), 2);
        assert!(
            html.contains("<title>payment_fail order</title>"),
            "band label"
        );
        let table = html
            .split("id=\"recovery\"")
            .nth(1)
            .and_then(|rest| rest.split("</table>").next())
            .expect("a recovery table");
        assert!(table.contains("order: payment fail 30%"), "{table}");
        assert!(table.contains("0.0–10.0s"), "{table}");
        assert!(
            table.contains("not measured: no requests after the fault ended"),
            "{table}"
        );
        assert!(
            table.contains("<td class=\"l\">0.41s</td>"),
            "books: {table}"
        );
        assert!(html.contains("at or under 5.0%"), "the threshold is named");
        assert!(
            html.contains("checks took 12.0 ms at the median"),
            "check cost"
        );
        let mut unrecovered = fixed_run();
        unrecovered.recovery[0].books = Recovery::NotRecovered { watched_s: 5.2 };
        assert!(
            render_html(&unrecovered)
                .contains("<td class=\"l bad\">not recovered (watched 5.2s)</td>")
        );
    }
}
