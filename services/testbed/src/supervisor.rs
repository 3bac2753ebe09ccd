//! The process supervisor of `testbed up --processes`: each service runs as its own child
//! process (`testbed serve <role>`), and the supervisor starts, stops (SIGTERM, then SIGKILL
//! after a grace period), kills (SIGKILL), pauses (SIGSTOP), resumes (SIGCONT) and restarts
//! them on request — it never restarts anything by itself. It records each service's pid,
//! state, restarts and last exit status; a task per child reaps it and notes how it ended.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde::Serialize;
use tokio::sync::{Mutex, watch};

/// How long `stop` waits after SIGTERM before it sends SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// How long `start` waits for the service to answer `/ready`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How to run one service.
#[derive(Clone, Debug)]
pub struct ServiceSpec {
    /// `user`, `restaurant` or `order`.
    pub name: &'static str,
    /// Base URL it serves on.
    pub url: String,
    /// Arguments after the program (`serve <role> --port …`).
    pub args: Vec<String>,
    /// Environment to set (`Some`) or remove (`None`) for the child; the rest is inherited.
    pub env: Vec<(String, Option<String>)>,
}

/// Where a supervised service is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Running,
    /// Stopped on request (or never started).
    Stopped,
    /// Frozen with SIGSTOP: open sockets, no answers.
    Paused,
    /// Ended without being asked to stop (killed, crashed).
    Exited,
}

/// A service as the control API shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ProcessView {
    pub service: &'static str,
    pub url: String,
    pub pid: Option<u32>,
    pub state: State,
    /// Starts after the first one.
    pub restarts: u32,
    /// How the last process ended, e.g. `signal: 9 (SIGKILL)` or `exit status: 0`.
    pub exit_status: Option<String>,
}

/// Why a control action was refused.
#[derive(Debug)]
pub enum ControlError {
    UnknownService(String),
    WrongState {
        service: &'static str,
        state: State,
        action: &'static str,
    },
    Failed(String),
}

struct Slot {
    spec: ServiceSpec,
    state: State,
    pid: Option<u32>,
    starts: u32,
    stopping: bool,
    exit_status: Option<String>,
    /// Becomes true when the current process has been reaped.
    exited: Option<watch::Receiver<bool>>,
}

impl Slot {
    fn view(&self) -> ProcessView {
        ProcessView {
            service: self.spec.name,
            url: self.spec.url.clone(),
            pid: self.pid,
            state: self.state,
            restarts: self.starts.saturating_sub(1),
            exit_status: self.exit_status.clone(),
        }
    }

    fn signal(&self, signal: Signal) -> Result<(), ControlError> {
        let pid = self
            .pid
            .and_then(|pid| i32::try_from(pid).ok())
            .ok_or_else(|| ControlError::Failed(format!("{} has no process", self.spec.name)))?;
        kill(Pid::from_raw(pid), signal)
            .map_err(|e| ControlError::Failed(format!("{signal} to {}: {e}", self.spec.name)))
    }

    fn require(&self, action: &'static str, allowed: &[State]) -> Result<(), ControlError> {
        if allowed.contains(&self.state) {
            return Ok(());
        }
        Err(ControlError::WrongState {
            service: self.spec.name,
            state: self.state,
            action,
        })
    }
}

/// The supervised services; cheap to clone.
#[derive(Clone)]
pub struct Supervisor {
    program: PathBuf,
    slots: Arc<Mutex<Vec<Slot>>>,
}

impl Supervisor {
    /// Services run as `program <spec.args>`; none is started yet.
    pub fn new(program: PathBuf, specs: Vec<ServiceSpec>) -> Self {
        let slots = specs
            .into_iter()
            .map(|spec| Slot {
                spec,
                state: State::Stopped,
                pid: None,
                starts: 0,
                stopping: false,
                exit_status: None,
                exited: None,
            })
            .collect();
        Self {
            program,
            slots: Arc::new(Mutex::new(slots)),
        }
    }

    pub async fn list(&self) -> Vec<ProcessView> {
        self.slots.lock().await.iter().map(Slot::view).collect()
    }

    /// The service's index, or 404.
    async fn find(&self, service: &str) -> Result<usize, ControlError> {
        self.slots
            .lock()
            .await
            .iter()
            .position(|slot| slot.spec.name == service)
            .ok_or_else(|| ControlError::UnknownService(service.to_string()))
    }

    async fn view(&self, index: usize) -> ProcessView {
        self.slots.lock().await[index].view()
    }

    /// Starts a stopped or exited service and waits until it answers `/ready`.
    pub async fn start(&self, service: &str) -> Result<ProcessView, ControlError> {
        let index = self.find(service).await?;
        let (url, exited) = {
            let mut slots = self.slots.lock().await;
            let slot = &mut slots[index];
            slot.require("start", &[State::Stopped, State::Exited])?;
            self.spawn(index, slot)?;
            (slot.spec.url.clone(), slot.exited.clone())
        };
        tokio::select! {
            ready = testbed_common::server::wait_ready(&url, READY_TIMEOUT) => {
                if let Err(error) = ready {
                    return Err(ControlError::Failed(format!(
                        "{service} started but is not ready: {error}"
                    )));
                }
            }
            // A child that dies while starting (a port in use, a bad database URL) is told
            // at once rather than after the readiness timeout.
            true = wait_exit(exited, READY_TIMEOUT) => {
                let view = self.view(index).await;
                return Err(ControlError::Failed(format!(
                    "{service} exited while starting ({})",
                    view.exit_status.unwrap_or_default()
                )));
            }
        }
        Ok(self.view(index).await)
    }

    fn spawn(&self, index: usize, slot: &mut Slot) -> Result<(), ControlError> {
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(&slot.spec.args)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        for (name, value) in &slot.spec.env {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        let child = command
            .spawn()
            .map_err(|e| ControlError::Failed(format!("cannot start {}: {e}", slot.spec.name)))?;
        let (done, exited) = watch::channel(false);
        slot.starts += 1;
        slot.pid = child.id();
        slot.state = State::Running;
        slot.stopping = false;
        slot.exited = Some(exited);
        tracing::info!(service = slot.spec.name, pid = ?slot.pid, "started");
        tokio::spawn(reap(self.slots.clone(), index, slot.starts, child, done));
        Ok(())
    }

    /// SIGTERM, then waits for the exit (SIGKILL after a grace period): state `stopped`.
    pub async fn stop(&self, service: &str) -> Result<ProcessView, ControlError> {
        let index = self.find(service).await?;
        let exited = {
            let mut slots = self.slots.lock().await;
            let slot = &mut slots[index];
            slot.require("stop", &[State::Running, State::Paused])?;
            slot.stopping = true;
            slot.signal(Signal::SIGTERM)?;
            if slot.state == State::Paused {
                // A frozen process only acts on the SIGTERM once it runs again.
                slot.signal(Signal::SIGCONT)?;
            }
            slot.exited.clone()
        };
        if !wait_exit(exited.clone(), STOP_GRACE).await {
            tracing::warn!(service, "no exit {STOP_GRACE:?} after SIGTERM: SIGKILL");
            self.slots.lock().await[index].signal(Signal::SIGKILL)?;
            wait_exit(exited, STOP_GRACE).await;
        }
        Ok(self.view(index).await)
    }

    /// SIGKILL, and waits until it is reaped: state `exited`.
    pub async fn kill(&self, service: &str) -> Result<ProcessView, ControlError> {
        let index = self.find(service).await?;
        let exited = {
            let slots = self.slots.lock().await;
            let slot = &slots[index];
            slot.require("kill", &[State::Running, State::Paused])?;
            slot.signal(Signal::SIGKILL)?;
            slot.exited.clone()
        };
        wait_exit(exited, STOP_GRACE).await;
        Ok(self.view(index).await)
    }

    /// SIGSTOP (`running` → `paused`) or SIGCONT (`paused` → `running`).
    pub async fn pause(&self, service: &str, pause: bool) -> Result<ProcessView, ControlError> {
        let index = self.find(service).await?;
        let mut slots = self.slots.lock().await;
        let slot = &mut slots[index];
        let (action, from, signal, to) = if pause {
            ("pause", State::Running, Signal::SIGSTOP, State::Paused)
        } else {
            ("resume", State::Paused, Signal::SIGCONT, State::Running)
        };
        slot.require(action, &[from])?;
        slot.signal(signal)?;
        slot.state = to;
        tracing::info!(service, action, "done");
        Ok(slot.view())
    }

    /// Stops the service if it runs (or is paused), then starts it.
    pub async fn restart(&self, service: &str) -> Result<ProcessView, ControlError> {
        let index = self.find(service).await?;
        let state = self.slots.lock().await[index].state;
        if matches!(state, State::Running | State::Paused) {
            self.stop(service).await?;
        }
        self.start(service).await
    }

    /// Starts every service in order (each ready before the next), as `testbed up` does.
    pub async fn start_all(&self) -> Result<(), ControlError> {
        let names: Vec<&'static str> = self.list().await.iter().map(|p| p.service).collect();
        for name in names {
            self.start(name).await?;
        }
        Ok(())
    }

    /// Stops every running or paused service, last started first.
    pub async fn stop_all(&self) {
        let views = self.list().await;
        for view in views.iter().rev() {
            if matches!(view.state, State::Running | State::Paused)
                && let Err(error) = self.stop(view.service).await
            {
                tracing::warn!(service = view.service, ?error, "stopping");
            }
        }
    }
}

/// Waits until the process behind `exited` has been reaped; false after `within`.
async fn wait_exit(exited: Option<watch::Receiver<bool>>, within: Duration) -> bool {
    let Some(mut exited) = exited else {
        return true;
    };
    matches!(
        tokio::time::timeout(within, exited.wait_for(|done| *done)).await,
        Ok(Ok(_))
    )
}

/// Reaps one child and records how it ended (unless a newer process took its slot).
async fn reap(
    slots: Arc<Mutex<Vec<Slot>>>,
    index: usize,
    generation: u32,
    mut child: tokio::process::Child,
    done: watch::Sender<bool>,
) {
    let status = child.wait().await;
    {
        let mut slots = slots.lock().await;
        let slot = &mut slots[index];
        if slot.starts == generation {
            slot.state = if slot.stopping {
                State::Stopped
            } else {
                State::Exited
            };
            slot.pid = None;
            slot.stopping = false;
            slot.exit_status = Some(match &status {
                Ok(status) => status.to_string(),
                Err(error) => format!("unknown: {error}"),
            });
            tracing::info!(service = slot.spec.name, status = ?slot.exit_status, state = ?slot.state, "process ended");
        }
    }
    let _ = done.send(true);
}
