//! `[[assertions]]`: at least one; each table's `kind` and the fields that kind needs,
//! checked into a [`Rule`]; and every `recovered_within` held against the scenario's fault
//! windows (it must judge at least one).

use std::time::Duration;

use toml::Spanned;

use super::model::{Assertion, RecoveryMeasure, Rule};
use super::raw::{Locator, RawAssertion, ScenarioError, Table};
use crate::chaos::ChaosStep;
use crate::duration::format_duration;
use crate::fault_window;
use crate::service::ENDPOINTS;
use crate::switch::FaultStep;

/// The longest `within` a `recovered_within` assertion may ask for.
const LONGEST_RECOVERY: Duration = Duration::from_secs(600);

/// Every assertion, with its line; refused when there is none.
pub(super) fn check_assertions(
    at: &Locator<'_>,
    raw: &[Spanned<RawAssertion>],
    faults: (&[FaultStep], &[ChaosStep]),
    run_time: Duration,
) -> Result<Vec<Assertion>, ScenarioError> {
    if raw.is_empty() {
        let end = at.text.len();
        return Err(at.error(
            end..end,
            "no [[assertions]]: a run of this scenario could neither pass nor fail; add at \
             least one, e.g. [[assertions]] kind = \"no_drift\" (see scenarios/README.md)",
        ));
    }
    let mut assertions = Vec::new();
    for spanned in raw {
        let table = Table::of(at, spanned);
        assertions.push(Assertion {
            line: table.line(),
            rule: table.rule()?,
        });
    }
    check_recovery_filters(at, raw, &assertions, faults, run_time)?;
    Ok(assertions)
}

/// An `[[assertions]]` table.
impl Table<'_, RawAssertion> {
    fn missing(&self, field: &str) -> ScenarioError {
        self.error(format!("assertions: \"{}\" needs `{field}`", self.raw.kind))
    }

    /// `endpoint`: one the load generator times, or `*` (the default unless `required`).
    fn endpoint(&self, required: bool) -> Result<String, ScenarioError> {
        match &self.raw.endpoint {
            None if required => Err(self.missing("endpoint")),
            None => Ok("*".to_string()),
            Some(name) if name == "*" || ENDPOINTS.contains(&name.as_str()) => Ok(name.clone()),
            Some(name) => Err(self.error(format!(
                "assertions: unknown endpoint \"{name}\"; expected \"*\" or one of: {}",
                ENDPOINTS.join(", ")
            ))),
        }
    }

    /// A time span the kind needs.
    fn required_duration(
        &self,
        value: &Option<String>,
        field: &str,
    ) -> Result<Duration, ScenarioError> {
        let text = value.as_ref().ok_or_else(|| self.missing(field))?;
        self.duration(text, &format!("assertions.{field}"))
    }

    /// A share between 0 and 1.
    fn share(&self, value: Option<f64>, field: &str) -> Result<f64, ScenarioError> {
        let value = value.ok_or_else(|| self.missing(field))?;
        if !(0.0..=1.0).contains(&value) {
            return Err(self.error(format!(
                "assertions.{field}: expected a share between 0 and 1 (e.g. 0.05 for 5%)"
            )));
        }
        Ok(value)
    }

    fn rule(&self) -> Result<Rule, ScenarioError> {
        let raw = self.raw;
        Ok(match raw.kind.as_str() {
            "no_drift" => Rule::NoDrift,
            "no_oversell" => Rule::NoOversell,
            "none_pending" => Rule::NonePending,
            "inventory_identity" => Rule::InventoryIdentity,
            "client_agrees" => Rule::ClientAgrees,
            "failed_share" => Rule::FailedShare {
                target: self.share(raw.target, "target")?,
                tolerance: self.share(raw.tolerance, "tolerance")?,
            },
            "latency" => self.latency()?,
            "error_rate" => Rule::ErrorRate {
                endpoint: self.endpoint(false)?,
                max_rate: self.share(raw.max_rate, "max_rate")?,
            },
            "min_requests" => Rule::MinRequests {
                endpoint: self.endpoint(false)?,
                min: raw.min.ok_or_else(|| self.missing("min"))?,
            },
            "cache_hit_faster" => Rule::CacheHitFaster {
                endpoint: self.endpoint(true)?,
                min_misses: raw.min_misses.unwrap_or(1),
            },
            "recovery" => Rule::Recovery {
                window: self.required_duration(&raw.window, "window")?,
                max_rate: self.share(raw.max_rate, "max_rate")?,
                max_p95: self.required_duration(&raw.max_p95, "max_p95")?,
            },
            "dropped" => Rule::Dropped {
                max_rate: self.share(raw.max_rate.or(Some(0.0)), "max_rate")?,
            },
            "recovered_within" => self.recovered_within()?,
            other => {
                return Err(self.error(format!(
                    "assertions: unknown kind \"{other}\"; expected one of: no_drift, no_oversell, none_pending, inventory_identity, client_agrees, failed_share, latency, error_rate, min_requests, cache_hit_faster, recovery, dropped, recovered_within"
                )));
            }
        })
    }

    fn latency(&self) -> Result<Rule, ScenarioError> {
        let percentile = self
            .raw
            .percentile
            .ok_or_else(|| self.missing("percentile"))?;
        if !(0.0..=100.0).contains(&percentile) {
            return Err(self.error("assertions.percentile: expected 0..=100, e.g. 95 or 99.9"));
        }
        Ok(Rule::Latency {
            endpoint: self.endpoint(false)?,
            percentile,
            max: self.required_duration(&self.raw.max, "max")?,
        })
    }

    fn recovered_within(&self) -> Result<Rule, ScenarioError> {
        let raw = self.raw;
        let text = raw.within.as_ref().ok_or_else(|| {
            self.error("assertions: \"recovered_within\" needs `within`, e.g. within = \"2s\"")
        })?;
        let within = self.duration(text, "assertions.within")?;
        if within.is_zero() || within > LONGEST_RECOVERY {
            return Err(self.error(format!(
                "assertions.within: expected more than 0s and at most {}, got \"{text}\"",
                format_duration(LONGEST_RECOVERY)
            )));
        }
        let measure = match raw.measure.as_deref() {
            None => RecoveryMeasure::All,
            Some(name) => RecoveryMeasure::parse(name).ok_or_else(|| {
                self.error(format!(
                    "assertions.measure: unknown measure \"{name}\"; expected {}",
                    RecoveryMeasure::NAMES
                ))
            })?,
        };
        Ok(Rule::RecoveredWithin {
            within,
            measure,
            fault: raw.fault.clone(),
        })
    }
}

/// A `recovered_within` assertion must judge at least one of the scenario's fault windows.
fn check_recovery_filters(
    at: &Locator<'_>,
    raw: &[Spanned<RawAssertion>],
    assertions: &[Assertion],
    (faults, chaos): (&[FaultStep], &[ChaosStep]),
    run_time: Duration,
) -> Result<(), ScenarioError> {
    let windows = fault_window::planned_windows(faults, chaos, run_time.as_secs_f64());
    for (spanned, assertion) in raw.iter().zip(assertions) {
        let Rule::RecoveredWithin { fault, .. } = &assertion.rule else {
            continue;
        };
        if windows.is_empty() {
            return Err(at.error(
                spanned.span(),
                "assertions: \"recovered_within\" needs a fault to recover from; this scenario has no [[faults]] that turn one on",
            ));
        }
        if let Some(filter) = fault
            && !windows.iter().any(|w| w.matches(filter))
        {
            let mut known: Vec<String> = windows
                .iter()
                .flat_map(|w| [w.kind.clone(), w.target.clone()])
                .collect();
            known.sort();
            known.dedup();
            return Err(at.error(
                spanned.span(),
                format!(
                    "assertions.fault: no fault of this scenario is \"{filter}\"; expected a kind or target ({}) or kind:target",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}
