//! Guards of the whole stack (issue 9), through the launcher's library with an admin token
//! configured: fault switches and admin calls without the token (or with a wrong one) are 401
//! on every service and change nothing; request bodies over the limit (64 KiB by default) are
//! 413 with the JSON error on every body-taking endpoint, JSON and form alike.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use testkit::{Backend, unique};

use crate::stack::AdminStack;

const ADMIN: &str = "reliability-admin-token";

#[tokio::test]
async fn admin_calls_and_fault_switches_need_the_admin_token_everywhere() {
    let g = AdminStack::start(ADMIN, Backend::Embedded).await;
    let (user, restaurant, order) = (
        g.stack.user_url.clone(),
        g.stack.restaurant_url.clone(),
        g.stack.order_url.clone(),
    );
    for (method, url, body) in &guarded_calls(&user, &restaurant, &order) {
        for admin in [None, Some("wrong-token")] {
            let (status, answer) = g
                .send(method.clone(), url.clone(), admin, None, body.clone())
                .await;
            assert_eq!(
                (status, answer["error"].as_str()),
                (StatusCode::UNAUTHORIZED, Some("admin_token_required")),
                "{method} {url} with admin token {admin:?}: {answer}"
            );
        }
    }
    assert_nothing_the_refused_calls_asked_for_happened(&g, &restaurant, &order).await;
    assert_the_same_calls_work_with_the_token(&g, &restaurant, &order).await;
    g.stop().await;
}

/// Admin calls and fault switches on every service, with bodies that would change something
/// if let through.
fn guarded_calls(
    user: &str,
    restaurant: &str,
    order: &str,
) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (
            Method::POST,
            format!("{restaurant}/admin/menus"),
            Some(json!({"name": "Guarded Japchae", "price": 8000, "stock": 10})),
        ),
        (
            Method::PUT,
            format!("{restaurant}/admin/menus/1/stock"),
            Some(json!({"stock": 0})),
        ),
        (Method::GET, format!("{restaurant}/chaos"), None),
        (Method::DELETE, format!("{restaurant}/chaos"), None),
        (
            Method::POST,
            format!("{restaurant}/chaos/inventory_delay"),
            Some(json!({"delay_ms": 3000})),
        ),
        (Method::GET, format!("{order}/chaos"), None),
        (Method::DELETE, format!("{order}/chaos"), None),
        (
            Method::POST,
            format!("{order}/chaos/payment_fail"),
            Some(json!({"fail_percent": 100})),
        ),
        (
            Method::POST,
            format!("{order}/chaos/delay"),
            Some(json!({"delay_ms": 1500})),
        ),
        (
            Method::POST,
            format!("{user}/chaos/error"),
            Some(json!({"enable": true})),
        ),
    ]
}

/// Nothing the refused calls asked for happened: stock intact, orders still pay.
async fn assert_nothing_the_refused_calls_asked_for_happened(
    g: &AdminStack,
    restaurant: &str,
    order: &str,
) {
    let token = g.clients().new_user().await;
    let (status, menu) = g
        .send(
            Method::GET,
            format!("{restaurant}/menus/1"),
            None,
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{menu}");
    assert!(menu["stock"].as_i64().unwrap_or(0) > 0, "{menu}");
    let (status, placed) = g
        .send(
            Method::POST,
            format!("{order}/orders"),
            None,
            Some(&token),
            Some(json!({"items": [{"menu_id": 1, "quantity": 1}], "address": "Seoul", "phone": "010-1234-5678"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    assert_eq!(placed["status"], "PAID");
}

/// With the token, the same calls work.
async fn assert_the_same_calls_work_with_the_token(g: &AdminStack, restaurant: &str, order: &str) {
    let (status, created) = g
        .send(
            Method::POST,
            format!("{restaurant}/admin/menus"),
            Some(ADMIN),
            None,
            Some(json!({"name": "Guarded Japchae", "price": 8000, "stock": 10})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    for (method, url, body) in [
        (
            Method::PUT,
            format!("{restaurant}/admin/menus/{}/stock", created["id"]),
            Some(json!({"stock": 5})),
        ),
        (
            Method::POST,
            format!("{order}/chaos/payment_fail"),
            Some(json!({"fail_percent": 100})),
        ),
        (Method::GET, format!("{order}/chaos"), None),
        (Method::DELETE, format!("{order}/chaos"), None),
        (Method::DELETE, format!("{restaurant}/chaos"), None),
    ] {
        let (status, answer) = g
            .send(method.clone(), url.clone(), Some(ADMIN), None, body)
            .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{method} {url} with the token: {answer}"
        );
    }
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_json_everywhere() {
    let g = AdminStack::start(ADMIN, Backend::Embedded).await;
    let token = g.clients().new_user().await;
    let (user, order) = (g.stack.user_url.clone(), g.stack.order_url.clone());
    let big = "x".repeat(70 * 1024);
    for (method, url, admin, bearer, body) in oversized_calls(&g, &token, &big) {
        let (status, answer) = g
            .send(
                method.clone(),
                url.clone(),
                admin,
                bearer.as_deref(),
                Some(body),
            )
            .await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large")),
            "{method} {url} with a 70 KiB body: {answer}"
        );
        assert!(answer["message"].is_string(), "{answer}");
    }

    // The OAuth2 password form is limited the same way.
    let response = g
        .http
        .post(format!("{user}/login"))
        .form(&[("username", "big"), ("password", big.as_str())])
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(answer["error"], "payload_too_large", "{answer}");

    // Just under the limit the body is read and judged on its content (422, not 413).
    let (status, answer) = g
        .send(
            Method::POST,
            format!("{order}/orders"),
            None,
            Some(&token),
            Some(json!({"items": [{"menu_id": 1, "quantity": 1}], "address": "x".repeat(60 * 1024), "phone": "010-1234-5678"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    g.stop().await;
}

/// (method, URL, admin token, bearer token, body)
type Case = (Method, String, Option<&'static str>, Option<String>, Value);

/// Every body-taking endpoint, each called with `big` in its body and whatever tokens it
/// checks before reading the body.
fn oversized_calls(g: &AdminStack, token: &str, big: &str) -> Vec<Case> {
    let (user, restaurant, order) = (
        &g.stack.user_url,
        &g.stack.restaurant_url,
        &g.stack.order_url,
    );
    // Stock calls check the caller before reading the body: give them the service's token.
    let service_token =
        testbed::mint_service_token(&g.stack.service_token_secret, 60).expect("service token");
    vec![
        (
            Method::POST,
            format!("{user}/signup"),
            None,
            None,
            json!({"username": "big", "password": big}),
        ),
        (
            Method::POST,
            format!("{user}/login"),
            None,
            None,
            json!({"username": "big", "password": big}),
        ),
        (
            Method::PUT,
            format!("{restaurant}/inventory/1"),
            None,
            Some(service_token),
            json!({"quantity": 1, "padding": big}),
        ),
        (
            Method::POST,
            format!("{restaurant}/admin/menus"),
            Some(ADMIN),
            None,
            json!({"name": big, "price": 1, "stock": 1}),
        ),
        (
            Method::POST,
            format!("{order}/orders"),
            None,
            Some(token.to_string()),
            json!({"items": [{"menu_id": 1, "quantity": 1}], "address": big, "phone": "010-1234-5678"}),
        ),
        (
            Method::POST,
            format!("{order}/chaos/payment_fail"),
            Some(ADMIN),
            None,
            json!({"fail_percent": 1, "padding": big}),
        ),
    ]
}

/// PostgreSQL cannot store a NUL character in text (the fuzzer found menu names that gave
/// 500): every text field that reaches the database answers 422 instead.
#[tokio::test]
async fn text_with_nul_characters_is_422_not_500() {
    // The database is what refuses NUL; the cache plays no part (in-process).
    let g =
        AdminStack::start_with(ADMIN, Backend::Postgres, |config| config.redis_url = None).await;
    let token = g.clients().new_user().await;
    let (user, restaurant, order) = (
        g.stack.user_url.clone(),
        g.stack.restaurant_url.clone(),
        g.stack.order_url.clone(),
    );
    let nul = "bad\u{0}text";
    let cases = [
        (
            format!("{user}/signup"),
            None,
            None,
            json!({"username": unique("nul"), "password": "s3cret-pass", "email": format!("{nul}@example.com")}),
        ),
        (
            format!("{user}/login"),
            None,
            None,
            json!({"username": nul, "password": "s3cret-pass"}),
        ),
        (
            format!("{restaurant}/admin/menus"),
            Some(ADMIN),
            None,
            json!({"name": nul, "price": 1000, "stock": 1}),
        ),
        (
            format!("{restaurant}/admin/menus"),
            Some(ADMIN),
            None,
            json!({"name": "Fine name", "description": nul, "price": 1000, "stock": 1}),
        ),
        (
            format!("{order}/orders"),
            None,
            Some(token.as_str()),
            json!({"items": [{"menu_id": 1, "quantity": 1}], "address": nul, "phone": "010-1234-5678"}),
        ),
    ];
    for (url, admin, bearer, body) in cases {
        let (status, answer) = g
            .send(Method::POST, url.clone(), admin, bearer, Some(body))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "POST {url} with a NUL character: {answer}"
        );
    }
    g.stop().await;
}
