//! The reliability tests' order load: workers each placing orders one after another and
//! cancelling some, recording every acknowledged (201) order; and the audits only these
//! tests make — nothing acknowledged lost, `/ready` reaching a status.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use contract::{ClientError, CreateOrder, OrderClient, OrderStatus, Readiness, UserClient};

/// An order this test was told about with 201, and what it must be at the end.
#[derive(Clone, Debug)]
pub struct Acknowledged {
    pub id: i64,
    pub token: Arc<str>,
    /// PAID, CANCELLED, or `None` when a cancel got no clear answer (either is right).
    pub expect: Option<OrderStatus>,
    pub at: Instant,
}

/// What the load saw.
#[derive(Default, Debug)]
pub struct Tally {
    pub acknowledged: Vec<Acknowledged>,
    /// Answers per status code for POST /orders (0: no answer at all).
    pub order_statuses: BTreeMap<u16, u64>,
    /// Answers per status code for cancels.
    pub cancel_statuses: BTreeMap<u16, u64>,
}

impl Tally {
    pub fn attempts(&self) -> u64 {
        self.order_statuses.values().sum()
    }
    pub fn count(&self, status: u16) -> u64 {
        self.order_statuses.get(&status).copied().unwrap_or(0)
    }
    fn merge(&mut self, other: Tally) {
        self.acknowledged.extend(other.acknowledged);
        for (k, v) in other.order_statuses {
            *self.order_statuses.entry(k).or_default() += v;
        }
        for (k, v) in other.cancel_statuses {
            *self.cancel_statuses.entry(k).or_default() += v;
        }
    }
    /// Acknowledged orders placed after `t`.
    pub fn acknowledged_after(&self, t: Instant) -> usize {
        self.acknowledged.iter().filter(|a| a.at > t).count()
    }

    /// After a fault ended at `back_at`: orders were acknowledged again (`how` says how the
    /// service came back), and no order was ever answered with a 500.
    pub fn assert_orders_resumed(&self, back_at: Instant, how: &str) {
        assert!(
            self.acknowledged_after(back_at) > 0,
            "orders succeed again {how}: {self:?}"
        );
        assert_eq!(
            self.count(500),
            0,
            "no 500 for an order: {:?}",
            self.order_statuses
        );
    }
}

/// A running order load: `workers` users each placing orders one after another, over the
/// given menus (quantity 1–3), cancelling every fourth order they get; bounded by `max`.
pub struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Tally>>,
}

impl Load {
    pub async fn start(
        user_url: &str,
        order_url: &str,
        menus: &[i64],
        workers: usize,
        max: Duration,
    ) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .expect("HTTP client");
        let users = UserClient::with_http(http.clone(), user_url);
        let mut tokens = Vec::new();
        for _ in 0..workers {
            tokens.push(Arc::<str>::from(testkit::new_user(&users).await));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let started = Instant::now();
        let orders = OrderClient::with_http(http, order_url);
        let tasks = tokens
            .into_iter()
            .enumerate()
            .map(|(worker, token)| {
                let (orders, stop, menus) = (orders.clone(), stop.clone(), menus.to_vec());
                tokio::spawn(async move {
                    let mut tally = Tally::default();
                    let mut i = worker;
                    while !stop.load(Ordering::Relaxed) && started.elapsed() < max {
                        i += 1;
                        let order =
                            CreateOrder::of(&[(menus[i % menus.len()], 1 + (i % 3) as i64)]);
                        let answer = orders.create_order(&token, &order).await;
                        *tally
                            .order_statuses
                            .entry(answer_status(&answer, 201))
                            .or_default() += 1;
                        match answer {
                            Ok(order) => {
                                let expect = if i % 4 == 0 {
                                    let cancel = orders.cancel_order(&token, order.id).await;
                                    let status = answer_status(&cancel, 200);
                                    *tally.cancel_statuses.entry(status).or_default() += 1;
                                    match status {
                                        200 => Some(OrderStatus::Cancelled),
                                        409 => Some(OrderStatus::Paid),
                                        _ => None,
                                    }
                                } else {
                                    Some(OrderStatus::Paid)
                                };
                                tally.acknowledged.push(Acknowledged {
                                    id: order.id,
                                    token: token.clone(),
                                    expect,
                                    at: Instant::now(),
                                });
                            }
                            // The service is down (or restarting): do not spin.
                            Err(ClientError::Transport(_)) => {
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                            Err(_) => {}
                        }
                    }
                    tally
                })
            })
            .collect();
        Self { stop, tasks }
    }

    /// Stops the load and adds up what every worker saw.
    pub async fn finish(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        let mut total = Tally::default();
        for task in self.tasks {
            total.merge(task.await.expect("load worker"));
        }
        total
    }
}

/// The status of an answer: `success` (the call's documented 2xx) for a typed body, the
/// error's status, 0 for no answer.
pub fn answer_status<T>(answer: &Result<T, ClientError>, success: u16) -> u16 {
    match answer {
        Ok(_) => success,
        Err(error) => error.status().map_or(0, |status| status.as_u16()),
    }
}

/// Every acknowledged (201) order is still there and settled as expected. Returns how many
/// it checked.
pub async fn assert_none_lost(
    http: &reqwest::Client,
    order_url: &str,
    acknowledged: &[Acknowledged],
) -> usize {
    let orders = OrderClient::with_http(http.clone(), order_url);
    let mut lost = Vec::new();
    for order in acknowledged {
        let answer = orders.order(&order.token, order.id).await;
        let ok = match (&answer, order.expect) {
            (Ok(read), Some(want)) => read.body.status == want,
            (Ok(read), None) => {
                matches!(read.body.status, OrderStatus::Paid | OrderStatus::Cancelled)
            }
            (Err(_), _) => false,
        };
        if !ok {
            lost.push((order.id, order.expect, answer.map(|a| a.body)));
        }
    }
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged orders lost or wrong: {lost:?}",
        lost.len(),
        acknowledged.len()
    );
    acknowledged.len()
}

/// Polls `/ready` until it answers `want`; returns the last body.
pub async fn wait_ready_status(
    http: &reqwest::Client,
    base: &str,
    want: u16,
    within: Duration,
) -> Readiness {
    let service = contract::ServiceClient::with_http(http.clone(), base);
    let deadline = Instant::now() + within;
    loop {
        if let Ok((status, body)) = service.readiness().await
            && status.as_u16() == want
        {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{base}/ready did not answer {want} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
