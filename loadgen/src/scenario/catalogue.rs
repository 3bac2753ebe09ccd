//! Finding scenarios: the ones shipped in `scenarios/` (compiled in), files in the
//! scenarios directory the command line or `LOADGEN_SCENARIOS` names, and paths.

use std::path::{Path, PathBuf};

use super::Scenario;
use super::parse::parse_scenario;

/// The scenarios shipped with the repository, compiled in so `list` and `run <name>` work
/// from any directory. A file of the same name in the scenarios directory wins.
pub(super) const BUILT_IN: &[(&str, &str)] = &[
    (
        "chaos-payment-fail",
        include_str!("../../../scenarios/chaos-payment-fail.toml"),
    ),
    (
        "concurrent-orders",
        include_str!("../../../scenarios/concurrent-orders.toml"),
    ),
    (
        "cancel-reorder",
        include_str!("../../../scenarios/cancel-reorder.toml"),
    ),
    (
        "cache-effect",
        include_str!("../../../scenarios/cache-effect.toml"),
    ),
    (
        "inter-service-flow",
        include_str!("../../../scenarios/inter-service-flow.toml"),
    ),
    (
        "delay-injection",
        include_str!("../../../scenarios/delay-injection.toml"),
    ),
    (
        "full-chaos",
        include_str!("../../../scenarios/full-chaos.toml"),
    ),
    // Process, link and dependency faults: `testbed up --processes --fault-proxy` on
    // PostgreSQL + Redis (scripts/chaos-scenarios.sh).
    (
        "order-crash",
        include_str!("../../../scenarios/order-crash.toml"),
    ),
    (
        "restaurant-freeze",
        include_str!("../../../scenarios/restaurant-freeze.toml"),
    ),
    (
        "redis-outage",
        include_str!("../../../scenarios/redis-outage.toml"),
    ),
    (
        "db-brownout",
        include_str!("../../../scenarios/db-brownout.toml"),
    ),
    (
        "partition",
        include_str!("../../../scenarios/partition.toml"),
    ),
    (
        "slow-network",
        include_str!("../../../scenarios/slow-network.toml"),
    ),
];

/// Reads and checks a scenario file.
pub fn load_file(path: &Path) -> anyhow::Result<Scenario> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    Ok(parse_scenario(&path.display().to_string(), &text)?)
}

/// The scenarios directory the command line chose (`--scenarios` / `LOADGEN_SCENARIOS`).
static SCENARIOS_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Sets the scenarios directory for this process (once; later calls are ignored).
pub fn use_scenarios_dir(dir: PathBuf) {
    let _ = SCENARIOS_DIR.set(dir);
}

/// Where named scenarios are looked up first: the directory the command line set, else
/// `$LOADGEN_SCENARIOS`, else `./scenarios`.
pub fn scenarios_dir() -> PathBuf {
    if let Some(dir) = SCENARIOS_DIR.get() {
        return dir.clone();
    }
    std::env::var_os("LOADGEN_SCENARIOS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("scenarios"))
}

/// The names of the shipped scenarios, in the order of the plans.
pub fn built_in_names() -> Vec<&'static str> {
    BUILT_IN.iter().map(|(name, _)| *name).collect()
}

/// Finds a scenario by file path or by name (scenarios directory first, then built in).
pub fn resolve(name_or_path: &str) -> anyhow::Result<Scenario> {
    let as_path = Path::new(name_or_path);
    if name_or_path.ends_with(".toml") || as_path.components().count() > 1 {
        return load_file(as_path);
    }
    let on_disk = scenarios_dir().join(format!("{name_or_path}.toml"));
    if on_disk.is_file() {
        return load_file(&on_disk);
    }
    match BUILT_IN.iter().find(|(name, _)| *name == name_or_path) {
        Some((name, text)) => Ok(parse_scenario(&format!("built-in:{name}.toml"), text)?),
        None => anyhow::bail!(
            "no scenario named \"{name_or_path}\"; known: {}",
            built_in_names().join(", ")
        ),
    }
}

/// The source text of a named scenario (for `loadgen show`).
pub fn source_text(name_or_path: &str) -> anyhow::Result<String> {
    let as_path = Path::new(name_or_path);
    if as_path.is_file() {
        return Ok(std::fs::read_to_string(as_path)?);
    }
    let on_disk = scenarios_dir().join(format!("{name_or_path}.toml"));
    if on_disk.is_file() {
        return Ok(std::fs::read_to_string(on_disk)?);
    }
    BUILT_IN
        .iter()
        .find(|(name, _)| *name == name_or_path)
        .map(|(_, text)| text.to_string())
        .ok_or_else(|| anyhow::anyhow!("no scenario named \"{name_or_path}\""))
}

/// Every scenario `loadgen list` shows, by name: the built-in ones (or their on-disk
/// versions) plus any other `*.toml` in the scenarios directory, each parsed or its error.
pub fn all_scenarios() -> Vec<(String, Result<Scenario, String>)> {
    let mut names: Vec<String> = built_in_names().iter().map(|n| n.to_string()).collect();
    if let Ok(entries) = std::fs::read_dir(scenarios_dir()) {
        let mut extra: Vec<String> = entries
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                let path = entry.path();
                (path.extension()? == "toml")
                    .then(|| path.file_stem()?.to_str().map(str::to_string))
                    .flatten()
            })
            .filter(|name| !names.contains(name))
            .collect();
        extra.sort();
        names.extend(extra);
    }
    names
        .iter()
        .map(|name| (name.clone(), resolve(name).map_err(|e| format!("{e:#}"))))
        .collect()
}
