//! Reads criterion's estimates and prints, per size, zkedge's median beside each reference's and
//! their ratio.

use std::{collections::BTreeMap, fs, path::Path};

use anyhow::{bail, Context, Result};

use crate::sh::root;

/// Group → implementation → size → median nanoseconds.
type Medians = BTreeMap<String, BTreeMap<String, BTreeMap<u32, f64>>>;

fn medians(criterion: &Path) -> Result<Medians> {
    let mut out = Medians::new();
    for group in ["msm", "ntt"] {
        let Ok(impls) = fs::read_dir(criterion.join(group)) else {
            continue;
        };
        for imp in impls.flatten().filter(|e| e.path().is_dir()) {
            let name = imp.file_name().to_string_lossy().into_owned();
            if name == "report" {
                continue;
            }
            for size in fs::read_dir(imp.path())?.flatten() {
                let Ok(log_n) = size.file_name().to_string_lossy().parse::<u32>() else {
                    continue;
                };
                let file = size.path().join("new/estimates.json");
                let Ok(text) = fs::read_to_string(&file) else {
                    continue;
                };
                let json: serde_json::Value = serde_json::from_str(&text)
                    .with_context(|| format!("reading {}", file.display()))?;
                if let Some(m) = json["median"]["point_estimate"].as_f64() {
                    out.entry(group.into())
                        .or_default()
                        .entry(name.clone())
                        .or_default()
                        .insert(log_n, m);
                }
            }
        }
    }
    Ok(out)
}

fn human(ns: f64) -> String {
    match ns {
        x if x >= 1e9 => format!("{:.2} s", x / 1e9),
        x if x >= 1e6 => format!("{:.2} ms", x / 1e6),
        x => format!("{:.1} µs", x / 1e3),
    }
}

pub fn run() -> Result<()> {
    let dir = root().join("target/criterion");
    let all = medians(&dir)?;
    if all.is_empty() {
        bail!(
            "no criterion results under {}; run `cargo bench -p zkedge-benches` first",
            dir.display()
        );
    }
    for (group, impls) in &all {
        let Some(ours) = impls.get("zkedge-cpu") else {
            continue;
        };
        let refs: Vec<&String> = impls.keys().filter(|k| *k != "zkedge-cpu").collect();
        println!(
            "\n{group} (median per call; ratio = zkedge ÷ reference, < 1 means zkedge is faster)"
        );
        print!("{:>6} {:>12}", "size", "zkedge-cpu");
        for r in &refs {
            print!(" {:>12} {:>7}", r, "ratio");
        }
        println!();
        for (log_n, t) in ours {
            print!("{:>6} {:>12}", format!("2^{log_n}"), human(*t));
            for r in &refs {
                match impls[*r].get(log_n) {
                    Some(rt) => print!(" {:>12} {:>7.2}", human(*rt), t / rt),
                    None => print!(" {:>12} {:>7}", "-", "-"),
                }
            }
            println!();
        }
    }
    Ok(())
}
