//! The launcher binary, run as a user would: in a fresh temporary directory, embedded and
//! with PostgreSQL + Redis, driving the brief's basic flow, then stopped with SIGTERM.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use testbed_common::testing::{database_server, free_port, redis_url, unique};

struct Launched {
    child: Child,
    user: String,
    restaurant: String,
    order: String,
    dir: std::path::PathBuf,
}

fn launch(extra: &[String]) -> Launched {
    let dir = std::env::temp_dir().join(unique("launcher"));
    std::fs::create_dir_all(&dir).unwrap();
    let ports = [free_port(), free_port(), free_port()];
    let mut args = vec![
        "up".to_string(),
        format!("--user-port={}", ports[0]),
        format!("--restaurant-port={}", ports[1]),
        format!("--order-port={}", ports[2]),
    ];
    args.extend_from_slice(extra);
    let child = Command::new(env!("CARGO_BIN_EXE_testbed"))
        .args(&args)
        .current_dir(&dir)
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_SERVER")
        .env_remove("REDIS_URL")
        .stdout(Stdio::piped())
        .spawn()
        .expect("launcher starts");
    Launched {
        child,
        user: format!("http://127.0.0.1:{}", ports[0]),
        restaurant: format!("http://127.0.0.1:{}", ports[1]),
        order: format!("http://127.0.0.1:{}", ports[2]),
        dir,
    }
}

async fn post(
    http: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let mut request = http.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn basic_flow(stack: &Launched) {
    for url in [&stack.user, &stack.restaurant, &stack.order] {
        testbed_common::server::wait_ready(url, Duration::from_secs(60))
            .await
            .expect("ready");
    }
    let http = reqwest::Client::new();
    let name = unique("newcomer");
    let (status, _) = post(
        &http,
        format!("{}/signup", stack.user),
        None,
        json!({"username": name, "password": "s3cret-pass"}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, login) = post(
        &http,
        format!("{}/login", stack.user),
        None,
        json!({"username": name, "password": "s3cret-pass"}),
    )
    .await;
    assert_eq!(status, 200);
    let token = login["access_token"].as_str().unwrap().to_string();
    let menus: Value = http
        .get(format!("{}/menus", stack.restaurant))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let before = menus[0]["stock"].as_i64().unwrap();
    let (status, order) = post(
        &http,
        format!("{}/orders", stack.order),
        Some(&token),
        json!({"items": [{"menu_id": 1, "quantity": 2}], "address": "Seoul Gangnam-gu 123-45", "phone": "010-1234-5678"}),
    )
    .await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["status"], "PAID");
    let id = order["id"].as_i64().unwrap();
    let read: Value = http
        .get(format!("{}/orders/{id}", stack.order))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["status"], "PAID");
    let (status, cancelled) = post(
        &http,
        format!("{}/orders/{id}/cancel", stack.order),
        Some(&token),
        json!({}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(cancelled["status"], "CANCELLED");
    let menu: Value = http
        .get(format!("{}/inventory/1", stack.restaurant))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(menu["stock"].as_i64().unwrap(), before);
    assert_eq!(menu["drift"], 0);
}

fn stop(mut stack: Launched) {
    let pid = stack.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let status = stack.child.wait().unwrap();
    assert!(status.success(), "clean shutdown: {status}");
    let _ = std::fs::remove_dir_all(&stack.dir);
}

#[tokio::test]
async fn embedded_launcher_runs_the_basic_flow() {
    let stack = launch(&[]);
    basic_flow(&stack).await;
    for db in ["user.db", "restaurant.db", "order.db"] {
        assert!(
            stack.dir.join("data").join(db).exists(),
            "{db} in the data directory"
        );
    }
    stop(stack);
}

#[tokio::test]
async fn launcher_with_postgres_and_redis() {
    let prefix = format!("{}_", unique("launch"));
    let stack = launch(&[
        format!("--database-server={}", database_server()),
        format!("--database-prefix={prefix}"),
        format!("--redis-url={}", redis_url()),
        format!("--cache-prefix={prefix}"),
    ]);
    basic_flow(&stack).await;
    stop(stack);
    for db in ["users", "restaurants", "orders"] {
        testbed_common::db::drop_postgres_database(&format!("{}/{prefix}{db}", database_server()))
            .await
            .unwrap();
    }
}
