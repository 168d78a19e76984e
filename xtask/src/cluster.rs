//! `cargo xtask cluster-bench`: jobs per minute through NATS JetStream with 1, 2, … workers on
//! this machine (docs/cluster.md has the figures). Each run gets a fresh nats-server (JetStream
//! on file storage in a temp dir), the bundled sensor model's keys, and the first N samples of
//! its test set as N jobs; the clock runs from the first submit to the last job done.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};

use crate::sh::{self, root};

/// Kills a child process (our own, by its handle) when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn zkedge(bin: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(bin)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    if !out.status.success() {
        bail!("`zkedge {}` failed", args.join(" "));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One run: `workers` workers prove `jobs` jobs; returns the seconds from first submit to the
/// last job done.
fn run_once(
    bin: &Path,
    dir: &Path,
    keys: &Path,
    batch: &Path,
    workers: usize,
    jobs: usize,
) -> Result<f64> {
    let store = dir.join(format!("js-{workers}"));
    let port = free_port()?;
    let server = Guard(
        Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(&store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting nats-server")?,
    );
    let until = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > until {
            bail!("nats-server did not start");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let url = format!("nats://127.0.0.1:{port}");
    let mut pool = Vec::new();
    for i in 0..workers {
        let child = Command::new(bin)
            .args([
                "worker",
                "--nats",
                &url,
                "--no-intake",
                "--name",
                &format!("w{i}"),
                "--keys",
            ])
            .arg(keys)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        pool.push(Guard(child));
    }
    // Workers load their keys before they take jobs; give them the time so that the clock
    // measures proving, not start-up.
    std::thread::sleep(Duration::from_secs(3));
    let start = Instant::now();
    let batch = batch.to_string_lossy();
    let model = root().join("firmware/models/italy-power-demand.json");
    let ids = zkedge(
        bin,
        &[
            "submit",
            "--nats",
            &url,
            "--model",
            &model.to_string_lossy(),
            "--batch",
            &batch,
        ],
    )?;
    if ids.lines().count() != jobs {
        bail!("submitted {} jobs, wanted {jobs}", ids.lines().count());
    }
    loop {
        let status = zkedge(bin, &["status", "--nats", &url])?;
        let done = status
            .split(", ")
            .find_map(|s| s.strip_prefix("done "))
            .and_then(|n| n.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if done >= jobs {
            break;
        }
        if start.elapsed() > Duration::from_secs(3600) {
            bail!("not done after an hour: {status}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let took = start.elapsed().as_secs_f64();
    drop(pool);
    drop(server);
    let _ = std::fs::remove_dir_all(&store);
    Ok(took)
}

pub fn bench(jobs: usize, workers: &[usize]) -> Result<()> {
    sh::ensure_apt(&["nats-server"])?;
    sh::run("cargo", &["build", "--quiet", "-p", "zkedge"])?;
    let bin = root().join("target/debug/zkedge");
    let dir: PathBuf =
        std::env::temp_dir().join(format!("zkedge-cluster-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let model = root().join("firmware/models/italy-power-demand.json");
    let keys = dir.join("keys");
    zkedge(
        &bin,
        &[
            "setup",
            "--model",
            &model.to_string_lossy(),
            "--out",
            &keys.to_string_lossy(),
        ],
    )?;
    // The first `jobs` distinct samples of the model's test set.
    let samples: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        root().join("firmware/models/italy-power-demand.samples.json"),
    )?)?;
    let mut inputs: Vec<serde_json::Value> = Vec::new();
    for input in samples["inputs"]
        .as_array()
        .context("samples without inputs")?
    {
        if inputs.len() < jobs && !inputs.contains(input) {
            inputs.push(input.clone());
        }
    }
    if inputs.len() < jobs {
        bail!("the test set has only {} distinct samples", inputs.len());
    }
    let batch = dir.join("batch.json");
    std::fs::write(&batch, serde_json::json!({ "inputs": inputs }).to_string())?;
    let mut rows = Vec::new();
    for &w in workers {
        let s = run_once(&bin, &dir, &keys, &batch, w, jobs)?;
        eprintln!("{w} worker(s): {jobs} jobs in {s:.1} s");
        rows.push((w, s));
    }
    println!("\n| workers | jobs | seconds | jobs/minute |\n|---|---|---|---|");
    for (w, s) in rows {
        println!("| {w} | {jobs} | {s:.1} | {:.1} |", jobs as f64 * 60.0 / s);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
