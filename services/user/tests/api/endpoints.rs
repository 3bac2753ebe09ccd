//! The User Service's endpoints: accounts, tokens, input errors, fault switches, docs and
//! operations, on both backends.

use std::time::{Duration, Instant};

use contract::{LoginRequest, SignupRequest, UserProfile, ValidateResponse};
use reqwest::StatusCode;
use serde_json::{Value, json};
use testkit::{Backend, Served, TestStorage, unique};
use user_service::UserConfig;

use crate::app::{App, spawn};

async fn account_flow(backend: Backend) {
    let app = spawn(backend).await;
    let name = unique("kim");
    let signup = SignupRequest {
        username: name.clone(),
        password: "s3cret-pass".into(),
        email: Some("k@example.com".into()),
    };
    let (status, user) = app.post("/signup", json!(signup)).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert!(user.get("password_hash").is_none());
    let id = serde_json::from_value::<UserProfile>(user)
        .expect("a profile")
        .id;

    let taken = app
        .client
        .signup(&SignupRequest {
            password: "another-pass".into(),
            email: None,
            ..signup
        })
        .await
        .expect_err("the name is taken");
    assert_eq!(taken.status(), Some(StatusCode::CONFLICT));
    assert_eq!(taken.code(), Some("username_taken"));

    assert_bad_logins_are_refused_alike(&app, &name).await;
    let login = app
        .client
        .login(&LoginRequest::new(&name, "s3cret-pass"))
        .await
        .expect("logged in");
    assert_eq!(login.token_type, "bearer");
    assert_eq!(login.expires_in, 3600);
    let token = login.access_token;

    // The OAuth2 password form works too.
    let form = app
        .http
        .post(format!("{}/login", app.base))
        .form(&[
            ("username", name.as_str()),
            ("password", "s3cret-pass"),
            ("grant_type", "password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);

    let valid = app.client.validate(&token, None).await.expect("valid");
    assert_eq!(
        valid,
        ValidateResponse {
            valid: true,
            user_id: id,
            username: name.clone(),
        }
    );
    assert_profiles_need_the_token(&app, id, &token, &name).await;
}

/// A wrong password and an unknown name are both 401, with the same message (no hint which
/// names exist).
async fn assert_bad_logins_are_refused_alike(app: &App, name: &str) {
    let wrong = app
        .client
        .login(&LoginRequest::new(name, "wrong-pass"))
        .await
        .expect_err("wrong password");
    assert_eq!(wrong.status(), Some(StatusCode::UNAUTHORIZED));
    let unknown = app
        .client
        .login(&LoginRequest::new(&unique("ghost"), "wrong-pass"))
        .await
        .expect_err("unknown name");
    assert_eq!(unknown.status(), Some(StatusCode::UNAUTHORIZED));
    assert_eq!(
        wrong.body().map(|b| &b.message),
        unknown.body().map(|b| &b.message),
        "same message for both"
    );
}

/// Profiles need a token; the owner sees the email; unknown ids are 404, malformed ones 400.
async fn assert_profiles_need_the_token(app: &App, id: i64, token: &str, name: &str) {
    let (status, body) = app.get(&format!("/users/{id}")).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "profiles need a token: {body}"
    );
    let (status, profile) = app.get_as(&format!("/users/{id}"), token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(profile.get("password_hash").is_none());
    let profile: UserProfile = serde_json::from_value(profile).expect("a profile");
    assert_eq!(profile.username, name);
    assert_eq!(
        profile.email.as_deref(),
        Some("k@example.com"),
        "the owner sees the email"
    );
    let missing = app
        .client
        .profile(token, 999_999_999)
        .await
        .expect_err("no such user");
    assert_eq!(missing.status(), Some(StatusCode::NOT_FOUND));
    let (status, body) = app.get_as("/users/abc", token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_path");
}

#[tokio::test]
async fn account_flow_postgres() {
    account_flow(Backend::Postgres).await;
}

#[tokio::test]
async fn account_flow_embedded() {
    account_flow(Backend::Embedded).await;
}

async fn bad_tokens(backend: Backend) {
    let app = spawn(backend).await;
    let (status, body) = app.post("/validate", json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["message"].as_str().unwrap().contains("bearer token"),
        "{body}"
    );

    // Tampered: a valid token with its payload altered.
    let token = app
        .client
        .signup_and_login(&unique("lee"), "s3cret-pass")
        .await
        .expect("logged in");
    let parts: Vec<&str> = token.split('.').collect();
    let forged_payload =
        b64(&json!({"sub": "1", "username": "admin", "iat": 0, "exp": 9999999999i64}).to_string());
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_eq!(app.validate(&tampered).await.0, StatusCode::UNAUTHORIZED);

    // alg: none.
    let none = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        forged_payload
    );
    assert_eq!(app.validate(&none).await.0, StatusCode::UNAUTHORIZED);

    // Expired, signed with the right secret.
    let keys = testbed_common::auth::JwtKeys::new(testbed_common::config::DEV_JWT_SECRET, 0);
    let expired = keys.issue(1, "someone").unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = app.validate(&expired).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["message"], "the token has expired");

    // Wrong secret.
    let other = testbed_common::auth::JwtKeys::new("another-secret-of-enough-length", 60);
    let wrong = other.issue(1, "someone").unwrap();
    assert_eq!(app.validate(&wrong).await.0, StatusCode::UNAUTHORIZED);
}

fn b64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (*b as u32) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test]
async fn bad_tokens_postgres() {
    bad_tokens(Backend::Postgres).await;
}

#[tokio::test]
async fn bad_tokens_embedded() {
    bad_tokens(Backend::Embedded).await;
}

#[tokio::test]
async fn bad_input_is_json() {
    let app = spawn(Backend::Embedded).await;
    let response = app
        .http
        .post(format!("{}/signup", app.base))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "malformed_json");

    let (status, body) = app
        .post("/signup", json!({"username": 5, "password": "x"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["message"].is_string());
    let (status, _) = app
        .post(
            "/signup",
            json!({"username": "", "password": "s3cret-pass"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app
        .post("/signup", json!({"username": "a", "password": "short"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app
        .post(
            "/signup",
            json!({"username": "x".repeat(65), "password": "s3cret-pass"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = app.get("/nowhere").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");
    let (status, body) = app.post("/validate?delay=70000", json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
}

#[tokio::test]
async fn delay_fault_slows_api_but_not_health() {
    let app = spawn(Backend::Embedded).await;
    let (status, _) = app.post("/chaos/delay", json!({"delay_ms": 300})).await;
    assert_eq!(status, StatusCode::OK);
    let started = Instant::now();
    app.get("/users/1").await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    let started = Instant::now();
    let (status, _) = app.get("/health").await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() < Duration::from_millis(300));

    // A delayed request slows only itself: ten in parallel take ~one delay, not ten.
    let started = Instant::now();
    let calls = (0..10).map(|_| app.get("/users/1"));
    futures::future::join_all(calls).await;
    assert!(
        started.elapsed() < Duration::from_millis(2000),
        "{:?}",
        started.elapsed()
    );

    assert_eq!(app.chaos().await.delay_ms, 300);
    app.client.clear_faults().await.expect("faults off");
    let settings = app.chaos().await;
    assert_eq!(settings.delay_ms, 0);
    assert!(!settings.error_enabled);

    let (status, body) = app.post("/chaos/delay", json!({"delay_ms": -1})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, _) = app
        .post("/chaos/error", json!({"enable": true, "percent": 101}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app.post("/chaos/delay", json!({"delay_ms": 0})).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "setting the delay back to 0 is accepted"
    );
}

#[tokio::test]
async fn error_fault_fails_about_half() {
    let app = spawn(Backend::Embedded).await;
    let settings = app.client.set_error(true, None).await.expect("errors on");
    assert_eq!(settings.error_percent, 50);
    let n = 400;
    let mut failures = 0;
    for _ in 0..n {
        let (status, body) = app.get("/users/1").await;
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            let body: contract::ErrorBody = serde_json::from_value(body).expect("an error body");
            assert_eq!(body.error, "injected_fault");
            failures += 1;
        } else {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        }
    }
    // 99.9 % two-sided binomial interval around 50 %: ±3.29 σ, σ = sqrt(n/4) = 10.
    assert!((167..=233).contains(&failures), "{failures} of {n} failed");
    // The switches themselves are never failed, nor /health.
    for _ in 0..50 {
        assert_eq!(app.get("/chaos").await.0, StatusCode::OK);
        assert_eq!(app.get("/health").await.0, StatusCode::OK);
    }
    app.client.clear_faults().await.expect("faults off");
    for _ in 0..20 {
        assert_eq!(app.get("/users/1").await.0, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn validate_delay_applies_to_that_call_only() {
    let app = spawn(Backend::Embedded).await;
    let token = app
        .client
        .signup_and_login(&unique("delay"), "s3cret-pass")
        .await
        .expect("logged in");

    let started = Instant::now();
    let (status, body) = app.send_validate("/validate?delay=400", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(started.elapsed() >= Duration::from_millis(400));
    let started = Instant::now();
    app.validate(&token).await;
    assert!(started.elapsed() < Duration::from_millis(400));

    // Without a genuine token the delay is not granted: an anonymous caller cannot make the
    // service hold a connection.
    let started = Instant::now();
    let (status, _) = app.send_validate("/validate?delay=2000", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .send_validate("/validate?delay=2000", Some("not.a.token"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(started.elapsed() < Duration::from_millis(2000));
}

#[tokio::test]
async fn docs_work_offline() {
    let app = spawn(Backend::Embedded).await;
    let page = app
        .http
        .get(format!("{}/docs/", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-initializer.js",
    ] {
        let response = app
            .http
            .get(format!("{}/docs/{asset}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        assert!(response.bytes().await.unwrap().len() > 100, "{asset}");
    }
    let redoc = app
        .http
        .get(format!("{}/redoc", app.base))
        .send()
        .await
        .unwrap();
    assert!(
        redoc
            .text()
            .await
            .unwrap()
            .contains("/redoc/redoc.standalone.js")
    );
    let js = app
        .http
        .get(format!("{}/redoc/redoc.standalone.js", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert!(js.bytes().await.unwrap().len() > 500_000);
}

#[tokio::test]
async fn openapi_spec_lists_every_path_and_its_errors() {
    let app = spawn(Backend::Embedded).await;
    let (status, spec) = app.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = spec["paths"].as_object().unwrap();
    for path in [
        "/signup",
        "/login",
        "/users/{id}",
        "/validate",
        "/health",
        "/ready",
        "/metrics",
        "/chaos",
        "/chaos/delay",
        "/chaos/error",
    ] {
        assert!(paths.contains_key(path), "missing {path}");
    }
    // Every operation documents at least one error response, except pure operations.
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(
                op["summary"].is_string() || op["description"].is_string(),
                "{method} {path}"
            );
            if !["/health", "/ready", "/metrics", "/chaos"].contains(&path.as_str()) {
                assert!(
                    responses
                        .keys()
                        .any(|code| code.starts_with('4') || code.starts_with('5')),
                    "{method} {path} documents no error response"
                );
            }
        }
    }
}

#[tokio::test]
async fn operations_endpoints() {
    let app = spawn(Backend::Postgres).await;
    let ready = app.client.ready().await.expect("ready");
    assert_eq!(ready.database, "ok");
    assert_eq!(ready.cache_backend, "redis");
    let response = app
        .http
        .get(format!("{}/health", app.base))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-123");
    let generated = app
        .http
        .get(format!("{}/health", app.base))
        .send()
        .await
        .unwrap();
    assert!(generated.headers().contains_key("x-request-id"));
    let metrics = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "testbed_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"}"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("testbed_http_request_duration_seconds_bucket"));

    // Swagger UI served by another service may log in here: CORS preflight is answered.
    let preflight = app
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/login", app.base))
        .header("origin", "http://127.0.0.1:8003")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success());
    assert!(
        preflight
            .headers()
            .contains_key("access-control-allow-origin")
    );
}

#[tokio::test]
async fn admin_token_guards_switches() {
    let served = Served::user_with(Backend::Embedded, |config| {
        config.common.admin_token = Some("admin-secret".into());
    })
    .await;
    let base = &served.base;
    let http = reqwest::Client::new();
    let denied = http
        .post(format!("{base}/chaos/delay"))
        .json(&json!({"delay_ms": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
    let allowed = http
        .post(format!("{base}/chaos/delay"))
        .header("x-admin-token", "admin-secret")
        .json(&json!({"delay_ms": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), StatusCode::OK);
}

#[tokio::test]
async fn production_mode_needs_a_secret() {
    let mut storage = TestStorage::new(Backend::Embedded);
    let mut common = storage.config("user");
    common.dev = false;
    let error = user_service::build(UserConfig::new(common))
        .await
        .err()
        .expect("refused");
    assert!(error.to_string().contains("JWT_SECRET"), "{error}");
}

#[tokio::test]
async fn login_is_rate_limited_per_name() {
    let served = Served::user_with(Backend::Embedded, |config| {
        config.login_attempts_per_minute = 3;
    })
    .await;
    let base = &served.base;
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = http
            .post(format!("{base}/login"))
            .json(&json!({"username": "victim", "password": "guess-guess"}))
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
    }
    assert_eq!(statuses[..3], [StatusCode::UNAUTHORIZED; 3]);
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS);
    let other = http
        .post(format!("{base}/login"))
        .json(&json!({"username": "someone-else", "password": "guess-guess"}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);
}
