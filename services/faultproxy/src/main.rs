//! The `faultproxy` binary: the Toxiproxy-compatible API on `--host`/`--port` (8474 by
//! default), optionally pre-populated from a Toxiproxy config file (`--config`), until
//! SIGINT/SIGTERM.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use faultproxy::{FaultProxy, ProxySpec};
use tokio::signal::unix::{SignalKind, signal};

#[derive(Parser)]
#[command(about = "TCP fault proxy with a Toxiproxy 2.x compatible REST API")]
struct Args {
    /// Address the API listens on.
    #[arg(long, default_value = "127.0.0.1", env = "FAULTPROXY_HOST")]
    host: String,
    /// Port the API listens on (0: any free port, printed on start).
    #[arg(long, default_value_t = 8474, env = "FAULTPROXY_PORT")]
    port: u16,
    /// A JSON array of proxies (`[{"name", "listen", "upstream", "enabled"}]`) to create.
    #[arg(long)]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Signals first: a SIGTERM during start-up still ends the process cleanly.
    let mut terminate = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    // Logs on stderr: stdout carries only the address line scripts read.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "faultproxy=info".into()),
        )
        .init();
    let args = Args::parse();
    let proxy = FaultProxy::start((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("binding the API on {}:{}", args.host, args.port))?;
    if let Some(path) = &args.config {
        populate_from_file(&proxy, path).await?;
    }
    // One line on stdout, for scripts that started it on port 0.
    println!("faultproxy API listening on {}", proxy.api_addr());
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    proxy.shutdown().await;
    Ok(())
}

async fn populate_from_file(proxy: &FaultProxy, path: &PathBuf) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let items: Vec<serde_json::Value> =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let mut specs = Vec::with_capacity(items.len());
    for item in items {
        let field = |key: &str| {
            item.get(key)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        specs.push(ProxySpec {
            name: field("name"),
            listen: field("listen"),
            upstream: field("upstream"),
            enabled: item
                .get("enabled")
                .and_then(|v| v.as_bool())
                .unwrap_or(true),
        });
    }
    let (created, error) = proxy.registry().populate(specs).await;
    if let Some(error) = error {
        anyhow::bail!("populating from {}: {}", path.display(), error.error);
    }
    tracing::info!(
        proxies = created.len(),
        "populated proxies from {}",
        path.display()
    );
    Ok(())
}
