//! The zkedge prover (`zkedge_kernel::prover`) on any [`Backend`]: the SRS's bases loaded into
//! the backend once, the proving key prepared with it, then as many proofs as wanted.

use accel_backends::{Backend, BasesConfig, Fr, G1Affine};
use halo2_proofs::{
    halo2curves::bn256::G1Affine as H2G1Affine, poly::commitment::Params, SerdeCurveAffine,
    SerdeFormat,
};
use rand::{CryptoRng, RngCore};
use zkedge_kernel::{
    layout::Witness,
    prover::{
        self, KeyError, MultiOpen, Options, Prepared, Progress, Proof, ProveError, ProvingKey,
        Srs as BackendSrs,
    },
};

use crate::{convert::point, srs::Srs};

/// The SRS's monomial and Lagrange bases in arkworks form. halo2 keeps the Lagrange basis
/// private, so it is read back from the SRS's own serialisation.
pub fn bases(srs: &Srs) -> (Vec<G1Affine>, Vec<G1Affine>) {
    let n = srs.n() as usize;
    let mut bytes = Vec::new();
    // Writing to a Vec cannot fail.
    srs.write_custom(&mut bytes, SerdeFormat::RawBytes)
        .unwrap_or_default();
    let mut reader = bytes.get(4..).unwrap_or_default();
    let mut read = |count: usize| -> Vec<G1Affine> {
        (0..count)
            .map_while(|_| H2G1Affine::read(&mut reader, SerdeFormat::RawBytes).ok())
            .map(|p| point(&p))
            .collect()
    };
    let monomial = read(n);
    let lagrange = read(n);
    (monomial, lagrange)
}

/// A proving key prepared with a backend, and the SRS's bases loaded into it: proves on that
/// backend, lent per proof. `zkedge serve` lends it the backend its wire server owns;
/// [`ZkProver`] owns one.
pub struct Prover {
    srs: BackendSrs,
    prepared: Prepared,
    bases: BasesConfig,
}

/// Why the zkedge prover could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The proving key is invalid.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The backend refused the bases or a precomputation.
    #[error(transparent)]
    Prove(#[from] ProveError),
    /// The SRS has fewer points than the circuit has rows.
    #[error("the SRS has {have} points; the circuit needs {need}")]
    SrsTooShort {
        /// Points in the SRS.
        have: usize,
        /// Rows of the circuit.
        need: usize,
    },
}

/// The first `n` points of the SRS's monomial and Lagrange bases.
fn bases_for(srs: &Srs, n: usize) -> Result<(Vec<G1Affine>, Vec<G1Affine>), SetupError> {
    let (mut monomial, mut lagrange) = bases(srs);
    if monomial.len() < n || lagrange.len() < n {
        return Err(SetupError::SrsTooShort {
            have: monomial.len().min(lagrange.len()),
            need: n,
        });
    }
    monomial.truncate(n);
    lagrange.truncate(n);
    Ok((monomial, lagrange))
}

impl Prover {
    /// Loads the SRS's bases into `backend` (held as `bases` says) and prepares `key` with it.
    pub fn new<B: Backend + ?Sized>(
        key: ProvingKey,
        srs: &Srs,
        backend: &mut B,
        bases: BasesConfig,
    ) -> Result<Self, SetupError> {
        let (monomial, lagrange) = bases_for(srs, key.n())?;
        let load = |backend: &mut B, points: &[G1Affine]| {
            backend
                .load_bases_with(points, bases)
                .map_err(ProveError::from)
        };
        let srs = BackendSrs {
            monomial: load(backend, &monomial)?,
            lagrange: load(backend, &lagrange)?,
        };
        let prepared = Prepared::new(key, backend)?;
        Ok(Self {
            srs,
            prepared,
            bases,
        })
    }

    /// The prepared key (its quotient plan, the circuit's description).
    pub fn prepared(&self) -> &Prepared {
        &self.prepared
    }

    /// The SRS's handles in the backend.
    pub fn srs(&self) -> &BackendSrs {
        &self.srs
    }

    /// Loads the SRS's bases into `backend` again where they were released (a device on the
    /// link may release any handle); a no-op otherwise.
    pub fn ensure_loaded<B: Backend + ?Sized>(
        &mut self,
        backend: &mut B,
        srs: &Srs,
    ) -> Result<(), SetupError> {
        let n = self.prepared.key().n();
        let (monomial_gone, lagrange_gone) = (
            backend.bases_len(self.srs.monomial) != Some(n),
            backend.bases_len(self.srs.lagrange) != Some(n),
        );
        if !monomial_gone && !lagrange_gone {
            return Ok(());
        }
        let (monomial, lagrange) = bases_for(srs, n)?;
        let mut load = |points: &[G1Affine]| {
            backend
                .load_bases_with(points, self.bases)
                .map_err(ProveError::from)
        };
        if monomial_gone {
            self.srs.monomial = load(&monomial)?;
        }
        if lagrange_gone {
            self.srs.lagrange = load(&lagrange)?;
        }
        Ok(())
    }

    /// Proves with the given advice and instance columns on `backend` (the one the bases were
    /// loaded into).
    pub fn prove<B: Backend + ?Sized>(
        &self,
        backend: &mut B,
        advice: Vec<Vec<Fr>>,
        instance: &[Vec<Fr>],
        options: Options<'_>,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Proof, ProveError> {
        prover::prove_with(
            &self.prepared,
            backend,
            &self.srs,
            advice,
            instance,
            rng,
            options,
        )
    }

    /// Gives the SRS's bases slots back (a backend that cannot, its link gone, has nothing
    /// left to leak).
    pub fn release<B: Backend + ?Sized>(&self, backend: &mut B) {
        let _ = backend.release_bases(self.srs.monomial);
        let _ = backend.release_bases(self.srs.lagrange);
    }
}

/// A [`Prover`] with a backend of its own: ready to prove many times.
pub struct ZkProver<B: Backend> {
    backend: B,
    prover: Prover,
    progress: Option<Box<dyn Progress + Send>>,
}

impl<B: Backend> ZkProver<B> {
    /// Loads the SRS's bases into `backend` and prepares `key` with it.
    pub fn new(key: ProvingKey, srs: &Srs, mut backend: B) -> Result<Self, SetupError> {
        let prover = Prover::new(key, srs, &mut backend, BasesConfig::plain())?;
        Ok(Self {
            backend,
            prover,
            progress: None,
        })
    }

    /// Tells `progress` of each step of the proofs this prover makes from now on.
    pub fn set_progress(&mut self, progress: Box<dyn Progress + Send>) {
        self.progress = Some(progress);
    }

    /// The prepared key (its quotient plan, the circuit's description).
    pub fn prepared(&self) -> &Prepared {
        self.prover.prepared()
    }

    /// Proves with the given advice columns and instance columns.
    pub fn prove(
        &mut self,
        advice: Vec<Vec<Fr>>,
        instance: &[Vec<Fr>],
        multiopen: MultiOpen,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Proof, ProveError> {
        let mut options = Options::new(multiopen);
        if let Some(p) = self.progress.as_mut() {
            options = options.progress(p.as_mut());
        }
        self.prover
            .prove(&mut self.backend, advice, instance, options, rng)
    }

    /// Proves the model circuit's witness (from `zkedge_kernel::layout`).
    pub fn prove_witness(
        &mut self,
        witness: &Witness,
        multiopen: MultiOpen,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Proof, ProveError> {
        let (advice, instance) = witness.to_field();
        self.prove(advice, &instance, multiopen, rng)
    }

    /// The backend back, with whatever it counted.
    pub fn into_backend(mut self) -> B {
        // The SRS's handles would otherwise hold the backend's bases slots for good.
        self.prover.release(&mut self.backend);
        self.backend
    }

    /// The backend (for its counters).
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The backend, mutably (to reset its counters).
    pub fn backend_mut(&mut self) -> &mut B {
        &mut self.backend
    }
}
