//! [`IcicleBackend`]: the [`Backend`] trait over ICICLE's BN254 MSM and NTT.

use std::collections::BTreeMap;

use accel_backends::{
    width, BackendError, BackendHooks, BasesConfig, Capabilities, Checked, Domain, Fr, G1Affine,
    G1Projective, Meter, MsmJob, NttDirection, NttOp, Op,
};
use ark_ff::AdditiveGroup;
use icicle_bn254::curve::{
    G1Affine as IcicleAffine, G1Projective as IcicleProjective, ScalarField as IcicleFr,
};
use icicle_core::{
    msm::{self, MSMConfig},
    ntt::{self, NTTConfig, NTTDir, Ordering},
    projective::Projective as _,
};
use icicle_runtime::{
    memory::{DeviceVec, HostOrDeviceSlice, HostSlice},
    Device,
};
use rayon::prelude::*;

use crate::{
    convert,
    device::{self, DeviceChoice, Selected},
    domain::{self, Reorder},
    error::{self, SetupError, FAULT_BAD_OUTPUT},
};

/// log2 of the largest NTT on ICICLE's CPU device: its domain keeps a twiddle table and an
/// index of every twiddle, about 100 bytes a point.
const MAX_NTT_LOG_CPU: u32 = 24;
/// log2 of the largest NTT on a GPU.
const MAX_NTT_LOG_GPU: u32 = 27;
/// The most elements one batched NTT call moves to the device (512 MiB of scalars).
const BATCH_ELEMENTS: usize = 1 << 24;

/// Device memory that frees itself on the right device, and never panics doing so.
///
/// ICICLE's own `DeviceVec` panics in `drop` when the thread's active device is not the one
/// that owns the memory; this wrapper activates the owner first and logs a failed free instead.
struct DeviceBuffer<T> {
    vec: std::mem::ManuallyDrop<DeviceVec<T>>,
    device: Device,
}

impl<T> DeviceBuffer<T> {
    /// `count` (> 0) elements on `device`, which is active on this thread.
    fn alloc(count: usize, device: &Device, op: Op) -> Result<Self, BackendError> {
        let vec = DeviceVec::device_malloc(count).map_err(|e| error::map(e, op, count))?;
        Ok(Self {
            vec: std::mem::ManuallyDrop::new(vec),
            device: device.clone(),
        })
    }
}

impl<T> Drop for DeviceBuffer<T> {
    fn drop(&mut self) {
        if device::activate(&self.device).is_err() {
            tracing::warn!(target: "accel_icicle", "cannot activate {:?} to free memory; leaked", self.device);
            return;
        }
        // SAFETY: the pointer came from `icicle_malloc` on `self.device` (now active) via
        // `DeviceVec::device_malloc`, is freed exactly once (here; the `DeviceVec` is never
        // dropped), and nothing refers to it after `self` is gone.
        let status = unsafe { icicle_runtime::runtime::icicle_free(self.vec.as_mut_ptr().cast()) };
        if status != icicle_runtime::eIcicleError::Success {
            tracing::warn!(target: "accel_icicle", "ICICLE could not free device memory on {:?}", self.device);
        }
    }
}

/// One loaded set of bases: canonical affine points on the device.
enum Bases {
    /// No points (ICICLE cannot allocate zero bytes).
    Empty,
    /// The points, on the device.
    On(DeviceBuffer<IcicleAffine>),
}

impl Bases {
    fn len(&self) -> usize {
        match self {
            Self::Empty => 0,
            Self::On(buffer) => buffer.vec.len(),
        }
    }
}

/// BN254 MSMs and NTTs on an ICICLE device: a CUDA GPU, or ICICLE's CPU device.
///
/// Bases are converted once per handle to ICICLE's canonical form and stay on the device;
/// MSMs run over any sub-range of them with the caller's scalars shared zero-copy (Montgomery
/// form). NTTs run over ICICLE's process-wide domain, which always holds halo2's roots (see
/// [`crate::domain`]). Every call first activates the backend's device on the calling thread.
///
/// An MSM whose [`scalar_bits`](MsmJob::scalar_bits) hint is narrow passes it to ICICLE as
/// its `bitsize`: as one MSM when no scalar is negative, else as two (the positive scalars and
/// the magnitudes of the negative ones) whose difference is the sum — ICICLE reads scalars
/// as unsigned integers, and an int8 column's `−3` is `r − 3` to it. A scalar wider than the
/// hint makes the job a full-width MSM.
///
/// ```no_run
/// use accel_backends::{Backend, Domain, Fr, G1Affine, NttOp};
/// use accel_icicle::{DeviceChoice, IcicleBackend};
/// use ark_ec::AffineRepr;
///
/// let mut gpu = IcicleBackend::new(&DeviceChoice::Auto)?;
/// eprintln!("{}", gpu.selected().note());
/// let g = G1Affine::generator();
/// let srs = gpu.load_bases(&[g, g])?;
/// assert_eq!(gpu.msm(srs, 0, &[Fr::from(1u64), Fr::from(2u64)])?, g * Fr::from(3u64));
/// let domain = Domain::with_halo2_root(3)?;
/// let mut v = [Fr::from(1u64); 8];
/// gpu.ntt(&mut v, &domain, NttOp::forward())?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct IcicleBackend {
    selected: Selected,
    bases: BTreeMap<u32, Bases>,
    next_handle: u32,
}

impl IcicleBackend {
    /// Picks the device `choice` names (see [`DeviceChoice`]) and makes it active on this
    /// thread. With [`DeviceChoice::Auto`] that is CUDA device 0 if ICICLE confirms one, else
    /// ICICLE's CPU device; [`selected`](Self::selected) says which, and why.
    ///
    /// The backend comes behind the checked front, as every zkedge backend does.
    pub fn new(choice: &DeviceChoice) -> Result<Checked<Self>, SetupError> {
        let selected = device::select(choice)?;
        tracing::info!(target: "accel_icicle", "{}", selected.note());
        Ok(Checked::from_hooks(Self {
            selected,
            bases: BTreeMap::new(),
            next_handle: 0,
        }))
    }

    /// The device doing the work.
    pub fn selected(&self) -> &Selected {
        &self.selected
    }

    /// Makes the backend's device active on the calling thread (ICICLE's is per thread).
    fn activate(&self, op: Op, elements: usize) -> Result<(), BackendError> {
        device::activate(&self.selected.device).map_err(|e| error::map(e, op, elements))
    }

    fn msm_inner(&self, job: &MsmJob<'_>) -> Result<G1Projective, BackendError> {
        let len = job.scalars.len();
        let end = job.start.saturating_add(len);
        let bases = match self.bases.get(&job.bases.id()) {
            None => return Err(BackendError::UnknownBases(job.bases)),
            Some(_) if len == 0 => return Ok(G1Projective::default()),
            Some(Bases::On(buffer)) if end <= buffer.vec.len() => buffer,
            Some(loaded) => {
                return Err(BackendError::BasesOutOfRange {
                    handle: job.bases,
                    start: job.start,
                    end,
                    loaded: loaded.len(),
                })
            }
        };
        self.activate(Op::Msm, len)?;
        let points = &bases.vec[job.start..end];
        let Some(narrow) = Narrow::split(job) else {
            return self.msm_on_device(job.scalars, points, 0);
        };
        let bits = job.scalar_bits as i32;
        let positive = self.msm_on_device(&narrow.positive, points, bits)?;
        if !narrow.any_negative {
            return Ok(positive);
        }
        Ok(positive - self.msm_on_device(&narrow.negative, points, bits)?)
    }

    /// One ICICLE MSM; `bitsize` 0 means the field's full width.
    fn msm_on_device(
        &self,
        scalars: &[Fr],
        points: &icicle_runtime::memory::DeviceSlice<IcicleAffine>,
        bitsize: i32,
    ) -> Result<G1Projective, BackendError> {
        let len = scalars.len();
        let mut config = MSMConfig::default();
        config.are_scalars_montgomery_form = true;
        // Canonical bases (see `convert`): ICICLE's CPU MSM ignores this flag anyway.
        config.are_bases_montgomery_form = false;
        config.bitsize = bitsize;
        let mut result = [IcicleProjective::zero()];
        msm::msm(
            HostSlice::from_slice(convert::scalars_as_icicle(scalars)),
            points,
            &config,
            HostSlice::from_mut_slice(&mut result),
        )
        .map_err(|e| error::map(e, Op::Msm, len))?;
        convert::sum(&result[0]).ok_or(error::fault(FAULT_BAD_OUTPUT))
    }

    /// Transforms every vector of `batch` (each of the domain's size) with one batched ICICLE
    /// NTT per chunk of at most [`BATCH_ELEMENTS`] elements: on a GPU the fixed cost of a call
    /// is paid once per chunk, not once per vector.
    fn ntt_many(
        &self,
        batch: &mut [&mut [Fr]],
        domain: &Domain,
        op: NttOp,
    ) -> Result<(), BackendError> {
        let n = domain.size();
        if n == 1 || batch.is_empty() {
            // Size 1: out[0] = in[0] both ways (g⁰ = 1, n⁻¹ = 1).
            return Ok(());
        }
        let reorder = Reorder::for_domain(domain)?;
        self.activate(Op::Ntt, n)?;
        let _domain = domain::lock(&self.selected.device, domain.log_n())?;

        let mut config = NTTConfig::<IcicleFr>::default();
        config.ordering = Ordering::kNN;
        if let Some(g) = op.coset {
            config.coset_gen = convert::scalar_canonical(g);
        }
        let dir = match op.direction {
            NttDirection::Forward => NTTDir::kForward,
            NttDirection::Inverse => NTTDir::kInverse,
        };
        let mask = n as u64 - 1;
        let per_chunk = (BATCH_ELEMENTS / n).max(1);
        // Scratch for a permuted copy, only when the caller's root is not halo2's.
        let mut scratch = match reorder {
            Reorder::None => Vec::new(),
            Reorder::Power(_) => vec![Fr::ZERO; n],
        };
        for chunk in batch.chunks_mut(per_chunk) {
            let total = n * chunk.len();
            let fail = |e| error::map(e, Op::Ntt, total);
            let mut buffer =
                DeviceBuffer::<IcicleFr>::alloc(total, &self.selected.device, Op::Ntt)?;
            config.batch_size =
                i32::try_from(chunk.len()).map_err(|_| BackendError::SizeUnsupported {
                    op: Op::Ntt,
                    size: total,
                    max: i32::MAX as usize,
                })?;

            // In: the caller's values, or (inverse over another root) in'[i·j mod n] = in[i].
            for (k, values) in chunk.iter().enumerate() {
                let source: &[Fr] = match (reorder, op.direction) {
                    (Reorder::Power(j), NttDirection::Inverse) => {
                        for (i, v) in values.iter().enumerate() {
                            scratch[domain::permuted(i, j, mask)] = *v;
                        }
                        &scratch
                    }
                    _ => values,
                };
                buffer.vec[k * n..(k + 1) * n]
                    .copy_from_host(HostSlice::from_slice(convert::scalars_as_icicle(source)))
                    .map_err(fail)?;
            }

            // Montgomery-form integers in, Montgomery-form integers out: the NTT is linear.
            ntt::ntt_inplace::<IcicleFr, IcicleFr>(&mut buffer.vec[..], dir, &config)
                .map_err(fail)?;

            // Out: ICICLE's order, or (forward over another root) out[i] = icicle[i·j mod n].
            for (k, values) in chunk.iter_mut().enumerate() {
                let device = &buffer.vec[k * n..(k + 1) * n];
                match (reorder, op.direction) {
                    (Reorder::Power(j), NttDirection::Forward) => {
                        device
                            .copy_to_host(HostSlice::from_mut_slice(
                                convert::scalars_as_icicle_mut(&mut scratch),
                            ))
                            .map_err(fail)?;
                        for (i, v) in values.iter_mut().enumerate() {
                            *v = scratch[domain::permuted(i, j, mask)];
                        }
                    }
                    _ => device
                        .copy_to_host(HostSlice::from_mut_slice(convert::scalars_as_icicle_mut(
                            values,
                        )))
                        .map_err(fail)?,
                }
                if !convert::all_reduced(values) {
                    return Err(error::fault(FAULT_BAD_OUTPUT));
                }
            }
        }
        Ok(())
    }
}

/// A narrow job's scalars as ICICLE can take them: unsigned, so the negative ones apart.
struct Narrow {
    /// The non-negative scalars (0 where the scalar is negative).
    positive: Vec<Fr>,
    /// The magnitudes of the negative scalars (0 elsewhere).
    negative: Vec<Fr>,
    any_negative: bool,
}

impl Narrow {
    /// `None` for a full-width job, or one with a scalar wider than its hint.
    fn split(job: &MsmJob<'_>) -> Option<Self> {
        if !job.is_narrow() {
            return None;
        }
        let n = job.scalars.len();
        let (mut positive, mut negative) = (vec![Fr::ZERO; n], vec![Fr::ZERO; n]);
        let mut any_negative = false;
        for (i, s) in job.scalars.iter().enumerate() {
            use ark_ff::BigInteger as _;
            let (neg, m) = width::signed(s);
            if m.num_bits() > job.scalar_bits {
                return None;
            }
            if neg {
                negative[i] = -*s;
                any_negative = true;
            } else {
                positive[i] = *s;
            }
        }
        Some(Self {
            positive,
            negative,
            any_negative,
        })
    }
}

impl BackendHooks for IcicleBackend {
    fn name(&self) -> &str {
        "icicle"
    }

    fn capabilities(&self) -> Capabilities {
        let max_ntt = if self.selected.is_cpu() {
            MAX_NTT_LOG_CPU
        } else {
            MAX_NTT_LOG_GPU
        };
        // ICICLE takes sizes as i32.
        let max = i32::MAX as usize;
        Capabilities::new(max, max, u32::MAX, max_ntt)
    }

    fn bases_len(&self, id: u32) -> Option<usize> {
        self.bases.get(&id).map(Bases::len)
    }

    fn load_bases_unchecked(
        &mut self,
        bases: &[G1Affine],
        _config: BasesConfig,
        _meter: &mut Meter,
    ) -> Result<u32, BackendError> {
        let raw = self.next_handle;
        // Handles are never reused, so a stale handle cannot alias a newer set of bases.
        let next = raw
            .checked_add(1)
            .ok_or(BackendError::NoBasesSlot { max: u32::MAX })?;
        let loaded = if bases.is_empty() {
            Bases::Empty
        } else {
            let mut host = Vec::new();
            host.try_reserve_exact(bases.len())
                .map_err(|_| BackendError::OutOfMemory {
                    elements: bases.len(),
                })?;
            bases
                .par_iter()
                .map(convert::base)
                .collect_into_vec(&mut host);
            self.activate(Op::LoadBases, bases.len())?;
            let mut buffer =
                DeviceBuffer::alloc(bases.len(), &self.selected.device, Op::LoadBases)?;
            buffer
                .vec
                .copy_from_host(HostSlice::from_slice(&host))
                .map_err(|e| error::map(e, Op::LoadBases, bases.len()))?;
            Bases::On(buffer)
        };
        self.next_handle = next;
        self.bases.insert(raw, loaded);
        Ok(raw)
    }

    fn release_bases_unchecked(&mut self, id: u32, _meter: &mut Meter) -> Result<(), BackendError> {
        self.bases
            .remove(&id)
            .map(drop)
            .ok_or(BackendError::UnknownBases(
                accel_backends::BasesHandle::detached(id),
            ))
    }

    fn msm_unchecked(
        &mut self,
        job: &MsmJob<'_>,
        _meter: &mut Meter,
    ) -> Result<G1Projective, BackendError> {
        self.msm_inner(job)
    }

    fn ntt_unchecked(
        &mut self,
        values: &mut [Fr],
        domain: &Domain,
        op: NttOp,
        _meter: &mut Meter,
    ) -> Result<(), BackendError> {
        self.ntt_many(&mut [values], domain, op)
    }

    fn ntt_batch_unchecked(
        &mut self,
        batch: &mut [&mut [Fr]],
        domain: &Domain,
        op: NttOp,
        _meter: &mut Meter,
    ) -> Result<(), BackendError> {
        self.ntt_many(batch, domain, op)
    }
}

impl std::fmt::Debug for IcicleBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IcicleBackend")
            .field("device", &self.selected.to_string())
            .field("bases_sets", &self.bases.len())
            .finish()
    }
}
