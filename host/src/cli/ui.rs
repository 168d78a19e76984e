//! Progress display and logging.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use zkedge_kernel::prover::{Phase, Progress};

/// `RUST_LOG`-controlled logging to stderr (warnings by default).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Runs `f` behind a spinner labelled `what` and reports how long it took.
pub fn step<T>(what: &str, f: impl FnOnce() -> T) -> (T, Duration) {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(100));
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    bar.finish_and_clear();
    (out, took)
}

/// The zkedge prover's steps on a progress bar (stderr, drawn only on a terminal).
pub struct ProveBar(ProgressBar);

impl Progress for ProveBar {
    fn report(&mut self, phase: Phase, done: u32, total: u32) {
        self.0.set_length(u64::from(total));
        self.0.set_position(u64::from(done));
        self.0.set_message(phase.label());
    }
}

/// Runs `f` with a progress bar labelled `what` that `f` may hand to the zkedge prover, and
/// reports how long it took.
pub fn proving<T>(what: &str, f: impl FnOnce(ProveBar) -> T) -> (T, Duration) {
    let bar = ProgressBar::new(1);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {what}: {{msg:<24}} [{{bar:30}}] {{pos}}/{{len}} ({{elapsed}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message("preparing the key");
    bar.enable_steady_tick(Duration::from_millis(100));
    let start = Instant::now();
    let out = f(ProveBar(bar.clone()));
    let took = start.elapsed();
    bar.finish_and_clear();
    (out, took)
}

/// Runs `f` behind a spinner whose message `f` sets (through the closure it is given) as it
/// goes from step to step; reports how long it took.
pub fn steps<T>(f: impl FnOnce(&mut dyn FnMut(&'static str)) -> T) -> (T, Duration) {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix}{msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    let start = Instant::now();
    let mut n = 0;
    let out = f(&mut |what| {
        n += 1;
        bar.set_prefix(format!("step {n}: "));
        bar.set_message(what);
    });
    let took = start.elapsed();
    bar.finish_and_clear();
    (out, took)
}

/// A duration for people.
pub fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.2} s")
    } else {
        format!("{:.1} ms", s * 1e3)
    }
}

/// A size for people.
pub fn bytes(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / (1 << 20) as f64)
    } else if n >= 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}

/// Figures a command records for `zkedge bench-models`, which runs it as a child process.
static FIGURES: std::sync::Mutex<Vec<(&'static str, f64)>> = std::sync::Mutex::new(Vec::new());

/// The environment variable naming the file a command writes its figures to.
pub const BENCH_REPORT: &str = "ZKEDGE_BENCH_REPORT";

/// Records a figure of this command (seconds, bytes) for `ZKEDGE_BENCH_REPORT`.
pub fn record(key: &'static str, value: f64) {
    if let Ok(mut f) = FIGURES.lock() {
        f.push((key, value));
    }
}

/// This process's peak resident set (`VmHWM`), in bytes, where the system says.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Writes the recorded figures and the peak resident set to `$ZKEDGE_BENCH_REPORT` as one
/// JSON object, if it is set.
pub fn write_figures() {
    let Some(path) = std::env::var_os(BENCH_REPORT) else {
        return;
    };
    let mut map = serde_json::Map::new();
    if let Ok(f) = FIGURES.lock() {
        for (k, v) in f.iter() {
            map.insert((*k).into(), (*v).into());
        }
    }
    if let Some(rss) = peak_rss() {
        map.insert("peak_rss_bytes".into(), rss.into());
    }
    if let Err(e) = std::fs::write(&path, serde_json::Value::Object(map).to_string()) {
        eprintln!(
            "warning: cannot write {}: {e}",
            std::path::Path::new(&path).display()
        );
    }
}
