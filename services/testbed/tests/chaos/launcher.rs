//! `testbed up --processes --fault-proxy` as a child of the test: asked to stop with
//! SIGTERM when dropped, so it stops its own children (a SIGKILL would orphan them), and
//! killed if it has not stopped within 30 s.

use std::process::Child;
use std::time::{Duration, Instant};

use testkit::TempDir;

pub struct Launcher {
    pub child: Child,
    /// Its working directory (SQLite files, logs), removed after it stopped.
    pub _dir: TempDir,
}

impl Drop for Launcher {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
