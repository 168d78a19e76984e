//! The report as an SVG plot: time against log2 size, one panel per operation, one colour per
//! backend; host wall time solid (bars: fastest to slowest run), device time at the backend's
//! clock dashed, device + link time dotted. SVG needs no fonts or system libraries.

use std::path::Path;

use plotters::{element::DashedPathElement, prelude::*};

use super::{OpKind, Report};

/// Why the plot could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw {path}: {reason}")]
pub struct PlotError {
    path: String,
    reason: String,
}

struct Series {
    label: String,
    points: Vec<(f64, f64)>,
    bars: Vec<(f64, f64, f64, f64)>,
}

/// The series of one backend on one operation: wall (with bars), device, device+link.
fn series(report: &Report, backend: &str, op: OpKind) -> [Series; 3] {
    let rows: Vec<_> = report
        .rows
        .iter()
        .filter(|r| r.backend == backend && r.op == op)
        .filter_map(|r| Some((f64::from(r.log_n), r.measured()?)))
        .collect();
    let clock = rows
        .iter()
        .find_map(|(_, m)| m.clock_hz)
        .map(|f| format!("{} MHz", f as f64 / 1e6));
    let baud = rows
        .iter()
        .find_map(|(_, m)| m.link_baud.filter(|_| m.link_bytes.is_some()));
    [
        Series {
            label: format!("{backend}: host wall time"),
            points: rows.iter().map(|(x, m)| (*x, m.wall.median)).collect(),
            bars: rows
                .iter()
                .map(|(x, m)| (*x, m.wall.min, m.wall.median, m.wall.max))
                .collect(),
        },
        Series {
            label: format!("{backend}: device time at {}", clock.unwrap_or_default()),
            points: rows
                .iter()
                .filter_map(|(x, m)| Some((*x, m.device_s()?)))
                .collect(),
            bars: Vec::new(),
        },
        Series {
            label: format!(
                "{backend}: device + link at {} baud",
                baud.map(|b| b.to_string()).unwrap_or_default()
            ),
            points: rows
                .iter()
                .filter_map(|(x, m)| Some((*x, m.link_s().and(m.projected_s())?)))
                .collect(),
            bars: Vec::new(),
        },
    ]
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
        return Err(err(&"nothing measured"));
    }
    let width = 760 * ops.len() as u32;
    let root = SVGBackend::new(path, (width, 680)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let root = root
        .titled(title, ("sans-serif", 20))
        .map_err(|e| err(&e))?;
    let panels = root.split_evenly((1, ops.len()));
    for (panel, &op) in panels.iter().zip(&ops) {
        let all: Vec<[Series; 3]> = report
            .backends
            .iter()
            .map(|b| series(report, b, op))
            .collect();
        let xs = all
            .iter()
            .flatten()
            .flat_map(|s| s.points.iter().map(|p| p.0));
        let (x_lo, x_hi) = xs.fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
        let ys: Vec<f64> = all
            .iter()
            .flatten()
            .flat_map(|s| {
                s.points
                    .iter()
                    .map(|p| p.1)
                    .chain(s.bars.iter().flat_map(|b| [b.1, b.3]))
            })
            .filter(|y| *y > 0.0)
            .collect();
        if ys.is_empty() || x_lo > x_hi {
            continue;
        }
        let y_lo = ys.iter().copied().fold(f64::MAX, f64::min) / 2.0;
        let y_max = ys.iter().copied().fold(f64::MIN, f64::max) * 2.0;
        // Headroom above the data for the legend (about 20 px a line of ~560 px).
        let entries = all
            .iter()
            .flatten()
            .filter(|s| !s.points.is_empty())
            .count() as f64;
        let frac = ((entries * 20.0 + 24.0) / 560.0).min(0.6);
        let y_hi = y_lo * (y_max / y_lo).powf(1.0 / (1.0 - frac));
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
            .build_cartesian_2d((x_lo - 0.3)..(x_hi + 0.3), (y_lo..y_hi).log_scale())
            .map_err(|e| err(&e))?;
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
            .draw()
            .map_err(|e| err(&e))?;
        for (i, [wall, device, link]) in all.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            if !wall.points.is_empty() {
                chart
                    .draw_series(LineSeries::new(wall.points.clone(), color.stroke_width(2)))
                    .map_err(|e| err(&e))?
                    .label(wall.label.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(2))
                    });
                chart
                    .draw_series(
                        wall.points
                            .iter()
                            .map(|p| Circle::new(*p, 3, color.filled())),
                    )
                    .map_err(|e| err(&e))?;
                chart
                    .draw_series(wall.bars.iter().map(|&(x, lo, mid, hi)| {
                        ErrorBar::new_vertical(x, lo, mid, hi, color.stroke_width(1), 8)
                    }))
                    .map_err(|e| err(&e))?;
            }
            for (s, dash, gap) in [(device, 10, 5), (link, 3, 4)] {
                if s.points.is_empty() {
                    continue;
                }
                chart
                    .draw_series(DashedLineSeries::new(
                        s.points.clone(),
                        dash,
                        gap,
                        color.stroke_width(2),
                    ))
                    .map_err(|e| err(&e))?
                    .label(s.label.clone())
                    .legend(move |(x, y)| {
                        DashedPathElement::new(
                            vec![(x, y), (x + 24, y)],
                            dash,
                            gap,
                            color.stroke_width(2),
                        )
                    });
                chart
                    .draw_series(
                        s.points
                            .iter()
                            .map(|p| TriangleMarker::new(*p, 4, color.filled())),
                    )
                    .map_err(|e| err(&e))?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .label_font(("sans-serif", 13))
            .draw()
            .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))
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
