//! Rendering tests: the dashboard drawn from the fixed snapshot into ratatui's
//! `TestBackend`, then read back cell by cell (text and colour).

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;

use super::fixture;
use super::view::{self, KeyAction, RowHealth, ViewState};
use crate::duration::format_micros;
use crate::run::{Phase, Snapshot};

fn draw(width: u16, height: u16, snapshot: Option<&Snapshot>, state: &ViewState) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal
        .draw(|frame| view::render(frame, snapshot, state))
        .expect("drawing into a test backend");
    terminal.backend().buffer().clone()
}

/// The text of row `y`, one char per cell.
fn row_text(buffer: &Buffer, y: u16) -> String {
    (0..buffer.area.width)
        .map(|x| buffer[(x, y)].symbol().chars().next().unwrap_or(' '))
        .collect()
}

/// Where `text` starts on screen (column, row), scanning rows top to bottom.
fn find(buffer: &Buffer, text: &str) -> Option<(u16, u16)> {
    (0..buffer.area.height).find_map(|y| {
        let row: Vec<char> = row_text(buffer, y).chars().collect();
        let needle: Vec<char> = text.chars().collect();
        row.windows(needle.len())
            .position(|window| window == needle.as_slice())
            .map(|x| (x as u16, y))
    })
}

/// The text of row `y` from column `x` on.
fn text_from(buffer: &Buffer, x: u16, y: u16) -> String {
    row_text(buffer, y).chars().skip(x as usize).collect()
}

/// The column where `text` first appears on row `y`.
fn column_of(buffer: &Buffer, y: u16, text: &str) -> Option<u16> {
    let row: Vec<char> = row_text(buffer, y).chars().collect();
    let needle: Vec<char> = text.chars().collect();
    row.windows(needle.len())
        .position(|window| window == needle.as_slice())
        .map(|x| x as u16)
}

fn expect_at(buffer: &Buffer, text: &str) -> (u16, u16) {
    find(buffer, text).unwrap_or_else(|| {
        let screen: Vec<String> = (0..buffer.area.height)
            .map(|y| row_text(buffer, y))
            .collect();
        panic!("\"{text}\" is not on screen:\n{}", screen.join("\n"))
    })
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

/// Cells of the bar drawn right of a histogram label, up to column `until`.
fn bar_length(buffer: &Buffer, label: &str, until: u16) -> u16 {
    let (x, y) = expect_at(buffer, label);
    (x + label.chars().count() as u16..until)
        .filter(|&x| {
            let cell = &buffer[(x, y)];
            cell.symbol() == "█" || cell.bg == Color::Cyan
        })
        .count() as u16
}

#[test]
fn histogram_draws_one_bar_per_bucket_scaled_to_its_count() {
    let snapshot = fixture::snapshot();
    let buffer = draw(120, 40, Some(&snapshot), &ViewState::default());
    let (panel_x, panel_y) = expect_at(&buffer, "latency histogram");
    let (side_x, _) = expect_at(&buffer, "percentiles");
    // The default endpoint is POST /orders; its non-empty bucket range, in order, below the
    // panel title and inside the panel.
    let labels = [
        "≤800µs",
        "≤1.6ms",
        "≤3.2ms",
        "≤6.4ms",
        "≤12.8ms",
        "≤25.6ms",
        "≤51.2ms",
    ];
    let mut previous_row = panel_y;
    for label in labels {
        let (x, y) = expect_at(&buffer, label);
        assert!(
            x > panel_x.saturating_sub(2) && x < side_x,
            "{label} at column {x}"
        );
        assert_eq!(
            y,
            previous_row + 1,
            "{label} right below the previous bucket"
        );
        previous_row = y;
    }
    assert!(
        find(&buffer, "≤400µs").is_none(),
        "leading empty buckets are not drawn"
    );

    let longest = bar_length(&buffer, "≤6.4ms", side_x);
    let three_hundred = bar_length(&buffer, "≤3.2ms", side_x);
    let five = bar_length(&buffer, "≤51.2ms", side_x);
    assert!(
        longest > 20,
        "the 500-request bucket fills the panel: {longest}"
    );
    let expected = f64::from(longest) * 300.0 / 500.0;
    assert!(
        (f64::from(three_hundred) - expected).abs() <= 1.5,
        "300 of 500 → about {expected} cells, drew {three_hundred}"
    );
    assert!(five <= 1, "5 requests hardly show: {five}");
    let (_, tallest_row) = expect_at(&buffer, "≤6.4ms");
    assert!(row_text(&buffer, tallest_row).contains("500 50%"));
}

#[test]
fn percentiles_of_the_selected_endpoint_are_listed_in_order() {
    let snapshot = fixture::snapshot();
    let latency = fixture::orders_latency();
    let buffer = draw(120, 40, Some(&snapshot), &ViewState::default());
    let (panel_x, panel_y) = expect_at(&buffer, "percentiles");
    let mut previous_row = panel_y;
    for (name, micros) in [
        ("p50", latency.p50),
        ("p90", latency.p90),
        ("p99 ", latency.p99),
        ("p99.9", latency.p999),
        ("max", latency.max),
    ] {
        let (x, y) = expect_at(&buffer, &format!("{name:<6}"));
        assert!(x >= panel_x.saturating_sub(2), "{name} inside the panel");
        assert_eq!(y, previous_row + 1, "{name} on the next line");
        let row = text_from(&buffer, x, y);
        let value = format_micros(micros as f64);
        assert!(row.contains(&value), "{name} shows {value}: {row}");
        previous_row = y;
    }
}

#[test]
fn status_codes_and_request_rate_of_the_selected_endpoint_are_shown() {
    let snapshot = fixture::snapshot();
    let buffer = draw(120, 40, Some(&snapshot), &ViewState::default());
    let (x, y) = expect_at(&buffer, "201");
    assert!(row_text(&buffer, y).contains("700  70.0%"));
    assert_eq!(buffer[(x, y)].fg, Color::Green);
    let (x, y) = expect_at(&buffer, "503");
    assert!(row_text(&buffer, y).contains("3   0.3%"));
    assert_eq!(buffer[(x, y)].fg, Color::Red);
    // 12.4 s in: 12 complete seconds; the 13th (67 so far) is not yet a rate.
    let (_, title_row) = expect_at(&buffer, "requests/s · now 77 · peak 100");
    let sparkline_row: String = row_text(&buffer, title_row + 3);
    assert!(
        sparkline_row.chars().any(|c| "▁▂▃▄▅▆▇█".contains(c)),
        "sparkline bars under its title: {sparkline_row}"
    );
}

#[test]
fn the_fault_panel_shows_faults_on_and_the_recovery_of_ended_ones() {
    let mut snapshot = fixture::snapshot();
    let buffer = draw(160, 44, Some(&snapshot), &ViewState::default());
    let (on_x, on_row) = expect_at(&buffer, "● ON delay user since +0.0s");
    assert_eq!(buffer[(on_x, on_row)].fg, Color::Red, "a fault on is red");
    expect_at(&buffer, "● ON payment_fail order since +10.0s");
    let (x, row) = expect_at(
        &buffer,
        "✓ error restaurant recovered · books 0.41s err 1.0s p95 0.0s",
    );
    assert_eq!(buffer[(x, row)].fg, Color::Green, "recovered is green");

    // Books not balanced yet: recovering, yellow, with the time since the fault ended.
    snapshot.recovery[0].books = crate::recovery::Recovery::Recovering { for_s: 4.4 };
    let buffer = draw(160, 44, Some(&snapshot), &ViewState::default());
    let (x, row) = expect_at(
        &buffer,
        "… error restaurant recovering 4.4s · books … err 1.0s",
    );
    assert_eq!(buffer[(x, row)].fg, Color::Yellow);

    // The run is over and they never did: red.
    snapshot.recovery[0].books = crate::recovery::Recovery::NotRecovered { watched_s: 20.0 };
    let buffer = draw(160, 44, Some(&snapshot), &ViewState::default());
    let (x, row) = expect_at(&buffer, "✗ error restaurant NOT RECOVERED · books ✗");
    assert_eq!(buffer[(x, row)].fg, Color::Red);

    // No figure yet: an overlapping fault is still on.
    snapshot.recovery.clear();
    let buffer = draw(160, 44, Some(&snapshot), &ViewState::default());
    expect_at(
        &buffer,
        "◌ error restaurant ended · waiting for overlapping faults",
    );
}

#[test]
fn a_recent_fault_change_is_marked_on_its_service() {
    let snapshot = fixture::snapshot();
    let buffer = draw(140, 40, Some(&snapshot), &ViewState::default());
    let (flag_x, order_row) = expect_at(
        &buffer,
        "⚑ order      payment_fail fail_percent=30  changed 2s ago",
    );
    assert_eq!(buffer[(flag_x, order_row)].bg, Color::Yellow, "the flag");
    let (setting_x, _) = expect_at(&buffer, "payment_fail fail_percent=30");
    assert_eq!(
        buffer[(setting_x, order_row)].bg,
        Color::Yellow,
        "the new setting"
    );
    let (_, user_row) = expect_at(&buffer, "  user       delay 250ms  since +0s");
    let user_line = row_text(&buffer, user_row);
    assert!(
        !user_line.contains('⚑'),
        "an old change is not flagged: {user_line}"
    );
    let (setting_x, _) = expect_at(&buffer, "delay 250ms");
    assert_ne!(buffer[(setting_x, user_row)].bg, Color::Yellow);
    expect_at(&buffer, "restaurant none");
    // The change list, newest first.
    let (_, newest) = expect_at(&buffer, "+10.0s order");
    let (_, oldest) = expect_at(&buffer, "+0.0s user");
    assert!(newest < oldest);
}

#[test]
fn process_and_link_faults_show_on_the_fault_panel_while_on() {
    let mut snapshot = fixture::snapshot();
    let now = snapshot.elapsed.as_secs_f64();
    let window = |kind: &str, target: &str, label: &str, start_s: f64, end_s: f64| {
        crate::fault_window::FaultWindow {
            kind: kind.into(),
            target: target.into(),
            label: label.into(),
            start_s,
            end_s,
        }
    };
    snapshot.active_faults = vec![
        window(
            "kill",
            "restaurant",
            "kill restaurant for 2s",
            now - 1.0,
            now,
        ),
        window(
            "partition",
            "order->restaurant",
            "partition order->restaurant for 5s",
            now - 2.0,
            now,
        ),
    ];
    // Over: not shown as on.
    snapshot.ended_faults = vec![window(
        "link",
        "order->user",
        "latency 100ms on order->user for 1s",
        1.0,
        2.0,
    )];
    let buffer = draw(140, 40, Some(&snapshot), &ViewState::default());
    expect_at(&buffer, "restaurant KILL RESTAURANT FOR 2S");
    let (x, y) = expect_at(&buffer, "● ON partition order->restaurant");
    assert_eq!(buffer[(x, y)].fg, Color::Red);
    assert!(find(&buffer, "● ON link order->user").is_none());
}

#[test]
fn drift_is_shown_in_red_with_the_difference() {
    let snapshot = fixture::snapshot();
    let buffer = draw(120, 40, Some(&snapshot), &ViewState::default());
    let (_, kimchi_row) = expect_at(&buffer, "kimchi");
    let drift_x = column_of(&buffer, kimchi_row, "-2").expect("the difference is shown");
    for x in drift_x..drift_x + 2 {
        assert_eq!(
            buffer[(x, kimchi_row)].fg,
            Color::Red,
            "drift cell {x} is red"
        );
    }
    let (bulgogi_x, bulgogi_row) = expect_at(&buffer, "bulgogi");
    assert_eq!(buffer[(bulgogi_x, bulgogi_row)].fg, Color::Green);
    let bulgogi_line = row_text(&buffer, bulgogi_row);
    assert!(!bulgogi_line.contains("-2") && !bulgogi_line.contains("+"));
}

#[test]
fn drift_while_orders_are_in_flight_is_yellow_until_the_run_ends() {
    let mut snapshot = fixture::snapshot();
    let check = snapshot.consistency.as_mut().expect("fixture check");
    check.orders_by_status.insert("PENDING".into(), 2);
    let check = check.clone();
    let kimchi = &check.rows[1];
    assert_eq!(
        view::row_health(kimchi, &check, Phase::Running),
        RowHealth::InFlight
    );
    assert_eq!(
        view::row_health(kimchi, &check, Phase::Settling),
        RowHealth::Broken
    );
    assert_eq!(
        view::row_health(&check.rows[0], &check, Phase::Running),
        RowHealth::Holds
    );
    let buffer = draw(120, 40, Some(&snapshot), &ViewState::default());
    let (_, row) = expect_at(&buffer, "kimchi");
    let x = column_of(&buffer, row, "-2").expect("difference shown");
    assert_eq!(buffer[(x, row)].fg, Color::Yellow);
}

#[test]
fn tab_and_arrows_move_between_endpoints() {
    let snapshot = fixture::snapshot();
    let mut state = ViewState::default();
    let buffer = draw(120, 40, Some(&snapshot), &state);
    expect_at(&buffer, "POST /orders · 1,000 requests");
    // Flow order lists GET /menus before POST /orders; Tab wraps around to it.
    assert_eq!(
        state.on_key(key(KeyCode::Tab), Some(&snapshot)),
        KeyAction::Redraw
    );
    let buffer = draw(120, 40, Some(&snapshot), &state);
    expect_at(&buffer, "GET /menus · 400 requests");
    let (x, y) = expect_at(&buffer, "p99   ");
    assert!(text_from(&buffer, x, y).contains("2.9ms"));
    let (_, selected_row) = expect_at(&buffer, "▶ GET /menus");
    assert!(expect_at(&buffer, "  POST /orders").1 > selected_row);
    assert_eq!(
        state.on_key(key(KeyCode::Left), Some(&snapshot)),
        KeyAction::Redraw
    );
    let buffer = draw(120, 40, Some(&snapshot), &state);
    expect_at(&buffer, "▶ POST /orders");
    assert_eq!(
        state.on_key(key(KeyCode::Down), Some(&snapshot)),
        KeyAction::Redraw
    );
    assert_eq!(
        state.on_key(key(KeyCode::Up), Some(&snapshot)),
        KeyAction::Redraw
    );
    let buffer = draw(120, 40, Some(&snapshot), &state);
    expect_at(&buffer, "▶ POST /orders");
    assert_eq!(state.on_key(key(KeyCode::Tab), None), KeyAction::Ignored);
}

#[test]
fn q_and_ctrl_c_stop_and_question_mark_toggles_help() {
    let snapshot = fixture::snapshot();
    let mut state = ViewState::default();
    assert_eq!(
        state.on_key(key(KeyCode::Char('x')), Some(&snapshot)),
        KeyAction::Ignored
    );
    assert!(!state.stopping);
    assert_eq!(
        state.on_key(key(KeyCode::Char('?')), Some(&snapshot)),
        KeyAction::Redraw
    );
    let buffer = draw(120, 40, Some(&snapshot), &state);
    expect_at(&buffer, "stop the run gracefully");
    assert_eq!(
        state.on_key(key(KeyCode::Esc), Some(&snapshot)),
        KeyAction::Redraw
    );
    let buffer = draw(120, 40, Some(&snapshot), &state);
    assert!(find(&buffer, "stop the run gracefully").is_none());

    assert_eq!(
        state.on_key(key(KeyCode::Char('q')), Some(&snapshot)),
        KeyAction::Stop
    );
    assert!(state.stopping);
    let buffer = draw(120, 40, Some(&snapshot), &state);
    expect_at(&buffer, "STOPPING");
    expect_at(&buffer, "the report is still written");

    let mut state = ViewState::default();
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(state.on_key(ctrl_c, Some(&snapshot)), KeyAction::Stop);
    assert_eq!(
        state.on_key(key(KeyCode::Char('c')), Some(&snapshot)),
        KeyAction::Ignored
    );
}

#[test]
fn header_shows_time_users_requests_and_error_rate() {
    let snapshot = fixture::snapshot();
    let buffer = draw(120, 40, Some(&snapshot), &ViewState::default());
    let (_, row) = expect_at(&buffer, "elapsed 0:12 / 0:30");
    let line = row_text(&buffer, row);
    for part in [
        "remaining 0:17",
        "users 12/12",
        "requests 1,400",
        "now 107/s",
        "errors 3 (0.21%)",
    ] {
        assert!(line.contains(part), "{part} in {line}");
    }
    expect_at(&buffer, "chaos-payment-fail · RUNNING");
    expect_at(&buffer, " 41%");
}

#[test]
fn small_and_resized_terminals_do_not_panic() {
    let snapshot = fixture::snapshot();
    let mut help = ViewState::default();
    help.show_help = true;
    let mut empty = fixture::snapshot();
    empty.endpoints.clear();
    empty.markers.clear();
    empty.consistency = None;
    empty.faults.clear();
    let sizes = [
        (20, 5),
        (0, 0),
        (1, 1),
        (5, 40),
        (79, 23),
        (80, 24),
        (80, 12),
        (200, 24),
        (250, 80),
    ];
    let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("test terminal");
    for (width, height) in sizes {
        terminal.backend_mut().resize(width, height);
        for state in [&ViewState::default(), &help] {
            for shown in [Some(&snapshot), Some(&empty), None] {
                terminal
                    .draw(|frame| view::render(frame, shown, state))
                    .expect("drawing into a test backend");
            }
        }
    }
    let buffer = draw(20, 5, Some(&snapshot), &ViewState::default());
    expect_at(&buffer, "chaos-payment-fail");
    expect_at(&buffer, "drift -2");
}

#[test]
fn visible_buckets_drop_empty_ends_and_merge_to_fit() {
    let all = view::visible_buckets(&fixture::ORDER_BUCKETS, 20);
    assert_eq!(all.len(), 7);
    assert_eq!(all[0], (800, 10));
    assert_eq!(all[6], (51_200, 5));
    let fitted = view::visible_buckets(&fixture::ORDER_BUCKETS, 3);
    assert!(fitted.len() <= 3, "{fitted:?}");
    assert_eq!(fitted.iter().map(|(_, c)| c).sum::<u64>(), 1_000);
    assert_eq!(fitted.last().map(|(upper, _)| *upper), Some(51_200));
    assert!(view::visible_buckets(&[(100, 0), (200, 0)], 5).is_empty());
}

#[test]
fn numbers_and_times_are_written_for_people() {
    assert_eq!(view::thousands(0), "0");
    assert_eq!(view::thousands(999), "999");
    assert_eq!(view::thousands(1_000), "1,000");
    assert_eq!(view::thousands(1_234_567), "1,234,567");
    assert_eq!(view::clock(std::time::Duration::from_secs(75)), "1:15");
    assert_eq!(
        view::clock(std::time::Duration::from_secs(3_725)),
        "1:02:05"
    );
}

#[test]
fn wide_terminals_list_every_endpoint_name_whole_with_its_p99() {
    let mut snapshot = fixture::snapshot();
    snapshot.endpoints.push(crate::recorder::EndpointSnapshot {
        endpoint: "POST /orders/{id}/cancel".into(),
        requests: 12,
        ..crate::recorder::EndpointSnapshot::default()
    });
    let buffer = draw(140, 40, Some(&snapshot), &ViewState::default());
    let (_, header_row) = expect_at(&buffer, " endpoint ");
    assert!(row_text(&buffer, header_row).contains("p99"));
    let (_, orders_row) = expect_at(&buffer, "▶ POST /orders ");
    let orders_line = row_text(&buffer, orders_row);
    assert!(orders_line.contains("23.4ms"), "{orders_line}");
    expect_at(&buffer, "  POST /orders/{id}/cancel ");
    // Narrower, the p99 column gives way to the detail panels.
    let buffer = draw(100, 40, Some(&snapshot), &ViewState::default());
    let (_, header_row) = expect_at(&buffer, " endpoint ");
    assert!(!row_text(&buffer, header_row).contains("p99"));
}

#[test]
fn an_open_loop_run_shows_in_flight_against_the_cap_and_dropped_iterations() {
    let mut snapshot = fixture::snapshot();
    let closed = draw(180, 40, Some(&snapshot), &ViewState::default());
    assert!(
        find(&closed, "dropped").is_none(),
        "closed loop: no cap shown"
    );
    snapshot.mode = crate::run::LoadMode::OpenLoop { rate: 50.0 };
    snapshot.iterations = crate::assertions::IterationStats {
        scheduled: 600,
        dropped: 37,
        peak_in_flight: 20,
        max_in_flight: 20,
    };
    snapshot.in_flight = 19;
    let buffer = draw(180, 40, Some(&snapshot), &ViewState::default());
    let (x, y) = expect_at(&buffer, "in flight 19/20");
    let dropped = column_of(&buffer, y, "dropped 37").expect("dropped on the header row");
    assert!(dropped > x);
    let number = dropped + "dropped ".len() as u16;
    assert_eq!(
        buffer[(number, y)].fg,
        Color::Red,
        "dropped iterations are red"
    );
}
