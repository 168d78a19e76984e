//! zkedge's verifier for the browser: a verifier bundle (`verifier.zkv`) and a proof file in,
//! the verdict `zkedge verify` gives out.
//!
//! The checks are zkedge-core's, unchanged — the bundle's and the proof file's canonical
//! parsing, the proof's binding to the bundle's model, verifying key and SRS, and halo2-axiom's
//! `verify_proof` — compiled for `wasm32-unknown-unknown` by `cargo xtask wasm`. One difference
//! from the command line: an SRS whose secret is public does not stop the check here, it comes
//! back as [`Verdict::insecure_srs`], for the page to show as a warning beside the verdict.

#![forbid(unsafe_code)]

use serde::Serialize;
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
