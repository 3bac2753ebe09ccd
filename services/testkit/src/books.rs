//! The calls every test makes, through the contract's typed clients, whichever way its
//! services run (in this process, as child processes, behind the launcher): a fresh user's
//! token, a menu with stock, an order; and the end-of-test audits — orders settled, and the
//! books balanced (stock = initial − Σ PAID units, ledger drift 0, nothing pending).

use std::time::{Duration, Instant};

use contract::{
    ClientError, CreateMenuRequest, CreateOrder, OrderClient, OrderStats, OrderStatus, OrderView,
    RestaurantClient, UserClient,
};

use crate::storage::unique;

/// The three services' clients, sharing one HTTP client.
#[derive(Clone)]
pub struct Clients {
    pub users: UserClient,
    pub restaurants: RestaurantClient,
    pub orders: OrderClient,
}

impl Clients {
    pub fn new(http: &reqwest::Client, user: &str, restaurant: &str, order: &str) -> Self {
        Self {
            users: UserClient::with_http(http.clone(), user),
            restaurants: RestaurantClient::with_http(http.clone(), restaurant),
            orders: OrderClient::with_http(http.clone(), order),
        }
    }

    /// The operator's view: the Restaurant and Order Services' admin calls carry `admin`.
    pub fn with_admin_token(self, admin: Option<&str>) -> Self {
        let admin = admin.map(str::to_string);
        Self {
            restaurants: self.restaurants.with_admin_token(admin.clone()),
            orders: self.orders.with_admin_token(admin),
            ..self
        }
    }

    /// Signs up a fresh user and logs in; returns the token.
    pub async fn new_user(&self) -> String {
        new_user(&self.users).await
    }

    /// Creates a menu with `stock` units at `price`; returns its id.
    pub async fn create_menu(&self, stock: i64, price: i64) -> i64 {
        create_menu(&self.restaurants, stock, price).await
    }

    /// `POST /orders` for `items` (menu id, quantity).
    pub async fn order(&self, token: &str, items: &[(i64, i64)]) -> Result<OrderView, ClientError> {
        self.orders
            .create_order(token, &CreateOrder::of(items))
            .await
    }

    /// Waits until no order is PENDING and no compensation is outstanding.
    pub async fn settle(&self, within: Duration) -> OrderStats {
        settle(&self.orders, within).await
    }

    /// See [`assert_books_balance`].
    pub async fn assert_books_balance(&self, menus: &[i64]) -> OrderStats {
        assert_books_balance(&self.restaurants, &self.orders, menus).await
    }
}

/// Signs up a fresh user and logs in; returns the token.
pub async fn new_user(users: &UserClient) -> String {
    users
        .signup_and_login(&unique("u"), "s3cret-pass")
        .await
        .expect("signup and login")
}

/// The name of every menu [`create_menu`] creates.
pub const MENU_NAME: &str = "Test Gimbap";

/// Creates a menu ([`MENU_NAME`]) with `stock` units at `price`; returns its id.
pub async fn create_menu(restaurants: &RestaurantClient, stock: i64, price: i64) -> i64 {
    restaurants
        .create_menu(&CreateMenuRequest::new(MENU_NAME, price, stock))
        .await
        .expect("menu created")
        .id
}

/// Waits until no order is PENDING and no compensation is outstanding; returns the stats.
pub async fn settle(orders: &OrderClient, within: Duration) -> OrderStats {
    let deadline = Instant::now() + within;
    loop {
        let answer = orders.stats().await;
        if let Ok(stats) = &answer
            && stats.settled()
        {
            return stats.clone();
        }
        assert!(
            Instant::now() < deadline,
            "orders did not settle within {within:?}: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The books balance for every menu: stock never negative, stock = initial − Σ PAID
/// units, the ledger identity holds (drift 0), and no order is PENDING nor compensation
/// outstanding. Returns the order stats it checked against.
pub async fn assert_books_balance(
    restaurants: &RestaurantClient,
    orders: &OrderClient,
    menus: &[i64],
) -> OrderStats {
    let stats = orders.stats().await.expect("stats answer");
    assert_eq!(
        stats.count(OrderStatus::Pending),
        0,
        "nothing pending: {stats:?}"
    );
    assert_eq!(
        stats.compensation_pending, 0,
        "no compensation owed: {stats:?}"
    );
    for &menu in menus {
        let inventory = restaurants
            .inventory(menu)
            .await
            .expect("inventory answers");
        let sold = stats.sold(menu);
        assert!(inventory.stock >= 0, "oversold: {inventory:?}");
        assert_eq!(
            inventory.stock,
            inventory.initial_stock - sold,
            "drift on menu {menu}: {inventory:?}; PAID units {sold}"
        );
        assert_eq!(inventory.drift, 0, "ledger identity: {inventory:?}");
    }
    stats
}
