//! A scenario file as serde reads it (every table and field, spans kept so messages can
//! say where), and the [`Locator`] that turns those spans into the file, line and column of
//! a [`ScenarioError`]. serde reads a missing `Option` field as `None`, so only the other
//! fields that may be left out carry `#[serde(default)]`.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::duration::parse_duration;

/// A problem in a scenario file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    pub(super) name: Spanned<String>,
    pub(super) description: String,
    #[serde(default)]
    pub(super) tests: String,
    pub(super) load: Spanned<RawLoad>,
    #[serde(default)]
    pub(super) menus: Vec<Spanned<RawMenu>>,
    #[serde(default)]
    pub(super) faults: Vec<Spanned<RawFault>>,
    pub(super) workflows: Spanned<Vec<Spanned<RawWorkflow>>>,
    #[serde(default)]
    pub(super) assertions: Vec<Spanned<RawAssertion>>,
    pub(super) compare: Option<Spanned<RawCompare>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCompare {
    pub(super) p50_regression: Option<String>,
    pub(super) p95_regression: Option<String>,
    pub(super) p99_regression: Option<String>,
    pub(super) throughput_drop: Option<String>,
    pub(super) error_rate_increase: Option<String>,
    pub(super) min_samples: Option<u64>,
    pub(super) min_change: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLoad {
    pub(super) users: usize,
    pub(super) hatch_rate: Option<f64>,
    pub(super) run_time: Spanned<String>,
    pub(super) rate: Option<f64>,
    pub(super) think_time: Option<Spanned<String>>,
    pub(super) request_timeout: Option<Spanned<String>>,
    pub(super) consistency_every: Option<Spanned<String>>,
    pub(super) settle: Option<Spanned<String>>,
    pub(super) short: Option<RawShort>,
    pub(super) max_in_flight: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawShort {
    pub(super) users: Option<usize>,
    pub(super) run_time: Option<Spanned<String>>,
    pub(super) rate: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMenu {
    pub(super) key: String,
    pub(super) name: Option<String>,
    #[serde(default = "default_price")]
    pub(super) price: i64,
    pub(super) stock: i64,
}

fn default_price() -> i64 {
    9000
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFault {
    pub(super) at: Option<String>,
    pub(super) service: Option<String>,
    pub(super) fault: String,
    // Process, link and dependency faults (the chaos module checks them).
    pub(super) duration: Option<String>,
    pub(super) link: Option<String>,
    pub(super) toxic: Option<String>,
    pub(super) stream: Option<String>,
    pub(super) toxicity: Option<f64>,
    pub(super) attributes: Option<BTreeMap<String, i64>>,
    pub(super) dependency: Option<String>,
    pub(super) delay_ms: Option<u64>,
    pub(super) percent: Option<u8>,
    pub(super) enable: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWorkflow {
    pub(super) kind: String,
    #[serde(default = "one")]
    pub(super) weight: usize,
    #[serde(default)]
    pub(super) menus: Vec<String>,
    #[serde(default = "one_u32")]
    pub(super) quantity: u32,
    #[serde(default)]
    pub(super) reads: u32,
    pub(super) read_pause: Option<String>,
}

fn one() -> usize {
    1
}
fn one_u32() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAssertion {
    pub(super) kind: String,
    pub(super) endpoint: Option<String>,
    pub(super) percentile: Option<f64>,
    pub(super) max: Option<String>,
    pub(super) max_rate: Option<f64>,
    pub(super) target: Option<f64>,
    pub(super) tolerance: Option<f64>,
    pub(super) min: Option<u64>,
    pub(super) min_misses: Option<u64>,
    pub(super) window: Option<String>,
    pub(super) max_p95: Option<String>,
    pub(super) within: Option<String>,
    pub(super) measure: Option<String>,
    pub(super) fault: Option<String>,
}

/// One `[[…]]` table of the file and where it is: messages about it point at it.
pub(super) struct Table<'a, R> {
    pub(super) at: &'a Locator<'a>,
    pub(super) raw: &'a R,
    pub(super) span: Range<usize>,
}

impl<'a, R> Table<'a, R> {
    pub(super) fn of(at: &'a Locator<'a>, spanned: &'a Spanned<R>) -> Self {
        Self {
            at,
            raw: spanned.get_ref(),
            span: spanned.span(),
        }
    }

    pub(super) fn error(&self, message: impl Into<String>) -> ScenarioError {
        self.at.error(self.span.clone(), message)
    }

    /// The line the table starts on.
    pub(super) fn line(&self) -> usize {
        self.at.line_of(&self.span)
    }

    /// A time span of the table, `what` naming its field in messages.
    pub(super) fn duration(&self, text: &str, what: &str) -> Result<Duration, ScenarioError> {
        self.at.duration(text, self.span.clone(), what)
    }
}

/// Turns byte offsets into line and column for messages.
pub(super) struct Locator<'a> {
    pub(super) file: &'a str,
    pub(super) text: &'a str,
}

impl Locator<'_> {
    pub(super) fn error(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        let start = span.start.min(self.text.len());
        let before = &self.text[..start];
        let line = before.matches('\n').count() + 1;
        let column = before.rfind('\n').map_or(start, |nl| start - nl - 1) + 1;
        ScenarioError {
            file: self.file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    pub(super) fn line_of(&self, span: &Range<usize>) -> usize {
        self.error(span.clone(), "").line
    }

    pub(super) fn duration(
        &self,
        text: &str,
        span: Range<usize>,
        what: &str,
    ) -> Result<Duration, ScenarioError> {
        parse_duration(text).map_err(|e| self.error(span, format!("{what}: {e}")))
    }

    /// A time span the file may leave out: its value, else `default`.
    pub(super) fn optional_duration(
        &self,
        value: &Option<Spanned<String>>,
        what: &str,
        default: Duration,
    ) -> Result<Duration, ScenarioError> {
        value
            .as_ref()
            .map_or(Ok(default), |v| self.duration(v.get_ref(), v.span(), what))
    }
}
