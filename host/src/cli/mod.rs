//! The `zkedge` command line. In the library so that other binaries (`zkedge-icicle`) run the
//! same CLI with more backends registered.

mod bench;
mod bench_models;
mod cluster;
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
    /// ([`crate::routing_file::resolve`]).
    pub fn resolve(&self, backend: &str) -> anyhow::Result<(crate::router::Policy, String)> {
        let (mut policy, mut from) =
            crate::routing_file::resolve(backend, self.routing.as_deref())?;
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

/// What `zkedge verify` reads and what the verifier pins.
#[derive(clap::Args, Clone, Debug)]
#[command(group(clap::ArgGroup::new("verifier").required(true).args(["keys", "bundle"])))]
pub struct VerifyArgs {
    /// Keys directory from `zkedge setup` (only its verifier.zkv is read, and its params.srs
    /// with --model).
    #[arg(long)]
    pub keys: Option<PathBuf>,
    /// A verifier bundle (verifier.zkv) instead of a keys directory.
    #[arg(long, conflicts_with = "keys")]
    pub bundle: Option<PathBuf>,
    /// The proof file.
    #[arg(long)]
    pub proof: PathBuf,
    /// The model you trust (`.json`, `.zkm`, `.tflite` or `.onnx`): its verifying key is
    /// derived here and must be the keys' (costs a keygen: seconds at large k; needs the SRS:
    /// --srs or the keys' params.srs).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// The SRS to derive --model's key over (default: the keys directory's params.srs).
    #[arg(long, requires = "model")]
    pub srs: Option<PathBuf>,
    /// The verifying-key hash you trust (from `zkedge vk-hash`, published by the model's owner).
    #[arg(long, value_name = "HEX")]
    pub vk_hash: Option<String>,
    /// The SRS identity you trust (from `zkedge vk-hash`).
    #[arg(long, value_name = "HEX")]
    pub srs_id: Option<String>,
    /// Check proofs over an SRS whose secret is public (the development SRS) instead of refusing
    /// them. Such a proof shows nothing: anyone can make one for any output.
    #[arg(long)]
    pub allow_insecure_dev_srs: bool,
    /// The input commitment you expect (hashed input; from `zkedge commit`, or the one a sensor
    /// signed): the proof must commit to it.
    #[arg(long, value_name = "HEX")]
    pub commitment: Option<String>,
    /// The weights' hash you expect (hashed weights; from `zkedge vk-hash --weights hashed`,
    /// or the one the model's owner published): the proof must be made with those weights.
    #[arg(long, value_name = "HEX")]
    pub weights_hash: Option<String>,
}

/// What a proof reveals of the model's input (fixed at `setup`, part of the verifying key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum InputVisibility {
    /// Nothing: the proof shows the output came from some input.
    Private,
    /// The int8 input itself is public.
    Public,
    /// A Poseidon commitment of the input and a secret salt is public (docs/trust.md).
    Hashed,
}

impl From<InputVisibility> for zkedge_kernel::layout::Visibility {
    fn from(v: InputVisibility) -> Self {
        match v {
            InputVisibility::Private => Self::Private,
            InputVisibility::Public => Self::Public,
            InputVisibility::Hashed => Self::Hashed,
        }
    }
}

/// What a proof reveals of the model's weights (fixed at `setup`, part of the verifying key).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum WeightVisibility {
    /// In the verifying key: the verifier knows the model.
    Fixed,
    /// Private; their Poseidon hash is public (docs/trust.md).
    Hashed,
}

impl From<WeightVisibility> for zkedge_kernel::layout::Weights {
    fn from(v: WeightVisibility) -> Self {
        match v {
            WeightVisibility::Fixed => Self::Fixed,
            WeightVisibility::Hashed => Self::Hashed,
        }
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
        /// The model (`.json`, `.zkm`, or `.tflite` / `.onnx`, imported on the fly).
        #[arg(long)]
        model: PathBuf,
        /// Directory to write the keys to.
        #[arg(long)]
        out: PathBuf,
        /// The SRS: a `.ptau` file from a powers-of-tau ceremony (snarkjs, Perpetual Powers of
        /// Tau) or a halo2 ParamsKZG file; without it, the insecure development SRS (whose
        /// proofs `verify` refuses).
        #[arg(long)]
        srs: Option<PathBuf>,
        /// Where the verifying key comes from: halo2's keygen_vk (the zkedge key is then checked
        /// against it), or the zkedge key's own commitments, read back by halo2 (for circuits
        /// whose keygen_vk needs too much memory: it holds about 144 bytes per fixed cell).
        /// `auto` takes keygen_vk when its estimated peak is at most 4 GiB.
        #[arg(long, value_enum, default_value_t = crate::keys::VkSource::Auto)]
        vk: crate::keys::VkSource,
        /// halo2's proving key (pk.bin), which only `prove --prover halo2` reads: `auto` writes
        /// it when it is at most 512 MiB (every fixed and σ column twice), `always` whatever
        /// its size (halo2's keygen_pk is slow and large from k ≈ 18), `never` not at all.
        #[arg(long, value_enum, default_value_t = crate::keys::Halo2Key::Auto)]
        halo2_key: crate::keys::Halo2Key,
        /// What proofs reveal of the input: nothing, the input, or a Poseidon commitment of it.
        #[arg(long, value_enum, default_value_t = InputVisibility::Private)]
        input_visibility: InputVisibility,
        /// The weights: in the verifying key, or private with their Poseidon hash in each
        /// proof (the keys' verifier.zkv then holds no weights).
        #[arg(long, value_enum, default_value_t = WeightVisibility::Fixed)]
        weights: WeightVisibility,
    },
    /// Run the model on an input and prove the result.
    Prove {
        /// The model (`.json`, `.zkm`, `.tflite` or `.onnx`); must be the one the keys were made for.
        #[arg(long)]
        model: PathBuf,
        /// Keys directory from `zkedge setup`.
        #[arg(long)]
        keys: PathBuf,
        /// Input JSON: `{"input": [int8…]}` or `{"values": [real…]}`, flat or nested, in the
        /// model's own order (NHWC for a TFLite model).
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
        /// The salt of the input's commitment (keys with a hashed input), 64 hex digits as
        /// `zkedge commit` prints; without it, a fresh random salt (printed).
        #[arg(long, value_name = "HEX")]
        salt: Option<String>,
    },
    /// Compute the commitment a hashed-input proof makes to an input with a salt (what a
    /// sensor signs, and what `verify --commitment` checks).
    Commit {
        /// The model (`.json`, `.zkm`, `.tflite` or `.onnx`): it orders the input's values.
        #[arg(long)]
        model: PathBuf,
        /// Input JSON, as for `prove`.
        #[arg(long)]
        input: PathBuf,
        /// The salt, 64 hex digits; without it, a fresh random salt (printed).
        #[arg(long, value_name = "HEX")]
        salt: Option<String>,
    },
    /// Check a proof; prints the proven output and what it rests on, exits 0 if it is valid,
    /// 1 if not.
    Verify(VerifyArgs),
    /// Print the hashes a verifier pins: the model's, its verifying key's (derived here) and the
    /// SRS's identity.
    VkHash {
        /// The model (`.json`, `.zkm`, `.tflite` or `.onnx`).
        #[arg(long)]
        model: PathBuf,
        /// The SRS the keys are made over (as for `setup`; a keys directory's params.srs will
        /// do); without it, the insecure development SRS.
        #[arg(long)]
        srs: Option<PathBuf>,
        /// The input visibility the keys were made with.
        #[arg(long, value_enum, default_value_t = InputVisibility::Private)]
        input_visibility: InputVisibility,
        /// The weights the keys were made with (hashed: the weights' hash is printed too).
        #[arg(long, value_enum, default_value_t = WeightVisibility::Fixed)]
        weights: WeightVisibility,
    },
    /// Run the model (no proof).
    Infer {
        /// The model (`.json`, `.zkm`, `.tflite` or `.onnx`).
        #[arg(long)]
        model: PathBuf,
        /// Input JSON: `{"input": [int8…]}` or `{"values": [real…]}`, in the model's order.
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
    /// Set up, prove and verify models of the MLPerf Tiny architectures (or given model files)
    /// in child processes: k, rows, columns, times, peak memory, proof size; a table and a
    /// report (`docs/backends.md` has the figures).
    BenchModels(bench_models::Args),
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
    /// Serve the city operator's page: the proofs of a folder, each verified in the browser by
    /// the WASM verifier (`cargo xtask wasm` builds it); a proof and its bundle can be dropped
    /// on the page to check one by hand.
    Dashboard(DashboardArgs),
    /// Import an int8 TFLite model (full-integer quantisation) or a quantised ONNX model
    /// (onnxruntime QOperator or QDQ, int8) into zkedge's format.
    Import {
        /// The `.tflite` or `.onnx` file.
        model: PathBuf,
        /// The file to write (`.zkm` or `.json`).
        #[arg(long)]
        out: PathBuf,
        /// Class labels, one per output, comma-separated (default: none; classes print as
        /// their index).
        #[arg(long, value_delimiter = ',')]
        classes: Vec<String>,
        /// The model's name (default: the file's name without its extension).
        #[arg(long)]
        name: Option<String>,
    },
    /// Queue proving jobs on a NATS JetStream cluster; prints each job's id (its content's
    /// digest: submitting again is harmless).
    Submit(cluster::SubmitArgs),
    /// A job's state on the cluster (queued, done, dead and why), or counts over the cluster.
    Status(cluster::StatusArgs),
    /// Write a done job's proof to a file; exits non-zero while the job is not done.
    Fetch(cluster::FetchArgs),
    /// Prove jobs from a NATS JetStream cluster until SIGTERM; each proof is checked with
    /// halo2-axiom's verifier before it is stored.
    Worker(cluster::WorkerArgs),
    /// Convert a model between its JSON and binary (`.zkm`) forms; the extension decides.
    Convert {
        /// The model to read.
        #[arg(long)]
        model: PathBuf,
        /// The file to write (`.zkm` is binary, any other name JSON).
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
        Command::Setup {
            model,
            out,
            srs,
            vk,
            halo2_key,
            input_visibility,
            weights,
        } => commands::setup(
            &model,
            &out,
            srs.as_deref(),
            (input_visibility.into(), weights.into()),
            vk,
            halo2_key,
        ),
        Command::Prove {
            model,
            keys,
            input,
            out,
            multiopen,
            prover,
            backend,
            route,
            salt,
        } => commands::prove(
            &model,
            &keys,
            &input,
            &out,
            salt.as_deref(),
            multiopen,
            prover,
            &backend,
            route,
            registry,
        ),
        Command::Commit { model, input, salt } => commands::commit(&model, &input, salt.as_deref()),
        Command::Verify(args) => commands::verify(&args),
        Command::VkHash {
            model,
            srs,
            input_visibility,
            weights,
        } => commands::vk_hash(
            &model,
            srs.as_deref(),
            input_visibility.into(),
            weights.into(),
        ),
        Command::Infer {
            model,
            input,
            batch,
            json,
        } => commands::infer(&model, input.as_deref(), batch.as_deref(), json),
        Command::Convert { model, out } => commands::convert(&model, &out),
        Command::Import {
            model,
            out,
            classes,
            name,
        } => commands::import(&model, &out, classes, name),
        Command::BenchBackends(args) => bench::bench_backends(&args, registry),
        Command::BenchModels(args) => bench_models::run(&args),
        Command::Calibrate { bench, routing } => {
            bench::calibrate(&bench, routing.as_deref(), registry)
        }
        Command::Serve(args) => serve::run(&args, registry),
        Command::Dashboard(args) => dashboard(args),
        Command::Submit(args) => cluster::submit(&args),
        Command::Status(args) => cluster::status(&args),
        Command::Fetch(args) => cluster::fetch(&args),
        Command::Worker(args) => cluster::worker(&args, registry),
        Command::Backends => {
            for (name, help) in registry.list() {
                println!("{name:<12} {help}");
                if name == "cpu" {
                    let arithmetic = if accel_backends::cpu::eight_lanes() {
                        "eight lanes (AVX-512 IFMA) for the MSM's additions and the NTT's \
                         butterflies; ZKEDGE_NO_IFMA=1 turns them off"
                    } else {
                        "arkworks' scalar arithmetic (no AVX-512 IFMA on this CPU, or \
                         ZKEDGE_NO_IFMA set)"
                    };
                    println!("{:<12} field arithmetic: {arithmetic}", "");
                }
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
    ui::write_figures();
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    }
}

/// `zkedge dashboard`'s arguments.
#[derive(clap::Args)]
pub struct DashboardArgs {
    /// A keys folder (or its verifier.zkv), repeatable: proofs are paired with the keys whose
    /// verifying key they name.
    #[arg(long, required = true, num_args = 1..)]
    keys: Vec<PathBuf>,
    /// The folder whose `.zkp` proof files the page lists (the newest 500), re-read every few
    /// seconds.
    #[arg(long)]
    proofs: Option<PathBuf>,
    /// A NATS server whose cluster's done jobs the page lists too (the newest 500), re-read
    /// every 3 s.
    #[arg(long, value_name = "URL")]
    nats: Option<String>,
    /// The WASM verifier's folder (`cargo xtask wasm` writes it).
    #[arg(long, default_value = default_wasm_dir())]
    wasm: PathBuf,
    /// Where to listen (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8480")]
    listen: std::net::SocketAddr,
}

/// `target/wasm/pkg` of the checkout this binary was built from.
fn default_wasm_dir() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../target/wasm/pkg")
}

fn dashboard(args: DashboardArgs) -> anyhow::Result<()> {
    let config = zkedge_dashboard::DashboardConfig {
        keys: args.keys,
        proofs: args.proofs,
        nats: args.nats,
        wasm: args.wasm,
        listen: args.listen,
    };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(zkedge_dashboard::serve(config))?;
    Ok(())
}
