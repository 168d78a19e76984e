//! The zkedge prover with its MSMs and NTTs on the accelerator simulator — in process, and over
//! a real pseudo-terminal through SerialBackend — verified by halo2-axiom's stock verifier.

use std::time::Duration;

use accel_backends::{
    wire::serial::{SerialBackend, SerialConfig},
    Backend,
};
use rand::rngs::OsRng;
use zkedge::{
    bundled,
    keys::{self, Keys, SrsOrigin},
    proof::{self, MultiOpen},
    srs,
};
use zkedge_hwsim::{serve, HwConfig, HwSim};
use zkedge_kernel::{layout::Layout, model::Model};

fn keys() -> Keys {
    let model = Model::from_json(bundled::MODEL_JSON).unwrap();
    let k = Layout::new(&model).unwrap().k();
    keys::generate(model, srs::dev(k), SrsOrigin::InsecureDev).unwrap()
}

fn input() -> Vec<i8> {
    bundled::samples().unwrap().inputs.swap_remove(5)
}

#[test]
fn proof_with_the_simulator_in_process_verifies() {
    let keys = keys();
    let sim = HwSim::new(HwConfig::default()).unwrap();
    let (proved, _, sim) =
        proof::prove_zkedge(&keys, &input(), MultiOpen::Shplonk, sim, &mut OsRng).unwrap();
    let counters = *sim.counters();
    eprintln!("in process: {counters:?}");
    assert!(counters.device_cycles > 0, "the simulator counts cycles");
    proof::verify(&keys, &proved.file).unwrap();
    // A finished prover gives its SRS slots back: the simulator holds 4 sets, a proof loads 2.
    assert_eq!(sim.config().bases_slots, 4);
    let mut sim = sim;
    for _ in 0..2 {
        sim = proof::prove_zkedge(&keys, &input(), MultiOpen::Gwc, sim, &mut OsRng)
            .unwrap()
            .2;
    }
}

#[test]
fn proof_over_a_pty_to_the_simulator_verifies() {
    let keys = keys();
    let mut pty = serve::open_pty().unwrap();
    let path = pty.path.display().to_string();
    let server = std::thread::spawn(move || {
        let sim = HwSim::new(HwConfig::default()).unwrap();
        let _ = serve::serve(sim, &mut pty.master);
    });
    let backend =
        SerialBackend::open(&path, SerialConfig::new(3_000_000, Duration::from_secs(60))).unwrap();
    assert_eq!(backend.name(), "serial");
    let (proved, _, backend) =
        proof::prove_zkedge(&keys, &input(), MultiOpen::Gwc, backend, &mut OsRng).unwrap();
    let counters = *backend.counters();
    eprintln!("over the pty: {counters:?}");
    assert!(counters.device_cycles > 0 && counters.link_bytes > 0);
    proof::verify(&keys, &proved.file).unwrap();
    drop(server);
}
