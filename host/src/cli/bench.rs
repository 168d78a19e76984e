//! `zkedge bench-backends` and `zkedge calibrate`.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use rand::RngCore;

use crate::{
    backends::Registry,
    bench::{self, LogRange, Plan, Progress, Report, RouteBy},
    routing_file,
    sim_params::{self, Sweep},
};

/// Log2 sizes, or `none`.
#[derive(Clone, Copy, Debug)]
pub struct Sizes(Option<LogRange>);

impl FromStr for Sizes {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "none" {
            Ok(Self(None))
        } else {
            s.parse().map(|r| Self(Some(r)))
        }
    }
}

/// What `bench-backends` and `calibrate` run.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Backends to compare, comma-separated (`zkedge backends` lists them); inline hw-sim
    /// parameters stay with their backend: `cpu,sim,sim:c=10,P=4`.
    #[arg(long, default_value = "cpu,sim", value_name = "LIST")]
    backends: String,
    /// MSM sizes as log2, both ends included (`none`: no MSMs).
    #[arg(long, default_value = "10..16", value_name = "LO..HI")]
    msm: Sizes,
    /// NTT sizes as log2, both ends included (`none`: no NTTs).
    #[arg(long, default_value = "10..18", value_name = "LO..HI")]
    ntt: Sizes,
    /// Timed runs per backend and size, after one untimed run that checks agreement.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    repeat: u32,
    /// Sweep a hw-sim parameter over values: `c=12,13,14` (keys: c, P, L, G, B, M, f, baud or
    /// any hw-sim TOML key). Repeat for a grid; every sim backend becomes one per combination.
    #[arg(long = "sim-param", value_name = "KEY=V1,V2,…")]
    sim_params: Vec<Sweep>,
    /// Seed of the inputs (default: a fresh one, printed).
    #[arg(long)]
    seed: Option<u64>,
    /// What an accelerator's time is, when compared with the CPU's.
    #[arg(long, value_enum, default_value_t = RouteBy::Link)]
    route_by: RouteBy,
    /// Also time a whole proof of the bundled model on every backend (no router: all of its
    /// MSMs and NTTs on that backend; the proofs must be identical).
    #[arg(long)]
    proof: bool,
    /// Directory for report.csv, report.svg (the plot), report.txt and routing.toml.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

/// The progress bar.
struct Bar(ProgressBar);

impl Progress for Bar {
    fn start(&mut self, total: u64) {
        self.0.set_length(total);
    }

    fn step(&mut self, what: &str) {
        if self.0.position() > 0 || !self.0.message().is_empty() {
            self.0.inc(1);
        }
        self.0.set_message(what.to_string());
    }

    fn note(&mut self, line: &str) {
        self.0.suspend(|| eprintln!("  {line}"));
    }
}

fn plan(args: &BenchArgs) -> Result<Plan> {
    let specs = sim_params::split_backends(&args.backends);
    let backends = sim_params::expand(&specs, &args.sim_params)?;
    Ok(Plan {
        backends,
        msm: args.msm.0,
        ntt: args.ntt.0,
        repeat: args.repeat,
        seed: args.seed.unwrap_or_else(|| rand::rngs::OsRng.next_u64()),
        proof: args.proof,
    })
}

fn measure(args: &BenchArgs, registry: &Registry) -> Result<(Report, String)> {
    let plan = plan(args)?;
    let sizes = |r: Option<LogRange>| r.map_or("none".into(), |r| r.to_string());
    let header = format!(
        "{}; MSM {}, NTT {}; {} timed run{} after 1 checking run; seed {}",
        plan.backends.join(", "),
        sizes(plan.msm),
        sizes(plan.ntt),
        plan.repeat,
        if plan.repeat == 1 { "" } else { "s" },
        plan.seed
    );
    eprintln!("zkedge bench-backends: {header}");
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:32.cyan/blue} {pos}/{len} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let mut progress = Bar(bar);
    let result = bench::run(registry, &plan, &mut progress);
    progress.0.finish_and_clear();
    Ok((result?, header))
}

/// The table, its legend and the crossovers, as printed and as saved in report.txt.
fn summary(report: &Report, basis: RouteBy) -> (String, Vec<bench::Crossover>) {
    let mut s = report.table(basis);
    let _ = writeln!(
        s,
        "\nwall: host wall time of one call, median of the timed runs [fastest–slowest, same unit]\n\
         device: cycles ÷ the backend's clock\n\
         projected: device time + the job's bytes at the link's baud (modelled from the wire \
         protocol's frames for a simulator in process); for a proof, device time + the host's \
         work outside the backend (+ link bytes only where counted)\n\
         vs cpu: cpu wall time ÷ the backend's {}",
        basis.describe()
    );
    let crossovers = bench::crossovers(report, basis);
    if !crossovers.is_empty() {
        s.push_str("\ncrossovers (the backend is faster at 2^k and every larger size measured):\n");
        for c in &crossovers {
            let _ = writeln!(s, "  {}", c.describe());
        }
    }
    (s, crossovers)
}

fn write_outputs(
    dir: &Path,
    report: &Report,
    header: &str,
    text: &str,
    routing: &routing_file::RoutingFile,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let write = |name: &str, body: &str| {
        let p = dir.join(name);
        std::fs::write(&p, body).with_context(|| format!("cannot write {}", p.display()))
    };
    write("report.csv", &report.to_csv())?;
    write(
        "report.txt",
        &format!("zkedge bench-backends: {header}\n\n{text}"),
    )?;
    routing.save(&dir.join("routing.toml"))?;
    let title = format!(
        "zkedge bench-backends — {} cores, seed {}, median of {} runs (bars: fastest–slowest)",
        std::thread::available_parallelism().map_or(0, usize::from),
        report.seed,
        report
            .rows
            .iter()
            .find_map(|r| r.measured().map(|m| m.repeats))
            .unwrap_or(0)
    );
    bench::write_svg(report, &dir.join("report.svg"), &title)?;
    println!(
        "\nwritten to {}: report.csv, report.svg (plot), report.txt, routing.toml",
        dir.display()
    );
    Ok(())
}

/// `zkedge bench-backends`.
pub fn bench_backends(args: &BenchArgs, registry: &Registry) -> Result<()> {
    let (report, header) = measure(args, registry)?;
    let (text, crossovers) = summary(&report, args.route_by);
    print!("{text}");
    let routing = bench::routing_file(&crossovers, &report);
    match &args.out {
        Some(dir) => write_outputs(dir, &report, &header, &text, &routing)?,
        None => println!("\n(give --out DIR for report.csv, the plot and a routing file)"),
    }
    Ok(())
}

/// `zkedge calibrate`: the benchmark, then its routing file at `target` (default: the
/// default routing file).
pub fn calibrate(args: &BenchArgs, target: Option<&Path>, registry: &Registry) -> Result<()> {
    let specs = sim_params::split_backends(&args.backends);
    let reference = registry.reference_name().unwrap_or("cpu");
    if !specs.iter().any(|s| registry.is_reference(s)) {
        anyhow::bail!(
            "calibrate compares every backend with {reference}: add {reference} to --backends"
        );
    }
    if specs.len() < 2 {
        anyhow::bail!(
            "calibrate needs a backend besides {reference} in --backends, e.g. {reference},sim"
        );
    }
    let target = match target {
        Some(p) => p.to_path_buf(),
        None => routing_file::default_path()
            .context("no default routing file location (HOME is not set): give --routing FILE")?,
    };
    let (report, header) = measure(args, registry)?;
    let (text, crossovers) = summary(&report, args.route_by);
    print!("{text}");
    let routing = bench::routing_file(&crossovers, &report);
    if let Some(dir) = &args.out {
        write_outputs(dir, &report, &header, &text, &routing)?;
    }
    routing.save(&target)?;
    println!("\nrouting written to {}:", target.display());
    for (spec, entry) in &routing.backend {
        println!("  {spec}: {}", routing_file::describe(&entry.policy()));
    }
    Ok(())
}
