//! The scenario parser's tests: a good file, and each kind of mistake refused with the line.

use std::time::Duration;

use super::catalogue::BUILT_IN;
use super::*;

const GOOD: &str = r#"
name = "tiny"
description = "A tiny scenario"

[load]
users = 4
run_time = "10s"
think_time = "10ms..50ms"

[[menus]]
key = "kimbap"
stock = 100

[[faults]]
at = "5s"
service = "order"
fault = "payment_fail"
percent = 30

[[workflows]]
kind = "order"
menus = ["kimbap"]
weight = 3

[[workflows]]
kind = "browse_menus"

[[assertions]]
kind = "no_drift"

[[assertions]]
kind = "latency"
endpoint = "POST /orders"
percentile = 95
max = "800ms"
"#;

#[test]
fn parses_a_good_file() {
    let scenario = parse_scenario("tiny.toml", GOOD).expect("parses");
    assert_eq!(scenario.name, "tiny");
    assert_eq!(scenario.load.users, 4);
    assert_eq!(scenario.load.run_time, Duration::from_secs(10));
    assert_eq!(scenario.load.think_max, Duration::from_millis(50));
    assert_eq!(scenario.menus[0].name, "kimbap");
    assert_eq!(scenario.faults[0].fault, Fault::PaymentFail { percent: 30 });
    assert_eq!(scenario.workflows[0].weight, 3);
    assert_eq!(scenario.assertions.len(), 2);
    assert_eq!(scenario.assertions[1].line, 31);
    assert_eq!(
        scenario.assertions[1].rule,
        Rule::Latency {
            endpoint: "POST /orders".into(),
            percentile: 95.0,
            max: Duration::from_millis(800)
        }
    );
    // Short mode defaults: same users, at most 15 s; fault times scale with the run.
    assert_eq!(scenario.effective_load(true).1, Duration::from_secs(10));
    assert_eq!(
        scenario.scaled_faults(Duration::from_secs(5))[0].at,
        Duration::from_millis(2500)
    );
}

fn error_of(text: &str) -> ScenarioError {
    parse_scenario("bad.toml", text).expect_err("should be refused")
}

#[test]
fn a_syntax_error_names_file_and_line() {
    let err = error_of("name = \"x\"\ndescription = \"d\"\n[load\nusers = 1\n");
    assert_eq!((err.file.as_str(), err.line), ("bad.toml", 3), "{err}");
}

#[test]
fn a_wrong_type_names_the_line() {
    let text = GOOD.replace("users = 4", "users = \"four\"");
    let err = error_of(&text);
    assert_eq!(err.line, 6, "{err}");
    assert!(err.message.contains("expected usize"), "{err}");
}

#[test]
fn an_unknown_field_is_refused() {
    let text = GOOD.replace("weight = 3", "wieght = 3");
    let err = error_of(&text);
    assert!(err.message.contains("wieght"), "{err}");
    assert_eq!(err.line, 23, "{err}");
}

#[test]
fn an_unknown_menu_key_lists_the_known_ones() {
    let text = GOOD.replace("menus = [\"kimbap\"]", "menus = [\"pizza\"]");
    let err = error_of(&text);
    assert_eq!(err.line, 20, "{err}");
    assert!(err.message.contains("unknown menu \"pizza\""), "{err}");
    assert!(err.message.contains("kimbap"), "{err}");
}

#[test]
fn a_bad_duration_and_bad_endpoint_are_explained() {
    let err = error_of(&GOOD.replace("\"800ms\"", "\"fast\""));
    assert!(err.message.contains("assertions.max"), "{err}");
    assert_eq!(err.line, 31);
    let err = error_of(&GOOD.replace("POST /orders\"", "POST /order\""));
    assert!(
        err.message.contains("unknown endpoint \"POST /order\""),
        "{err}"
    );
    let err = error_of(&GOOD.replace("run_time = \"10s\"", "run_time = \"10 parsecs\""));
    assert_eq!(err.line, 7, "{err}");
}

#[test]
fn a_fault_on_the_wrong_service_or_after_the_end_is_refused() {
    let err = error_of(&GOOD.replace("service = \"order\"", "service = \"user\""));
    assert!(
        err.message.contains("payment_fail is an order switch"),
        "{err}"
    );
    assert_eq!(err.line, 14);
    let err = error_of(&GOOD.replace("at = \"5s\"", "at = \"15s\""));
    assert!(err.message.contains("not within the run"), "{err}");
}

#[test]
fn a_share_out_of_range_is_refused() {
    let text = format!("{GOOD}\n[[assertions]]\nkind = \"error_rate\"\nmax_rate = 5\n");
    let err = error_of(&text);
    assert!(err.message.contains("between 0 and 1"), "{err}");
    assert_eq!(err.line, 37);
}

#[test]
fn a_scenario_without_assertions_is_refused() {
    let without = GOOD
        .split("[[assertions]]")
        .next()
        .expect("GOOD has a head");
    let err = error_of(without);
    assert!(err.message.contains("no [[assertions]]"), "{err}");
    assert!(err.message.contains("neither pass nor fail"), "{err}");
}

const RECOVERED: &str = "\n[[assertions]]\nkind = \"recovered_within\"\nwithin = \"2s\"\n";

#[test]
fn recovered_within_parses_with_its_defaults_measure_and_fault_filter() {
    let scenario = parse_scenario("tiny.toml", &format!("{GOOD}{RECOVERED}")).expect("parses");
    let last = scenario.assertions.last().expect("an assertion");
    assert_eq!(last.line, 37);
    assert_eq!(
        last.rule,
        Rule::RecoveredWithin {
            within: Duration::from_secs(2),
            measure: RecoveryMeasure::All,
            fault: None
        }
    );
    assert_eq!(
        last.rule.title(),
        "recovered (errors, p95, books) within 2s after every fault"
    );
    for (fault, measure) in [
        ("payment_fail", RecoveryMeasure::Books),
        ("order", RecoveryMeasure::Errors),
        ("payment_fail:order", RecoveryMeasure::P95),
    ] {
        let text = format!(
            "{GOOD}{RECOVERED}measure = \"{}\"\nfault = \"{fault}\"\n",
            measure.name()
        );
        let scenario = parse_scenario("tiny.toml", &text).expect("parses");
        assert_eq!(
            scenario.assertions.last().map(|a| a.rule.clone()),
            Some(Rule::RecoveredWithin {
                within: Duration::from_secs(2),
                measure,
                fault: Some(fault.to_string())
            })
        );
    }
}

#[test]
fn recovered_within_refuses_bad_spans_measures_and_faults_with_the_line() {
    let bad = |extra: &str| error_of(&format!("{GOOD}{RECOVERED}{extra}"));
    let err = error_of(&format!(
        "{GOOD}{}",
        RECOVERED.replace("within = \"2s\"\n", "")
    ));
    assert!(err.message.contains("needs `within`"), "{err}");
    assert_eq!(err.line, 37);
    for within in ["0s", "-1s", "2 fortnights", "11m"] {
        let err = error_of(&format!("{GOOD}{}", RECOVERED.replace("2s", within)));
        assert!(err.message.contains("assertions.within"), "{within}: {err}");
        assert_eq!(err.line, 37, "{err}");
    }
    let err = bad("measure = \"latency\"\n");
    assert!(
        err.message.contains("unknown measure \"latency\"")
            && err.message.contains("books, errors, p95 or all"),
        "{err}"
    );
    let err = bad("fault = \"kill\"\n");
    assert!(
        err.message
            .contains("no fault of this scenario is \"kill\"")
            && err.message.contains("order, payment_fail"),
        "{err}"
    );
    assert_eq!(err.line, 37);
    let err = bad("fault = \"delay:order\"\n");
    assert!(err.message.contains("\"delay:order\""), "{err}");
    let without_faults = GOOD.replace(
        "[[faults]]\nat = \"5s\"\nservice = \"order\"\nfault = \"payment_fail\"\npercent = 30\n",
        "",
    );
    let err = error_of(&format!("{without_faults}{RECOVERED}"));
    assert!(
        err.message.contains("needs a fault to recover from"),
        "{err}"
    );
    let err = bad("within_ms = 5\n");
    assert!(err.message.contains("within_ms"), "{err}");
}

#[test]
fn every_shipped_scenario_parses() {
    for (name, text) in BUILT_IN {
        let scenario = parse_scenario(name, text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&scenario.name, name);
        assert!(!scenario.assertions.is_empty(), "{name} has assertions");
        assert!(scenario.load.short_run_time <= Duration::from_secs(20));
    }
    assert_eq!(BUILT_IN.len(), 13);
}
