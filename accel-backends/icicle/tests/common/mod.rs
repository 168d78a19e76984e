//! The device the tests run on: `ZKEDGE_ICICLE_TEST_DEVICE` (default `cpu`, ICICLE's CPU
//! device; `cuda` on a machine with a GPU).

#![allow(dead_code)]

use accel_icicle::{DeviceChoice, IcicleBackend};

pub fn choice() -> DeviceChoice {
    let spec = std::env::var("ZKEDGE_ICICLE_TEST_DEVICE").unwrap_or_else(|_| "cpu".into());
    spec.parse()
        .unwrap_or_else(|e| panic!("ZKEDGE_ICICLE_TEST_DEVICE={spec:?}: {e}"))
}

pub fn backend() -> accel_backends::Checked<IcicleBackend> {
    let backend =
        IcicleBackend::new(&choice()).unwrap_or_else(|e| panic!("ICICLE device {}: {e}", choice()));
    eprintln!("testing on {}", backend.selected());
    backend
}
