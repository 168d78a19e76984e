//! The zkedge proving key: what the prover needs of a halo2-axiom proving key, without halo2.
//!
//! The host exports it (`zkedge::export`) from halo2's `ProvingKey`; the prover checks it on
//! load and never trusts it further. Expressions are flat lists of nodes whose operands are
//! earlier nodes, so a hostile file cannot make decoding or evaluation recurse.

use alloc::vec::Vec;

use ark_ff::{AdditiveGroup, BigInteger, Field, PrimeField};
use serde::{Deserialize, Serialize};

use crate::prover::Fr;

/// The first four bytes of a `.zpk` file.
pub const KEY_MAGIC: [u8; 4] = *b"ZPK1";
/// The key format version this build reads and writes.
pub const KEY_VERSION: u16 = 1;
/// Largest circuit (log2 rows) a key may describe.
pub const MAX_KEY_K: u32 = 26;

/// A field element as its canonical little-endian bytes.
pub type Bytes32 = [u8; 32];

/// Which kind of column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ColumnKind {
    /// Witness.
    Advice,
    /// Fixed by the circuit (including selectors and lookup tables).
    Fixed,
    /// Public input.
    Instance,
}

/// A column of the circuit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Column {
    /// Its kind.
    pub kind: ColumnKind,
    /// Its index among columns of that kind.
    pub index: u32,
}

/// A column read at a rotation (`column` at row `i + rotation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    /// Column index within its kind.
    pub column: u32,
    /// Row offset.
    pub rotation: i32,
}

/// One node of an expression; operands are indices of earlier nodes, leaves index the key's
/// query lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Node {
    /// A constant.
    Constant(Bytes32),
    /// A fixed query (index into `fixed_queries`).
    Fixed(u32),
    /// An advice query (index into `advice_queries`).
    Advice(u32),
    /// An instance query (index into `instance_queries`).
    Instance(u32),
    /// `−a`.
    Negated(u32),
    /// `a + b`.
    Sum(u32, u32),
    /// `a · b`.
    Product(u32, u32),
    /// `a · c`.
    Scaled(u32, Bytes32),
}

/// An expression: its value is the last node's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpressionFile {
    /// The nodes, operands first.
    pub nodes: Vec<Node>,
}

/// A lookup argument: the tuple of input expressions must be a row of the table expressions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookupFile {
    /// Input expressions.
    pub input: Vec<ExpressionFile>,
    /// Table expressions (as many as inputs).
    pub table: Vec<ExpressionFile>,
}

/// The key as stored (postcard after [`KEY_MAGIC`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyFile {
    /// [`KEY_VERSION`].
    pub version: u16,
    /// log2 of the rows.
    pub k: u32,
    /// log2 of the extended domain.
    pub extended_k: u32,
    /// halo2's `blinding_factors()`.
    pub blinding_factors: u32,
    /// The constraint system's degree.
    pub degree: u32,
    /// The generator of the `2^k` domain.
    pub omega: Bytes32,
    /// The generator of the `2^extended_k` domain.
    pub extended_omega: Bytes32,
    /// The extended domain's coset generator (halo2's `ζ`, a cube root of unity).
    pub zeta: Bytes32,
    /// halo2's `DELTA`, separating the permutation's columns.
    pub delta: Bytes32,
    /// The verifying key's transcript representation, hashed first.
    pub transcript_repr: Bytes32,
    /// Advice columns.
    pub num_advice: u32,
    /// Fixed columns.
    pub num_fixed: u32,
    /// Instance columns.
    pub num_instance: u32,
    /// Advice queries, in the constraint system's order.
    pub advice_queries: Vec<Query>,
    /// Fixed queries.
    pub fixed_queries: Vec<Query>,
    /// Instance queries.
    pub instance_queries: Vec<Query>,
    /// Every polynomial of every gate, in order.
    pub gates: Vec<ExpressionFile>,
    /// Lookup arguments, in order.
    pub lookups: Vec<LookupFile>,
    /// The columns of the permutation argument, in order.
    pub permutation: Vec<Column>,
    /// Fixed columns' values (Lagrange basis), `2^k` each.
    pub fixed: Vec<Vec<Bytes32>>,
    /// The permutation's σ columns (Lagrange basis), one per permutation column.
    pub sigmas: Vec<Vec<Bytes32>>,
}

/// One node of a checked expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// A constant.
    Constant(Fr),
    /// The value of fixed query `q`.
    Fixed(usize),
    /// The value of advice query `q`.
    Advice(usize),
    /// The value of instance query `q`.
    Instance(usize),
    /// `−a`.
    Negated(usize),
    /// `a + b`.
    Sum(usize, usize),
    /// `a · b`.
    Product(usize, usize),
    /// `a · c`.
    Scaled(usize, Fr),
}

/// A checked expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expression {
    ops: Vec<Op>,
}

impl Expression {
    /// The expression's value, given the values of its leaves. `scratch` is reused between calls.
    #[inline]
    pub fn evaluate(&self, scratch: &mut Vec<Fr>, leaf: impl Fn(Op) -> Fr) -> Fr {
        scratch.clear();
        for &op in &self.ops {
            let v = match op {
                Op::Constant(c) => c,
                Op::Fixed(_) | Op::Advice(_) | Op::Instance(_) => leaf(op),
                Op::Negated(a) => -scratch[a],
                Op::Sum(a, b) => scratch[a] + scratch[b],
                Op::Product(a, b) => scratch[a] * scratch[b],
                Op::Scaled(a, c) => scratch[a] * c,
            };
            scratch.push(v);
        }
        scratch.last().copied().unwrap_or(Fr::ZERO)
    }

    /// The nodes.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }
}

/// A checked lookup argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    /// Input expressions.
    pub input: Vec<Expression>,
    /// Table expressions.
    pub table: Vec<Expression>,
}

/// A checked proving key, field elements decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct ProvingKey {
    /// log2 of the rows.
    pub k: u32,
    /// log2 of the extended domain.
    pub extended_k: u32,
    /// halo2's `blinding_factors()`.
    pub blinding_factors: usize,
    /// The constraint system's degree.
    pub degree: usize,
    /// Generator of the rows' domain.
    pub omega: Fr,
    /// Generator of the extended domain.
    pub extended_omega: Fr,
    /// Coset generator of the extended domain.
    pub zeta: Fr,
    /// Permutation column separator.
    pub delta: Fr,
    /// The verifying key's transcript representation.
    pub transcript_repr: Fr,
    /// Advice columns.
    pub num_advice: usize,
    /// Instance columns.
    pub num_instance: usize,
    /// `(column, rotation)` per advice query.
    pub advice_queries: Vec<(usize, i32)>,
    /// `(column, rotation)` per fixed query.
    pub fixed_queries: Vec<(usize, i32)>,
    /// `(column, rotation)` per instance query.
    pub instance_queries: Vec<(usize, i32)>,
    /// Gate polynomials.
    pub gates: Vec<Expression>,
    /// Lookup arguments.
    pub lookups: Vec<Lookup>,
    /// Permutation columns.
    pub permutation: Vec<Column>,
    /// Fixed columns (Lagrange basis).
    pub fixed: Vec<Vec<Fr>>,
    /// Permutation σ columns (Lagrange basis).
    pub sigmas: Vec<Vec<Fr>>,
}

/// Why a proving key was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum KeyError {
    /// The file does not start with `ZPK1`.
    #[error("not a zkedge proving key (bad magic)")]
    BadMagic,
    /// The file is damaged or truncated.
    #[error("proving key is damaged or truncated")]
    Decode,
    /// Bytes follow the key.
    #[error("proving key has trailing bytes")]
    Trailing,
    /// Another version.
    #[error("proving key version {0} is not supported (this build reads {KEY_VERSION})")]
    Version(u16),
    /// A structural rule is broken.
    #[error("proving key is inconsistent: {0}")]
    Invalid(&'static str),
    /// A field element is not canonical.
    #[error("proving key holds a non-canonical field element")]
    NonCanonical,
    /// The circuit uses what this prover does not support.
    #[error("unsupported circuit: {0}")]
    Unsupported(&'static str),
}

fn fr(b: &Bytes32) -> Result<Fr, KeyError> {
    let x = Fr::from_le_bytes_mod_order(b);
    if x.into_bigint().to_bytes_le() == b.as_slice() {
        Ok(x)
    } else {
        Err(KeyError::NonCanonical)
    }
}

/// The canonical little-endian bytes of `x`.
pub fn bytes(x: &Fr) -> Bytes32 {
    let mut out = [0u8; 32];
    out.copy_from_slice(&x.into_bigint().to_bytes_le());
    out
}

fn queries(q: &[Query], columns: u32) -> Result<Vec<(usize, i32)>, KeyError> {
    q.iter()
        .map(|q| {
            if q.column >= columns || q.rotation.unsigned_abs() > 1 << 20 {
                return Err(KeyError::Invalid(
                    "a query names a missing column or a huge rotation",
                ));
            }
            Ok((q.column as usize, q.rotation))
        })
        .collect()
}

fn expression(e: &ExpressionFile, limits: [usize; 3]) -> Result<Expression, KeyError> {
    if e.nodes.is_empty() {
        return Err(KeyError::Invalid("an expression is empty"));
    }
    let mut ops = Vec::with_capacity(e.nodes.len());
    for (i, n) in e.nodes.iter().enumerate() {
        let earlier = |a: u32| {
            let a = a as usize;
            if a < i {
                Ok(a)
            } else {
                Err(KeyError::Invalid("an expression node refers forward"))
            }
        };
        let leaf = |q: u32, max: usize| {
            if (q as usize) < max {
                Ok(q as usize)
            } else {
                Err(KeyError::Invalid("an expression refers to a missing query"))
            }
        };
        ops.push(match n {
            Node::Constant(c) => Op::Constant(fr(c)?),
            Node::Fixed(q) => Op::Fixed(leaf(*q, limits[0])?),
            Node::Advice(q) => Op::Advice(leaf(*q, limits[1])?),
            Node::Instance(q) => Op::Instance(leaf(*q, limits[2])?),
            Node::Negated(a) => Op::Negated(earlier(*a)?),
            Node::Sum(a, b) => Op::Sum(earlier(*a)?, earlier(*b)?),
            Node::Product(a, b) => Op::Product(earlier(*a)?, earlier(*b)?),
            Node::Scaled(a, c) => Op::Scaled(earlier(*a)?, fr(c)?),
        });
    }
    Ok(Expression { ops })
}

impl ProvingKey {
    /// Checks a key file and decodes its field elements.
    pub fn from_file(f: &KeyFile) -> Result<Self, KeyError> {
        if f.version != KEY_VERSION {
            return Err(KeyError::Version(f.version));
        }
        if f.k == 0
            || f.k > MAX_KEY_K
            || f.extended_k < f.k
            || f.extended_k > accel_backends::MAX_LOG_N
        {
            return Err(KeyError::Invalid("domain sizes out of range"));
        }
        let n = 1usize << f.k;
        if f.degree < 3 || (1u64 << (f.extended_k - f.k)) < u64::from(f.degree - 1) {
            return Err(KeyError::Invalid("degree does not fit the extended domain"));
        }
        if f.blinding_factors as usize + 1 >= n {
            return Err(KeyError::Invalid("more blinding rows than rows"));
        }
        let (omega, extended_omega, zeta, delta) = (
            fr(&f.omega)?,
            fr(&f.extended_omega)?,
            fr(&f.zeta)?,
            fr(&f.delta)?,
        );
        // The prover's NTT domains: the same check they will make (order exactly 2^k).
        let domain = |log_n, root| accel_backends::Domain::new(log_n, root).is_ok();
        if !domain(f.k, omega) || !domain(f.extended_k, extended_omega) {
            return Err(KeyError::Invalid("a root of unity has the wrong order"));
        }
        if extended_omega.pow([1u64 << (f.extended_k - f.k)]) != omega {
            return Err(KeyError::Invalid("ω is not the extended root's power"));
        }
        if zeta == Fr::ONE || zeta.pow([3u64]) != Fr::ONE {
            return Err(KeyError::Invalid("ζ is not a primitive cube root of unity"));
        }
        if delta == Fr::ZERO {
            return Err(KeyError::Invalid("δ is zero"));
        }
        let limits = [
            f.fixed_queries.len(),
            f.advice_queries.len(),
            f.instance_queries.len(),
        ];
        let exprs = |v: &[ExpressionFile]| {
            v.iter()
                .map(|e| expression(e, limits))
                .collect::<Result<Vec<_>, _>>()
        };
        let lookups = f
            .lookups
            .iter()
            .map(|l| {
                if l.input.len() != l.table.len() || l.input.is_empty() {
                    return Err(KeyError::Invalid(
                        "a lookup's input and table differ in width",
                    ));
                }
                Ok(Lookup {
                    input: exprs(&l.input)?,
                    table: exprs(&l.table)?,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        for c in &f.permutation {
            let max = match c.kind {
                ColumnKind::Advice => f.num_advice,
                ColumnKind::Fixed => f.num_fixed,
                ColumnKind::Instance => f.num_instance,
            };
            if c.index >= max {
                return Err(KeyError::Invalid("the permutation names a missing column"));
            }
        }
        let column = |v: &Vec<Bytes32>| {
            if v.len() != n {
                return Err(KeyError::Invalid("a column has the wrong length"));
            }
            v.iter().map(fr).collect::<Result<Vec<_>, _>>()
        };
        if f.fixed.len() != f.num_fixed as usize || f.sigmas.len() != f.permutation.len() {
            return Err(KeyError::Invalid("column counts differ"));
        }
        Ok(Self {
            k: f.k,
            extended_k: f.extended_k,
            blinding_factors: f.blinding_factors as usize,
            degree: f.degree as usize,
            omega,
            extended_omega,
            zeta,
            delta,
            transcript_repr: fr(&f.transcript_repr)?,
            num_advice: f.num_advice as usize,
            num_instance: f.num_instance as usize,
            advice_queries: queries(&f.advice_queries, f.num_advice)?,
            fixed_queries: queries(&f.fixed_queries, f.num_fixed)?,
            instance_queries: queries(&f.instance_queries, f.num_instance)?,
            gates: exprs(&f.gates)?,
            lookups,
            permutation: f.permutation.clone(),
            fixed: f.fixed.iter().map(column).collect::<Result<_, _>>()?,
            sigmas: f.sigmas.iter().map(column).collect::<Result<_, _>>()?,
        })
    }

    /// Reads a `.zpk` file: magic, then postcard. Never panics; allocates at most a small
    /// multiple of `bytes.len()`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let body = bytes.strip_prefix(&KEY_MAGIC).ok_or(KeyError::BadMagic)?;
        let (file, rest) =
            postcard::take_from_bytes::<KeyFile>(body).map_err(|_| KeyError::Decode)?;
        if !rest.is_empty() {
            return Err(KeyError::Trailing);
        }
        Self::from_file(&file)
    }

    /// Rows of the circuit.
    pub fn n(&self) -> usize {
        1 << self.k
    }

    /// halo2's usable rows: all but the blinding rows and the one before them.
    pub fn usable_rows(&self) -> usize {
        self.n() - (self.blinding_factors + 1)
    }

    /// Columns per chunk of the permutation argument.
    pub fn chunk_len(&self) -> usize {
        self.degree - 2
    }
}

/// Writes a key file.
pub fn to_bytes(file: &KeyFile) -> Vec<u8> {
    let mut out = Vec::from(KEY_MAGIC);
    // Serialising in-memory data into a Vec cannot fail.
    out.extend(postcard::to_allocvec(file).unwrap_or_default());
    out
}
