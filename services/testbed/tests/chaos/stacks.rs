//! The stacks the chaos tests fault, every port picked freely: the launcher's in-process
//! stack behind the fault proxy, and `testbed up --processes --fault-proxy` as a child of
//! the test — asked to stop with SIGTERM when dropped, so it stops its own children (a
//! SIGKILL would orphan them), and killed if it has not stopped within 30 s.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use testkit::{TempDir, free_port};

/// The in-process stack behind the fault proxy, on embedded storage in `dir` (no
/// postgres/redis links); PENDING orders time out after 2 s.
pub fn proxied_config(dir: &TempDir) -> testbed::StackConfig {
    let mut config = testbed::StackConfig::embedded(dir.0.clone());
    (config.user_port, config.restaurant_port, config.order_port) = (0, 0, 0);
    config.fault_proxy = true;
    config.fault_proxy_port = 0;
    config.pending_timeout_secs = 2;
    config
}

/// [`proxied_config`]'s stack, started.
pub async fn proxied_stack(dir: &TempDir) -> testbed::Stack {
    testbed::Stack::start(&proxied_config(dir))
        .await
        .expect("stack starts")
}

/// `testbed up --processes --fault-proxy`, a child of the test.
pub struct Launcher {
    pub child: Child,
    pub user: String,
    pub restaurant: String,
    pub order: String,
    pub control: String,
    /// The fault proxy's Toxiproxy API.
    pub proxy_api: String,
    /// Its working directory (SQLite files, logs), removed after it stopped.
    _dir: TempDir,
}

impl Launcher {
    /// Starts it (PENDING orders time out after 2 s), requiring `admin` for admin calls
    /// when given.
    pub fn start(name: &str, admin: Option<&str>) -> Self {
        let dir = TempDir::new(name);
        let ports: Vec<u16> = (0..5).map(|_| free_port()).collect();
        let mut command = Command::new(env!("CARGO_BIN_EXE_testbed"));
        command
            .args(["up", "--processes", "--fault-proxy"])
            .arg("--pending-timeout-secs=2")
            .arg(format!("--user-port={}", ports[0]))
            .arg(format!("--restaurant-port={}", ports[1]))
            .arg(format!("--order-port={}", ports[2]))
            .arg(format!("--control-port={}", ports[3]))
            .arg(format!("--fault-proxy-port={}", ports[4]))
            .current_dir(&dir.0)
            .env("RUST_LOG", "warn")
            .env_remove("ADMIN_TOKEN")
            .env_remove("DATABASE_SERVER")
            .env_remove("REDIS_URL")
            .stdout(Stdio::null());
        if let Some(admin) = admin {
            command.env("ADMIN_TOKEN", admin);
        }
        let child = command.spawn().expect("launcher starts");
        let url = |port: u16| format!("http://127.0.0.1:{port}");
        Self {
            child,
            user: url(ports[0]),
            restaurant: url(ports[1]),
            order: url(ports[2]),
            control: url(ports[3]),
            proxy_api: url(ports[4]),
            _dir: dir,
        }
    }

    /// Waits until the Order Service answers `/ready` through its link (90 s at most);
    /// fails at once if the launcher exits.
    pub async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while testbed_common::server::wait_ready(&self.order, Duration::from_secs(1))
            .await
            .is_err()
        {
            let exited = self.child.try_wait().expect("launcher status");
            assert!(exited.is_none(), "launcher exited: {exited:?}");
            assert!(
                Instant::now() < deadline,
                "the stack is not ready through its links in 90 s"
            );
        }
    }
}

impl Drop for Launcher {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
