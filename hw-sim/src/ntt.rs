//! The NTT engine: `B` radix-2 butterfly units over banked memory.
//!
//! Phases (cycles of each simulated; `docs/hw-sim.md` has the picture):
//! 1. **Prepare**, a dataflow graph on the `B` butterfly multipliers ([`crate::sched`]):
//!    inverses by Fermat chains (`ω⁻¹` for an inverse NTT, `g⁻¹` for an inverse coset NTT),
//!    the twiddle table `w^0 … w^{n/2−1}` and the scale factors (`g^j`, or `n⁻¹·g^{−j}`),
//!    each power table by repeated doubling (`x_{2^k + j} = x_j · r^{2^k}`), and for a forward
//!    coset NTT the pre-scaling `a_j ← a_j·g^j`. The twiddles of the last domain are cached.
//! 2. **Stages**: the input was written in bit-reversed order as it arrived (address
//!    generation, no cycles), so `log n` decimation-in-time stages run in place. Each cycle up
//!    to `B` butterflies issue in order, as long as their `2B` operands lie in distinct banks;
//!    the first that would collide waits for the next cycle (a bank conflict). A stage ends
//!    when its last butterfly has drained (`L_bf`), since the next stage reads its results.
//! 3. **Post-scaling** for an inverse NTT: `a_j ← a_j · n⁻¹·g^{−j}`, a graph of independent
//!    products. `n⁻¹` comes from a ROM of the 29 possible sizes.

use ark_bn254::Fr;
use ark_ff::{AdditiveGroup, Field, PrimeField};

use crate::{
    config::{BankMap, HwConfig},
    sched::{Dag, DagReport, NodeId},
};

/// Where an NTT's cycles went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NttReport {
    /// log2 of the size.
    pub log_n: u32,
    /// Inversions, twiddles, scale factors and pre-scaling.
    pub prepare: DagReport,
    /// Whether the twiddles came from the cache.
    pub twiddles_cached: bool,
    /// All butterfly stages, fills and drains included.
    pub stage_cycles: u64,
    /// What the stages take with no bank conflict: `log n · (⌈n/2B⌉ + L_bf)`.
    pub stage_ideal: u64,
    /// Cycles lost to bank conflicts (`stage_cycles − stage_ideal`).
    pub conflict_cycles: u64,
    /// Post-scaling.
    pub post: DagReport,
    /// Everything.
    pub total_cycles: u64,
}

/// Which NTT to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NttJob {
    /// log2 of the size.
    pub log_n: u32,
    /// The domain's generator.
    pub omega: Fr,
    /// Inverse rather than forward.
    pub inverse: bool,
    /// Coset generator, if any.
    pub coset: Option<Fr>,
}

#[derive(Clone, Copy, Debug)]
enum FieldOp {
    Mul,
    Square,
}

/// The engine keeps the last twiddle table, as the hardware keeps it in its twiddle memory.
#[derive(Default)]
pub struct NttEngine {
    cache: Option<((u32, Fr, bool), Vec<Fr>)>,
}

/// Adds `x^e` to the graph by left-to-right square-and-multiply; `e > 0`.
fn pow_chain(dag: &mut Dag<Fr, FieldOp>, x: NodeId, e: &[u64]) -> NodeId {
    let bits: Vec<bool> = {
        let mut b: Vec<bool> = e
            .iter()
            .flat_map(|limb| (0..64).map(move |i| (limb >> i) & 1 == 1))
            .collect();
        while b.last() == Some(&false) {
            b.pop();
        }
        b
    };
    let mut acc = x;
    for &bit in bits.iter().rev().skip(1) {
        acc = dag.op(FieldOp::Square, acc, None);
        if bit {
            acc = dag.op(FieldOp::Mul, acc, Some(x));
        }
    }
    acc
}

/// Adds `start·ratio^j` for `j < count` to the graph by doubling; returns the nodes.
fn powers(dag: &mut Dag<Fr, FieldOp>, start: NodeId, ratio: NodeId, count: usize) -> Vec<NodeId> {
    let mut out = Vec::with_capacity(count);
    if count == 0 {
        return out;
    }
    out.push(start);
    let mut step = ratio; // ratio^(2^k)
    while out.len() < count {
        let have = out.len();
        for j in 0..have.min(count - have) {
            let next = dag.op(FieldOp::Mul, out[j], Some(step));
            out.push(next);
        }
        if out.len() < count {
            step = dag.op(FieldOp::Square, step, None);
        }
    }
    out
}

fn eval(op: FieldOp, a: &Fr, b: Option<&Fr>) -> Fr {
    match op {
        FieldOp::Mul => *a * b.copied().unwrap_or(Fr::ONE),
        FieldOp::Square => a.square(),
    }
}

fn bank(map: BankMap, banks: usize, i: usize) -> usize {
    match map {
        BankMap::ParitySkew => 2 * (i % (banks / 2)) + (i.count_ones() as usize & 1),
        BankMap::Modulo => i % banks,
    }
}

fn bit_reverse(i: usize, log_n: u32) -> usize {
    if log_n == 0 {
        0
    } else {
        i.reverse_bits() >> (usize::BITS - log_n)
    }
}

impl NttEngine {
    /// Transforms `values` (natural order in and out) on the simulated engine.
    pub fn run(&mut self, config: &HwConfig, values: &mut [Fr], job: NttJob) -> NttReport {
        let log_n = job.log_n;
        let n = 1usize << log_n;
        debug_assert_eq!(values.len(), n);
        let units = config.butterflies;
        let mut report = NttReport {
            log_n,
            ..NttReport::default()
        };
        let p_minus_2 = {
            let mut e = Fr::MODULUS;
            e.0[0] -= 2; // r is odd and > 2: no borrow
            e.0
        };

        // --- Prepare ---
        let mut dag: Dag<Fr, FieldOp> = Dag::with_capacity(3 * n + 1024);
        // Keyed by the root given and the direction: an inverse NTT's table holds powers of ω⁻¹.
        let key = (log_n, job.omega, job.inverse);
        let cached = self.cache.as_ref().filter(|(k, _)| *k == key);
        let twiddle_nodes = if cached.is_some() {
            report.twiddles_cached = true;
            None
        } else {
            let omega = dag.input(job.omega);
            let root = if job.inverse {
                pow_chain(&mut dag, omega, &p_minus_2)
            } else {
                omega
            };
            let one = dag.input(Fr::ONE);
            Some(powers(&mut dag, one, root, n / 2))
        };
        let scale_start = if job.inverse {
            Some(Fr::from(n as u64).inverse().unwrap_or(Fr::ONE))
        } else {
            job.coset.map(|_| Fr::ONE)
        };
        let scale_nodes = scale_start.map(|s| {
            let start = dag.input(s);
            match job.coset {
                Some(g) => {
                    let g = dag.input(g);
                    let ratio = if job.inverse {
                        pow_chain(&mut dag, g, &p_minus_2)
                    } else {
                        g
                    };
                    powers(&mut dag, start, ratio, n)
                }
                None => vec![start; n],
            }
        });
        // Forward coset: scale the input now; it then goes to memory bit-reversed.
        let pre_scaled: Option<Vec<NodeId>> = match (&scale_nodes, job.inverse) {
            (Some(s), false) => Some(
                values
                    .iter()
                    .zip(s)
                    .map(|(v, &f)| {
                        let v = dag.input(*v);
                        dag.op(FieldOp::Mul, v, Some(f))
                    })
                    .collect(),
            ),
            _ => None,
        };
        let (prep_values, prepare) = dag.run(units, config.mul_latency, eval);
        report.prepare = prepare;
        let twiddles: Vec<Fr> = match (twiddle_nodes, cached) {
            (Some(nodes), _) => nodes.iter().map(|&i| prep_values[i as usize]).collect(),
            (None, Some((_, t))) => t.clone(),
            (None, None) => Vec::new(),
        };
        if !report.twiddles_cached {
            self.cache = Some((key, twiddles.clone()));
        }
        let scales: Option<Vec<Fr>> = scale_nodes
            .as_ref()
            .map(|s| s.iter().map(|&i| prep_values[i as usize]).collect());
        if let Some(nodes) = pre_scaled {
            for (v, i) in values.iter_mut().zip(nodes) {
                *v = prep_values[i as usize];
            }
        }
        drop(prep_values);

        // --- Stages ---
        let mut mem = vec![Fr::ZERO; n];
        for (i, v) in values.iter().enumerate() {
            mem[bit_reverse(i, log_n)] = *v;
        }
        let banks = config.ntt_banks as usize;
        let drain = u64::from(config.butterfly_latency());
        let per_stage_ideal = (n as u64 / 2).div_ceil(u64::from(units)) + drain;
        let mut used = vec![false; banks];
        for s in 0..log_n {
            let half = 1usize << s;
            let stride = n / (2 * half);
            let mut k = 0usize;
            let mut cycles = 0u64;
            while k < n / 2 {
                used.iter_mut().for_each(|u| *u = false);
                let mut issued = 0;
                while k < n / 2 && issued < units {
                    let (block, j) = (k / half, k % half);
                    let i0 = block * 2 * half + j;
                    let i1 = i0 + half;
                    let (b0, b1) = (
                        bank(config.bank_map, banks, i0),
                        bank(config.bank_map, banks, i1),
                    );
                    if b0 == b1 {
                        if issued > 0 {
                            break;
                        }
                        // Both operands in one bank: two reads, two cycles, alone.
                        cycles += 1;
                    } else if used[b0] || used[b1] {
                        break;
                    }
                    used[b0] = true;
                    used[b1] = true;
                    let t = twiddles[j * stride] * mem[i1];
                    let a = mem[i0];
                    mem[i0] = a + t;
                    mem[i1] = a - t;
                    issued += 1;
                    k += 1;
                    if b0 == b1 {
                        break;
                    }
                }
                cycles += 1;
            }
            report.stage_cycles += cycles + drain;
            report.stage_ideal += per_stage_ideal;
        }
        report.conflict_cycles = report.stage_cycles - report.stage_ideal;

        // --- Post-scaling ---
        match (scales, job.inverse) {
            (Some(scales), true) => {
                let mut dag: Dag<Fr, FieldOp> = Dag::with_capacity(3 * n);
                let outs: Vec<NodeId> = mem
                    .iter()
                    .zip(&scales)
                    .map(|(v, f)| {
                        let v = dag.input(*v);
                        let f = dag.input(*f);
                        dag.op(FieldOp::Mul, v, Some(f))
                    })
                    .collect();
                let (vals, post) = dag.run(units, config.mul_latency, eval);
                report.post = post;
                for (dst, i) in values.iter_mut().zip(outs) {
                    *dst = vals[i as usize];
                }
            }
            _ => values.copy_from_slice(&mem),
        }
        report.total_cycles = report.prepare.cycles + report.stage_cycles + report.post.cycles;
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::{FftField, UniformRand};
    use rand::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    /// The quadratic definition, independent of any butterfly code.
    fn naive(a: &[Fr], omega: Fr, g: Fr) -> Vec<Fr> {
        let n = a.len();
        (0..n)
            .map(|i| {
                let x = g * omega.pow([i as u64]);
                let mut acc = Fr::ZERO;
                let mut xp = Fr::ONE;
                for c in a {
                    acc += *c * xp;
                    xp *= x;
                }
                acc
            })
            .collect()
    }

    fn job(log_n: u32, inverse: bool, coset: Option<Fr>) -> NttJob {
        NttJob {
            log_n,
            omega: Fr::get_root_of_unity(1 << log_n).expect("two-adic"),
            inverse,
            coset,
        }
    }

    #[test]
    fn forward_inverse_and_cosets_match_the_definition() {
        let rng = &mut ChaCha20Rng::seed_from_u64(9);
        let mut engine = NttEngine::default();
        for config in [
            HwConfig::default(),
            HwConfig {
                butterflies: 3,
                ntt_banks: 4,
                bank_map: BankMap::Modulo,
                mul_latency: 1,
                ..HwConfig::default()
            },
        ] {
            for log_n in 0..=6 {
                let a: Vec<Fr> = (0..1 << log_n).map(|_| Fr::rand(rng)).collect();
                let g = Fr::rand(rng);
                for coset in [None, Some(g)] {
                    let j = job(log_n, false, coset);
                    let mut v = a.clone();
                    engine.run(&config, &mut v, j);
                    assert_eq!(v, naive(&a, j.omega, coset.unwrap_or(Fr::ONE)), "2^{log_n}");
                    engine.run(&config, &mut v, NttJob { inverse: true, ..j });
                    assert_eq!(v, a, "inverse, 2^{log_n}");
                }
            }
        }
    }

    #[test]
    fn parity_skew_has_no_conflicts_and_modulo_does() {
        let mut engine = NttEngine::default();
        let log_n = 10;
        let a = vec![Fr::from(3u64); 1 << log_n];
        for b in [1, 2, 4, 8] {
            let config = HwConfig {
                butterflies: b,
                ntt_banks: 2 * b,
                ..HwConfig::default()
            };
            let mut v = a.clone();
            let r = engine.run(&config, &mut v, job(log_n, false, None));
            assert_eq!(r.conflict_cycles, 0, "B = {b}");
            let per = (512u64).div_ceil(u64::from(b)) + u64::from(config.butterfly_latency());
            assert_eq!(r.stage_cycles, 10 * per);
            let modulo = HwConfig {
                bank_map: BankMap::Modulo,
                ..config
            };
            let mut w = a.clone();
            let r = engine.run(&modulo, &mut w, job(log_n, false, None));
            assert!(r.conflict_cycles > 0, "modulo banks, B = {b}");
            if b == 1 {
                // Two banks, `i mod 2`: stage 0 pairs (2j, 2j+1) never collide; from stage 1 on
                // both operands of every butterfly sit in one bank, two cycles each.
                let drain = u64::from(config.butterfly_latency());
                assert_eq!(r.stage_cycles, (512 + drain) + 9 * (1024 + drain));
            }
            assert_eq!(v, w);
        }
    }

    #[test]
    fn twiddles_are_cached_per_root() {
        let mut engine = NttEngine::default();
        let config = HwConfig::default();
        let mut v = vec![Fr::ONE; 256];
        let first = engine.run(&config, &mut v, job(8, false, None));
        let again = engine.run(&config, &mut v, job(8, false, None));
        assert!(!first.twiddles_cached && again.twiddles_cached);
        assert!(again.prepare.cycles < first.prepare.cycles);
        let inv = engine.run(&config, &mut v, job(8, true, None));
        assert!(!inv.twiddles_cached);
    }
}
