//! What the dashboard draws and how it answers keys: the layout and every panel (run
//! header, endpoint list, the selected endpoint's latency histogram, percentiles, requests/s
//! sparkline and status codes, fault settings with change markers, the faults on and the
//! recovery after those that ended, inventory consistency),
//! drawn from one [`Snapshot`] and the viewer's [`ViewState`]. No I/O here, so tests render
//! it into ratatui's `TestBackend`.

use std::time::Duration;

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Bar, BarChart, Block, Cell, Clear, LineGauge, Paragraph, Row, Sparkline, Table,
};

use crate::consistency::{ConsistencyCheck, ConsistencyRow};
use crate::duration::format_micros;
use crate::fault_window::FaultWindow;
use crate::recorder::{EndpointSnapshot, LatencySummary, TRANSPORT_ERROR};
use crate::recovery::{Recovery, RecoveryFigure};
use crate::run::{LoadMode, Phase, Snapshot};
use crate::scenario::{ENDPOINTS, Service};

/// Below this size the dashboard shows a one-panel summary instead of every panel.
pub const FULL_VIEW_MIN_WIDTH: u16 = 80;
pub const FULL_VIEW_MIN_HEIGHT: u16 = 24;
/// From this width on the endpoint list has a p99 column.
const WIDE_LIST_FROM: u16 = 120;
/// A fault change this recent is highlighted on its service's row.
pub const RECENT_CHANGE: Duration = Duration::from_secs(5);
/// The endpoint shown first, when the run has it.
const DEFAULT_ENDPOINT: &str = "POST /orders";

/// What the viewer has chosen, kept between refreshes.
#[derive(Debug, Clone, Default)]
pub struct ViewState {
    /// The endpoint picked with Tab/arrows; `None` shows the default one.
    selected: Option<String>,
    pub show_help: bool,
    /// The viewer asked the run to stop; it is finishing (teardown, final check, report).
    pub stopping: bool,
}

/// What a key press asks of the dashboard loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAction {
    /// End the run gracefully (the report is still written).
    Stop,
    /// The view changed; draw again.
    Redraw,
    /// Not a key the dashboard uses.
    Ignored,
}

impl ViewState {
    /// Answers one key press; `snapshot` is what is on screen (for moving between endpoints).
    pub fn on_key(&mut self, key: KeyEvent, snapshot: Option<&Snapshot>) -> KeyAction {
        let endpoints = snapshot.map(ordered_endpoints).unwrap_or_default();
        match key.code {
            KeyCode::Char('c') | KeyCode::Char('C')
                if key.modifiers.contains(KeyModifiers::CONTROL) =>
            {
                self.stopping = true;
                KeyAction::Stop
            }
            KeyCode::Char('q') | KeyCode::Char('Q') => {
                self.stopping = true;
                KeyAction::Stop
            }
            KeyCode::Char('?') => {
                self.show_help = !self.show_help;
                KeyAction::Redraw
            }
            KeyCode::Esc if self.show_help => {
                self.show_help = false;
                KeyAction::Redraw
            }
            KeyCode::Tab
            | KeyCode::Right
            | KeyCode::Down
            | KeyCode::Char('l')
            | KeyCode::Char('j') => self.step(&endpoints, 1),
            KeyCode::BackTab
            | KeyCode::Left
            | KeyCode::Up
            | KeyCode::Char('h')
            | KeyCode::Char('k') => self.step(&endpoints, -1),
            _ => KeyAction::Ignored,
        }
    }

    fn step(&mut self, endpoints: &[&EndpointSnapshot], by: isize) -> KeyAction {
        let Some(current) = self.selected_index(endpoints) else {
            return KeyAction::Ignored;
        };
        let count = endpoints.len() as isize;
        let next = (current as isize + by).rem_euclid(count) as usize;
        self.selected = Some(endpoints[next].endpoint.clone());
        KeyAction::Redraw
    }

    /// The index of the endpoint on show in `endpoints` (as [`ordered_endpoints`] lists
    /// them); `None` when there are none yet.
    pub fn selected_index(&self, endpoints: &[&EndpointSnapshot]) -> Option<usize> {
        if endpoints.is_empty() {
            return None;
        }
        let by_name = |name: &str| endpoints.iter().position(|e| e.endpoint == name);
        self.selected
            .as_deref()
            .and_then(by_name)
            .or_else(|| by_name(DEFAULT_ENDPOINT))
            .or(Some(0))
    }
}

/// The snapshot's endpoints in the order a request flows (signup, login, … cancel), any
/// others after them by name.
pub fn ordered_endpoints(snapshot: &Snapshot) -> Vec<&EndpointSnapshot> {
    let mut endpoints: Vec<&EndpointSnapshot> = snapshot.endpoints.iter().collect();
    endpoints.sort_by_key(|e| {
        (
            ENDPOINTS
                .iter()
                .position(|known| *known == e.endpoint)
                .unwrap_or(ENDPOINTS.len()),
            e.endpoint.clone(),
        )
    });
    endpoints
}

/// Draws the whole dashboard; `snapshot` is `None` until the first one arrives.
pub fn render(frame: &mut Frame, snapshot: Option<&Snapshot>, state: &ViewState) {
    let area = frame.area();
    match snapshot {
        None => frame.render_widget(
            Paragraph::new(vec![
                Line::from("loadgen: starting the run…".bold()),
                Line::from("q stop · ? help"),
            ]),
            area,
        ),
        Some(snapshot)
            if area.width < FULL_VIEW_MIN_WIDTH || area.height < FULL_VIEW_MIN_HEIGHT =>
        {
            render_compact(frame, area, snapshot, state)
        }
        Some(snapshot) => render_full(frame, area, snapshot, state),
    }
    if state.show_help {
        render_help(frame, area);
    }
}

fn render_full(frame: &mut Frame, area: Rect, snapshot: &Snapshot, state: &ViewState) {
    let bottom_height = bottom_panel_height(snapshot).min(area.height.saturating_sub(4 + 1 + 12));
    let [header, middle, bottom, footer] = Layout::vertical([
        Constraint::Length(4),
        Constraint::Min(12),
        Constraint::Length(bottom_height),
        Constraint::Length(1),
    ])
    .areas(area);
    render_header(frame, header, snapshot, state);

    let endpoints = ordered_endpoints(snapshot);
    let selected = state.selected_index(&endpoints);
    // Wide terminals also get each endpoint's p99 in the list.
    let with_p99 = middle.width >= WIDE_LIST_FROM;
    let longest_name = endpoints
        .iter()
        .map(|e| e.endpoint.chars().count())
        .max()
        .unwrap_or(0)
        .max(12) as u16;
    // Borders, marker, name, requests, /s, [p99,] errors and the gaps between columns.
    let columns = if with_p99 {
        2 + 1 + 8 + 4 + 8 + 6 + 5
    } else {
        2 + 1 + 8 + 4 + 6 + 4
    };
    let list_width = longest_name.saturating_add(columns).min(middle.width / 2);
    let [list, detail] =
        Layout::horizontal([Constraint::Length(list_width), Constraint::Min(30)]).areas(middle);
    render_endpoint_list(frame, list, snapshot, &endpoints, selected, with_p99);
    match selected.and_then(|i| endpoints.get(i)) {
        Some(endpoint) => render_endpoint(frame, detail, snapshot, endpoint),
        None => frame.render_widget(
            Paragraph::new("no requests recorded yet").block(Block::bordered().title(" latency ")),
            detail,
        ),
    }

    let [faults, consistency] =
        Layout::horizontal([Constraint::Percentage(42), Constraint::Percentage(58)]).areas(bottom);
    render_faults(frame, faults, snapshot);
    render_consistency(frame, consistency, snapshot);

    frame.render_widget(
        Paragraph::new(Line::from(vec![
            " q ".reversed(),
            " stop (report still written)  ".into(),
            " Tab/←→ ".reversed(),
            " endpoint  ".into(),
            " ? ".reversed(),
            " help".into(),
        ])),
        footer,
    );
}

/// Height of the faults/consistency row: enough for the services, the fault windows, a few
/// fault changes and every scenario menu.
fn bottom_panel_height(snapshot: &Snapshot) -> u16 {
    let windows = snapshot.active_faults.len() + snapshot.ended_faults.len();
    let window_lines = if windows == 0 { 0 } else { 1 + windows.min(4) };
    let fault_lines = Service::ALL.len() + window_lines + 1 + snapshot.markers.len().min(4);
    let menu_lines = snapshot.consistency.as_ref().map_or(1, |c| c.rows.len()) + 1;
    (fault_lines.max(menu_lines) as u16 + 2).clamp(6, 14)
}

/// A measure's figure in a few characters: `0.41s` (to `decimals`), `…` (not yet), `✗`
/// (never), `–` (not measured).
fn figure_text(recovery: &Recovery, decimals: usize) -> String {
    match recovery {
        Recovery::Recovered { after_s, .. } => format!("{after_s:.decimals$}s"),
        Recovery::Recovering { .. } => "…".into(),
        Recovery::NotRecovered { .. } => "✗".into(),
        Recovery::NotMeasured { .. } => "–".into(),
    }
}

/// One ended window: recovered (green), recovering (yellow), not recovered (red), or
/// waiting for an overlapping fault to end; with the books, errors and p95 figures.
fn recovery_line(name: String, figure: Option<&RecoveryFigure>, now: f64) -> Line<'static> {
    let Some(figure) = figure else {
        return Line::from(vec![
            Span::styled("◌ ", Style::new().fg(Color::DarkGray)),
            Span::from(name).bold(),
            Span::styled(
                " ended · waiting for overlapping faults",
                Style::new().fg(Color::DarkGray),
            ),
        ]);
    };
    let measures = [&figure.books, &figure.errors, &figure.p95];
    let (symbol, state, color) = if figure.recovered() {
        ("✓", "recovered".to_string(), Color::Green)
    } else if measures
        .iter()
        .any(|m| matches!(m, Recovery::NotRecovered { .. }))
    {
        ("✗", "NOT RECOVERED".to_string(), Color::Red)
    } else if measures
        .iter()
        .any(|m| matches!(m, Recovery::Recovering { .. }))
    {
        (
            "…",
            format!("recovering {:.1}s", (now - figure.from_s).max(0.0)),
            Color::Yellow,
        )
    } else {
        ("✓", "recovered".to_string(), Color::Green)
    };
    let style = Style::new().fg(color);
    Line::from(vec![
        Span::styled(format!("{symbol} "), style.add_modifier(Modifier::BOLD)),
        Span::from(name).bold(),
        Span::styled(format!(" {state}"), style.add_modifier(Modifier::BOLD)),
        Span::styled(
            format!(
                " · books {} err {} p95 {}",
                // Books are checked every 250 ms, errors and p95 per second.
                figure_text(&figure.books, 2),
                figure_text(&figure.errors, 1),
                figure_text(&figure.p95, 1)
            ),
            style,
        ),
    ])
}

/// The faults on now, then the ended windows newest first with their recovery.
fn fault_window_lines(snapshot: &Snapshot) -> Vec<Line<'static>> {
    let now = snapshot.elapsed.as_secs_f64();
    let mut lines = Vec::new();
    if snapshot.active_faults.is_empty() && snapshot.ended_faults.is_empty() {
        return lines;
    }
    lines.push(Line::from(
        "faults · recovery (books, errors, p95)".dark_gray(),
    ));
    for window in &snapshot.active_faults {
        lines.push(Line::from(vec![
            Span::styled(
                "● ON ",
                Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
            ),
            Span::from(window.name()).bold(),
            Span::styled(
                format!(" since +{:.1}s", window.start_s),
                Style::new().fg(Color::DarkGray),
            ),
        ]));
    }
    for window in snapshot.ended_faults.iter().rev() {
        let figure = snapshot.recovery.iter().find(|f| &f.window == window);
        lines.push(recovery_line(window.name(), figure, now));
    }
    lines
}

fn phase_label(snapshot: &Snapshot, state: &ViewState) -> Span<'static> {
    let (text, color) = match snapshot.phase {
        Phase::Setup => ("SETTING UP", Color::Cyan),
        Phase::Running if state.stopping => ("STOPPING", Color::Yellow),
        Phase::Running => ("RUNNING", Color::Green),
        Phase::Settling => ("SETTLING · final check", Color::Yellow),
        Phase::Done => ("DONE · writing report", Color::Cyan),
    };
    Span::styled(text, Style::new().fg(color).add_modifier(Modifier::BOLD))
}

fn render_header(frame: &mut Frame, area: Rect, snapshot: &Snapshot, state: &ViewState) {
    let mode = match &snapshot.mode {
        LoadMode::ClosedLoop { .. } => "closed loop".to_string(),
        LoadMode::OpenLoop { rate } => format!("open loop {rate}/s"),
    };
    let mut title = vec![
        " loadgen · ".into(),
        Span::from(snapshot.scenario.clone()).bold(),
        " · ".into(),
        phase_label(snapshot, state),
        format!(" · {mode} ").into(),
    ];
    if state.stopping && snapshot.phase != Phase::Done {
        title.push("· stop requested, the report is still written ".yellow());
    }
    let block = Block::bordered()
        .title(Line::from(title))
        .title_top(Line::from(" ? help · q stop ").right_aligned());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [figures, gauge] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(inner);

    let error_rate = snapshot.error_rate() * 100.0;
    let error_style = if snapshot.total_errors == 0 {
        Style::new().fg(Color::Green)
    } else if error_rate < 1.0 {
        Style::new().fg(Color::Yellow)
    } else {
        Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
    };
    let label = |text: &'static str| Span::styled(text, Style::new().fg(Color::DarkGray));
    frame.render_widget(
        Paragraph::new(Line::from(
            vec![
                label("elapsed "),
                Span::from(clock(snapshot.elapsed)).bold(),
                format!(" / {}", clock(snapshot.run_time)).into(),
                label("   remaining "),
                Span::from(clock(snapshot.remaining)).bold(),
                label("   users "),
                Span::from(format!(
                    "{}/{}",
                    snapshot.users_active, snapshot.users_planned
                ))
                .bold(),
                label("   requests "),
                Span::from(thousands(snapshot.total_requests)).bold(),
                label("   now "),
                Span::from(format!("{}/s", thousands(snapshot.current_rps))).bold(),
                label("   errors "),
                Span::styled(
                    format!("{} ({error_rate:.2}%)", thousands(snapshot.total_errors)),
                    error_style,
                ),
            ]
            .into_iter()
            .chain(open_loop_figures(snapshot))
            .collect::<Vec<_>>(),
        )),
        figures,
    );
    let ratio = if snapshot.run_time.is_zero() {
        0.0
    } else {
        (snapshot.elapsed.as_secs_f64() / snapshot.run_time.as_secs_f64()).clamp(0.0, 1.0)
    };
    frame.render_widget(
        LineGauge::default()
            .ratio(ratio)
            .filled_style(Style::new().fg(Color::Cyan))
            .unfilled_style(Style::new().fg(Color::DarkGray))
            .label(format!("{:>3.0}%", ratio * 100.0)),
        gauge,
    );
}

fn render_endpoint_list(
    frame: &mut Frame,
    area: Rect,
    snapshot: &Snapshot,
    endpoints: &[&EndpointSnapshot],
    selected: Option<usize>,
    with_p99: bool,
) {
    let right = |text: String| Cell::from(Line::from(text).right_aligned());
    let mut header = vec![
        Cell::from(""),
        Cell::from("endpoint"),
        right("requests".into()),
        right("/s".into()),
    ];
    if with_p99 {
        header.push(right("p99".into()));
    }
    header.push(right("errors".into()));
    let rows: Vec<Row> = endpoints
        .iter()
        .enumerate()
        .map(|(index, endpoint)| {
            let is_selected = Some(index) == selected;
            let errors_style = if endpoint.errors == 0 {
                Style::new()
            } else {
                Style::new().fg(Color::Red)
            };
            let mut cells = vec![
                Cell::from(if is_selected { "▶" } else { " " }),
                Cell::from(endpoint.endpoint.clone()),
                right(thousands(endpoint.requests)),
                right(thousands(current_rate(snapshot, endpoint))),
            ];
            if with_p99 {
                cells.push(right(format_micros(endpoint.latency.p99 as f64)));
            }
            cells.push(right(thousands(endpoint.errors)).style(errors_style));
            let row = Row::new(cells);
            if is_selected {
                row.style(Style::new().add_modifier(Modifier::REVERSED))
            } else {
                row
            }
        })
        .collect();
    let mut widths = vec![
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(8),
        Constraint::Length(4),
    ];
    if with_p99 {
        widths.push(Constraint::Length(8));
    }
    widths.push(Constraint::Length(6));
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(Style::new().fg(Color::DarkGray)))
        .block(Block::bordered().title(" endpoints · Tab/←→ "));
    frame.render_widget(table, area);
}

/// Seconds of the run whose counts are complete.
fn complete_seconds(snapshot: &Snapshot, endpoint: &EndpointSnapshot) -> usize {
    match snapshot.phase {
        Phase::Setup | Phase::Running => {
            (snapshot.elapsed.as_secs() as usize).min(endpoint.rps.len())
        }
        Phase::Settling | Phase::Done => endpoint.rps.len(),
    }
}

/// Requests of this endpoint in the last complete second.
fn current_rate(snapshot: &Snapshot, endpoint: &EndpointSnapshot) -> u64 {
    complete_seconds(snapshot, endpoint)
        .checked_sub(1)
        .and_then(|s| endpoint.rps.get(s))
        .copied()
        .unwrap_or(0)
}

fn render_endpoint(
    frame: &mut Frame,
    area: Rect,
    snapshot: &Snapshot,
    endpoint: &EndpointSnapshot,
) {
    let block = Block::bordered().title(Line::from(vec![
        " ".into(),
        Span::from(endpoint.endpoint.clone()).bold().cyan(),
        format!(
            " · {} requests · {} errors ",
            thousands(endpoint.requests),
            thousands(endpoint.errors)
        )
        .into(),
    ]));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [top, sparkline] =
        Layout::vertical([Constraint::Min(6), Constraint::Length(5)]).areas(inner);
    let [histogram, side] =
        Layout::horizontal([Constraint::Min(24), Constraint::Length(26)]).areas(top);
    let status_lines = endpoint.statuses.len().max(1) as u16 + 2;
    let [percentiles, statuses] =
        Layout::vertical([Constraint::Length(9), Constraint::Min(status_lines.min(3))]).areas(side);
    render_histogram(frame, histogram, &endpoint.latency);
    render_percentiles(frame, percentiles, endpoint);
    render_statuses(frame, statuses, endpoint);
    render_rate(frame, sparkline, snapshot, endpoint);
}

/// The histogram's buckets without the empty ones before the first and after the last
/// request, merged pairwise until at most `rows` remain.
pub fn visible_buckets(buckets: &[(u64, u64)], rows: usize) -> Vec<(u64, u64)> {
    let first = buckets.iter().position(|(_, count)| *count > 0);
    let last = buckets.iter().rposition(|(_, count)| *count > 0);
    let (Some(first), Some(last)) = (first, last) else {
        return Vec::new();
    };
    let mut visible = buckets[first..=last].to_vec();
    let rows = rows.max(1);
    while visible.len() > rows {
        visible = visible
            .chunks(2)
            .map(|pair| {
                let upper = pair.last().map_or(0, |(upper, _)| *upper);
                (upper, pair.iter().map(|(_, count)| count).sum())
            })
            .collect();
    }
    visible
}

fn render_histogram(frame: &mut Frame, area: Rect, latency: &LatencySummary) {
    let block = Block::bordered().title(" latency histogram · HDR buckets ");
    let inner = block.inner(area);
    let buckets = visible_buckets(&latency.buckets, inner.height as usize);
    if buckets.is_empty() {
        frame.render_widget(Paragraph::new("no requests yet").block(block), area);
        return;
    }
    let total: u64 = buckets.iter().map(|(_, count)| count).sum::<u64>().max(1);
    let bars: Vec<Bar> = buckets
        .iter()
        .map(|(upper, count)| {
            let share = *count as f64 * 100.0 / total as f64;
            Bar::default()
                .label(Line::from(format!("≤{}", format_micros(*upper as f64))))
                .value(*count)
                .text_value(format!("{} {share:.0}%", thousands(*count)))
        })
        .collect();
    frame.render_widget(
        BarChart::horizontal(bars)
            .block(block)
            .bar_width(1)
            .bar_gap(0)
            .bar_style(Style::new().fg(Color::Cyan))
            .value_style(Style::new().fg(Color::Black).bg(Color::Cyan))
            .label_style(Style::new().fg(Color::Gray)),
        area,
    );
}

fn render_percentiles(frame: &mut Frame, area: Rect, endpoint: &EndpointSnapshot) {
    let latency = &endpoint.latency;
    let row = |name: &'static str, micros: f64, style: Style| {
        Line::from(vec![
            Span::styled(format!("{name:<6}"), Style::new().fg(Color::DarkGray)),
            Span::styled(format!("{:>10}", format_micros(micros)), style),
        ])
    };
    let plain = Style::new().add_modifier(Modifier::BOLD);
    let tail = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
    let mut lines = vec![
        row("p50", latency.p50 as f64, plain),
        row("p90", latency.p90 as f64, plain),
        row("p99", latency.p99 as f64, tail),
        row("p99.9", latency.p999 as f64, tail),
        row("max", latency.max as f64, Style::new().fg(Color::Red)),
        row("mean", latency.mean, Style::new()),
    ];
    let cache = |label: &'static str, summary: &Option<LatencySummary>| {
        summary.as_ref().map(|s| {
            Line::from(vec![
                Span::styled(format!("{label:<6}"), Style::new().fg(Color::DarkGray)),
                format!(
                    "{:>5} p50 {}",
                    thousands(s.count),
                    format_micros(s.p50 as f64)
                )
                .into(),
            ])
        })
    };
    lines.extend(cache("hits", &endpoint.cache_hits));
    lines.extend(cache("misses", &endpoint.cache_misses));
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" percentiles ")),
        area,
    );
}

fn status_style(status: u16) -> Style {
    match status {
        200..=299 => Style::new().fg(Color::Green),
        300..=499 => Style::new().fg(Color::Yellow),
        _ => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
    }
}

fn render_statuses(frame: &mut Frame, area: Rect, endpoint: &EndpointSnapshot) {
    let total: u64 = endpoint.statuses.values().sum::<u64>().max(1);
    let lines: Vec<Line> = endpoint
        .statuses
        .iter()
        .map(|(status, count)| {
            let name = if *status == TRANSPORT_ERROR {
                "none".to_string()
            } else {
                status.to_string()
            };
            Line::from(vec![
                Span::styled(format!("{name:<5}"), status_style(*status)),
                format!(
                    "{:>8} {:>5.1}%",
                    thousands(*count),
                    *count as f64 * 100.0 / total as f64
                )
                .into(),
            ])
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" status codes ")),
        area,
    );
}

fn render_rate(frame: &mut Frame, area: Rect, snapshot: &Snapshot, endpoint: &EndpointSnapshot) {
    let complete = complete_seconds(snapshot, endpoint);
    let seconds = &endpoint.rps[..complete];
    let peak = seconds.iter().copied().max().unwrap_or(0);
    let average = if seconds.is_empty() {
        0.0
    } else {
        seconds.iter().sum::<u64>() as f64 / seconds.len() as f64
    };
    let block = Block::bordered().title(format!(
        " requests/s · now {} · peak {} · avg {average:.1} ",
        thousands(current_rate(snapshot, endpoint)),
        thousands(peak)
    ));
    let width = block.inner(area).width as usize;
    let shown = &seconds[seconds.len().saturating_sub(width)..];
    frame.render_widget(
        Sparkline::default()
            .block(block)
            .data(shown)
            .max(peak.max(1))
            .style(Style::new().fg(Color::Green)),
        area,
    );
}

/// The faults on now.
fn active_windows(snapshot: &Snapshot) -> impl Iterator<Item = &FaultWindow> {
    snapshot.active_faults.iter()
}

fn render_faults(frame: &mut Frame, area: Rect, snapshot: &Snapshot) {
    let mut lines: Vec<Line> = Service::ALL
        .into_iter()
        .map(|service| service_fault_line(snapshot, service))
        .collect();
    lines.extend(fault_window_lines(snapshot));
    lines.extend(fault_change_lines(snapshot));
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" fault settings ")),
        area,
    );
}

/// What is on for one service now: a process fault first (it is what matters now), then
/// its switches.
fn service_faults(snapshot: &Snapshot, service: Service) -> String {
    let state = snapshot.faults.get(&service);
    let description = state.map_or_else(|| "unknown yet".to_string(), |s| s.describe());
    let process = active_windows(snapshot).find(|w| {
        w.target == service.name() && matches!(w.kind.as_str(), "kill" | "pause" | "restart")
    });
    match (process, description.as_str()) {
        (None, _) => description,
        (Some(process), "none" | "unknown yet") => process.label.to_uppercase(),
        (Some(process), switches) => format!("{} · {switches}", process.label.to_uppercase()),
    }
}

/// One service's line: flagged while it changed recently, else when it last changed.
fn service_fault_line(snapshot: &Snapshot, service: Service) -> Line<'static> {
    let now = snapshot.elapsed.as_secs_f64();
    let description = service_faults(snapshot, service);
    let description_style = match description.as_str() {
        "none" => Style::new().fg(Color::Green),
        "unknown yet" => Style::new().fg(Color::DarkGray),
        _ => Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
    };
    let changes = snapshot.markers.iter().filter(|m| m.service == service);
    let last_change = changes.map(|m| m.at_secs).reduce(f64::max);
    let recent = last_change
        .map(|at| (now - at).max(0.0))
        .filter(|ago| *ago <= RECENT_CHANGE.as_secs_f64());
    let changed = Style::new()
        .fg(Color::Black)
        .bg(Color::Yellow)
        .add_modifier(Modifier::BOLD);
    let mut line = vec![
        Span::styled(if recent.is_some() { "⚑" } else { " " }, changed),
        " ".into(),
        Span::styled(format!("{:<11}", service.name()), Style::new().bold()),
    ];
    match (recent, last_change) {
        (Some(ago), _) => {
            line.push(Span::styled(description, changed));
            let ago = format!("  changed {ago:.0}s ago");
            line.push(Span::styled(ago, Style::new().fg(Color::Yellow)));
        }
        (None, Some(at)) => {
            line.push(Span::styled(description, description_style));
            let since = format!("  since +{at:.0}s");
            line.push(Span::styled(since, Style::new().fg(Color::DarkGray)));
        }
        (None, None) => line.push(Span::styled(description, description_style)),
    }
    Line::from(line)
}

/// Every fault change so far, newest first.
fn fault_change_lines(snapshot: &Snapshot) -> Vec<Line<'static>> {
    if snapshot.markers.is_empty() {
        return Vec::new();
    }
    let grey = Style::new().fg(Color::DarkGray);
    let changes = snapshot.markers.iter().rev().map(|marker| {
        Line::from(vec![
            Span::styled(format!("{:>+7.1}s ", marker.at_secs), grey),
            Span::styled(
                format!("{:<11}", marker.service.name()),
                Style::new().bold(),
            ),
            Span::from(marker.description.clone()),
            Span::styled(format!(" ({})", marker.origin), grey),
        ])
    });
    let heading = Line::from("changes (newest first)".dark_gray());
    std::iter::once(heading).chain(changes).collect()
}

/// How a consistency row reads on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowHealth {
    /// Stock matches the ledger and the paid orders.
    Holds,
    /// Stock differs from paid orders while orders are still in flight: not yet a fault.
    InFlight,
    /// A real difference (or stock below zero, or more sold than there was).
    Broken,
}

pub fn row_health(row: &ConsistencyRow, check: &ConsistencyCheck, phase: Phase) -> RowHealth {
    if row.healthy() {
        RowHealth::Holds
    } else if row.identity_gap == 0
        && !row.oversold()
        && phase == Phase::Running
        && check.pending() > 0
    {
        RowHealth::InFlight
    } else {
        RowHealth::Broken
    }
}

fn signed(value: i64) -> String {
    if value == 0 {
        "0".into()
    } else {
        format!("{value:+}")
    }
}

fn render_consistency(frame: &mut Frame, area: Rect, snapshot: &Snapshot) {
    let Some(check) = &snapshot.consistency else {
        frame.render_widget(
            Paragraph::new("waiting for the first check…")
                .block(Block::bordered().title(" inventory consistency ")),
            area,
        );
        return;
    };
    let mut title = vec![format!(" inventory consistency · at +{:.0}s ", check.at_secs).into()];
    for (status, count) in &check.orders_by_status {
        title.push(Span::styled(
            format!("{status} {} ", thousands(*count)),
            Style::new().fg(Color::DarkGray),
        ));
    }
    let block = Block::bordered().title(Line::from(title));
    if let Some(error) = &check.error {
        frame.render_widget(
            Paragraph::new(Line::from(format!("check failed: {error}").red())).block(block),
            area,
        );
        return;
    }
    frame.render_widget(consistency_table(check, snapshot.phase).block(block), area);
}

/// The rows of a consistency check, each coloured by its health.
fn consistency_table(check: &ConsistencyCheck, phase: Phase) -> Table<'static> {
    let columns = [
        "menu", "initial", "stock", "reserved", "restored", "sold", "drift", "ledger",
    ];
    let header = Row::new(columns.map(|h| match h {
        "menu" => Cell::from(h),
        _ => Cell::from(Line::from(h).right_aligned()),
    }))
    .style(Style::new().fg(Color::DarkGray));
    let rows = check
        .rows
        .iter()
        .map(|row| consistency_row(row, check, phase));
    let widths = [7, 7, 8, 8, 7, 6, 6].map(Constraint::Length);
    Table::new(rows, std::iter::once(Constraint::Fill(1)).chain(widths)).header(header)
}

fn consistency_row(row: &ConsistencyRow, check: &ConsistencyCheck, phase: Phase) -> Row<'static> {
    let color = match row_health(row, check, phase) {
        RowHealth::Holds => Color::Green,
        RowHealth::InFlight => Color::Yellow,
        RowHealth::Broken => Color::Red,
    };
    let figure = |value: i64| Cell::from(Line::from(value.to_string()).right_aligned());
    let difference = |value: i64| {
        let style = if value == 0 {
            Style::new().fg(Color::Green)
        } else {
            Style::new().fg(color).add_modifier(Modifier::BOLD)
        };
        Cell::from(Line::from(signed(value)).right_aligned()).style(style)
    };
    Row::new(vec![
        Cell::from(row.key.clone()),
        figure(row.initial),
        figure(row.stock),
        figure(row.reserved),
        figure(row.restored),
        figure(row.sold),
        difference(row.drift),
        difference(row.identity_gap),
    ])
    .style(Style::new().fg(color))
}

/// A few lines for a terminal too small for the panels.
fn render_compact(frame: &mut Frame, area: Rect, snapshot: &Snapshot, state: &ViewState) {
    let worst_drift = snapshot
        .consistency
        .as_ref()
        .and_then(|c| c.rows.iter().map(|r| r.drift).max_by_key(|d| d.abs()))
        .unwrap_or(0);
    let drift_style = if worst_drift == 0 {
        Style::new().fg(Color::Green)
    } else {
        Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
    };
    let lines = vec![
        Line::from(vec![
            Span::from(snapshot.scenario.clone()).bold(),
            " ".into(),
            phase_label(snapshot, state),
        ]),
        Line::from(format!(
            "{} / {}  users {}",
            clock(snapshot.elapsed),
            clock(snapshot.run_time),
            snapshot.users_active
        )),
        Line::from(format!(
            "req {} ({}/s) err {:.2}%",
            thousands(snapshot.total_requests),
            thousands(snapshot.current_rps),
            snapshot.error_rate() * 100.0
        )),
        Line::from(Span::styled(format!("drift {}", signed(worst_drift)), drift_style)),
        Line::from(
            format!(
                "{}x{}: enlarge to {FULL_VIEW_MIN_WIDTH}x{FULL_VIEW_MIN_HEIGHT} for all panels · q stop",
                area.width, area.height
            )
            .dark_gray(),
        ),
    ];
    frame.render_widget(Paragraph::new(lines), area);
}

const HELP: &[(&str, &str)] = &[
    (
        "q, Ctrl-C",
        "stop the run gracefully (teardown, final check, report)",
    ),
    ("Tab, →, ↓", "next endpoint"),
    ("Shift-Tab, ←, ↑", "previous endpoint"),
    ("?, Esc", "close this help"),
];

fn render_help(frame: &mut Frame, area: Rect) {
    let mut lines: Vec<Line> = HELP
        .iter()
        .map(|(keys, what)| {
            Line::from(vec![
                Span::styled(format!("{keys:<16}"), Style::new().fg(Color::Cyan).bold()),
                Span::from(*what),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(vec![
        "consistency: ".bold(),
        "green".green(),
        " holds, ".into(),
        "yellow".yellow(),
        " orders in flight, ".into(),
        "red".red(),
        " lost or extra stock (the difference shown)".into(),
    ]));
    lines.push(Line::from(vec![
        "faults: ".bold(),
        Span::styled("⚑ setting", Style::new().fg(Color::Black).bg(Color::Yellow)),
        format!(" changed in the last {}s", RECENT_CHANGE.as_secs()).into(),
    ]));
    lines.push(Line::from(vec![
        "recovery: ".bold(),
        "time after a fault ended until ".into(),
        "books".bold(),
        " balance, errors and p95 are back".into(),
    ]));
    lines.push(Line::from(
        "latency: µs from send to end of body, HDR histogram, log₂ buckets",
    ));
    let width = area.width.min(76);
    let height = area.height.min(lines.len() as u16 + 2);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::bordered()
                .title(" help ")
                .border_style(Style::new().fg(Color::Cyan)),
        ),
        popup,
    );
}

/// Open loop: iterations in flight against the cap, and those dropped at it.
fn open_loop_figures(snapshot: &Snapshot) -> Vec<Span<'static>> {
    let i = &snapshot.iterations;
    if i.max_in_flight == 0 {
        return Vec::new();
    }
    let dropped_style = if i.dropped == 0 {
        Style::new().fg(Color::Green)
    } else {
        Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
    };
    vec![
        Span::styled("   in flight ", Style::new().fg(Color::DarkGray)),
        Span::from(format!("{}/{}", snapshot.in_flight, i.max_in_flight)).bold(),
        Span::styled("   dropped ", Style::new().fg(Color::DarkGray)),
        Span::styled(thousands(i.dropped), dropped_style),
    ]
}

/// `m:ss`, or `h:mm:ss` from an hour on.
pub fn clock(span: Duration) -> String {
    let seconds = span.as_secs();
    if seconds >= 3600 {
        format!(
            "{}:{:02}:{:02}",
            seconds / 3600,
            seconds / 60 % 60,
            seconds % 60
        )
    } else {
        format!("{}:{:02}", seconds / 60, seconds % 60)
    }
}

/// `1234567` → `1,234,567`.
pub fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
