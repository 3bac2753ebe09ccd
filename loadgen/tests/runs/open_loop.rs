//! The open-loop cap against the real services: with the Restaurant Service slowed by its
//! delay switch, a small `max_in_flight` holds the iterations running at once to the cap
//! and counts the ones it could not start as dropped (failing a `dropped` assertion); a
//! generous cap drops nothing.

use loadgen::run::{RunOptions, RunRecord, start_run};
use loadgen::scenario::parse_scenario;

use crate::stack::{Stack, start_stack};

/// 20 menu listings a second for 4 s, each slowed 400 ms by the Restaurant Service.
const SLOW_BROWSING: &str = r#"
name = "open-loop-cap"
description = "Browse a slowed menu list at a fixed rate"

[load]
users = 2
run_time = "4s"
rate = 20
request_timeout = "5s"

[[faults]]
at = "0s"
service = "restaurant"
fault = "delay"
delay_ms = 400

[[workflows]]
kind = "browse_menus"

[[assertions]]
kind = "dropped"
max_rate = 0
"#;

/// Iterations that ran: one menu listing each (the users' sign-ups and logins are
/// recorded too, under their own endpoints).
fn listings(record: &RunRecord) -> u64 {
    record
        .endpoints
        .iter()
        .find(|e| e.endpoint == "GET /menus")
        .map_or(0, |e| e.requests)
}

async fn run(stack: &Stack, max_in_flight: Option<usize>) -> RunRecord {
    let scenario = parse_scenario("open-loop-cap.toml", SLOW_BROWSING).expect("parses");
    start_run(RunOptions {
        max_in_flight,
        ..stack.options(scenario)
    })
    .wait()
    .await
    .expect("the run completes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_small_cap_drops_iterations_and_a_generous_one_none() {
    let stack = start_stack().await;

    let capped = run(&stack, Some(2)).await;
    let i = capped.iterations;
    assert_eq!(i.max_in_flight, 2);
    assert!(i.peak_in_flight <= 2, "{i:?}");
    // Each iteration takes ≥ 400 ms, so two at a time start at most ~5 of the 20 due each
    // second: most are dropped.
    assert!(i.scheduled >= 60, "{i:?}");
    assert!(i.dropped > i.scheduled / 2, "{i:?}");
    assert_eq!(listings(&capped) + i.dropped, i.scheduled, "{i:?}");
    let verdict = &capped.assertions[0];
    assert!(!verdict.passed, "{verdict:?}");
    assert!(
        verdict.actual.contains(&format!("{} of", i.dropped)),
        "{verdict:?}"
    );
    assert!(!capped.passed);

    // The default cap is rate × request timeout = 100: far above the ~8 in flight.
    let generous = run(&stack, None).await;
    let i = generous.iterations;
    assert_eq!(i.max_in_flight, 100);
    assert_eq!(i.dropped, 0, "{i:?}");
    assert!(i.peak_in_flight > 2 && i.peak_in_flight <= 100, "{i:?}");
    assert_eq!(listings(&generous), i.scheduled, "{i:?}");
    assert!(generous.passed, "{:?}", generous.assertions);
}
