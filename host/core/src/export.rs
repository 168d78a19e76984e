//! halo2-axiom's proving key → the zkedge proving key (`zkedge_kernel::prover::KeyFile`).
//!
//! Everything is read through halo2-axiom's public API: the constraint system's gates, lookups,
//! queries and permutation columns; the domain; the fixed and σ columns; the verifying key's
//! transcript representation. A circuit that needs what the zkedge prover does not implement
//! is refused here, by name, rather than proved wrongly.

use halo2_proofs::{
    halo2curves::{
        bn256::{Fr as H2Fr, G1Affine},
        ff::{PrimeField, WithSmallOrderMulGroup},
    },
    plonk::{Any, ConstraintSystem, Expression as H2Expression, ProvingKey, VerifyingKey},
};
use thiserror::Error;
use zkedge_kernel::prover::{
    Bytes32, Column, ColumnKind, ColumnValues, ExpressionFile, KeyFile, LookupFile, Node, Query,
    KEY_VERSION,
};

/// Why a proving key cannot be exported.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExportError {
    /// The circuit uses a feature the zkedge prover does not implement.
    #[error("the zkedge prover does not support {0}; use --prover halo2 for this circuit")]
    Unsupported(&'static str),
    /// The circuit's constraints need a higher degree than halo2-axiom allowed it (its
    /// `MAX_DEGREE`, 5 unless set): no prover can make a valid proof.
    #[error(
        "the circuit's constraints have degree {needed} but halo2-axiom capped it at {capped} \
         (MAX_DEGREE); proofs could not verify. Lower the degree (e.g. move products out of \
         lookup inputs into advice columns) or set MAX_DEGREE={needed} for keygen and proving"
    )]
    DegreeCapped {
        /// The degree the constraints need.
        needed: usize,
        /// The degree halo2 used.
        capped: usize,
    },
}

fn fe(x: &H2Fr) -> Bytes32 {
    let mut out = [0u8; 32];
    out.copy_from_slice(x.to_repr().as_ref());
    out
}

fn position<T: PartialEq>(list: &[T], item: &T) -> u32 {
    list.iter().position(|x| x == item).unwrap_or(usize::MAX) as u32
}

/// Appends `e` to `nodes` (operands first) and returns its index.
fn flatten(
    e: &H2Expression<H2Fr>,
    cs: &ConstraintSystem<H2Fr>,
    nodes: &mut Vec<Node>,
) -> Result<u32, ExportError> {
    let node = match e {
        H2Expression::Constant(c) => Node::Constant(fe(c)),
        H2Expression::Selector(_) => return Err(ExportError::Unsupported("uncompiled selectors")),
        H2Expression::Challenge(_) => {
            return Err(ExportError::Unsupported(
                "challenges (multi-phase circuits)",
            ))
        }
        H2Expression::Fixed(q) => {
            let key = (q.column_index(), q.rotation().0);
            let list: Vec<(usize, i32)> = cs
                .fixed_queries()
                .iter()
                .map(|(c, r)| (c.index(), r.0))
                .collect();
            Node::Fixed(position(&list, &key))
        }
        H2Expression::Advice(q) => {
            let key = (q.column_index(), q.rotation().0);
            let list: Vec<(usize, i32)> = cs
                .advice_queries()
                .iter()
                .map(|(c, r)| (c.index(), r.0))
                .collect();
            Node::Advice(position(&list, &key))
        }
        H2Expression::Instance(q) => {
            let key = (q.column_index(), q.rotation().0);
            let list: Vec<(usize, i32)> = cs
                .instance_queries()
                .iter()
                .map(|(c, r)| (c.index(), r.0))
                .collect();
            Node::Instance(position(&list, &key))
        }
        H2Expression::Negated(a) => Node::Negated(flatten(a, cs, nodes)?),
        H2Expression::Sum(a, b) => {
            let a = flatten(a, cs, nodes)?;
            Node::Sum(a, flatten(b, cs, nodes)?)
        }
        H2Expression::Product(a, b) => {
            let a = flatten(a, cs, nodes)?;
            Node::Product(a, flatten(b, cs, nodes)?)
        }
        H2Expression::Scaled(a, c) => Node::Scaled(flatten(a, cs, nodes)?, fe(c)),
    };
    nodes.push(node);
    Ok(nodes.len() as u32 - 1)
}

fn expression(
    e: &H2Expression<H2Fr>,
    cs: &ConstraintSystem<H2Fr>,
) -> Result<ExpressionFile, ExportError> {
    let mut nodes = Vec::new();
    flatten(e, cs, &mut nodes)?;
    Ok(ExpressionFile { nodes })
}

/// Exports halo2's proving key for the zkedge prover.
pub fn export(pk: &ProvingKey<G1Affine>) -> Result<KeyFile, ExportError> {
    let mut file = describe(pk.get_vk())?;
    let column = |values: &[H2Fr]| ColumnValues(values.iter().map(crate::convert::fr).collect());
    file.fixed = pk
        .fixed_values()
        .iter()
        .map(|p| column(p.values()))
        .collect();
    file.sigmas = pk
        .permutation()
        .permutations()
        .iter()
        .map(|p| column(p.values()))
        .collect();
    Ok(file)
}

/// The zkedge key's description of the circuit, from halo2's verifying key: everything but the
/// fixed and σ columns' values (left empty, for the caller to fill in).
pub fn describe(vk: &VerifyingKey<G1Affine>) -> Result<KeyFile, ExportError> {
    let cs = vk.cs();
    let domain = vk.get_domain();
    if cs.num_challenges() > 0 || cs.advice_column_phase().iter().any(|&p| p != 0) {
        return Err(ExportError::Unsupported(
            "challenges (multi-phase circuits)",
        ));
    }
    // halo2's own degree rules (lookup: 2 + input + table, at least 4; permutation: 3), uncapped.
    let lookup_degree = cs
        .lookups()
        .iter()
        .map(|l| {
            let max = |v: &Vec<H2Expression<H2Fr>>| {
                v.iter().map(H2Expression::degree).max().unwrap_or(1).max(1)
            };
            (2 + max(l.input_expressions()) + max(l.table_expressions())).max(4)
        })
        .max()
        .unwrap_or(1);
    let gate_degree = cs
        .gates()
        .iter()
        .flat_map(|g| g.polynomials())
        .map(H2Expression::degree)
        .max()
        .unwrap_or(0);
    let needed = lookup_degree.max(gate_degree).max(3);
    if needed > cs.degree() {
        return Err(ExportError::DegreeCapped {
            needed,
            capped: cs.degree(),
        });
    }
    let queries = |q: Vec<(usize, i32)>| {
        q.into_iter()
            .map(|(c, r)| Query {
                column: c as u32,
                rotation: r,
            })
            .collect()
    };
    let gates = cs
        .gates()
        .iter()
        .flat_map(|g| g.polynomials().iter())
        .map(|p| expression(p, cs))
        .collect::<Result<_, _>>()?;
    let lookups = cs
        .lookups()
        .iter()
        .map(|l| {
            let exprs = |v: &Vec<H2Expression<H2Fr>>| {
                v.iter()
                    .map(|e| expression(e, cs))
                    .collect::<Result<Vec<_>, _>>()
            };
            Ok(LookupFile {
                input: exprs(l.input_expressions())?,
                table: exprs(l.table_expressions())?,
            })
        })
        .collect::<Result<_, _>>()?;
    let permutation = cs
        .permutation()
        .get_columns()
        .iter()
        .map(|c| Column {
            kind: match c.column_type() {
                Any::Advice(_) => ColumnKind::Advice,
                Any::Fixed => ColumnKind::Fixed,
                Any::Instance => ColumnKind::Instance,
            },
            index: c.index() as u32,
        })
        .collect();
    Ok(KeyFile {
        version: KEY_VERSION,
        k: domain.k(),
        extended_k: domain.extended_k(),
        blinding_factors: cs.blinding_factors() as u32,
        degree: cs.degree() as u32,
        omega: fe(&domain.get_omega()),
        extended_omega: fe(&domain.get_extended_omega()),
        zeta: fe(&H2Fr::ZETA),
        delta: fe(&H2Fr::DELTA),
        transcript_repr: fe(&vk.transcript_repr()),
        num_advice: cs.num_advice_columns() as u32,
        num_fixed: cs.num_fixed_columns() as u32,
        num_instance: cs.num_instance_columns() as u32,
        advice_queries: queries(
            cs.advice_queries()
                .iter()
                .map(|(c, r)| (c.index(), r.0))
                .collect(),
        ),
        fixed_queries: queries(
            cs.fixed_queries()
                .iter()
                .map(|(c, r)| (c.index(), r.0))
                .collect(),
        ),
        instance_queries: queries(
            cs.instance_queries()
                .iter()
                .map(|(c, r)| (c.index(), r.0))
                .collect(),
        ),
        gates,
        lookups,
        permutation,
        fixed: Vec::new(),
        sigmas: Vec::new(),
    })
}
