//! The `loadgen` command line: list, show and validate scenarios, run one and write its
//! reports, render the report of a saved run again, or merge several runs into one.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::api::Targets;
use crate::dashboard::Dashboard;
use crate::duration::{format_duration, format_micros, parse_duration};
use crate::merge;
use crate::report;
use crate::run::{RunOptions, RunRecord, start_run};
use crate::scenario;

#[derive(Parser, Debug)]
#[command(
    name = "loadgen",
    version,
    about = "Load generator and chaos scenarios for the food-delivery testbed"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the scenarios with one-line descriptions.
    List,
    /// Print a scenario file.
    Show { name: String },
    /// Check a scenario file; errors name the file and line.
    Validate { file: PathBuf },
    /// Run a scenario and write its reports; exits non-zero when an assertion fails.
    Run(Box<RunArgs>),
    /// Render the HTML (and summary/junit) again from a saved run.json, next to it.
    Report { run_json: PathBuf },
    /// Merge runs of one scenario made at once by several load processes or machines into
    /// one report; its percentiles come from their histograms added together (never
    /// averaged). Exits non-zero when an assertion fails on the merged data.
    Merge(MergeArgs),
    /// Compare a run with a baseline run: per-endpoint p50/p95/p99, throughput and error
    /// rate deltas, an HTML diff; exits 1 past a threshold (flags or the scenario's
    /// `[compare]`).
    Compare(crate::compare::CompareArgs),
}

#[derive(Args, Debug, Clone)]
pub struct MergeArgs {
    /// Run directories (<report-dir>/<scenario>/<timestamp>/, each with run.json and
    /// histograms.hlog), or their run.json files.
    #[arg(required = true, num_args = 1..)]
    pub runs: Vec<PathBuf>,
    /// Where the merged report goes (created if missing) [default: a new
    /// reports/merged/<timestamp>/ under the current directory].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// A scenario name (see `loadgen list`) or a path to a .toml file.
    pub scenario: String,
    /// Number of virtual users.
    #[arg(long)]
    pub users: Option<usize>,
    /// How long the load runs, e.g. 20s or 2m.
    #[arg(long, value_parser = parse_duration)]
    pub run_time: Option<Duration>,
    /// Open-loop mode: workflow iterations started per second, whatever the latency.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Open-loop mode: the most iterations running at once; one due beyond it is dropped
    /// and counted [default: the scenario's max_in_flight, else rate × request timeout].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_in_flight: Option<u64>,
    /// Send the public API through this gateway (e.g. http://127.0.0.1:80).
    #[arg(long, env = "LOADGEN_GATEWAY")]
    pub gateway: Option<String>,
    #[arg(long, env = "USER_URL", default_value = "http://127.0.0.1:8001")]
    pub user_url: String,
    #[arg(long, env = "RESTAURANT_URL", default_value = "http://127.0.0.1:8002")]
    pub restaurant_url: String,
    #[arg(long, env = "ORDER_URL", default_value = "http://127.0.0.1:8003")]
    pub order_url: String,
    /// Where reports go: <report-dir>/<scenario>/<timestamp>/.
    #[arg(long, default_value = "reports")]
    pub report_dir: PathBuf,
    /// Seed for workflow choice in open-loop mode.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Short mode for CI: the scenario's short users and run time (≤ 20 s).
    #[arg(long, env = "LOADGEN_SHORT", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub short: bool,
    /// Print progress lines instead of the live dashboard.
    #[arg(long)]
    pub no_dashboard: bool,
    /// Sent as X-Admin-Token on fault switches and admin calls.
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
}

impl RunArgs {
    pub fn targets(&self) -> Targets {
        Targets {
            user: self.user_url.clone(),
            restaurant: self.restaurant_url.clone(),
            order: self.order_url.clone(),
            gateway: self.gateway.clone(),
        }
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::List => {
            for entry in scenario::all_scenarios() {
                match entry {
                    Ok(s) => println!("{:<20} {}", s.name, s.description),
                    Err(e) => println!("{e}"),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Show { name } => {
            print!("{}", scenario::source_text(&name)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { file } => match scenario::load_file(&file) {
            Ok(s) => {
                println!(
                    "{}: ok — {} ({} workflows, {} faults, {} assertions)",
                    file.display(),
                    s.name,
                    s.workflows.len(),
                    s.faults.len(),
                    s.assertions.len()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{e:#}");
                Ok(ExitCode::FAILURE)
            }
        },
        Command::Report { run_json } => {
            let record = report::load_record(&run_json)?;
            let dir = run_json.parent().unwrap_or(Path::new("."));
            report::write_into(&record, dir)?;
            println!("{}", dir.join("index.html").display());
            Ok(if record.passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Merge(args) => {
            let runs = args
                .runs
                .iter()
                .map(|path| merge::load_run(path))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let record = merge::merge_runs(&runs)?;
            let dir = merge::write_merged(&record, args.out.as_deref(), &runs)?;
            for line in merge::describe_sources(&record) {
                println!("  {line}");
            }
            print_verdict(&record, &dir);
            Ok(if record.passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Compare(args) => crate::compare::command(&args),
        Command::Run(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(run_command(*args))
        }
    }
}

/// `loadgen run`: runs, prints the verdict, writes the reports.
pub async fn run_command(args: RunArgs) -> anyhow::Result<ExitCode> {
    let scenario = scenario::resolve(&args.scenario)?;
    println!("[{}] starting", scenario.name);
    let dashboard = if !args.no_dashboard && std::io::stdout().is_terminal() {
        match Dashboard::open() {
            Ok(dashboard) => Some(dashboard),
            Err(e) => {
                eprintln!("no dashboard ({e:#}): printing progress lines");
                None
            }
        }
    } else {
        None
    };
    let options = RunOptions {
        scenario,
        users: args.users,
        run_time: args.run_time,
        rate: args.rate,
        short: args.short,
        targets: args.targets(),
        admin_token: args.admin_token.clone(),
        seed: args.seed,
        progress: dashboard.is_none(),
        max_in_flight: args.max_in_flight.map(|n| n as usize),
    };
    let handle = start_run(options);
    let record = match dashboard {
        Some(dashboard) => dashboard.watch(handle).await?,
        None => wait_with_stop(handle, tokio::spawn(tokio::signal::ctrl_c())).await?,
    };
    let dir = report::write_reports(&record, &args.report_dir)?;
    print_verdict(&record, &dir);
    Ok(if record.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn wait_with_stop(
    handle: crate::run::RunHandle,
    mut ctrl_c: tokio::task::JoinHandle<std::io::Result<()>>,
) -> anyhow::Result<RunRecord> {
    loop {
        tokio::select! {
            _ = &mut ctrl_c, if !ctrl_c.is_finished() => {
                eprintln!("stopping: the report is still written");
                handle.stop();
            }
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                if handle.is_finished() {
                    ctrl_c.abort();
                    return handle.wait().await;
                }
            }
        }
    }
}

/// Prints the outcome: requests, per-endpoint latency, assertions, where the report is.
pub fn print_verdict(record: &RunRecord, dir: &Path) {
    let requests = record.total_requests();
    println!(
        "[{}] done: {} requests in {:.1}s ({:.1}/s), {} errors",
        record.scenario.name,
        requests,
        record.load_secs,
        requests as f64 / record.load_secs.max(0.001),
        record.total_errors()
    );
    for e in &record.endpoints {
        println!(
            "  {:<26} {:>7} req  p50 {:>8}  p95 {:>8}  p99 {:>8}  max {:>8}  errors {}",
            e.endpoint,
            e.requests,
            format_micros(e.latency.p50 as f64),
            format_micros(e.latency.p95 as f64),
            format_micros(e.latency.p99 as f64),
            format_micros(e.latency.max as f64),
            e.errors
        );
    }
    if let Some(check) = &record.final_check {
        for row in &check.rows {
            println!(
                "  menu {:<12} initial {} stock {} reserved {} restored {} sold {} drift {:+}",
                row.key, row.initial, row.stock, row.reserved, row.restored, row.sold, row.drift
            );
        }
    }
    for a in &record.assertions {
        let word = if a.passed { "PASS" } else { "FAIL" };
        print!("  {word} {} (line {}): {}", a.title, a.line, a.actual);
        if a.passed {
            println!();
        } else {
            println!(" — expected {}; {}", a.expected, a.detail);
        }
    }
    for note in &record.notes {
        println!("  note: {note}");
    }
    println!(
        "[{}] {} — report: {} (run {})",
        record.scenario.name,
        if record.passed { "PASSED" } else { "FAILED" },
        dir.join("index.html").display(),
        format_duration(record.config.run_time)
    );
}
