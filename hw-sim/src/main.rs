//! `zkedge-hwsim`: the simulated accelerator as a program.

use std::{io::Write, path::PathBuf, time::Instant};

use accel_backends::wire::faults::Faults;
use accel_backends::{Backend, Domain, Fr, G1Affine, G1Projective, NttOp};
use anyhow::{bail, Context, Result};
use ark_ec::{CurveGroup, PrimeGroup};
use ark_ff::UniformRand;
use clap::{Args, Parser, Subcommand};
use zkedge_hwsim::{relay, serve, HwConfig, HwSim};

#[derive(Parser)]
#[command(
    name = "zkedge-hwsim",
    version,
    about = "A cycle-accurate MSM/NTT accelerator behind a serial line"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves the accelerator over a serial line speaking the zkedge wire protocol.
    Serve {
        /// Create a pseudo-terminal pair and print `pty: /dev/pts/N` as the first line.
        #[arg(long, conflicts_with = "path", required_unless_present = "path")]
        pty: bool,
        /// Serve on this existing serial device.
        #[arg(long)]
        path: Option<PathBuf>,
        #[command(flatten)]
        hw: HwArgs,
    },
    /// Relays a client's line to a served accelerator, injecting faults: prints
    /// `pty: /dev/pts/N` (the line to give the client) as its first line, then relays until
    /// killed.
    Relay {
        /// The accelerator's line (the path `zkedge-hwsim serve --pty` printed).
        #[arg(long)]
        to: PathBuf,
        #[command(flatten)]
        faults: FaultArgs,
    },
    /// Simulates one random MSM and one random NTT per size and prints their cycle breakdown.
    Report {
        /// log2 of the smallest size.
        #[arg(long, default_value_t = 12)]
        from: u32,
        /// log2 of the largest size.
        #[arg(long, default_value_t = 16)]
        to: u32,
        #[command(flatten)]
        hw: HwArgs,
    },
}

/// What the relay does to frames (numbers count frames from 0, each direction apart).
#[derive(Args)]
struct FaultArgs {
    /// Probability that a byte is damaged (one bit flipped), both directions.
    #[arg(long, default_value_t = 0.0)]
    flip: f64,
    /// Drop request N (client → accelerator); repeatable.
    #[arg(long, value_name = "N")]
    drop_up: Vec<u64>,
    /// Drop reply N (accelerator → client); repeatable.
    #[arg(long, value_name = "N")]
    drop_down: Vec<u64>,
    /// Deliver every N-th frame twice.
    #[arg(long, value_name = "N")]
    duplicate_every: Option<u64>,
    /// Hold reply N for MS milliseconds: `N:MS`.
    #[arg(long, value_name = "N:MS")]
    stall: Option<String>,
    /// After N requests, carry nothing more either way.
    #[arg(long, value_name = "N")]
    silent_after: Option<u64>,
    /// The N-th MsmDone reply carries the negated sum (CRC recomputed).
    #[arg(long, value_name = "N")]
    lie_msm: Option<u64>,
    /// The N-th NttValues reply carries its first value plus one (CRC recomputed).
    #[arg(long, value_name = "N")]
    lie_ntt: Option<u64>,
    /// Seed of the random damage.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

impl FaultArgs {
    fn resolve(&self) -> Result<Faults> {
        let stall = match &self.stall {
            Some(s) => {
                let (n, ms) = s.split_once(':').context("--stall takes N:MS")?;
                Some((
                    n.parse().context("--stall N")?,
                    ms.parse().context("--stall MS")?,
                ))
            }
            None => None,
        };
        if !(0.0..=1.0).contains(&self.flip) {
            bail!("--flip is a probability in [0, 1]");
        }
        Ok(Faults {
            flip_up: self.flip,
            flip_down: self.flip,
            drop_up: self.drop_up.iter().copied().collect(),
            drop_down: self.drop_down.iter().copied().collect(),
            duplicate_every: self.duplicate_every,
            stall,
            silent_after: self.silent_after,
            lie_msm: self.lie_msm,
            lie_ntt: self.lie_ntt,
            seed: self.seed,
        })
    }
}

/// Accelerator parameters: a TOML file, then flags on top.
#[derive(Args)]
struct HwArgs {
    /// TOML file of parameters (keys as in docs/hw-sim.md, e.g. `window-bits = 12`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Pippenger window c, in bits.
    #[arg(long)]
    window_bits: Option<u32>,
    /// P: pipelined point adders.
    #[arg(long)]
    adders: Option<u32>,
    /// L_mul: Montgomery multiplier latency in cycles.
    #[arg(long)]
    mul_latency: Option<u32>,
    /// B: NTT butterfly units.
    #[arg(long)]
    butterflies: Option<u32>,
    /// NTT memory banks.
    #[arg(long)]
    ntt_banks: Option<u32>,
    /// Device clock in MHz.
    #[arg(long)]
    clock_mhz: Option<u32>,
    /// Serial line rate in baud.
    #[arg(long)]
    link_baud: Option<u32>,
}

impl HwArgs {
    fn resolve(&self) -> Result<HwConfig> {
        let mut c = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                HwConfig::from_toml(&text).with_context(|| format!("in {}", path.display()))?
            }
            None => HwConfig::default(),
        };
        let set = |dst: &mut u32, v: Option<u32>| {
            if let Some(v) = v {
                *dst = v;
            }
        };
        set(&mut c.window_bits, self.window_bits);
        set(&mut c.adders, self.adders);
        set(&mut c.mul_latency, self.mul_latency);
        set(&mut c.butterflies, self.butterflies);
        set(&mut c.ntt_banks, self.ntt_banks);
        set(&mut c.clock_mhz, self.clock_mhz);
        set(&mut c.link_baud, self.link_baud);
        c.validate()?;
        Ok(c)
    }
}

fn main() -> Result<()> {
    // Logs go to stderr: stdout's first line is the pty path a parent process waits for.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve { pty, path, hw } => {
            let config = hw.resolve()?;
            let sim = HwSim::new(config)?;
            if pty {
                let mut pty = serve::open_pty()?;
                let mut out = std::io::stdout().lock();
                writeln!(out, "pty: {}", pty.path.display())?;
                out.flush()?;
                drop(out);
                tracing::info!(path = %pty.path.display(), ?config, "serving on a pseudo-terminal");
                serve::serve(sim, &mut pty.master).context("serving the pseudo-terminal")?;
            } else if let Some(path) = path {
                tracing::info!(path = %path.display(), ?config, "serving on a device");
                let mut line = serve::open_device(&path, config.link_baud)?;
                serve::serve(sim, &mut line)
                    .with_context(|| format!("serving {}", path.display()))?;
            } else {
                bail!("give --pty or --path DEV");
            }
            tracing::info!("the line closed; exiting");
            Ok(())
        }
        Command::Relay { to, faults } => {
            let faults = faults.resolve()?;
            let relay = relay::Relay::start(&to, faults.clone())
                .with_context(|| format!("relaying to {}", to.display()))?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "pty: {}", relay.path.display())?;
            out.flush()?;
            drop(out);
            tracing::info!(to = %to.display(), ?faults, "relaying");
            loop {
                std::thread::sleep(std::time::Duration::from_secs(5));
                tracing::debug!(injected = ?relay.injected(), "relay");
            }
        }
        Command::Report { from, to, hw } => report(hw.resolve()?, from, to),
    }
}

fn report(config: HwConfig, from: u32, to: u32) -> Result<()> {
    use rand::SeedableRng;
    let rng = &mut rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let mut sim = HwSim::new(config)?;
    println!("{config:?}");
    println!(
        "{:>5} {:>12} {:>12} {:>8} {:>8} {:>10} {:>8}",
        "size", "msm cycles", "floor", "÷floor", "stalls", "host s", "ntt cyc"
    );
    for log_n in from..=to {
        let n = 1usize << log_n;
        let scalars: Vec<Fr> = (0..n).map(|_| Fr::rand(rng)).collect();
        let bases: Vec<G1Affine> = G1Projective::normalize_batch(
            &(0..n)
                .map(|_| G1Projective::generator() * Fr::rand(rng))
                .collect::<Vec<_>>(),
        );
        let h = sim.load_bases(&bases)?;
        let t = Instant::now();
        let sum = sim.msm(h, 0, &scalars)?;
        let host = t.elapsed().as_secs_f64();
        if sum != accel_backends::cpu::msm(&bases, &scalars) {
            bail!("the simulated MSM of 2^{log_n} differs from the CPU backend's");
        }
        sim.release_bases(h)?;
        let m = sim.last_msm().context("an MSM ran")?;
        let mut values = scalars;
        if log_n <= config.max_ntt_log {
            sim.ntt(
                &mut values,
                &Domain::with_halo2_root(log_n)?,
                NttOp::forward(),
            )?;
        }
        let ntt = sim.last_ntt().map_or(0, |r| r.total_cycles);
        println!(
            "{:>5} {:>12} {:>12.0} {:>8.3} {:>8} {:>10.2} {:>8}",
            format!("2^{log_n}"),
            m.total_cycles,
            m.floor(&config),
            m.total_cycles as f64 / m.floor(&config),
            m.stalls,
            host,
            ntt
        );
    }
    Ok(())
}
