//! The cost model that chooses a model's circuit shape: every column costs proving time in
//! proportion to the domain's size (commitment, coset NTTs, evaluation), so the best shape
//! balances the three groups' row counts at the smallest `2^k`.

use super::{
    params::{Params, Template, MIN_LANES},
    plan::Census,
    MAX_K,
};

/// Nanoseconds per domain row of one column of each kind, on the 2-core reference machine
/// with the CPU backend (see `docs/circuit.md` for how they were measured).
const NS_ADVICE: f64 = 1_300.0;
const NS_FIXED: f64 = 350.0;
const NS_LOOKUP: f64 = 4_500.0;
const NS_PRODUCT: f64 = 1_500.0;
/// Per row and term of the constraints evaluated on the 4× extended domain.
const NS_TERM: f64 = 4.0 * 6.0;

/// What a layout costs, by the model.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// log2 of the rows.
    pub k: u32,
    /// Advice columns.
    pub advice: usize,
    /// Fixed columns (lookup tables included).
    pub fixed: usize,
    /// Lookup arguments.
    pub lookups: usize,
    /// Grand products of the permutation argument.
    pub products: usize,
    /// Predicted proving time in seconds.
    pub seconds: f64,
}

/// The template (limbs per quantity) for `limb_bits`-bit limbs.
fn template(census: &Census, limb_bits: u32) -> Template {
    let limbs = |bits: u32| bits.div_ceil(limb_bits) as u8;
    let [rho, sign, above, below, upper] = census.bits.map(limbs);
    Template {
        rho,
        sign,
        above,
        below,
        upper,
    }
}

/// The figures of `params` at `k`.
pub fn estimate(params: &Params, k: u32) -> Estimate {
    let n = (1u64 << k) as f64;
    let advice = params.advice_columns();
    let fixed = params.fixed_columns() + 2 + 3;
    let lookups = usize::from(params.slots) + 1;
    // Chunks of `degree − 2 = 3` columns.
    let products = params.copy_columns().div_ceil(3);
    let len = params.template.offsets().len;
    // A hash's gates: 3 squares and 3 sums of 3 products per round row.
    let hash_terms = if params.hashed() { 30 } else { 0 };
    // Hashed weights: a multiply–accumulate term reads a weight cell and two flags.
    let hash_terms = hash_terms
        + if params.weights_hashed() {
            2 * usize::from(params.lanes) * usize::from(params.accs)
        } else {
            0
        };
    let terms = usize::from(params.lanes) * usize::from(params.accs)
        + usize::from(params.slots) * (len + 16)
        + hash_terms
        + 3 * params.copy_columns()
        + 8 * lookups;
    let ns = n
        * (NS_ADVICE * advice as f64
            + NS_FIXED * fixed as f64
            + NS_LOOKUP * lookups as f64
            + NS_PRODUCT * products as f64
            + NS_TERM * terms as f64);
    Estimate {
        k,
        advice,
        fixed,
        lookups,
        products,
        seconds: ns * 1e-9,
    }
}

/// The smallest `k` that holds the census in `params`' shape.
fn k_of(census: &Census, params: &Params) -> Option<u32> {
    let len = params.template.offsets().len;
    let mac = census.mac_rows(params.lanes.into(), params.accs.into());
    let main = mac.max(census.funcs) + census.classes;
    let rescale = census.sites.div_ceil(params.slots.into()) * len;
    let needed = main
        .max(rescale)
        .max(census.hash_rows())
        .max(census.instance_len())
        .max(census.range_table(params.limb_bits.into()) + 1)
        .max(census.func_table + 1)
        + params.reserved_rows();
    (0..=MAX_K).find(|k| (1usize << k) >= needed)
}

/// `params` with the template the census needs, if the shape is valid and fits.
pub(super) fn fit(census: &Census, mut params: Params) -> Option<Params> {
    params.template = template(census, params.limb_bits.into());
    params.input = census.input;
    params.weights = census.weights;
    (params.valid() && k_of(census, &params).is_some()).then_some(params)
}

/// The fastest shape by the model, and its estimate.
pub(super) fn search(census: &Census) -> Option<(Params, Estimate)> {
    let mut best: Option<(Params, Estimate)> = None;
    for lanes in [MIN_LANES, 8, 12, 16, 24, 32, 48, 64] {
        for accs in [1u16, 2, 3, 4, 6, 8, 12, 16] {
            if lanes % accs != 0 {
                continue;
            }
            for slots in 1..=8u16 {
                for limb_bits in [8u8, 10, 12, 14, 16] {
                    let params = Params {
                        lanes,
                        accs,
                        slots,
                        limb_bits,
                        template: template(census, limb_bits.into()),
                        input: census.input,
                        weights: census.weights,
                    };
                    let Some(k) = k_of(census, &params) else {
                        continue;
                    };
                    let e = estimate(&params, k);
                    if best.is_none_or(|(_, b)| e.seconds < b.seconds) {
                        best = Some((params, e));
                    }
                }
            }
        }
    }
    best
}
