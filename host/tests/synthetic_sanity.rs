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

#[test]
fn wide_circuit_is_satisfied() {
    use zkedge::synthetic::wide::{Shape, Wide};
    let small = Shape {
        advice: 12,
        fixed: 16,
        lookups: 2,
        equality: 5,
    };
    for (k, shape) in [(9, small), (10, Shape::default())] {
        let c = Wide::new(k, shape, 3);
        let prover = MockProver::run(k, &c, c.instances()).unwrap();
        if let Err(e) = prover.verify() {
            panic!("k = {k}: {} failures, first: {:?}", e.len(), e.first());
        }
        // The constraint system has the columns the shape asks for.
        let mut cs = halo2_proofs::plonk::ConstraintSystem::default();
        <Wide as halo2_proofs::plonk::Circuit<_>>::configure_with_params(&mut cs, shape);
        assert_eq!(cs.num_advice_columns(), shape.advice);
        assert_eq!(cs.num_fixed_columns() + cs.num_selectors(), shape.fixed);
        assert_eq!(cs.lookups().len(), shape.lookups);
        assert_eq!(cs.permutation().get_columns().len(), shape.equality + 2);
        assert_eq!(cs.degree(), 5);
    }
}
