//! The terminal while the dashboard owns it: raw mode, the alternate screen and a hidden
//! cursor, entered by [`TerminalSession::enter`] and always given back — when the session is
//! dropped (normal end, error, unwinding) and, through a panic hook installed once, before a
//! panic message is printed, so the message lands on the user's normal screen.
//!
//! While the dashboard is up, whatever else the process writes to stdout or stderr (goose
//! announces "N users launched." on stdout, for one) would scribble over the screen, so both
//! are diverted into unlinked temporary files and replayed once the terminal is back. The
//! dashboard itself draws through a duplicate of the real stdout.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};

use ratatui::Terminal;
use ratatui::backend::{Backend, CrosstermBackend};
use ratatui::crossterm::cursor::{Hide, Show};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};

/// Whether a session currently holds the terminal (raw mode, alternate screen).
static HELD: AtomicBool = AtomicBool::new(false);
/// Where stdout and stderr went while the terminal is held, to put them back.
static DIVERTED: Mutex<Option<Diverted>> = Mutex::new(None);
static PANIC_HOOK: Once = Once::new();

/// The dashboard's drawing surface: the real terminal, buffered (ratatui flushes per frame).
pub type Screen = Terminal<CrosstermBackend<BufWriter<File>>>;

/// The dashboard's hold on the terminal; dropping it restores the terminal.
pub struct TerminalSession {
    terminal: Screen,
}

impl TerminalSession {
    /// Switches the terminal to raw mode and the alternate screen and diverts other output.
    /// On failure the terminal is left as it was found.
    pub fn enter() -> io::Result<Self> {
        install_panic_hook();
        let mut screen = real_stdout()?;
        enable_raw_mode()?;
        HELD.store(true, Ordering::SeqCst);
        if let Ok(diverted) = Diverted::start() {
            // Without it the dashboard still works; stray output may only smudge the screen.
            *lock_diverted() = Some(diverted);
        }
        if let Err(e) = execute!(screen, EnterAlternateScreen, Hide) {
            restore();
            return Err(e);
        }
        match Terminal::new(CrosstermBackend::new(BufWriter::new(screen))) {
            Ok(terminal) => Ok(Self { terminal }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }

    pub fn terminal(&mut self) -> &mut Screen {
        &mut self.terminal
    }
}

impl Drop for TerminalSession {
    fn drop(&mut self) {
        // Anything still buffered belongs on the alternate screen, before it is left.
        let _ = Backend::flush(self.terminal.backend_mut());
        restore();
    }
}

/// True while a session holds the terminal; false after [`restore`] ran (for example from
/// the panic hook on another thread), after which nothing may be drawn.
pub fn held() -> bool {
    HELD.load(Ordering::SeqCst)
}

/// Gives the terminal back: raw mode off, stdout and stderr back where they were, the normal
/// screen, the cursor shown, then the diverted output printed. Does nothing when no session
/// holds the terminal, so it is safe to call more than once.
pub fn restore() {
    if !HELD.swap(false, Ordering::SeqCst) {
        return;
    }
    // Best effort throughout: there is nowhere left to report a failure to restore.
    let _ = disable_raw_mode();
    let diverted = lock_diverted().take();
    let replay = diverted.and_then(|d| d.stop().ok());
    let _ = execute!(io::stdout(), LeaveAlternateScreen, Show);
    if let Some((mut captured_out, mut captured_err)) = replay {
        let _ = io::copy(&mut captured_out, &mut io::stdout());
        let _ = io::stdout().flush();
        let _ = io::copy(&mut captured_err, &mut io::stderr());
    }
}

fn lock_diverted() -> std::sync::MutexGuard<'static, Option<Diverted>> {
    match DIVERTED.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Restores the terminal before the default hook prints a panic message.
fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}

/// A handle on the real stdout that stays on the terminal when fd 1 is diverted.
#[cfg(unix)]
fn real_stdout() -> io::Result<File> {
    use std::os::fd::AsFd;
    Ok(File::from(io::stdout().as_fd().try_clone_to_owned()?))
}

#[cfg(not(unix))]
fn real_stdout() -> io::Result<File> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "the dashboard needs a Unix terminal",
    ))
}

/// stdout and stderr pointed at temporary files, with the real ones kept to put back.
#[cfg(unix)]
struct Diverted {
    stdout: std::os::fd::OwnedFd,
    stderr: std::os::fd::OwnedFd,
    captured_out: File,
    captured_err: File,
}

#[cfg(unix)]
impl Diverted {
    fn start() -> io::Result<Self> {
        use std::os::fd::AsFd;
        let captured_out = unlinked_temp_file("stdout")?;
        let captured_err = unlinked_temp_file("stderr")?;
        let stdout = io::stdout().as_fd().try_clone_to_owned()?;
        let stderr = io::stderr().as_fd().try_clone_to_owned()?;
        io::stdout().flush()?;
        rustix::stdio::dup2_stdout(&captured_out)?;
        if let Err(e) = rustix::stdio::dup2_stderr(&captured_err) {
            let _ = rustix::stdio::dup2_stdout(&stdout);
            return Err(e.into());
        }
        Ok(Self {
            stdout,
            stderr,
            captured_out,
            captured_err,
        })
    }

    /// Puts stdout and stderr back; returns what was written to them meanwhile.
    fn stop(self) -> io::Result<(File, File)> {
        use std::io::{Seek, SeekFrom};
        let _ = io::stdout().flush();
        rustix::stdio::dup2_stdout(&self.stdout)?;
        rustix::stdio::dup2_stderr(&self.stderr)?;
        let (mut out, mut err) = (self.captured_out, self.captured_err);
        out.seek(SeekFrom::Start(0))?;
        err.seek(SeekFrom::Start(0))?;
        Ok((out, err))
    }
}

#[cfg(not(unix))]
struct Diverted;

#[cfg(not(unix))]
impl Diverted {
    fn start() -> io::Result<Self> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "no diversion"))
    }

    fn stop(self) -> io::Result<(File, File)> {
        Err(io::Error::new(io::ErrorKind::Unsupported, "no diversion"))
    }
}

/// A read-write file in the temp directory whose name is already gone (nothing to clean up).
#[cfg(unix)]
fn unlinked_temp_file(what: &str) -> io::Result<File> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let path = std::env::temp_dir().join(format!(
        "loadgen-dashboard-{}-{nanos}-{what}",
        std::process::id()
    ));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}
