//! The report's plots (SVG): latency percentiles and throughput against the number of clients,
//! Courier beside the ceilings.

use std::path::Path;

use plotters::prelude::*;

use crate::run::{Report, SystemRun};
use crate::stats::{ACTIONS, StepStats};

const COLOURS: [RGBColor; 3] = [
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0x2c, 0xa0, 0x2c),
];

type Series = Vec<(String, Vec<(f64, f64)>)>;

/// Per system, the points `(clients, value)` that `pick` reads from a level.
fn series(report: &Report, pick: impl Fn(&SystemRun) -> Option<f64>) -> Series {
    let mut out: Series = Vec::new();
    for level in &report.levels {
        for system in &level.systems {
            let Some(value) = pick(system) else { continue };
            let point = (level.concurrency as f64, value);
            match out.iter_mut().find(|(name, _)| *name == system.system) {
                Some((_, points)) => points.push(point),
                None => out.push((system.system.clone(), vec![point])),
            }
        }
    }
    out
}

fn step<'a>(rows: &'a [StepStats], name: &str) -> Option<&'a StepStats> {
    rows.iter().find(|r| r.step == name)
}

fn panel(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    title: &str,
    y_desc: &str,
    lines: &[(Series, ShapeStyleKind)],
    log_y: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let max_x = lines
        .iter()
        .flat_map(|(s, _)| s.iter().flat_map(|(_, p)| p.iter().map(|(x, _)| *x)))
        .fold(1.0f64, f64::max);
    let ys = lines
        .iter()
        .flat_map(|(s, _)| s.iter().flat_map(|(_, p)| p.iter().map(|(_, y)| *y)));
    let (min_y, max_y) = ys.fold((f64::MAX, 0.0f64), |(lo, hi), y| (lo.min(y), hi.max(y)));
    let min_y = if log_y { (min_y * 0.5).max(0.1) } else { 0.0 };
    let max_y = (max_y * 1.3).max(min_y * 10.0).max(1.0);
    let mut builder = ChartBuilder::on(area);
    let chart = builder
        .caption(title, ("sans-serif", 16))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56);
    if log_y {
        let mut chart = chart.build_cartesian_2d(
            (0.8f64..max_x * 1.25).log_scale(),
            (min_y..max_y).log_scale(),
        )?;
        chart
            .configure_mesh()
            .x_desc("concurrent clients")
            .y_desc(y_desc)
            .draw()?;
        draw_lines(&mut chart, lines)?;
    } else {
        let mut chart =
            chart.build_cartesian_2d((0.8f64..max_x * 1.25).log_scale(), min_y..max_y)?;
        chart
            .configure_mesh()
            .x_desc("concurrent clients")
            .y_desc(y_desc)
            .draw()?;
        draw_lines(&mut chart, lines)?;
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum ShapeStyleKind {
    Solid,
    Dashed,
}

fn draw_lines<'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>,
    lines: &[(Series, ShapeStyleKind)],
) -> Result<(), Box<dyn std::error::Error>>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for (series, kind) in lines {
        for (i, (name, points)) in series.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let style = ShapeStyle::from(&colour).stroke_width(2);
            let label = match kind {
                ShapeStyleKind::Solid => name.clone(),
                ShapeStyleKind::Dashed => format!("{name} (p99)"),
            };
            match kind {
                ShapeStyleKind::Solid => {
                    chart
                        .draw_series(LineSeries::new(points.clone(), style))?
                        .label(label)
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
                }
                ShapeStyleKind::Dashed => {
                    chart
                        .draw_series(DashedLineSeries::new(points.clone(), 6, 4, style))?
                        .label(label)
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
                }
            }
            chart.draw_series(points.iter().map(|p| Circle::new(*p, 3, colour.filled())))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 12))
        .draw()?;
    Ok(())
}

/// Writes `latency.svg` and `throughput.svg` into `dir`; answers their file names.
pub fn write(
    report: &Report,
    dir: &Path,
) -> Result<Vec<(&'static str, &'static str)>, Box<dyn std::error::Error>> {
    let latency = dir.join("bench-latency.svg");
    {
        let root = SVGBackend::new(&latency, (1100, 440)).into_drawing_area();
        root.fill(&WHITE)?;
        let (left, right) = root.split_horizontally(550);
        let place =
            |q: fn(&StepStats) -> f64| series(report, move |s| step(&s.placement, "place").map(q));
        let act =
            |q: fn(&StepStats) -> f64| series(report, move |s| step(&s.lifecycle, ACTIONS).map(q));
        panel(
            &left,
            "POST /orders latency (p50, dashed p99)",
            "ms",
            &[
                (place(|r| r.p50_ms), ShapeStyleKind::Solid),
                (place(|r| r.p99_ms), ShapeStyleKind::Dashed),
            ],
            true,
        )?;
        panel(
            &right,
            "shop and rider actions (p50, dashed p99)",
            "ms",
            &[
                (act(|r| r.p50_ms), ShapeStyleKind::Solid),
                (act(|r| r.p99_ms), ShapeStyleKind::Dashed),
            ],
            true,
        )?;
        root.present()?;
    }
    let throughput = dir.join("bench-throughput.svg");
    {
        let root = SVGBackend::new(&throughput, (1100, 440)).into_drawing_area();
        root.fill(&WHITE)?;
        let (left, right) = root.split_horizontally(550);
        panel(
            &left,
            "placements per second",
            "orders/s",
            &[(
                series(report, |s| Some(s.placement_per_sec)),
                ShapeStyleKind::Solid,
            )],
            false,
        )?;
        panel(
            &right,
            "full lifecycles per second",
            "orders/s",
            &[(
                series(report, |s| Some(s.lifecycles_per_sec)),
                ShapeStyleKind::Solid,
            )],
            false,
        )?;
        root.present()?;
    }
    Ok(vec![
        ("Latency against concurrency", "bench-latency.svg"),
        ("Throughput against concurrency", "bench-throughput.svg"),
    ])
}
