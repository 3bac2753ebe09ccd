//! `testbed up --processes` (issue 13): each service its own child process, driven through
//! the control API on embedded SQLite and free ports — kill the Order Service (state
//! `exited`, orders fail), start it (orders work), stop one (SIGTERM, clean exit 0), pause
//! the Restaurant Service (a request to it times out), resume it (it answers), the admin
//! token guard, unknown names (404) and wrong states (409); then SIGTERM to the launcher
//! stops every child and exits 0.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use contract::{CreateOrder, UserClient};
use reqwest::StatusCode;
use serde_json::Value;
use testkit::{TempDir, free_port};

const ADMIN: &str = "control-test-admin-token";

struct Launcher {
    child: Child,
    _dir: TempDir,
    control: String,
    user: String,
    restaurant: String,
    order: String,
}

impl Drop for Launcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn launch() -> Launcher {
    let dir = TempDir::new("processes");
    let ports = [free_port(), free_port(), free_port(), free_port()];
    let child = Command::new(env!("CARGO_BIN_EXE_testbed"))
        .args([
            "up".to_string(),
            "--processes".to_string(),
            format!("--user-port={}", ports[0]),
            format!("--restaurant-port={}", ports[1]),
            format!("--order-port={}", ports[2]),
            format!("--control-port={}", ports[3]),
        ])
        .current_dir(&dir.0)
        .env("RUST_LOG", "warn")
        .env("ADMIN_TOKEN", ADMIN)
        .env_remove("DATABASE_SERVER")
        .env_remove("REDIS_URL")
        .stdout(Stdio::piped())
        .spawn()
        .expect("launcher starts");
    let url = |port: u16| format!("http://127.0.0.1:{port}");
    Launcher {
        child,
        _dir: dir,
        control: url(ports[3]),
        user: url(ports[0]),
        restaurant: url(ports[1]),
        order: url(ports[2]),
    }
}

/// A control API call with the admin token: status and JSON body.
async fn control(http: &reqwest::Client, launcher: &Launcher, path: &str) -> (StatusCode, Value) {
    let url = format!("{}{path}", launcher.control);
    let request = if path == "/processes" {
        http.get(url)
    } else {
        http.post(url)
    };
    let response = request
        .header("X-Admin-Token", ADMIN)
        .send()
        .await
        .expect("control API answers");
    let status = response.status();
    (status, response.json().await.expect("JSON body"))
}

async fn wait_control_api(http: &reqwest::Client, launcher: &Launcher) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = http
            .get(format!("{}/processes", launcher.control))
            .header("X-Admin-Token", ADMIN)
            .send()
            .await
            && response.status().is_success()
        {
            return;
        }
        assert!(Instant::now() < deadline, "control API not up within 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn process<'a>(list: &'a Value, service: &str) -> &'a Value {
    list.as_array()
        .and_then(|all| all.iter().find(|p| p["service"] == service))
        .unwrap_or_else(|| panic!("{service} in {list}"))
}

async fn new_token(http: &reqwest::Client, launcher: &Launcher) -> String {
    testkit::new_user(&UserClient::with_http(http.clone(), &launcher.user)).await
}

async fn place_order(
    http: &reqwest::Client,
    launcher: &Launcher,
    token: &str,
) -> reqwest::Result<StatusCode> {
    let response = http
        .post(format!("{}/orders", launcher.order))
        .bearer_auth(token)
        .json(&CreateOrder::of(&[(1, 1)]))
        .send()
        .await?;
    Ok(response.status())
}

/// Kill the Order Service, see it `exited` and orders fail; start it, orders work again.
async fn kill_and_start_the_order_service(http: &reqwest::Client, launcher: &Launcher) {
    let token = new_token(http, launcher).await;
    assert_eq!(
        place_order(http, launcher, &token).await.ok(),
        Some(StatusCode::CREATED)
    );
    let (status, killed) = control(http, launcher, "/processes/order/kill").await;
    assert_eq!(status, StatusCode::OK, "{killed}");
    assert_eq!(killed["state"], "exited", "{killed}");
    assert!(
        killed["exit_status"]
            .as_str()
            .is_some_and(|s| s.contains("SIGKILL")),
        "{killed}"
    );
    let (_, list) = control(http, launcher, "/processes").await;
    assert_eq!(process(&list, "order")["state"], "exited", "{list}");
    assert!(
        place_order(http, launcher, &token).await.is_err(),
        "no Order Service"
    );

    let (status, started) = control(http, launcher, "/processes/order/start").await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert_eq!(started["state"], "running");
    assert_eq!(started["restarts"], 1);
    assert!(started["pid"].as_u64().is_some_and(|pid| pid > 0));
    assert_eq!(
        place_order(http, launcher, &token).await.ok(),
        Some(StatusCode::CREATED)
    );
}

/// Pause the Restaurant Service: a request to it times out; resume: it answers.
async fn pause_and_resume_the_restaurant_service(http: &reqwest::Client, launcher: &Launcher) {
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .expect("HTTP client");
    let health = format!("{}/health", launcher.restaurant);
    let (status, paused) = control(http, launcher, "/processes/restaurant/pause").await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    assert_eq!(paused["state"], "paused");
    let frozen = impatient.get(&health).send().await;
    assert!(
        frozen
            .as_ref()
            .err()
            .is_some_and(reqwest::Error::is_timeout),
        "a paused service does not answer: {frozen:?}"
    );
    let (status, again) = control(http, launcher, "/processes/restaurant/pause").await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["error"], "wrong_state");

    let (status, resumed) = control(http, launcher, "/processes/restaurant/resume").await;
    assert_eq!(status, StatusCode::OK, "{resumed}");
    assert_eq!(resumed["state"], "running");
    let answered = impatient.get(&health).send().await.expect("answers again");
    assert_eq!(answered.status(), StatusCode::OK);
}

/// Stop (SIGTERM: the service exits 0) and restart the User Service.
async fn stop_and_restart_the_user_service(http: &reqwest::Client, launcher: &Launcher) {
    let (status, stopped) = control(http, launcher, "/processes/user/stop").await;
    assert_eq!(status, StatusCode::OK, "{stopped}");
    assert_eq!(stopped["state"], "stopped");
    assert_eq!(stopped["exit_status"], "exit status: 0", "{stopped}");
    let (status, refused) = control(http, launcher, "/processes/user/resume").await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    let (status, restarted) = control(http, launcher, "/processes/user/restart").await;
    assert_eq!(status, StatusCode::OK, "{restarted}");
    assert_eq!(restarted["state"], "running");
    let (status, restarted) = control(http, launcher, "/processes/user/restart").await;
    assert_eq!(status, StatusCode::OK, "{restarted}");
    assert_eq!(restarted["restarts"], 2);
}

async fn bad_requests_are_json_errors(http: &reqwest::Client, launcher: &Launcher) {
    let (status, unknown) = control(http, launcher, "/processes/payments/kill").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(unknown["error"], "unknown_service");
    let (status, action) = control(http, launcher, "/processes/order/explode").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(action["error"], "not_found");
    let (status, running) = control(http, launcher, "/processes/order/resume").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(running["error"], "wrong_state");
    assert_eq!(running["state"], "running");
    let anonymous = http
        .post(format!("{}/processes/order/kill", launcher.control))
        .send()
        .await
        .expect("answer");
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let body: Value = anonymous.json().await.expect("JSON");
    assert_eq!(body["error"], "admin_token_required");
}

/// SIGTERM to the launcher: exit 0, and no child left running.
fn terminate(launcher: &mut Launcher, pids: &[u64]) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(launcher.child.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = launcher.child.try_wait().expect("status") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "launcher still running 30 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    if let Some(mut out) = launcher.child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    assert!(status.success(), "clean shutdown: {status}\n{stdout}");
    assert!(
        stdout.contains("/processes"),
        "the banner names the control API"
    );
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "child {pid} still there"
        );
    }
}

#[tokio::test]
async fn supervised_processes_are_controlled_through_the_api() {
    let started = Instant::now();
    let mut launcher = launch();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(40))
        .build()
        .expect("HTTP client");
    wait_control_api(&http, &launcher).await;
    let (status, list) = control(&http, &launcher, "/processes").await;
    assert_eq!(status, StatusCode::OK);
    for service in ["user", "restaurant", "order"] {
        let view = process(&list, service);
        assert_eq!(view["state"], "running", "{list}");
        assert_eq!(view["restarts"], 0);
        assert!(view["pid"].as_u64().is_some_and(|pid| pid > 0), "{list}");
    }
    assert_ne!(
        process(&list, "user")["pid"],
        process(&list, "order")["pid"]
    );

    kill_and_start_the_order_service(&http, &launcher).await;
    pause_and_resume_the_restaurant_service(&http, &launcher).await;
    stop_and_restart_the_user_service(&http, &launcher).await;
    bad_requests_are_json_errors(&http, &launcher).await;

    let (_, list) = control(&http, &launcher, "/processes").await;
    let pids: Vec<u64> = ["user", "restaurant", "order"]
        .iter()
        .filter_map(|service| process(&list, service)["pid"].as_u64())
        .collect();
    assert_eq!(pids.len(), 3, "{list}");
    terminate(&mut launcher, &pids);
    println!("processes: control API test took {:.1?}", started.elapsed());
}

/// A child that cannot start (its port is taken) fails the launch at once, with the reason,
/// and leaves nothing running.
#[test]
fn a_child_that_cannot_start_fails_the_launch_quickly() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port to occupy");
    let port = taken.local_addr().expect("bound").port();
    let dir = TempDir::new("processes-fail");
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_testbed"))
        .args([
            "up".to_string(),
            "--processes".to_string(),
            format!("--user-port={port}"),
            format!("--restaurant-port={}", free_port()),
            format!("--order-port={}", free_port()),
            format!("--control-port={}", free_port()),
        ])
        .current_dir(&dir.0)
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_SERVER")
        .env_remove("REDIS_URL")
        .output()
        .expect("launcher runs");
    drop(dir);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a failed start-up is an error");
    assert!(
        stderr.contains("user exited while starting"),
        "the reason is given: {stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "told at once, not after the readiness timeout: {:?}",
        started.elapsed()
    );
}
