//! The chart for the book: one horizontal bar per configuration, its length the median start
//! time, a thin line from the median out to the 90th percentile, and the numbers written next
//! to it. Plain SVG text: no plotting crate for a few rectangles.

use std::fmt::Write;

/// Which family a bar belongs to; each has its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Floor,
    Chapter,
    Production,
    Wrapper,
}

impl Family {
    fn colour(self) -> &'static str {
        match self {
            Family::Floor => "#7f8c8d",
            Family::Chapter => "#2e86de",
            Family::Production => "#e67e22",
            Family::Wrapper => "#f5cba7",
        }
    }
}

pub struct Bar {
    pub label: String,
    pub median_ms: f64,
    pub p90_ms: f64,
    /// Written after the value, e.g. "3.1x floor".
    pub note: String,
    pub family: Family,
}

const WIDTH: f64 = 860.0;
const LABEL_WIDTH: f64 = 210.0;
const TEXT_WIDTH: f64 = 190.0;
const ROW: f64 = 26.0;
const TOP: f64 = 48.0;
const BOTTOM: f64 = 40.0;

/// The whole SVG document.
pub fn chart(title: &str, subtitle: &str, bars: &[Bar]) -> String {
    let plot_width = WIDTH - LABEL_WIDTH - TEXT_WIDTH;
    let height = TOP + ROW * bars.len() as f64 + BOTTOM;
    let largest = bars
        .iter()
        .map(|b| b.p90_ms.max(b.median_ms))
        .fold(0.0, f64::max);
    let scale_max = nice_ceiling(largest);
    let x_of = |ms: f64| LABEL_WIDTH + plot_width * (ms / scale_max).clamp(0.0, 1.0);

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="13">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="10" y="20" font-size="16" font-weight="bold">{}</text>"#,
        escape(title)
    );
    let _ = writeln!(
        svg,
        r##"<text x="10" y="38" font-size="11" fill="#555">{}</text>"##,
        escape(subtitle)
    );

    // Grid lines and their labels along the bottom.
    let ticks = 5;
    let axis_y = TOP + ROW * bars.len() as f64;
    for i in 0..=ticks {
        let ms = scale_max * i as f64 / ticks as f64;
        let x = x_of(ms);
        let _ = writeln!(
            svg,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{axis_y}" stroke="#ddd"/>"##
        );
        let _ = writeln!(
            svg,
            r##"<text x="{x:.1}" y="{:.1}" text-anchor="middle" font-size="11" fill="#555">{}</text>"##,
            axis_y + 16.0,
            format_ms(ms)
        );
    }
    let _ = writeln!(
        svg,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="11" fill="#555">median start-to-exit time of a /bin/true container, ms (line: up to the 90th percentile)</text>"##,
        LABEL_WIDTH + plot_width / 2.0,
        axis_y + 32.0
    );

    for (row, bar) in bars.iter().enumerate() {
        let y = TOP + ROW * row as f64;
        let middle = y + ROW / 2.0;
        let end = x_of(bar.median_ms);
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LABEL_WIDTH - 8.0,
            middle + 4.5,
            escape(&bar.label)
        );
        let _ = writeln!(
            svg,
            r#"<rect x="{LABEL_WIDTH}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"/>"#,
            y + 4.0,
            (end - LABEL_WIDTH).max(1.0),
            ROW - 8.0,
            bar.family.colour()
        );
        let p90 = x_of(bar.p90_ms);
        if p90 > end {
            let _ = writeln!(
                svg,
                r##"<line x1="{end:.1}" y1="{middle:.1}" x2="{p90:.1}" y2="{middle:.1}" stroke="#333" stroke-width="1.5"/>"##
            );
        }
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{:.1}">{} ms <tspan fill="#555" font-size="11">{}</tspan></text>"##,
            WIDTH - TEXT_WIDTH + 6.0,
            middle + 4.5,
            format_ms(bar.median_ms),
            escape(&bar.note)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// A round number at or above `value` for the end of the axis: 1, 2 or 5 times a power of 10.
pub fn nice_ceiling(value: f64) -> f64 {
    if value <= 0.0 || !value.is_finite() {
        return 1.0;
    }
    let power = 10f64.powf(value.log10().floor());
    for step in [1.0, 2.0, 5.0, 10.0] {
        if step * power >= value {
            return step * power;
        }
    }
    10.0 * power
}

/// Milliseconds with as many decimals as make sense at that size.
pub fn format_ms(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.2}")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_ends_on_a_round_number() {
        assert_eq!(nice_ceiling(13.0), 20.0);
        assert_eq!(nice_ceiling(20.0), 20.0);
        assert_eq!(nice_ceiling(0.7), 1.0);
        assert_eq!(nice_ceiling(120.0), 200.0);
        assert_eq!(nice_ceiling(0.0), 1.0);
    }

    #[test]
    fn every_bar_is_drawn_with_its_label_and_value() {
        let bars = vec![
            Bar {
                label: "floor (unshare & chroot)".into(),
                median_ms: 2.5,
                p90_ms: 3.0,
                note: "1.0x floor".into(),
                family: Family::Floor,
            },
            Bar {
                label: "crun".into(),
                median_ms: 13.0,
                p90_ms: 12.0,
                note: String::new(),
                family: Family::Production,
            },
        ];
        let svg = chart("What isolation costs", "a <VM>", &bars);
        assert!(svg.starts_with("<svg "), "{svg}");
        assert!(svg.trim_end().ends_with("</svg>"), "{svg}");
        assert!(
            svg.contains("floor (unshare &amp; chroot)"),
            "labels are escaped: {svg}"
        );
        assert!(svg.contains("a &lt;VM&gt;"), "{svg}");
        assert!(svg.contains(">2.50 ms"), "{svg}");
        assert!(svg.contains(">13.0 ms"), "{svg}");
        assert_eq!(svg.matches("<rect x=").count(), 2, "{svg}");
        // A p90 below the median (impossible, but not drawn backwards): only the floor's line.
        assert_eq!(svg.matches("stroke-width=\"1.5\"").count(), 1, "{svg}");
    }

    #[test]
    fn milliseconds_keep_three_significant_digits() {
        assert_eq!(format_ms(2.345), "2.35");
        assert_eq!(format_ms(13.04), "13.0");
        assert_eq!(format_ms(123.4), "123");
    }
}
