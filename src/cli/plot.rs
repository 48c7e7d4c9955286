//! SVG plots (plotters): scaling lines on log-log axes, phase breakdowns, convergence.

use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// A compact tick label: `0.02`, `3`, `1e-5`, `2e5`.
fn tick(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if (1e-2..1e4).contains(&a) {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.0e}")
    }
}

/// One named line of `(x, y)` points.
pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// A log-axis range covering the positive values, widened to whole decades so that every
/// axis has labelled ticks.
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) =
        values.filter(|v| v.is_finite() && *v > 0.0).fold((f64::INFINITY, 0.0f64), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return (1e-3, 1.0);
    }
    (10f64.powf((lo.log10() + 1e-9).floor()), 10f64.powf((hi.log10() - 1e-9).ceil()))
}

/// Lines on log-log axes with a legend.
pub fn loglog(path: &Path, title: &str, x_label: &str, y_label: &str, series: &[Series]) -> anyhow::Result<()> {
    let (x0, x1) = range(series.iter().flat_map(|s| s.points.iter().map(|p| p.0)));
    let (y0, y1) = range(series.iter().flat_map(|s| s.points.iter().map(|p| p.1)));
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .draw()?;
    for (k, s) in series.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))?
            .label(s.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present().with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Stacked horizontal bars: for each category, its phases' values (same phase order for all).
pub fn stacked_bars(
    path: &Path,
    title: &str,
    x_label: &str,
    phases: &[&str],
    rows: &[(String, Vec<f64>)],
) -> anyhow::Result<()> {
    let max = rows.iter().map(|r| r.1.iter().sum::<f64>()).fold(0.0, f64::max).max(1e-12) * 1.35;
    let root = SVGBackend::new(path, (900, 120 + 60 * rows.len() as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(120)
        .build_cartesian_2d(0.0..max, 0.0..rows.len() as f64)?;
    chart.configure_mesh().x_desc(x_label).x_label_formatter(&|v| tick(*v)).disable_y_mesh().y_labels(0).draw()?;
    for (p, phase) in phases.iter().enumerate() {
        let color = COLORS[p % COLORS.len()];
        let bars: Vec<Rectangle<(f64, f64)>> = rows
            .iter()
            .enumerate()
            .map(|(i, (_, v))| {
                let start: f64 = v[..p].iter().sum();
                Rectangle::new([(start, i as f64 + 0.2), (start + v[p], i as f64 + 0.8)], color.filled())
            })
            .collect();
        chart
            .draw_series(bars)?
            .label(phase.to_string())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], color.filled()));
    }
    // Category names beside their bars (a numeric axis has no category labels).
    chart.draw_series(rows.iter().enumerate().map(|(i, (name, v))| {
        Text::new(
            format!("{name}  {}", tick(v.iter().sum())),
            (v.iter().sum::<f64>() + max * 0.01, i as f64 + 0.62),
            ("sans-serif", 14),
        )
    }))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present().with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Convergence: `‖g‖` and `r_t` per iteration on a log axis; iterations where both SPEC §4
/// checks held are marked with filled green squares, failed ones with red crosses.
pub fn convergence(
    path: &Path,
    grad: &[(f64, f64)],
    r: &[(f64, f64)],
    held: &[(f64, f64, bool)],
) -> anyhow::Result<()> {
    let (y0, y1) = range(grad.iter().chain(r).map(|p| p.1));
    let x1 = grad.iter().map(|p| p.0).fold(1.0, f64::max) + 0.5;
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("convergence", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(-0.5..x1, (y0..y1).log_scale())?;
    chart.configure_mesh().x_desc("iteration").y_desc("‖g‖, r_t").y_label_formatter(&|v| tick(*v)).draw()?;
    let (c0, c1) = (COLORS[0], COLORS[3]);
    chart
        .draw_series(LineSeries::new(grad.iter().copied(), c0.stroke_width(2)))?
        .label("‖g‖")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c0.stroke_width(2)));
    if !r.is_empty() {
        chart
            .draw_series(LineSeries::new(r.iter().copied(), c1.stroke_width(2)))?
            .label("r_t")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c1.stroke_width(2)));
    }
    let green = RGBColor(44, 160, 44);
    chart
        .draw_series(
            held.iter()
                .filter(|h| h.2)
                .map(|&(x, y, _)| Rectangle::new([(x - 0.12, y / 1.25), (x + 0.12, y * 1.25)], green.filled())),
        )?
        .label("checks held (r ratio ≤ 0.4, M·r ≤ 0.1·l)")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], green.filled()));
    chart
        .draw_series(held.iter().filter(|h| !h.2).map(|&(x, y, _)| Cross::new((x, y), 6, RED.stroke_width(2))))?
        .label("checks failed")
        .legend(|(x, y)| Cross::new((x + 5, y), 5, RED.stroke_width(2)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present().with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// One panel of [`panels`]: lines against a linear x axis; y linear or logarithmic.
pub struct Panel {
    pub title: String,
    pub y_label: String,
    pub log_y: bool,
    pub series: Vec<Series>,
}

/// Panels side by side in a grid of `cols` columns, sharing the x label.
pub fn panels(path: &Path, title: &str, x_label: &str, cols: usize, panels: &[Panel]) -> anyhow::Result<()> {
    let rows = panels.len().div_ceil(cols);
    let root = SVGBackend::new(path, (460 * cols as u32, 60 + 360 * rows as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(title, ("sans-serif", 22))?;
    for (panel, area) in panels.iter().zip(root.split_evenly((rows, cols))) {
        let pts = || panel.series.iter().flat_map(|s| s.points.iter().copied());
        let x1 = pts().map(|p| p.0).fold(1.0, f64::max);
        let mut chart = ChartBuilder::on(&area);
        chart.caption(&panel.title, ("sans-serif", 16)).margin(10).x_label_area_size(40).y_label_area_size(60);
        if panel.log_y {
            let (y0, y1) = range(pts().map(|p| p.1));
            let mut c = chart.build_cartesian_2d(0.0..x1, (y0..y1).log_scale())?;
            c.configure_mesh()
                .x_desc(x_label)
                .y_desc(&panel.y_label)
                .x_label_formatter(&|v| tick(*v))
                .y_label_formatter(&|v| tick(*v))
                .draw()?;
            draw_lines(&mut c, &panel.series)?;
        } else {
            let (mut y0, mut y1) = pts()
                .map(|p| p.1)
                .filter(|v| v.is_finite())
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
            if !y0.is_finite() {
                (y0, y1) = (0.0, 1.0);
            }
            let pad = ((y1 - y0) * 0.05).max(1e-12);
            let mut c = chart.build_cartesian_2d(0.0..x1, (y0 - pad)..(y1 + pad))?;
            c.configure_mesh()
                .x_desc(x_label)
                .y_desc(&panel.y_label)
                .x_label_formatter(&|v| tick(*v))
                .y_label_formatter(&|v| tick(*v))
                .draw()?;
            draw_lines(&mut c, &panel.series)?;
        }
    }
    root.present().with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn draw_lines<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'a, DB, CT>,
    series: &[Series],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    for (k, s) in series.iter().enumerate() {
        let color = COLORS[k % COLORS.len()];
        chart
            .draw_series(LineSeries::new(s.points.iter().copied(), color.stroke_width(2)))
            .map_err(|e| anyhow::anyhow!("plot: {e}"))?
            .label(s.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    if series.len() > 1 {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(|e| anyhow::anyhow!("plot: {e}"))?;
    }
    Ok(())
}
