//! `cargo xtask …`: the project's automation, in Rust so that it runs wherever cargo does.

mod bench_summary;
mod sh;
mod test;

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
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Test => test::run(),
        Command::BenchSummary => bench_summary::run(),
    }
}
