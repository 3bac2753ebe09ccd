//! Parsing a scenario file and checking it part by part — name, `[load]`, `[[menus]]`,
//! `[[faults]]` (see `faults`), `[[workflows]]`, `[[assertions]]` (see `rules`) and
//! `[compare]` — in the order the file reads, each message naming file and line.

use std::time::Duration;

use toml::Spanned;

use super::faults::check_faults;
use super::model::{
    CompareThresholds, Load, MenuSetup, Scenario, Workflow, WorkflowKind, parse_percent,
};
use super::raw::{
    Locator, RawCompare, RawLoad, RawMenu, RawScenario, RawShort, RawWorkflow, ScenarioError,
};
use super::rules::check_assertions;

/// Parses and checks a scenario. `file` names it in messages.
pub fn parse_scenario(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let at = Locator { file, text };
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        at.error(span, e.message().trim().to_string())
    })?;
    let name = check_name(&at, &raw.name)?;
    let load = check_load(&at, raw.load)?;
    let menus = check_menus(&at, &raw.menus)?;
    let (faults, chaos) = check_faults(&at, &raw.faults, load.run_time)?;
    let workflows = check_workflows(&at, raw.workflows, &menus)?;
    let assertions = check_assertions(&at, &raw.assertions, (&faults, &chaos), load.run_time)?;
    Ok(Scenario {
        name,
        description: raw.description.trim().to_string(),
        tests: raw.tests.trim().to_string(),
        source: file.to_string(),
        load,
        menus,
        faults,
        chaos,
        workflows,
        assertions,
        compare: check_compare(&at, &raw.compare)?,
    })
}

fn check_name(at: &Locator<'_>, raw: &Spanned<String>) -> Result<String, ScenarioError> {
    let name = raw.get_ref().trim().to_string();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(at.error(
            raw.span(),
            "name: expected lowercase letters, digits and dashes, e.g. \"cache-effect\"",
        ));
    }
    Ok(name)
}

/// `[load]`: the run time, users and rates, think time, timeouts and the short mode.
fn check_load(at: &Locator<'_>, raw: Spanned<RawLoad>) -> Result<Load, ScenarioError> {
    let load_span = raw.span();
    let load = raw.into_inner();
    let run_time = at.duration(load.run_time.get_ref(), load.run_time.span(), "run_time")?;
    if run_time < Duration::from_secs(1) {
        return Err(at.error(load.run_time.span(), "run_time: expected at least 1s"));
    }
    if load.users == 0 {
        return Err(at.error(load_span.clone(), "load.users: expected at least 1"));
    }
    let hatch_rate = load.hatch_rate.unwrap_or(load.users as f64);
    if hatch_rate <= 0.0 {
        return Err(at.error(
            load_span.clone(),
            "load.hatch_rate: expected a positive number",
        ));
    }
    if load.rate.is_some_and(|rate| rate <= 0.0) {
        return Err(at.error(load_span.clone(), "load.rate: expected a positive number"));
    }
    let (think_min, think_max) = check_think_time(at, &load.think_time, &load_span)?;
    let request_timeout = at.optional_duration(
        &load.request_timeout,
        "request_timeout",
        Duration::from_secs(10),
    )?;
    let consistency_every = at.optional_duration(
        &load.consistency_every,
        "consistency_every",
        Duration::from_secs(2),
    )?;
    let settle = at.optional_duration(&load.settle, "settle", Duration::from_secs(5))?;
    let short = load.short.unwrap_or(RawShort {
        users: None,
        run_time: None,
        rate: None,
    });
    let short_run_time = check_short_run_time(at, &short, &load_span, run_time)?;
    if load.max_in_flight == Some(0) {
        return Err(at.error(
            load_span,
            "load.max_in_flight: at least 1 iteration must be allowed to run",
        ));
    }
    Ok(Load {
        users: load.users,
        hatch_rate,
        run_time,
        rate: load.rate,
        think_min,
        think_max,
        request_timeout,
        consistency_every,
        settle,
        short_users: short.users.unwrap_or(load.users).max(1),
        short_run_time,
        short_rate: short.rate,
        max_in_flight: load.max_in_flight,
    })
}

/// `think_time`: `"low..high"` or one fixed span; none without it.
fn check_think_time(
    at: &Locator<'_>,
    raw: &Option<Spanned<String>>,
    load_span: &std::ops::Range<usize>,
) -> Result<(Duration, Duration), ScenarioError> {
    let (low, high) = match raw {
        None => (Duration::ZERO, Duration::ZERO),
        Some(spanned) => {
            let text = spanned.get_ref();
            match text.split_once("..") {
                Some((low, high)) => (
                    at.duration(low, spanned.span(), "think_time")?,
                    at.duration(high, spanned.span(), "think_time")?,
                ),
                None => {
                    let fixed = at.duration(text, spanned.span(), "think_time")?;
                    (fixed, fixed)
                }
            }
        }
    };
    if low > high {
        return Err(at.error(
            raw.as_ref().map_or(load_span.clone(), |t| t.span()),
            "think_time: expected \"low..high\" with low ≤ high",
        ));
    }
    Ok((low, high))
}

/// `[load.short]`'s run time: at most 15 s unless given, never more than 20 s.
fn check_short_run_time(
    at: &Locator<'_>,
    short: &RawShort,
    load_span: &std::ops::Range<usize>,
    run_time: Duration,
) -> Result<Duration, ScenarioError> {
    let short_run_time = at.optional_duration(
        &short.run_time,
        "short.run_time",
        run_time.min(Duration::from_secs(15)),
    )?;
    if short_run_time > Duration::from_secs(20) {
        return Err(at.error(
            short
                .run_time
                .as_ref()
                .map_or(load_span.clone(), |t| t.span()),
            "short.run_time: the short mode runs at most 20s",
        ));
    }
    Ok(short_run_time)
}

/// `[[menus]]`: unique keys, no negative stock or price.
fn check_menus(
    at: &Locator<'_>,
    raw: &[Spanned<RawMenu>],
) -> Result<Vec<MenuSetup>, ScenarioError> {
    let mut menus: Vec<MenuSetup> = Vec::new();
    for spanned in raw {
        let menu = spanned.get_ref();
        if menus.iter().any(|known| known.key == menu.key) {
            return Err(at.error(
                spanned.span(),
                format!("menus: the key \"{}\" is used twice", menu.key),
            ));
        }
        if menu.stock < 0 || menu.price < 0 {
            return Err(at.error(spanned.span(), "menus: expected stock ≥ 0 and price ≥ 0"));
        }
        menus.push(MenuSetup {
            key: menu.key.clone(),
            name: menu.name.clone().unwrap_or_else(|| menu.key.clone()),
            price: menu.price,
            stock: menu.stock,
        });
    }
    Ok(menus)
}

/// The menu keys, for messages.
fn known_keys(menus: &[MenuSetup]) -> String {
    let mut list: Vec<&str> = menus.iter().map(|m| m.key.as_str()).collect();
    list.sort_unstable();
    if list.is_empty() {
        "(no [[menus]] defined)".to_string()
    } else {
        list.join(", ")
    }
}

/// `[[workflows]]`: at least one, each checked against the menus.
fn check_workflows(
    at: &Locator<'_>,
    raw: Spanned<Vec<Spanned<RawWorkflow>>>,
    menus: &[MenuSetup],
) -> Result<Vec<Workflow>, ScenarioError> {
    let span = raw.span();
    let raw = raw.into_inner();
    if raw.is_empty() {
        return Err(at.error(span, "workflows: expected at least one [[workflows]]"));
    }
    raw.iter()
        .map(|spanned| check_workflow(at, spanned, menus))
        .collect()
}

fn check_workflow(
    at: &Locator<'_>,
    spanned: &Spanned<RawWorkflow>,
    menus: &[MenuSetup],
) -> Result<Workflow, ScenarioError> {
    let raw = spanned.get_ref();
    let error = |message: String| at.error(spanned.span(), message);
    let kind: WorkflowKind = serde_json::from_value(serde_json::Value::String(raw.kind.clone()))
        .map_err(|_| {
            error(format!(
                "workflows: unknown kind \"{}\"; expected one of: {}",
                raw.kind,
                WorkflowKind::NAMES
            ))
        })?;
    if raw.weight == 0 {
        return Err(error("workflows: weight must be at least 1".into()));
    }
    if kind.needs_menus() && raw.menus.is_empty() {
        return Err(error(format!(
            "workflows: kind \"{}\" needs `menus = [...]`; expected keys from: {}",
            raw.kind,
            known_keys(menus)
        )));
    }
    if let Some(key) = raw
        .menus
        .iter()
        .find(|key| !menus.iter().any(|menu| &menu.key == *key))
    {
        return Err(error(format!(
            "workflows: unknown menu \"{key}\"; expected one of: {}",
            known_keys(menus)
        )));
    }
    if raw.quantity == 0 {
        return Err(error("workflows: quantity must be at least 1".into()));
    }
    let read_pause = match &raw.read_pause {
        Some(text) => at.duration(text, spanned.span(), "read_pause")?,
        None => Duration::ZERO,
    };
    Ok(Workflow {
        kind,
        weight: raw.weight,
        menus: raw.menus.clone(),
        quantity: raw.quantity,
        reads: raw.reads,
        read_pause,
    })
}

/// `[compare]`: shares as percentages, the noise floor as a span.
fn check_compare(
    at: &Locator<'_>,
    raw: &Option<Spanned<RawCompare>>,
) -> Result<CompareThresholds, ScenarioError> {
    let Some(raw) = raw else {
        return Ok(CompareThresholds::default());
    };
    let span = raw.span();
    let raw = raw.get_ref();
    let share = |value: &Option<String>, field: &str| {
        value
            .as_deref()
            .map(|text| {
                parse_percent(text)
                    .map_err(|e| at.error(span.clone(), format!("compare.{field}: {e}")))
            })
            .transpose()
    };
    Ok(CompareThresholds {
        p50_regression: share(&raw.p50_regression, "p50_regression")?,
        p95_regression: share(&raw.p95_regression, "p95_regression")?,
        p99_regression: share(&raw.p99_regression, "p99_regression")?,
        throughput_drop: share(&raw.throughput_drop, "throughput_drop")?,
        error_rate_increase: share(&raw.error_rate_increase, "error_rate_increase")?,
        min_samples: raw.min_samples,
        min_change: raw
            .min_change
            .as_deref()
            .map(|text| at.duration(text, span.clone(), "compare.min_change"))
            .transpose()?,
    })
}
