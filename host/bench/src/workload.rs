//! Inputs (seeded, so every backend gets the same ones and `--seed` repeats a run) and the
//! bytes a job would put on a wire-protocol link.

use accel_backends::{
    wire::{loopback::Loopback, Client, ClientConfig, ServeConfig, Server, WireBackend},
    Backend, BasesHandle, Checked, CpuBackend, Domain, Fr, G1Affine, G1Projective, NttOp,
};
use ark_ec::{CurveGroup, PrimeGroup, ScalarMul};
use ark_ff::UniformRand;
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::OpKind;

/// The random source for one purpose (`stream`) of a run.
fn rng(seed: u64, stream: u64) -> ChaCha20Rng {
    let mut r = ChaCha20Rng::seed_from_u64(seed);
    r.set_stream(stream);
    r
}

/// `n` random points of G1 (random multiples of the generator).
pub(super) fn bases(seed: u64, n: usize) -> Vec<G1Affine> {
    let mut r = rng(seed, 1);
    let k: Vec<Fr> = (0..n).map(|_| Fr::rand(&mut r)).collect();
    G1Projective::generator().batch_mul(&k)
}

/// `2^log_n` random field elements for an operation of that size.
pub(super) fn scalars(seed: u64, op: OpKind, log_n: u32) -> Vec<Fr> {
    let stream = 2 + u64::from(log_n) * 2 + u64::from(op == OpKind::Ntt);
    let mut r = rng(seed, stream);
    (0..1usize << log_n).map(|_| Fr::rand(&mut r)).collect()
}

/// The coset generator the agreement check uses for coset NTTs.
pub(super) fn coset_generator() -> Fr {
    Fr::from(7u64)
}

/// The bytes one job puts on a wire link, counted where they cross it: the very client every
/// link uses ([`WireBackend`]) sends the job to the real wire server (over the CPU backend) on
/// an in-process [`Loopback`] line, and the line counts both directions. Bases are loaded on
/// the server beforehand and not counted (they cross once per SRS, not per job).
fn wire_bytes(
    bases_len: usize,
    job: impl FnOnce(&mut Checked<WireBackend<Loopback<CpuBackend>>>, BasesHandle),
) -> u64 {
    let mut cpu = CpuBackend::new();
    let g = G1Projective::generator().into_affine();
    let Ok(raw) = cpu.load_bases(&vec![g; bases_len]) else {
        return 0;
    };
    let line = Loopback::new(Server::new(cpu, ServeConfig::default()));
    let mut wire = WireBackend::new(Client::new(line, ClientConfig::default()), "count");
    if wire.connect(1).is_err() {
        return 0;
    }
    wire.adopt_bases(raw.id(), bases_len);
    let mut wire = wire.checked();
    let Some(handle) = wire.handle_for(raw.id()) else {
        return 0;
    };
    let before = wire.client_ref().stats();
    job(&mut wire, handle);
    let after = wire.client_ref().stats();
    (after.tx_bytes + after.rx_bytes) - (before.tx_bytes + before.rx_bytes)
}

/// Bytes on the line, both directions, for one MSM of `scalars`: `MsmBegin`, the scalar
/// chunks, `MsmEnd` and their replies, as the wire client frames them.
pub fn msm_wire_bytes(scalars: &[Fr]) -> u64 {
    wire_bytes(scalars.len(), |wire, h| {
        let _ = wire.msm(h, 0, scalars);
    })
}

/// Bytes on the line, both directions, for one NTT of `input`: `NttBegin`, the input chunks,
/// `NttRun`, the `NttRead`s of the results and their replies.
pub fn ntt_wire_bytes(input: &[Fr], domain: &Domain, op: NttOp) -> u64 {
    wire_bytes(0, |wire, _| {
        let mut values = input.to_vec();
        let _ = wire.ntt(&mut values, domain, op);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_bytes_match_the_measured_overhead() {
        // docs/protocol.md measures 32.25 bytes per scalar for an MSM of 2^12 and 64.51 bytes
        // per value for an NTT of 2^12 over a real pty.
        let s = scalars(1, OpKind::Msm, 12);
        let per = msm_wire_bytes(&s) as f64 / 4096.0;
        assert!((per - 32.25).abs() < 0.1, "{per}");
        let d = Domain::with_halo2_root(12).unwrap();
        let per = ntt_wire_bytes(&s, &d, NttOp::forward()) as f64 / 4096.0;
        assert!((per - 64.51).abs() < 0.2, "{per}");
        assert_eq!(scalars(1, OpKind::Msm, 3), scalars(1, OpKind::Msm, 3));
        assert_ne!(
            scalars(1, OpKind::Msm, 3)[..],
            scalars(1, OpKind::Ntt, 3)[..]
        );
    }
}
