//! What virtual users do: sign up and log in once, then run the scenario's weighted
//! workflows (browse, order, read, cancel and reorder…) against the public API, while
//! tallying what they saw so the consistency checker can compare it with the services.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use contract::{LoginResponse, OrderStatus};
use serde::{Deserialize, Serialize};

use crate::api::Api;
use crate::scenario::{Workflow, WorkflowKind};

/// One virtual user's session.
#[derive(Debug, Clone, Default)]
pub struct VirtualUser {
    pub username: String,
    pub token: Option<String>,
    /// The last order this user placed that ended PAID (for reads and cancels).
    pub last_paid_order: Option<i64>,
    /// Requests this user made, used to make idempotency keys unique.
    pub sequence: u64,
}

/// Counters of what the clients saw, shared by all users.
#[derive(Default)]
pub struct Tally {
    order_attempts: AtomicU64,
    paid: AtomicU64,
    declined: AtomicU64,
    out_of_stock: AtomicU64,
    order_errors: AtomicU64,
    cancelled: AtomicU64,
    cancel_refused: AtomicU64,
    login_failures: AtomicU64,
    /// Net quantity per menu id the clients saw sold: PAID minus cancelled.
    net_sold: Mutex<HashMap<i64, i64>>,
    /// Orders whose outcome the client never learned (transport error, 5xx).
    unknown_outcomes: AtomicU64,
    /// Menu id → quantity in orders whose outcome the client never learned.
    unknown_quantity: Mutex<HashMap<i64, i64>>,
}

/// A copy of the tally for reports and assertions.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TallySnapshot {
    pub order_attempts: u64,
    pub paid: u64,
    pub declined: u64,
    pub out_of_stock: u64,
    pub order_errors: u64,
    pub cancelled: u64,
    pub cancel_refused: u64,
    pub login_failures: u64,
    pub unknown_outcomes: u64,
    /// Menu id → net quantity the clients saw sold.
    pub net_sold: BTreeMap<i64, i64>,
    /// Menu id → quantity in orders whose outcome the client never learned.
    pub unknown_quantity: BTreeMap<i64, i64>,
}

impl Tally {
    pub fn snapshot(&self) -> TallySnapshot {
        let copy = |map: &Mutex<HashMap<i64, i64>>| -> BTreeMap<i64, i64> {
            let map = match map.lock() {
                Ok(map) => map,
                Err(poisoned) => poisoned.into_inner(),
            };
            map.iter().map(|(k, v)| (*k, *v)).collect()
        };
        let net_sold = copy(&self.net_sold);
        let unknown_quantity = copy(&self.unknown_quantity);
        TallySnapshot {
            order_attempts: self.order_attempts.load(Ordering::Relaxed),
            paid: self.paid.load(Ordering::Relaxed),
            declined: self.declined.load(Ordering::Relaxed),
            out_of_stock: self.out_of_stock.load(Ordering::Relaxed),
            order_errors: self.order_errors.load(Ordering::Relaxed),
            cancelled: self.cancelled.load(Ordering::Relaxed),
            cancel_refused: self.cancel_refused.load(Ordering::Relaxed),
            login_failures: self.login_failures.load(Ordering::Relaxed),
            unknown_outcomes: self.unknown_outcomes.load(Ordering::Relaxed),
            net_sold,
            unknown_quantity,
        }
    }

    fn add_unknown(&self, items: &[(i64, u32)]) {
        let mut map = match self.unknown_quantity.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        for (menu_id, quantity) in items {
            *map.entry(*menu_id).or_default() += i64::from(*quantity);
        }
    }

    fn add_sold(&self, items: &[(i64, u32)], sign: i64) {
        let mut map = match self.net_sold.lock() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        for (menu_id, quantity) in items {
            *map.entry(*menu_id).or_default() += sign * i64::from(*quantity);
        }
    }
}

/// The password every virtual user gets.
const PASSWORD: &str = "loadgen-pass-1234";

/// The workflows of a run and what they need.
pub struct Workload {
    pub api: Api,
    pub workflows: Vec<Workflow>,
    /// Menu key → id of the menus created for this run.
    pub menu_ids: HashMap<String, i64>,
    pub tally: Tally,
    /// Makes user names and idempotency keys unique to the run.
    pub run_tag: String,
    next_user: AtomicU64,
    next_order_key: AtomicU64,
}

impl Workload {
    pub fn new(
        api: Api,
        workflows: Vec<Workflow>,
        menu_ids: HashMap<String, i64>,
        run_tag: String,
    ) -> Self {
        Self {
            api,
            workflows,
            menu_ids,
            tally: Tally::default(),
            run_tag,
            next_user: AtomicU64::new(0),
            next_order_key: AtomicU64::new(0),
        }
    }

    /// Signs a new virtual user up and logs it in once (logins are rate-limited per name).
    pub async fn new_user(&self) -> VirtualUser {
        let number = self.next_user.fetch_add(1, Ordering::Relaxed);
        let username = format!("lg{}u{number}", self.run_tag);
        let mut user = VirtualUser {
            username,
            ..VirtualUser::default()
        };
        self.log_in(&mut user).await;
        user
    }

    /// Signs up (a 409 means the name exists, fine) and logs in; leaves `token` empty on
    /// failure, so the next iteration tries again.
    pub async fn log_in(&self, user: &mut VirtualUser) {
        let signup = self.api.signup(&user.username, PASSWORD).await;
        if !signup.is_success() && signup.status != 409 {
            self.tally.login_failures.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let login = self.api.login(&user.username, PASSWORD).await;
        user.token = login
            .decode::<LoginResponse>()
            .map(|login| login.access_token);
        if user.token.is_none() {
            self.tally.login_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn items(&self, workflow: &Workflow) -> Vec<(i64, u32)> {
        workflow
            .menus
            .iter()
            .filter_map(|key| self.menu_ids.get(key).map(|id| (*id, workflow.quantity)))
            .collect()
    }

    /// Runs workflow number `index` once for `user`. `intended` is the open-loop start
    /// time; the first request is measured from it.
    pub async fn run(&self, index: usize, user: &mut VirtualUser, intended: Option<Instant>) {
        let Some(workflow) = self.workflows.get(index) else {
            return;
        };
        if user.token.is_none() {
            self.log_in(user).await;
        }
        let Some(token) = user.token.clone() else {
            return;
        };
        let mut intended = intended;
        match workflow.kind {
            WorkflowKind::BrowseMenus => {
                self.api.menus(intended.take()).await;
            }
            WorkflowKind::MenuDetail => {
                let pick = (user.sequence as usize) % workflow.menus.len().max(1);
                user.sequence += 1;
                if let Some(id) = workflow.menus.get(pick).and_then(|k| self.menu_ids.get(k)) {
                    self.api.menu(*id, intended.take()).await;
                }
            }
            WorkflowKind::Validate => {
                self.api.validate(&token, intended.take()).await;
            }
            WorkflowKind::Order => {
                let items = self.items(workflow);
                if let Some(order_id) = self
                    .place_order(user, &token, &items, intended.take())
                    .await
                {
                    for _ in 0..workflow.reads {
                        self.api.read_order(&token, order_id, None).await;
                    }
                }
            }
            WorkflowKind::CancelReorder => {
                let items = self.items(workflow);
                if let Some(order_id) = self
                    .place_order(user, &token, &items, intended.take())
                    .await
                {
                    let cancel = self.api.cancel(&token, order_id, None).await;
                    if cancel.is_success() {
                        self.tally.cancelled.fetch_add(1, Ordering::Relaxed);
                        self.tally.add_sold(&items, -1);
                        user.last_paid_order = None;
                    } else {
                        self.tally.cancel_refused.fetch_add(1, Ordering::Relaxed);
                        if cancel.status != 409 {
                            // No trustworthy answer: the cancel may have happened.
                            self.tally.add_unknown(&items);
                        }
                    }
                    self.place_order(user, &token, &items, None).await;
                }
            }
            WorkflowKind::ReadOrder => {
                let order_id = match user.last_paid_order {
                    Some(id) => Some(id),
                    None => {
                        let items = self.items(workflow);
                        self.place_order(user, &token, &items, intended.take())
                            .await
                    }
                };
                if let Some(order_id) = order_id {
                    for read in 0..workflow.reads.max(1) {
                        if read > 0 && workflow.read_pause > Duration::ZERO {
                            tokio::time::sleep(workflow.read_pause).await;
                        }
                        self.api.read_order(&token, order_id, intended.take()).await;
                    }
                }
            }
        }
    }

    /// Places an order and tallies its outcome; the id when it ended PAID.
    async fn place_order(
        &self,
        user: &mut VirtualUser,
        token: &str,
        items: &[(i64, u32)],
        intended: Option<Instant>,
    ) -> Option<i64> {
        if items.is_empty() {
            return None;
        }
        user.sequence += 1;
        // Unique per attempt across the run, also when one user has two orders in flight.
        let attempt = self.next_order_key.fetch_add(1, Ordering::Relaxed);
        let key = format!("{}-{}-{attempt}", self.run_tag, user.username);
        self.tally.order_attempts.fetch_add(1, Ordering::Relaxed);
        let reply = self.api.order(token, items, &key, intended).await;
        match (reply.status, reply.order_status()) {
            (201 | 200, Some(OrderStatus::Paid)) => {
                self.tally.paid.fetch_add(1, Ordering::Relaxed);
                self.tally.add_sold(items, 1);
                user.last_paid_order = reply.id();
                user.last_paid_order
            }
            (402, _) => {
                self.tally.declined.fetch_add(1, Ordering::Relaxed);
                None
            }
            (409, _) => {
                self.tally.out_of_stock.fetch_add(1, Ordering::Relaxed);
                None
            }
            (401, _) => {
                // The token went stale: log in again next time.
                user.token = None;
                self.tally.order_errors.fetch_add(1, Ordering::Relaxed);
                None
            }
            (_, Some(OrderStatus::Failed)) => {
                self.tally.order_errors.fetch_add(1, Ordering::Relaxed);
                None
            }
            _ => {
                // No answer the client can trust (timeout, transport error, a 5xx without
                // an order status): the order may still have been paid.
                self.tally.order_errors.fetch_add(1, Ordering::Relaxed);
                self.tally.unknown_outcomes.fetch_add(1, Ordering::Relaxed);
                self.tally.add_unknown(items);
                None
            }
        }
    }

    /// Picks a workflow by weight from a number in `0..total_weight()`.
    pub fn pick(&self, roll: usize) -> usize {
        let mut left = roll;
        for (index, workflow) in self.workflows.iter().enumerate() {
            if left < workflow.weight {
                return index;
            }
            left -= workflow.weight;
        }
        0
    }

    pub fn total_weight(&self) -> usize {
        self.workflows
            .iter()
            .map(|w| w.weight)
            .sum::<usize>()
            .max(1)
    }
}
