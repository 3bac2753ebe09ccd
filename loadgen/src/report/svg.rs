//! Small inline-SVG line charts for the HTML report: axes with ticks, several series, an
//! optional log scale, labelled vertical markers (fault changes) and shaded bands (fault
//! windows).

use std::fmt::Write as _;

/// Colours for series, in order.
pub const PALETTE: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
];

pub struct Series {
    pub name: String,
    pub color: String,
    pub points: Vec<(f64, f64)>,
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

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const WIDTH: f64 = 860.0;
const HEIGHT: f64 = 300.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 170.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 45.0;

/// Renders the chart as an `<svg>` element.
pub fn render(chart: &Chart) -> String {
    let points = chart.series.iter().flat_map(|s| s.points.iter());
    let (mut x_min, mut x_max, mut y_max) = (f64::MAX, f64::MIN, 0.0f64);
    let mut y_min_positive = f64::MAX;
    for (x, y) in points {
        x_min = x_min.min(*x);
        x_max = x_max.max(*x);
        y_max = y_max.max(*y);
        if *y > 0.0 {
            y_min_positive = y_min_positive.min(*y);
        }
    }
    for (x, _) in &chart.x_ticks {
        x_min = x_min.min(*x);
        x_max = x_max.max(*x);
    }
    for marker in &chart.markers {
        x_max = x_max.max(marker.x);
    }
    for band in &chart.bands {
        x_max = x_max.max(band.to);
    }
    if x_min > x_max {
        x_min = 0.0;
        x_max = 1.0;
    }
    if (x_max - x_min).abs() < f64::EPSILON {
        x_max = x_min + 1.0;
    }
    let (y_low, y_high) = if chart.log_y {
        let low = if y_min_positive == f64::MAX {
            1.0
        } else {
            y_min_positive
        };
        let low = 10f64.powf(low.log10().floor());
        let high = 10f64.powf(y_max.max(low * 10.0).log10().ceil());
        (low, high)
    } else {
        (
            0.0,
            if y_max <= 0.0 {
                1.0
            } else {
                nice_ceiling(y_max)
            },
        )
    };
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let sx = |x: f64| LEFT + (x - x_min) / (x_max - x_min) * plot_w;
    let sy = |y: f64| {
        let fraction = if chart.log_y {
            let y = y.max(y_low);
            (y.log10() - y_low.log10()) / (y_high.log10() - y_low.log10())
        } else {
            (y - y_low) / (y_high - y_low)
        };
        TOP + plot_h - fraction.clamp(0.0, 1.0) * plot_h
    };

    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" role=\"img\" class=\"chart\">\
<title>{}</title><rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#ffffff\"/>\
<text x=\"{LEFT}\" y=\"18\" font-size=\"14\" font-weight=\"bold\">{}</text>",
        escape(&chart.title),
        escape(&chart.title)
    );
    // Fault windows, behind everything else; a band's label sits at its bottom.
    for (index, band) in chart.bands.iter().enumerate() {
        let (from, to) = (sx(band.from.max(x_min)), sx(band.to.min(x_max)));
        if to < from {
            continue;
        }
        let _ = write!(
            svg,
            "<rect x=\"{from:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{plot_h}\" fill=\"{}\" fill-opacity=\"0.12\" class=\"fault-window\"><title>{}</title></rect>\
<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"9\" fill=\"{}\">{}</text>",
            (to - from).max(1.0),
            band.color,
            escape(&band.label),
            from + 2.0,
            TOP + plot_h - 4.0 - (index % 4) as f64 * 10.0,
            band.color,
            escape(&band.label)
        );
    }
    // Y grid and ticks.
    let y_ticks: Vec<f64> = if chart.log_y {
        let mut ticks = Vec::new();
        let mut tick = y_low;
        while tick <= y_high * 1.0001 {
            ticks.push(tick);
            tick *= 10.0;
        }
        ticks
    } else {
        (0..=5)
            .map(|i| y_low + (y_high - y_low) * f64::from(i) / 5.0)
            .collect()
    };
    for tick in y_ticks {
        let y = sy(tick);
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e5e5e5\"/>\
<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            LEFT + plot_w,
            LEFT - 6.0,
            y + 4.0,
            escape(&(chart.y_format)(tick))
        );
    }
    // X ticks.
    let x_ticks: Vec<(f64, String)> = if chart.x_ticks.is_empty() {
        (0..=5)
            .map(|i| {
                let x = x_min + (x_max - x_min) * f64::from(i) / 5.0;
                (x, format!("{x:.0}"))
            })
            .collect()
    } else {
        chart.x_ticks.clone()
    };
    for (x, label) in &x_ticks {
        let px = sx(*x);
        let _ = write!(
            svg,
            "<line x1=\"{px:.1}\" y1=\"{:.1}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"#999\"/>\
<text x=\"{px:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
            TOP + plot_h,
            TOP + plot_h + 5.0,
            TOP + plot_h + 18.0,
            escape(label)
        );
    }
    let _ = write!(
        svg,
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{plot_w}\" height=\"{plot_h}\" fill=\"none\" stroke=\"#666\"/>\
<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\">{}</text>\
<text x=\"14\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 14 {:.1})\">{}</text>",
        LEFT + plot_w / 2.0,
        HEIGHT - 8.0,
        escape(&chart.x_label),
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0,
        escape(&chart.y_label)
    );
    // Markers.
    for (index, marker) in chart.markers.iter().enumerate() {
        let px = sx(marker.x);
        let label_y = TOP + 12.0 + (index % 4) as f64 * 12.0;
        let _ = write!(
            svg,
            "<line x1=\"{px:.1}\" y1=\"{TOP}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"{}\" stroke-width=\"1.5\" stroke-dasharray=\"5,3\" class=\"marker\"/>\
<text x=\"{:.1}\" y=\"{label_y:.1}\" font-size=\"10\" fill=\"{}\">{}</text>",
            TOP + plot_h,
            marker.color,
            px + 3.0,
            marker.color,
            escape(&marker.label)
        );
    }
    // Series and legend.
    for (index, series) in chart.series.iter().enumerate() {
        if !series.points.is_empty() {
            let path: Vec<String> = series
                .points
                .iter()
                .map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y)))
                .collect();
            let _ = write!(
                svg,
                "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\" class=\"series\"/>",
                series.color,
                path.join(" ")
            );
        }
        let ly = TOP + 10.0 + index as f64 * 16.0;
        let lx = LEFT + plot_w + 12.0;
        let _ = write!(
            svg,
            "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"12\" height=\"4\" fill=\"{}\"/>\
<text x=\"{:.1}\" y=\"{ly:.1}\" font-size=\"11\">{}</text>",
            ly - 5.0,
            series.color,
            lx + 16.0,
            escape(&series.name)
        );
    }
    svg.push_str("</svg>");
    svg
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
        });
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
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
