//! Proofs made with scalar-width hints (the prover's narrow commitments on the CPU backend's
//! small-scalar path) are byte for byte the proofs of a reference backend that ignores every
//! hint and computes each MSM at full width with arkworks — same randomness, same bytes — and
//! halo2-axiom's verifier accepts them.

use std::sync::Arc;

use accel_backends::{
    cpu::Cpu, BackendError, BackendHooks, BasesConfig, Capabilities, Checked, CpuBackend, Domain,
    Fr, G1Affine, G1Projective, Meter, MsmJob, NttOp,
};
use ark_ec::VariableBaseMSM;
use rand::{rngs::StdRng, SeedableRng};
use zkedge::{
    bundled,
    export::export,
    keys::{self, SrsOrigin},
    proof::{self, MultiOpen as FileMultiOpen, ProofFile, Revealed},
    srs,
    zk_prover::ZkProver,
};
use zkedge_kernel::{
    infer::infer,
    layout::Layout,
    model::Model,
    prover::{MultiOpen, ProvingKey},
};

/// Every MSM at full width by arkworks, whatever the job's hint; NTTs by the CPU's hooks.
/// Records the hints it was given.
struct ArkFull {
    bases: Vec<Vec<G1Affine>>,
    ntt: Cpu,
    hints: Vec<(usize, u32)>,
}

impl BackendHooks for ArkFull {
    fn name(&self) -> &str {
        "arkworks-full-width"
    }

    fn capabilities(&self) -> Capabilities {
        self.ntt.capabilities()
    }

    fn bases_len(&self, id: u32) -> Option<usize> {
        self.bases.get(id as usize).map(Vec::len)
    }

    fn load_bases_unchecked(
        &mut self,
        bases: &[G1Affine],
        _: BasesConfig,
        _: &mut Meter,
    ) -> Result<u32, BackendError> {
        self.bases.push(bases.to_vec());
        Ok(self.bases.len() as u32 - 1)
    }

    fn release_bases_unchecked(&mut self, id: u32, _: &mut Meter) -> Result<(), BackendError> {
        // Ids are never reused: keep the slot, empty.
        self.bases[id as usize].clear();
        Ok(())
    }

    fn msm_unchecked(
        &mut self,
        job: &MsmJob<'_>,
        _: &mut Meter,
    ) -> Result<G1Projective, BackendError> {
        self.hints.push((job.scalars.len(), job.scalar_bits));
        let bases = &self.bases[job.bases.id() as usize][job.start..][..job.scalars.len()];
        Ok(G1Projective::msm(bases, job.scalars).expect("lengths match"))
    }

    fn ntt_unchecked(
        &mut self,
        values: &mut [Fr],
        domain: &Domain,
        op: NttOp,
        meter: &mut Meter,
    ) -> Result<(), BackendError> {
        self.ntt.ntt_unchecked(values, domain, op, meter)
    }
}

#[test]
fn hinted_proofs_equal_full_width_proofs_and_verify() {
    let model = Model::from_json(bundled::MODEL_JSON).unwrap();
    let input = bundled::samples().unwrap().inputs.swap_remove(2);
    let k = Layout::new(&model).unwrap().k();
    let keys = keys::generate(model, srs::dev(k), SrsOrigin::InsecureDev).unwrap();
    let key = || ProvingKey::from_file(export(keys.pk.as_ref().unwrap()).unwrap()).unwrap();
    let trace = infer(&keys.model, &input).unwrap();
    let witness = Arc::new(keys.layout.witness(&keys.model, &trace).unwrap());

    let mut cpu = ZkProver::new(key(), &keys.srs, CpuBackend::new()).unwrap();
    let reference = Checked::from_hooks(ArkFull {
        bases: Vec::new(),
        ntt: Cpu::new(),
        hints: Vec::new(),
    });
    let mut full = ZkProver::new(key(), &keys.srs, reference).unwrap();
    let seed = accel_conformance::test_seed("width_hints");
    for (multiopen, file_multiopen) in [
        (MultiOpen::Gwc, FileMultiOpen::Gwc),
        (MultiOpen::Shplonk, FileMultiOpen::Shplonk),
    ] {
        let mine = cpu
            .prove_witness(&witness, multiopen, &mut StdRng::seed_from_u64(seed))
            .unwrap();
        let theirs = full
            .prove_witness(&witness, multiopen, &mut StdRng::seed_from_u64(seed))
            .unwrap();
        assert!(
            mine.bytes == theirs.bytes,
            "{multiopen:?}: the hinted proof differs from the full-width one"
        );
        let file = ProofFile::new(
            &keys,
            file_multiopen,
            trace.output().to_vec(),
            trace.class() as u32,
            Revealed::Nothing,
            mine.bytes,
        );
        proof::verify(&keys, &file).unwrap();
    }
    // The prover did hand narrow jobs over: the advice columns' usable rows.
    let hints = &full.backend().hints;
    let narrow: Vec<&(usize, u32)> = hints.iter().filter(|(_, bits)| *bits < 253).collect();
    eprintln!(
        "{} MSM jobs, {} narrow: {narrow:?}",
        hints.len(),
        narrow.len()
    );
    let advice = keys.layout.advice_columns().count();
    assert!(
        narrow.len() >= 2 * advice,
        "expected every advice column (twice: GWC and SHPLONK) as a narrow job"
    );
    assert!(narrow.iter().all(|(_, bits)| *bits <= 64));
}
