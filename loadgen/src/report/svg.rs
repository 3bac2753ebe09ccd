//! Small inline-SVG line charts for the HTML report: axes with ticks, several series, an
//! optional log scale, labelled vertical markers (fault changes) and shaded bands (fault
//! windows). Built with maud like the page around them, so every label is escaped; every
//! element is closed explicitly, since inside `<svg>` HTML has no void elements.

use maud::{Markup, html};

/// Colours for series, in order.
pub const PALETTE: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
];

pub struct Series {
    pub name: String,
    pub color: String,
    pub points: Vec<(f64, f64)>,
}

impl Series {
    pub fn new(name: &str, color: &str, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            color: color.into(),
            points,
        }
    }
}

#[derive(Clone)]
pub struct Marker {
    pub x: f64,
    pub label: String,
    pub color: String,
}

/// A shaded span of x (a fault window), drawn behind the series.
#[derive(Clone)]
pub struct Band {
    pub from: f64,
    pub to: f64,
    pub label: String,
    pub color: String,
}

pub struct Chart {
    pub title: String,
    pub y_label: String,
    pub x_label: String,
    /// Tick positions and labels on x; empty: five even ticks.
    pub x_ticks: Vec<(f64, String)>,
    pub log_y: bool,
    pub series: Vec<Series>,
    pub markers: Vec<Marker>,
    pub bands: Vec<Band>,
    /// Formats a y value for tick labels.
    pub y_format: fn(f64) -> String,
}

const WIDTH: f64 = 860.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 45.0;
const PLOT_W: f64 = WIDTH - LEFT - RIGHT;
const PLOT_H: f64 = HEIGHT - TOP - BOTTOM;
/// The y of the x axis.
const BASE: f64 = TOP + PLOT_H;

/// A coordinate as written into the SVG: one decimal.
fn at(value: f64) -> String {
    format!("{value:.1}")
}

/// Where data lands on the plot: the ranges of x and y, and whether y is logarithmic.
struct Scale {
    x_min: f64,
    x_max: f64,
    y_low: f64,
    y_high: f64,
    log_y: bool,
}

impl Scale {
    fn fit(chart: &Chart) -> Self {
        let (x_min, x_max) = x_range(chart);
        let (y_low, y_high) = y_range(chart);
        Self {
            x_min,
            x_max,
            y_low,
            y_high,
            log_y: chart.log_y,
        }
    }

    fn x(&self, x: f64) -> f64 {
        LEFT + (x - self.x_min) / (self.x_max - self.x_min) * PLOT_W
    }

    fn y(&self, y: f64) -> f64 {
        let fraction = if self.log_y {
            let y = y.max(self.y_low);
            (y.log10() - self.y_low.log10()) / (self.y_high.log10() - self.y_low.log10())
        } else {
            (y - self.y_low) / (self.y_high - self.y_low)
        };
        BASE - fraction.clamp(0.0, 1.0) * PLOT_H
    }

    /// Powers of ten on a log scale, six even steps otherwise.
    fn y_ticks(&self) -> Vec<f64> {
        if !self.log_y {
            return (0..=5)
                .map(|i| self.y_low + (self.y_high - self.y_low) * f64::from(i) / 5.0)
                .collect();
        }
        let mut ticks = Vec::new();
        let mut tick = self.y_low;
        while tick <= self.y_high * 1.0001 {
            ticks.push(tick);
            tick *= 10.0;
        }
        ticks
    }

    /// The chart's own ticks, or six even ones.
    fn x_ticks(&self, chart: &Chart) -> Vec<(f64, String)> {
        if !chart.x_ticks.is_empty() {
            return chart.x_ticks.clone();
        }
        (0..=5)
            .map(|i| {
                let x = self.x_min + (self.x_max - self.x_min) * f64::from(i) / 5.0;
                (x, format!("{x:.0}"))
            })
            .collect()
    }
}

/// The x range: the points and ticks; markers and bands can only widen it to the right.
fn x_range(chart: &Chart) -> (f64, f64) {
    let points = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0));
    let ticks = chart.x_ticks.iter().map(|t| t.0);
    let (min, max) = points
        .chain(ticks)
        .fold((f64::MAX, f64::MIN), |(min, max), x| {
            (min.min(x), max.max(x))
        });
    let ends = chart.markers.iter().map(|m| m.x);
    let max = ends
        .chain(chart.bands.iter().map(|b| b.to))
        .fold(max, f64::max);
    if min > max {
        (0.0, 1.0)
    } else if (max - min).abs() < f64::EPSILON {
        (min, min + 1.0)
    } else {
        (min, max)
    }
}

/// The y range: from 0 to a round ceiling, or between powers of ten on a log scale.
fn y_range(chart: &Chart) -> (f64, f64) {
    let ys = || {
        chart
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
    };
    let y_max = ys().fold(0.0, f64::max);
    if !chart.log_y {
        return (
            0.0,
            if y_max <= 0.0 {
                1.0
            } else {
                nice_ceiling(y_max)
            },
        );
    }
    let smallest = ys().filter(|y| *y > 0.0).fold(f64::MAX, f64::min);
    let smallest = if smallest == f64::MAX { 1.0 } else { smallest };
    let low = 10f64.powf(smallest.log10().floor());
    let high = 10f64.powf(y_max.max(low * 10.0).log10().ceil());
    (low, high)
}

/// Renders the chart as an `<svg>` element.
pub fn render(chart: &Chart) -> Markup {
    let scale = Scale::fit(chart);
    html! {
        svg xmlns="http://www.w3.org/2000/svg" viewBox={ "0 0 " (WIDTH) " " (HEIGHT) }
            width=(WIDTH) height=(HEIGHT) role="img" class="chart" {
            title { (chart.title) }
            rect x="0" y="0" width=(WIDTH) height=(HEIGHT) fill="#ffffff" {}
            text x=(LEFT) y="18" font-size="14" font-weight="bold" { (chart.title) }
            // Fault windows first: behind everything else.
            (bands(chart, &scale))
            (axes(chart, &scale))
            (markers(chart, &scale))
            (series(chart, &scale))
        }
    }
}

/// The fault windows; a band's label sits at its bottom, staggered so neighbours stay legible.
fn bands(chart: &Chart, scale: &Scale) -> Markup {
    html! {
        @for (index, band) in chart.bands.iter().enumerate() {
            @let from = scale.x(band.from.max(scale.x_min));
            @let to = scale.x(band.to.min(scale.x_max));
            @if to >= from {
                rect x=(at(from)) y=(TOP) width=(at((to - from).max(1.0))) height=(PLOT_H)
                    fill=(band.color) fill-opacity="0.12" class="fault-window" {
                    title { (band.label) }
                }
                text x=(at(from + 2.0)) y=(at(BASE - 4.0 - (index % 4) as f64 * 10.0))
                    font-size="9" fill=(band.color) { (band.label) }
            }
        }
    }
}

/// Grid lines and tick labels on y, ticks on x, the plot frame and the axis titles.
fn axes(chart: &Chart, scale: &Scale) -> Markup {
    html! {
        @for tick in scale.y_ticks() {
            @let y = scale.y(tick);
            line x1=(LEFT) y1=(at(y)) x2=(at(LEFT + PLOT_W)) y2=(at(y)) stroke="#e5e5e5" {}
            text x=(at(LEFT - 6.0)) y=(at(y + 4.0)) font-size="11" text-anchor="end" {
                ((chart.y_format)(tick))
            }
        }
        @for (x, label) in scale.x_ticks(chart) {
            @let x = at(scale.x(x));
            line x1=(x) y1=(at(BASE)) x2=(x) y2=(at(BASE + 5.0)) stroke="#999" {}
            text x=(x) y=(at(BASE + 18.0)) font-size="11" text-anchor="middle" { (label) }
        }
        rect x=(LEFT) y=(TOP) width=(PLOT_W) height=(PLOT_H) fill="none" stroke="#666" {}
        text x=(at(LEFT + PLOT_W / 2.0)) y=(at(HEIGHT - 8.0)) font-size="12" text-anchor="middle" {
            (chart.x_label)
        }
        @let middle = at(TOP + PLOT_H / 2.0);
        text x="14" y=(middle) font-size="12" text-anchor="middle"
            transform={ "rotate(-90 14 " (middle) ")" } { (chart.y_label) }
    }
}

/// Dashed vertical lines (fault changes) with their labels staggered at the top.
fn markers(chart: &Chart, scale: &Scale) -> Markup {
    html! {
        @for (index, marker) in chart.markers.iter().enumerate() {
            @let x = scale.x(marker.x);
            line x1=(at(x)) y1=(TOP) x2=(at(x)) y2=(at(BASE)) stroke=(marker.color)
                stroke-width="1.5" stroke-dasharray="5,3" class="marker" {}
            text x=(at(x + 3.0)) y=(at(TOP + 12.0 + (index % 4) as f64 * 12.0)) font-size="10"
                fill=(marker.color) { (marker.label) }
        }
    }
}

/// Each series as a line, and its entry in the legend right of the plot.
fn series(chart: &Chart, scale: &Scale) -> Markup {
    let legend_x = LEFT + PLOT_W + 12.0;
    html! {
        @for (index, series) in chart.series.iter().enumerate() {
            @if !series.points.is_empty() {
                @let points: Vec<String> = series.points.iter()
                    .map(|(x, y)| format!("{},{}", at(scale.x(*x)), at(scale.y(*y))))
                    .collect();
                polyline fill="none" stroke=(series.color) stroke-width="2"
                    points=(points.join(" ")) class="series" {}
            }
            @let legend_y = TOP + 10.0 + index as f64 * 16.0;
            rect x=(at(legend_x)) y=(at(legend_y - 5.0)) width="12" height="4"
                fill=(series.color) {}
            text x=(at(legend_x + 16.0)) y=(at(legend_y)) font-size="11" { (series.name) }
        }
    }
}

/// The smallest 1, 2 or 5 × 10ⁿ at or above `value`.
fn nice_ceiling(value: f64) -> f64 {
    let magnitude = 10f64.powf(value.log10().floor());
    for step in [1.0, 2.0, 5.0, 10.0] {
        if step * magnitude >= value {
            return step * magnitude;
        }
    }
    10.0 * magnitude
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_series_markers_and_escapes_text() {
        let svg = render(&Chart {
            title: "a <b>".into(),
            y_label: "ms".into(),
            x_label: "s".into(),
            x_ticks: Vec::new(),
            log_y: true,
            series: vec![Series {
                name: "GET /menus".into(),
                color: PALETTE[0].into(),
                points: vec![(0.0, 1.0), (1.0, 30.0), (2.0, 900.0)],
            }],
            markers: vec![Marker {
                x: 1.0,
                label: "payment fail 30%".into(),
                color: "#d62728".into(),
            }],
            bands: vec![Band {
                from: 0.5,
                to: 1.5,
                label: "payment_fail <order>".into(),
                color: "#d62728".into(),
            }],
            y_format: |v| format!("{v}"),
        })
        .into_string();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        // Inside <svg> HTML has no void elements: an unclosed shape would swallow the rest.
        for shape in ["rect", "line", "polyline", "text"] {
            let opened = svg.matches(&format!("<{shape} ")).count();
            assert!(opened > 0, "{shape}");
            assert_eq!(
                opened,
                svg.matches(&format!("</{shape}>")).count(),
                "{shape}"
            );
        }
        assert!(svg.contains("a &lt;b&gt;"));
        assert_eq!(svg.matches("<polyline").count(), 1);
        assert!(svg.contains("class=\"marker\""));
        assert_eq!(svg.matches("class=\"fault-window\"").count(), 1);
        assert!(
            svg.contains("payment_fail &lt;order&gt;"),
            "band label escaped"
        );
        // The band spans x 0.5..1.5 of 0..2 on a 620-wide plot starting at 70.
        assert!(
            svg.contains("<rect x=\"225.0\" y=\"30\" width=\"310.0\""),
            "{svg}"
        );
        assert!(svg.contains(">1000<"), "log ticks reach 1000: {svg}");
        assert_eq!(nice_ceiling(730.0), 1000.0);
        assert_eq!(nice_ceiling(120.0), 200.0);
    }
}
