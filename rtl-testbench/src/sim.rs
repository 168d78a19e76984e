//! Running a built model on a stream of inputs, one per cycle, through vector files.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use zkedge_hwsim::units::Word;

use crate::{
    model::Model,
    tools::{self, work_dir},
    Error,
};

/// Input words per cycle (the harness's `in_0 … in_4`).
pub const IN_WORDS: usize = 5;
/// Output words per cycle (`out_0 … out_2`).
pub const OUT_WORDS: usize = 3;

/// One cycle's input words; what they mean depends on the unit (a unit ignores the words it
/// does not use, which are 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct In {
    /// `in_0 … in_4`.
    pub words: [Word; IN_WORDS],
}

impl In {
    /// A multiplier input `a ⊗ b`.
    pub fn mul(a: Word, b: Word) -> Self {
        Self {
            words: [a, b, [0; 4], [0; 4], [0; 4]],
        }
    }

    /// A butterfly input: operands `a`, `b`, twiddle `w`.
    pub fn butterfly(a: Word, b: Word, w: Word) -> Self {
        Self {
            words: [a, b, w, [0; 4], [0; 4]],
        }
    }

    /// A point-adder input: projective `(X1 : Y1 : Z1)` plus affine `(x2, y2)`.
    pub fn point_add(p1: [Word; 3], p2: [Word; 2]) -> Self {
        Self {
            words: [p1[0], p1[1], p1[2], p2[0], p2[1]],
        }
    }
}

/// One cycle's output words: the multiplier's product is `words[0]`; the butterfly's `x, y`
/// are `words[0..2]`; the point adder's `X3, Y3, Z3` are all three. Unused words are 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Out {
    /// `out_0 … out_2`.
    pub words: [Word; OUT_WORDS],
}

/// What a simulation returned.
#[derive(Clone, Debug)]
pub struct Run {
    /// The output ports on each cycle: `None` while `out_valid` is low.
    pub outputs: Vec<Option<Out>>,
    /// Cycles clocked (after the reset cycle).
    pub cycles: u64,
    /// Wall-clock time spent clocking the model (file I/O excluded).
    pub wall: Duration,
    /// CPU time spent clocking the model.
    pub cpu: Duration,
}

impl Run {
    /// Simulated cycles per second of CPU time.
    pub fn cycles_per_cpu_second(&self) -> f64 {
        self.cycles as f64 / self.cpu.as_secs_f64().max(1e-9)
    }
}

/// Options of a run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Write a VCD waveform here (the model must be built with tracing).
    pub vcd: Option<PathBuf>,
    /// Seed of the registers' random power-up values (Verilator `+verilator+seed`).
    pub power_up_seed: u32,
}

static RUN_ID: AtomicU64 = AtomicU64::new(0);

impl Model {
    /// Clocks the model once per element of `inputs` (`None`: a bubble) after one reset cycle,
    /// its registers starting random; returns what its output ports showed on each cycle.
    pub fn run(&self, inputs: &[Option<In>], options: &RunOptions) -> Result<Run, Error> {
        if options.vcd.is_some() && !self.traced() {
            return Err(Error::BadOutput {
                path: self.exe().to_owned(),
                what: "a VCD needs a model built with BuildOptions { trace: true }".into(),
            });
        }
        let dir = work_dir().join("runs").join(format!(
            "{}-{}",
            std::process::id(),
            RUN_ID.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(Error::io(format!("creating {}", dir.display())))?;
        let result = self.run_in(&dir, inputs, options);
        let _ = std::fs::remove_dir_all(&dir);
        result
    }

    fn run_in(
        &self,
        dir: &Path,
        inputs: &[Option<In>],
        options: &RunOptions,
    ) -> Result<Run, Error> {
        let in_path = dir.join("in.txt");
        let out_path = dir.join("out.txt");
        let mut text = String::with_capacity(inputs.len() * 200);
        for input in inputs {
            match input {
                None => text.push_str("-\n"),
                Some(i) => {
                    let words: Vec<String> = i.words.iter().map(hex).collect();
                    let _ = writeln!(text, "{}", words.join(" "));
                }
            }
        }
        std::fs::write(&in_path, text).map_err(Error::io("writing the input vectors"))?;

        let mut cmd = Command::new(self.exe());
        cmd.arg("--in")
            .arg(&in_path)
            .arg("--out")
            .arg(&out_path)
            .arg("+verilator+rand+reset+2")
            // Verilator takes seeds in 1..2^31.
            .arg(format!(
                "+verilator+seed+{}",
                1 + options.power_up_seed % 0x7fff_ffff
            ));
        if let Some(vcd) = &options.vcd {
            cmd.arg("--vcd").arg(vcd);
        }
        tools::run("the verilated model", &mut cmd)?;
        let text =
            std::fs::read_to_string(&out_path).map_err(Error::io("reading the model's output"))?;
        parse_outputs(&out_path, &text, inputs.len())
    }
}

fn parse_outputs(path: &Path, text: &str, expected: usize) -> Result<Run, Error> {
    let bad = |what: String| Error::BadOutput {
        path: path.to_owned(),
        what,
    };
    let mut outputs = Vec::with_capacity(expected);
    let mut summary = None;
    for (n, line) in text.lines().enumerate() {
        if let Some(rest) = line.strip_prefix("# ") {
            summary = Some(rest.to_owned());
            continue;
        }
        if line == "-" {
            outputs.push(None);
            continue;
        }
        let parts: Vec<&str> = line.split(' ').collect();
        if parts.len() != OUT_WORDS {
            return Err(bad(format!(
                "line {}: expected \"-\" or {OUT_WORDS} words",
                n + 1
            )));
        }
        let mut words = [[0; 4]; OUT_WORDS];
        for (word, part) in words.iter_mut().zip(parts) {
            *word = parse_word(part).ok_or_else(|| bad(format!("line {}: bad word", n + 1)))?;
        }
        outputs.push(Some(Out { words }));
    }
    if outputs.len() != expected {
        return Err(bad(format!(
            "{} output lines for {expected} input cycles",
            outputs.len()
        )));
    }
    let summary = summary.ok_or_else(|| bad("no summary line".into()))?;
    let fields: Vec<&str> = summary.split(' ').collect();
    let number = |key: &str| -> Result<u64, Error> {
        fields
            .iter()
            .position(|f| *f == key)
            .and_then(|i| fields.get(i + 1))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad(format!("summary {summary:?} lacks {key}")))
    };
    Ok(Run {
        outputs,
        cycles: number("cycles")?,
        wall: Duration::from_nanos(number("wall_ns")?),
        cpu: Duration::from_nanos(number("cpu_ns")?),
    })
}

/// A word as 64 hex digits, most significant first.
pub fn hex(w: &Word) -> String {
    format!("{:016x}{:016x}{:016x}{:016x}", w[3], w[2], w[1], w[0])
}

fn parse_word(s: &str) -> Option<Word> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut w = [0u64; 4];
    for (i, limb) in w.iter_mut().enumerate() {
        let at = 64 - 16 * (i + 1);
        *limb = u64::from_str_radix(&s[at..at + 16], 16).ok()?;
    }
    Some(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_through_hex() {
        let w = [1, 0x0123_4567_89ab_cdef, u64::MAX, 0x3064_4e72_e131_a029];
        assert_eq!(parse_word(&hex(&w)), Some(w));
        assert_eq!(
            hex(&[1, 0, 0, 0]),
            format!("{}1", "0".repeat(63)),
            "most significant digit first"
        );
        assert_eq!(parse_word("12"), None);
    }
}
