//! The synthetic circuit itself is satisfiable (MockProver) and proves with stock halo2.

use halo2_proofs::dev::MockProver;
use zkedge::synthetic::Synthetic;

#[test]
fn synthetic_circuit_is_satisfied() {
    for k in [4, 5, 7, 10] {
        let c = Synthetic::new(k, 7, true);
        let prover = MockProver::run(k, &c, c.instances()).unwrap();
        if let Err(e) = prover.verify() {
            panic!("k = {k}: {} failures, first: {:?}", e.len(), e.first());
        }
    }
}
