//! `testbed user-token` against a real stack: it prints a token the User Service accepts,
//! for a new name and again for the same (taken) name; a wrong password fails with a message
//! and a non-zero exit.

use std::process::Output;

use contract::UserClient;

use crate::in_process::TestStack;

/// Runs `testbed user-token --user-url URL --username NAME --password PASSWORD`.
async fn user_token(user_url: &str, username: &str, password: &str) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_testbed"))
        .args(["user-token", "--user-url", user_url])
        .args(["--username", username, "--password", password])
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("testbed user-token runs")
}

#[tokio::test(flavor = "multi_thread")]
async fn prints_a_token_the_user_service_accepts() {
    let stack = TestStack::start("user-token-test").await;
    let user_url = stack.urls().user_url.clone();
    let users = UserClient::new(&user_url);
    for attempt in ["signs up", "name taken: logs in"] {
        let out = user_token(&user_url, "token_tester", "token-pass-123").await;
        assert!(out.status.success(), "{attempt}: {out:?}");
        let token = String::from_utf8(out.stdout).expect("UTF-8");
        let answer = users.validate(token.trim(), None).await;
        assert!(
            answer.expect("validate answers").valid,
            "{attempt}: {token}"
        );
    }

    let out = user_token(&user_url, "token_tester", "wrong-pass-123").await;
    assert!(!out.status.success(), "a wrong password fails: {out:?}");
    assert!(out.stdout.is_empty(), "no token printed: {out:?}");
    assert!(!out.stderr.is_empty(), "and says why: {out:?}");
    stack.stop().await;
}
