//! The router against the conformance suite: split by size between the simulator and the CPU,
//! and with a simulator too small for some jobs (which fall back to the CPU).

use accel_backends::Checked;
use accel_conformance::Limits;
use zkedge::router::{Policy, Router};
use zkedge_hwsim::{HwConfig, HwSim};

fn small_sim() -> Checked<HwSim> {
    HwSim::new(HwConfig {
        max_msm_log: 10,
        max_ntt_log: 9,
        ..HwConfig::default()
    })
    .unwrap()
}

mod split_by_size {
    use super::*;
    accel_conformance::backend_conformance!(
        Router::new(
            Box::new(HwSim::new(HwConfig::default()).unwrap()),
            Policy {
                msm_min: 300,
                ntt_min_log: 5
            }
        ),
        Limits::SMALL
    );
}

mod accelerator_refuses_large_jobs {
    use super::*;
    accel_conformance::backend_conformance!(
        Router::new(Box::new(small_sim()), Policy::ALL),
        Limits::SMALL
    );
}

#[test]
fn refused_jobs_fall_back_and_are_counted() {
    use accel_backends::{Backend, Domain, NttOp};
    let mut router = Router::new(Box::new(small_sim()), Policy::ALL);
    let (mut rng, _) = accel_conformance::test_rng("fallbacks");
    // Bases beyond the simulator's 2^10: it never holds them, their MSMs run on the CPU.
    let bases = accel_conformance::oracle::points(&mut rng, 4096);
    let scalars = accel_conformance::oracle::scalars(&mut rng, 4096);
    let h = router.load_bases(&bases).unwrap();
    assert_eq!(
        router.msm(h, 0, &scalars).unwrap(),
        accel_conformance::oracle::ark_msm(&bases, &scalars)
    );
    // Bases it holds: their MSMs run on it.
    let h = router.load_bases(&bases[..1000]).unwrap();
    assert_eq!(
        router.msm(h, 0, &scalars[..1000]).unwrap(),
        accel_conformance::oracle::ark_msm(&bases, &scalars[..1000])
    );
    assert_eq!(router.accelerator().counters().msm_calls, 1);
    assert_eq!(router.reference().counters().msm_calls, 1);
    // An NTT beyond its 2^9 is refused at call time and falls back.
    let domain = Domain::with_halo2_root(10).unwrap();
    let mut values = scalars[..1024].to_vec();
    router.ntt(&mut values, &domain, NttOp::forward()).unwrap();
    let mut want = scalars[..1024].to_vec();
    accel_backends::CpuBackend::new()
        .ntt(&mut want, &domain, NttOp::forward())
        .unwrap();
    assert_eq!(values, want);
    assert_eq!(router.fallbacks(), 1);
}
