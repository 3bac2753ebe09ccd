//! The JSON error body every service answers with, as SPEC.md prescribes:
//! `{"error": "<machine code>", "message": "<human sentence>"}` plus optional details.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// The JSON error body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"error": "not_found", "message": "menu 42 does not exist"}))]
pub struct ErrorBody {
    /// Machine-readable code, e.g. `not_found`, `insufficient_stock`.
    pub error: String,
    /// A sentence for humans.
    pub message: String,
    /// Extra fields some errors carry (e.g. `available`, `order_id`).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub details: Map<String, Value>,
}

impl ErrorBody {
    /// One detail field, if present and of the expected shape.
    pub fn detail<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.details
            .get(key)
            .and_then(|value| T::deserialize(value).ok())
    }

    /// The details read as one typed struct (e.g. [`crate::FailedOrder`]), if they have its
    /// shape.
    pub fn details_as<T: DeserializeOwned>(&self) -> Option<T> {
        T::deserialize(Value::Object(self.details.clone())).ok()
    }
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}
