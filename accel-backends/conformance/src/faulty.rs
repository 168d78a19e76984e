//! Deliberately broken backends, to show that the suite catches real bugs.

use accel_backends::{
    BackendError, BackendHooks, BasesConfig, Capabilities, Checked, Domain, Fr, G1Affine,
    G1Projective, Meter, MsmJob, NttDirection, NttOp,
};
use ark_ec::PrimeGroup;
use ark_ff::{AdditiveGroup, BigInteger, Field, PrimeField};

/// The bug a [`Faulty`] backend has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Every MSM comes out one generator too large.
    MsmPlusGenerator,
    /// MSMs of more than the given number of terms come out one generator too large.
    MsmWrongAbove(usize),
    /// MSMs ignore their start offset into the bases.
    MsmIgnoresStart,
    /// MSMs with a width hint read each scalar as an unsigned integer of that many bits (its
    /// low bits), as a small-scalar path that forgets negative values would.
    MsmWidthUnsigned,
    /// MSMs with a width hint drop each scalar's top bit within the hint (windows one bit
    /// short), so `2^w − 1` and its negative come out wrong.
    MsmWidthOneBitShort,
    /// MSMs with a width hint trust it: a scalar wider than the hint loses its high bits.
    MsmWidthTrusted,
    /// Forward NTTs run a textbook radix-2 that skips the first butterfly of its last stage.
    NttSkipsButterfly,
    /// Forward NTTs leave their output in bit-reversed order.
    NttBitReversed,
    /// Coset NTTs forget the coset.
    NttIgnoresCoset,
}

/// A backend's hooks that wrap correct ones and add one [`Fault`].
pub struct Faulty<H> {
    inner: H,
    fault: Fault,
}

impl<H: BackendHooks> Faulty<H> {
    /// `inner` with `fault`, behind the checked front like any backend.
    pub fn new(inner: H, fault: Fault) -> Checked<Self> {
        Checked::from_hooks(Self { inner, fault })
    }
}

/// The low `bits` bits of `s`'s canonical integer, as a scalar.
fn low_bits(s: &Fr, bits: u32) -> Fr {
    let bools = s.into_bigint().to_bits_le();
    let mut out = Fr::ZERO;
    for &b in bools.iter().take(bits as usize).rev() {
        out.double_in_place();
        if b {
            out += Fr::ONE;
        }
    }
    out
}

/// `s` with its magnitude cut to `bits` bits, sign kept.
fn signed_low_bits(s: &Fr, bits: u32) -> Fr {
    let (neg, _) = accel_backends::width::signed(s);
    let m = low_bits(&if neg { -*s } else { *s }, bits);
    if neg {
        -m
    } else {
        m
    }
}

impl<H: BackendHooks> BackendHooks for Faulty<H> {
    fn name(&self) -> &str {
        "faulty"
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn bases_len(&self, id: u32) -> Option<usize> {
        self.inner.bases_len(id)
    }

    fn load_bases_unchecked(
        &mut self,
        bases: &[G1Affine],
        config: BasesConfig,
        meter: &mut Meter,
    ) -> Result<u32, BackendError> {
        self.inner.load_bases_unchecked(bases, config, meter)
    }

    fn release_bases_unchecked(&mut self, id: u32, meter: &mut Meter) -> Result<(), BackendError> {
        self.inner.release_bases_unchecked(id, meter)
    }

    fn msm_unchecked(
        &mut self,
        job: &MsmJob<'_>,
        meter: &mut Meter,
    ) -> Result<G1Projective, BackendError> {
        let g = G1Projective::generator();
        let narrowed = |f: &dyn Fn(&Fr) -> Fr| -> Vec<Fr> { job.scalars.iter().map(f).collect() };
        let bits = job.scalar_bits;
        match self.fault {
            Fault::MsmPlusGenerator => Ok(self.inner.msm_unchecked(job, meter)? + g),
            Fault::MsmWrongAbove(n) if job.scalars.len() > n => {
                Ok(self.inner.msm_unchecked(job, meter)? + g)
            }
            Fault::MsmIgnoresStart => self
                .inner
                .msm_unchecked(&MsmJob { start: 0, ..*job }, meter),
            Fault::MsmWidthUnsigned if job.is_narrow() => {
                let s = narrowed(&|s| low_bits(s, bits));
                self.inner
                    .msm_unchecked(&MsmJob::new(job.bases, job.start, &s), meter)
            }
            Fault::MsmWidthOneBitShort if job.is_narrow() => {
                let s = narrowed(&|s| signed_low_bits(s, bits.saturating_sub(1)));
                self.inner
                    .msm_unchecked(&MsmJob::new(job.bases, job.start, &s), meter)
            }
            Fault::MsmWidthTrusted if job.is_narrow() => {
                let s = narrowed(&|s| signed_low_bits(s, bits));
                self.inner
                    .msm_unchecked(&MsmJob::new(job.bases, job.start, &s), meter)
            }
            _ => self.inner.msm_unchecked(job, meter),
        }
    }

    fn ntt_unchecked(
        &mut self,
        values: &mut [Fr],
        domain: &Domain,
        op: NttOp,
        meter: &mut Meter,
    ) -> Result<(), BackendError> {
        let forward = op.direction == NttDirection::Forward;
        match self.fault {
            Fault::NttSkipsButterfly if forward && op.coset.is_none() => {
                textbook_ntt_missing_a_butterfly(values, domain.omega());
                Ok(())
            }
            Fault::NttBitReversed if forward => {
                self.inner.ntt_unchecked(values, domain, op, meter)?;
                bit_reverse(values);
                Ok(())
            }
            Fault::NttIgnoresCoset => {
                self.inner
                    .ntt_unchecked(values, domain, NttOp { coset: None, ..op }, meter)
            }
            _ => self.inner.ntt_unchecked(values, domain, op, meter),
        }
    }
}

fn bit_reverse(a: &mut [Fr]) {
    let n = a.len();
    if n < 4 {
        return;
    }
    let shift = usize::BITS - n.trailing_zeros();
    for i in 0..n {
        let j = i.reverse_bits() >> shift;
        if i < j {
            a.swap(i, j);
        }
    }
}

/// Cooley–Tukey decimation in time, bit-reversed input, natural output — with the first
/// butterfly of the last stage skipped.
fn textbook_ntt_missing_a_butterfly(a: &mut [Fr], omega: Fr) {
    let n = a.len();
    bit_reverse(a);
    let mut len = 2;
    while len <= n {
        let w_len = omega.pow([(n / len) as u64]);
        for start in (0..n).step_by(len) {
            let mut w = Fr::ONE;
            for j in 0..len / 2 {
                let skip = len == n && start == 0 && j == 0;
                if !skip {
                    let u = a[start + j];
                    let v = a[start + j + len / 2] * w;
                    a[start + j] = u + v;
                    a[start + j + len / 2] = u - v;
                }
                w *= w_len;
            }
        }
        len *= 2;
    }
}
