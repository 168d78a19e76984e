//! zkedge's simulated MSM/NTT accelerator, cycle by cycle.
//!
//! The micro-architecture and its parameters are written down in `docs/hw-sim.md`; this crate
//! is that document executed:
//! - [`units`]: cycle-stepped Montgomery multiplier and butterfly, the reference for RTL;
//! - [`msm`]: Pippenger on `P` pipelined point adders with bucket hazards, reduction and
//!   window combination;
//! - [`ntt`]: radix-2 butterflies over banked memory, stage by stage;
//! - [`sched`]: the list scheduler that times every dataflow phase;
//! - [`HwSim`]: all of it as a [`Backend`](accel_backends::Backend), whose counters carry the
//!   simulated cycles;
//! - [`serve`]: the accelerator behind a pseudo-terminal or a serial device, speaking the
//!   wire protocol (`accel-proto`), with a link-time model;
//! - [`relay`]: a fault-injecting relay in front of a served accelerator (bit flips, drops,
//!   duplicates, stalls, silence, lies), the project's tool for testing links.
//!
//! Results are exact (the engines compute them with arkworks as the schedule issues each
//! operation) and equal the CPU backend's; cycle counts come from simulating the schedule.

#![forbid(unsafe_code)]

mod backend;
pub mod config;
pub mod msm;
pub mod ntt;
// Pseudo-terminals, serial devices and poll(2): Unix only (the browser verifier builds the
// simulator for wasm32 as part of zkedge-core, without them).
#[cfg(unix)]
pub mod relay;
pub mod sched;
#[cfg(unix)]
pub mod serve;
pub mod units;

pub use backend::HwSim;
pub use config::{BankMap, ConfigError, HwConfig, TomlError, WindowLayout};
