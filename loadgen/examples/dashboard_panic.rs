//! Takes the terminal the way `loadgen run`'s dashboard does, prints a stray line, then
//! panics while holding it. `scripts/dashboard-pty.sh` runs it in tmux to check that a panic
//! gives the terminal back (normal screen, cursor, cooked mode), with the panic message and
//! the stray line readable afterwards.

use std::time::Duration;

use loadgen::dashboard::terminal::TerminalSession;
use ratatui::widgets::Paragraph;

fn main() {
    let mut session = match TerminalSession::enter() {
        Ok(session) => session,
        Err(e) => {
            eprintln!("dashboard_panic: no terminal to take: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = session.terminal().draw(|frame| {
        frame.render_widget(
            Paragraph::new("dashboard_panic: holding the terminal, about to panic"),
            frame.area(),
        )
    }) {
        eprintln!("dashboard_panic: drawing failed: {e}");
    }
    println!("dashboard_panic: stray output written while the dashboard was up");
    std::thread::sleep(Duration::from_millis(1500));
    panic!("dashboard_panic: deliberate panic while the dashboard holds the terminal");
}
