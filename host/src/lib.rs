//! The zkedge host: the halo2 circuit of a model, keys, proofs and the CLI behind `zkedge`.
#![forbid(unsafe_code)]

pub mod backends;
pub mod bench;
pub mod bundle;
pub mod bundled;
pub mod circuit;
pub mod cli;
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
pub mod serve;
pub mod sim_params;
pub mod srs;
pub mod synthetic;
pub mod zk_prover;
