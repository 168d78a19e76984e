//! The zkedge host's library: the halo2 circuit of a model, keys and the trusted setup, proofs
//! (both provers, the stock verifier), the backend registry and router, the device service
//! behind `zkedge serve` and the cluster's jobs. The `zkedge` crate puts the CLI on top and
//! re-exports all of it.
#![forbid(unsafe_code)]

pub mod backends;
pub mod bundle;
pub mod bundled;
pub mod circuit;
#[cfg(feature = "host-io")]
pub mod cluster;
pub mod convert;
pub mod export;
pub mod files;
pub mod keygen;
pub mod keys;
pub mod poseidon;
pub mod proof;
pub mod ptau;
pub mod quiet;
pub mod router;
pub mod routing_file;
#[cfg(feature = "host-io")]
pub mod serve;
pub mod sim_params;
pub mod srs;
pub mod synthetic;
pub mod zk_prover;
