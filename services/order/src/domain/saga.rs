//! The order saga. An order is written PENDING before any stock moves; each line's stock is
//! reserved through the Restaurant Service (idempotent by order id, price taken from the
//! answer); then the simulated payment runs. Success ends PAID. Any failure gives back every
//! line — also lines whose reservation timed out, because the Restaurant Service records the
//! restoration and refuses a late reservation — and ends FAILED with the reason. Cancelling a
//! PAID order gives its stock back and ends CANCELLED. A restoration that cannot reach the
//! Restaurant Service leaves `compensation_pending` set; retries and the recovery loop finish
//! it, so stock is exact once the fault is gone.
//!
//! Database work per order: the PENDING order with its lines in one write, and the PAID (or
//! FAILED) change with the reserved prices in one more; the answer is built from what was
//! written, never read back. (A process that dies between reservation and payment leaves
//! the prices unrecorded; recovery fails such an order, so they would only describe stock
//! that was given back.)

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use backon::{ExponentialBuilder, Retryable};
use testbed_common::ApiError;
use testbed_common::cache::{Cache, CacheStatus};
use testbed_common::chaos::Switch;
use testbed_common::db::Db;
use tokio_util::task::TaskTracker;

use super::{
    CreateOrder, FailureReason, OrderStatus, OrderView, fingerprint, order_key, order_view,
    validated_lines,
};
use crate::clients::UpstreamError;
use crate::clients::restaurants::RestaurantsClient;
use crate::clients::users::UsersClient;
use crate::store::{self, NewOrder, OrderWithItems, Transition, order_items};

/// Everything the saga needs.
#[derive(Clone)]
pub struct Orders {
    pub db: Db,
    pub cache: Cache,
    pub users: UsersClient,
    pub restaurants: RestaurantsClient,
    pub payment_fail: Arc<Switch>,
    pub order_ttl: Duration,
    pub crash_after_reserve: bool,
    /// Sagas in flight, each in its own task; graceful shutdown waits for them.
    pub sagas: TaskTracker,
    /// How long a retry with a used `Idempotency-Key` waits for a saga still running.
    pub replay_wait: Duration,
}

/// How often a retry checks whether the saga it waits for has ended.
const REPLAY_POLL: Duration = Duration::from_millis(25);

/// A `POST /orders` request, owned so its saga can run in a task of its own.
pub struct PlaceOrder {
    /// The bearer's user id, as verified locally from the token.
    pub user_id: i64,
    pub token: String,
    pub order: CreateOrder,
    pub idempotency_key: Option<String>,
    pub request_id: Option<String>,
}

/// How a `POST /orders` ended.
pub enum Placed {
    /// A new order (PAID, or FAILED as an error).
    New(OrderView),
    /// An earlier order with the same idempotency key.
    Replayed(OrderView),
}

/// Why a caller's token was refused or could not be checked.
fn validation_error(error: UpstreamError) -> ApiError {
    match error {
        UpstreamError::Timeout { .. } => ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "user_service_timeout",
            "the User Service did not validate the token in time; no order was created",
        ),
        UpstreamError::Unavailable { detail, .. } => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "user_service_unavailable",
            "the User Service could not validate the token; no order was created",
        )
        .with("detail", detail),
        UpstreamError::Refused { status: 401, body } => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            body.map_or_else(
                || "the User Service refused the token".into(),
                |b| b.message,
            ),
        ),
        UpstreamError::Refused { status, .. } => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "user_service_error",
            format!("the User Service answered {status} to token validation"),
        ),
    }
}

impl Orders {
    async fn invalidate(&self, order_id: i64) {
        self.cache.delete(&[order_key(order_id)]).await;
    }

    async fn load(&self, order_id: i64) -> Result<OrderWithItems, ApiError> {
        store::find_order(&self.db.conn, order_id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("order {order_id} does not exist")))
    }

    /// Places an order in a task of its own and waits for its outcome. The task is tracked
    /// (graceful shutdown waits for it) and not tied to the request: a caller that hangs up
    /// (a client or gateway timeout) does not interrupt the saga, and a retry with the same
    /// `Idempotency-Key` answers its outcome.
    pub async fn place_order(&self, request: PlaceOrder) -> Result<Placed, ApiError> {
        let orders = self.clone();
        let saga = self
            .sagas
            .spawn(async move { orders.place_order_here(request).await });
        saga.await
            .map_err(|e| ApiError::internal(format!("the order saga stopped: {e}")))?
    }

    /// Places an order for the bearer of `token` (already verified locally as `user_id`),
    /// in the calling task.
    async fn place_order_here(&self, request: PlaceOrder) -> Result<Placed, ApiError> {
        let PlaceOrder {
            user_id,
            token,
            order: body,
            idempotency_key,
            request_id,
        } = request;
        let (key, request_id) = (idempotency_key.as_deref(), request_id.as_deref());
        let lines = validated_lines(&body)?;
        let fingerprint = key.map(|_| fingerprint(&body, user_id, &lines));
        let fingerprint = fingerprint.as_deref();
        if let Some(key) = key
            && let Some(existing) =
                store::find_by_idempotency_key(&self.db.conn, user_id, key).await?
        {
            return self.replay(existing, fingerprint).await;
        }
        self.check_token(user_id, &token, request_id).await?;

        let inserted = store::insert_pending(
            &self.db,
            NewOrder {
                user_id,
                address: body.address.trim(),
                phone: &body.phone,
                idempotency_key: key,
                request_fingerprint: fingerprint,
                items: &lines,
            },
        )
        .await?;
        let Some((order, items)) = inserted else {
            // Another request with the same key won the race: answer its order.
            let existing =
                store::find_by_idempotency_key(&self.db.conn, user_id, key.unwrap_or_default())
                    .await?
                    .ok_or_else(|| ApiError::internal("idempotency key vanished"))?;
            return self.replay(existing, fingerprint).await;
        };
        tracing::info!(order_id = order.id, user_id, "order PENDING");
        let view = self
            .run_saga(order, items, key.is_some(), request_id)
            .await?;
        Ok(Placed::New(view))
    }

    /// The answer to a request whose `Idempotency-Key` an earlier request already used: 422
    /// when the earlier request was a different one (its fingerprint differs; rows from
    /// before fingerprints replay as they did), else that order's outcome. If its saga is
    /// still running (its caller hung up and retried), waits for the outcome up to
    /// `replay_wait`, then answers 409 — both as the IETF Idempotency-Key draft says.
    async fn replay(
        &self,
        existing: OrderWithItems,
        fingerprint: Option<&str>,
    ) -> Result<Placed, ApiError> {
        if let (Some(stored), Some(wanted)) = (&existing.0.request_fingerprint, fingerprint)
            && stored != wanted
        {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was already used for a different order request; \
                 send a new key for a new order",
            )
            .with("order_id", existing.0.id));
        }
        let deadline = tokio::time::Instant::now() + self.replay_wait;
        let mut current = existing;
        while current.0.status == OrderStatus::Pending.as_str() {
            if tokio::time::Instant::now() >= deadline {
                return Err(ApiError::conflict(
                    "idempotency_in_progress",
                    "the order with this Idempotency-Key is still being placed; retry later",
                )
                .with("order_id", current.0.id)
                .with("status", OrderStatus::Pending.as_str()));
            }
            tokio::time::sleep(REPLAY_POLL).await;
            current = self.load(current.0.id).await?;
        }
        Ok(Placed::Replayed(order_view(current)))
    }

    /// Asks the User Service whether the token is (still) valid and is `user_id`'s.
    async fn check_token(
        &self,
        user_id: i64,
        token: &str,
        request_id: Option<&str>,
    ) -> Result<(), ApiError> {
        let valid = self
            .users
            .validate(token, request_id)
            .await
            .map_err(validation_error)?;
        if valid.user_id != user_id {
            return Err(ApiError::unauthorized(
                "the token's user does not match the User Service's answer",
            ));
        }
        Ok(())
    }

    /// Reserves each line; stops at the first failure. Returns the total, how many lines
    /// (from the first) were reserved, and the failure. Each reserved line's `unit_price`
    /// is set from the answer; it is written with the order's next status change.
    async fn reserve_lines(
        &self,
        order_id: i64,
        items: &mut [order_items::Model],
        request_id: Option<&str>,
    ) -> (i64, usize, Option<FailureReason>) {
        let mut total = 0;
        for (reserved, item) in items.iter_mut().enumerate() {
            match self
                .restaurants
                .reserve(item.menu_id, item.quantity, order_id, request_id)
                .await
            {
                Ok(answer) => {
                    total += answer.unit_price * item.quantity;
                    item.unit_price = answer.unit_price;
                }
                Err(error) => {
                    tracing::warn!(order_id, menu_id = item.menu_id, %error, "reservation failed");
                    let reason = match error {
                        UpstreamError::Timeout { .. } => FailureReason::RestaurantTimeout,
                        UpstreamError::Unavailable { .. } => FailureReason::RestaurantUnavailable,
                        UpstreamError::Refused { status: 409, .. } => FailureReason::OutOfStock,
                        UpstreamError::Refused { status: 404, .. } => FailureReason::UnknownMenu,
                        UpstreamError::Refused { .. } => FailureReason::RestaurantUnavailable,
                    };
                    return (total, reserved, Some(reason));
                }
            }
        }
        (total, items.len(), None)
    }

    /// The saga of a PENDING order: reserve, pay, and end PAID or FAILED.
    async fn run_saga(
        &self,
        order: store::orders::Model,
        mut items: Vec<order_items::Model>,
        keyed: bool,
        request_id: Option<&str>,
    ) -> Result<OrderView, ApiError> {
        let (total, reserved, failure) = self.reserve_lines(order.id, &mut items, request_id).await;
        if failure.is_none() && self.crash_after_reserve {
            tracing::error!(
                order_id = order.id,
                "test fault point: exiting after reservation"
            );
            std::process::exit(70);
        }
        let failure = failure.or_else(|| {
            self.payment_declined()
                .then_some(FailureReason::PaymentDeclined)
        });
        match failure {
            None => self.pay(order, items, total, keyed).await,
            Some(reason) => {
                let view = self
                    .fail(order, items, reserved, reason, request_id)
                    .await?;
                self.invalidate(view.id).await;
                Ok(view)
            }
        }
    }

    /// Ends a PENDING order PAID (unless recovery finished it first), the reserved prices
    /// recorded with the change.
    async fn pay(
        &self,
        order: store::orders::Model,
        items: Vec<order_items::Model>,
        total: i64,
        keyed: bool,
    ) -> Result<OrderView, ApiError> {
        let paid_at = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6);
        let prices = prices_of(&items);
        let moved = store::transition(
            &self.db,
            order.id,
            Transition::paid(paid_at, total, &prices),
        )
        .await?;
        if !moved {
            // The recovery loop finished this order first (and gave its stock back).
            tracing::warn!(
                order_id = order.id,
                "order was recovered before payment completed"
            );
            self.invalidate(order.id).await;
            return Ok(order_view(self.load(order.id).await?));
        }
        tracing::info!(order_id = order.id, total, "order PAID");
        // Nobody can have cached this order yet unless a retry with the same
        // Idempotency-Key learned its id while it was PENDING.
        if keyed {
            self.invalidate(order.id).await;
        }
        // What was just written, without reading it back.
        let paid = store::orders::Model {
            status: OrderStatus::Paid.as_str().to_string(),
            total,
            updated_at: paid_at,
            ..order
        };
        Ok(order_view((paid, items)))
    }

    /// The simulated payment: declined with the configured probability.
    fn payment_declined(&self) -> bool {
        let percent = self.payment_fail.get();
        percent > 0 && rand::random_range(0..100u64) < percent
    }

    /// Gives back every line of a PENDING order and ends it FAILED with `reason`, the
    /// prices of the first `reserved` lines recorded with the change.
    async fn fail(
        &self,
        order: store::orders::Model,
        items: Vec<order_items::Model>,
        reserved: usize,
        reason: FailureReason,
        request_id: Option<&str>,
    ) -> Result<OrderView, ApiError> {
        let order_id = order.id;
        let restored = self.compensate(order_id, &items, request_id).await;
        let failed_at = chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6);
        let prices = prices_of(&items[..reserved]);
        let change = Transition::failed(failed_at, reason.code(), !restored, &prices);
        let moved = store::transition(&self.db, order_id, change).await?;
        tracing::info!(order_id, reason = reason.code(), restored, "order FAILED");
        if !restored {
            self.retry_compensation_later(order_id);
        }
        if !moved {
            // The recovery loop finished this order first.
            return Ok(order_view(self.load(order_id).await?));
        }
        // What was just written, without reading it back (lines not reserved keep price 0).
        let failed = store::orders::Model {
            status: OrderStatus::Failed.as_str().to_string(),
            total: 0,
            failure_reason: Some(reason.code().to_string()),
            compensation_pending: !restored,
            updated_at: failed_at,
            ..order
        };
        Ok(order_view((failed, items)))
    }

    /// Restores every line of an order (idempotent per line); true when all were confirmed.
    pub async fn compensate(
        &self,
        order_id: i64,
        items: &[order_items::Model],
        request_id: Option<&str>,
    ) -> bool {
        let calls = items
            .iter()
            .map(|item| self.restaurants.restore(item.menu_id, order_id, request_id));
        let results = futures::future::join_all(calls).await;
        let mut all = true;
        for (item, result) in items.iter().zip(results) {
            if let Err(error) = result {
                tracing::warn!(order_id, menu_id = item.menu_id, %error, "restore not confirmed; will retry");
                all = false;
            }
        }
        all
    }

    /// Finishes a pending compensation in the background, with backoff (250 ms, then every
    /// 500 ms, jittered, for about 30 s): short enough that the books balance within a
    /// second of the Restaurant Service being reachable again (a partition's end). The recovery loop is
    /// the backstop if this process stops.
    fn retry_compensation_later(&self, order_id: i64) {
        let orders = self.clone();
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(250))
            .with_max_delay(Duration::from_millis(500))
            .with_max_times(60)
            .with_jitter();
        tokio::spawn(async move {
            let attempt = || async {
                match orders.finish_compensation(order_id).await {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(anyhow::anyhow!("the restore is not confirmed yet")),
                    Err(e) => Err(anyhow::anyhow!("{}", e.message)),
                }
            };
            let outcome = attempt.retry(backoff).sleep(tokio::time::sleep).await;
            if let Err(e) = outcome {
                tracing::warn!(order_id, error = %e, "compensation retries gave up; the recovery loop will finish it");
            }
        });
    }

    /// Retries a pending compensation once; true when it is done.
    pub async fn finish_compensation(&self, order_id: i64) -> Result<bool, ApiError> {
        let (order, items) = self.load(order_id).await?;
        if !order.compensation_pending {
            return Ok(true);
        }
        if !self.compensate(order_id, &items, None).await {
            return Ok(false);
        }
        store::compensation_done(&self.db, order_id).await?;
        self.invalidate(order_id).await;
        tracing::info!(order_id, "compensation completed");
        Ok(true)
    }

    /// Cancels a PAID order of `user_id` and gives its stock back.
    pub async fn cancel_order(
        &self,
        user_id: i64,
        order_id: i64,
        request_id: Option<&str>,
    ) -> Result<OrderView, ApiError> {
        let (order, items) = self.load(order_id).await?;
        if order.user_id != user_id {
            return Err(not_yours(order_id));
        }
        let change = Transition::cancelled(chrono::Utc::now());
        let moved = store::transition(&self.db, order_id, change).await?;
        if !moved {
            let current = order_view(self.load(order_id).await?);
            return Err(ApiError::conflict(
                "not_cancellable",
                format!(
                    "order {order_id} is {} and cannot be cancelled; only PAID orders can",
                    current.status.as_str()
                ),
            )
            .with("order_id", order_id)
            .with("status", current.status.as_str()));
        }
        self.invalidate(order_id).await;
        if self.compensate(order_id, &items, request_id).await {
            store::compensation_done(&self.db, order_id).await?;
        } else {
            self.retry_compensation_later(order_id);
        }
        tracing::info!(order_id, "order CANCELLED");
        self.invalidate(order_id).await;
        Ok(order_view(self.load(order_id).await?))
    }

    /// An order of `user_id`, through the cache: the stored bytes and whether they hit.
    pub async fn read_order(
        &self,
        user_id: i64,
        order_id: i64,
    ) -> Result<(bytes::Bytes, CacheStatus), ApiError> {
        let (bytes, status) = self
            .cache
            .get_or_load(&order_key(order_id), self.order_ttl, async || {
                Ok::<_, ApiError>(order_view(self.load(order_id).await?))
            })
            .await?;
        #[derive(serde::Deserialize)]
        struct Owner {
            user_id: i64,
        }
        let owner: Owner = serde_json::from_slice(&bytes).map_err(ApiError::internal)?;
        if owner.user_id != user_id {
            return Err(not_yours(order_id));
        }
        Ok((bytes, status))
    }
}

/// (item id, unit price) of `items`, as a transition records them.
fn prices_of(items: &[order_items::Model]) -> Vec<(i64, i64)> {
    items.iter().map(|i| (i.id, i.unit_price)).collect()
}

fn not_yours(order_id: i64) -> ApiError {
    ApiError::forbidden(format!("order {order_id} belongs to another user"))
}
