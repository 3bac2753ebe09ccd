//! Fault injection: the switches every service has (a delay added to every API call, random
//! 500s), a registry for each service's own switches (inventory delay, payment failure),
//! the middleware that applies them, and the `/chaos` routes that set and show them.
//!
//! Delays are `tokio::time::sleep`, so a delayed request slows only itself (the original
//! implementation's blocking sleep stalled the whole service). Operational routes
//! (`/health`, `/ready`, `/metrics`, docs) and `/chaos` itself are never delayed or failed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

use contract::ChaosSnapshot;

use crate::error::ApiError;

/// Longest delay any switch accepts: ten minutes.
pub const MAX_DELAY_MS: u64 = 600_000;

/// One service-specific switch: a named integer setting with a range.
#[derive(Debug)]
pub struct Switch {
    /// Route name: `POST /chaos/{name}`.
    pub name: &'static str,
    /// The JSON field that carries the value, e.g. `delay_ms` or `fail_percent`.
    pub field: &'static str,
    /// Largest accepted value.
    pub max: u64,
    value: AtomicU64,
}

impl Switch {
    pub fn get(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }
    pub fn set(&self, value: u64) {
        self.value.store(value.min(self.max), Ordering::Relaxed);
    }
}

/// The fault settings of one service.
#[derive(Debug, Clone)]
pub struct Chaos {
    inner: Arc<ChaosInner>,
}

#[derive(Debug)]
struct ChaosInner {
    service: &'static str,
    delay_ms: AtomicU64,
    error_enabled: AtomicBool,
    error_percent: AtomicU64,
    switches: BTreeMap<&'static str, Arc<Switch>>,
}

/// Builder for a service's switch set.
pub struct ChaosBuilder {
    service: &'static str,
    switches: BTreeMap<&'static str, Arc<Switch>>,
}

impl ChaosBuilder {
    /// Adds a switch `POST /chaos/{name} {"{field}": n}` with `0 ≤ n ≤ max`.
    pub fn switch(mut self, name: &'static str, field: &'static str, max: u64) -> Self {
        self.switches.insert(
            name,
            Arc::new(Switch {
                name,
                field,
                max,
                value: AtomicU64::new(0),
            }),
        );
        self
    }

    pub fn build(self) -> Chaos {
        Chaos {
            inner: Arc::new(ChaosInner {
                service: self.service,
                delay_ms: AtomicU64::new(0),
                error_enabled: AtomicBool::new(false),
                error_percent: AtomicU64::new(50),
                switches: self.switches,
            }),
        }
    }
}

impl Chaos {
    pub fn builder(service: &'static str) -> ChaosBuilder {
        ChaosBuilder {
            service,
            switches: BTreeMap::new(),
        }
    }

    /// A registered switch. Panics only on a programming error (unregistered name).
    pub fn switch(&self, name: &str) -> Arc<Switch> {
        match self.inner.switches.get(name) {
            Some(switch) => switch.clone(),
            None => panic!("chaos switch `{name}` was never registered"),
        }
    }

    pub fn delay(&self) -> Duration {
        Duration::from_millis(self.inner.delay_ms.load(Ordering::Relaxed))
    }

    pub fn set_delay_ms(&self, ms: u64) {
        self.inner
            .delay_ms
            .store(ms.min(MAX_DELAY_MS), Ordering::Relaxed);
    }

    pub fn set_error(&self, enabled: bool, percent: u64) {
        self.inner
            .error_percent
            .store(percent.min(100), Ordering::Relaxed);
        self.inner.error_enabled.store(enabled, Ordering::Relaxed);
    }

    /// Whether this request should be answered with an injected 500.
    pub fn roll_error(&self) -> bool {
        if !self.inner.error_enabled.load(Ordering::Relaxed) {
            return false;
        }
        let percent = self.inner.error_percent.load(Ordering::Relaxed);
        rand::random_range(0..100u64) < percent
    }

    /// All faults off.
    pub fn reset(&self) {
        self.set_delay_ms(0);
        self.set_error(false, 50);
        for switch in self.inner.switches.values() {
            switch.set(0);
        }
    }

    pub fn snapshot(&self) -> ChaosSnapshot {
        ChaosSnapshot {
            service: self.inner.service.to_string(),
            delay_ms: self.inner.delay_ms.load(Ordering::Relaxed),
            error_enabled: self.inner.error_enabled.load(Ordering::Relaxed),
            error_percent: self.inner.error_percent.load(Ordering::Relaxed),
            switches: self
                .inner
                .switches
                .values()
                .map(|s| {
                    (
                        s.name.to_string(),
                        BTreeMap::from([(s.field.to_string(), s.get())]),
                    )
                })
                .collect(),
        }
    }

    /// Sets a service switch from a request body, validating field and range.
    pub fn set_switch_from_json(&self, name: &str, body: &Value) -> Result<(), ApiError> {
        let switch = self.inner.switches.get(name).ok_or_else(|| {
            ApiError::not_found(format!(
                "this service has no fault switch `{name}`; see GET /chaos for its switches"
            ))
        })?;
        let object = body
            .as_object()
            .ok_or_else(|| ApiError::validation("the body must be a JSON object"))?;
        if let Some(unknown) = object.keys().find(|k| k.as_str() != switch.field) {
            return Err(ApiError::validation(format!(
                "unknown field `{unknown}`; `{}` takes only `{}`",
                switch.name, switch.field
            )));
        }
        let value = object
            .get(switch.field)
            .ok_or_else(|| ApiError::validation(format!("missing field `{}`", switch.field)))?;
        let value = value.as_u64().filter(|v| *v <= switch.max).ok_or_else(|| {
            ApiError::validation(format!(
                "`{}` must be a whole number from 0 to {}",
                switch.field, switch.max
            ))
        })?;
        switch.set(value);
        tracing::warn!(switch = name, value, "fault switch set");
        Ok(())
    }
}

/// Labels of `testbed_fault_setting`: the switch (`delay`, `error` or the service's own) and
/// the field that carries its value.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FaultLabels {
    fault: String,
    field: String,
}

impl Chaos {
    /// Every setting as (switch, field, value); random errors count as 0 % while off.
    fn settings(&self) -> Vec<(String, String, u64)> {
        let snapshot = self.snapshot();
        let error_percent = if snapshot.error_enabled {
            snapshot.error_percent
        } else {
            0
        };
        let mut settings = vec![
            ("delay".into(), "delay_ms".into(), snapshot.delay_ms),
            ("error".into(), "percent".into(), error_percent),
        ];
        for (name, fields) in snapshot.switches {
            for (field, value) in fields {
                settings.push((name.clone(), field, value));
            }
        }
        settings
    }
}

/// The fault settings as metrics, read at every scrape: `testbed_fault_setting` (each value)
/// and `testbed_faults_active` (how many are on), so dashboards can mark fault periods.
impl Collector for Chaos {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let settings = self.settings();
        let values = Family::<FaultLabels, Gauge>::default();
        for (fault, field, value) in &settings {
            let labels = FaultLabels {
                fault: fault.clone(),
                field: field.clone(),
            };
            values
                .get_or_create(&labels)
                .set(i64::try_from(*value).unwrap_or(i64::MAX));
        }
        let setting = encoder.encode_descriptor(
            "fault_setting",
            "Fault injection settings in force, by switch and field (0: off)",
            None,
            values.metric_type(),
        )?;
        values.encode(setting)?;
        let active = Gauge::<i64>::default();
        active.set(settings.iter().filter(|(_, _, v)| *v > 0).count() as i64);
        let count = encoder.encode_descriptor(
            "faults_active",
            "Number of fault settings switched on",
            None,
            active.metric_type(),
        )?;
        active.encode(count)
    }
}

/// Paths the fault layer never touches.
pub fn is_exempt(path: &str) -> bool {
    path == "/health"
        || path == "/ready"
        || path == "/metrics"
        || path == "/openapi.json"
        || path.starts_with("/docs")
        || path.starts_with("/redoc")
        || path == "/chaos"
        || path.starts_with("/chaos/")
}

/// The middleware: delay, then maybe a 500 with a JSON body.
pub async fn inject_faults(State(chaos): State<Chaos>, request: Request, next: Next) -> Response {
    if is_exempt(request.uri().path()) {
        return next.run(request).await;
    }
    let delay = chaos.delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if chaos.roll_error() {
        return ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "injected_fault",
            "this 500 was injected by the fault switch POST /chaos/error",
        )
        .into_response();
    }
    next.run(request).await
}
