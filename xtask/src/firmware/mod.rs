//! `cargo xtask firmware build|run|test|clippy`: the Cortex-M firmware, built with Debian's
//! toolchain for `thumbv7em-none-eabihf` and run in QEMU against `zkedge serve`.

mod qemu;
mod test;

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};

use crate::sh::{self, root};

pub use test::{run as test, TestArgs};

/// What the firmware build and QEMU need (Debian packages).
pub const PACKAGES: [&str; 7] = [
    "rustc-web",
    "cargo-web",
    "rust-web-src",
    "rust-web-clippy",
    "lld-22",
    "binutils-arm-none-eabi",
    "qemu-system-arm",
];

/// Samples of the recorded sensor stream compiled in.
const SAMPLES: usize = 16;

#[derive(Subcommand)]
pub enum FirmwareCommand {
    /// Build the firmware (and the keys for its model).
    Build(BuildArgs),
    /// Build, boot it in QEMU and serve it with `zkedge serve`.
    Run(qemu::RunArgs),
    /// Boot it in QEMU against the host driver and check every proof (what CI runs).
    Test(TestArgs),
    /// Clippy for the firmware target.
    Clippy(BuildArgs),
}

pub fn run(command: FirmwareCommand) -> Result<()> {
    match command {
        FirmwareCommand::Build(args) => build(&args).map(|b| b.print()),
        FirmwareCommand::Run(args) => qemu::run(&args),
        FirmwareCommand::Test(args) => test::run(&args),
        FirmwareCommand::Clippy(args) => clippy(&args),
    }
}

/// A QEMU board.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Board {
    /// MPS2 AN500: Cortex-M7, 16 MiB PSRAM heap.
    #[default]
    An500,
    /// MPS2 AN386: Cortex-M4F, 16 MiB PSRAM heap.
    An386,
    /// MPS3 AN547: Cortex-M55, heap in DDR.
    An547,
}

impl Board {
    fn name(self) -> &'static str {
        match self {
            Board::An500 => "an500",
            Board::An386 => "an386",
            Board::An547 => "an547",
        }
    }

    /// QEMU's machine.
    pub fn machine(self) -> &'static str {
        match self {
            Board::An500 => "mps2-an500",
            Board::An386 => "mps2-an386",
            Board::An547 => "mps3-an547",
        }
    }
}

#[derive(Args, Clone, Debug)]
pub struct BuildArgs {
    /// The QEMU board.
    #[arg(long, value_enum, default_value_t = Board::An500)]
    pub board: Board,
    /// The model to embed (`.json`, `.zkm`, or an int8 `.tflite`, imported); its test set
    /// `<stem>.samples.json` beside it becomes the recorded sensor stream (without one, the
    /// sensor replays pseudo-random inputs). Default: the bundled smart-meter model.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Leave the prover (and the proving key) out: witness mode only.
    #[arg(long)]
    pub witness_only: bool,
    /// For a real board: defmt over RTT instead of semihosting (no report file, no exit
    /// code; such an image cannot be tested in QEMU).
    #[arg(long)]
    pub rtt: bool,
}

/// What a build produced.
pub struct Built {
    pub board: Board,
    pub elf: PathBuf,
    pub keys: PathBuf,
    pub zkedge: PathBuf,
    pub device_proving: bool,
    /// The model the image embeds.
    pub model: PathBuf,
}

impl Built {
    /// Keys for the same model whose circuit hashes its input (the image is the same: the
    /// device learns the keys' visibility from nothing but its plan).
    pub fn hashed_keys(&self) -> Result<PathBuf> {
        keys(&self.zkedge, &self.model, "hashed", "fixed")
    }

    /// Keys for the same model whose weights are hashed (private input): the host proves in
    /// input mode, and the proof names the weights' hash.
    pub fn hashed_weight_keys(&self) -> Result<PathBuf> {
        keys(&self.zkedge, &self.model, "private", "hashed")
    }
}

impl Built {
    fn print(&self) {
        eprintln!("\nfirmware: {}", self.elf.display());
        eprintln!("keys:     {}", self.keys.display());
        if let Ok(out) = Command::new("arm-none-eabi-size").arg(&self.elf).output() {
            eprint!("{}", String::from_utf8_lossy(&out.stdout));
        }
    }
}

fn default_model() -> PathBuf {
    root().join("firmware/models/italy-power-demand.json")
}

/// The model's stem: `italy-power-demand` for `…/italy-power-demand.json`.
fn stem(model: &Path) -> Result<String> {
    model
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .with_context(|| format!("{} has no file name", model.display()))
}

/// The host CLI (debug build, as `cargo xtask test` builds it anyway).
fn zkedge() -> Result<PathBuf> {
    sh::run("cargo", &["build", "--quiet", "-p", "zkedge"])?;
    Ok(root().join("target/debug/zkedge"))
}

/// Keys for `model` under `target/firmware/keys/<stem>`, made afresh each run by this
/// checkout's `zkedge setup` (keys an older build wrote may not load). The dev SRS makes them
/// deterministic, so identical keys are left in place and the firmware that embeds them is not
/// rebuilt.
fn keys(zkedge: &Path, model: &Path, input: &str, weights: &str) -> Result<PathBuf> {
    let mut name = stem(model)?;
    if input != "private" {
        name = format!("{name}-{input}");
    }
    if weights != "fixed" {
        name = format!("{name}-weights-{weights}");
    }
    let dir = root().join("target/firmware/keys").join(name);
    let fresh = dir.with_extension("new");
    let _ = fs::remove_dir_all(&fresh);
    let (model_arg, fresh_arg) = (model.to_string_lossy(), fresh.to_string_lossy());
    sh::run(
        &zkedge.to_string_lossy(),
        &[
            "setup",
            "--model",
            &model_arg,
            "--out",
            &fresh_arg,
            "--input-visibility",
            input,
            "--weights",
            weights,
        ],
    )?;
    if same_files(&dir, &fresh)? {
        fs::remove_dir_all(&fresh)?;
    } else {
        let _ = fs::remove_dir_all(&dir);
        fs::rename(&fresh, &dir)?;
    }
    Ok(dir)
}

/// Whether `a` holds exactly the files of `b`, byte for byte.
fn same_files(a: &Path, b: &Path) -> Result<bool> {
    if !a.is_dir() {
        return Ok(false);
    }
    let names = |d: &Path| -> Result<Vec<_>> {
        let mut v = fs::read_dir(d)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<Vec<_>, _>>()?;
        v.sort();
        Ok(v)
    };
    let (na, nb) = (names(a)?, names(b)?);
    if na != nb {
        return Ok(false);
    }
    for n in na {
        if fs::read(a.join(&n))? != fs::read(b.join(&n))? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The sensor's recorded stream, as raw int8 bytes: the first samples of `<stem>.samples.json`
/// beside the model (in the model's `[C][H][W]` order), or — for a model without one, such as
/// an imported `.tflite` — pseudo-random inputs of the model's input length, announced.
fn samples(zkedge: &Path, model: &Path, keys: &Path) -> Result<Vec<u8>> {
    let file = model.with_file_name(format!("{}.samples.json", stem(model)?));
    if !file.is_file() {
        let json = keys.join("model.json");
        sh::run(
            &zkedge.to_string_lossy(),
            &[
                "convert",
                "--model",
                &keys.join("model.zkm").to_string_lossy(),
                "--out",
                &json.to_string_lossy(),
            ],
        )?;
        let text = fs::read_to_string(&json)?;
        let m: serde_json::Value = serde_json::from_str(&text)?;
        let len: u64 = m["input"]["shape"]
            .as_array()
            .context("the model's JSON has no input shape")?
            .iter()
            .map(|d| d.as_u64().unwrap_or(0))
            .product();
        eprintln!(
            "note: {} has no recorded samples ({}); the sensor replays {SAMPLES} pseudo-random inputs",
            model.display(),
            file.display()
        );
        // xorshift64: the same stream on every build.
        let mut x = 0x5eed_u64;
        return Ok((0..SAMPLES as u64 * len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect());
    }
    let text = fs::read_to_string(&file).with_context(|| {
        format!(
            "reading {} (the recorded sensor stream is the model's test set)",
            file.display()
        )
    })?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    let inputs = json["inputs"]
        .as_array()
        .with_context(|| format!("{}: no \"inputs\" array", file.display()))?;
    let mut out = Vec::new();
    for input in inputs.iter().take(SAMPLES) {
        for v in input.as_array().into_iter().flatten() {
            let v = v
                .as_i64()
                .filter(|v| (-128..=127).contains(v))
                .with_context(|| format!("{}: an input is not int8", file.display()))?;
            out.push(v as i8 as u8);
        }
    }
    Ok(out)
}

/// A firmware build: Debian's toolchain ([`sh::debian_cargo`]) in `firmware/mcu`.
fn firmware_cargo(args: &[&str], assets: &Path, target_dir: &Path) -> Result<()> {
    let assets = assets.to_string_lossy();
    sh::debian_cargo(
        &root().join("firmware/mcu"),
        args,
        target_dir,
        &[("ZKEDGE_FW_ASSETS", assets.as_ref())],
    )
    .context("the firmware build failed")
}

/// One build directory per board and log transport, so that builds do not undo each other.
fn target_dir(args: &BuildArgs) -> PathBuf {
    let mut name = args.board.name().to_string();
    if args.rtt {
        name += "-rtt";
    }
    root().join("target/firmware/build").join(name)
}

fn features(args: &BuildArgs) -> String {
    let log = if args.rtt { "rtt" } else { "semihosting" };
    let mut f = format!("board-{},{log}", args.board.name());
    if !args.witness_only {
        f += ",device-proving";
    }
    f
}

/// Prepares keys and assets, then builds the firmware.
pub fn build(args: &BuildArgs) -> Result<Built> {
    sh::ensure_apt(&PACKAGES)?;
    let model = args.model.clone().unwrap_or_else(default_model);
    let model = fs::canonicalize(&model).with_context(|| format!("{}", model.display()))?;
    let zkedge = zkedge()?;
    let keys = keys(&zkedge, &model, "private", "fixed")?;
    let assets = root().join("target/firmware/assets").join(stem(&model)?);
    fs::create_dir_all(&assets)?;
    for name in ["model.zkm", "zkedge.zpk"] {
        copy_if_changed(&keys.join(name), &assets.join(name))?;
    }
    write_if_changed(
        &assets.join("samples.bin"),
        &samples(&zkedge, &model, &keys)?,
    )?;
    let target_dir = target_dir(args);
    let features = features(args);
    firmware_cargo(
        &[
            "build",
            "--release",
            "--no-default-features",
            "--features",
            &features,
        ],
        &assets,
        &target_dir,
    )?;
    Ok(Built {
        board: args.board,
        elf: target_dir.join("thumbv7em-none-eabihf/release/zkedge-firmware"),
        keys,
        zkedge,
        device_proving: !args.witness_only,
        model,
    })
}

/// Clippy on the firmware for its target, warnings denied.
pub fn clippy(args: &BuildArgs) -> Result<()> {
    build(args)?;
    let assets = root()
        .join("target/firmware/assets")
        .join(stem(&args.model.clone().unwrap_or_else(default_model))?);
    let target_dir = target_dir(args);
    let features = features(args);
    firmware_cargo(
        &[
            "clippy",
            "--release",
            "--no-default-features",
            "--features",
            &features,
            "--",
            "-D",
            "warnings",
        ],
        &assets,
        &target_dir,
    )
}

/// Copies only when the content differs, so that cargo does not rebuild for nothing.
fn copy_if_changed(from: &Path, to: &Path) -> Result<()> {
    let bytes = fs::read(from).with_context(|| format!("reading {}", from.display()))?;
    write_if_changed(to, &bytes)
}

fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<()> {
    if fs::read(path).ok().as_deref() != Some(bytes) {
        fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
