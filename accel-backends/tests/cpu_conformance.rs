//! The CPU backend against the conformance suite.

use accel_backends::CpuBackend;
use accel_conformance::Limits;

accel_conformance::backend_conformance!(CpuBackend::new(), Limits::CPU);
