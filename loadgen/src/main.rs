//! `loadgen`: the load generator's command line (see `loadgen --help`).

fn main() -> std::process::ExitCode {
    loadgen::cli::main()
}
