//! Drives the process, link and dependency faults of a scenario ([`crate::chaos`]) over
//! HTTP: the launcher's control API (`testbed up --processes`, default
//! `http://127.0.0.1:8000`: `GET /processes`, `POST /processes/{service}/{action}`) and the
//! Toxiproxy-compatible fault proxy API (`testbed up --fault-proxy`, default
//! `http://127.0.0.1:8474`: `/proxies`, toxics, `enabled`). Owns the preflight (before any
//! load: does the running stack have what the scenario needs, and is it the stack the run
//! targets?), setting each fault and clearing it again.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, bail};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api::Targets;
use crate::chaos::{ChaosFault, ChaosStep, ProcessAction};
use crate::service::Service;

/// Where the control API and the fault proxy API are.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChaosTargets {
    pub control_url: String,
    pub proxy_url: String,
}

impl Default for ChaosTargets {
    fn default() -> Self {
        Self {
            control_url: "http://127.0.0.1:8000".into(),
            proxy_url: "http://127.0.0.1:8474".into(),
        }
    }
}

/// A supervised service as `GET /processes` shows it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct ProcessInfo {
    pub service: String,
    pub url: String,
    #[serde(default)]
    pub pid: Option<u32>,
    pub state: String,
    #[serde(default)]
    pub restarts: u32,
}

/// A fault-proxy link as `GET /proxies` shows it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct LinkInfo {
    pub name: String,
    pub listen: String,
    pub upstream: String,
    pub enabled: bool,
}

/// HTTP client of the control API and the fault proxy API.
#[derive(Clone)]
pub struct ChaosDriver {
    http: reqwest::Client,
    targets: ChaosTargets,
    admin_token: Option<String>,
}

/// A control call may wait for a service to start and become ready.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

impl ChaosDriver {
    pub fn new(targets: ChaosTargets, admin_token: Option<String>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .connect_timeout(Duration::from_secs(3))
            .build()
            .context("building the chaos HTTP client")?;
        Ok(Self {
            http,
            targets,
            admin_token,
        })
    }

    pub fn targets(&self) -> &ChaosTargets {
        &self.targets
    }

    fn control(&self, path: &str) -> String {
        format!("{}{path}", self.targets.control_url.trim_end_matches('/'))
    }

    fn proxy(&self, path: &str) -> String {
        format!("{}{path}", self.targets.proxy_url.trim_end_matches('/'))
    }

    /// One call; the JSON answer, or an error carrying the status and the answer's body.
    async fn call(
        &self,
        method: Method,
        url: String,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self.http.request(method.clone(), &url);
        if let Some(token) = &self.admin_token {
            request = request.header("X-Admin-Token", token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(CallError { status, body: text })
                .with_context(|| format!("{method} {url}"));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `GET /processes`.
    pub async fn processes(&self) -> anyhow::Result<Vec<ProcessInfo>> {
        let answer = self
            .call(Method::GET, self.control("/processes"), None)
            .await?;
        serde_json::from_value(answer).context("the control API's process list")
    }

    /// `POST /processes/{service}/{action}` (`kill`, `start`, `pause`, …).
    pub async fn act(&self, service: Service, action: &str) -> anyhow::Result<ProcessInfo> {
        let url = self.control(&format!("/processes/{service}/{action}"));
        let answer = self.call(Method::POST, url, None).await?;
        serde_json::from_value(answer).context("the control API's answer")
    }

    /// `GET /proxies`: every link by name.
    pub async fn links(&self) -> anyhow::Result<BTreeMap<String, LinkInfo>> {
        let answer = self.call(Method::GET, self.proxy("/proxies"), None).await?;
        serde_json::from_value(answer).context("the fault proxy's link list")
    }

    fn link_path(link: &str) -> String {
        format!("/proxies/{}", link.replace('>', "%3E"))
    }

    /// A link up (`enabled: true`) or down (connections refused, open ones closed).
    pub async fn set_enabled(&self, link: &str, enabled: bool) -> anyhow::Result<()> {
        let url = self.proxy(&Self::link_path(link));
        self.call(Method::POST, url, Some(json!({ "enabled": enabled })))
            .await
            .map(drop)
    }

    /// Every link enabled, every toxic removed (`POST /reset`).
    pub async fn reset(&self) -> anyhow::Result<()> {
        self.call(Method::POST, self.proxy("/reset"), None)
            .await
            .map(drop)
    }

    /// Sets the step's fault.
    pub async fn apply(&self, step: &ChaosStep) -> anyhow::Result<()> {
        match &step.fault {
            ChaosFault::Process { action, service } => {
                self.act(*service, action.path()).await.map(drop)
            }
            ChaosFault::Link { link, toxic } if toxic.toxic == "down" => {
                self.set_enabled(link, false).await
            }
            ChaosFault::Link { link, toxic } => {
                let url = self.proxy(&format!("{}/toxics", Self::link_path(link)));
                for stream in toxic.stream.names() {
                    let body = json!({
                        "name": toxic_name(step, stream),
                        "type": toxic.toxic,
                        "stream": stream,
                        "toxicity": toxic.toxicity,
                        "attributes": toxic.attributes,
                    });
                    self.call(Method::POST, url.clone(), Some(body)).await?;
                }
                Ok(())
            }
            ChaosFault::Partition { .. } | ChaosFault::DependencyDown { .. } => {
                for link in step.fault.links() {
                    self.set_enabled(&link, false).await?;
                }
                Ok(())
            }
        }
    }

    /// Clears the step's fault: a killed service started, a paused one resumed, its toxics
    /// removed, its links enabled. A service already running again (someone else started
    /// it) counts as cleared.
    pub async fn clear(&self, step: &ChaosStep) -> anyhow::Result<()> {
        match &step.fault {
            ChaosFault::Process { action, service } => {
                let undo = match action {
                    ProcessAction::Kill => "start",
                    ProcessAction::Pause => "resume",
                    ProcessAction::Restart | ProcessAction::Resume => return Ok(()),
                };
                match self.act(*service, undo).await {
                    Err(error) if is_status(&error, StatusCode::CONFLICT) => {
                        let running = self
                            .processes()
                            .await?
                            .iter()
                            .any(|p| p.service == service.name() && p.state == "running");
                        if running { Ok(()) } else { Err(error) }
                    }
                    other => other.map(drop),
                }
            }
            ChaosFault::Link { link, toxic } if toxic.toxic == "down" => {
                self.set_enabled(link, true).await
            }
            ChaosFault::Link { link, toxic } => {
                for stream in toxic.stream.names() {
                    let url = self.proxy(&format!(
                        "{}/toxics/{}",
                        Self::link_path(link),
                        toxic_name(step, stream)
                    ));
                    match self.call(Method::DELETE, url, None).await {
                        Err(error) if !is_status(&error, StatusCode::NOT_FOUND) => {
                            return Err(error);
                        }
                        _ => {}
                    }
                }
                Ok(())
            }
            ChaosFault::Partition { .. } | ChaosFault::DependencyDown { .. } => {
                for link in step.fault.links() {
                    self.set_enabled(&link, true).await?;
                }
                Ok(())
            }
        }
    }

    /// Before any load: says what the scenario needs that the running stack cannot give
    /// (no control API, no fault proxy, a link it does not have), or that the control API
    /// or proxy found belong to another stack than the services the run targets.
    pub async fn preflight(&self, steps: &[ChaosStep], services: &Targets) -> anyhow::Result<()> {
        let process_step = steps.iter().find(|step| step.fault.process().is_some());
        let link_step = steps.iter().find(|step| !step.fault.links().is_empty());
        let links = match link_step {
            Some(step) => Some(self.preflight_links(steps, step, services).await?),
            None => None,
        };
        if let Some(step) = process_step {
            self.preflight_processes(step, services, links.as_ref())
                .await?;
        }
        Ok(())
    }

    async fn preflight_links(
        &self,
        steps: &[ChaosStep],
        first: &ChaosStep,
        services: &Targets,
    ) -> anyhow::Result<BTreeMap<String, LinkInfo>> {
        let links = self.links().await.map_err(|error| {
            anyhow::anyhow!(
                "this scenario needs the fault proxy (line {}: {}), but none answers at {}: {}.\n\
                 Start the stack with `testbed up --processes --fault-proxy` (real PostgreSQL and \
                 Redis for their links), or point --fault-proxy-url / FAULT_PROXY_URL at its API.",
                first.line,
                first.fault,
                self.targets.proxy_url,
                root_cause(&error)
            )
        })?;
        for step in steps {
            for link in step.fault.links() {
                if !links.contains_key(&link) {
                    let have: Vec<&str> = links.keys().map(String::as_str).collect();
                    let hint = if link.ends_with("->postgres") || link.ends_with("->redis") {
                        " Links to PostgreSQL and Redis exist only when the stack runs on real \
                         servers (testbed up --database-server … --redis-url …); the embedded \
                         stack (SQLite, in-process cache) has none."
                    } else {
                        ""
                    };
                    bail!(
                        "line {}: {} needs the link {link}, which the fault proxy at {} does not \
                         have (it has: {}).{hint}",
                        step.line,
                        step.fault,
                        self.targets.proxy_url,
                        if have.is_empty() {
                            "none".into()
                        } else {
                            have.join(", ")
                        }
                    );
                }
            }
        }
        // The proxy must front the services this run talks to, not another stack's.
        if let Some(front) = links.get("loadgen->order") {
            let target = port_of(services.direct(Service::Order));
            if port_of(&front.listen) != target {
                bail!(
                    "the fault proxy at {} belongs to another stack: its loadgen->order link \
                     listens on {}, but this run targets the Order Service at {}",
                    self.targets.proxy_url,
                    front.listen,
                    services.direct(Service::Order)
                );
            }
        }
        Ok(links)
    }

    async fn preflight_processes(
        &self,
        first: &ChaosStep,
        services: &Targets,
        links: Option<&BTreeMap<String, LinkInfo>>,
    ) -> anyhow::Result<()> {
        let processes = self.processes().await.map_err(|error| {
            let refused = is_status(&error, StatusCode::UNAUTHORIZED)
                || is_status(&error, StatusCode::FORBIDDEN);
            if refused {
                anyhow::anyhow!(
                    "the control API at {} refused the admin token ({}): set ADMIN_TOKEN / \
                     --admin-token to the stack's",
                    self.targets.control_url,
                    root_cause(&error)
                )
            } else {
                anyhow::anyhow!(
                    "this scenario needs the launcher's control API (line {}: {}), but none \
                     answers at {}: {}.\nAn in-process stack (`testbed up`) has none: start it \
                     with `testbed up --processes --fault-proxy`, or point --control-url / \
                     CONTROL_API_URL at its control API.",
                    first.line,
                    first.fault,
                    self.targets.control_url,
                    root_cause(&error)
                )
            }
        })?;
        let order = processes
            .iter()
            .find(|p| p.service == "order")
            .context("the control API lists no order service")?;
        // Directly, or through the proxy's loadgen->order link (with --fault-proxy; asked
        // here when the scenario itself has no link fault).
        let target = port_of(services.direct(Service::Order));
        let supervised = port_of(&order.url);
        let asked = match links {
            Some(_) => None,
            None => self.links().await.ok(),
        };
        let through_proxy = links
            .or(asked.as_ref())
            .and_then(|links| links.get("loadgen->order"))
            .is_some_and(|front| {
                port_of(&front.listen) == target && port_of(&front.upstream) == supervised
            });
        if supervised != target && !through_proxy {
            bail!(
                "the control API at {} supervises an Order Service at {}, not the one this run \
                 targets ({}): it belongs to another stack",
                self.targets.control_url,
                order.url,
                services.direct(Service::Order)
            );
        }
        Ok(())
    }

    /// Before the run: links back to normal (toxics removed) when the scenario uses the
    /// proxy, and every service running again (resumed or started) when it uses the control
    /// API, so a run left over from an interrupted one does not skew this one. Answers what
    /// it had to fix, for the run's notes.
    pub async fn prepare(&self, steps: &[ChaosStep]) -> anyhow::Result<Vec<String>> {
        let mut fixed = Vec::new();
        if steps.iter().any(|step| !step.fault.links().is_empty()) {
            self.reset()
                .await
                .context("resetting the fault proxy before the run")?;
        }
        if steps.iter().any(|step| step.fault.process().is_some()) {
            for process in self.processes().await? {
                let Some(service) = Service::ALL
                    .into_iter()
                    .find(|service| service.name() == process.service)
                else {
                    continue;
                };
                let action = match process.state.as_str() {
                    "paused" => "resume",
                    "stopped" | "exited" => "start",
                    _ => continue,
                };
                self.act(service, action)
                    .await
                    .with_context(|| format!("{action} of the {service} service before the run"))?;
                fixed.push(format!(
                    "the {service} service was {} before the run: {action}ed",
                    process.state
                ));
            }
        }
        Ok(fixed)
    }
}

/// The proxy's name of a step's toxic on one stream: unique per scenario line.
fn toxic_name(step: &ChaosStep, stream: &str) -> String {
    format!("loadgen_line{}_{stream}", step.line)
}

/// An answer other than 2xx.
#[derive(Debug, thiserror::Error)]
#[error("{status}: {body}")]
struct CallError {
    status: StatusCode,
    body: String,
}

fn is_status(error: &anyhow::Error, status: StatusCode) -> bool {
    error
        .downcast_ref::<CallError>()
        .is_some_and(|e| e.status == status)
}

fn root_cause(error: &anyhow::Error) -> String {
    error
        .chain()
        .last()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// The port of `http://host:port/…` or `host:port`.
fn port_of(address: &str) -> Option<u16> {
    let with_scheme = if address.contains("://") {
        address.to_string()
    } else {
        format!("tcp://{address}")
    };
    let url = reqwest::Url::parse(&with_scheme).ok()?;
    url.port_or_known_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_read_from_urls_and_addresses() {
        assert_eq!(port_of("http://127.0.0.1:8003"), Some(8003));
        assert_eq!(port_of("http://127.0.0.1:8003/"), Some(8003));
        assert_eq!(port_of("127.0.0.1:40123"), Some(40123));
        assert_eq!(port_of("http://localhost"), Some(80));
    }
}
