//! The report as an SVG plot: time against log2 size, one panel per operation, one colour per
//! backend; host wall time solid (bars: fastest to slowest run), device time at the backend's
//! clock dashed, device + link time dotted; one legend below the panels. SVG needs no fonts or
//! system libraries.

use std::path::Path;

use plotters::{
    coord::Shift,
    element::DashedPathElement,
    prelude::*,
    style::text_anchor::{HPos, Pos, VPos},
};

use super::{OpKind, Report};

/// Why the plot could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw {path}: {reason}")]
pub struct PlotError {
    path: String,
    reason: String,
}

/// One backend's curves on one operation.
struct Curves {
    /// (x, min, median, max) of the host wall time.
    wall: Vec<(f64, f64, f64, f64)>,
    device: Vec<(f64, f64)>,
    linked: Vec<(f64, f64)>,
}

fn curves(report: &Report, backend: &str, op: OpKind) -> Curves {
    let rows: Vec<_> = report
        .rows
        .iter()
        .filter(|r| r.backend == backend && r.op == op)
        .filter_map(|r| Some((f64::from(r.log_n), r.measured()?)))
        .collect();
    Curves {
        wall: rows
            .iter()
            .map(|(x, m)| (*x, m.wall.min, m.wall.median, m.wall.max))
            .collect(),
        device: rows
            .iter()
            .filter_map(|(x, m)| Some((*x, m.device_s()?)))
            .collect(),
        linked: rows
            .iter()
            .filter_map(|(x, m)| Some((*x, m.link_s().and(m.projected_s())?)))
            .collect(),
    }
}

/// The backend's name in the legend, with its clock and link where it has them.
fn legend_label(report: &Report, backend: &str) -> String {
    let m = report
        .rows
        .iter()
        .filter(|r| r.backend == backend && r.op.is_kernel())
        .find_map(|r| r.measured());
    let mut label = backend.to_string();
    if let Some(f) = m.and_then(|m| m.clock_hz) {
        label += &format!(" — {} MHz", f as f64 / 1e6);
        if let Some(baud) = m.and_then(|m| m.link_baud.filter(|_| m.link_bytes.is_some())) {
            label += &format!(", link {baud} baud");
        }
    }
    label
}

const DEVICE_DASH: (u32, u32) = (10, 5);
const LINK_DASH: (u32, u32) = (3, 4);

fn color(i: usize) -> RGBAColor {
    Palette99::pick(i).to_rgba()
}

/// Draws `report` to `path` (SVG).
pub fn write_svg(report: &Report, path: &Path, title: &str) -> Result<(), PlotError> {
    let err = |e: &dyn std::fmt::Display| PlotError {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let ops: Vec<OpKind> = report
        .ops()
        .into_iter()
        .filter(|op| op.is_kernel())
        .collect();
    if ops.is_empty() {
        return Err(err(&"no MSM or NTT measured"));
    }
    let width = 760 * ops.len() as u32;
    let columns = (width / 420).max(1) as usize;
    let legend_rows = report.backends.len().div_ceil(columns) + 1;
    let legend_height = 24 + 22 * legend_rows as u32;
    let root = SVGBackend::new(path, (width, 600 + legend_height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let root = root
        .titled(title, ("sans-serif", 20))
        .map_err(|e| err(&e))?;
    let (charts, legend) = root.split_vertically(root.dim_in_pixel().1 - legend_height);
    for (panel, &op) in charts.split_evenly((1, ops.len())).iter().zip(&ops) {
        panel_chart(report, panel, op).map_err(|e| err(&e))?;
    }
    draw_legend(report, &legend, columns).map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn panel_chart(report: &Report, panel: &DrawingArea<SVGBackend, Shift>, op: OpKind) -> DrawResult {
    let all: Vec<Curves> = report
        .backends
        .iter()
        .map(|b| curves(report, b, op))
        .collect();
    let xs = all.iter().flat_map(|c| c.wall.iter().map(|p| p.0));
    let (x_lo, x_hi) = xs.fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
    let ys: Vec<f64> = all
        .iter()
        .flat_map(|c| {
            c.wall
                .iter()
                .flat_map(|w| [w.1, w.3])
                .chain(c.device.iter().chain(&c.linked).map(|p| p.1))
        })
        .filter(|y| *y > 0.0)
        .collect();
    if ys.is_empty() || x_lo > x_hi {
        return Ok(());
    }
    let y_lo = ys.iter().copied().fold(f64::MAX, f64::min) / 2.0;
    let y_hi = ys.iter().copied().fold(f64::MIN, f64::max) * 2.0;
    let mut chart = ChartBuilder::on(panel)
        .caption(
            match op {
                OpKind::Msm => "MSM (BN254 G1)",
                _ => "NTT (forward, BN254 Fr)",
            },
            ("sans-serif", 18),
        )
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(76)
        .build_cartesian_2d((x_lo - 0.3)..(x_hi + 0.3), (y_lo..y_hi).log_scale())?;
    chart
        .configure_mesh()
        .x_labels(((x_hi - x_lo) as usize + 1).max(2))
        .x_label_formatter(&|v| {
            if (v - v.round()).abs() < 1e-6 {
                format!("2^{}", v.round())
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|v| tick(*v))
        .x_desc("size (terms / points)")
        .y_desc("time per call (log scale)")
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    for (i, c) in all.iter().enumerate() {
        let color = color(i);
        let medians: Vec<(f64, f64)> = c.wall.iter().map(|w| (w.0, w.2)).collect();
        chart.draw_series(LineSeries::new(medians.clone(), color.stroke_width(2)))?;
        chart.draw_series(medians.iter().map(|p| Circle::new(*p, 3, color.filled())))?;
        chart.draw_series(c.wall.iter().map(|&(x, lo, mid, hi)| {
            ErrorBar::new_vertical(x, lo, mid, hi, color.stroke_width(1), 8)
        }))?;
        for (points, (dash, gap)) in [(&c.device, DEVICE_DASH), (&c.linked, LINK_DASH)] {
            if points.is_empty() {
                continue;
            }
            chart.draw_series(DashedLineSeries::new(
                points.clone(),
                dash,
                gap,
                color.stroke_width(2),
            ))?;
            chart.draw_series(
                points
                    .iter()
                    .map(|p| TriangleMarker::new(*p, 4, color.filled())),
            )?;
        }
    }
    Ok(())
}

/// Backends by colour in `columns` columns, then the three line styles.
fn draw_legend(
    report: &Report,
    area: &DrawingArea<SVGBackend, Shift>,
    columns: usize,
) -> DrawResult {
    let (width, _) = area.dim_in_pixel();
    let col_width = (width as usize - 40) / columns;
    let font =
        TextStyle::from(("sans-serif", 14).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let text = |s: String, x: i32, y: i32| Text::new(s, (x, y), font.clone());
    let at = |i: usize| {
        (
            40 + (i % columns * col_width) as i32,
            14 + (i / columns) as i32 * 22,
        )
    };
    for (i, backend) in report.backends.iter().enumerate() {
        let (x, y) = at(i);
        let c = color(i);
        area.draw(&PathElement::new(
            vec![(x, y), (x + 28, y)],
            c.stroke_width(3),
        ))?;
        area.draw(&Circle::new((x + 14, y), 3, c.filled()))?;
        area.draw(&text(legend_label(report, backend), x + 36, y))?;
    }
    let y = at(report.backends.len().div_ceil(columns) * columns).1;
    let grey = BLACK.mix(0.6);
    let styles: [(&str, Option<(u32, u32)>); 3] = [
        ("host wall time: median, bars fastest–slowest run", None),
        ("device time: cycles ÷ clock", Some(DEVICE_DASH)),
        (
            "device + link: plus its bytes at the link's baud",
            Some(LINK_DASH),
        ),
    ];
    let style_width = (width as i32 - 40) / 3;
    for (j, (label, dash)) in styles.into_iter().enumerate() {
        let x = 40 + j as i32 * style_width;
        let line = vec![(x, y), (x + 28, y)];
        match dash {
            None => area.draw(&PathElement::new(line, grey.stroke_width(2)))?,
            Some((d, g)) => area.draw(&DashedPathElement::new(line, d, g, grey.stroke_width(2)))?,
        }
        area.draw(&text(label.to_string(), x + 36, y))?;
    }
    Ok(())
}

/// An axis label: `10 µs`, `2.5 ms`, `1 s`.
fn tick(s: f64) -> String {
    let (v, unit) = if s >= 1.0 {
        (s, "s")
    } else if s >= 1e-3 {
        (s * 1e3, "ms")
    } else if s >= 1e-6 {
        (s * 1e6, "µs")
    } else {
        (s * 1e9, "ns")
    };
    let v = format!("{v:.2}");
    let v = v.trim_end_matches('0').trim_end_matches('.');
    format!("{v} {unit}")
}
