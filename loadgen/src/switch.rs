//! The services' fault switches as a scenario sets them (`POST /chaos/…` on each service):
//! what a switch is set to, and a switch step at a time into the run. Checking them in a
//! scenario file is the scenario parser's job; applying them is the API client's.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::service::Service;

/// One fault switch setting.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum Fault {
    /// Every API of the service slowed by this much (`POST /chaos/delay`).
    Delay { delay_ms: u64 },
    /// Every API answers 500 with this probability (`POST /chaos/error`); off when disabled.
    Error { enable: bool, percent: Option<u8> },
    /// Payment declined with this probability (Order Service).
    PaymentFail { percent: u8 },
    /// Inventory updates delayed while the row lock is held (Restaurant Service).
    InventoryDelay { delay_ms: u64 },
    /// All faults of the service off (`DELETE /chaos`).
    Clear,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Delay { delay_ms } => write!(f, "delay {delay_ms} ms"),
            Fault::Error {
                enable: true,
                percent,
            } => write!(f, "500 errors {}%", percent.unwrap_or(50)),
            Fault::Error { enable: false, .. } => write!(f, "500 errors off"),
            Fault::PaymentFail { percent } => write!(f, "payment fail {percent}%"),
            Fault::InventoryDelay { delay_ms } => write!(f, "inventory delay {delay_ms} ms"),
            Fault::Clear => write!(f, "all faults off"),
        }
    }
}

/// A fault applied to one service at a time into the run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FaultStep {
    pub at: Duration,
    pub service: Service,
    pub fault: Fault,
}
