//! Bodies of the operational routes every service serves: `/health`, `/ready`, and the
//! fault switches under `/chaos`, with the names of each service's own switches.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `GET /health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"status": "ok", "service": "user"}))]
pub struct Health {
    pub status: String,
    pub service: String,
}

/// `GET /ready`, with 200 or 503.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"status": "ready", "service": "order", "database": "ok", "cache": "ok", "cache_backend": "redis"}))]
pub struct Readiness {
    /// `ready` or `not_ready`.
    pub status: String,
    pub service: String,
    /// `ok` or the error.
    pub database: String,
    /// `ok` or the error.
    pub cache: String,
    /// `redis` or `memory`.
    pub cache_backend: String,
}

/// What `GET /chaos` (and every change under `/chaos`) answers: one service's fault
/// settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"service": "order", "delay_ms": 0, "error_enabled": false,
    "error_percent": 50, "switches": {"payment_fail": {"fail_percent": 30}}}))]
pub struct ChaosSnapshot {
    pub service: String,
    /// Delay added to every API call, in milliseconds.
    pub delay_ms: u64,
    /// Whether random 500s are on.
    pub error_enabled: bool,
    /// Probability of a 500 when they are on, in percent.
    pub error_percent: u64,
    /// The service's own switches: name → {field: value}.
    #[schema(value_type = Object)]
    pub switches: BTreeMap<String, BTreeMap<String, u64>>,
}

impl ChaosSnapshot {
    /// The active faults in a few words, e.g. `delay 2000ms, payment_fail fail_percent=30`,
    /// or `none`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.delay_ms > 0 {
            parts.push(format!("delay {}ms", self.delay_ms));
        }
        if self.error_enabled {
            parts.push(format!("500s {}%", self.error_percent));
        }
        for (switch, fields) in &self.switches {
            if fields.values().any(|value| *value != 0) {
                let fields: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                parts.push(format!("{switch} {}", fields.join(" ")));
            }
        }
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(", ")
        }
    }
}

/// `POST /chaos/delay`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"delay_ms": 1500}))]
pub struct DelayRequest {
    /// Milliseconds added to every API call (0 turns the delay off; at most 600000).
    pub delay_ms: i64,
}

/// `POST /chaos/error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"enable": true, "percent": 50}))]
pub struct ErrorRequest {
    /// Turn random 500s on or off.
    pub enable: bool,
    /// Probability of a 500 per call, in percent (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<i64>,
}

/// A service's own fault switch: `POST /chaos/{name}` with `{"{field}": n}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwitchName {
    pub name: &'static str,
    /// The JSON field that carries the value.
    pub field: &'static str,
}

/// The Order Service's switch: the simulated payment fails with this probability.
pub const PAYMENT_FAIL: SwitchName = SwitchName {
    name: "payment_fail",
    field: "fail_percent",
};

/// The Restaurant Service's switch: stock updates wait this long while holding the row lock.
pub const INVENTORY_DELAY: SwitchName = SwitchName {
    name: "inventory_delay",
    field: "delay_ms",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_only_active_faults() {
        let state: ChaosSnapshot = serde_json::from_value(serde_json::json!({
            "service": "order", "delay_ms": 0, "error_enabled": false, "error_percent": 50,
            "switches": {"payment_fail": {"fail_percent": 30}}
        }))
        .expect("parses");
        assert_eq!(state.describe(), "payment_fail fail_percent=30");
        assert_eq!(ChaosSnapshot::default().describe(), "none");
    }

    #[test]
    fn an_absent_error_percent_is_not_sent() {
        let body = ErrorRequest {
            enable: true,
            percent: None,
        };
        assert_eq!(
            serde_json::to_value(&body).expect("serialises"),
            serde_json::json!({"enable": true})
        );
    }
}
