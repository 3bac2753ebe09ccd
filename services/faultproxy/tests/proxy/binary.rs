//! The `faultproxy` binary: starts on a free port, creates the proxies of a `--config` file,
//! says where its API listens, and ends cleanly (exit 0) on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

#[tokio::test]
async fn the_binary_populates_from_config_and_stops_on_sigterm() {
    let config =
        std::env::temp_dir().join(format!("faultproxy-config-{}.json", std::process::id()));
    let proxies = json!([{"name": "cfg", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9"}]);
    std::fs::write(&config, proxies.to_string()).expect("write config");
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultproxy"))
        .args(["--port", "0", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start faultproxy");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    let line = tokio::time::timeout(Duration::from_secs(30), line)
        .await
        .expect("started in time")
        .expect("join")
        .expect("read line");
    let addr = line
        .trim()
        .strip_prefix("faultproxy API listening on ")
        .expect("address line");

    let listed: Value = reqwest::get(format!("http://{addr}/proxies"))
        .await
        .expect("API answers")
        .json()
        .await
        .expect("json");
    assert_eq!(listed["cfg"]["upstream"], "127.0.0.1:9");
    assert_eq!(listed["cfg"]["enabled"], true);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(killed.expect("kill runs").success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("wait");
    let _ = std::fs::remove_file(&config);
    assert!(status.success(), "clean shutdown on SIGTERM: {status}");
}
