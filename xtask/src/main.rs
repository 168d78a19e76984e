//! `cargo xtask …`: the project's automation, in Rust so that it runs wherever cargo does.

mod bench_summary;
mod cluster;
mod faults;
mod firmware;
mod fuzz;
mod rtl;
mod sh;
mod test;
mod wasm;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "zkedge project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Everything CI runs: installs missing system packages, then fmt, clippy and all tests.
    Test,
    /// Prints zkedge ÷ reference median ratios from the last `cargo bench -p zkedge-benches`.
    BenchSummary,
    /// Jobs per minute through NATS JetStream with 1, 2, … `zkedge worker`s on this machine
    /// (the bundled sensor model; installs nats-server if missing).
    ClusterBench {
        /// Jobs per run.
        #[arg(long, default_value_t = 30)]
        jobs: usize,
        /// Worker counts to measure, one run each.
        #[arg(long, value_delimiter = ',', default_value = "1,2")]
        workers: Vec<usize>,
    },
    /// The Cortex-M firmware: build, run in QEMU against `zkedge serve`, test.
    #[command(subcommand)]
    Firmware(firmware::FirmwareCommand),
    /// `zkedge prove` through the fault-injecting relay, setting by setting: asserts each
    /// outcome and prints docs/reliability.md's table.
    Faults {
        /// One proof per setting, MSMs and the extended-domain NTTs on the accelerator (what `test` runs).
        #[arg(long)]
        short: bool,
        /// Proofs per setting (without --short).
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Fuzzes the wire protocol's receive path (cargo-fuzz, installed if missing; nightly with ASan where installed).
    Fuzz {
        /// Total seconds, shared between the targets.
        #[arg(long, default_value_t = 120, conflicts_with = "runs")]
        seconds: u64,
        /// Executions per target instead of a time budget (CI runs 1,000,000 each).
        #[arg(long)]
        runs: Option<u64>,
    },
    /// Builds the browser's WASM verifier into target/wasm/pkg (Debian's rustc-web, -Z build-std).
    Wasm,
    /// The dashboard's page in headless Chromium (WebDriver): valid, tampered and dev-SRS proofs.
    Browser,
    /// The RTL units (Verilator) against arkworks and hw-sim; installs Verilator/yosys if missing.
    Rtl {
        /// Also write VCD waveforms of each unit to target/rtl-testbench/vcd/.
        #[arg(long)]
        vcd: bool,
        /// Also print yosys' cell counts for each unit.
        #[arg(long)]
        synth: bool,
        /// Random inputs per unit and field.
        #[arg(long, default_value_t = 20_000)]
        vectors: usize,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Test => test::run(),
        Command::Wasm => wasm::build(),
        Command::Browser => wasm::browser(),
        Command::BenchSummary => bench_summary::run(),
        Command::ClusterBench { jobs, workers } => cluster::bench(jobs, &workers),
        Command::Fuzz { seconds, runs } => fuzz::run(match runs {
            Some(n) => fuzz::Budget::Runs(n),
            None => fuzz::Budget::Seconds(seconds),
        }),
        Command::Faults { short, runs } => faults::run(short, runs),
        Command::Rtl {
            vcd,
            synth,
            vectors,
        } => rtl::run(vcd, synth, vectors),
        Command::Firmware(command) => firmware::run(command),
    }
}
