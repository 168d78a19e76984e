//! A keys directory: the model, the SRS, halo2's verifying and proving keys, the verifier bundle,
//! and a manifest that binds them together with BLAKE2b hashes.
//!
//! halo2's key readers trust their input (a damaged proving key panics inside halo2), so every
//! file is size-bounded and hash-checked against the manifest before halo2 sees it. The manifest
//! guards against damage and mix-ups, not against whoever wrote the directory: `zkedge verify`
//! does not read it (it reads `verifier.zkv`, [`crate::bundle`]), and nothing in it is trusted
//! because it says so.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
    sync::Arc,
};

use halo2_proofs::{
    halo2curves::{bn256::G1Affine, ff::PrimeField},
    plonk::{keygen_pk, ProvingKey, VerifyingKey},
    SerdeFormat,
};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use zkedge_kernel::{
    layout::{Layout, LayoutError, Visibility, Weights},
    model::{Model, ModelError, MAX_FILE_BYTES},
};

pub use crate::keygen::{Halo2Key, SetupStep, VkSource};
use crate::{
    circuit::{ModelCircuit, Shape},
    files::{hash_hex, read_bounded, FileError},
    srs::{self, Srs, SrsError, SrsId},
};

/// The manifest's format tag.
const FORMAT: &str = "zkedge-keys";
/// The keys format version this build reads and writes (2: compressed `vk.bin`, the SRS's
/// identity, `verifier.zkv`).
pub const KEYS_VERSION: u32 = 2;

const MANIFEST: &str = "manifest.json";
const MODEL: &str = "model.zkm";
const PARAMS: &str = "params.srs";
const VK: &str = "vk.bin";
const PK: &str = "pk.bin";
const ZPK: &str = "zkedge.zpk";
/// The verifier bundle's name in a keys directory.
pub const BUNDLE: &str = "verifier.zkv";

/// Where the SRS came from, as given at setup: for people reading the manifest. Nothing trusts
/// it: the SRS is known by its points ([`SrsId`], [`srs::known_secret`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SrsOrigin {
    /// The deterministic development SRS; its secret is public.
    InsecureDev,
    /// A file, named by the path given at setup.
    File(String),
}

/// `manifest.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// `"zkedge-keys"`.
    pub format: String,
    /// [`KEYS_VERSION`].
    pub version: u32,
    /// The model's name.
    pub model: String,
    /// log2 of the circuit's rows.
    pub k: u32,
    /// Where the SRS came from (information only).
    pub srs: SrsOrigin,
    /// The SRS's identity: [`SrsId::tau`] in hex.
    pub srs_id: String,
    /// What proofs reveal of the input (absent in keys made before visibilities: private).
    #[serde(default)]
    pub input: Visibility,
    /// Whether the weights are in the verifying key or hashed (absent in keys made before
    /// hashed weights: fixed).
    #[serde(default)]
    pub weights: Weights,
    /// BLAKE2b-256 (hex) of each file.
    pub files: BTreeMap<String, String>,
}

/// Why a keys directory could not be made or used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeysError {
    /// A file is unreadable or oversized.
    #[error(transparent)]
    File(#[from] FileError),
    /// The manifest is not one.
    #[error("{path}: not a zkedge keys manifest ({reason}); run `zkedge setup` to make keys")]
    Manifest {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A file does not match the manifest.
    #[error("{path} does not match the manifest's hash (damaged, or from other keys); re-run `zkedge setup`")]
    Hash {
        /// The file.
        path: String,
    },
    /// The model in the keys is invalid.
    #[error("the keys' model: {0}")]
    Model(#[from] ModelError),
    /// The model cannot be laid out.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The SRS is unusable.
    #[error(transparent)]
    Srs(#[from] SrsError),
    /// halo2 rejected something.
    #[error("halo2: {0}")]
    Halo2(String),
    /// The verifying key does not read back.
    #[error("{path}: {reason}; re-run `zkedge setup`")]
    Vk {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// halo2's proving key was not made at setup.
    #[error(
        "{dir} holds no halo2 proving key (pk.bin) for --prover halo2; re-run `zkedge setup` \
         with --halo2-key always, or prove with the zkedge prover"
    )]
    NoHalo2Key {
        /// The keys directory.
        dir: String,
    },
    /// Writing failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Everything needed to prove and verify for one model.
pub struct Keys {
    /// The manifest.
    pub manifest: Manifest,
    /// The model.
    pub model: Arc<Model>,
    /// Its circuit layout.
    pub layout: Arc<Layout>,
    /// The SRS, cut to the circuit's size.
    pub srs: Srs,
    /// halo2's verifying key.
    pub vk: VerifyingKey<G1Affine>,
    /// halo2's proving key (loaded only when asked for: [`Parts`]; made at setup as
    /// [`Halo2Key`] says).
    pub pk: Option<ProvingKey<G1Affine>>,
    /// The zkedge prover's key (loaded only when asked for: [`Parts`]).
    pub zk: Option<zkedge_kernel::prover::ProvingKey>,
    /// BLAKE2b-256 of the model's binary form (with hashed weights, of the model with its
    /// weights zeroed: [`crate::bundle::public_model`]).
    pub model_hash: [u8; 32],
    /// The Poseidon hash of the model's weights (hashed weights), as proofs carry it: a
    /// canonical scalar, little-endian.
    pub weights_hash: Option<[u8; 32]>,
    /// BLAKE2b-256 of the model as the prover holds it, weights included: what a device's
    /// session and a cluster job name the model by (the same as `model_hash` but with hashed
    /// weights, where models of one architecture share `model_hash`).
    pub model_id: [u8; 32],
    /// BLAKE2b-256 of the verifying key's bytes (`vk.bin`: halo2's compressed format).
    pub vk_hash: [u8; 32],
    /// The SRS's identity.
    pub srs_id: SrsId,
}

/// Which proving keys [`Keys::load`] reads besides what verification needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parts {
    /// None: enough to verify.
    Verify,
    /// The zkedge prover's key (`zkedge.zpk`).
    Zkedge,
    /// halo2's proving key (`pk.bin`), for `--prover halo2`.
    Halo2,
    /// Both.
    All,
}

fn halo2<E: std::fmt::Debug>(e: E) -> KeysError {
    KeysError::Halo2(format!("{e:?}"))
}

/// Generates keys for `model` over `srs` (already sized to the model's `k`): the verifying key
/// and halo2's proving key chosen automatically ([`VkSource::Auto`], [`Halo2Key::Auto`]).
pub fn generate(model: Model, srs: Srs, origin: SrsOrigin) -> Result<Keys, KeysError> {
    generate_with(model, srs, origin, Visibility::Private)
}

/// As [`generate`], with `input` visibility.
pub fn generate_with(
    model: Model,
    srs: Srs,
    origin: SrsOrigin,
    input: Visibility,
) -> Result<Keys, KeysError> {
    generate_visible(model, srs, origin, input, Weights::Fixed)
}

/// As [`generate`], with `input` visibility and `weights`.
pub fn generate_visible(
    model: Model,
    srs: Srs,
    origin: SrsOrigin,
    input: Visibility,
    weights: Weights,
) -> Result<Keys, KeysError> {
    let layout = Layout::with_visibility(&model, input, weights)?;
    generate_choosing(
        model,
        layout,
        srs,
        origin,
        VkSource::Auto,
        Halo2Key::Auto,
        &mut |_| {},
    )
}

/// [`generate_with`] for `model` laid out as `layout` (the caller has it already), with the
/// keys' sources chosen, telling `step` what it starts.
#[allow(clippy::too_many_arguments)]
pub fn generate_choosing(
    model: Model,
    layout: Layout,
    srs: Srs,
    origin: SrsOrigin,
    vk_source: VkSource,
    halo2_key: Halo2Key,
    step: &mut dyn FnMut(SetupStep),
) -> Result<Keys, KeysError> {
    let layout = Arc::new(layout);
    let model = Arc::new(model);
    let circuit = ModelCircuit::keygen(model.clone(), layout.clone());
    // The zkedge key without halo2's keygen_pk (crate::keygen).
    let (vk, zk, _) = crate::keygen::keys(&srs, &circuit, vk_source, step).map_err(halo2)?;
    let zk = Some(zk);
    let pk = if halo2_key.wanted(&vk) {
        step(SetupStep::Halo2ProvingKey);
        Some(keygen_pk(&srs, vk.clone(), &circuit).map_err(halo2)?)
    } else {
        None
    };
    let (model_hash, weights_hash, model_id) = hashes(&model, &layout);
    let vk_hash = crate::files::hash(&vk_bytes(&vk));
    let srs_id = SrsId::of(&srs);
    let manifest = Manifest {
        format: FORMAT.into(),
        version: KEYS_VERSION,
        model: model.file().name.clone(),
        k: layout.k(),
        srs: origin,
        srs_id: srs::hex(&srs_id.tau),
        input: layout.input_visibility(),
        weights: layout.weights(),
        files: BTreeMap::new(),
    };
    Ok(Keys {
        manifest,
        model,
        layout,
        srs,
        vk,
        pk,
        zk,
        model_hash,
        weights_hash,
        model_id,
        vk_hash,
        srs_id,
    })
}

/// The model's hash as keys name it, the weights' hash where the layout hashes them, and the
/// hash of the model as the prover holds it (the first one where the weights are fixed).
fn hashes(model: &Model, layout: &Layout) -> ([u8; 32], Option<[u8; 32]>, [u8; 32]) {
    let model_id = crate::files::hash(&model.to_bytes());
    match layout.weights() {
        Weights::Fixed => (model_id, None, model_id),
        Weights::Hashed => (
            crate::files::hash(&model.without_weights().to_bytes()),
            Some(crate::proof::weights_hash(model).to_repr()),
            model_id,
        ),
    }
}

/// The verifying key's bytes: halo2's compressed format (every point decompressed and so
/// checked on reading; one encoding per key, so its hash names it).
pub fn vk_bytes(vk: &VerifyingKey<G1Affine>) -> Vec<u8> {
    let mut out = Vec::new();
    vk.write(&mut out, SerdeFormat::Processed)
        .unwrap_or_default();
    out
}

impl Keys {
    /// Writes the keys into `dir` (created if missing).
    pub fn save(&mut self, dir: &Path) -> Result<(), KeysError> {
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.join(name);
            fs::write(&path, bytes).map_err(|source| KeysError::Write {
                path: path.display().to_string(),
                source,
            })
        };
        fs::create_dir_all(dir).map_err(|source| KeysError::Write {
            path: dir.display().to_string(),
            source,
        })?;
        self.manifest.files.clear();
        let mut files = vec![
            (MODEL, self.model.to_bytes()),
            (PARAMS, srs::to_bytes(&self.srs)),
            (VK, vk_bytes(&self.vk)),
            (BUNDLE, crate::bundle::Bundle::of(self).to_bytes()),
        ];
        if let Some(pk) = &self.pk {
            let mut pk_bytes = Vec::new();
            pk.write(&mut pk_bytes, SerdeFormat::RawBytes)
                .map_err(halo2)?;
            files.push((PK, pk_bytes));
        } else {
            // A pk.bin of earlier keys in this directory would not match these.
            let _ = fs::remove_file(dir.join(PK));
        }
        for (name, bytes) in &files {
            write(name, bytes)?;
            self.manifest.files.insert((*name).into(), hash_hex(bytes));
        }
        drop(files);
        // The largest file last, alone in memory beside the key it is written from.
        if let Some(zk) = &self.zk {
            let bytes = zk.to_bytes();
            write(ZPK, &bytes)?;
            self.manifest.files.insert(ZPK.into(), hash_hex(&bytes));
        }
        let manifest = serde_json::to_string_pretty(&self.manifest).unwrap_or_default();
        write(MANIFEST, manifest.as_bytes())
    }

    /// Reads a keys directory, with the proving keys `parts` asks for: `pk.bin` and `zkedge.zpk`
    /// are the largest files, and each prover needs only its own.
    pub fn load(dir: &Path, parts: Parts) -> Result<Keys, KeysError> {
        let path = |name: &str| -> PathBuf { dir.join(name) };
        let manifest_path = path(MANIFEST);
        let bad = |reason: String| KeysError::Manifest {
            path: manifest_path.display().to_string(),
            reason,
        };
        let text = read_bounded(&manifest_path, 1 << 16)?;
        let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
        if manifest.format != FORMAT {
            return Err(bad(format!("format is {:?}", manifest.format)));
        }
        if manifest.version != KEYS_VERSION {
            return Err(bad(format!(
                "version {} (this build reads {KEYS_VERSION})",
                manifest.version
            )));
        }
        if manifest.k > srs::MAX_SRS_K {
            return Err(bad(format!(
                "k = {} is beyond 2^{}",
                manifest.k,
                srs::MAX_SRS_K
            )));
        }
        let n = 1u64 << manifest.k;
        let checked = |name: &str, max: u64| -> Result<Vec<u8>, KeysError> {
            let bytes = read_bounded(&path(name), max)?;
            match manifest.files.get(name) {
                Some(h) if *h == hash_hex(&bytes) => Ok(bytes),
                _ => Err(KeysError::Hash {
                    path: path(name).display().to_string(),
                }),
            }
        };
        let model = Model::from_bytes(&checked(MODEL, MAX_FILE_BYTES as u64)?)?;
        let layout = Layout::with_visibility(&model, manifest.input, manifest.weights)?;
        if layout.k() != manifest.k {
            return Err(bad(format!(
                "k = {} but the model lays out at k = {}",
                manifest.k,
                layout.k()
            )));
        }
        let srs = srs::from_bytes(&checked(PARAMS, 4 + 64 * n + 128)?, manifest.k)?;
        let vk_raw = checked(VK, crate::bundle::MAX_BUNDLE_FILE)?;
        let (model, layout) = (Arc::new(model), Arc::new(layout));
        let vk = crate::bundle::read_vk(&vk_raw, Some(manifest.k), Shape(*layout.params()))
            .map_err(|e| KeysError::Vk {
                path: path(VK).display().to_string(),
                reason: match e {
                    crate::bundle::BundleError::Damaged(why) => {
                        format!("the verifying key is damaged ({why})")
                    }
                    e => e.to_string(),
                },
            })?;
        let zk = if matches!(parts, Parts::Zkedge | Parts::All) {
            let raw = checked(ZPK, 32 * n * 512 + (1 << 20))?;
            Some(zkedge_kernel::prover::ProvingKey::from_bytes(&raw).map_err(halo2)?)
        } else {
            None
        };
        if matches!(parts, Parts::Halo2 | Parts::All) && !manifest.files.contains_key(PK) {
            return Err(KeysError::NoHalo2Key {
                dir: dir.display().to_string(),
            });
        }
        let pk = if matches!(parts, Parts::Halo2 | Parts::All) {
            // Fixed and Lagrange polynomials, permutation polynomials and their cosets: a
            // generous bound per row.
            let pk_raw = checked(PK, 32 * n * 512 + (1 << 20))?;
            Some(guarded("the proving key", || {
                ProvingKey::<G1Affine>::read::<_, ModelCircuit>(
                    &mut pk_raw.as_slice(),
                    SerdeFormat::RawBytes,
                    Shape(*layout.params()),
                )
            })?)
        } else {
            None
        };
        let (model_hash, weights_hash, model_id) = hashes(&model, &layout);
        let vk_hash = crate::files::hash(&vk_raw);
        let srs_id = SrsId::of(&srs);
        Ok(Keys {
            manifest,
            model,
            layout,
            srs,
            vk,
            pk,
            zk,
            model_hash,
            weights_hash,
            model_id,
            vk_hash,
            srs_id,
        })
    }
}

/// Runs a halo2 reader, turning an error or a panic into a [`KeysError`]. The files were hash
/// checked first, so this only fires for keys that were wrong when they were written.
fn guarded<T>(what: &str, read: impl FnOnce() -> std::io::Result<T>) -> Result<T, KeysError> {
    match crate::quiet::catch(read) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(KeysError::Halo2(format!("reading {what}: {e}"))),
        Err(panic) => Err(KeysError::Halo2(format!(
            "reading {what}: malformed ({panic})"
        ))),
    }
}
