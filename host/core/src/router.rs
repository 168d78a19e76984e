//! The host driver's router: the generic [`accel_backends::Router`] — the same one a device
//! runs — with a registry backend as its accelerator, the CPU as its reference, and the wall
//! clock for its circuit breaker. See that type for what goes where and why.
//!
//! [`Router`] names the router's hooks; `Router::new(accel, policy)` gives the backend callers
//! use, the router behind the checked front (`Checked<Router>`).

use accel_backends::{Checked, CpuBackend};

pub use accel_backends::router::{BreakerConfig, BreakerState, Policy, RouterStats, StdClock};

use crate::backends::{DynBackend, Registry, RegistryError};

/// An accelerator from the registry with the CPU beside it (the hooks; see the module).
pub type Router = accel_backends::Router<DynBackend, CpuBackend, StdClock>;

/// What the accelerator kept and what went wrong with it during a run, for the line `prove`
/// prints: `NAME kept A of M jobs` (M: the jobs meant for it), then results checked, faults,
/// breaker trips and suspicion when there were any.
pub fn describe_faults(router: &Router, name: &str) -> String {
    let s = router.stats();
    let mut out = format!(
        "; {name} kept {} of {} jobs",
        s.accel_jobs,
        s.accel_jobs + s.fallbacks
    );
    if s.checked > 0 {
        out += &format!(
            " ({} results checked with {} extra MSMs, {} wrong)",
            s.checked, s.check_msms, s.wrong
        );
    }
    if s.faults > 0 {
        out += &format!("; {name} failed {} times", s.faults);
    }
    let trips = router.breaker().trips();
    if trips > 0 {
        out += &format!(" (its breaker opened {trips} times)");
    }
    if router.is_suspect() {
        out += &format!("; {name} is suspect: it returned wrong results");
    }
    out
}

/// What the router needs to check MSMs over the bases of `srs` (`G`, `H`, `[τ]H`, from
/// halo2's parameters); `None` if its G2 points are not valid arkworks points.
pub fn srs_check(srs: &crate::srs::Srs) -> Option<accel_backends::router::check::SrsCheck> {
    use halo2_proofs::{halo2curves::bn256::G2Affine as H2G2, poly::commitment::ParamsProver};
    let g2 = |p: H2G2| {
        let fq = crate::convert::fq;
        let fq2 =
            |x: &halo2_proofs::halo2curves::bn256::Fq2| ark_bn254::Fq2::new(fq(&x.c0), fq(&x.c1));
        let p = ark_bn254::G2Affine::new_unchecked(fq2(&p.x), fq2(&p.y));
        (p.is_on_curve() && p.is_in_correct_subgroup_assuming_on_curve()).then_some(p)
    };
    let g1 = crate::convert::point(srs.get_g().first()?);
    Some(accel_backends::router::check::SrsCheck {
        g1,
        g2: g2(srs.g2())?,
        tau_g2: g2(srs.s_g2())?,
    })
}

/// `accel` behind a router by `policy`, every result it returns checked
/// ([`check_results`]): the one way an accelerator is put to work, so no caller forgets the
/// checks (they must be on before bases are loaded, which is when a basis is recognised as
/// checkable).
pub fn checked(accel: DynBackend, policy: Policy, srs: &crate::srs::Srs) -> Checked<Router> {
    let mut router = Router::new(accel, policy);
    check_results(&mut router, srs);
    router
}

/// The router for `spec`: the reference alone when `spec` names it, else the accelerator
/// ([`checked`]); an accelerator that cannot be opened (its handshake fails) leaves the jobs
/// to the reference, and the reason comes back for a warning.
pub fn open(
    registry: &Registry,
    spec: &str,
    policy: Policy,
    srs: &crate::srs::Srs,
) -> Result<(Checked<Router>, Option<RegistryError>), RegistryError> {
    let reference = || -> Result<Checked<Router>, RegistryError> {
        Ok(Router::new(registry.reference()?, Policy::NONE))
    };
    if registry.is_reference(spec) {
        return Ok((reference()?, None));
    }
    match registry.create(spec) {
        Ok(accel) => Ok((checked(accel, policy, srs), None)),
        Err(e @ RegistryError::Create { .. }) => Ok((reference()?, Some(e))),
        Err(e) => Err(e),
    }
}

/// Checks every accelerator result `router` gets (NTTs, and MSMs over the bases of `srs`),
/// with challenges from the operating system's randomness; MSMs that cannot be checked stay
/// on the CPU.
pub fn check_results(router: &mut Checked<Router>, srs: &crate::srs::Srs) {
    use rand::RngCore;
    let mut seed = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let config = accel_backends::router::CheckConfig {
        srs: srs_check(srs),
        ntt: true,
        require: true,
    };
    router.hooks_mut().check_results(config, seed);
}

#[cfg(test)]
mod tests {
    use ark_ec::AffineRepr;

    #[test]
    fn the_srs_check_key_is_halo2s_generators_in_arkworks() {
        let srs = crate::srs::dev(4);
        let check = super::srs_check(&srs).expect("valid G2 points");
        assert_eq!(check.g2, ark_bn254::G2Affine::generator());
        assert_eq!(check.g1, ark_bn254::G1Affine::generator());
        assert_ne!(check.tau_g2, check.g2);
        // [τ]G from the SRS pairs with H as G with [τ]H.
        let (monomial, lagrange) = crate::zk_prover::bases(&srs);
        use accel_backends::router::check::Basis;
        assert_eq!(check.classify(&monomial), Some(Basis::Monomial));
        assert!(matches!(
            check.classify(&lagrange),
            Some(Basis::Lagrange(_))
        ));
    }
}
