//! The live terminal dashboard of `loadgen run` (ratatui on crossterm). [`Dashboard::open`]
//! takes the terminal before the run starts; [`Dashboard::watch`] then follows a
//! [`RunHandle`] until the run has produced its record.
//!
//! Two sides, so drawing never runs on the load's tokio workers and the load never waits for
//! the screen: the async side takes a [`Snapshot`] every [`REFRESH`] (the recorder merges its
//! shards, a few short locks) and hands it over a channel; a plain thread owns the terminal,
//! reads keys and draws the latest snapshot. `q`/Ctrl-C (and SIGINT/SIGTERM) ask the run to
//! stop gracefully, so teardown, the final check and the report still happen. The terminal
//! is restored when the dashboard ends, on error, and on panic (see [`terminal`]).

pub mod terminal;
pub mod view;

#[cfg(test)]
mod fixture;
#[cfg(test)]
mod tests;

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use crate::run::{RunHandle, RunRecord, Snapshot};
use terminal::TerminalSession;
use view::{KeyAction, ViewState};

/// How often a new snapshot is taken and drawn.
pub const REFRESH: Duration = Duration::from_secs(1);
/// How long the drawing thread waits for a key before looking for a new snapshot.
const KEY_POLL: Duration = Duration::from_millis(50);

/// From the run's side to the drawing thread.
enum ToScreen {
    Snapshot(Box<Snapshot>),
    /// The run was asked to stop by a signal rather than a key.
    Stopping,
}

/// From the drawing thread to the run's side.
enum FromScreen {
    StopRequested,
    /// The screen could not be drawn any more; the run goes on without it.
    Failed(String),
}

/// The dashboard, holding the terminal.
pub struct Dashboard {
    session: TerminalSession,
}

impl Dashboard {
    /// Takes the terminal (raw mode, alternate screen). Fails when it is not a usable
    /// terminal; the caller then falls back to progress lines.
    pub fn open() -> anyhow::Result<Self> {
        let session = TerminalSession::enter().context("taking the terminal for the dashboard")?;
        Ok(Self { session })
    }

    /// Shows the run until it ends and returns its record; the terminal is back to normal
    /// when this returns.
    pub async fn watch(self, handle: RunHandle) -> anyhow::Result<RunRecord> {
        let (to_screen, screen_inbox) = mpsc::channel::<ToScreen>();
        let (screen_outbox, mut from_screen) = unbounded_channel::<FromScreen>();
        let session = self.session;
        let screen: JoinHandle<()> = std::thread::Builder::new()
            .name("dashboard".into())
            .spawn(move || draw_loop(session, screen_inbox, screen_outbox))
            .context("starting the dashboard thread")?;

        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        let mut ctrl_c_seen = false;
        #[cfg(unix)]
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let mut ticker = tokio::time::interval(REFRESH);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut screen_alive = true;

        loop {
            #[cfg(unix)]
            let terminated = async {
                match terminate.as_mut() {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending().await,
                }
            };
            #[cfg(not(unix))]
            let terminated = std::future::pending::<Option<()>>();
            tokio::select! {
                _ = ticker.tick() => {
                    if handle.is_finished() {
                        break;
                    }
                    if screen_alive
                        && to_screen.send(ToScreen::Snapshot(Box::new(handle.snapshot()))).is_err()
                    {
                        screen_alive = false;
                    }
                }
                message = from_screen.recv(), if screen_alive => match message {
                    Some(FromScreen::StopRequested) => handle.stop(),
                    Some(FromScreen::Failed(reason)) => {
                        screen_alive = false;
                        eprintln!("dashboard stopped ({reason}); the run goes on, Ctrl-C stops it");
                    }
                    None => screen_alive = false,
                },
                _ = &mut ctrl_c, if !ctrl_c_seen => {
                    ctrl_c_seen = true;
                    handle.stop();
                    let _ = to_screen.send(ToScreen::Stopping);
                }
                _ = terminated => {
                    handle.stop();
                    let _ = to_screen.send(ToScreen::Stopping);
                }
            }
        }
        // Closing the channel ends the drawing thread, which restores the terminal.
        drop(to_screen);
        let joined = tokio::task::spawn_blocking(move || screen.join()).await;
        if !matches!(joined, Ok(Ok(()))) {
            eprintln!("the dashboard thread panicked; the terminal was restored");
        }
        handle.wait().await
    }
}

/// The drawing thread: keys in, the latest snapshot drawn, until the run's side hangs up.
fn draw_loop(
    mut session: TerminalSession,
    inbox: mpsc::Receiver<ToScreen>,
    outbox: UnboundedSender<FromScreen>,
) {
    let mut state = ViewState::default();
    let mut latest: Option<Snapshot> = None;
    let mut dirty = true;
    loop {
        // The panic hook gives the terminal back if any thread panics; draw no more then.
        if !terminal::held() {
            return;
        }
        loop {
            match inbox.try_recv() {
                Ok(ToScreen::Snapshot(snapshot)) => {
                    latest = Some(*snapshot);
                    dirty = true;
                }
                Ok(ToScreen::Stopping) => {
                    state.stopping = true;
                    dirty = true;
                }
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => return,
            }
        }
        if dirty {
            if let Err(e) = session
                .terminal()
                .draw(|frame| view::render(frame, latest.as_ref(), &state))
            {
                drop(session);
                let _ = outbox.send(FromScreen::Failed(format!("drawing failed: {e}")));
                return;
            }
            dirty = false;
        }
        match event::poll(KEY_POLL) {
            Ok(false) => {}
            Ok(true) => match event::read() {
                Ok(Event::Key(key)) if key.kind == KeyEventKind::Press => {
                    match state.on_key(key, latest.as_ref()) {
                        KeyAction::Stop => {
                            dirty = true;
                            if outbox.send(FromScreen::StopRequested).is_err() {
                                return;
                            }
                        }
                        KeyAction::Redraw => dirty = true,
                        KeyAction::Ignored => {}
                    }
                }
                Ok(Event::Resize(..)) => dirty = true,
                Ok(_) => {}
                Err(e) => {
                    drop(session);
                    let _ = outbox.send(FromScreen::Failed(format!("reading keys failed: {e}")));
                    return;
                }
            },
            Err(e) => {
                drop(session);
                let _ = outbox.send(FromScreen::Failed(format!("reading keys failed: {e}")));
                return;
            }
        }
    }
}
