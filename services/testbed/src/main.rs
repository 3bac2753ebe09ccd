//! `testbed up`: the whole system on this machine with one command.

use std::time::Instant;

use clap::{Parser, Subcommand};
use testbed::{Stack, StackConfig};
use testbed_common::signals;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "testbed",
    about = "Food-delivery chaos testbed: run the whole system locally"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the user, restaurant and order services in this process (Ctrl-C stops them).
    Up(StackConfig),
}

fn main() -> anyhow::Result<()> {
    // First: SIGTERM/SIGINT are handled from here on, also during start-up.
    signals::run(|shutdown| async move {
        testbed_common::telemetry::init_tracing();
        let Cli {
            command: Command::Up(config),
        } = Cli::parse();
        up(config, shutdown).await
    })
}

/// `testbed up`: start, print where everything is, serve until signalled, stop.
async fn up(config: StackConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    let started = Instant::now();
    let Some(stack) = Stack::start_unless(&config, &shutdown).await? else {
        println!("stopped during start-up");
        return Ok(());
    };
    print_banner(&config, &stack, started.elapsed());
    shutdown.cancelled().await;
    stack.stop().await?;
    println!("stopped");
    Ok(())
}

fn print_banner(config: &StackConfig, stack: &Stack, took: std::time::Duration) {
    let storage = match (&config.database_server, &config.redis_url) {
        (Some(db), Some(redis)) => format!("PostgreSQL {db}, Redis {redis}"),
        (Some(db), None) => format!("PostgreSQL {db}, in-process cache"),
        (None, Some(redis)) => format!("SQLite in {}, Redis {redis}", config.data_dir.display()),
        (None, None) => format!("SQLite in {}, in-process cache", config.data_dir.display()),
    };
    println!();
    println!(
        "  Food-delivery chaos testbed is ready in {:.2?} ({storage})",
        took
    );
    println!();
    println!("  service      URL                        docs");
    for (name, url) in [
        ("users", &stack.user_url),
        ("restaurants", &stack.restaurant_url),
        ("orders", &stack.order_url),
    ] {
        println!("  {name:<12} {url:<26} {url}/docs  {url}/redoc");
    }
    println!();
    println!(
        "  Gateway (NGINX, via docker compose or scripts/render-gateway.sh): http://localhost/api/…"
    );
    println!("  Try a scenario:  cargo run --release -p loadgen -- run inter-service-flow");
    println!("  Ctrl-C stops everything.");
    println!();
}
