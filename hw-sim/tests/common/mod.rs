//! Spawning the built `zkedge-hwsim serve --pty` and talking to it through `SerialBackend`.
//!
//! Each test gets its own simulator process and pseudo-terminal, so tests run in parallel and a
//! test can kill its simulator without disturbing the others.

#![allow(dead_code)] // each test file uses part of this

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::Duration,
};

use accel_backends::{
    wire::serial::{SerialBackend, SerialConfig},
    BackendError, BackendHooks, BasesConfig, Capabilities, Checked, DeviceTiming, Domain, Fr,
    G1Affine, G1Projective, Meter, MsmJob, NttOp,
};

/// A running simulator; killed when dropped.
pub struct Sim {
    pub child: Child,
    pub path: String,
}

impl Sim {
    /// Starts `zkedge-hwsim serve --pty` with extra flags and waits for its `pty:` line.
    pub fn spawn(extra: &[&str]) -> Sim {
        let mut child = Command::new(env!("CARGO_BIN_EXE_zkedge-hwsim"))
            .args(["serve", "--pty"])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the simulator binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("the simulator prints its pty");
        let path = line
            .strip_prefix("pty: ")
            .unwrap_or_else(|| panic!("first line should be `pty: PATH`, got {line:?}"))
            .trim()
            .to_string();
        Sim { child, path }
    }

    /// Opens a SerialBackend on this simulator.
    pub fn connect(&self, timeout: Duration) -> Checked<SerialBackend> {
        SerialBackend::open(&self.path, SerialConfig::new(921_600, timeout))
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.path))
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A SerialBackend that owns the simulator it talks to, for the conformance macro (which builds
/// one backend per check). Forwards every hook `SerialBackend` overrides.
pub struct SimBackend {
    pub serial: SerialBackend,
    pub sim: Sim,
}

/// A fresh simulator with default parameters and a client connected to it.
pub fn sim_backend() -> Checked<SimBackend> {
    let sim = Sim::spawn(&[]);
    let serial = sim.connect(Duration::from_secs(60)).into_hooks();
    Checked::from_hooks(SimBackend { serial, sim })
}

impl BackendHooks for SimBackend {
    fn name(&self) -> &str {
        self.serial.name()
    }
    fn capabilities(&self) -> Capabilities {
        self.serial.capabilities()
    }
    fn device_timing(&self) -> Option<DeviceTiming> {
        self.serial.device_timing()
    }
    fn bases_len(&self, id: u32) -> Option<usize> {
        self.serial.bases_len(id)
    }
    fn load_bases_unchecked(
        &mut self,
        bases: &[G1Affine],
        config: BasesConfig,
        meter: &mut Meter,
    ) -> Result<u32, BackendError> {
        self.serial.load_bases_unchecked(bases, config, meter)
    }
    fn release_bases_unchecked(&mut self, id: u32, meter: &mut Meter) -> Result<(), BackendError> {
        self.serial.release_bases_unchecked(id, meter)
    }
    fn msm_unchecked(
        &mut self,
        job: &MsmJob<'_>,
        meter: &mut Meter,
    ) -> Result<G1Projective, BackendError> {
        self.serial.msm_unchecked(job, meter)
    }
    fn ntt_unchecked(
        &mut self,
        values: &mut [Fr],
        domain: &Domain,
        op: NttOp,
        meter: &mut Meter,
    ) -> Result<(), BackendError> {
        self.serial.ntt_unchecked(values, domain, op, meter)
    }
}
