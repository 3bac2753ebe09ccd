//! The Order Service client.

use reqwest::Method;

use super::{Answer, ClientError};
use crate::order::{CreateOrder, OrderStats, OrderView};

service_client! {
    /// Calls of the Order Service.
    OrderClient
}

impl OrderClient {
    /// `POST /orders`: the PAID order, or [`ClientError::Status`] whose body's details are
    /// a [`crate::FailedOrder`] when the order ended FAILED.
    pub async fn create_order(
        &self,
        token: &str,
        order: &CreateOrder,
    ) -> Result<OrderView, ClientError> {
        let request = self
            .request(Method::POST, "/orders")
            .bearer_auth(token)
            .json(order);
        self.body(request).await
    }

    /// `POST /orders` with an `Idempotency-Key`: 201 for a new order, 200 when the key's
    /// first order is answered again.
    pub async fn create_order_keyed(
        &self,
        token: &str,
        order: &CreateOrder,
        idempotency_key: &str,
    ) -> Result<Answer<OrderView>, ClientError> {
        let request = self
            .request(Method::POST, "/orders")
            .bearer_auth(token)
            .header("Idempotency-Key", idempotency_key)
            .json(order);
        self.call(request).await
    }

    /// `GET /orders/{id}` as its owner (cached; the answer's `X-Cache` says HIT or MISS).
    pub async fn order(&self, token: &str, id: i64) -> Result<Answer<OrderView>, ClientError> {
        let request = self
            .request(Method::GET, &format!("/orders/{id}"))
            .bearer_auth(token);
        self.call(request).await
    }

    /// `POST /orders/{id}/cancel`: PAID → CANCELLED (409 `not_cancellable` otherwise).
    pub async fn cancel_order(&self, token: &str, id: i64) -> Result<OrderView, ClientError> {
        let request = self
            .request(Method::POST, &format!("/orders/{id}/cancel"))
            .bearer_auth(token);
        self.body(request).await
    }

    /// `GET /orders/stats`: counts for stock reconciliation.
    pub async fn stats(&self) -> Result<OrderStats, ClientError> {
        self.body(self.request(Method::GET, "/orders/stats")).await
    }
}
