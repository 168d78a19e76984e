//! The zkedge host: the halo2 circuit of a model, keys, proofs and the CLI behind `zkedge`.

pub mod bundled;
pub mod circuit;
pub mod cli;
pub mod files;
pub mod keys;
pub mod proof;
pub mod srs;
