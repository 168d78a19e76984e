//! The suite every zkedge backend passes, on ICICLE (its CPU device unless
//! `ZKEDGE_ICICLE_TEST_DEVICE` says otherwise): MSMs up to 2^14 and NTTs up to 2^16 against
//! arkworks, ark-poly, halo2-axiom and naive oracles.

mod common;

use accel_conformance::Limits;

accel_conformance::backend_conformance!(common::backend(), Limits::CPU);
