//! The launcher binary, run as a user would: in a fresh temporary directory, embedded and
//! with PostgreSQL + Redis, driving the brief's basic flow, then stopped with SIGTERM; and
//! SIGTERM at 50 moments of start-up and after, each ending in a clean exit (status 0); and
//! the same for each per-service binary.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use contract::{CreateOrder, OrderClient, OrderStatus, RestaurantClient, UserClient};
use testkit::process::service_bin;
use testkit::{TempDir, database_server, free_port, redis_url, unique};

struct Launched {
    child: Child,
    user: String,
    restaurant: String,
    order: String,
    dir: TempDir,
}

fn launch(extra: &[String]) -> Launched {
    let dir = TempDir::new("launcher");
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
        .current_dir(&dir.0)
        .env("RUST_LOG", "warn")
        .env_remove("DATABASE_SERVER")
        .env_remove("REDIS_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
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

async fn basic_flow(stack: &Launched) {
    for url in [&stack.user, &stack.restaurant, &stack.order] {
        testbed_common::server::wait_ready(url, Duration::from_secs(60))
            .await
            .expect("ready");
    }
    let users = UserClient::new(&stack.user);
    let restaurants = RestaurantClient::new(&stack.restaurant);
    let orders = OrderClient::new(&stack.order);
    let token = testkit::new_user(&users).await;
    let menus = restaurants.menus().await.expect("menus");
    let before = menus.body[0].stock;
    let order = orders
        .create_order(&token, &CreateOrder::of(&[(1, 2)]))
        .await
        .expect("an order");
    assert_eq!(order.status, OrderStatus::Paid);
    let read = orders.order(&token, order.id).await.expect("the order");
    assert_eq!(read.body.status, OrderStatus::Paid);
    let cancelled = orders
        .cancel_order(&token, order.id)
        .await
        .expect("cancelled");
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    let menu = restaurants.inventory(1).await.expect("audit figures");
    assert_eq!(menu.stock, before);
    assert_eq!(menu.drift, 0);
}

fn sigterm(child: &Child) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid fits i32"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM sent");
}

/// Waits for the child to exit (bounded), and returns its status, stdout and stderr.
fn wait_exit(child: &mut Child, within: Duration) -> (ExitStatus, String, String) {
    let deadline = Instant::now() + within;
    let status = loop {
        if let Some(status) = child.try_wait().expect("child status") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the launcher did not exit within {within:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    (status, stdout, stderr)
}

fn stop(mut stack: Launched) {
    sigterm(&stack.child);
    let (status, _, stderr) = wait_exit(&mut stack.child, Duration::from_secs(30));
    assert!(status.success(), "clean shutdown: {status}\n{stderr}");
}

/// True once the process blocks or catches SIGTERM, i.e. its `main` has run its first line.
/// (Before that the kernel is still loading it: no program can handle a signal then.)
fn handles_sigterm(pid: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    let mask = |field: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|value| u64::from_str_radix(value.trim(), 16).ok())
            .unwrap_or(0)
    };
    let sigterm_bit = 1u64 << (15 - 1);
    (mask("SigBlk:") | mask("SigCgt:")) & sigterm_bit != 0
}

/// One launch, SIGTERM `delay` after spawning (or as soon as `main` runs, if later); returns
/// whether it had reported ready before the signal and how long it took to exit.
fn terminate_after(delay: Duration) -> (bool, Duration, Duration) {
    let mut stack = launch(&[]);
    let spawned = Instant::now();
    while !handles_sigterm(stack.child.id()) {
        assert!(
            spawned.elapsed() < Duration::from_secs(5),
            "SIGTERM not blocked or caught 5 s after spawning"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
    let handler_after = spawned.elapsed();
    // The handler comes first, before any service is up: the Order Service (started last)
    // is not listening yet when SIGTERM is already taken care of.
    let order_addr = stack.order.trim_start_matches("http://");
    assert!(
        std::net::TcpStream::connect(order_addr).is_err(),
        "SIGTERM handled only after start-up ({handler_after:?} after spawning)"
    );
    if let Some(rest) = delay.checked_sub(spawned.elapsed()) {
        std::thread::sleep(rest);
    }
    sigterm(&stack.child);
    let signalled = Instant::now();
    let (status, stdout, stderr) = wait_exit(&mut stack.child, Duration::from_secs(30));
    drop(stack);
    assert!(
        status.success(),
        "SIGTERM {delay:?} after spawning: clean shutdown expected, got {status}\n\
         stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (
        stdout.contains("is ready"),
        signalled.elapsed(),
        handler_after,
    )
}

#[test]
fn sigterm_at_any_moment_stops_the_launcher_cleanly() {
    const RUNS: u64 = 50;
    let (mut after_ready, mut slowest_exit, mut slowest_handler) =
        (0, Duration::ZERO, Duration::ZERO);
    for run in 0..RUNS {
        // 0, 6, 12, … 294 ms after spawning: every phase of start-up, and after it on a fast
        // machine.
        let delay = Duration::from_millis(run * 300 / RUNS);
        let (ready, exit, handler) = terminate_after(delay);
        after_ready += u32::from(ready);
        slowest_exit = slowest_exit.max(exit);
        slowest_handler = slowest_handler.max(handler);
    }
    println!(
        "signals: {RUNS} launches, SIGTERM 0–300 ms after spawning: {RUNS} clean exits (status \
         0), {} during start-up, {after_ready} after ready; slowest exit {slowest_exit:?} after \
         the signal; SIGTERM handled at most {slowest_handler:?} after spawning",
        RUNS - u64::from(after_ready)
    );
}

#[tokio::test]
async fn embedded_launcher_runs_the_basic_flow() {
    let stack = launch(&[]);
    basic_flow(&stack).await;
    for db in ["user.db", "restaurant.db", "order.db"] {
        assert!(
            stack.dir.0.join("data").join(db).exists(),
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

/// Each service binary, SIGTERM 0–135 ms after its `main` starts (migrations, connecting,
/// serving): a clean exit, status 0.
#[test]
fn service_binaries_stop_cleanly_on_sigterm_during_start_up() {
    const RUNS: u64 = 10;
    for name in ["user-service", "restaurant-service", "order-service"] {
        for run in 0..RUNS {
            let dir = TempDir::new("service-signals");
            let mut child = Command::new(service_bin(name))
                .env("TESTBED_DEV", "1")
                .env("PORT", free_port().to_string())
                .env("DATA_DIR", &dir.0)
                .env("RUST_LOG", "warn")
                .env_remove("DATABASE_URL")
                .env_remove("REDIS_URL")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("service starts");
            let spawned = Instant::now();
            while !handles_sigterm(child.id()) {
                assert!(
                    spawned.elapsed() < Duration::from_secs(5),
                    "{name}: SIGTERM not handled 5 s after spawning"
                );
                std::thread::sleep(Duration::from_micros(200));
            }
            std::thread::sleep(Duration::from_millis(run * 15));
            sigterm(&child);
            let (status, _, stderr) = wait_exit(&mut child, Duration::from_secs(30));
            assert!(
                status.success(),
                "{name}, SIGTERM {} ms into start-up: {status}\n{stderr}",
                run * 15
            );
        }
    }
}
