//! The RTL sources, the unit configurations, and Verilator builds of them (cached).
//!
//! A build verilates `harness/tb_unit.v` (a wrapper giving every unit one port list) over the
//! unit sources with the unit, field and latency as parameters, and compiles it with the
//! driver `harness/main.cpp` into one executable. Builds live in
//! `target/rtl-testbench/models/<key>/`, where the key hashes everything that goes in (sources,
//! parameters, flags, the Verilator version), so a rerun reuses them and an edited or mutated
//! source gets its own. Verilator's runtime library objects are compiled once and reused.

use std::{
    fmt,
    path::{Path, PathBuf},
    process::Command,
    sync::Mutex,
};

use sha2::{Digest, Sha256};
use zkedge_hwsim::{units::FieldKind, HwConfig};

use crate::{
    tools::{self, work_dir},
    Error,
};

/// The unit sources as committed, embedded at compile time.
const UNIT_SOURCES: [(&str, &str); 6] = [
    ("mont_mul.v", include_str!("../rtl/mont_mul.v")),
    ("mod_add.v", include_str!("../rtl/mod_add.v")),
    ("mod_sub.v", include_str!("../rtl/mod_sub.v")),
    ("delay.v", include_str!("../rtl/delay.v")),
    ("butterfly.v", include_str!("../rtl/butterfly.v")),
    ("point_add.v", include_str!("../rtl/point_add.v")),
];
const WRAPPER: &str = include_str!("../harness/tb_unit.v");
const DRIVER: &str = include_str!("../harness/main.cpp");

/// The folder holding the committed RTL (for tools that read files, like yosys).
pub fn rtl_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rtl")
}

/// The Verilog of the units: the committed sources, or a mutation of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rtl {
    files: Vec<(String, String)>,
}

impl Rtl {
    /// The committed sources (`rtl-testbench/rtl/*.v`).
    pub fn committed() -> Self {
        Self {
            files: UNIT_SOURCES
                .iter()
                .map(|(name, text)| (name.to_string(), text.to_string()))
                .collect(),
        }
    }

    /// These sources with `needle` replaced by `replacement` in `file`; `needle` must occur
    /// exactly once there, so a mutation cannot silently miss after the source changes.
    pub fn mutated(&self, file: &str, needle: &str, replacement: &str) -> Result<Self, Error> {
        let mut out = self.clone();
        let text = out
            .files
            .iter_mut()
            .find(|(name, _)| name == file)
            .map(|(_, text)| text)
            .ok_or_else(|| Error::MutationTarget {
                file: file.to_owned(),
                needle: needle.to_owned(),
                found: 0,
            })?;
        let found = text.matches(needle).count();
        if found != 1 {
            return Err(Error::MutationTarget {
                file: file.to_owned(),
                needle: needle.to_owned(),
                found,
            });
        }
        *text = text.replacen(needle, replacement, 1);
        Ok(out)
    }

    /// The files, as (name, text).
    pub fn files(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().map(|(n, t)| (n.as_str(), t.as_str()))
    }
}

/// Which unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    /// `mont_mul`: `c = a·b·R⁻¹ mod p`, latency `L_mul`.
    MontMul,
    /// `butterfly`: `(a + w·b·R⁻¹, a − w·b·R⁻¹) mod p`, latency `L_mul + 1`.
    Butterfly,
    /// `point_add`: the field datapath of a mixed point adder in `Fq`, latency
    /// `3·L_mul + D_add` (hw-sim's `L_padd` with `D_mul = 3`).
    PointAdd,
}

impl Unit {
    /// The Verilog module's name.
    pub fn module(self) -> &'static str {
        match self {
            Unit::MontMul => "mont_mul",
            Unit::Butterfly => "butterfly",
            Unit::PointAdd => "point_add",
        }
    }
}

/// A unit in one configuration: what gets built and simulated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UnitSpec {
    unit: Unit,
    field: FieldKind,
    mul_latency: u32,
    /// `D_add` of the point adder (0 for the other units).
    add_depth: u32,
}

impl UnitSpec {
    /// The smallest multiplier latency the RTL has: one digit stage and the reduction stage.
    pub const MIN_MUL_LATENCY: u32 = 2;
    /// The largest: one-bit digits (256 stages) and the reduction stage.
    pub const MAX_MUL_LATENCY: u32 = 257;

    /// Multiplications on the point adder's critical path: fixed by its formula.
    pub const ADDER_MUL_DEPTH: u32 = 3;
    /// The fewest add/subtract stages the point adder can have (`D_add`): two lie on its
    /// critical path.
    pub const MIN_ADD_DEPTH: u32 = 2;

    /// The multiplier or the butterfly over `field` with a multiplier of `mul_latency` stages;
    /// the point adder (`Fq` only) with hw-sim's default `D_add`.
    pub fn new(unit: Unit, field: FieldKind, mul_latency: u32) -> Result<Self, Error> {
        if unit == Unit::PointAdd {
            if field != FieldKind::Base {
                return Err(Error::Unsupported(
                    "the point adder works in the base field Fq".into(),
                ));
            }
            return Self::point_add(mul_latency, HwConfig::default().adder_add_depth);
        }
        Self::check_latency(unit, mul_latency)?;
        Ok(Self {
            unit,
            field,
            mul_latency,
            add_depth: 0,
        })
    }

    /// The point adder's datapath with multipliers of `mul_latency` stages and `add_depth`
    /// (`D_add` ≥ 2) add/subtract stages: latency `3·mul_latency + add_depth`.
    pub fn point_add(mul_latency: u32, add_depth: u32) -> Result<Self, Error> {
        Self::check_latency(Unit::PointAdd, mul_latency)?;
        if !(Self::MIN_ADD_DEPTH..=64).contains(&add_depth) {
            return Err(Error::Unsupported(format!(
                "the point adder needs {}..=64 add/subtract stages (D_add), not {add_depth}",
                Self::MIN_ADD_DEPTH
            )));
        }
        Ok(Self {
            unit: Unit::PointAdd,
            field: FieldKind::Base,
            mul_latency,
            add_depth,
        })
    }

    fn check_latency(unit: Unit, mul_latency: u32) -> Result<(), Error> {
        if !(Self::MIN_MUL_LATENCY..=Self::MAX_MUL_LATENCY).contains(&mul_latency) {
            return Err(Error::UnsupportedLatency {
                unit: unit.module(),
                min: Self::MIN_MUL_LATENCY,
                max: Self::MAX_MUL_LATENCY,
                got: mul_latency,
            });
        }
        Ok(())
    }

    /// `unit` as hw-sim's configuration describes it: `mul-latency` is `L_mul`; for the point
    /// adder `adder-add-depth` is `D_add` and `adder-mul-depth` must be 3, this formula's.
    pub fn from_config(unit: Unit, field: FieldKind, config: &HwConfig) -> Result<Self, Error> {
        if unit != Unit::PointAdd {
            return Self::new(unit, field, config.mul_latency);
        }
        if config.adder_mul_depth != Self::ADDER_MUL_DEPTH {
            return Err(Error::Unsupported(format!(
                "the RTL point adder has {} multiplications on its critical path; \
                 adder-mul-depth is {}",
                Self::ADDER_MUL_DEPTH,
                config.adder_mul_depth
            )));
        }
        if field != FieldKind::Base {
            return Err(Error::Unsupported(
                "the point adder works in the base field Fq".into(),
            ));
        }
        Self::point_add(config.mul_latency, config.adder_add_depth)
    }

    /// The unit.
    pub fn unit(&self) -> Unit {
        self.unit
    }

    /// The field.
    pub fn field(&self) -> FieldKind {
        self.field
    }

    /// The multiplier's latency `L_mul`.
    pub fn mul_latency(&self) -> u32 {
        self.mul_latency
    }

    /// The point adder's `D_add` (0 for the other units).
    pub fn add_depth(&self) -> u32 {
        self.add_depth
    }

    /// Cycles from input to output: `L_mul` for the multiplier, `L_mul + 1` for the butterfly,
    /// `3·L_mul + D_add` for the point adder.
    pub fn latency(&self) -> u32 {
        match self.unit {
            Unit::MontMul => self.mul_latency,
            Unit::Butterfly => self.mul_latency + 1,
            Unit::PointAdd => Self::ADDER_MUL_DEPTH * self.mul_latency + self.add_depth,
        }
    }

    /// The Verilog `FIELD` parameter.
    pub fn field_param(&self) -> u32 {
        match self.field {
            FieldKind::Scalar => 0,
            FieldKind::Base => 1,
        }
    }

    fn unit_param(&self) -> u32 {
        match self.unit {
            Unit::MontMul => 0,
            Unit::Butterfly => 1,
            Unit::PointAdd => 2,
        }
    }

    /// The Verilog `D_ADD` parameter (the wrapper's default where unused).
    fn add_depth_param(&self) -> u32 {
        match self.unit {
            Unit::PointAdd => self.add_depth,
            _ => 6,
        }
    }
}

impl fmt::Display for UnitSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = match self.field {
            FieldKind::Scalar => "Fr",
            FieldKind::Base => "Fq",
        };
        write!(
            f,
            "{} {field} L_mul={}",
            self.unit.module(),
            self.mul_latency
        )?;
        if self.unit == Unit::PointAdd {
            write!(f, " D_add={}", self.add_depth)?;
        }
        Ok(())
    }
}

/// A built, runnable model of one unit.
#[derive(Clone, Debug)]
pub struct Model {
    spec: UnitSpec,
    exe: PathBuf,
    traced: bool,
}

impl Model {
    /// The unit and configuration.
    pub fn spec(&self) -> UnitSpec {
        self.spec
    }

    /// The executable.
    pub fn exe(&self) -> &Path {
        &self.exe
    }

    /// Whether it can write a VCD waveform.
    pub fn traced(&self) -> bool {
        self.traced
    }
}

/// Options of a build.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BuildOptions {
    /// Compile in VCD tracing (`Model::run` with a VCD path needs it; it compiles slower).
    pub trace: bool,
}

/// Builds are serialised within a process (they use both cores); across processes the
/// finished folder is renamed into place atomically.
static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// Flags given to every build: part of the cache key.
const VERILATOR_FLAGS: &[&str] = &[
    "--cc",
    "--exe",
    "-Wno-fatal",
    "--x-assign",
    "unique",
    "--x-initial",
    "unique",
    "--prefix",
    "Vunit",
    "--top-module",
    "tb_unit",
];
/// Optimisation of the model's C++ (Verilator's default is -Os).
const OPT_FAST: &str = "OPT_FAST=-O1";
/// Verilator's runtime objects, compiled once per Verilator version and tracing choice.
fn runtime_objects(trace: bool) -> &'static [&'static str] {
    if trace {
        &["verilated.o", "verilated_threads.o", "verilated_vcd_c.o"]
    } else {
        &["verilated.o", "verilated_threads.o"]
    }
}

/// Builds (or finds in the cache) the Verilator model of `spec` from `rtl`.
pub fn build(rtl: &Rtl, spec: UnitSpec, options: BuildOptions) -> Result<Model, Error> {
    let version = tools::verilator_version()?;
    let mut hasher = Sha256::new();
    for part in [version.as_str(), WRAPPER, DRIVER, OPT_FAST] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    for flag in VERILATOR_FLAGS {
        hasher.update(flag.as_bytes());
        hasher.update([0]);
    }
    for (name, text) in rtl.files() {
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(text.as_bytes());
        hasher.update([0]);
    }
    hasher.update(
        format!(
            "UNIT={} FIELD={} L={} D_ADD={} trace={}",
            spec.unit_param(),
            spec.field_param(),
            spec.mul_latency,
            spec.add_depth_param(),
            options.trace
        )
        .as_bytes(),
    );
    let key = hex(&hasher.finalize()[..10]);
    let models = work_dir().join("models");
    let dir = models.join(&key);
    let exe = dir.join("Vunit");
    let model = Model {
        spec,
        exe: exe.clone(),
        traced: options.trace,
    };
    if exe.exists() {
        return Ok(model);
    }

    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if exe.exists() {
        return Ok(model);
    }
    let tmp = models.join(format!("{key}.tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(Error::io(format!("clearing {}", tmp.display())))?;
    }
    if let Err(e) = build_in(&tmp, rtl, spec, options, &version) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    match std::fs::rename(&tmp, &dir) {
        Ok(()) => {}
        // Another process finished the same build first: keep theirs.
        Err(_) if exe.exists() => {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        Err(e) => {
            return Err(Error::io(format!("moving the build to {}", dir.display()))(
                e,
            ))
        }
    }
    Ok(model)
}

/// Verilates and compiles into `tmp`, leaving `tmp/Vunit` and `tmp/src/`.
fn build_in(
    tmp: &Path,
    rtl: &Rtl,
    spec: UnitSpec,
    options: BuildOptions,
    version: &str,
) -> Result<(), Error> {
    let src = tmp.join("src");
    std::fs::create_dir_all(&src).map_err(Error::io(format!("creating {}", src.display())))?;
    let mut sources = Vec::new();
    for (name, text) in rtl
        .files()
        .chain([("tb_unit.v", WRAPPER), ("main.cpp", DRIVER)])
    {
        let path = src.join(name);
        std::fs::write(&path, text).map_err(Error::io(format!("writing {}", path.display())))?;
        sources.push(path);
    }
    let obj = tmp.join("obj");

    let mut verilate = Command::new("verilator");
    verilate
        .args(VERILATOR_FLAGS)
        .arg(format!("-GUNIT={}", spec.unit_param()))
        .arg(format!("-GFIELD={}", spec.field_param()))
        .arg(format!("-GL={}", spec.mul_latency))
        .arg(format!("-GD_ADD={}", spec.add_depth_param()))
        .arg("-Mdir")
        .arg(&obj)
        .args(["-o", "Vunit"])
        .args(&sources);
    if options.trace {
        verilate.arg("--trace");
    }
    tools::run("verilator", &mut verilate)?;

    // Verilator's runtime does not depend on the design: reuse its objects when we have them
    // (copied in newer than their sources, make leaves them be).
    let runtime = work_dir().join(format!(
        "runtime-{}",
        hex(&Sha256::digest(format!("{version} {OPT_FAST} trace={}", options.trace))[..8])
    ));
    let objects = runtime_objects(options.trace);
    let have_runtime = objects.iter().all(|o| runtime.join(o).exists());
    if have_runtime {
        for o in objects {
            std::fs::copy(runtime.join(o), obj.join(o))
                .map_err(Error::io(format!("copying {o} from {}", runtime.display())))?;
        }
    }
    let jobs = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(4);
    tools::run(
        "make",
        Command::new("make").arg("-C").arg(&obj).args([
            "-f",
            "Vunit.mk",
            "-s",
            &format!("-j{jobs}"),
            OPT_FAST,
            "Vunit",
        ]),
    )?;
    if !have_runtime {
        save_runtime(&obj, &runtime, objects)?;
    }

    // Keep the executable and the sources it came from; drop the C++ objects.
    std::fs::rename(obj.join("Vunit"), tmp.join("Vunit"))
        .map_err(Error::io("moving the executable"))?;
    std::fs::remove_dir_all(&obj).map_err(Error::io("removing objects"))?;
    Ok(())
}

fn save_runtime(obj: &Path, runtime: &Path, objects: &[&str]) -> Result<(), Error> {
    let tmp = runtime.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(Error::io(format!("creating {}", tmp.display())))?;
    for o in objects {
        std::fs::copy(obj.join(o), tmp.join(o)).map_err(Error::io(format!("saving {o}")))?;
    }
    if std::fs::rename(&tmp, runtime).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
