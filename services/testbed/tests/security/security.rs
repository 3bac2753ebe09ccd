//! Security boundaries (issue 16), through the launcher's library on both backends: only the
//! Order Service moves stock (every refused credential moves nothing, and the real saga
//! still works end to end), operator views need the admin token when one is configured,
//! profiles show the email only to its owner,
//! and refused calls are JSON errors. (The accept loop's limits are tested in
//! testbed-common's `connections` tests; a reused Idempotency-Key in the Order Service's.)

use contract::{CreateOrder, LoginRequest, ReserveRequest, SignupRequest, StockAudit, UserClient};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testbed_common::service_auth::{ORDER_SERVICE, RESTAURANT_STOCK, ServiceKeys};
use testkit::{Backend, unique};

use crate::stack::AdminStack;

const ADMIN: &str = "security-admin-token";

/// The security tests' calls: the operator's audit and menus, a user with an email, and
/// orders with an optional `Idempotency-Key`.
impl AdminStack {
    async fn audit(&self, menu: i64) -> StockAudit {
        self.clients()
            .restaurants
            .inventory(menu)
            .await
            .expect("audit figures")
    }

    async fn create_menu(&self, stock: i64) -> i64 {
        self.clients().create_menu(stock, 4_000).await
    }

    /// Signs up and logs in a fresh user: (id, token).
    async fn new_user(&self) -> (i64, String) {
        let users = UserClient::with_http(self.http.clone(), &self.stack.user_url);
        let name = unique("sec");
        let signup = SignupRequest {
            username: name.clone(),
            password: "s3cret-pass".into(),
            email: Some(format!("{name}@example.com")),
        };
        let user = users.signup(&signup).await.expect("signed up");
        let login = LoginRequest {
            username: name,
            password: signup.password,
        };
        let token = users.login(&login).await.expect("logged in").access_token;
        (user.id, token)
    }

    async fn order(
        &self,
        token: &str,
        menu: i64,
        key: Option<&str>,
        quantity: i64,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .post(format!("{}/orders", self.stack.order_url))
            .bearer_auth(token)
            .json(&CreateOrder::of(&[(menu, quantity)]));
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.expect("order answers");
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// Every credential that is not the Order Service's current stock token, with the status
/// it must get.
fn refused_credentials(
    secret: &str,
    user_token: &str,
) -> Vec<(&'static str, Option<String>, StatusCode)> {
    let keys = ServiceKeys::new(secret);
    let forged = ServiceKeys::new("a-secret-that-is-not-the-link-secret");
    let mint = |keys: &ServiceKeys, issuer: &str, audience: &str, ttl: i64| {
        keys.mint(issuer, audience, ttl).expect("mint")
    };
    vec![
        ("no credential", None, StatusCode::UNAUTHORIZED),
        (
            "a user's token",
            Some(user_token.to_string()),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "an expired service token",
            Some(mint(&keys, ORDER_SERVICE, RESTAURANT_STOCK, -30)),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "a wrongly signed service token",
            Some(mint(&forged, ORDER_SERVICE, RESTAURANT_STOCK, 300)),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "a service token for another audience",
            Some(mint(&keys, ORDER_SERVICE, "user-service", 300)),
            StatusCode::FORBIDDEN,
        ),
        (
            "a service token from another issuer",
            Some(mint(&keys, "loadgen", RESTAURANT_STOCK, 300)),
            StatusCode::FORBIDDEN,
        ),
        (
            "garbage",
            Some("not.a.token".to_string()),
            StatusCode::UNAUTHORIZED,
        ),
    ]
}

async fn only_the_order_service_moves_stock(postgres: bool) {
    let app = AdminStack::start(ADMIN, backend(postgres)).await;
    let menu = app.create_menu(10).await;
    let (_, user_token) = app.new_user().await;
    // A PAID order whose stock an attacker would like back, via restore.
    let (status, order) = app.order(&user_token, menu, None, 2).await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let paid_order = order["id"].as_i64().expect("order id");
    let before = app.audit(menu).await;
    assert_eq!(before.stock, 8, "{before:?}");

    let base = &app.stack.restaurant_url;
    for (what, token, expected) in refused_credentials(&app.stack.service_token_secret, &user_token)
    {
        let calls = [
            (
                Method::PUT,
                format!("{base}/inventory/{menu}"),
                json!({"quantity": 3, "order_id": 777_000}),
            ),
            (
                Method::PUT,
                format!("{base}/inventory/{menu}"),
                json!({"quantity": 3}),
            ),
            (
                Method::POST,
                format!("{base}/inventory/{menu}/restore"),
                json!({"order_id": paid_order}),
            ),
        ];
        for (method, url, body) in calls {
            let (status, answer) = app
                .send(
                    method.clone(),
                    url.clone(),
                    None,
                    token.as_deref(),
                    Some(body),
                )
                .await;
            assert_eq!(status, expected, "{method} {url} with {what}: {answer}");
            assert!(
                answer["error"].is_string(),
                "JSON error for {what}: {answer}"
            );
        }
    }
    let after = app.audit(menu).await;
    assert_eq!(after, before, "refused calls moved nothing");

    // The operator's way: a token minted from the link secret moves stock.
    let token = testbed::mint_service_token(&app.stack.service_token_secret, 60).expect("mint");
    let url = format!("{base}/inventory/{menu}");
    let body = json!(ReserveRequest {
        quantity: 1,
        order_id: Some(888_000),
    });
    let (status, answer) = app
        .send(Method::PUT, url, None, Some(&token), Some(body))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    // And the real saga still works end to end, including its compensation.
    let (status, order) = app.order(&user_token, menu, None, 1).await;
    assert_eq!(status, StatusCode::CREATED, "{order}");
    let url = format!("{}/orders/{}/cancel", app.stack.order_url, order["id"]);
    let (status, cancelled) = app
        .send(Method::POST, url, None, Some(&user_token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    let audit = app.audit(menu).await;
    assert_eq!(
        audit.stock, 7,
        "10 − 2 PAID − 1 operator reservation: {audit:?}"
    );
    assert_eq!(audit.drift, 0, "{audit:?}");
    app.stop().await;
}

#[tokio::test]
async fn only_the_order_service_moves_stock_embedded() {
    only_the_order_service_moves_stock(false).await;
}

#[tokio::test]
async fn only_the_order_service_moves_stock_postgres() {
    only_the_order_service_moves_stock(true).await;
}

async fn operator_views_and_profiles(postgres: bool) {
    let app = AdminStack::start(ADMIN, backend(postgres)).await;
    let restaurant = &app.stack.restaurant_url;
    let order = &app.stack.order_url;
    for url in [
        format!("{restaurant}/inventory"),
        format!("{restaurant}/inventory/1"),
        format!("{order}/orders/stats"),
    ] {
        let (status, body) = app.send(Method::GET, url.clone(), None, None, None).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "GET {url} without the admin token: {body}"
        );
        let (status, body) = app
            .send(Method::GET, url.clone(), Some(ADMIN), None, None)
            .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "GET {url} with the admin token: {body}"
        );
    }

    let (alice, alice_token) = app.new_user().await;
    let (bob, bob_token) = app.new_user().await;
    let users = &app.stack.user_url;
    let (status, body) = app
        .send(
            Method::GET,
            format!("{users}/users/{alice}"),
            None,
            None,
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "anonymous profile read: {body}"
    );
    let (status, own) = app
        .send(
            Method::GET,
            format!("{users}/users/{alice}"),
            None,
            Some(&alice_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert!(
        own["email"].as_str().is_some_and(|e| e.contains('@')),
        "owner sees the email: {own}"
    );
    let (status, other) = app
        .send(
            Method::GET,
            format!("{users}/users/{alice}"),
            None,
            Some(&bob_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{other}");
    assert!(
        other["email"].is_null(),
        "another user never sees the email: {other}"
    );
    assert_eq!(other["id"], alice);
    assert_ne!(alice, bob);
    app.stop().await;
}

#[tokio::test]
async fn operator_views_and_profiles_embedded() {
    operator_views_and_profiles(false).await;
}

#[tokio::test]
async fn operator_views_and_profiles_postgres() {
    operator_views_and_profiles(true).await;
}

fn backend(postgres: bool) -> Backend {
    if postgres {
        Backend::Postgres
    } else {
        Backend::Embedded
    }
}
