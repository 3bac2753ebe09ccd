//! Shutdown signals from a process's first instruction.
//!
//! [`run`] is what a binary's `main` calls first: it blocks SIGTERM and SIGINT before the
//! async runtime exists, builds the runtime, registers the runtime's signal listeners and
//! only then unblocks them — so a signal at any moment (while the runtime starts, during
//! migrations, while connecting to the database, after the banner) is delivered to the
//! listeners and ends in a clean shutdown with exit status 0, never in the default action
//! (death by signal, "signal: 15"). A signal that arrives while they are blocked stays
//! pending and is delivered the moment they are unblocked.
//!
//! The body gets a [`CancellationToken`] that is cancelled on the first signal; start-up is
//! raced against it ([`CancellationToken::run_until_cancelled`]) and serving stops on it.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Runs `body` on a multi-threaded runtime with SIGTERM and SIGINT handled from the start.
///
/// Call it before anything else in `main`. The token passed to `body` is cancelled on the
/// first SIGTERM or SIGINT.
pub fn run<T, F, Fut>(body: F) -> anyhow::Result<T>
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    let blocked = block_termination_signals()?;
    // Threads the runtime creates inherit the blocked mask, so only this (main) thread
    // takes the signals once unblocked; the runtime's handler forwards them to the listener.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let shutdown = CancellationToken::new();
    {
        let _context = runtime.enter();
        let listener = Listener::register()?;
        tokio::spawn(listener.cancel_on_signal(shutdown.clone()));
    }
    blocked.unblock()?;
    let result = runtime.block_on(body(shutdown));
    // Background tasks (recovery loops, cache refreshers) end with the runtime; a blocking
    // task (e.g. a password hash) gets a bounded moment rather than holding the exit.
    runtime.shutdown_timeout(Duration::from_secs(5));
    result
}

/// The whole `main` of a service binary: [`run`], then logging, the configuration `C` from
/// flags and environment, `build` (a signal meanwhile stops it cleanly), and serving until
/// signalled.
pub fn run_service<C, B, Fut>(build: B) -> anyhow::Result<()>
where
    C: clap::Parser,
    B: FnOnce(C) -> Fut,
    Fut: Future<Output = anyhow::Result<crate::server::Server>>,
{
    run(|shutdown| async move {
        crate::telemetry::init_tracing();
        let config = C::parse();
        build_and_serve(&shutdown, build(config)).await
    })
}

/// Builds a service (unless a signal comes first) and serves it until `shutdown`: what a
/// service binary and `testbed serve` both do once configured.
pub async fn build_and_serve(
    shutdown: &CancellationToken,
    build: impl Future<Output = anyhow::Result<crate::server::Server>>,
) -> anyhow::Result<()> {
    match unless_signalled(shutdown, build).await? {
        Some(server) => server.run(shutdown.clone().cancelled_owned()).await,
        None => Ok(()),
    }
}

/// The runtime's listeners for SIGTERM and SIGINT.
struct Listener {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Listener {
    #[cfg(unix)]
    fn register() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    #[cfg(not(unix))]
    fn register() -> std::io::Result<Self> {
        Ok(Self {})
    }

    /// Waits for the first signal and cancels `shutdown`.
    async fn cancel_on_signal(mut self, shutdown: CancellationToken) {
        let name = self.next().await;
        tracing::info!(signal = name, "shutdown signal received");
        shutdown.cancel();
    }

    #[cfg(unix)]
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> &'static str {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

/// SIGTERM and SIGINT blocked on the calling thread until [`Blocked::unblock`].
struct Blocked {
    #[cfg(unix)]
    set: nix::sys::signal::SigSet,
}

#[cfg(unix)]
fn block_termination_signals() -> anyhow::Result<Blocked> {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    set.thread_block()?;
    Ok(Blocked { set })
}

#[cfg(not(unix))]
fn block_termination_signals() -> anyhow::Result<Blocked> {
    Ok(Blocked {})
}

impl Blocked {
    fn unblock(self) -> anyhow::Result<()> {
        #[cfg(unix)]
        self.set.thread_unblock()?;
        Ok(())
    }
}

/// Runs a start-up step unless `shutdown` fires first: `Ok(None)` then, and whatever the
/// step had started is dropped (connections closed; migrations are transactional).
pub async fn unless_signalled<T>(
    shutdown: &CancellationToken,
    step: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<Option<T>> {
    match shutdown.run_until_cancelled(step).await {
        Some(result) => result.map(Some),
        None => {
            tracing::info!("shutdown signal during start-up: stopping before serving");
            Ok(None)
        }
    }
}
