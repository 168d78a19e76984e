//! The bundled default model and its test set (`firmware/models/`), compiled in so that
//! `zkedge demo` runs anywhere.

use serde::Deserialize;

/// `italy-power-demand`: a substation smart meter's day of hourly demand → winter or summer
/// load regime (see `firmware/models/README.md` for the data and its provenance).
pub const MODEL_JSON: &str = include_str!("../../../firmware/models/italy-power-demand.json");

/// Its test set, quantised to int8, with labels.
pub const SAMPLES_JSON: &str =
    include_str!("../../../firmware/models/italy-power-demand.samples.json");

/// A test set: int8 inputs and their true labels.
#[derive(Debug, Deserialize)]
pub struct Samples {
    /// One int8 input per sample.
    pub inputs: Vec<Vec<i8>>,
    /// The true class of each sample.
    pub labels: Vec<usize>,
}

/// The bundled test set.
pub fn samples() -> Result<Samples, serde_json::Error> {
    serde_json::from_str(SAMPLES_JSON)
}
