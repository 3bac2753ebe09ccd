//! The scenario fault kinds beyond the services' switches (issue 13): process faults
//! (`kill`, `restart`, `pause`, `resume` through the launcher's control API), network
//! toxics on one link (`link`), a link down (`partition`) and a dependency outage
//! (`dependency_down`, the `<service>->postgres|redis` links down). Owns their model, their
//! checks (line-numbered like every scenario error), the link names a stack can have, and
//! the words reports use for them. Driving them is the `chaos_driver` module's job.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::format_duration;
use crate::service::Service;

/// The fault kinds this module owns, as `fault = "…"` names them.
pub const KINDS: &[&str] = &[
    "kill",
    "restart",
    "pause",
    "resume",
    "link",
    "partition",
    "dependency_down",
];

/// The longest a fault may last: anything longer is a typo, not a test.
pub const MAX_DURATION: Duration = Duration::from_secs(3600);

/// Every link `testbed up --fault-proxy` can have: loadgen → each service, Order → User and
/// Restaurant, each service → PostgreSQL and Redis (the last six only with real servers).
pub fn link_names() -> Vec<String> {
    let mut names: Vec<String> = Service::ALL
        .iter()
        .map(|service| format!("loadgen->{service}"))
        .collect();
    names.push("order->user".into());
    names.push("order->restaurant".into());
    for dependency in Dependency::ALL {
        for service in Service::ALL {
            names.push(format!("{service}->{dependency}"));
        }
    }
    names
}

/// A backing server each service reaches through its own link.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Dependency {
    Postgres,
    Redis,
}

impl Dependency {
    pub const ALL: [Dependency; 2] = [Dependency::Postgres, Dependency::Redis];

    pub fn name(self) -> &'static str {
        match self {
            Dependency::Postgres => "postgres",
            Dependency::Redis => "redis",
        }
    }
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the control API does to a service's process.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum ProcessAction {
    /// SIGKILL; started again when the step's duration ends.
    Kill,
    /// Stop (SIGTERM) and start again, at once.
    Restart,
    /// SIGSTOP: a frozen process with open sockets; SIGCONT when the duration ends (or at a
    /// later `resume` step).
    Pause,
    /// SIGCONT of a service paused without a duration.
    Resume,
}

impl ProcessAction {
    /// The control API's path segment (`POST /processes/{service}/{action}`).
    pub fn path(self) -> &'static str {
        match self {
            ProcessAction::Kill => "kill",
            ProcessAction::Restart => "restart",
            ProcessAction::Pause => "pause",
            ProcessAction::Resume => "resume",
        }
    }
}

/// Which way a toxic acts, as Toxiproxy names it; `Both` sets one toxic each way.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Streams {
    /// Client → upstream (requests).
    Upstream,
    /// Upstream → client (answers); Toxiproxy's default.
    Downstream,
    Both,
}

impl Streams {
    /// The Toxiproxy stream names to set.
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Streams::Upstream => &["upstream"],
            Streams::Downstream => &["downstream"],
            Streams::Both => &["upstream", "downstream"],
        }
    }
}

/// The toxic types of `fault = "link"`, their attributes (Toxiproxy's names and units) and
/// which are required. `down` has none: it disables the link.
const TOXICS: &[(&str, &[&str], &[&str])] = &[
    ("latency", &["latency", "jitter"], &["latency"]),
    ("bandwidth", &["rate"], &["rate"]),
    ("timeout", &["timeout"], &[]),
    ("reset_peer", &["timeout"], &[]),
    ("slow_close", &["delay"], &["delay"]),
    ("limit_data", &["bytes"], &["bytes"]),
    ("down", &[], &[]),
];

/// Largest attribute values: durations in ms up to an hour, rates in KB/s up to 10 GB/s
/// (the fault proxy refuses more with a 400, so the file says it first).
fn attribute_max(attribute: &str) -> i64 {
    match attribute {
        "rate" => 10_000_000,
        "bytes" => i64::MAX,
        _ => MAX_DURATION.as_millis() as i64,
    }
}

/// One toxic as the fault proxy takes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ToxicSpec {
    /// `latency`, `bandwidth`, `timeout`, `reset_peer`, `slow_close`, `limit_data` or
    /// `down` (the link disabled: connections refused).
    pub toxic: String,
    pub stream: Streams,
    /// Share of connections affected, 0..=1.
    pub toxicity: f64,
    pub attributes: BTreeMap<String, i64>,
}

impl fmt::Display for ToxicSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let attribute = |name: &str| self.attributes.get(name).copied().unwrap_or(0);
        match self.toxic.as_str() {
            "latency" if attribute("jitter") > 0 => write!(
                f,
                "latency {}ms ±{}ms",
                attribute("latency"),
                attribute("jitter")
            ),
            "latency" => write!(f, "latency {}ms", attribute("latency")),
            "bandwidth" => write!(f, "bandwidth {} KB/s", attribute("rate")),
            "timeout" => write!(f, "timeout {}ms", attribute("timeout")),
            "reset_peer" => write!(f, "reset_peer after {}ms", attribute("timeout")),
            "slow_close" => write!(f, "slow_close {}ms", attribute("delay")),
            "limit_data" => write!(f, "limit_data {} B", attribute("bytes")),
            other => f.write_str(other),
        }?;
        if self.toxic != "down" && self.stream != Streams::Downstream {
            write!(f, " {}", stream_words(self.stream))?;
        }
        if self.toxicity < 1.0 {
            write!(f, " ({:.0}% of connections)", self.toxicity * 100.0)?;
        }
        Ok(())
    }
}

fn stream_words(streams: Streams) -> &'static str {
    match streams {
        Streams::Upstream => "upstream",
        Streams::Downstream => "downstream",
        Streams::Both => "both ways",
    }
}

/// A process, network or dependency fault.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum ChaosFault {
    /// Through the control API (`testbed up --processes`).
    Process {
        action: ProcessAction,
        service: Service,
    },
    /// A toxic on one fault-proxy link.
    Link { link: String, toxic: ToxicSpec },
    /// The link down both ways: connections refused, open ones closed.
    Partition { link: String },
    /// The service's (or every service's, `service = None`) link to the dependency down.
    DependencyDown {
        dependency: Dependency,
        service: Option<Service>,
    },
}

impl ChaosFault {
    /// The scenario kind (`kill`, `link`, `partition`, …), as fault windows name it.
    pub fn kind(&self) -> &'static str {
        match self {
            ChaosFault::Process { action, .. } => action.path(),
            ChaosFault::Link { .. } => "link",
            ChaosFault::Partition { .. } => "partition",
            ChaosFault::DependencyDown { .. } => "dependency_down",
        }
    }

    /// What it acts on: a service, a link, or `<service|*>-><dependency>`.
    pub fn target(&self) -> String {
        match self {
            ChaosFault::Process { service, .. } => service.to_string(),
            ChaosFault::Link { link, .. } | ChaosFault::Partition { link } => link.clone(),
            ChaosFault::DependencyDown {
                dependency,
                service,
            } => match service {
                Some(service) => format!("{service}->{dependency}"),
                None => format!("*->{dependency}"),
            },
        }
    }

    /// The fault-proxy links it needs (none for process faults).
    pub fn links(&self) -> Vec<String> {
        match self {
            ChaosFault::Process { .. } => Vec::new(),
            ChaosFault::Link { link, .. } | ChaosFault::Partition { link } => vec![link.clone()],
            ChaosFault::DependencyDown {
                dependency,
                service,
            } => match service {
                Some(service) => vec![format!("{service}->{dependency}")],
                None => Service::ALL
                    .iter()
                    .map(|service| format!("{service}->{dependency}"))
                    .collect(),
            },
        }
    }

    /// The service a process fault acts on.
    pub fn process(&self) -> Option<(ProcessAction, Service)> {
        match self {
            ChaosFault::Process { action, service } => Some((*action, *service)),
            _ => None,
        }
    }

    /// The service whose row of the dashboard and report markers it belongs to: the
    /// process's, else the calling side of the link (`loadgen->x`: x).
    pub fn service(&self) -> Service {
        let caller = |link: &str| {
            let (from, to) = link.split_once("->").unwrap_or((link, ""));
            let side = if from == "loadgen" { to } else { from };
            Service::ALL
                .into_iter()
                .find(|service| service.name() == side)
                .unwrap_or(Service::Order)
        };
        match self {
            ChaosFault::Process { service, .. } => *service,
            ChaosFault::Link { link, .. } | ChaosFault::Partition { link } => caller(link),
            ChaosFault::DependencyDown { service, .. } => service.unwrap_or(Service::Order),
        }
    }
}

impl fmt::Display for ChaosFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChaosFault::Process { action, service } => write!(f, "{} {service}", action.path()),
            ChaosFault::Link { link, toxic } => write!(f, "{toxic} on {link}"),
            ChaosFault::Partition { link } => write!(f, "partition {link}"),
            ChaosFault::DependencyDown { .. } => write!(f, "{} down", self.target()),
        }
    }
}

/// A process, network or dependency fault at a time into the run, for a while.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChaosStep {
    pub at: Duration,
    /// How long it lasts before it is cleared; `None` for `restart` and `resume` (one
    /// action) and for a `pause` ended by a later `resume`.
    pub duration: Option<Duration>,
    pub fault: ChaosFault,
    /// The line of its `[[faults]]` table (names the step's toxics in the proxy).
    pub line: usize,
}

impl ChaosStep {
    /// When it is cleared, if it is cleared on its own.
    pub fn end(&self) -> Option<Duration> {
        self.duration.map(|duration| self.at + duration)
    }

    /// The words markers and windows use, e.g. `kill order for 2s`.
    pub fn label(&self) -> String {
        match self.duration {
            Some(duration) => format!("{} for {}", self.fault, format_duration(duration)),
            None => self.fault.to_string(),
        }
    }
}

/// The fields of a `[[faults]]` table the new kinds read (the switches' are elsewhere).
#[derive(Debug, Default)]
pub struct RawChaos<'a> {
    pub fault: &'a str,
    pub service: Option<&'a str>,
    pub duration: Option<Duration>,
    pub link: Option<&'a str>,
    pub toxic: Option<&'a str>,
    pub stream: Option<&'a str>,
    pub toxicity: Option<f64>,
    pub attributes: Option<&'a BTreeMap<String, i64>>,
    pub dependency: Option<&'a str>,
}

/// Checks one process, link or dependency fault; the message says what is wrong (the caller
/// adds file and line).
pub fn check(raw: &RawChaos<'_>, at: Duration, run_time: Duration) -> Result<ChaosFault, String> {
    let kind = raw.fault;
    let fault = match kind {
        "kill" | "restart" | "pause" | "resume" => check_process(raw)?,
        "link" => {
            takes_only(raw, &["link", "toxic", "stream", "toxicity", "attributes"])?;
            ChaosFault::Link {
                link: link_named(raw.link, kind)?,
                toxic: toxic_of(raw)?,
            }
        }
        "partition" => {
            takes_only(raw, &["link"])?;
            ChaosFault::Partition {
                link: link_named(raw.link, kind)?,
            }
        }
        "dependency_down" => check_dependency_down(raw)?,
        other => {
            return Err(format!(
                "faults: \"{other}\" is not a process, link or dependency fault"
            ));
        }
    };
    check_duration(kind, raw.duration, at, run_time)?;
    Ok(fault)
}

/// `kill`, `restart`, `pause` or `resume` of one service.
fn check_process(raw: &RawChaos<'_>) -> Result<ChaosFault, String> {
    let action = match raw.fault {
        "kill" => ProcessAction::Kill,
        "restart" => ProcessAction::Restart,
        "pause" => ProcessAction::Pause,
        _ => ProcessAction::Resume,
    };
    takes_only(raw, &["service"])?;
    let service = service_named(raw.service, raw.fault)?;
    Ok(ChaosFault::Process { action, service })
}

/// `dependency_down`: PostgreSQL or Redis, for one service or all (`service = "all"` or
/// none).
fn check_dependency_down(raw: &RawChaos<'_>) -> Result<ChaosFault, String> {
    takes_only(raw, &["service", "dependency"])?;
    let dependency = match raw.dependency {
        Some("postgres") => Dependency::Postgres,
        Some("redis") => Dependency::Redis,
        Some(other) => {
            return Err(format!(
                "faults: unknown dependency \"{other}\"; expected postgres or redis"
            ));
        }
        None => {
            return Err(
                "faults: \"dependency_down\" needs dependency = \"postgres\" or \"redis\"".into(),
            );
        }
    };
    let service = match raw.service {
        None | Some("all") => None,
        Some(name) => Some(service_named(Some(name), raw.fault)?),
    };
    Ok(ChaosFault::DependencyDown {
        dependency,
        service,
    })
}

/// `duration`: required for faults that last (kill, link, partition, dependency_down),
/// refused for one-shot actions (restart, resume), optional for pause (a later `resume`
/// ends it then); within 1 h and within the run.
fn check_duration(
    kind: &str,
    duration: Option<Duration>,
    at: Duration,
    run_time: Duration,
) -> Result<(), String> {
    let Some(duration) = duration else {
        return match kind {
            "restart" | "resume" | "pause" => Ok(()),
            _ => Err(format!(
                "faults: \"{kind}\" needs duration (e.g. duration = \"5s\"): it is cleared when that has passed"
            )),
        };
    };
    if matches!(kind, "restart" | "resume") {
        return Err(format!(
            "faults: \"{kind}\" is one action and takes no duration"
        ));
    }
    if duration.is_zero() {
        return Err("faults.duration: expected more than 0s".into());
    }
    if duration > MAX_DURATION {
        return Err(format!(
            "faults.duration: {} is longer than the 1h a fault may last",
            format_duration(duration)
        ));
    }
    if at + duration > run_time {
        return Err(format!(
            "faults.duration: {} from {} ends after the run ({}); the fault must be cleared while the load runs",
            format_duration(duration),
            format_duration(at),
            format_duration(run_time)
        ));
    }
    Ok(())
}

/// The fields of a `[[faults]]` table beyond `fault`, `at` and `duration` that the new
/// kinds read, in the order a refusal names them.
const FIELDS: [&str; 7] = [
    "service",
    "link",
    "toxic",
    "stream",
    "toxicity",
    "attributes",
    "dependency",
];

/// Refuses the first of [`FIELDS`] that is given but not one of `taken`.
fn takes_only(raw: &RawChaos<'_>, taken: &[&str]) -> Result<(), String> {
    let given = |field: &str| match field {
        "service" => raw.service.is_some(),
        "link" => raw.link.is_some(),
        "toxic" => raw.toxic.is_some(),
        "stream" => raw.stream.is_some(),
        "toxicity" => raw.toxicity.is_some(),
        "attributes" => raw.attributes.is_some(),
        "dependency" => raw.dependency.is_some(),
        _ => false,
    };
    match FIELDS
        .iter()
        .find(|field| !taken.contains(field) && given(field))
    {
        Some(field) => Err(format!("faults: \"{}\" takes no `{field}`", raw.fault)),
        None => Ok(()),
    }
}

fn service_named(name: Option<&str>, kind: &str) -> Result<Service, String> {
    let name = name.ok_or_else(|| {
        format!("faults: \"{kind}\" needs service = \"user\", \"restaurant\" or \"order\"")
    })?;
    Service::ALL
        .into_iter()
        .find(|service| service.name() == name)
        .ok_or_else(|| {
            let all = if kind == "dependency_down" {
                ", order or all"
            } else {
                " or order"
            };
            format!("faults.service: unknown service \"{name}\"; expected user, restaurant{all}")
        })
}

fn link_named(name: Option<&str>, kind: &str) -> Result<String, String> {
    let known = link_names();
    let name = name.ok_or_else(|| {
        format!(
            "faults: \"{kind}\" needs link, one of: {}",
            known.join(", ")
        )
    })?;
    if known.iter().any(|link| link == name) {
        Ok(name.to_string())
    } else {
        Err(format!(
            "faults.link: unknown link \"{name}\"; expected one of: {}",
            known.join(", ")
        ))
    }
}

fn toxic_of(raw: &RawChaos<'_>) -> Result<ToxicSpec, String> {
    let names: Vec<&str> = TOXICS.iter().map(|(name, _, _)| *name).collect();
    let toxic = raw
        .toxic
        .ok_or_else(|| format!("faults: \"link\" needs toxic, one of: {}", names.join(", ")))?;
    let Some((_, allowed, required)) = TOXICS.iter().find(|(name, _, _)| *name == toxic) else {
        return Err(format!(
            "faults.toxic: unknown toxic \"{toxic}\"; expected one of: {}",
            names.join(", ")
        ));
    };
    let attributes = raw.attributes.cloned().unwrap_or_default();
    for (name, value) in &attributes {
        if !allowed.contains(&name.as_str()) {
            let expected = if allowed.is_empty() {
                "it takes none".to_string()
            } else {
                format!("expected {}", allowed.join(", "))
            };
            return Err(format!(
                "faults.attributes: \"{toxic}\" has no attribute \"{name}\"; {expected}"
            ));
        }
        if *value < 0 || *value > attribute_max(name) {
            return Err(format!(
                "faults.attributes: {name} = {value} is out of range (0..={})",
                attribute_max(name)
            ));
        }
    }
    if let Some(missing) = required
        .iter()
        .find(|name| !attributes.contains_key(**name))
    {
        return Err(format!(
            "faults: toxic \"{toxic}\" needs attributes.{missing} (e.g. attributes = {{ {missing} = 100 }})"
        ));
    }
    let stream = match raw.stream {
        None | Some("downstream") => Streams::Downstream,
        Some("upstream") => Streams::Upstream,
        Some("both") => Streams::Both,
        Some(other) => {
            return Err(format!(
                "faults.stream: unknown stream \"{other}\"; expected upstream, downstream or both"
            ));
        }
    };
    let toxicity = raw.toxicity.unwrap_or(1.0);
    if !(0.0..=1.0).contains(&toxicity) {
        return Err(
            "faults.toxicity: expected a share between 0 and 1 (1: every connection)".into(),
        );
    }
    Ok(ToxicSpec {
        toxic: toxic.to_string(),
        stream,
        toxicity,
        attributes,
    })
}

/// Checks the steps against each other: a `pause` without duration needs a later `resume`
/// of that service and a `resume` an earlier open `pause`; two process faults on one service,
/// or two outages (partition, dependency_down, link down) of one link, must not overlap.
/// Answers the index of the offending step and why.
pub fn check_sequence(steps: &[ChaosStep], run_time: Duration) -> Result<(), (usize, String)> {
    let mut order: Vec<usize> = (0..steps.len()).collect();
    order.sort_by_key(|&i| steps[i].at);
    // Process faults: one at a time per service; open pauses until their resume.
    let mut busy_until: BTreeMap<Service, (Duration, usize, bool)> = BTreeMap::new();
    for &i in &order {
        let step = &steps[i];
        let Some((action, service)) = step.fault.process() else {
            continue;
        };
        let open_pause = busy_until
            .get(&service)
            .filter(|(_, _, open)| *open)
            .map(|(_, line, _)| *line);
        if action == ProcessAction::Resume {
            if open_pause.is_none() {
                return Err((
                    i,
                    format!(
                        "faults: \"resume\" of {service} without an earlier \"pause\" of it that has no duration"
                    ),
                ));
            }
            busy_until.insert(service, (step.at, step.line, false));
            continue;
        }
        if let Some((until, line, open)) = busy_until.get(&service)
            && (*open || step.at < *until)
        {
            return Err((
                i,
                format!(
                    "faults: {} overlaps the fault on {service} at line {line}; one process fault at a time per service",
                    step.fault
                ),
            ));
        }
        let open = action == ProcessAction::Pause && step.duration.is_none();
        busy_until.insert(service, (step.end().unwrap_or(step.at), step.line, open));
    }
    if let Some((service, (_, line, _))) = busy_until.iter().find(|(_, (_, _, open))| *open) {
        let index = steps.iter().position(|s| s.line == *line).unwrap_or(0);
        return Err((
            index,
            format!(
                "faults: \"pause\" of {service} has no duration and no later \"resume\"; add duration = \"3s\" or a resume step"
            ),
        ));
    }
    check_outages(steps, &order, run_time)
}

/// Two outages of the same link must not overlap: the first to end would bring the link back
/// under the other.
fn check_outages(
    steps: &[ChaosStep],
    order: &[usize],
    run_time: Duration,
) -> Result<(), (usize, String)> {
    let mut down_until: BTreeMap<String, (Duration, usize)> = BTreeMap::new();
    for &i in order {
        let step = &steps[i];
        let disables = match &step.fault {
            ChaosFault::Partition { .. } | ChaosFault::DependencyDown { .. } => true,
            ChaosFault::Link { toxic, .. } => toxic.toxic == "down",
            ChaosFault::Process { .. } => false,
        };
        if !disables {
            continue;
        }
        let end = step.end().unwrap_or(run_time);
        for link in step.fault.links() {
            if let Some((until, line)) = down_until.get(&link)
                && step.at < *until
            {
                return Err((
                    i,
                    format!(
                        "faults: {} overlaps the outage of {link} at line {line}",
                        step.fault
                    ),
                ));
            }
            down_until.insert(link, (end, step.line));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(fault: &str) -> RawChaos<'_> {
        RawChaos {
            fault,
            ..RawChaos::default()
        }
    }

    #[test]
    fn link_names_cover_the_launcher_links() {
        let names = link_names();
        assert_eq!(names.len(), 11);
        for name in [
            "loadgen->order",
            "order->restaurant",
            "restaurant->postgres",
            "user->redis",
        ] {
            assert!(names.iter().any(|n| n == name), "{name}");
        }
    }

    #[test]
    fn toxic_labels_read_well() {
        let mut attributes = BTreeMap::new();
        attributes.insert("latency".to_string(), 200);
        attributes.insert("jitter".to_string(), 100);
        let with = RawChaos {
            link: Some("restaurant->postgres"),
            toxic: Some("latency"),
            attributes: Some(&attributes),
            duration: Some(Duration::from_secs(5)),
            ..raw("link")
        };
        let fault = check(&with, Duration::from_secs(1), Duration::from_secs(10)).expect("good");
        assert_eq!(
            fault.to_string(),
            "latency 200ms ±100ms on restaurant->postgres"
        );
        assert_eq!(fault.target(), "restaurant->postgres");
        assert_eq!(fault.service(), Service::Restaurant);
    }

    #[test]
    fn dependency_down_of_all_services_needs_three_links() {
        let fault = check(
            &RawChaos {
                dependency: Some("redis"),
                duration: Some(Duration::from_secs(2)),
                ..raw("dependency_down")
            },
            Duration::ZERO,
            Duration::from_secs(10),
        )
        .expect("good");
        assert_eq!(
            fault.links(),
            ["user->redis", "restaurant->redis", "order->redis"]
        );
        assert_eq!(fault.target(), "*->redis");
    }
}
