//! The `loadgen` command line: list, show and validate scenarios, run one and write its
//! reports, render the report of a saved run again, or merge several runs into one.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

use crate::api::Targets;
use crate::chaos_driver::{ChaosDriver, ChaosTargets};
use crate::dashboard::Dashboard;
use crate::duration::{format_duration, format_micros, parse_duration};
use crate::merge;
use crate::report;
use crate::run::{RunOptions, RunRecord, start_run};
use crate::scenario;

/// Shown under `--help`: the variables that are not tied to one flag, and the exit codes.
const AFTER_HELP: &str = "\
Environment: every flag that has an environment variable shows it as [env: NAME]; \
LOADGEN_SCENARIOS is the directory searched first for named scenarios (<name>.toml; \
the shipped scenarios are built in, and a file of the same name there wins).

Exit codes: 0 passed / ok, 1 an assertion failed or a scenario file is broken, \
2 a usage or setup error.";

#[derive(Parser, Debug)]
#[command(
    name = "loadgen",
    version,
    about = "Load generator and chaos scenarios for the food-delivery testbed",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// Directory searched first for named scenarios (<name>.toml); the shipped ones are
    /// built in.
    #[arg(
        long,
        global = true,
        env = "LOADGEN_SCENARIOS",
        default_value = "scenarios",
        value_name = "DIR"
    )]
    pub scenarios: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the scenarios with one-line descriptions; exits 1 when a scenario file is broken.
    List {
        /// Print a JSON array (name, description, source, counts, or the error) instead.
        #[arg(long)]
        json: bool,
    },
    /// Print a scenario file.
    Show {
        /// A scenario name (see `loadgen list`) or a path to a .toml file.
        scenario: String,
    },
    /// Check a scenario, by name or path; errors name the file and line.
    Validate {
        /// A scenario name (see `loadgen list`) or a path to a .toml file.
        scenario: String,
    },
    /// Run a scenario and write its reports; exits non-zero when an assertion fails.
    Run(Box<RunArgs>),
    /// Render the HTML (and summary/junit) again from a saved run.json, next to it.
    Report {
        /// The run.json of a saved run.
        run_json: PathBuf,
    },
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
    /// Number of virtual users (default: the scenario's).
    #[arg(short = 'u', long, env = "LOADGEN_USERS")]
    pub users: Option<usize>,
    /// How long the load runs, e.g. 20s or 2m (default: the scenario's).
    #[arg(short = 't', long, env = "LOADGEN_RUN_TIME", value_parser = parse_duration)]
    pub run_time: Option<Duration>,
    /// Open-loop mode: workflow iterations started per second, whatever the latency.
    #[arg(short = 'r', long, env = "LOADGEN_RATE")]
    pub rate: Option<f64>,
    /// Open-loop mode: the most iterations running at once; one due beyond it is dropped
    /// and counted [default: the scenario's max_in_flight, else rate × request timeout].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_in_flight: Option<u64>,
    /// Send the public API through this gateway (e.g. http://127.0.0.1:80).
    #[arg(long, env = "LOADGEN_GATEWAY")]
    pub gateway: Option<String>,
    /// User Service base URL (setup, fault switches, and the API without a gateway).
    #[arg(long, env = "USER_URL", default_value = "http://127.0.0.1:8001")]
    pub user_url: String,
    /// Restaurant Service base URL.
    #[arg(long, env = "RESTAURANT_URL", default_value = "http://127.0.0.1:8002")]
    pub restaurant_url: String,
    /// Order Service base URL.
    #[arg(long, env = "ORDER_URL", default_value = "http://127.0.0.1:8003")]
    pub order_url: String,
    /// Where reports go: a new <report-dir>/<scenario>/<timestamp>/.
    #[arg(
        long,
        env = "LOADGEN_REPORT_DIR",
        default_value = "reports",
        value_name = "DIR"
    )]
    pub report_dir: PathBuf,
    /// Write the reports into exactly this directory (created if missing; files of an
    /// earlier run there are replaced) instead of under --report-dir.
    #[arg(short = 'o', long, env = "LOADGEN_OUT", value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Seed for workflow choice in open-loop mode.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Short mode for CI: the scenario's short users and run time (≤ 20 s).
    #[arg(long, env = "LOADGEN_SHORT", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    pub short: bool,
    /// Print progress lines instead of the live dashboard.
    #[arg(long)]
    pub no_dashboard: bool,
    /// Print the summary (summary.json plus `report_dir`) as JSON on stdout, and nothing
    /// else there: no dashboard, no progress lines.
    #[arg(long)]
    pub json: bool,
    /// The launcher's control API, for process faults (kill, restart, pause, resume) of
    /// `testbed up --processes`.
    #[arg(long, env = "CONTROL_API_URL", default_value = "http://127.0.0.1:8000")]
    pub control_url: String,
    /// The fault proxy's Toxiproxy-compatible API, for link, partition and dependency
    /// faults of `testbed up --fault-proxy`.
    #[arg(long, env = "FAULT_PROXY_URL", default_value = "http://127.0.0.1:8474")]
    pub fault_proxy_url: String,
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

    pub fn chaos_targets(&self) -> ChaosTargets {
        ChaosTargets {
            control_url: self.control_url.clone(),
            proxy_url: self.fault_proxy_url.clone(),
        }
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    main_from(std::env::args_os())
}

/// Runs the command line given as `args` (the first is the program name); also used by
/// `testbed loadgen …`.
pub fn main_from<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::parse_from(args);
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    scenario::use_scenarios_dir(cli.scenarios.clone());
    match cli.command {
        Command::List { json } => Ok(list_scenarios(json)),
        Command::Show { scenario: name } => {
            print!("{}", scenario::source_text(&name)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { scenario: name } => Ok(validate(&name)),
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

/// `loadgen list`: one line (or JSON object) per scenario; failure when any is broken.
fn list_scenarios(json: bool) -> ExitCode {
    let entries = scenario::all_scenarios();
    if json {
        let items: Vec<Value> = entries
            .iter()
            .map(|(name, entry)| match entry {
                Ok(s) => json!({
                    "name": s.name,
                    "description": s.description,
                    "source": s.source,
                    "workflows": s.workflows.len(),
                    "faults": s.faults.len() + s.chaos.len(),
                    "assertions": s.assertions.len(),
                }),
                Err(e) => json!({"name": name, "error": e}),
            })
            .collect();
        println!("{}", Value::Array(items));
    } else {
        for (name, entry) in &entries {
            match entry {
                Ok(s) => println!("{:<20} {}", s.name, s.description),
                Err(e) => eprintln!("{name}: {e}"),
            }
        }
    }
    let broken = entries.iter().filter(|(_, entry)| entry.is_err()).count();
    if broken == 0 {
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "error: {broken} scenario file(s) in {} are broken",
        scenario::scenarios_dir().display()
    );
    ExitCode::FAILURE
}

/// `loadgen validate`: parses and checks a scenario given by name or path.
fn validate(name_or_path: &str) -> ExitCode {
    match scenario::resolve(name_or_path) {
        Ok(s) => {
            println!(
                "{}: ok — {} ({} workflows, {} faults, {} assertions)",
                s.source,
                s.name,
                s.workflows.len(),
                s.faults.len() + s.chaos.len(),
                s.assertions.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `loadgen run`: runs, prints the verdict, writes the reports.
pub async fn run_command(args: RunArgs) -> anyhow::Result<ExitCode> {
    let scenario = scenario::resolve(&args.scenario)?;
    if scenario.needs_chaos() {
        // Before the dashboard and any load: can this stack give the scenario's faults?
        ChaosDriver::new(args.chaos_targets(), args.admin_token.clone())?
            .preflight(&scenario.chaos, &args.targets())
            .await
            .with_context(|| format!("{}: preflight", scenario.name))?;
    }
    let mut json_out = if args.json {
        Some(stdout_for_json().context("keeping stdout for --json")?)
    } else {
        None
    };
    if args.json {
        eprintln!("[{}] starting", scenario.name);
    } else {
        println!("[{}] starting", scenario.name);
    }
    let dashboard = if !args.no_dashboard && !args.json && std::io::stdout().is_terminal() {
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
        progress: dashboard.is_none() && !args.json,
        max_in_flight: args.max_in_flight.map(|n| n as usize),
        chaos: args.chaos_targets(),
    };
    let handle = start_run(options);
    let record = match dashboard {
        Some(dashboard) => dashboard.watch(handle).await?,
        None => wait_with_stop(handle, tokio::spawn(tokio::signal::ctrl_c())).await?,
    };
    let dir = match &args.out {
        Some(out) => {
            std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
            report::write_into(&record, out)?;
            out.clone()
        }
        None => report::write_reports(&record, &args.report_dir)?,
    };
    if let Some(out) = &mut json_out {
        let mut summary = report::summary(&record);
        summary["report_dir"] = json!(dir);
        writeln!(out, "{summary}")?;
        out.flush()?;
    } else {
        print_verdict(&record, &dir);
    }
    Ok(if record.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// For `--json`: the real stdout, kept aside for the summary, with fd 1 pointed at stderr
/// for the rest of the process, so that nothing else printed during the run (goose
/// announces "N users launched." on stdout) can break the JSON.
#[cfg(unix)]
fn stdout_for_json() -> std::io::Result<Box<dyn Write + Send>> {
    use std::os::fd::AsFd;
    let real = std::io::stdout().as_fd().try_clone_to_owned()?;
    std::io::stdout().flush()?;
    rustix::stdio::dup2_stdout(std::io::stderr().as_fd())?;
    Ok(Box::new(std::fs::File::from(real)))
}

#[cfg(not(unix))]
fn stdout_for_json() -> std::io::Result<Box<dyn Write + Send>> {
    Ok(Box::new(std::io::stdout()))
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
    for figure in &record.recovery {
        let span = format!("{:.1}–{:.1}s", figure.window.start_s, figure.window.end_s);
        println!(
            "  recovery after {:<26} {span:<11}  errors {}  p95 {}  books {}",
            figure.window.name(),
            figure.errors.describe(),
            figure.p95.describe(),
            figure.books.describe()
        );
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every argument of `cmd` and its subcommands, with the path to it.
    fn all_args(cmd: &clap::Command, path: &str, out: &mut Vec<(String, clap::Arg)>) {
        let here = format!("{path} {}", cmd.get_name());
        for arg in cmd.get_arguments() {
            out.push((here.clone(), arg.clone()));
        }
        for sub in cmd.get_subcommands() {
            all_args(sub, &here, out);
        }
    }

    #[test]
    fn every_flag_and_argument_has_help_text() {
        let mut args = Vec::new();
        all_args(&Cli::command(), "", &mut args);
        let undocumented: Vec<String> = args
            .iter()
            .filter(|(_, arg)| !["help", "version"].contains(&arg.get_id().as_str()))
            .filter(|(_, arg)| arg.get_help().is_none() && arg.get_long_help().is_none())
            .map(|(path, arg)| format!("{path} {}", arg.get_id()))
            .collect();
        assert!(args.len() > 20, "walked {} arguments", args.len());
        assert!(undocumented.is_empty(), "no help text: {undocumented:?}");
        Cli::command().debug_assert();
    }

    #[test]
    fn short_flags_set_users_run_time_rate_and_out() {
        let cli = Cli::try_parse_from([
            "loadgen", "run", "tiny", "-u", "7", "-t", "90s", "-r", "12.5", "-o", "out/x",
        ])
        .expect("parses");
        let Command::Run(args) = cli.command else {
            panic!("not a run: {cli:?}");
        };
        assert_eq!(args.users, Some(7));
        assert_eq!(args.run_time, Some(Duration::from_secs(90)));
        assert_eq!(args.rate, Some(12.5));
        assert_eq!(args.out.as_deref(), Some(Path::new("out/x")));
    }
}
