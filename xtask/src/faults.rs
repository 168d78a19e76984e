//! `cargo xtask faults`: `zkedge prove` against `zkedge-hwsim serve` through the project's
//! fault-injecting relay (`zkedge-hwsim relay`), one setting at a time — line noise, a dropped
//! frame, duplicates and a stall, a peer falling silent mid-proof, a lying MSM or NTT, a peer
//! silent from the start, keys damaged consistently — asserting each outcome, and printing the
//! table of docs/reliability.md: proofs verified (by `zkedge verify`), clean errors, time, and
//! the share of the jobs meant for the accelerator that it kept.
//!
//! `--short` (what `cargo xtask test` runs) proves once per setting with only MSMs and the
//! large NTTs on the accelerator; the full run proves `--runs` times per setting with
//! everything on it, as the issue that asked for it measured.

use std::{
    fs,
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Instant,
};

use anyhow::{bail, ensure, Context, Result};

use crate::sh::{self, root};

/// One setting: relay flags, and what must come of it.
struct Setting {
    name: &'static str,
    /// `zkedge-hwsim relay` flags; `None` for no relay at all.
    relay: Option<Vec<String>>,
    /// Damage the keys consistently (their manifest hashes fixed up) instead.
    damage_keys: bool,
    expect: Expect,
}

#[derive(Clone, Copy, PartialEq)]
enum Expect {
    /// Exit 0 and a proof `zkedge verify` accepts; the accelerator keeps at least this share
    /// of its jobs (per mille).
    Verified { kept_permille: u32 },
    /// Verified, with the accelerator named suspect.
    Caught,
    /// Verified, made on the CPU because the accelerator could not be opened.
    OnCpu,
    /// Exit 1 with a one-line error and no proof written.
    CleanError,
}

fn flags(words: &[&str]) -> Option<Vec<String>> {
    Some(words.iter().map(|w| w.to_string()).collect())
}

fn settings() -> Vec<Setting> {
    let verified = |kept_permille| Expect::Verified { kept_permille };
    vec![
        Setting {
            name: "clean line",
            relay: flags(&[]),
            damage_keys: false,
            expect: verified(1000),
        },
        Setting {
            name: "byte errors 1e-5",
            relay: flags(&["--flip", "1e-5", "--seed", "5"]),
            damage_keys: false,
            expect: verified(950),
        },
        Setting {
            name: "byte errors 1e-4",
            relay: flags(&["--flip", "1e-4", "--seed", "4"]),
            damage_keys: false,
            expect: verified(800),
        },
        Setting {
            name: "one request dropped",
            relay: flags(&["--drop-up", "150"]),
            damage_keys: false,
            expect: verified(1000),
        },
        Setting {
            name: "duplicates, 1.5 s stall",
            relay: flags(&["--duplicate-every", "7", "--stall", "60:1500"]),
            damage_keys: false,
            expect: verified(1000),
        },
        Setting {
            name: "silent mid-proof",
            relay: flags(&["--silent-after", "400"]),
            damage_keys: false,
            expect: verified(0),
        },
        Setting {
            name: "one MSM sum negated",
            relay: flags(&["--lie-msm", "3"]),
            damage_keys: false,
            expect: Expect::Caught,
        },
        Setting {
            name: "one NTT value + 1",
            relay: flags(&["--lie-ntt", "2"]),
            damage_keys: false,
            expect: Expect::Caught,
        },
        Setting {
            name: "silent from the start",
            relay: flags(&["--silent-after", "0"]),
            damage_keys: false,
            expect: Expect::OnCpu,
        },
        Setting {
            name: "keys damaged consistently",
            relay: None,
            damage_keys: true,
            expect: Expect::CleanError,
        },
    ]
}

/// What one proof attempt came to.
struct Run {
    code: i32,
    verified: bool,
    clean_error: bool,
    secs: f64,
    kept: Option<(u64, u64)>,
    suspect: bool,
    on_cpu: bool,
    output: String,
}

/// A child process killed when dropped.
struct Spawned(Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `program args` and reads the `pty: PATH` line it prints first.
fn spawn_pty(program: &Path, args: &[String]) -> Result<(Spawned, String)> {
    let mut child = Command::new(program)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    let stdout = child.stdout.take().context("piped stdout")?;
    let child = Spawned(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let path = line
        .strip_prefix("pty: ")
        .with_context(|| format!("{} printed {line:?}", program.display()))?
        .trim()
        .to_string();
    Ok((child, path))
}

struct Bench {
    zkedge: PathBuf,
    hwsim: PathBuf,
    model: PathBuf,
    input: PathBuf,
    keys: PathBuf,
    bad_keys: PathBuf,
    dir: PathBuf,
    /// log2 of the smallest extended-domain NTT: the keys' k + 1.
    extended_k: u32,
}

impl Bench {
    fn prepare() -> Result<Self> {
        sh::run(
            "cargo",
            &["build", "--quiet", "-p", "zkedge", "-p", "zkedge-hwsim"],
        )?;
        let root = root();
        let dir = root.join("target/faults");
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)?;
        let model = root.join("firmware/models/italy-power-demand.json");
        let samples: serde_json::Value = serde_json::from_str(&fs::read_to_string(
            root.join("firmware/models/italy-power-demand.samples.json"),
        )?)?;
        let input = dir.join("input.json");
        fs::write(
            &input,
            serde_json::json!({ "input": samples["inputs"][0] }).to_string(),
        )?;
        let zkedge = root.join("target/debug/zkedge");
        let keys = dir.join("keys");
        let out = Command::new(&zkedge)
            .args(["setup", "--model"])
            .arg(&model)
            .arg("--out")
            .arg(&keys)
            .output()?;
        ensure!(out.status.success(), "zkedge setup failed");
        let manifest: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(keys.join("manifest.json"))?)?;
        let k = manifest["k"]
            .as_u64()
            .context("the keys' manifest.json has no k")?;
        let b = Self {
            zkedge,
            hwsim: root.join("target/debug/zkedge-hwsim"),
            model,
            input,
            keys,
            bad_keys: dir.join("bad-keys"),
            dir,
            extended_k: k as u32 + 1,
        };
        b.damage_keys()?;
        Ok(b)
    }

    /// A copy of the keys whose zkedge proving key has one value changed, its hash fixed up:
    /// every check on the files passes, and every proof made with them is wrong.
    fn damage_keys(&self) -> Result<()> {
        fs::create_dir_all(&self.bad_keys)?;
        for entry in fs::read_dir(&self.keys)? {
            let entry = entry?;
            fs::copy(entry.path(), self.bad_keys.join(entry.file_name()))?;
        }
        let zpk = self.bad_keys.join("zkedge.zpk");
        let mut bytes = fs::read(&zpk)?;
        let at = bytes.len() - 1000;
        bytes[at] ^= 0x01;
        fs::write(&zpk, &bytes)?;
        let hash = blake2b_hex(&bytes);
        let manifest = self.bad_keys.join("manifest.json");
        let mut m: serde_json::Value = serde_json::from_str(&fs::read_to_string(&manifest)?)?;
        m["files"]["zkedge.zpk"] = hash.into();
        fs::write(&manifest, m.to_string())?;
        Ok(())
    }

    fn run(&self, s: &Setting, short: bool, n: usize) -> Result<Run> {
        let (_sim, sim) = spawn_pty(&self.hwsim, &["serve".into(), "--pty".into()])?;
        let mut relay_args = vec!["relay".to_string(), "--to".into(), sim.clone()];
        let (_relay, line) = match &s.relay {
            Some(f) => {
                relay_args.extend(f.iter().cloned());
                let (child, path) = spawn_pty(&self.hwsim, &relay_args)?;
                (Some(child), path)
            }
            None => (None, sim),
        };
        let keys = if s.damage_keys {
            &self.bad_keys
        } else {
            &self.keys
        };
        let out_file = self.dir.join(format!("proof-{n}.zkp"));
        let _ = fs::remove_file(&out_file);
        let mut prove = Command::new(&self.zkedge);
        prove
            .args(["prove", "--model"])
            .arg(&self.model)
            .arg("--keys")
            .arg(keys)
            .arg("--input")
            .arg(&self.input)
            .arg("--out")
            .arg(&out_file)
            .arg("--backend")
            .arg(format!("serial:{line}"))
            .env("ZKEDGE_ROUTING", self.dir.join("no-routing-file"));
        if short {
            // MSMs and the extended-domain NTTs only: a short proof that still sends both.
            prove.args(["--cpu-below-ntt", &self.extended_k.to_string()]);
        }
        let t = Instant::now();
        let out = prove.output().context("running zkedge prove")?;
        let secs = t.elapsed().as_secs_f64();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let code = out.status.code().unwrap_or(-1);
        let verified = code == 0
            && out_file.exists()
            && Command::new(&self.zkedge)
                .arg("verify")
                .arg("--keys")
                .arg(&self.keys)
                .arg("--proof")
                .arg(&out_file)
                // The scenarios' keys are over the development SRS: the check is the same.
                .arg("--allow-insecure-dev-srs")
                .output()?
                .status
                .success();
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        let clean_error =
            code == 1 && errors.len() == 1 && !stderr.contains("panicked") && !out_file.exists();
        Ok(Run {
            code,
            verified,
            clean_error,
            secs,
            kept: kept(&stdout),
            suspect: stdout.contains("is suspect") || stderr.contains("is suspect"),
            on_cpu: stdout.contains("could not be opened"),
            output: format!("{stdout}{stderr}"),
        })
    }
}

/// `A of M` from `… kept A of M jobs`.
fn kept(out: &str) -> Option<(u64, u64)> {
    let rest = &out[out.find(" kept ")? + 6..];
    let mut words = rest.split_whitespace();
    let a = words.next()?.parse().ok()?;
    (words.next()? == "of").then_some(())?;
    let m = words.next()?.parse().ok()?;
    Some((a, m))
}

/// BLAKE2b-256, as the keys manifest writes it.
fn blake2b_hex(bytes: &[u8]) -> String {
    blake2b_simd::Params::new()
        .hash_length(32)
        .hash(bytes)
        .to_hex()
        .to_string()
}

fn check(s: &Setting, r: &Run, clean_secs: f64) -> Result<()> {
    let show = || format!("{}: exit {}\n{}", s.name, r.code, r.output);
    match s.expect {
        Expect::Verified { kept_permille } => {
            ensure!(r.verified, "no verified proof — {}", show());
            let (a, m) = r
                .kept
                .with_context(|| format!("no job count — {}", show()))?;
            ensure!(
                a * 1000 >= u64::from(kept_permille) * m,
                "the accelerator kept {a} of {m} jobs, wanted ≥ {}‰ — {}",
                kept_permille,
                show()
            );
        }
        Expect::Caught => {
            ensure!(r.verified && r.suspect, "lie not caught — {}", show());
        }
        Expect::OnCpu => {
            ensure!(r.verified && r.on_cpu, "no CPU fallback — {}", show());
        }
        Expect::CleanError => {
            ensure!(r.clean_error, "not a clean error — {}", show());
        }
    }
    // Bounded time: whatever the line does, a proof costs at most the clean proof plus a
    // couple of job budgets (a few seconds each at 3 Mbaud).
    ensure!(
        r.secs <= clean_secs * 1.5 + 30.0,
        "{}: {:.1} s against {:.1} s clean",
        s.name,
        r.secs,
        clean_secs
    );
    Ok(())
}

pub fn run(short: bool, runs: usize) -> Result<()> {
    let bench = Bench::prepare()?;
    let runs = if short { 1 } else { runs.max(1) };
    let mut table = Vec::new();
    let mut clean_secs = f64::MAX;
    let mut failures = Vec::new();
    for s in settings() {
        let mut rs = Vec::new();
        for n in 0..runs {
            let r = bench.run(&s, short, n)?;
            if s.name == "clean line" {
                clean_secs = clean_secs.min(r.secs);
            }
            if let Err(e) = check(&s, &r, clean_secs) {
                failures.push(format!("{e:#}"));
            }
            eprintln!(
                "faults: {} run {}: exit {}, verified {}, {:.1} s, kept {:?}",
                s.name, n, r.code, r.verified, r.secs, r.kept
            );
            rs.push(r);
        }
        table.push((s.name, rs));
    }
    print_table(&table, runs, short);
    if !failures.is_empty() {
        bail!(
            "{} fault scenarios failed:\n{}",
            failures.len(),
            failures.join("\n\n")
        );
    }
    Ok(())
}

fn print_table(table: &[(&str, Vec<Run>)], runs: usize, short: bool) {
    println!(
        "\n{} proof(s) per setting{}; `zkedge prove --backend serial:` through `zkedge-hwsim relay` to `zkedge-hwsim serve --pty`\n",
        runs,
        if short { ", MSMs and the extended-domain NTTs on the accelerator" } else { ", every job on the accelerator" }
    );
    println!(
        "| setting | proofs verified | clean errors | time (median) | jobs the accelerator kept |"
    );
    println!("|---|---|---|---|---|");
    for (name, rs) in table {
        let mut secs: Vec<f64> = rs.iter().map(|r| r.secs).collect();
        secs.sort_by(f64::total_cmp);
        let median = secs[secs.len() / 2];
        let (a, m) = rs
            .iter()
            .filter_map(|r| r.kept)
            .fold((0, 0), |(a, m), (x, y)| (a + x, m + y));
        let kept = if m == 0 {
            "—".to_string()
        } else {
            format!("{:.1} % ({a} of {m})", 100.0 * a as f64 / m as f64)
        };
        println!(
            "| {name} | {} of {} | {} | {:.1} s | {kept} |",
            rs.iter().filter(|r| r.verified).count(),
            rs.len(),
            rs.iter().filter(|r| r.clean_error).count(),
            median,
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn kept_reads_the_prove_line() {
        let line = "…; serial kept 198 of 223 jobs (8 results checked…)";
        assert_eq!(super::kept(line), Some((198, 223)));
        assert_eq!(super::kept("no count"), None);
    }
}
