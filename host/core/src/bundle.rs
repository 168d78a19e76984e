//! The verifier bundle (`verifier.zkv`): all that `zkedge verify` reads besides the proof —
//! halo2's verifying key, the SRS's G2 part (`[τ]₂`; `[1]₁` and `[1]₂` are the standard
//! generators), and what the keys say about the model (its hash, name, labels, output count).
//! A few kilobytes at any `k`: KZG verification needs three SRS points, not the SRS.
//!
//! A bundle is as trustworthy as whoever made it: a valid proof says "this verifying key, over
//! this SRS, accepts this output". So the bundle exposes what a verifier must pin — the verifying
//! key's hash ([`Pins::vk_hash`], or [`Bundle::check_model`], which derives the key from a model
//! the verifier trusts) and the SRS's identity ([`Pins::srs`]) — and refuses an SRS whose secret
//! is public ([`srs::known_secret`]) unless told otherwise. See `docs/trust.md`.
//!
//! Format: `"ZKV1"`, then postcard of [`BundleFile`]. Canonical (one encoding per bundle), size
//! bounded, parsed without panicking.

use std::{
    panic::{catch_unwind, AssertUnwindSafe},
    path::Path,
    sync::Arc,
};

use halo2_proofs::{
    halo2curves::{
        bn256::{Fr, G1Affine, G2Affine},
        ff::{BatchInvert, Field, PrimeField, WithSmallOrderMulGroup},
        group::GroupEncoding,
    },
    plonk::{permutation::VerifyingKey as PermutationKey, Circuit, ConstraintSystem, VerifyingKey},
    poly::{commitment::Params, EvaluationDomain},
    SerdeCurveAffine, SerdeFormat,
};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use zkedge_kernel::{
    layout::{Layout, Params as LayoutParams, Visibility, Weights},
    model::Model,
};

use crate::{
    circuit::{ModelCircuit, Shape},
    files::{read_bounded, FileError},
    keys::{vk_bytes, Keys},
    proof::{self, Expected, ProofError, ProofFile},
    srs::{self, hex, Srs, SrsId},
};

/// The first four bytes of a bundle.
pub const MAGIC: [u8; 4] = *b"ZKV1";
/// The bundle version this build reads and writes (2: the input's visibility in the circuit's
/// shape; 3: the weights' visibility).
pub const BUNDLE_VERSION: u16 = 3;
/// Largest bundle (and verifying key) accepted.
pub const MAX_BUNDLE_FILE: u64 = 4 << 20;
/// Largest circuit (log2 rows) a bundle may describe: the layout's own limit.
pub const MAX_VERIFY_K: u32 = zkedge_kernel::layout::MAX_K;
/// Bounds on a bundle's circuit shape: halo2 makes columns and queries from it before any
/// check, so an untrusted bundle may not ask for a huge constraint system.
const MAX_LANES: u16 = 256;
const MAX_ACCS: u16 = 64;
const MAX_SLOTS: u16 = 64;
const MAX_LIMBS: u8 = 32;

/// What the keys say about their model. Shown to the user; bound to the verifying key only by
/// whoever made the keys, unless the verifier pins the key ([`Pins`], [`Bundle::check_model`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// BLAKE2b-256 of the model's binary form (`.zkm`).
    pub hash: [u8; 32],
    /// Its name.
    pub name: String,
    /// Its class labels.
    pub classes: Vec<String>,
    /// Its number of outputs (the instance holds them and the class).
    pub outputs: u32,
}

/// The bundle as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleFile {
    /// [`BUNDLE_VERSION`].
    pub version: u16,
    /// The model.
    pub model: ModelInfo,
    /// `[τ]₂`, compressed (64 bytes).
    pub s_g2: Vec<u8>,
    /// The circuit's shape (`zkedge_kernel::layout::Params`, postcard), from which the verifying
    /// key's constraint system is built.
    pub circuit: Vec<u8>,
    /// halo2's verifying key, compressed (`SerdeFormat::Processed`).
    pub vk: Vec<u8>,
}

/// Why a bundle was refused, or a proof not trusted.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BundleError {
    /// It could not be read.
    #[error(transparent)]
    File(#[from] FileError),
    /// Not a bundle.
    #[error("not a zkedge verifier bundle (it does not start with \"ZKV1\"); `zkedge setup` writes one as verifier.zkv")]
    BadMagic,
    /// Damaged, truncated, or not canonical.
    #[error("verifier bundle is damaged ({0})")]
    Damaged(String),
    /// Another version.
    #[error("verifier bundle version {0} is not supported (this build reads {BUNDLE_VERSION})")]
    Version(u16),
    /// The SRS's secret is public.
    #[error(
        "the keys use an insecure SRS: {reason}. Anyone can make a proof of any output over it, \
         so this proof shows nothing. Make keys over a ceremony's SRS (`zkedge setup --srs FILE`, \
         a .ptau file), or pass --allow-insecure-dev-srs to check it anyway (tests, demos)"
    )]
    InsecureSrs {
        /// Why its secret is known.
        reason: &'static str,
    },
    /// The SRS is not the pinned one.
    #[error("the keys' SRS is {keys}, not the pinned {pinned}")]
    SrsNotPinned {
        /// The keys' SRS identity.
        keys: String,
        /// The pinned one.
        pinned: String,
    },
    /// The verifying key is not the pinned one.
    #[error("the keys' verifying key is {keys}, not the pinned {pinned}")]
    VkNotPinned {
        /// The keys' verifying-key hash.
        keys: String,
        /// The pinned one.
        pinned: String,
    },
    /// The model given is not the keys'.
    #[error("the keys are for model {keys}, not for the given model {given}")]
    ModelMismatch {
        /// The hash the keys name.
        keys: String,
        /// The given model's hash.
        given: String,
    },
    /// The verifying key is not the given model's.
    #[error(
        "the keys' verifying key {keys} is not the given model's: derived from it, the key is \
         {derived}. The keys were not made for this model (or were tampered with)"
    )]
    VkMismatch {
        /// The verifying-key hash derived from the model.
        derived: String,
        /// The keys' verifying-key hash.
        keys: String,
    },
    /// The SRS given to derive the key is not the keys'.
    #[error("the SRS given is {given}, but the keys were made over {keys}")]
    SrsMismatch {
        /// The keys' SRS.
        keys: String,
        /// The SRS given.
        given: String,
    },
    /// The model cannot be laid out, or halo2 failed to derive its key.
    #[error("deriving the model's verifying key: {0}")]
    Derive(String),
}

fn damaged(reason: impl Into<String>) -> BundleError {
    BundleError::Damaged(reason.into())
}

/// What a verifier pins: the verifying key and the SRS it trusts, and whether an SRS with a
/// public secret may pass (never, but for tests and demos).
#[derive(Clone, Copy, Debug, Default)]
pub struct Pins {
    /// The verifying key's hash.
    pub vk_hash: Option<[u8; 32]>,
    /// The SRS's [`SrsId::tau`].
    pub srs: Option<[u8; 32]>,
    /// Let an SRS whose secret is public pass.
    pub allow_insecure_srs: bool,
}

/// A parsed, checked bundle: a verifier for one model's proofs.
pub struct Bundle {
    /// The bundle as stored.
    pub file: BundleFile,
    /// halo2's verifying key.
    pub vk: VerifyingKey<G1Affine>,
    /// BLAKE2b-256 of the verifying key's bytes.
    pub vk_hash: [u8; 32],
    /// `[τ]₂`.
    pub s_g2: G2Affine,
    /// The SRS's identity.
    pub srs_id: SrsId,
    /// The circuit's shape (its input visibility included), bound by the verifying key.
    pub shape: Shape,
    params: Srs,
}

/// The circuit's shape from a bundle's `circuit` field: canonical and bounded.
fn circuit_params(bytes: &[u8]) -> Result<Shape, BundleError> {
    let params: LayoutParams =
        postcard::from_bytes(bytes).map_err(|_| damaged("circuit shape malformed"))?;
    let t = params.template;
    let bounded = params.lanes <= MAX_LANES
        && params.accs <= MAX_ACCS
        && params.slots <= MAX_SLOTS
        && [t.rho, t.sign, t.above, t.below, t.upper]
            .iter()
            .all(|&l| l <= MAX_LIMBS);
    if !params.valid() || !bounded {
        return Err(damaged(format!("circuit shape {params:?} out of bounds")));
    }
    if postcard::to_allocvec(&params).unwrap_or_default() != bytes {
        return Err(damaged("circuit shape not canonically encoded"));
    }
    Ok(Shape(params))
}

/// halo2's evaluation domain for a degree-`j` constraint system of `2^k` rows, as
/// `EvaluationDomain::new` makes it but without its FFT twiddle tables — a verifier runs no
/// FFT, and building them costs seconds and gigabytes at large `k`.
fn verifier_domain(j: u32, k: u32) -> EvaluationDomain<Fr> {
    let quotient_poly_degree = u64::from(j - 1);
    let n = 1u64 << k;
    let mut extended_k = k;
    while (1u64 << extended_k) < n * quotient_poly_degree {
        extended_k += 1;
    }
    let mut extended_omega = Fr::ROOT_OF_UNITY;
    for _ in extended_k..Fr::S {
        extended_omega = extended_omega.square();
    }
    let mut omega = extended_omega;
    for _ in k..extended_k {
        omega = omega.square();
    }
    let mut t_evaluations = Vec::with_capacity(1 << (extended_k - k));
    let orig = Fr::ZETA.pow_vartime([n]);
    let step = extended_omega.pow_vartime([n]);
    let mut cur = orig;
    loop {
        t_evaluations.push(cur - Fr::ONE);
        cur *= step;
        if cur == orig {
            break;
        }
    }
    let mut inverses = [
        Fr::from(n),
        Fr::from(1u64 << extended_k),
        Fr::from(n),
        omega,
        extended_omega,
    ];
    t_evaluations
        .iter_mut()
        .chain(inverses.iter_mut())
        .batch_invert();
    let [ifft_divisor, extended_ifft_divisor, barycentric_weight, omega_inv, extended_omega_inv] =
        inverses;
    EvaluationDomain {
        n,
        k,
        extended_k,
        omega,
        omega_inv,
        extended_omega,
        extended_omega_inv,
        g_coset: Fr::ZETA,
        g_coset_inv: Fr::ZETA.square(),
        quotient_poly_degree,
        ifft_divisor,
        extended_ifft_divisor,
        t_evaluations,
        barycentric_weight,
        fft_data: Default::default(),
    }
}

/// Reads a verifying key (halo2's compressed format) of the circuit of shape `shape` with
/// `2^k` rows (any `k` up to [`MAX_VERIFY_K`] if `None`), refusing anything but the one encoding
/// of a well-formed key. Built from its parts as halo2's reader builds it, with a domain for
/// verifying only (`verifier_domain`): the same key, the same transcript representation.
pub fn read_vk(
    bytes: &[u8],
    k: Option<u32>,
    shape: Shape,
) -> Result<VerifyingKey<G1Affine>, BundleError> {
    let (version, vk_k, compress, fixed) = match bytes {
        [v, a, b, c, d, s, e, f, g, h, ..] => (
            *v,
            u32::from_le_bytes([*a, *b, *c, *d]),
            *s,
            u32::from_le_bytes([*e, *f, *g, *h]),
        ),
        _ => return Err(damaged("verifying key truncated")),
    };
    let max = k.map_or(MAX_VERIFY_K, |_| srs::MAX_SRS_K);
    if version != 2 || vk_k > max || k.is_some_and(|k| k != vk_k) || compress != 0 {
        return Err(damaged(format!(
            "verifying key of format {version} for 2^{vk_k} rows"
        )));
    }
    let mut cs = ConstraintSystem::<Fr>::default();
    let built = catch_unwind(AssertUnwindSafe(|| {
        ModelCircuit::configure_with_params(&mut cs, shape);
        cs
    }));
    let Ok(cs) = built else {
        return Err(damaged("circuit shape unusable"));
    };
    if cs.num_selectors() != 0 || fixed as usize != cs.num_fixed_columns() {
        return Err(damaged(
            "verifying key has the wrong number of fixed commitments",
        ));
    }
    let (cs, _) = cs.directly_convert_selectors_to_fixed(Vec::new());
    let mut reader = &bytes[10..];
    let mut points = |count: usize| -> Result<Vec<G1Affine>, BundleError> {
        (0..count)
            .map(|_| {
                G1Affine::read(&mut reader, SerdeFormat::Processed)
                    .map_err(|e| damaged(format!("verifying key: {e}")))
            })
            .collect()
    };
    let fixed_commitments = points(cs.num_fixed_columns())?;
    let sigmas = points(cs.permutation().get_columns().len())?;
    let domain = verifier_domain(cs.degree() as u32, vk_k);
    let vk = VerifyingKey::from_parts(
        domain,
        fixed_commitments,
        PermutationKey::from_commitments(sigmas),
        cs,
        Vec::new(),
        false,
    );
    if vk_bytes(&vk) != bytes {
        return Err(damaged("verifying key not canonically encoded"));
    }
    Ok(vk)
}

impl Bundle {
    /// The bundle of `keys`.
    pub fn of(keys: &Keys) -> Self {
        let f = keys.model.file();
        let s_g2 = keys.srs.s_g2();
        let file = BundleFile {
            version: BUNDLE_VERSION,
            model: ModelInfo {
                hash: keys.model_hash,
                name: f.name.clone(),
                classes: f.classes.clone(),
                outputs: keys.model.output_len() as u32,
            },
            s_g2: s_g2.to_bytes().as_ref().to_vec(),
            circuit: postcard::to_allocvec(keys.layout.params()).unwrap_or_default(),
            vk: vk_bytes(&keys.vk),
        };
        Self {
            file,
            vk: keys.vk.clone(),
            vk_hash: keys.vk_hash,
            s_g2,
            srs_id: keys.srs_id,
            shape: Shape(*keys.layout.params()),
            params: srs::verifier_params(keys.srs.k(), s_g2),
        }
    }

    /// The bundle's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::from(MAGIC);
        out.extend(postcard::to_allocvec(&self.file).unwrap_or_default());
        out
    }

    /// Reads a bundle file.
    pub fn load(path: &Path) -> Result<Self, BundleError> {
        Self::from_bytes(&read_bounded(path, MAX_BUNDLE_FILE)?)
    }

    /// Parses and checks a bundle; never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, BundleError> {
        if bytes.len() as u64 > MAX_BUNDLE_FILE {
            return Err(damaged("too large"));
        }
        let body = bytes.strip_prefix(&MAGIC).ok_or(BundleError::BadMagic)?;
        let (file, rest) = postcard::take_from_bytes::<BundleFile>(body)
            .map_err(|_| damaged("truncated or not a bundle"))?;
        if !rest.is_empty() {
            return Err(damaged(format!("{} trailing bytes", rest.len())));
        }
        if file.version != BUNDLE_VERSION {
            return Err(BundleError::Version(file.version));
        }
        let mut again = Vec::from(MAGIC);
        again.extend(postcard::to_allocvec(&file).unwrap_or_default());
        if again != bytes {
            return Err(damaged("not canonically encoded"));
        }
        let s_g2 = srs::g2_from_bytes(&file.s_g2)
            .ok_or_else(|| damaged("[τ]₂ is not a canonically encoded point"))?;
        srs::check_g2(&G2Affine::generator(), &s_g2).map_err(damaged)?;
        if file.model.outputs == 0 || file.model.outputs > 1 << 16 {
            return Err(damaged(format!("{} outputs", file.model.outputs)));
        }
        let shape = circuit_params(&file.circuit)?;
        let vk = read_vk(&file.vk, None, shape)?;
        let k = vk.get_domain().k();
        Ok(Self {
            vk_hash: crate::files::hash(&file.vk),
            srs_id: SrsId {
                tau: srs::tau_digest(&s_g2),
                k,
            },
            params: srs::verifier_params(k, s_g2),
            s_g2,
            vk,
            shape,
            file,
        })
    }

    /// Why the SRS's secret is publicly known, if it is.
    pub fn insecure_srs(&self) -> Option<&'static str> {
        srs::known_secret(&self.s_g2)
    }

    /// Checks the bundle against what the verifier pinned, and refuses an SRS whose secret is
    /// public unless `pins` allow it.
    pub fn check_pins(&self, pins: &Pins) -> Result<(), BundleError> {
        if let Some(reason) = self.insecure_srs() {
            if !pins.allow_insecure_srs {
                return Err(BundleError::InsecureSrs { reason });
            }
        }
        if let Some(pinned) = pins.srs.filter(|p| *p != self.srs_id.tau) {
            return Err(BundleError::SrsNotPinned {
                keys: hex(&self.srs_id.tau),
                pinned: hex(&pinned),
            });
        }
        if let Some(pinned) = pins.vk_hash.filter(|p| *p != self.vk_hash) {
            return Err(BundleError::VkNotPinned {
                keys: hex(&self.vk_hash),
                pinned: hex(&pinned),
            });
        }
        Ok(())
    }

    /// Checks that the verifying key is `model`'s over `srs`, by deriving it (halo2's
    /// `keygen_vk`: it commits to the model's fixed columns, so it costs about an MSM of the
    /// circuit's size per fixed column, plus reading `srs`).
    pub fn check_model(&self, model: &Model, srs: &Srs) -> Result<(), BundleError> {
        // Keys that hash the weights name the model without them: the given model may have
        // its weights or not.
        let model = &public_model(model, self.shape.0.weights);
        let given = crate::files::hash(&model.to_bytes());
        if given != self.file.model.hash {
            return Err(BundleError::ModelMismatch {
                keys: hex(&self.file.model.hash),
                given: hex(&given),
            });
        }
        let id = SrsId::of(srs);
        if id.tau != self.srs_id.tau {
            return Err(BundleError::SrsMismatch {
                keys: hex(&self.srs_id.tau),
                given: hex(&id.tau),
            });
        }
        let derived = derive_vk_hash(model, srs, self.shape.0.input, self.shape.0.weights)?;
        if derived != self.vk_hash {
            return Err(BundleError::VkMismatch {
                derived: hex(&derived),
                keys: hex(&self.vk_hash),
            });
        }
        Ok(())
    }

    /// What a proof's header must say.
    pub fn expected(&self) -> Expected {
        Expected {
            model_hash: self.file.model.hash,
            vk_hash: self.vk_hash,
            srs: self.srs_id.tau,
            outputs: self.file.model.outputs as usize,
            // A public input of the wrong length does not match the verifying key's instance.
            inputs: None,
            input: self.shape.0.input,
            weights: self.shape.0.weights,
        }
    }

    /// Checks `proof` with halo2-axiom's verifier against this bundle (not against the pins:
    /// [`Bundle::check_pins`]).
    pub fn verify(&self, proof: &ProofFile) -> Result<(), ProofError> {
        proof::verify_with(&self.params, &self.vk, &self.expected(), proof)
    }

    /// How class `class` is shown: its label, or `#class` where the keys name none.
    pub fn label(&self, class: u32) -> String {
        zkedge_kernel::model::class_label(&self.file.model.classes, class as usize)
    }
}

/// The hash of `model`'s verifying key over `srs` (which must be cut to the model's `k`):
/// what a model's owner publishes so that verifiers can pin it.
pub fn derive_vk_hash(
    model: &Model,
    srs: &Srs,
    input: Visibility,
    weights: Weights,
) -> Result<[u8; 32], BundleError> {
    let model = &public_model(model, weights);
    let layout = Layout::with_visibility(model, input, weights)
        .map_err(|e| BundleError::Derive(e.to_string()))?;
    if layout.k() != srs.k() {
        return Err(BundleError::Derive(format!(
            "the model lays out at k = {}, the SRS has 2^{} points",
            layout.k(),
            srs.k()
        )));
    }
    let circuit = ModelCircuit::keygen(Arc::new(model.clone()), Arc::new(layout));
    // As `setup` derives it: keygen_vk where it fits in memory, else the columns' commitments.
    let vk = crate::keygen::verifying_key(srs, &circuit)
        .map_err(|e| BundleError::Derive(e.to_string()))?;
    Ok(crate::files::hash(&vk_bytes(&vk)))
}

/// What keys with `weights` name as their model: `model` itself, or with hashed weights `model`
/// with every weight and bias zeroed (the circuit does not depend on them; the proof carries
/// their hash).
pub fn public_model(model: &Model, weights: Weights) -> Model {
    match weights {
        Weights::Fixed => model.clone(),
        Weights::Hashed => model.without_weights(),
    }
}
