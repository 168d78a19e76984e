//! MSMs with a scalar-width hint ([`MsmJob::scalar_bits`]): the sum must be exactly the full
//! MSM's, for every width, at the edges of each width, for negative scalars (`r − v`, as an
//! int8 circuit's columns hold them), and when the hint is wrong.

use accel_backends::{Backend, BasesHandle, Fr, G1Affine, MsmJob, FULL_SCALAR_BITS};
use ark_ff::{AdditiveGroup, BigInt, Field, PrimeField, UniformRand};
use rand::Rng;

use crate::{ensure, oracle, Check, Failure};

/// The widths the suite tries.
pub const WIDTHS: [u32; 6] = [1, 8, 16, 32, 64, 254];

/// A random scalar of magnitude below `2^bits`, negative half the time.
pub fn random_signed(rng: &mut impl Rng, bits: u32) -> Fr {
    if bits >= FULL_SCALAR_BITS - 1 {
        return Fr::rand(rng);
    }
    let mut limbs = [0u64; 4];
    for (i, limb) in limbs.iter_mut().enumerate() {
        let lo = 64 * i as u32;
        if bits > lo {
            let keep = (bits - lo).min(64);
            *limb = rng.gen::<u64>() & (u64::MAX >> (64 - keep));
        }
    }
    let m = Fr::from_bigint(BigInt(limbs)).expect("below 2^253 < r");
    if rng.gen() {
        -m
    } else {
        m
    }
}

/// `2^bits − 1`.
fn all_ones(bits: u32) -> Fr {
    Fr::from(2u64).pow([u64::from(bits)]) - Fr::ONE
}

/// The values that break a small-scalar path, for width `bits`: zero, ±1, ±(2^w − 1), ±2^(w−1)
/// (r − 1 is −1); for the full width also the largest magnitudes, (r ± 1)/2.
pub fn edge_values(bits: u32) -> Vec<Fr> {
    let mut v = vec![Fr::ZERO, Fr::ONE, -Fr::ONE];
    if bits >= FULL_SCALAR_BITS - 1 {
        let half = Fr::from_bigint(Fr::MODULUS_MINUS_ONE_DIV_TWO).expect("below r");
        v.extend([half, half + Fr::ONE, Fr::from(2u64).pow([252])]);
    } else {
        let top = all_ones(bits);
        let high = Fr::from(2u64).pow([u64::from(bits - 1)]);
        v.extend([top, -top, high, -high]);
    }
    v
}

/// `n` scalars of width `bits`, the edge values spread through them.
fn column(rng: &mut impl Rng, n: usize, bits: u32) -> Vec<Fr> {
    let mut s: Vec<Fr> = (0..n).map(|_| random_signed(rng, bits)).collect();
    let edges = edge_values(bits);
    if n > 0 {
        for (k, e) in edges.iter().enumerate() {
            let at = (k * 7919) % n;
            s[at] = *e;
        }
    }
    s
}

fn hinted<B: Backend + ?Sized>(
    b: &mut B,
    what: &str,
    handle: BasesHandle,
    bases: &[G1Affine],
    scalars: &[Fr],
    bits: u32,
) -> Check {
    let job = MsmJob::new(handle, 0, scalars).with_scalar_bits(bits);
    let got = b
        .msm_job(&job)
        .map_err(|e| Failure(format!("{what}: width {bits}, n = {}: {e}", scalars.len())))?;
    let want = oracle::ark_msm(bases, scalars);
    ensure(got == want, || {
        format!(
            "{what}: width {bits}, n = {}: backend {} ≠ arkworks {}",
            scalars.len(),
            oracle::show(&got),
            oracle::show(&want)
        )
    })
}

/// Every width of [`WIDTHS`] at several sizes (each with the edge values), all-negative and
/// all-extreme columns, and a batch that mixes widths — each against arkworks' full MSM.
pub fn scalar_widths<B: Backend + ?Sized>(b: &mut B, rng: &mut impl Rng) -> Check {
    let most = 4096 + 7;
    let bases = oracle::points(rng, most);
    let handle = b
        .load_bases(&bases)
        .map_err(|e| Failure(format!("loading {most} bases: {e}")))?;
    for bits in WIDTHS {
        for n in [1, 2, 3, 9, 100, 1500, most] {
            let s = column(rng, n, bits);
            hinted(b, "random", handle, &bases[..n], &s, bits)?;
        }
        if bits < FULL_SCALAR_BITS {
            // Every scalar at the negative extreme, then every one at the positive.
            let top = all_ones(bits);
            hinted(
                b,
                "all −(2^w − 1)",
                handle,
                &bases[..1500],
                &[-top; 1500],
                bits,
            )?;
            hinted(b, "all 2^w − 1", handle, &bases[..1500], &[top; 1500], bits)?;
            // Small negatives only, as an int8 column of negative activations.
            let most = if bits >= 8 { 128 } else { (1u64 << bits) - 1 };
            let neg: Vec<Fr> = (0..1500u64).map(|i| -Fr::from(i % most + 1)).collect();
            hinted(b, "negative values", handle, &bases[..1500], &neg, bits)?;
        }
    }
    // Width 0 promises zeros.
    hinted(b, "zeros", handle, &bases[..1500], &[Fr::ZERO; 1500], 0)?;

    // A batch mixing widths and sub-ranges.
    let cols: Vec<(u32, usize, Vec<Fr>)> = WIDTHS
        .iter()
        .enumerate()
        .map(|(k, &bits)| {
            let n = 600 + 300 * k;
            (bits, 13 * k, column(rng, n, bits))
        })
        .collect();
    let jobs: Vec<MsmJob<'_>> = cols
        .iter()
        .map(|(bits, start, s)| MsmJob::new(handle, *start, s).with_scalar_bits(*bits))
        .collect();
    let got = b
        .msm_batch(&jobs)
        .map_err(|e| Failure(format!("batch of hinted MSMs: {e}")))?;
    for ((bits, start, s), sum) in cols.iter().zip(&got) {
        let want = oracle::ark_msm(&bases[*start..], s);
        ensure(*sum == want, || {
            format!("batched job of width {bits} at {start}: backend ≠ arkworks")
        })?;
    }
    b.release_bases(handle)
        .map_err(|e| Failure(format!("release failed: {e}")))
}

/// A hint that is wrong — a few scalars wider than it says — still gives the exact sum.
pub fn wrong_hints<B: Backend + ?Sized>(b: &mut B, rng: &mut impl Rng) -> Check {
    let n = 3000;
    let bases = oracle::points(rng, n);
    let handle = b
        .load_bases(&bases)
        .map_err(|e| Failure(format!("loading {n} bases: {e}")))?;
    for bits in [1, 8, 16, 64] {
        let mut s = column(rng, n, bits);
        // Just past the hint, both signs, and a few full-width values (blinding rows).
        let past = Fr::from(2u64).pow([u64::from(bits)]);
        s[5] = past;
        s[17] = -past;
        for x in &mut s[n - 6..] {
            *x = Fr::rand(rng);
        }
        hinted(b, "hint too narrow", handle, &bases, &s, bits)?;
    }
    b.release_bases(handle)
        .map_err(|e| Failure(format!("release failed: {e}")))
}
