//! `testbed up`: the whole system on this machine with one command.

use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use testbed::{Stack, StackConfig};

#[derive(Parser)]
#[command(
    name = "testbed",
    version,
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
    /// The load generator, as the `loadgen` binary (e.g. `testbed loadgen run
    /// inter-service-flow`): built with the launcher, so one build serves both.
    #[command(disable_help_flag = true)]
    Loadgen {
        /// Arguments for loadgen (`testbed loadgen --help` shows its help).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<std::ffi::OsString>,
    },
}

fn main() -> anyhow::Result<ExitCode> {
    match Cli::parse().command {
        Command::Up(config) => {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(up(config))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Loadgen { args } => Ok(loadgen::cli::main_from(
            std::iter::once("loadgen".into()).chain(args),
        )),
    }
}

async fn up(config: StackConfig) -> anyhow::Result<()> {
    testbed_common::telemetry::init_tracing();
    let started = Instant::now();
    let stack = Stack::start(&config).await?;
    let storage = match (&config.database_server, &config.redis_url) {
        (Some(db), Some(redis)) => format!("PostgreSQL {db}, Redis {redis}"),
        (Some(db), None) => format!("PostgreSQL {db}, in-process cache"),
        (None, Some(redis)) => format!("SQLite in {}, Redis {redis}", config.data_dir.display()),
        (None, None) => format!("SQLite in {}, in-process cache", config.data_dir.display()),
    };
    println!();
    println!(
        "  Food-delivery chaos testbed is ready in {:.2?} ({storage})",
        started.elapsed()
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
    println!("  Try a scenario:  cargo run --release -p testbed -- loadgen run inter-service-flow");
    println!("  Ctrl-C stops everything.");
    println!();
    testbed_common::server::shutdown_signal().await;
    stack.stop().await?;
    println!("stopped");
    Ok(())
}
