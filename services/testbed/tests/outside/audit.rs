//! `testbed audit` against a real stack (in this process, embedded storage, free ports):
//! balanced books pass with exit 0, a wrong reserved figure or a missing menu fail with
//! exit 1, an unreachable service and bad usage exit 2. The verdict logic itself (drift,
//! PENDING, compensation) is unit-tested in `testbed::audit`.

use std::process::Output;

use crate::in_process::TestStack;
use contract::{CreateMenuRequest, CreateOrder, OrderClient, RestaurantClient, UserClient};

/// Runs `testbed audit ARGS…`: (exit code, stdout).
async fn audit(args: &[&str]) -> (i32, String) {
    let Output { status, stdout, .. } = tokio::process::Command::new(env!("CARGO_BIN_EXE_testbed"))
        .arg("audit")
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("ADMIN_TOKEN")
        .output()
        .await
        .expect("testbed audit runs");
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    (status.code().expect("an exit code, not a signal"), stdout)
}

#[tokio::test(flavor = "multi_thread")]
async fn balanced_books_pass_and_wrong_expectations_fail() {
    let stack = TestStack::start("audit-test").await;
    let urls = stack.urls();
    let (restaurant, order) = (urls.restaurant_url.as_str(), urls.order_url.as_str());
    let books = ["--restaurant-url", restaurant, "--order-url", order];

    let (code, out) = audit(&books).await;
    assert_eq!(code, 0, "fresh books balance: {out}");
    assert!(out.starts_with("audit: PASS: "), "{out}");
    assert!(
        out.contains("drift 0 on all") && out.contains("PENDING 0"),
        "{out}"
    );

    // An order of 2 units of a fresh menu: reserved 2, PAID, still balanced.
    let menu = RestaurantClient::new(restaurant)
        .create_menu(&CreateMenuRequest::new("Audit bibimbap", 9000, 10))
        .await
        .expect("menu created")
        .id;
    let token = UserClient::new(&urls.user_url)
        .signup_and_login("audit_tester", "audit-pass-123")
        .await
        .expect("logged in");
    OrderClient::new(order)
        .create_order(&token, &CreateOrder::of(&[(menu, 2)]))
        .await
        .expect("order PAID");
    let menu = menu.to_string();
    let expecting = |reserved: &'static str| {
        let mut args = books.to_vec();
        args.extend(["--menu", menu.as_str(), "--reserved", reserved]);
        args
    };
    let (code, out) = audit(&expecting("2")).await;
    assert_eq!(code, 0, "menu {menu} reserved 2: {out}");
    assert!(
        out.contains(&format!("menu {menu} stock 8 reserved 2")),
        "{out}"
    );
    assert!(out.contains("PAID 1"), "{out}");

    let (code, out) = audit(&expecting("0")).await;
    assert_eq!(code, 1, "reserved 0 expected, 2 reserved: {out}");
    assert!(
        out.starts_with(&format!("audit: FAIL: menu {menu} reserved 2 (want 0)")),
        "{out}"
    );

    let (code, out) = audit(&["--restaurant-url", restaurant, "--menu", "987654"]).await;
    assert_eq!(code, 1, "a menu not in the audit: {out}");
    assert!(out.contains("menu 987654 is not in the audit"), "{out}");

    // `--within-secs`: books that never balance are read again until the time is up, then
    // fail with the last reading.
    let started = std::time::Instant::now();
    let mut patient = expecting("0");
    patient.extend(["--within-secs", "1"]);
    let (code, out) = audit(&patient).await;
    assert_eq!(code, 1, "still reserved 2 after waiting: {out}");
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "it waited the second it was given"
    );
    assert_eq!(out.lines().count(), 1, "one verdict line: {out}");
    stack.stop().await;
}

#[tokio::test]
async fn an_unreachable_service_and_bad_usage_exit_2() {
    // A port that was free a moment ago: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port");
    let url = format!("http://{closed}");
    let (code, out) = audit(&["--restaurant-url", &url]).await;
    assert_eq!(code, 2, "unreachable: {out}");
    assert!(
        out.starts_with("audit: ERROR: cannot read the books"),
        "{out}"
    );

    let (code, _) = audit(&["--restaurant-url", &url, "--reserved", "1"]).await;
    assert_eq!(code, 2, "--reserved without --menu is bad usage");
}
