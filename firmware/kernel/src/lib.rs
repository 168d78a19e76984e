//! The `no_std` heart of zkedge, shared by the host and the Cortex-M firmware:
//!
//! - [`model`]: the model format (`docs/model-format.md`) and its validation;
//! - [`infer`]: int8 inference with TFLite/CMSIS-NN arithmetic ([`quant`]), keeping the trace;
//! - [`softmax`]: TFLite Micro's int8 softmax, applied to the proven logits (never proven);
//! - [`layout`]: the circuit's layout and witness, derived from the model — the one source of
//!   truth from which the host's halo2 circuit and the device's witness are both built;
//! - [`prover`]: halo2-compatible KZG proofs with every MSM and NTT on a
//!   [`Backend`](accel_backends::Backend).
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod infer;
pub mod layout;
pub mod model;
pub mod prover;
pub mod quant;
pub mod softmax;
