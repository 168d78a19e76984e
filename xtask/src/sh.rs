//! Running commands and installing what they need.

use std::{path::PathBuf, process::Command};

use anyhow::{bail, Context, Result};

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits inside the workspace")
        .to_path_buf()
}

/// Runs `program args…` in the workspace root, echoing it; fails if it fails.
pub fn run(program: &str, args: &[&str]) -> Result<()> {
    run_in(&root(), program, args, &[])
}

/// Runs a command in `dir` with extra environment variables.
pub fn run_in(
    dir: &std::path::Path,
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<()> {
    eprintln!("\n==> {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .status()
        .with_context(|| format!("could not start `{program}`; is it installed?"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Installs the Debian packages that are missing (with sudo when not root).
pub fn ensure_apt(packages: &[&str]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
                .unwrap_or(false)
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("installing missing system packages: {}", missing.join(" "));
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false);
    let (program, prefix): (&str, Vec<&str>) = if root {
        ("apt-get", vec![])
    } else {
        ("sudo", vec!["apt-get"])
    };
    let mut update = prefix.clone();
    update.extend(["update", "-qq"]);
    run(program, &update)?;
    let mut install = prefix;
    // Wait for another apt run to finish rather than failing on its lock.
    install.extend([
        "-o",
        "DPkg::Lock::Timeout=600",
        "install",
        "-y",
        "-qq",
        "--no-install-recommends",
    ]);
    install.extend(&missing);
    run(program, &install)
        .context("installing system packages failed; run the apt-get command above by hand")
}

/// Runs Debian's cargo (`cargo-web`, with `rustc-web`) in `dir`: the route to targets whose
/// standard library rustup cannot download here (`-Z build-std` from `rust-web-src`, stable
/// compiler with nightly features), with nothing from the caller that would change the target's
/// flags.
pub fn debian_cargo(
    dir: &std::path::Path,
    args: &[&str],
    target_dir: &std::path::Path,
    env: &[(&str, &str)],
) -> Result<()> {
    let path = format!(
        "/usr/bin:{}",
        std::env::var("PATH").unwrap_or_else(|_| "/bin".into())
    );
    eprintln!(
        "\n==> ({}) /usr/bin/cargo {}",
        dir.display(),
        args.join(" ")
    );
    // `--target-dir` right after the subcommand: anything after a `--` goes to the compiler.
    let (subcommand, rest) = args.split_first().context("no cargo subcommand")?;
    let status = Command::new("/usr/bin/cargo")
        .arg(subcommand)
        .arg("--target-dir")
        .arg(target_dir)
        .args(rest)
        .current_dir(dir)
        .env("PATH", path)
        .env("RUSTC", "/usr/bin/rustc")
        .env("RUSTC_BOOTSTRAP", "1")
        .envs(env.iter().copied())
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .status()
        .context("could not start /usr/bin/cargo (Debian's cargo-web)")?;
    if !status.success() {
        bail!("`/usr/bin/cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}
