//! The vanishing argument's quotient `h(X) = (Σ yⁱ·Cᵢ(X)) / (Xⁿ − 1)`.
//!
//! The constraints `Cᵢ` are, in the verifier's order: every gate polynomial; the permutation's
//! first-row, last-row, chunk-linking and product constraints; five per lookup. They are
//! evaluated on the extended domain `ζ·⟨ω_ext⟩` one coset `ζ·ω_extʲ·⟨ω⟩` at a time (each a
//! size-`n` coset NTT per polynomial on the backend), interleaved, divided by `Xⁿ − 1` and brought
//! back to coefficients with one size-`N` coset NTT.
//!
//! Within a coset the constraints are evaluated in *stages* (a gate, the permutation's boundary
//! constraints, one permutation chunk, one lookup), each over all rows, adding
//! `y^(#constraints after it) · (its own Horner sum)` into the coset's values. Field arithmetic
//! is exact, so the stages may run in any order and give the same values; [`Plan`] picks an
//! order in which few polynomials must be held in coset form at once, evaluates a polynomial's
//! coset when a stage first needs it and drops it after the last stage that reads it.

use alloc::{vec, vec::Vec};

use accel_backends::{Backend, NttOp};
use ark_ff::{batch_inversion, AdditiveGroup, Field};

use super::{
    lookup::rotated, par, progress::Tracker, ColumnKind, Fr, Op, Phase, Prepared, ProveError,
    ProvingKey,
};

/// The polynomials of one proof, in coefficient form.
pub(super) struct Polys<'a> {
    pub advice: &'a [Vec<Fr>],
    pub instance: &'a [Vec<Fr>],
    /// A′, S′ and the product z of each lookup, in that order.
    pub lookups: &'a [Vec<Fr>],
    /// The grand product of each permutation chunk.
    pub permutation: &'a [Vec<Fr>],
}

pub(super) struct Challenges {
    pub theta: Fr,
    pub beta: Fr,
    pub gamma: Fr,
    pub y: Fr,
}

/// A polynomial whose coset evaluations some constraint reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Fixed(usize),
    Advice(usize),
    Instance(usize),
    /// σ of the i-th permutation column.
    Sigma(usize),
    /// l_0, l_last, l_active.
    Selector(usize),
    /// The grand product of permutation chunk i.
    PermZ(usize),
    /// A′, S′, z of lookup i at 3i, 3i + 1, 3i + 2.
    Lookup(usize),
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Gate(usize),
    /// First-row, last-row and chunk-linking constraints.
    PermutationBoundary,
    PermutationChunk(usize),
    Lookup(usize),
}

struct Stage {
    kind: Kind,
    /// Its first constraint's index in the verifier's order, and how many it has.
    first: usize,
    count: usize,
    /// Sorted, each once.
    sources: Vec<Source>,
}

/// The stages of a key's constraints and the order to evaluate them in.
pub(super) struct Plan {
    stages: Vec<Stage>,
    /// Per stage, in evaluation order: the stage, the sources to evaluate before it and those
    /// to drop after it.
    order: Vec<(usize, Vec<Source>, Vec<Source>)>,
    constraints: usize,
    parts: usize,
    peak: usize,
}

fn sources_of(e: &super::Expression, key: &ProvingKey, out: &mut Vec<Source>) {
    for op in e.ops() {
        match *op {
            Op::Fixed(q) => out.push(Source::Fixed(key.fixed_queries[q].0)),
            Op::Advice(q) => out.push(Source::Advice(key.advice_queries[q].0)),
            Op::Instance(q) => out.push(Source::Instance(key.instance_queries[q].0)),
            _ => {}
        }
    }
}

fn column_source(c: &super::Column) -> Source {
    let i = c.index as usize;
    match c.kind {
        ColumnKind::Advice => Source::Advice(i),
        ColumnKind::Fixed => Source::Fixed(i),
        ColumnKind::Instance => Source::Instance(i),
    }
}

/// Sorted union.
fn union(a: &[Source], b: &[Source]) -> Vec<Source> {
    let mut out: Vec<Source> = a.iter().chain(b).copied().collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The largest number of sources live at once when the stages run in `order`, with the
/// evaluate/drop lists that achieve it.
#[allow(clippy::type_complexity)]
fn simulate(stages: &[Stage], order: &[usize]) -> (usize, Vec<(usize, Vec<Source>, Vec<Source>)>) {
    let mut live: Vec<Source> = Vec::new();
    let mut peak = 0;
    let mut out = Vec::with_capacity(order.len());
    for (t, &s) in order.iter().enumerate() {
        let needed = &stages[s].sources;
        let acquire: Vec<Source> = needed
            .iter()
            .filter(|x| live.binary_search(x).is_err())
            .copied()
            .collect();
        live = union(&live, needed);
        peak = peak.max(live.len());
        let later = |x: &Source| {
            order[t + 1..]
                .iter()
                .any(|&u| stages[u].sources.binary_search(x).is_ok())
        };
        let release: Vec<Source> = live.iter().filter(|x| !later(x)).copied().collect();
        live.retain(|x| later(x));
        out.push((s, acquire, release));
    }
    (peak, out)
}

/// Greedy: next, the stage that leaves the fewest sources live, ties to the one that lets the
/// most go, then to the verifier's order.
fn greedy(stages: &[Stage]) -> Vec<usize> {
    let mut remaining: Vec<usize> = (0..stages.len()).collect();
    let mut live: Vec<Source> = Vec::new();
    let mut order = Vec::with_capacity(stages.len());
    while !remaining.is_empty() {
        let mut best: Option<(usize, usize, usize)> = None;
        for (pos, &s) in remaining.iter().enumerate() {
            let after = union(&live, &stages[s].sources);
            let kept = after
                .iter()
                .filter(|x| {
                    remaining
                        .iter()
                        .any(|&u| u != s && stages[u].sources.binary_search(x).is_ok())
                })
                .count();
            let score = (after.len(), kept);
            if best.is_none_or(|(_, size, k)| score < (size, k)) {
                best = Some((pos, score.0, score.1));
            }
        }
        let Some((pos, _, _)) = best else { break };
        let s = remaining.remove(pos);
        live = union(&live, &stages[s].sources);
        live.retain(|x| {
            remaining
                .iter()
                .any(|&u| stages[u].sources.binary_search(x).is_ok())
        });
        order.push(s);
    }
    order
}

impl Plan {
    pub(super) fn new(key: &ProvingKey) -> Self {
        let mut stages = Vec::new();
        let mut next = 0;
        let mut add = |kind: Kind, count: usize, mut sources: Vec<Source>| {
            sources.sort_unstable();
            sources.dedup();
            stages.push(Stage {
                kind,
                first: next,
                count,
                sources,
            });
            next += count;
        };
        for (i, gate) in key.gates.iter().enumerate() {
            let mut s = Vec::new();
            sources_of(gate, key, &mut s);
            add(Kind::Gate(i), 1, s);
        }
        let chunk = key.chunk_len();
        let sets = key.permutation.len().div_ceil(chunk);
        if sets > 0 {
            let mut s: Vec<Source> = (0..sets).map(Source::PermZ).collect();
            s.extend([Source::Selector(0), Source::Selector(1)]);
            add(Kind::PermutationBoundary, 2 + sets - 1, s);
            for (c, columns) in key.permutation.chunks(chunk).enumerate() {
                let mut s: Vec<Source> = columns.iter().map(column_source).collect();
                s.extend((0..columns.len()).map(|j| Source::Sigma(c * chunk + j)));
                s.extend([Source::PermZ(c), Source::Selector(2)]);
                add(Kind::PermutationChunk(c), 1, s);
            }
        }
        for (l, lookup) in key.lookups.iter().enumerate() {
            let mut s = Vec::new();
            for e in lookup.input.iter().chain(&lookup.table) {
                sources_of(e, key, &mut s);
            }
            s.extend((0..3).map(|w| Source::Lookup(3 * l + w)));
            s.extend((0..3).map(Source::Selector));
            add(Kind::Lookup(l), 5, s);
        }
        let in_order: Vec<usize> = (0..stages.len()).collect();
        let (peak_in_order, plan_in_order) = simulate(&stages, &in_order);
        let (peak_greedy, plan_greedy) = simulate(&stages, &greedy(&stages));
        let (peak, order) = if peak_greedy < peak_in_order {
            (peak_greedy, plan_greedy)
        } else {
            (peak_in_order, plan_in_order)
        };
        Self {
            stages,
            order,
            constraints: next,
            parts: 1 << (key.extended_k - key.k),
            peak,
        }
    }

    /// The most polynomials held in coset form at once.
    pub(super) fn peak(&self) -> usize {
        self.peak
    }

    /// Progress steps: one per stage and coset.
    pub(super) fn steps(&self) -> usize {
        self.stages.len() * self.parts
    }
}

/// The coset evaluations one stage reads, by what they are.
struct View<'a> {
    fixed: Vec<&'a [Fr]>,
    advice: Vec<&'a [Fr]>,
    instance: Vec<&'a [Fr]>,
    sigma: Vec<&'a [Fr]>,
    selectors: [&'a [Fr]; 3],
    perm: Vec<&'a [Fr]>,
    lookups: Vec<&'a [Fr]>,
}

impl<'a> View<'a> {
    fn new(prep: &Prepared, polys: &Polys<'_>, live: &'a [(Source, Vec<Fr>)]) -> Self {
        let key = &prep.key;
        let mut v = View {
            fixed: vec![&[][..]; prep.fixed_polys.len()],
            advice: vec![&[][..]; polys.advice.len()],
            instance: vec![&[][..]; polys.instance.len()],
            sigma: vec![&[][..]; key.permutation.len()],
            selectors: [&[][..]; 3],
            perm: vec![&[][..]; polys.permutation.len()],
            lookups: vec![&[][..]; polys.lookups.len()],
        };
        for (source, values) in live {
            let slot = match *source {
                Source::Fixed(i) => v.fixed.get_mut(i),
                Source::Advice(i) => v.advice.get_mut(i),
                Source::Instance(i) => v.instance.get_mut(i),
                Source::Sigma(i) => v.sigma.get_mut(i),
                Source::Selector(i) => v.selectors.get_mut(i),
                Source::PermZ(i) => v.perm.get_mut(i),
                Source::Lookup(i) => v.lookups.get_mut(i),
            };
            if let Some(slot) = slot {
                *slot = values;
            }
        }
        v
    }

    #[inline]
    fn leaf(&self, key: &ProvingKey, op: Op, row: usize) -> Fr {
        self.leaf_column(key, op)
            .map_or(Fr::ZERO, |(column, rot)| column[rotated(row, rot, key.n())])
    }

    /// A leaf's column and rotation (`None` for an op that is no leaf).
    #[inline]
    fn leaf_column(&self, key: &ProvingKey, op: Op) -> Option<(&'a [Fr], i32)> {
        let (columns, (col, rot)) = match op {
            Op::Fixed(q) => (&self.fixed, key.fixed_queries[q]),
            Op::Advice(q) => (&self.advice, key.advice_queries[q]),
            Op::Instance(q) => (&self.instance, key.instance_queries[q]),
            _ => return None,
        };
        Some((columns[col], rot))
    }

    fn column(&self, c: &super::Column) -> &'a [Fr] {
        let i = c.index as usize;
        match c.kind {
            ColumnKind::Advice => self.advice[i],
            ColumnKind::Fixed => self.fixed[i],
            ColumnKind::Instance => self.instance[i],
        }
    }
}

/// The coefficients a source's coset evaluations come from.
fn coefficients<'a>(prep: &'a Prepared, polys: &Polys<'a>, source: Source) -> &'a [Fr] {
    let slice = |v: &'a [Vec<Fr>], i: usize| v.get(i).map_or(&[][..], Vec::as_slice);
    match source {
        Source::Fixed(i) => slice(&prep.fixed_polys, i),
        Source::Advice(i) => slice(polys.advice, i),
        Source::Instance(i) => slice(polys.instance, i),
        Source::Sigma(i) => slice(&prep.sigma_polys, i),
        Source::Selector(i) => slice(&prep.selectors, i),
        Source::PermZ(i) => slice(polys.permutation, i),
        Source::Lookup(i) => slice(polys.lookups, i),
    }
}

/// `h`'s coefficients (`(degree − 1)·n`: its pieces, lowest first), and the nanoseconds spent
/// evaluating constraints.
pub(super) fn quotient<B: Backend + ?Sized>(
    prep: &Prepared,
    backend: &mut B,
    polys: &Polys<'_>,
    ch: &Challenges,
    now: Option<super::Now>,
    progress: &mut Tracker<'_>,
) -> Result<(Vec<Fr>, u64), ProveError> {
    let key = &prep.key;
    let plan = &prep.plan;
    let n = key.n();
    let parts = plan.parts;
    let mut extended = vec![Fr::ZERO; n * parts];
    let mut values = vec![Fr::ZERO; n];
    // Coset buffers, reused from stage to stage and coset to coset.
    let mut pool: Vec<Vec<Fr>> = Vec::new();
    let mut live: Vec<(Source, Vec<Fr>)> = Vec::new();
    let mut evaluation_nanos = 0;
    let mut factor = Fr::ONE;
    for part in 0..parts {
        let generator = key.zeta * factor;
        values.iter_mut().for_each(|v| *v = Fr::ZERO);
        for (s, acquire, release) in &plan.order {
            progress.at(Phase::Quotient);
            let start = live.len();
            for &source in acquire {
                let mut buffer = pool.pop().unwrap_or_else(|| vec![Fr::ZERO; n]);
                buffer.copy_from_slice(coefficients(prep, polys, source));
                live.push((source, buffer));
            }
            if start < live.len() {
                let mut views: Vec<&mut [Fr]> = live[start..]
                    .iter_mut()
                    .map(|(_, v)| v.as_mut_slice())
                    .collect();
                backend.ntt_batch(&mut views, &prep.domain, NttOp::coset_forward(generator))?;
            }
            let stage = &plan.stages[*s];
            let scale =
                ch.y.pow([(plan.constraints - stage.first - stage.count) as u64]);
            let clock = super::Clock::start(now);
            let view = View::new(prep, polys, &live);
            par::chunks_mut(&mut values, 1, |first, out| {
                rows(prep, &view, stage, ch, generator, scale, first, out)
            });
            evaluation_nanos += clock.nanos();
            let mut i = 0;
            while i < live.len() {
                if release.contains(&live[i].0) {
                    pool.push(live.swap_remove(i).1);
                } else {
                    i += 1;
                }
            }
        }
        let values = &values;
        par::chunks_mut(&mut extended, parts, |first, out| {
            for (row, point) in out.chunks_exact_mut(parts).enumerate() {
                point[part] = values[first / parts + row];
            }
        });
        factor *= key.extended_omega;
    }
    drop(pool);
    drop(values);

    // Xⁿ − 1 at ζ·ω_ext^m depends only on m mod parts.
    let zeta_n = key.zeta.pow([n as u64]);
    let step = key.extended_omega.pow([n as u64]);
    let mut t: Vec<Fr> = (0..parts as u64)
        .map(|j| zeta_n * step.pow([j]) - Fr::ONE)
        .collect();
    batch_inversion(&mut t);
    par::chunks_mut(&mut extended, 1, |first, out| {
        for (i, v) in out.iter_mut().enumerate() {
            *v *= t[(first + i) % parts];
        }
    });
    backend.ntt(
        &mut extended,
        &prep.extended,
        NttOp::coset_inverse(key.zeta),
    )?;
    extended.truncate(n * (key.degree - 1));
    Ok((extended, evaluation_nanos))
}

/// Adds `scale ·` (the stage's constraints at each of the rows `first…`, combined by Horner in
/// y) into `out`.
#[allow(clippy::too_many_arguments)]
fn rows(
    prep: &Prepared,
    v: &View<'_>,
    stage: &Stage,
    ch: &Challenges,
    generator: Fr,
    scale: Fr,
    first: usize,
    out: &mut [Fr],
) {
    let key = &prep.key;
    let n = key.n();
    let [l0, l_last, l_active] = v.selectors;
    match stage.kind {
        Kind::Gate(g) => {
            let gate = &key.gates[g];
            #[cfg(feature = "std")]
            let done = bn254_ifma::Ifma::detect().map_or(0, |ifma| {
                gate_on_lanes(ifma, key, v, gate, scale, first, out)
            });
            #[cfg(not(feature = "std"))]
            let done = 0;
            let mut scratch = Vec::new();
            for (offset, value) in out[done..].iter_mut().enumerate() {
                let i = first + done + offset;
                *value += scale * gate.evaluate(&mut scratch, |op| v.leaf(key, op, i));
            }
        }
        Kind::PermutationBoundary => {
            let last_rotation = -((key.blinding_factors + 1) as i32);
            let (first_z, last_z) = (v.perm[0], v.perm[v.perm.len() - 1]);
            for (offset, value) in out.iter_mut().enumerate() {
                let i = first + offset;
                let last = rotated(i, last_rotation, n);
                let mut c = (Fr::ONE - first_z[i]) * l0[i];
                c = c * ch.y + (last_z[i].square() - last_z[i]) * l_last[i];
                for s in 1..v.perm.len() {
                    c = c * ch.y + (v.perm[s][i] - v.perm[s - 1][last]) * l0[i];
                }
                *value += scale * c;
            }
        }
        Kind::PermutationChunk(chunk) => {
            let len = key.chunk_len();
            let columns =
                &key.permutation[chunk * len..((chunk + 1) * len).min(key.permutation.len())];
            let sigmas = &v.sigma[chunk * len..chunk * len + columns.len()];
            let values: Vec<&[Fr]> = columns.iter().map(|c| v.column(c)).collect();
            let z = v.perm[chunk];
            // The point of the first row here, and β·δ^(first column of the chunk).
            let mut x = generator * key.omega.pow([first as u64]);
            let beta_delta = ch.beta * key.delta.pow([(chunk * len) as u64]);
            for (offset, value) in out.iter_mut().enumerate() {
                let i = first + offset;
                let next = rotated(i, 1, n);
                let mut left = z[next];
                let mut right = z[i];
                let mut delta = beta_delta * x;
                for (col, sigma) in values.iter().zip(sigmas) {
                    let c = col[i];
                    left *= c + ch.beta * sigma[i] + ch.gamma;
                    right *= c + delta + ch.gamma;
                    delta *= key.delta;
                }
                *value += scale * ((left - right) * l_active[i]);
                x *= key.omega;
            }
        }
        Kind::Lookup(l) => {
            let lookup = &key.lookups[l];
            let (a, s, z) = (v.lookups[3 * l], v.lookups[3 * l + 1], v.lookups[3 * l + 2]);
            let mut scratch = Vec::new();
            for (offset, value) in out.iter_mut().enumerate() {
                let i = first + offset;
                let leaf = |op: Op| v.leaf(key, op, i);
                let mut compress = |exprs: &[super::Expression]| {
                    exprs.iter().fold(Fr::ZERO, |acc, e| {
                        acc * ch.theta + e.evaluate(&mut scratch, leaf)
                    })
                };
                let table_value =
                    (compress(&lookup.input) + ch.beta) * (compress(&lookup.table) + ch.gamma);
                let (next, prev) = (rotated(i, 1, n), rotated(i, -1, n));
                let a_minus_s = a[i] - s[i];
                let mut c = (Fr::ONE - z[i]) * l0[i];
                c = c * ch.y + (z[i].square() - z[i]) * l_last[i];
                c = c * ch.y
                    + (z[next] * (a[i] + ch.beta) * (s[i] + ch.gamma) - z[i] * table_value)
                        * l_active[i];
                c = c * ch.y + a_minus_s * l0[i];
                c = c * ch.y + a_minus_s * (a[i] - a[prev]) * l_active[i];
                *value += scale * c;
            }
        }
    }
}

/// [`rows`]' gate stage on eight rows at once, where the CPU has AVX-512 IFMA
/// ([`bn254_ifma::Ifma::evaluate`]): the expression's leaves are read for eight rows, its steps
/// (and the stage's `scale`) run on lanes. Returns how many rows of `out` it did (a multiple
/// of eight); the caller does the rest one by one.
#[cfg(feature = "std")]
fn gate_on_lanes(
    ifma: bn254_ifma::Ifma,
    key: &super::ProvingKey,
    v: &View<'_>,
    gate: &super::Expression,
    scale: Fr,
    first: usize,
    out: &mut [Fr],
) -> usize {
    use bn254_ifma::{Program, Step};
    let mut columns = Vec::new();
    let mut steps: Vec<Step> = gate
        .ops()
        .iter()
        .map(|&op| match op {
            Op::Constant(c) => Step::Constant(c),
            Op::Negated(a) => Step::Negated(a),
            Op::Sum(a, b) => Step::Sum(a, b),
            Op::Product(a, b) => Step::Product(a, b),
            Op::Scaled(a, c) => Step::Scaled(a, c),
            Op::Fixed(_) | Op::Advice(_) | Op::Instance(_) => {
                columns.extend(v.leaf_column(key, op));
                Step::Leaf(columns.len() - 1)
            }
        })
        .collect();
    if let Some(last) = steps.len().checked_sub(1) {
        steps.push(Step::Scaled(last, scale));
    }
    let program = Program::new(steps, columns.len());
    let n = key.n();
    let mut leaves = vec![[Fr::ZERO; 8]; columns.len()];
    let mut lanes = bn254_ifma::EvalScratch::default();
    let (blocks, _) = out.as_chunks_mut::<8>();
    for (b, block) in blocks.iter_mut().enumerate() {
        let i = first + 8 * b;
        for (leaf, &(column, rot)) in leaves.iter_mut().zip(&columns) {
            let r = rotated(i, rot, n);
            match column.get(r..r + 8) {
                // Eight rows that do not wrap around the coset.
                Some(rows) => leaf.copy_from_slice(rows),
                None => *leaf = core::array::from_fn(|l| column[rotated(i + l, rot, n)]),
            }
        }
        let values = ifma.evaluate(&program, &leaves, &mut lanes);
        for (o, x) in block.iter_mut().zip(values) {
            *o += x;
        }
    }
    8 * blocks.len()
}
