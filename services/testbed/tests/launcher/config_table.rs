//! Truthful configuration docs and command lines: the README's configuration table lists
//! exactly the environment variables each binary reads (compared with the clap
//! definitions, both ways), every flag of every binary has help text, and every binary
//! answers `--version`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::{Args, CommandFactory};

/// The binaries and the clap definitions they parse.
fn binaries() -> Vec<(&'static str, clap::Command)> {
    vec![
        ("user-service", user_service::UserConfig::command()),
        (
            "restaurant-service",
            restaurant_service::RestaurantConfig::command(),
        ),
        ("order-service", order_service::OrderConfig::command()),
        (
            "testbed",
            testbed::StackConfig::augment_args(clap::Command::new("testbed up")),
        ),
        ("loadgen", loadgen::cli::Cli::command()),
    ]
}

/// Variables read outside clap (`testbed_common::telemetry::init_tracing`), by binary.
const READ_OUTSIDE_CLAP: &[(&str, &[&str])] = &[
    (
        "LOG_FORMAT",
        &[
            "user-service",
            "restaurant-service",
            "order-service",
            "testbed",
        ],
    ),
    (
        "RUST_LOG",
        &[
            "user-service",
            "restaurant-service",
            "order-service",
            "testbed",
        ],
    ),
];

/// Every argument of `cmd` and its subcommands.
fn all_args(cmd: &clap::Command) -> Vec<clap::Arg> {
    let mut args: Vec<clap::Arg> = cmd.get_arguments().cloned().collect();
    for sub in cmd.get_subcommands() {
        args.extend(all_args(sub));
    }
    args
}

/// The environment variables a binary reads: its visible clap args' `env`, plus the ones
/// read outside clap.
fn variables_read(name: &str, cmd: &clap::Command) -> BTreeSet<String> {
    let mut vars: BTreeSet<String> = all_args(cmd)
        .iter()
        .filter(|arg| !arg.is_hide_set())
        .filter_map(|arg| arg.get_env())
        .map(|env| env.to_string_lossy().into_owned())
        .collect();
    for (var, readers) in READ_OUTSIDE_CLAP {
        if readers.contains(&name) {
            vars.insert(var.to_string());
        }
    }
    vars
}

fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    std::fs::read_to_string(&path).expect("README.md reads")
}

/// The README's configuration table: binary → variables listed for it.
fn table_variables(readme: &str) -> BTreeMap<String, BTreeSet<String>> {
    let section = readme
        .split("\n## Configuration\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README has a Configuration section");
    let mut listed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (variables, readers) = (cells[1], cells[2]);
        let names: Vec<String> = variables
            .split('`')
            .skip(1)
            .step_by(2)
            .map(|code| {
                code.chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect()
            })
            .collect();
        for reader in readers.split(',').map(str::trim) {
            let binaries: &[&str] = match reader {
                "services" => &["user-service", "restaurant-service", "order-service"],
                other => &[other][..],
            };
            for binary in binaries {
                listed
                    .entry(binary.to_string())
                    .or_default()
                    .extend(names.iter().cloned());
            }
        }
    }
    listed
}

#[test]
fn the_readme_table_lists_every_variable_each_binary_reads() {
    let listed = table_variables(&readme());
    let known: BTreeSet<&str> = binaries().iter().map(|(name, _)| *name).collect();
    let strangers: Vec<&String> = listed
        .keys()
        .filter(|k| !known.contains(k.as_str()))
        .collect();
    assert!(
        strangers.is_empty(),
        "unknown binaries in the table: {strangers:?}"
    );
    let mut problems = Vec::new();
    for (name, cmd) in binaries() {
        let read = variables_read(name, &cmd);
        assert!(read.len() >= 2, "{name} reads {read:?}");
        let documented = listed.get(name).cloned().unwrap_or_default();
        for missing in read.difference(&documented) {
            problems.push(format!(
                "{name} reads {missing}, missing from the README table"
            ));
        }
        for extra in documented.difference(&read) {
            problems.push(format!(
                "the README table says {name} reads {extra}; it does not"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_comparison_notices_a_missing_row() {
    let readme = readme();
    let row = readme
        .lines()
        .find(|l| l.starts_with("| `MAX_BODY_BYTES`"))
        .expect("the MAX_BODY_BYTES row");
    let without = readme.replace(&format!("{row}\n"), "");
    let listed = table_variables(&without);
    assert!(!listed["user-service"].contains("MAX_BODY_BYTES"));
    assert!(listed["user-service"].contains("DB_POOL_SIZE"));
}

#[test]
fn every_flag_has_help_text() {
    let mut undocumented = Vec::new();
    for (name, cmd) in binaries() {
        for arg in all_args(&cmd) {
            let id = arg.get_id().as_str();
            let builtin = id == "help" || id == "version";
            if !builtin && !arg.is_hide_set() && arg.get_help().is_none() {
                undocumented.push(format!("{name} {id}"));
            }
        }
    }
    assert!(undocumented.is_empty(), "no help text: {undocumented:?}");
}

/// A binary of this workspace's target directory (next to this test's `deps/`).
fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test executable");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile> above the test executable");
    dir.join(name)
}

#[test]
fn every_binary_prints_its_version() {
    let version = env!("CARGO_PKG_VERSION");
    let bins = [
        PathBuf::from(env!("CARGO_BIN_EXE_testbed")),
        workspace_bin("user-service"),
        workspace_bin("restaurant-service"),
        workspace_bin("order-service"),
        workspace_bin("loadgen"),
    ];
    for bin in bins {
        assert!(
            bin.is_file(),
            "{} is missing: build the binaries first with `cargo build --workspace --bins` \
             (scripts/test.sh does)",
            bin.display()
        );
        let output = Command::new(&bin).arg("--version").output().expect("runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let name = bin.file_name().and_then(|n| n.to_str()).expect("a name");
        assert!(output.status.success(), "{name} --version failed");
        assert_eq!(stdout.trim(), format!("{name} {version}"));
    }
}
