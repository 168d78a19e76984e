//! ICICLE's NTT domain: one global table of twiddles per device, shared by every backend in
//! the process.
//!
//! ICICLE keeps a single domain per device, built from one primitive root of unity, and
//! silently ignores a second `initialize_domain`. So zkedge always initialises it with
//! **halo2's** root for the largest size in use (`Domain::with_halo2_root`), and releases and
//! re-initialises it only when a larger size appears. An NTT of size `2^k` then runs over
//! halo2's `ω_k`, the `2^(m-k)`-th power of the domain's root.
//!
//! A caller may name another root (arkworks' comes from the generator 5, halo2's from 7). Both
//! generate the same subgroup, so the caller's `ω = ω_k^j` for an odd `j`, found by a discrete
//! logarithm in the 2-group, and the caller's transform is ICICLE's with its outputs (forward)
//! or inputs (inverse) permuted by `i ↦ i·j mod n`.
//!
//! Every NTT holds the process-wide lock for its whole run, so no other thread can swap the
//! domain under it.

use std::sync::{Mutex, MutexGuard};

use accel_backends::{BackendError, Domain, Fr, Op};
use ark_ff::Field;
use icicle_bn254::curve::ScalarField as IcicleFr;
use icicle_core::ntt::{self, NTTInitDomainConfig};
use icicle_runtime::Device;

use crate::{convert, error};

/// What is initialised on one device.
struct Slot {
    kind: String,
    id: i32,
    /// log2 of the size the domain was built for; `None` if unknown (never set by us).
    log_n: Option<u32>,
}

static DOMAINS: Mutex<Vec<Slot>> = Mutex::new(Vec::new());

/// Held while an NTT runs: the device's domain covers the size asked for.
pub(crate) struct DomainLock {
    _guard: MutexGuard<'static, Vec<Slot>>,
}

/// Locks ICICLE's domains and makes sure `device`'s (already active on this thread) covers
/// `2^log_n` with halo2's roots.
pub(crate) fn lock(device: &Device, log_n: u32) -> Result<DomainLock, BackendError> {
    // A panic while the lock was held may have left a domain half-built: forget what we knew,
    // so that the next use releases and rebuilds it.
    let mut slots = DOMAINS.lock().unwrap_or_else(|poisoned| {
        let mut slots = poisoned.into_inner();
        slots.clear();
        slots
    });
    let kind = device.get_device_type();
    let index = match slots
        .iter()
        .position(|s| s.kind == kind && s.id == device.id)
    {
        Some(i) => i,
        None => {
            slots.push(Slot {
                kind,
                id: device.id,
                log_n: None,
            });
            slots.len() - 1
        }
    };
    let slot = &mut slots[index];
    if slot.log_n.is_none_or(|have| have < log_n) {
        let size = 1usize << log_n;
        // Unknown or too small: release whatever is there (a release of nothing may fail;
        // that is fine), then build the domain for this size.
        let released = ntt::release_domain::<IcicleFr>();
        if slot.log_n.is_some() {
            released.map_err(|e| error::map(e, Op::Ntt, size))?;
        }
        slot.log_n = None;
        let root = Domain::with_halo2_root(log_n)?.omega();
        ntt::initialize_domain(
            convert::scalar_canonical(root),
            &NTTInitDomainConfig::default(),
        )
        .map_err(|e| error::map(e, Op::Ntt, size))?;
        tracing::debug!(target: "accel_icicle", "ICICLE NTT domain on {device:?}: 2^{log_n}");
        slot.log_n = Some(log_n);
    }
    Ok(DomainLock { _guard: slots })
}

/// The `j` with `ω = base^j`, where `base` has order `2^log_n`; `None` if `ω` is not in the
/// group `base` generates. Pohlig–Hellman for a 2-group: one bit of `j` per step.
pub(crate) fn exponent(base: Fr, omega: Fr, log_n: u32) -> Option<u64> {
    if log_n >= 64 {
        return None;
    }
    let mut j = 0u64;
    // gamma = ω · base^(-j so far); inv_pow = base^(-2^t).
    let mut gamma = omega;
    let mut inv_pow = base.inverse()?;
    for t in 0..log_n {
        let mut x = gamma;
        for _ in 0..(log_n - 1 - t) {
            x.square_in_place();
        }
        if x == -Fr::ONE {
            j |= 1 << t;
            gamma *= inv_pow;
        } else if x != Fr::ONE {
            return None;
        }
        inv_pow.square_in_place();
    }
    (gamma == Fr::ONE).then_some(j)
}

/// How the caller's root relates to halo2's for a domain: the identity, or a permutation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reorder {
    /// The caller's root is halo2's: ICICLE's order is the caller's.
    None,
    /// The caller's `ω = ω_halo2^j`.
    Power(u64),
}

impl Reorder {
    /// How `domain`'s root relates to halo2's root of the same size.
    pub(crate) fn for_domain(domain: &Domain) -> Result<Self, BackendError> {
        let log_n = domain.log_n();
        let halo2 = Domain::with_halo2_root(log_n)?.omega();
        if domain.omega() == halo2 {
            return Ok(Self::None);
        }
        exponent(halo2, domain.omega(), log_n)
            .map(Self::Power)
            .ok_or(BackendError::InvalidRoot { log_n })
    }
}

/// `i·j mod n` for `n` a power of two (`mask = n - 1`).
pub(crate) fn permuted(i: usize, j: u64, mask: u64) -> usize {
    // n divides 2^64, so reducing the wrapped product mod n is exact; the result is < n.
    ((i as u64).wrapping_mul(j) & mask) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::UniformRand;
    use rand::SeedableRng;

    #[test]
    fn discrete_log_finds_the_power() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
        for log_n in 0..=20u32 {
            let base = Domain::with_halo2_root(log_n).unwrap().omega();
            let n = 1u64 << log_n;
            for _ in 0..5 {
                let j = u64::rand(&mut rng) % n.max(1);
                let omega = base.pow([j]);
                assert_eq!(exponent(base, omega, log_n), Some(j), "2^{log_n}, j = {j}");
            }
            // arkworks' root: an odd power of halo2's.
            let ark = Domain::with_default_root(log_n).unwrap().omega();
            let j = exponent(base, ark, log_n).unwrap();
            assert_eq!(base.pow([j]), ark);
            assert!(log_n == 0 || j % 2 == 1);
        }
        // Not in the group: a root of order 2^5 against a base of order 2^4.
        let base = Domain::with_halo2_root(4).unwrap().omega();
        let outside = Domain::with_halo2_root(5).unwrap().omega();
        assert_eq!(exponent(base, outside, 4), None);
        assert_eq!(exponent(base, Fr::from(3u64), 4), None);
    }

    #[test]
    fn permutation_is_a_bijection_for_odd_powers() {
        let n = 1usize << 10;
        for j in [1u64, 3, 5, 1023, 0xdead_beef_dead_beef | 1] {
            let mut seen = vec![false; n];
            for i in 0..n {
                seen[permuted(i, j, n as u64 - 1)] = true;
            }
            assert!(seen.iter().all(|s| *s), "j = {j}");
        }
    }
}
