//! What the load generator talks to: the three services, by the names scenario files,
//! reports and the control API use, and the public endpoints it times on them, as reports
//! and assertions name them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Every endpoint the load generator times, as it names them in reports and assertions.
pub const ENDPOINTS: &[&str] = &[
    "POST /signup",
    "POST /login",
    "POST /validate",
    "GET /menus",
    "GET /menus/{id}",
    "POST /orders",
    "GET /orders/{id}",
    "POST /orders/{id}/cancel",
];

/// The services the load generator talks to.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    User,
    Restaurant,
    Order,
}

impl Service {
    pub const ALL: [Service; 3] = [Service::User, Service::Restaurant, Service::Order];

    pub fn name(self) -> &'static str {
        match self {
            Service::User => "user",
            Service::Restaurant => "restaurant",
            Service::Order => "order",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
