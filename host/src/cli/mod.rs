//! The `zkedge` command line. In the library so that other binaries (`zkedge-icicle`) run the
//! same CLI with more backends registered.

mod bench;
mod commands;
mod input;
mod serve;
mod ui;

use std::{ffi::OsString, path::PathBuf};

use clap::{Parser, Subcommand};

use crate::{
    backends::Registry,
    proof::{MultiOpen, ProverKind},
};

/// How the router splits work between an accelerator and the CPU: the flags, over the
/// routing file's entry for the backend, over the built-in default (everything to it).
#[derive(clap::Args, Clone, Debug)]
pub struct RouteArgs {
    /// MSMs with fewer terms stay on the CPU (default: from the routing file, else none).
    #[arg(long, value_name = "N")]
    pub cpu_below_msm: Option<usize>,
    /// NTTs of fewer than 2^LOG points stay on the CPU (default: from the routing file, else
    /// none).
    #[arg(long, value_name = "LOG")]
    pub cpu_below_ntt: Option<u32>,
    /// Routing file from `zkedge calibrate` (default: $ZKEDGE_ROUTING, else
    /// $XDG_CONFIG_HOME/zkedge/routing.toml, else ~/.config/zkedge/routing.toml, if it exists
    /// and names the backend).
    #[arg(long, value_name = "FILE")]
    pub routing: Option<PathBuf>,
}

impl RouteArgs {
    /// The policy for `backend` and where it came from: flags over the routing file
    /// ([`crate::routing::resolve`]).
    pub fn resolve(&self, backend: &str) -> anyhow::Result<(crate::router::Policy, String)> {
        let (mut policy, mut from) = crate::routing::resolve(backend, self.routing.as_deref())?;
        if let Some(n) = self.cpu_below_msm {
            policy.msm_min = n;
            from = "flags".into();
        }
        if let Some(k) = self.cpu_below_ntt {
            policy.ntt_min_log = k;
            from = "flags".into();
        }
        Ok((policy, from))
    }
}

/// zkedge: prove that an output came from a given int8 model on a given input.
#[derive(Parser)]
#[command(name = "zkedge", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Prove and verify one inference of the bundled smart-city sensor model, end to end.
    Demo {
        /// Which sample of the bundled test set to prove.
        #[arg(long, default_value_t = 0)]
        sample: usize,
        /// Multi-open argument of the proof.
        #[arg(long, value_enum, default_value_t = MultiOpen::Gwc)]
        multiopen: MultiOpen,
        /// Which prover: zkedge's (MSMs and NTTs on --backend) or stock halo2-axiom.
        #[arg(long, value_enum, default_value_t = ProverKind::Zkedge)]
        prover: ProverKind,
        /// Where the zkedge prover sends its MSMs and NTTs (`zkedge backends` lists them).
        #[arg(long, default_value = "cpu")]
        backend: String,
        #[command(flatten)]
        route: RouteArgs,
    },
    /// Generate proving and verifying keys for a model.
    Setup {
        /// The model (`.json` or `.zkm`).
        #[arg(long)]
        model: PathBuf,
        /// Directory to write the keys to.
        #[arg(long)]
        out: PathBuf,
        /// A halo2 ParamsKZG file from a trusted setup; without it, the insecure development SRS.
        #[arg(long)]
        srs: Option<PathBuf>,
    },
    /// Run the model on an input and prove the result.
    Prove {
        /// The model (`.json` or `.zkm`); must be the one the keys were made for.
        #[arg(long)]
        model: PathBuf,
        /// Keys directory from `zkedge setup`.
        #[arg(long)]
        keys: PathBuf,
        /// Input JSON: `{"input": [int8…]}` or `{"values": [real…]}`.
        #[arg(long)]
        input: PathBuf,
        /// Where to write the proof.
        #[arg(long)]
        out: PathBuf,
        /// Multi-open argument.
        #[arg(long, value_enum, default_value_t = MultiOpen::Gwc)]
        multiopen: MultiOpen,
        /// Which prover: zkedge's (MSMs and NTTs on --backend) or stock halo2-axiom.
        #[arg(long, value_enum, default_value_t = ProverKind::Zkedge)]
        prover: ProverKind,
        /// Where the zkedge prover sends its MSMs and NTTs (`zkedge backends` lists them).
        #[arg(long, default_value = "cpu")]
        backend: String,
        #[command(flatten)]
        route: RouteArgs,
    },
    /// Check a proof; prints the proven output and exits 0 if it is valid, exits 1 if not.
    Verify {
        /// Keys directory from `zkedge setup`.
        #[arg(long)]
        keys: PathBuf,
        /// The proof file.
        #[arg(long)]
        proof: PathBuf,
    },
    /// Run the model (no proof).
    Infer {
        /// The model (`.json` or `.zkm`).
        #[arg(long)]
        model: PathBuf,
        /// Input JSON: `{"input": [int8…]}` or `{"values": [real…]}`.
        #[arg(long, conflicts_with = "batch", required_unless_present = "batch")]
        input: Option<PathBuf>,
        /// Batch JSON: `{"inputs": [[int8…], …]}`.
        #[arg(long)]
        batch: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List the backends this build can send MSMs and NTTs to.
    Backends,
    /// Run the same MSMs and NTTs on several backends: check they agree bit for bit, time
    /// them, report (table; with --out, report.csv, a plot and a routing file).
    BenchBackends(bench::BenchArgs),
    /// Benchmark backends against the CPU and write the routing file `prove` and `demo` read.
    Calibrate {
        #[command(flatten)]
        bench: bench::BenchArgs,
        /// Where to write the routing file (default: $ZKEDGE_ROUTING, else
        /// $XDG_CONFIG_HOME/zkedge/routing.toml, else ~/.config/zkedge/routing.toml).
        #[arg(long, value_name = "FILE")]
        routing: Option<PathBuf>,
    },
    /// Serve a device (the zkedge firmware) on a serial line: its MSMs on --backend, its
    /// witnesses proved here, its proofs verified here.
    Serve(serve::ServeArgs),
    /// Convert a model between its JSON and binary (`.zkm`) forms; the extension decides.
    Convert {
        /// The model to read.
        #[arg(long)]
        model: PathBuf,
        /// The file to write (`.json` or `.zkm`).
        #[arg(long)]
        out: PathBuf,
    },
}

/// Runs the CLI on `args` with the default backends; returns the process exit code.
pub fn run(args: impl IntoIterator<Item = impl Into<OsString> + Clone>) -> i32 {
    run_with(args, &Registry::with_defaults())
}

/// Runs the CLI on `args` with the backends of `registry`; returns the process exit code.
pub fn run_with(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    registry: &Registry,
) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    ui::init_logging();
    let result = match cli.command {
        Command::Demo {
            sample,
            multiopen,
            prover,
            backend,
            route,
        } => commands::demo(sample, multiopen, prover, &backend, route, registry),
        Command::Setup { model, out, srs } => commands::setup(&model, &out, srs.as_deref()),
        Command::Prove {
            model,
            keys,
            input,
            out,
            multiopen,
            prover,
            backend,
            route,
        } => commands::prove(
            &model, &keys, &input, &out, multiopen, prover, &backend, route, registry,
        ),
        Command::Verify { keys, proof } => commands::verify(&keys, &proof),
        Command::Infer {
            model,
            input,
            batch,
            json,
        } => commands::infer(&model, input.as_deref(), batch.as_deref(), json),
        Command::Convert { model, out } => commands::convert(&model, &out),
        Command::BenchBackends(args) => bench::bench_backends(&args, registry),
        Command::Calibrate { bench, routing } => {
            bench::calibrate(&bench, routing.as_deref(), registry)
        }
        Command::Serve(args) => serve::run(&args, registry),
        Command::Backends => {
            for (name, help) in registry.list() {
                println!("{name:<12} {help}");
                // Backends that need no argument say how far they precompute bases.
                if let Ok(backend) = registry.create(name) {
                    let factor = backend.capabilities().max_precompute;
                    if factor > 1 {
                        println!(
                            "{:<12} precomputed bases (serve --precompute F): at most F copies \
                             of each point, F ≤ {factor} (up to {factor}× the SRS's memory)",
                            ""
                        );
                    }
                }
            }
            Ok(())
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}
