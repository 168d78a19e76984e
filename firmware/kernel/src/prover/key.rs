//! The zkedge proving key: what the prover needs of a halo2-axiom proving key, without halo2.
//!
//! The host exports it (`zkedge::export`) from halo2's `ProvingKey`; the prover checks it on
//! load and never trusts it further. Expressions are flat lists of nodes whose operands are
//! earlier nodes, so a hostile file cannot make decoding or evaluation recurse.

use alloc::vec::Vec;
use core::fmt;

use ark_ff::{AdditiveGroup, Field};
use serde::{
    de::{self, SeqAccess, Visitor},
    ser::SerializeSeq,
    Deserialize, Deserializer, Serialize, Serializer,
};

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

/// A column's values (Lagrange basis), stored as each element's canonical little-endian bytes
/// (the same bytes as a `Vec<Bytes32>`) and decoded straight into field elements: no second
/// copy of the largest part of a key, and a non-canonical element is refused as it is read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ColumnValues(pub Vec<Fr>);

impl Serialize for ColumnValues {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for x in &self.0 {
            seq.serialize_element(&bytes(x))?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for ColumnValues {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Elements;
        impl<'de> Visitor<'de> for Elements {
            type Value = ColumnValues;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a column of canonical field elements")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ColumnValues, A::Error> {
                // A length prefix is a claim, not a promise: reserve little up front and let
                // the vector grow as elements actually arrive.
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 12));
                while let Some(b) = seq.next_element::<Bytes32>()? {
                    out.push(fr(&b).map_err(|_| de::Error::custom("non-canonical element"))?);
                }
                Ok(ColumnValues(out))
            }
        }
        deserializer.deserialize_seq(Elements)
    }
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
    pub fixed: Vec<ColumnValues>,
    /// The permutation's σ columns (Lagrange basis), one per permutation column.
    pub sigmas: Vec<ColumnValues>,
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
    /// Fixed columns (their values are in [`fixed`](Self::fixed) until a prover takes them).
    pub num_fixed: usize,
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

/// Keys hold field elements in the wire protocol's form (canonical little-endian), so the
/// wire codec reads and writes them; a value at or above the modulus is refused.
fn fr(b: &Bytes32) -> Result<Fr, KeyError> {
    accel_proto::elem::decode_fr(b).map_err(|_| KeyError::NonCanonical)
}

/// The canonical little-endian bytes of `x`.
pub fn bytes(x: &Fr) -> Bytes32 {
    accel_proto::elem::encode_fr(x)
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
    /// Checks a key file; its columns move into the key.
    pub fn from_file(f: KeyFile) -> Result<Self, KeyError> {
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
        if f.fixed.len() != f.num_fixed as usize || f.sigmas.len() != f.permutation.len() {
            return Err(KeyError::Invalid("column counts differ"));
        }
        if f.fixed.iter().chain(&f.sigmas).any(|c| c.0.len() != n) {
            return Err(KeyError::Invalid("a column has the wrong length"));
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
            num_fixed: f.num_fixed as usize,
            num_instance: f.num_instance as usize,
            advice_queries: queries(&f.advice_queries, f.num_advice)?,
            fixed_queries: queries(&f.fixed_queries, f.num_fixed)?,
            instance_queries: queries(&f.instance_queries, f.num_instance)?,
            gates: exprs(&f.gates)?,
            lookups,
            permutation: f.permutation,
            fixed: f.fixed.into_iter().map(|c| c.0).collect(),
            sigmas: f.sigmas.into_iter().map(|c| c.0).collect(),
        })
    }

    /// Reads a `.zpk` file: magic, then postcard. Never panics; allocates at most a small
    /// multiple of `bytes.len()`.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let body = bytes.strip_prefix(&KEY_MAGIC).ok_or(KeyError::BadMagic)?;
        let (file, rest) = postcard::take_from_bytes::<KeyFile>(body).map_err(|e| match e {
            // Raised only by `ColumnValues`, for an element at or above the modulus.
            postcard::Error::SerdeDeCustom => KeyError::NonCanonical,
            _ => KeyError::Decode,
        })?;
        if !rest.is_empty() {
            return Err(KeyError::Trailing);
        }
        Self::from_file(file)
    }

    /// The key as a `.zpk` file's bytes ([`from_bytes`](Self::from_bytes) reads them back).
    /// Its columns must still be in it (a prover takes them: [`crate::prover::Prepared`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let query = |q: &[(usize, i32)]| {
            q.iter()
                .map(|&(c, r)| Query {
                    column: c as u32,
                    rotation: r,
                })
                .collect::<Vec<_>>()
        };
        let expression = |e: &Expression| ExpressionFile {
            nodes: e.ops.iter().map(node).collect(),
        };
        let file = KeyFileRef {
            version: KEY_VERSION,
            k: self.k,
            extended_k: self.extended_k,
            blinding_factors: self.blinding_factors as u32,
            degree: self.degree as u32,
            omega: bytes(&self.omega),
            extended_omega: bytes(&self.extended_omega),
            zeta: bytes(&self.zeta),
            delta: bytes(&self.delta),
            transcript_repr: bytes(&self.transcript_repr),
            num_advice: self.num_advice as u32,
            num_fixed: self.num_fixed as u32,
            num_instance: self.num_instance as u32,
            advice_queries: query(&self.advice_queries),
            fixed_queries: query(&self.fixed_queries),
            instance_queries: query(&self.instance_queries),
            gates: self.gates.iter().map(expression).collect(),
            lookups: self
                .lookups
                .iter()
                .map(|l| LookupFile {
                    input: l.input.iter().map(expression).collect(),
                    table: l.table.iter().map(expression).collect(),
                })
                .collect(),
            permutation: &self.permutation,
            fixed: ColumnsRef(&self.fixed),
            sigmas: ColumnsRef(&self.sigmas),
        };
        let mut out = Vec::from(KEY_MAGIC);
        // Serialising in-memory data into a Vec cannot fail.
        out.extend(postcard::to_allocvec(&file).unwrap_or_default());
        out
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

fn node(op: &Op) -> Node {
    match *op {
        Op::Constant(c) => Node::Constant(bytes(&c)),
        Op::Fixed(q) => Node::Fixed(q as u32),
        Op::Advice(q) => Node::Advice(q as u32),
        Op::Instance(q) => Node::Instance(q as u32),
        Op::Negated(a) => Node::Negated(a as u32),
        Op::Sum(a, b) => Node::Sum(a as u32, b as u32),
        Op::Product(a, b) => Node::Product(a as u32, b as u32),
        Op::Scaled(a, c) => Node::Scaled(a as u32, bytes(&c)),
    }
}

/// Columns serialised as [`ColumnValues`] are, without copying them into one.
struct ColumnsRef<'a>(&'a [Vec<Fr>]);

impl Serialize for ColumnsRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct One<'a>(&'a [Fr]);
        impl Serialize for One<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
                for x in self.0 {
                    seq.serialize_element(&bytes(x))?;
                }
                seq.end()
            }
        }
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for c in self.0 {
            seq.serialize_element(&One(c))?;
        }
        seq.end()
    }
}

/// [`KeyFile`] with borrowed columns: the same fields in the same order, so the same bytes.
#[derive(Serialize)]
struct KeyFileRef<'a> {
    version: u16,
    k: u32,
    extended_k: u32,
    blinding_factors: u32,
    degree: u32,
    omega: Bytes32,
    extended_omega: Bytes32,
    zeta: Bytes32,
    delta: Bytes32,
    transcript_repr: Bytes32,
    num_advice: u32,
    num_fixed: u32,
    num_instance: u32,
    advice_queries: Vec<Query>,
    fixed_queries: Vec<Query>,
    instance_queries: Vec<Query>,
    gates: Vec<ExpressionFile>,
    lookups: Vec<LookupFile>,
    permutation: &'a [Column],
    fixed: ColumnsRef<'a>,
    sigmas: ColumnsRef<'a>,
}

/// Writes a key file.
pub fn to_bytes(file: &KeyFile) -> Vec<u8> {
    let mut out = Vec::from(KEY_MAGIC);
    // Serialising in-memory data into a Vec cannot fail.
    out.extend(postcard::to_allocvec(file).unwrap_or_default());
    out
}
