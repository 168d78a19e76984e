//! zkedge's verifier for the browser: a verifier bundle (`verifier.zkv`) and a proof file in,
//! the verdict `zkedge verify` gives out.
//!
//! The checks are zkedge-core's, unchanged — the bundle's and the proof file's canonical
//! parsing, the proof's binding to the bundle's model, verifying key and SRS, and halo2-axiom's
//! `verify_proof` — compiled for `wasm32-unknown-unknown` by `cargo xtask wasm`. One difference
//! from the command line: an SRS whose secret is public does not stop the check here, it comes
//! back as [`Verdict::insecure_srs`], for the page to show as a warning beside the verdict.
//!
//! [`chart`] draws the page's chart of verified results (plotters, to SVG).

#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::wasm_bindgen;
use zkedge_core::{
    bundle::Bundle,
    proof::{ProofFile, Revealed},
    srs::hex,
};

/// What the browser shows for one proof.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The proof verifies against the bundle.
    pub valid: bool,
    /// Why not, when it does not.
    pub error: Option<String>,
    /// Why the SRS's secret is public, when it is: a valid proof over it proves nothing.
    pub insecure_srs: Option<String>,
    /// The model's name, as the bundle says.
    pub model: Option<String>,
    /// The model's class labels, as the bundle says (the class's index where it has none).
    pub classes: Vec<String>,
    /// The model's hash (BLAKE2b-256 of its `.zkm`), as the bundle says.
    pub model_hash: Option<String>,
    /// The verifying key's hash: what a verifier pins.
    pub vk_hash: Option<String>,
    /// The SRS's identity.
    pub srs_id: Option<String>,
    /// The proof's digest (BLAKE2b-256 of its canonical bytes).
    pub digest: Option<String>,
    /// The proven output (int8 logits).
    pub output: Vec<i8>,
    /// The proven class, and its label.
    pub class: Option<u32>,
    /// The class's label.
    pub label: Option<String>,
    /// What the proof reveals of the input: `private`, `public` or `hashed`.
    pub input: Option<String>,
    /// The input itself (public) or its commitment in hex (hashed).
    pub input_value: Option<String>,
    /// The Poseidon hash of the weights the proof was made with, in hex (keys with hashed
    /// weights; compare it with the one the model's owner published).
    pub weights_hash: Option<String>,
}

/// Checks `proof` against `bundle`, as `zkedge verify --bundle … --allow-insecure-dev-srs`
/// does, and says what it found.
pub fn check(bundle: &[u8], proof: &[u8]) -> Verdict {
    let mut verdict = Verdict::default();
    let bundle = match Bundle::from_bytes(bundle) {
        Ok(b) => b,
        Err(e) => {
            verdict.error = Some(format!("the verifier bundle: {e}"));
            return verdict;
        }
    };
    verdict.insecure_srs = bundle.insecure_srs().map(str::to_owned);
    verdict.model = Some(bundle.file.model.name.clone());
    verdict.classes = (0..bundle.file.model.outputs)
        .map(|c| bundle.label(c))
        .collect();
    verdict.model_hash = Some(hex(&bundle.file.model.hash));
    verdict.vk_hash = Some(hex(&bundle.vk_hash));
    verdict.srs_id = Some(hex(&bundle.srs_id.tau));
    let file = match ProofFile::from_bytes(proof) {
        Ok(f) => f,
        Err(e) => {
            verdict.error = Some(format!("the proof file: {e}"));
            return verdict;
        }
    };
    verdict.digest = Some(hex(&file.digest()));
    match bundle.verify(&file) {
        Ok(()) => {
            verdict.valid = true;
            verdict.output.clone_from(&file.output);
            verdict.class = Some(file.class);
            verdict.label = Some(bundle.label(file.class));
            verdict.input = Some(file.input.visibility().name().to_owned());
            verdict.input_value = match &file.input {
                Revealed::Nothing => None,
                Revealed::Input(x) => Some(format!("{x:?}")),
                Revealed::Commitment(c) => Some(hex(c)),
            };
            verdict.weights_hash = file.weights.as_ref().map(|h| hex(h));
        }
        Err(e) => verdict.error = Some(format!("not a valid proof: {e}")),
    }
    verdict
}

/// [`check`] for JavaScript: the verdict as JSON.
#[wasm_bindgen]
pub fn verify(bundle: &[u8], proof: &[u8]) -> String {
    // A Verdict of strings and numbers always serialises.
    serde_json::to_string(&check(bundle, proof))
        .unwrap_or_else(|e| format!("{{\"valid\":false,\"error\":\"{e}\"}}"))
}

/// One verified result on the page's chart.
#[derive(Clone, Debug, Deserialize)]
pub struct Point {
    /// The sensor it came from.
    pub sensor: String,
    /// When it was proven, seconds since the Unix epoch.
    pub t: f64,
    /// The proven class.
    pub class: u32,
}

/// Colours of the sensors' series, in order.
const PALETTE: [plotters::style::RGBColor; 6] = [
    plotters::style::RGBColor(31, 119, 180),
    plotters::style::RGBColor(214, 39, 40),
    plotters::style::RGBColor(44, 160, 44),
    plotters::style::RGBColor(148, 103, 189),
    plotters::style::RGBColor(255, 127, 14),
    plotters::style::RGBColor(23, 190, 207),
];

/// The proven class over time, one series per sensor, as an SVG document of `width` × `height`
/// pixels; `labels` name the classes (the y axis). Only what the caller passes is drawn: the
/// page passes the results its verifier accepted.
pub fn chart_svg(
    points: &[Point],
    labels: &[String],
    width: u32,
    height: u32,
) -> Result<String, String> {
    use plotters::prelude::*;

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (t_lo, t_hi) = points.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
            (lo.min(p.t), hi.max(p.t))
        });
        let (t_lo, t_hi) = if t_lo > t_hi {
            (0.0, 1.0)
        } else {
            (t_lo - 30.0, t_hi + 30.0)
        };
        let classes = labels.len().max(
            points
                .iter()
                .map(|p| p.class as usize + 1)
                .max()
                .unwrap_or(1),
        );
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(140)
            .build_cartesian_2d(t_lo..t_hi, -0.5..(classes as f64 - 0.5))
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .y_labels(classes + 1)
            .y_label_formatter(&|v| {
                let i = v.round();
                if (v - i).abs() > 1e-6 || i < 0.0 {
                    return String::new();
                }
                labels
                    .get(i as usize)
                    .cloned()
                    .unwrap_or_else(|| format!("class {i}"))
            })
            .x_label_formatter(&|t| {
                // Minutes and seconds of the UTC time: the page shows full dates in the table.
                let s = t.rem_euclid(86_400.0) as u64;
                format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
            })
            .x_desc("proven at (UTC)")
            .draw()
            .map_err(|e| e.to_string())?;
        let mut sensors: Vec<&str> = points.iter().map(|p| p.sensor.as_str()).collect();
        sensors.sort_unstable();
        sensors.dedup();
        for (i, sensor) in sensors.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let mut series: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.sensor == *sensor)
                .map(|p| (p.t, f64::from(p.class)))
                .collect();
            series.sort_by(|a, b| a.0.total_cmp(&b.0));
            chart
                .draw_series(LineSeries::new(series.clone(), color.stroke_width(2)))
                .map_err(|e| e.to_string())?
                .label(*sensor)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], color.stroke_width(2))
                });
            chart
                .draw_series(series.iter().map(|p| Circle::new(*p, 4, color.filled())))
                .map_err(|e| e.to_string())?;
        }
        if !sensors.is_empty() {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// [`chart_svg`] for JavaScript: `points` and `labels` as JSON; an empty string if they are
/// not what [`chart_svg`] takes.
#[wasm_bindgen]
pub fn chart(points: &str, labels: &str, width: u32, height: u32) -> String {
    let (Ok(points), Ok(labels)) = (
        serde_json::from_str::<Vec<Point>>(points),
        serde_json::from_str::<Vec<String>>(labels),
    ) else {
        return String::new();
    };
    chart_svg(
        &points,
        &labels,
        width.clamp(200, 4000),
        height.clamp(150, 3000),
    )
    .unwrap_or_default()
}
