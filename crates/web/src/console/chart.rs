//! Bar charts as inline SVG, drawn on the server: no chart library, no script. The template
//! (`templates/console/chart.html`) writes numbers and fixed colours only; titles are text
//! and escaped like everything else.

/// Width and height of the drawing in SVG units (the CSS scales it).
const WIDTH: u32 = 960;
const HEIGHT: u32 = 200;
/// Room under the bars for the time labels.
const AXIS: u32 = 14;

/// Colour of each verdict class, in the order of `model::VerdictClass::ALL`.
pub const VERDICT_COLOURS: [(&str, &str); 7] = [
    ("spam", "#e0b400"),
    ("phishing", "#e8710a"),
    ("malware", "#c5221f"),
    ("ransomware-delivery", "#7b1fa2"),
    ("scam", "#b08900"),
    ("benign", "#2e7d32"),
    ("unknown", "#9aa0a6"),
];

#[derive(Debug, Clone)]
pub struct Bar {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
    pub fill: &'static str,
    pub title: String,
}

#[derive(Debug, Clone)]
pub struct Tick {
    pub x: u32,
    pub label: String,
}

#[derive(Debug, Clone)]
pub struct Chart {
    pub width: u32,
    pub height: u32,
    pub label: String,
    pub bars: Vec<Bar>,
    pub ticks: Vec<Tick>,
    pub legend: Vec<(String, &'static str)>,
}

/// One column: its time label and its stacked `(series, count)` segments.
#[derive(Debug, Clone)]
pub struct Column {
    pub label: String,
    pub segments: Vec<(&'static str, u64)>,
}

/// A stacked bar chart; series are coloured by [`VERDICT_COLOURS`] (unknown names in grey).
pub fn stacked(label: &str, columns: &[Column], legend: bool) -> Chart {
    let n = columns.len().max(1) as u32;
    let slot = (WIDTH / n).max(1);
    let w = slot.saturating_sub(1).max(1);
    let max = columns
        .iter()
        .map(|c| c.segments.iter().map(|s| s.1).sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let plot = u64::from(HEIGHT - AXIS);
    let mut bars = Vec::new();
    let mut ticks = Vec::new();
    let mut seen = Vec::new();
    let every = (columns.len() / 8).max(1);
    for (i, c) in columns.iter().enumerate() {
        let x = i as u32 * slot;
        let mut top = plot;
        for &(series, count) in &c.segments {
            if count == 0 {
                continue;
            }
            let h = (count * plot).div_ceil(max).min(top);
            top -= h;
            if !seen.contains(&series) {
                seen.push(series);
            }
            bars.push(Bar {
                x,
                y: top as u32,
                w,
                h: h as u32,
                fill: colour(series),
                title: format!("{}: {count} {series}", c.label),
            });
        }
        if i % every == 0 {
            ticks.push(Tick {
                x,
                label: c.label.clone(),
            });
        }
    }
    Chart {
        width: WIDTH,
        height: HEIGHT,
        label: label.to_owned(),
        bars,
        ticks,
        legend: if legend {
            VERDICT_COLOURS
                .iter()
                .filter(|(n, _)| seen.contains(n))
                .map(|(n, c)| ((*n).to_owned(), *c))
                .collect()
        } else {
            Vec::new()
        },
    }
}

fn colour(series: &str) -> &'static str {
    VERDICT_COLOURS
        .iter()
        .find(|(n, _)| *n == series)
        .map(|(_, c)| *c)
        .unwrap_or("#0b5cad")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tallest_column_fills_the_plot() {
        let cols = vec![
            Column {
                label: "a".into(),
                segments: vec![("spam", 3), ("malware", 1)],
            },
            Column {
                label: "b".into(),
                segments: vec![("spam", 2)],
            },
        ];
        let c = stacked("x", &cols, true);
        assert_eq!(c.bars.len(), 3);
        assert_eq!(c.bars[0].h + c.bars[1].h, HEIGHT - AXIS);
        assert_eq!(c.bars[1].y, 0);
        assert_eq!(c.legend.len(), 2);
    }
}
