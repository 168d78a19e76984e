//! Deliberately broken backends, to show that the suite catches real bugs.

use accel_backends::{
    Backend, BackendError, BasesHandle, Capabilities, Counters, Domain, Fr, G1Affine, G1Projective,
    MsmJob, NttDirection, NttOp,
};
use ark_ec::PrimeGroup;
use ark_ff::Field;

/// The bug a [`Faulty`] backend has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Every MSM comes out one generator too large.
    MsmPlusGenerator,
    /// MSMs of more than the given number of terms come out one generator too large.
    MsmWrongAbove(usize),
    /// MSMs ignore their start offset into the bases.
    MsmIgnoresStart,
    /// Forward NTTs run a textbook radix-2 that skips the first butterfly of its last stage.
    NttSkipsButterfly,
    /// Forward NTTs leave their output in bit-reversed order.
    NttBitReversed,
    /// Coset NTTs forget the coset.
    NttIgnoresCoset,
}

/// A backend that wraps a correct one and adds one [`Fault`].
pub struct Faulty<B> {
    inner: B,
    fault: Fault,
}

impl<B: Backend> Faulty<B> {
    /// `inner` with `fault`.
    pub fn new(inner: B, fault: Fault) -> Self {
        Self { inner, fault }
    }
}

impl<B: Backend> Backend for Faulty<B> {
    fn name(&self) -> &str {
        "faulty"
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn counters(&self) -> &Counters {
        self.inner.counters()
    }

    fn counters_mut(&mut self) -> &mut Counters {
        self.inner.counters_mut()
    }

    fn bases_len(&self, handle: BasesHandle) -> Option<usize> {
        self.inner.bases_len(handle)
    }

    fn load_bases_unchecked(&mut self, bases: &[G1Affine]) -> Result<BasesHandle, BackendError> {
        self.inner.load_bases_unchecked(bases)
    }

    fn release_bases(&mut self, handle: BasesHandle) -> Result<(), BackendError> {
        self.inner.release_bases(handle)
    }

    fn msm_unchecked(&mut self, job: &MsmJob<'_>) -> Result<G1Projective, BackendError> {
        let g = G1Projective::generator();
        match self.fault {
            Fault::MsmPlusGenerator => Ok(self.inner.msm_unchecked(job)? + g),
            Fault::MsmWrongAbove(n) if job.scalars.len() > n => {
                Ok(self.inner.msm_unchecked(job)? + g)
            }
            Fault::MsmIgnoresStart => self.inner.msm_unchecked(&MsmJob { start: 0, ..*job }),
            _ => self.inner.msm_unchecked(job),
        }
    }

    fn ntt_unchecked(
        &mut self,
        values: &mut [Fr],
        domain: &Domain,
        op: NttOp,
    ) -> Result<(), BackendError> {
        let forward = op.direction == NttDirection::Forward;
        match self.fault {
            Fault::NttSkipsButterfly if forward && op.coset.is_none() => {
                textbook_ntt_missing_a_butterfly(values, domain.omega());
                Ok(())
            }
            Fault::NttBitReversed if forward => {
                self.inner.ntt_unchecked(values, domain, op)?;
                bit_reverse(values);
                Ok(())
            }
            Fault::NttIgnoresCoset => {
                self.inner
                    .ntt_unchecked(values, domain, NttOp { coset: None, ..op })
            }
            _ => self.inner.ntt_unchecked(values, domain, op),
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
