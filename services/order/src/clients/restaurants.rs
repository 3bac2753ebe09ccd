//! The Restaurant Service client: reserve stock for an order, restore it (retried with
//! backoff, which is safe because restoring is idempotent per order), menu prices.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use contract::{ReserveRequest, RestaurantClient, RestoreRequest};
use testbed_common::service_auth::ServiceKeys;

use super::{UpstreamError, upstream_error};

#[derive(Clone)]
pub struct RestaurantsClient {
    client: RestaurantClient,
    /// Signs every stock call: the Restaurant Service moves stock only for the Order Service.
    keys: ServiceKeys,
}

/// What a reservation answered.
pub struct Reserved {
    pub unit_price: i64,
}

/// Retries of one restore (after the first attempt) before the saga leaves it to its
/// background retries and the recovery loop: 100 ms, then 200 ms, with jitter so callers
/// that failed together do not retry together.
fn restore_backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_times(2)
        .with_jitter()
}

impl RestaurantsClient {
    pub fn new(http: reqwest::Client, base: &str, keys: ServiceKeys) -> Self {
        Self {
            client: RestaurantClient::with_http(http, base),
            keys,
        }
    }

    /// The service token for a stock call.
    fn token(&self) -> Result<String, UpstreamError> {
        self.keys
            .stock_token()
            .map_err(|e| UpstreamError::Unavailable {
                service: "restaurant",
                detail: format!("cannot sign the service token: {}", e.message),
            })
    }

    /// `PUT /inventory/{menu}`: takes stock for an order. Never retried here: a retry after
    /// a timeout is the compensation's job.
    pub async fn reserve(
        &self,
        menu_id: i64,
        quantity: i64,
        order_id: i64,
        request_id: Option<&str>,
    ) -> Result<Reserved, UpstreamError> {
        let reserve = ReserveRequest {
            quantity,
            order_id: Some(order_id),
        };
        let reservation = self
            .client
            .stock_caller(&self.token()?, request_id)
            .reserve(menu_id, &reserve)
            .await
            .map_err(|e| upstream_error("restaurant", e))?;
        Ok(Reserved {
            unit_price: reservation.unit_price,
        })
    }

    /// `POST /inventory/{menu}/restore`: gives back what the order reserved of the menu
    /// (possibly nothing), retried with backoff.
    pub async fn restore(
        &self,
        menu_id: i64,
        order_id: i64,
        request_id: Option<&str>,
    ) -> Result<(), UpstreamError> {
        let attempt = || async {
            let restore = RestoreRequest {
                order_id,
                quantity: None,
            };
            let restored = self
                .client
                .stock_caller(&self.token()?, request_id)
                .restore(menu_id, &restore)
                .await
                .map_err(|e| upstream_error("restaurant", e));
            match restored {
                // A menu that no longer exists has nothing to give back.
                Ok(_) | Err(UpstreamError::Refused { status: 404, .. }) => Ok(()),
                Err(e) => Err(e),
            }
        };
        attempt
            .retry(restore_backoff())
            // A refusal is an answer; only a timeout or an unreachable service is retried.
            .when(|e| !matches!(e, UpstreamError::Refused { .. }))
            .notify(|e, wait| {
                tracing::warn!(order_id, menu_id, error = %e, ?wait, "restore failed; retrying");
            })
            .await
    }
}
