//! SerialBackend ↔ `zkedge-hwsim serve --pty` (the built binary, one process per check) against
//! the conformance suite: random MSMs and NTTs (forward, inverse, coset) up to 2^12 equal the
//! oracles, edge cases and typed errors included.

mod common;

use accel_conformance::Limits;

accel_conformance::backend_conformance!(common::sim_backend(), Limits::SMALL);
