//! A real nginx for the gateway tests: finds the binary (failing with how to install it),
//! renders gateway/templates/default.conf.template for given upstreams with
//! scripts/render-gateway.sh (the one renderer compose, k8s and CI checks share), checks it
//! with `nginx -t`, runs nginx in the foreground on a free port with its own prefix, pid and
//! logs, and stops it (SIGQUIT, so the master takes its workers along) when dropped. Also a
//! raw HTTP/1.1 call for paths an URL parser would normalise (`..`, `//`, `%63`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The nginx binary: on PATH or Debian's /usr/sbin/nginx. Panics (never skips) without one.
pub fn binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("nginx"));
    on_path
        .chain([PathBuf::from("/usr/sbin/nginx")])
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "nginx is not installed, and the gateway tests need a real one: install it \
                 with `apt-get install nginx` (Debian/Ubuntu), or run scripts/gateway-ci.sh \
                 or scripts/test.sh, which install it"
            )
        })
}

/// A running nginx with the rendered gateway config.
pub struct Gateway {
    child: Child,
    pub url: String,
    pub addr: String,
    dir: PathBuf,
}

impl Gateway {
    /// Renders the gateway into `dir` for these upstreams (`host:port` each), checks it
    /// with `nginx -t` and starts nginx; answers once the gateway's `/health` does.
    pub async fn start(dir: &Path, user: &str, restaurant: &str, order: &str) -> Self {
        let nginx = binary();
        let addr = format!("127.0.0.1:{}", testbed_common::net::free_port());
        render(dir, &addr, [user, restaurant, order]);
        let check = Command::new(&nginx)
            .args(["-t", "-q"])
            .args(nginx_paths(dir))
            .output()
            .expect("nginx -t runs");
        assert!(
            check.status.success(),
            "nginx -t rejects the rendered config {}: {}",
            dir.join("nginx.conf").display(),
            String::from_utf8_lossy(&check.stderr)
        );
        let log = std::fs::File::create(dir.join("logs/stdout.log")).expect("nginx log file");
        let child = Command::new(&nginx)
            .args(nginx_paths(dir))
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("nginx starts");
        let mut gateway = Self {
            child,
            url: format!("http://{addr}"),
            addr,
            dir: dir.to_path_buf(),
        };
        gateway.wait_healthy().await;
        gateway
    }

    async fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let health = format!("{}/health", self.url);
        while Instant::now() < deadline {
            if let Ok(answer) = reqwest::get(&health).await
                && answer.status().is_success()
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("nginx exited ({status}): {}", self.logs());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("nginx did not answer on {health}: {}", self.logs());
    }

    /// The error log and nginx's own output, for failure messages.
    pub fn logs(&self) -> String {
        ["logs/error.log", "logs/stdout.log"]
            .iter()
            .map(|name| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        // QUIT: the master stops its workers gracefully; KILL would orphan them.
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGQUIT);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `-p DIR -e DIR/logs/error.log -c DIR/nginx.conf`: everything nginx writes stays in DIR.
fn nginx_paths(dir: &Path) -> Vec<String> {
    let dir = dir.display();
    vec![
        "-p".into(),
        format!("{dir}"),
        "-e".into(),
        format!("{dir}/logs/error.log"),
        "-c".into(),
        format!("{dir}/nginx.conf"),
    ]
}

/// scripts/render-gateway.sh --daemon-off for these upstreams into `dir`.
fn render(dir: &Path, listen: &str, [user, restaurant, order]: [&str; 3]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/render-gateway.sh");
    let rendered = Command::new("bash")
        .arg(&script)
        .args(["--daemon-off", "--port", listen])
        .args(["--user", user, "--restaurant", restaurant, "--order", order])
        .arg(dir)
        .output()
        .expect("render-gateway.sh runs");
    assert!(
        rendered.status.success(),
        "render-gateway.sh failed: {}{}",
        String::from_utf8_lossy(&rendered.stdout),
        String::from_utf8_lossy(&rendered.stderr)
    );
}

/// A raw HTTP/1.1 answer: status, headers (names lower-case) and body.
pub struct RawAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawAnswer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// `METHOD PATH` sent as written (no normalisation), with an optional JSON body.
pub async fn raw(addr: &str, method: &str, path: &str, json: Option<&str>) -> RawAnswer {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("the gateway accepts");
    let body = json.unwrap_or("");
    let content = match json {
        Some(_) => "Content-Type: application/json\r\n",
        None => "",
    };
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{content}\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("sent");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut answer))
        .await
        .expect("the gateway answers in time")
        .expect("the answer is read");
    parse(&String::from_utf8_lossy(&answer))
}

fn parse(text: &str) -> RawAnswer {
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text}"));
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    RawAnswer {
        status,
        headers,
        body: body.to_string(),
    }
}
