//! `testbed up`: the whole system on this machine with one command; `testbed audit`: its
//! books checked (see [`testbed::audit`]).

use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use testbed::processes::Processes;
use testbed::roles::Role;
use testbed::{Stack, StackConfig};
use testbed_common::signals;
use tokio_util::sync::CancellationToken;

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
    /// Start the user, restaurant and order services (Ctrl-C stops them): in this process,
    /// or with `--processes` each as its own supervised child process.
    Up(UpArgs),
    /// Run one service in this process (what `up --processes` starts for each service).
    Serve {
        #[command(subcommand)]
        role: Role,
    },
    /// Print a service token for direct stock calls at the Restaurant Service (reserve,
    /// restore), minted from the Order → Restaurant link secret an operator holds.
    ServiceToken {
        /// The link secret (the same SERVICE_TOKEN_SECRET the services run with).
        #[arg(long, env = "SERVICE_TOKEN_SECRET", hide_env_values = true)]
        secret: String,
        /// Lifetime of the token in seconds.
        #[arg(long, default_value_t = 300)]
        ttl_secs: i64,
    },
    /// Print a user's bearer token: signs the name up (a taken name is fine) and logs in
    /// through the contract's client, for scripts that call the API with curl.
    UserToken {
        /// The User Service, e.g. http://127.0.0.1:8001.
        #[arg(long)]
        user_url: String,
        #[arg(long)]
        username: String,
        #[arg(long)]
        password: String,
    },
    /// Check the books of a running stack: every menu's stock at drift 0 (`GET /inventory`),
    /// optionally one menu's reserved units, and nothing PENDING (`GET /orders/stats`).
    /// Prints a one-line verdict; exits 0 when they balance, 1 when not, 2 when they cannot
    /// be read.
    Audit(testbed::audit::AuditArgs),
    /// The load generator, as the `loadgen` binary (e.g. `testbed loadgen run
    /// inter-service-flow`): built with the launcher, so one build serves both.
    #[command(disable_help_flag = true)]
    Loadgen {
        /// Arguments for loadgen (`testbed loadgen --help` shows its help).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<std::ffi::OsString>,
    },
}

#[derive(clap::Args)]
struct UpArgs {
    #[command(flatten)]
    stack: StackConfig,
    /// Run each service as its own child process, with a control API to kill, stop, start,
    /// pause, resume and restart them.
    #[arg(long)]
    processes: bool,
    /// Port of the control API (with `--processes`; 0 picks a free port).
    #[arg(long, default_value_t = 8000)]
    control_port: u16,
}

fn main() -> anyhow::Result<ExitCode> {
    // The load generator runs as its own program: it handles its own signals (its dashboard
    // owns the terminal), so it is dispatched before the launcher's handlers go in.
    let mut args = std::env::args_os();
    if args.nth(1).is_some_and(|first| first == "loadgen") {
        let loadgen_args = std::iter::once("loadgen".into()).chain(args);
        return Ok(loadgen::cli::main_from(loadgen_args));
    }
    // First: SIGTERM/SIGINT are handled from here on, also during start-up.
    signals::run(|shutdown| async move {
        testbed_common::telemetry::init_tracing();
        let served = match Cli::parse().command {
            Command::Up(args) if args.processes => up_processes(args, shutdown).await,
            Command::Up(args) => up(args.stack, shutdown).await,
            Command::Serve { role } => testbed::roles::serve(role, shutdown).await,
            Command::ServiceToken { secret, ttl_secs } => {
                println!("{}", testbed::mint_service_token(&secret, ttl_secs)?);
                Ok(())
            }
            Command::UserToken {
                user_url,
                username,
                password,
            } => {
                println!(
                    "{}",
                    testbed::user_token(&user_url, &username, &password).await?
                );
                Ok(())
            }
            // `testbed audit` answers with its own exit code.
            Command::Audit(args) => return Ok(testbed::audit::run(&args).await),
            Command::Loadgen { .. } => {
                anyhow::bail!("the load generator runs as `testbed loadgen …`")
            }
        };
        served.map(|()| ExitCode::SUCCESS)
    })
}

/// `testbed up`: start, print where everything is, serve until signalled, stop.
async fn up(config: StackConfig, shutdown: CancellationToken) -> anyhow::Result<()> {
    let started = Instant::now();
    let Some(stack) = Stack::start_unless(&config, &shutdown).await? else {
        println!("stopped during start-up");
        return Ok(());
    };
    let urls = [&stack.user_url, &stack.restaurant_url, &stack.order_url];
    print_banner(&config, urls, started.elapsed());
    print_links(stack.fault_links());
    serve_until_signalled(&shutdown, stack.stop()).await
}

/// `testbed up --processes`: the same, each service a supervised child process.
async fn up_processes(mut args: UpArgs, shutdown: CancellationToken) -> anyhow::Result<()> {
    let started = Instant::now();
    let config = &mut args.stack;
    // Children must be told their ports: 0 becomes a port that is free now.
    for port in [
        &mut config.user_port,
        &mut config.restaurant_port,
        &mut config.order_port,
    ] {
        if *port == 0 {
            *port = testbed_common::net::free_port();
        }
    }
    let Some(processes) = Processes::start_unless(config, args.control_port, &shutdown).await?
    else {
        println!("stopped during start-up");
        return Ok(());
    };
    let urls = [
        &processes.user_url,
        &processes.restaurant_url,
        &processes.order_url,
    ];
    print_banner(config, urls, started.elapsed());
    print_links(processes.fault_links());
    let control = &processes.control_url;
    println!("  Each service is its own process. Control API: {control}/processes");
    println!(
        "    curl -X POST {control}/processes/order/kill   (also stop, start, pause, resume, restart)"
    );
    serve_until_signalled(&shutdown, processes.stop()).await
}

/// The end of both `up` modes: say how to stop, wait for Ctrl-C or SIGTERM, then run `stop`
/// (which only starts when awaited) and say so.
async fn serve_until_signalled(
    shutdown: &CancellationToken,
    stop: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    println!("  Ctrl-C stops everything.");
    println!();
    shutdown.cancelled().await;
    stop.await?;
    println!("stopped");
    Ok(())
}

/// The fault proxy's API and links, when the stack has them.
fn print_links(links: Option<&testbed::links::FaultLinks>) {
    let Some(links) = links else { return };
    let api = links.api_url();
    println!();
    println!("  Fault proxy (Toxiproxy API, loopback only, no token): {api}/proxies");
    println!("    links: {}", links.names().join(", "));
    println!(
        "    curl -X POST {api}/proxies/order-%3Erestaurant/toxics -d '{{\"type\":\"latency\",\"attributes\":{{\"latency\":300}}}}'"
    );
}

fn print_banner(config: &StackConfig, urls: [&String; 3], took: std::time::Duration) {
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
    for (name, url) in ["users", "restaurants", "orders"].into_iter().zip(urls) {
        println!("  {name:<12} {url:<26} {url}/docs  {url}/redoc");
    }
    println!();
    println!(
        "  Gateway (NGINX, via docker compose or scripts/render-gateway.sh): http://localhost/api/…"
    );
    println!("  Try a scenario:  cargo run -p testbed -- loadgen run inter-service-flow");
}
