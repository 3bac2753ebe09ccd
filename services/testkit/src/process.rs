//! Child processes a test owns, killed and reaped when dropped: a service binary from this
//! workspace, a private `redis-server` and a private PostgreSQL cluster (never the shared
//! servers, which other tests use), for tests that kill, pause or restart them.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use testbed_common::net::free_port;

use crate::storage::unique;

/// A service binary from this workspace's target directory (next to this test's `deps/`).
/// `scripts/test.sh` builds them before the tests; `cargo nextest run --workspace` does too.
pub fn service_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test executable");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile> above the test executable");
    let bin = dir.join(name);
    assert!(
        bin.is_file(),
        "{} is missing: build the service binaries first with \
         `cargo build -p user-service -p restaurant-service -p order-service --bins` \
         (scripts/test.sh does this before the tests)",
        bin.display()
    );
    bin
}

/// One service binary run as a child process; SIGKILLed and reaped when dropped.
pub struct Service {
    pub name: &'static str,
    pub port: u16,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl Service {
    pub fn new(name: &'static str, log_dir: &Path, env: Vec<(String, String)>) -> Self {
        Self {
            name,
            port: free_port(),
            env,
            log: log_dir.join(format!("{name}.log")),
            child: None,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the binary (again, after a kill: same port, same environment).
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("service log file");
        let err = log.try_clone().expect("service log file");
        let child = Command::new(service_bin(self.name))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOST", "127.0.0.1")
            .env("PORT", self.port.to_string())
            .env("TESTBED_DEV", "1")
            .env("RUST_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", self.name));
        self.child = Some(child);
    }

    /// Waits for `/ready`; on failure shows the end of the service's log.
    pub async fn wait_ready(&mut self) {
        if let Err(e) =
            testbed_common::server::wait_ready(&self.url(), Duration::from_secs(60)).await
        {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            panic!(
                "{} not ready ({e}); exit status {exited:?}; log:\n{}",
                self.name,
                self.log_tail()
            );
        }
    }

    /// The running child's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `kill -9`, then reap.
    pub fn kill9(&mut self) {
        reap(&mut self.child);
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A private `redis-server` on a free port (never the shared one on 6379).
pub struct PrivateRedis {
    pub port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    pub fn start() -> Self {
        let mut redis = Self {
            port: free_port(),
            child: None,
        };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on its port and waits until it answers PING.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "Redis is already running");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts (apt-get install redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.answers() {
            assert!(
                Instant::now() < deadline,
                "redis-server on {} did not answer",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn answers(&self) -> bool {
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let mut buf = [0u8; 16];
        stream.write_all(b"PING\r\n").is_ok()
            && stream
                .read(&mut buf)
                .is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
    }

    pub fn kill9(&mut self) {
        reap(&mut self.child);
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A private PostgreSQL cluster (initdb in a temporary directory, trust auth, a free port),
/// never the shared server. As root, its commands run as the `postgres` user.
pub struct PrivateCluster {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
}

impl PrivateCluster {
    /// The binaries: `PG_BIN_DIR`, or the newest `/usr/lib/postgresql/<v>/bin`.
    fn bin_dir() -> PathBuf {
        if let Ok(dir) = std::env::var("PG_BIN_DIR") {
            return PathBuf::from(dir);
        }
        let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
                let bin = entry.path().join("bin");
                bin.join("initdb").is_file().then_some((version, bin))
            })
            .collect();
        found.sort();
        found
            .pop()
            .map(|(_, bin)| bin)
            .expect("PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin or PG_BIN_DIR")
    }

    fn run(&self, tool: &str, args: &[&str]) -> std::process::Output {
        let program = self.bin.join(tool);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        command
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("{tool} runs: {e}"))
    }

    fn check(&self, tool: &str, args: &[&str]) {
        let out = self.run(tool, args);
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}\n{}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
        );
    }

    pub fn start() -> Self {
        let is_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let dir = std::env::temp_dir().join(unique("pgcluster"));
        std::fs::create_dir_all(&dir).expect("cluster directory");
        if is_root {
            let chown = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .expect("chown runs");
            assert!(chown.success(), "chown postgres {}", dir.display());
        }
        let cluster = Self {
            port: free_port(),
            dir,
            bin: Self::bin_dir(),
            as_postgres: is_root,
        };
        let data = cluster.data();
        cluster.check(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "-N"],
        );
        cluster.pg_start();
        cluster
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    pub fn server_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }

    pub fn pg_start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=120",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log").display().to_string();
        self.check(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// Stops the server the hard way (like a crash: in-flight transactions are lost, and
    /// committed ones must survive through the WAL).
    pub fn pg_stop_immediate(&self) {
        self.check(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Kills (SIGKILL) and reaps `child`, if it is running.
pub fn reap(child: &mut Option<Child>) {
    if let Some(mut child) = child.take() {
        let _ = child.kill();
        let _ = child.wait();
    }
}
