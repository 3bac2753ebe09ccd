//! Scenario parsing of the process, link and dependency fault kinds (issue 13): every kind
//! in a good form reads as the fault it says, and every kind in a bad form (unknown service,
//! link, toxic, attribute or dependency; a missing field; a negative, zero, absurd or
//! too-long duration; fields of another kind; overlapping or unmatched steps) is refused
//! with the file, the line of its `[[faults]]` table and what is wrong. The switches still
//! read as before.

use std::collections::BTreeMap;
use std::time::Duration;

use loadgen::chaos::{ChaosFault, Dependency, ProcessAction, Streams, ToxicSpec};
use loadgen::scenario::{Fault, Scenario, ScenarioError, Service, parse_scenario};

/// A scenario of 30 s whose `[[faults]]` tables start on line 13.
fn with_faults(faults: &str) -> String {
    format!(
        r#"name = "chaos-parse"
description = "parsing of fault kinds"

[load]
users = 2
run_time = "30s"

[[menus]]
key = "kimbap"
stock = 100

# faults
{faults}
[[workflows]]
kind = "order"
menus = ["kimbap"]

[[assertions]]
kind = "no_drift"
"#
    )
}

const FIRST_FAULT_LINE: usize = 13;

fn good(faults: &str) -> Scenario {
    parse_scenario("chaos.toml", &with_faults(faults))
        .unwrap_or_else(|e| panic!("should parse: {e}\n{faults}"))
}

fn bad(faults: &str) -> ScenarioError {
    match parse_scenario("chaos.toml", &with_faults(faults)) {
        Ok(scenario) => panic!("should be refused: {faults}\nparsed: {:?}", scenario.chaos),
        Err(error) => error,
    }
}

/// Refused at `line` with a message containing every one of `words`.
fn refused(faults: &str, line: usize, words: &[&str]) {
    let error = bad(faults);
    assert_eq!(error.file, "chaos.toml", "{error}");
    assert_eq!(error.line, line, "{error}\n{faults}");
    for word in words {
        assert!(error.message.contains(word), "{error} should say {word:?}");
    }
}

fn attributes(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn process_faults_parse() {
    let scenario = good(
        r#"[[faults]]
at = "5s"
fault = "kill"
service = "order"
duration = "2s"

[[faults]]
at = "10s"
fault = "restart"
service = "user"

[[faults]]
at = "12s"
fault = "pause"
service = "restaurant"
duration = "3s"

[[faults]]
at = "20s"
fault = "pause"
service = "user"

[[faults]]
at = "22s"
fault = "resume"
service = "user"
"#,
    );
    let steps = &scenario.chaos;
    assert_eq!(steps.len(), 5);
    assert!(scenario.faults.is_empty(), "no switch steps");
    let expect = [
        (5, Some(2), ProcessAction::Kill, Service::Order),
        (10, None, ProcessAction::Restart, Service::User),
        (12, Some(3), ProcessAction::Pause, Service::Restaurant),
        (20, None, ProcessAction::Pause, Service::User),
        (22, None, ProcessAction::Resume, Service::User),
    ];
    for (step, (at, duration, action, service)) in steps.iter().zip(expect) {
        assert_eq!(step.at, Duration::from_secs(at));
        assert_eq!(step.duration, duration.map(Duration::from_secs));
        assert_eq!(step.fault, ChaosFault::Process { action, service });
    }
    assert_eq!(steps[0].line, FIRST_FAULT_LINE);
    assert_eq!(steps[0].label(), "kill order for 2s");
    assert_eq!(steps[0].end(), Some(Duration::from_secs(7)));
}

/// Two links with toxics, a timeout on the load generator's own link, a partition, and a
/// dependency down for every service and for the restaurant only.
const LINK_FAULTS: &str = r#"[[faults]]
at = "5s"
fault = "link"
link = "restaurant->postgres"
toxic = "latency"
attributes = { latency = 200, jitter = 100 }
duration = "10s"

[[faults]]
at = "5s"
fault = "link"
link = "order->user"
toxic = "bandwidth"
stream = "both"
toxicity = 0.5
attributes = { rate = 32 }
duration = "10s"

[[faults]]
at = "1s"
fault = "link"
link = "loadgen->order"
toxic = "timeout"
stream = "upstream"
duration = "1s"

[[faults]]
at = "2s"
fault = "partition"
link = "order->restaurant"
duration = "5s"

[[faults]]
at = "20s"
fault = "dependency_down"
dependency = "redis"
duration = "5s"

[[faults]]
at = "20s"
fault = "dependency_down"
dependency = "postgres"
service = "restaurant"
duration = "2s"
"#;

#[test]
fn link_partition_and_dependency_faults_parse() {
    let scenario = good(LINK_FAULTS);
    let faults: Vec<&ChaosFault> = scenario.chaos.iter().map(|s| &s.fault).collect();
    assert_eq!(
        faults[0],
        &ChaosFault::Link {
            link: "restaurant->postgres".into(),
            toxic: ToxicSpec {
                toxic: "latency".into(),
                stream: Streams::Downstream,
                toxicity: 1.0,
                attributes: attributes(&[("latency", 200), ("jitter", 100)]),
            }
        }
    );
    assert_eq!(
        faults[1],
        &ChaosFault::Link {
            link: "order->user".into(),
            toxic: ToxicSpec {
                toxic: "bandwidth".into(),
                stream: Streams::Both,
                toxicity: 0.5,
                attributes: attributes(&[("rate", 32)]),
            }
        }
    );
    assert_eq!(
        faults[1].to_string(),
        "bandwidth 32 KB/s both ways (50% of connections) on order->user"
    );
    assert!(
        matches!(faults[2], ChaosFault::Link { toxic, .. } if toxic.stream == Streams::Upstream && toxic.attributes.is_empty())
    );
    assert_eq!(
        faults[3],
        &ChaosFault::Partition {
            link: "order->restaurant".into()
        }
    );
    assert_eq!(
        faults[4],
        &ChaosFault::DependencyDown {
            dependency: Dependency::Redis,
            service: None
        }
    );
    assert_eq!(
        faults[4].links(),
        ["user->redis", "restaurant->redis", "order->redis"]
    );
    assert_eq!(faults[5].target(), "restaurant->postgres");
    assert_eq!(faults[5].kind(), "dependency_down");
}

#[test]
fn switches_still_parse_beside_the_new_kinds() {
    let scenario = good(
        r#"[[faults]]
at = "0s"
service = "restaurant"
fault = "inventory_delay"
delay_ms = 150

[[faults]]
at = "5s"
fault = "kill"
service = "order"
duration = "2s"

[[faults]]
at = "20s"
service = "restaurant"
fault = "clear"
"#,
    );
    assert_eq!(scenario.faults.len(), 2);
    assert_eq!(
        scenario.faults[0].fault,
        Fault::InventoryDelay { delay_ms: 150 }
    );
    assert_eq!(scenario.faults[1].fault, Fault::Clear);
    assert_eq!(scenario.chaos.len(), 1);
    assert!(scenario.needs_chaos());
}

#[test]
fn unknown_names_are_refused_with_the_line() {
    let second = FIRST_FAULT_LINE + 6;
    refused(
        "[[faults]]\nfault = \"kill\"\nservice = \"payment\"\nduration = \"2s\"\n",
        FIRST_FAULT_LINE,
        &["unknown service \"payment\"", "user, restaurant or order"],
    );
    refused(
        "[[faults]]\nat = \"1s\"\nfault = \"partition\"\nlink = \"order->user\"\nduration = \"2s\"\n\n[[faults]]\nfault = \"partition\"\nlink = \"restaurant->order\"\nduration = \"2s\"\n",
        second,
        &["unknown link \"restaurant->order\"", "order->restaurant"],
    );
    refused(
        "[[faults]]\nfault = \"link\"\nlink = \"order->user\"\ntoxic = \"jitter\"\nduration = \"2s\"\n",
        FIRST_FAULT_LINE,
        &["unknown toxic \"jitter\"", "latency, bandwidth"],
    );
    refused(
        "[[faults]]\nfault = \"link\"\nlink = \"order->user\"\ntoxic = \"latency\"\nattributes = { latency = 10, rate = 5 }\nduration = \"2s\"\n",
        FIRST_FAULT_LINE,
        &["no attribute \"rate\"", "latency, jitter"],
    );
    refused(
        "[[faults]]\nfault = \"link\"\nlink = \"order->user\"\ntoxic = \"latency\"\nstream = \"sideways\"\nattributes = { latency = 10 }\nduration = \"2s\"\n",
        FIRST_FAULT_LINE,
        &["unknown stream \"sideways\""],
    );
    refused(
        "[[faults]]\nfault = \"dependency_down\"\ndependency = \"mysql\"\nduration = \"2s\"\n",
        FIRST_FAULT_LINE,
        &["unknown dependency \"mysql\"", "postgres or redis"],
    );
    refused(
        "[[faults]]\nfault = \"dependency_down\"\ndependency = \"redis\"\nservice = \"gateway\"\nduration = \"2s\"\n",
        FIRST_FAULT_LINE,
        &["unknown service \"gateway\"", "or all"],
    );
    refused(
        "[[faults]]\nfault = \"explode\"\nservice = \"order\"\n",
        FIRST_FAULT_LINE,
        &["unknown fault \"explode\"", "kill", "dependency_down"],
    );
}

#[test]
fn missing_fields_are_named() {
    for (faults, words) in [
        (
            "[[faults]]\nfault = \"kill\"\nduration = \"2s\"\n",
            &["\"kill\" needs service"][..],
        ),
        (
            "[[faults]]\nfault = \"kill\"\nservice = \"order\"\n",
            &["\"kill\" needs duration"][..],
        ),
        (
            "[[faults]]\nfault = \"partition\"\nlink = \"order->user\"\n",
            &["\"partition\" needs duration"][..],
        ),
        (
            "[[faults]]\nfault = \"partition\"\nduration = \"2s\"\n",
            &["\"partition\" needs link", "order->restaurant"][..],
        ),
        (
            "[[faults]]\nfault = \"link\"\nlink = \"order->user\"\nduration = \"2s\"\n",
            &["\"link\" needs toxic"][..],
        ),
        (
            "[[faults]]\nfault = \"link\"\nlink = \"order->user\"\ntoxic = \"latency\"\nduration = \"2s\"\n",
            &["needs attributes.latency"][..],
        ),
        (
            "[[faults]]\nfault = \"link\"\nlink = \"order->user\"\ntoxic = \"bandwidth\"\nduration = \"2s\"\n",
            &["needs attributes.rate"][..],
        ),
        (
            "[[faults]]\nfault = \"dependency_down\"\nduration = \"2s\"\n",
            &["needs dependency"][..],
        ),
        (
            "[[faults]]\nfault = \"delay\"\ndelay_ms = 100\n",
            &["\"delay\" needs service"][..],
        ),
    ] {
        refused(faults, FIRST_FAULT_LINE, words);
    }
}

#[test]
fn negative_zero_absurd_and_overlong_durations_are_refused() {
    let kill = |duration: &str, at: &str| {
        format!(
            "[[faults]]\nat = \"{at}\"\nfault = \"kill\"\nservice = \"order\"\nduration = \"{duration}\"\n"
        )
    };
    refused(
        &kill("-2s", "1s"),
        FIRST_FAULT_LINE,
        &["faults.duration", "-2s"],
    );
    refused(&kill("0s", "1s"), FIRST_FAULT_LINE, &["more than 0s"]);
    refused(&kill("2h", "1s"), FIRST_FAULT_LINE, &["longer than the 1h"]);
    refused(
        &kill("31s", "0s"),
        FIRST_FAULT_LINE,
        &["ends after the run"],
    );
    refused(
        &kill("10s", "25s"),
        FIRST_FAULT_LINE,
        &["ends after the run", "30s"],
    );
    refused(&kill("2s", "-1s"), FIRST_FAULT_LINE, &["faults.at"]);
    refused(
        &kill("2s", "40s"),
        FIRST_FAULT_LINE,
        &["not within the run"],
    );
    refused(
        "[[faults]]\nfault = \"link\"\nlink = \"order->user\"\ntoxic = \"latency\"\nattributes = { latency = -5 }\nduration = \"2s\"\n",
        FIRST_FAULT_LINE,
        &["latency = -5 is out of range"],
    );
    refused(
        "[[faults]]\nfault = \"link\"\nlink = \"order->user\"\ntoxic = \"latency\"\nattributes = { latency = 7200000 }\nduration = \"2s\"\n",
        FIRST_FAULT_LINE,
        &["out of range"],
    );
    refused(
        "[[faults]]\nfault = \"link\"\nlink = \"order->user\"\ntoxic = \"latency\"\ntoxicity = 1.5\nattributes = { latency = 5 }\nduration = \"2s\"\n",
        FIRST_FAULT_LINE,
        &["faults.toxicity"],
    );
    refused(
        "[[faults]]\nfault = \"restart\"\nservice = \"order\"\nduration = \"2s\"\n",
        FIRST_FAULT_LINE,
        &["one action and takes no duration"],
    );
}

#[test]
fn fields_of_another_kind_are_refused() {
    refused(
        "[[faults]]\nfault = \"kill\"\nservice = \"order\"\nlink = \"order->user\"\nduration = \"2s\"\n",
        FIRST_FAULT_LINE,
        &["\"kill\" takes no `link`"],
    );
    refused(
        "[[faults]]\nfault = \"partition\"\nservice = \"order\"\nlink = \"order->user\"\nduration = \"2s\"\n",
        FIRST_FAULT_LINE,
        &["\"partition\" takes no `service`"],
    );
    refused(
        "[[faults]]\nservice = \"user\"\nfault = \"delay\"\ndelay_ms = 100\nduration = \"2s\"\n",
        FIRST_FAULT_LINE,
        &["switch \"delay\" takes no `duration`", "clear"],
    );
    // A field no kind has is refused by the table's schema, on its own line.
    let error = bad("[[faults]]\nfault = \"kill\"\nservice = \"order\"\nduraton = \"2s\"\n");
    assert_eq!(error.line, FIRST_FAULT_LINE + 3, "{error}");
    assert!(error.message.contains("duraton"), "{error}");
}

#[test]
fn overlapping_and_unmatched_steps_are_refused() {
    refused(
        "[[faults]]\nat = \"5s\"\nfault = \"kill\"\nservice = \"order\"\nduration = \"5s\"\n\n[[faults]]\nat = \"7s\"\nfault = \"pause\"\nservice = \"order\"\nduration = \"1s\"\n",
        FIRST_FAULT_LINE + 6,
        &["overlaps the fault on order at line 13"],
    );
    refused(
        "[[faults]]\nat = \"5s\"\nfault = \"resume\"\nservice = \"user\"\n",
        FIRST_FAULT_LINE,
        &["\"resume\" of user without an earlier \"pause\""],
    );
    refused(
        "[[faults]]\nat = \"5s\"\nfault = \"pause\"\nservice = \"user\"\n",
        FIRST_FAULT_LINE,
        &["no duration and no later \"resume\""],
    );
    refused(
        "[[faults]]\nat = \"5s\"\nfault = \"dependency_down\"\ndependency = \"redis\"\nduration = \"5s\"\n\n[[faults]]\nat = \"6s\"\nfault = \"partition\"\nlink = \"order->redis\"\nduration = \"1s\"\n",
        FIRST_FAULT_LINE + 6,
        &["overlaps the outage of order->redis at line 13"],
    );
    // One after the other is fine.
    let scenario = good(
        "[[faults]]\nat = \"5s\"\nfault = \"kill\"\nservice = \"order\"\nduration = \"2s\"\n\n[[faults]]\nat = \"7s\"\nfault = \"pause\"\nservice = \"order\"\nduration = \"1s\"\n",
    );
    assert_eq!(scenario.chaos.len(), 2);
}

#[test]
fn short_mode_keeps_durations_and_ends_faults_within_the_run() {
    let scenario = good(
        "[[faults]]\nat = \"12s\"\nfault = \"kill\"\nservice = \"order\"\nduration = \"2s\"\n\n[[faults]]\nat = \"20s\"\nfault = \"partition\"\nlink = \"order->restaurant\"\nduration = \"10s\"\n",
    );
    let scaled = scenario.scaled_chaos(Duration::from_secs(15));
    assert_eq!(scaled[0].at, Duration::from_secs(6), "at scaled by 15/30");
    assert_eq!(scaled[0].duration, Some(Duration::from_secs(2)), "kept");
    // 20 s → 10 s, but 10 s more would end at 20 s: it starts at 5 s to end with the run.
    assert_eq!(scaled[1].at, Duration::from_secs(5));
    assert_eq!(scaled[1].end(), Some(Duration::from_secs(15)));
}

#[test]
fn the_six_chaos_scenarios_parse_and_assert_the_books() {
    for name in [
        "order-crash",
        "restaurant-freeze",
        "redis-outage",
        "db-brownout",
        "partition",
        "slow-network",
    ] {
        let scenario = loadgen::scenario::resolve(name).expect(name);
        assert!(scenario.needs_chaos(), "{name}");
        assert!(
            scenario.description.contains("--processes --fault-proxy"),
            "{name} says what it needs"
        );
        let kinds: Vec<String> = scenario
            .assertions
            .iter()
            .map(|a| serde_json::to_value(&a.rule).expect("rule")["kind"].to_string())
            .collect();
        for kind in ["no_drift", "client_agrees", "none_pending", "recovery"] {
            assert!(
                kinds.iter().any(|k| k.trim_matches('"') == kind),
                "{name} asserts {kind}: {kinds:?}"
            );
        }
        // In short mode every fault ends before the recovery window begins.
        let (_, run_time, _) = scenario.effective_load(true);
        let window = scenario
            .scaled_assertions(run_time)
            .iter()
            .find_map(|a| match a.rule {
                loadgen::scenario::Rule::Recovery { window, .. } => Some(window),
                _ => None,
            })
            .expect("recovery window");
        for step in scenario.scaled_chaos(run_time) {
            let end = step.end().unwrap_or(step.at);
            assert!(
                end + Duration::from_millis(400) <= run_time - window,
                "{name}: {} ends at {end:?}, the recovery window starts at {:?}",
                step.label(),
                run_time - window
            );
        }
    }
}
