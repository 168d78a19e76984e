//! What a benchmark measured, as rows; the terminal table and `report.csv`.

use std::fmt::Write as _;

use super::{OpKind, RouteBy};

/// Median, minimum and maximum of some runs, in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    /// The median (mean of the middle two for an even count).
    pub median: f64,
    /// The fastest run.
    pub min: f64,
    /// The slowest run.
    pub max: f64,
}

impl Spread {
    /// Of `samples` (at least one).
    pub fn of(samples: &[f64]) -> Self {
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        let median = match n {
            0 => 0.0,
            _ if n % 2 == 1 => s[n / 2],
            _ => (s[n / 2 - 1] + s[n / 2]) / 2.0,
        };
        Self {
            median,
            min: s.first().copied().unwrap_or(0.0),
            max: s.last().copied().unwrap_or(0.0),
        }
    }

    /// `(max − min) / median`, in percent.
    pub fn percent(&self) -> f64 {
        if self.median > 0.0 {
            (self.max - self.min) / self.median * 100.0
        } else {
            0.0
        }
    }
}

/// The measurements of one backend on one operation and size.
#[derive(Clone, Debug, PartialEq)]
pub struct Measured {
    /// Timed runs.
    pub repeats: u32,
    /// Host wall time of a call.
    pub wall: Spread,
    /// Device cycles of one call (median), for a backend that counts them.
    pub device_cycles: Option<u64>,
    /// The device clock in Hz, for a backend that reports one.
    pub clock_hz: Option<u64>,
    /// Bytes one call puts on the device's link (median), counted or modelled.
    pub link_bytes: Option<u64>,
    /// Whether `link_bytes` are modelled (a simulator in process) rather than counted.
    pub link_modelled: bool,
    /// The link's baud, if the backend sits behind (or models) one.
    pub link_baud: Option<u32>,
    /// For a proof on a backend with a clock: the host's wall time outside the backend's
    /// calls (median), which the projection keeps.
    pub host_other_s: Option<f64>,
}

impl Measured {
    /// `cycles / clock`, in seconds.
    pub fn device_s(&self) -> Option<f64> {
        match (self.device_cycles, self.clock_hz) {
            (Some(c), Some(f)) if f > 0 => Some(c as f64 / f as f64),
            _ => None,
        }
    }

    /// The link bytes at the link's baud (10 bit times a byte), in seconds.
    pub fn link_s(&self) -> Option<f64> {
        match (self.link_bytes, self.link_baud) {
            (Some(b), Some(baud)) if baud > 0 => Some(b as f64 * 10.0 / f64::from(baud)),
            _ => None,
        }
    }

    /// Device time plus link time (no overlap assumed; device time alone without a link),
    /// plus, for a proof, the host's own work.
    pub fn projected_s(&self) -> Option<f64> {
        self.device_s()
            .map(|d| d + self.link_s().unwrap_or(0.0) + self.host_other_s.unwrap_or(0.0))
    }

    /// The projection, where it adds something to the device time.
    fn projection_shown(&self) -> Option<f64> {
        (self.link_s().is_some() || self.host_other_s.is_some())
            .then(|| self.projected_s())
            .flatten()
    }

    /// The time routing compares by `basis`: device figures where the backend has them, else
    /// its wall time.
    pub fn time_by(&self, basis: RouteBy) -> f64 {
        match basis {
            RouteBy::Wall => None,
            RouteBy::Device => self.device_s(),
            RouteBy::Link => self.projected_s(),
        }
        .unwrap_or(self.wall.median)
    }
}

/// Measured, or why not.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// Ran and was timed.
    Measured(Measured),
    /// The backend does not take this size (its capabilities, or it refused).
    Unsupported(String),
}

/// One backend on one operation and size.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The backend's label: its spec.
    pub backend: String,
    /// The operation.
    pub op: OpKind,
    /// log2 of the size.
    pub log_n: u32,
    /// What happened.
    pub outcome: Outcome,
}

impl Row {
    /// The measurements, if any.
    pub fn measured(&self) -> Option<&Measured> {
        match &self.outcome {
            Outcome::Measured(m) => Some(m),
            Outcome::Unsupported(_) => None,
        }
    }
}

/// Everything a benchmark found.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// The inputs' seed.
    pub seed: u64,
    /// Backend labels, in the order given.
    pub backends: Vec<String>,
    /// Every (backend, operation, size), operation and size major.
    pub rows: Vec<Row>,
}

/// The columns of `report.csv`.
pub const CSV_HEADER: &str = "backend,op,log2_size,size,repeats,wall_median_s,wall_min_s,wall_max_s,spread_pct,device_cycles,clock_mhz,device_s,link_bytes,link_source,link_baud,link_s,host_other_s,projected_s,status";

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn sci(v: f64) -> String {
    format!("{v:.6e}")
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Splits one CSV line, honouring double quotes.
fn fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                if let Some(f) = out.last_mut() {
                    f.push('"');
                }
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(String::new()),
            (c, _) => {
                if let Some(f) = out.last_mut() {
                    f.push(c)
                }
            }
        }
    }
    out
}

impl Report {
    /// The row of `backend` for `op` at `log_n`.
    pub fn row(&self, backend: &str, op: OpKind, log_n: u32) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.backend == backend && r.op == op && r.log_n == log_n)
    }

    /// The operations present, in order.
    pub fn ops(&self) -> Vec<OpKind> {
        let mut ops: Vec<OpKind> = self.rows.iter().map(|r| r.op).collect();
        ops.sort();
        ops.dedup();
        ops
    }

    /// `report.csv`: one line per row; times in seconds, empty where not applicable.
    pub fn to_csv(&self) -> String {
        let mut out = format!("{CSV_HEADER}\n");
        for r in &self.rows {
            let common = format!(
                "{},{},{},{}",
                quote(&r.backend),
                r.op.as_str(),
                r.log_n,
                1u64 << r.log_n
            );
            match &r.outcome {
                Outcome::Measured(m) => {
                    let _ = writeln!(
                        out,
                        "{common},{},{},{},{},{:.1},{},{},{},{},{},{},{},{},{},ok",
                        m.repeats,
                        sci(m.wall.median),
                        sci(m.wall.min),
                        sci(m.wall.max),
                        m.wall.percent(),
                        opt(m.device_cycles),
                        opt(m.clock_hz.map(|f| f as f64 / 1e6)),
                        opt(m.device_s().map(sci)),
                        opt(m.link_bytes),
                        match (m.link_bytes, m.link_modelled) {
                            (None, _) => "",
                            (Some(_), true) => "modelled",
                            (Some(_), false) => "counted",
                        },
                        opt(m.link_baud),
                        opt(m.link_s().map(sci)),
                        opt(m.host_other_s.map(sci)),
                        opt(m.projected_s().map(sci)),
                    );
                }
                Outcome::Unsupported(why) => {
                    let _ = writeln!(
                        out,
                        "{common},0,,,,,,,,,,,,,,{}",
                        quote(&format!("unsupported: {why}"))
                    );
                }
            }
        }
        out
    }

    /// Reads `report.csv` back (the seed is not in it: 0).
    pub fn from_csv(text: &str) -> Result<Self, String> {
        let mut lines = text.lines();
        if lines.next() != Some(CSV_HEADER) {
            return Err("not a zkedge report.csv: unexpected header".into());
        }
        let mut report = Report {
            seed: 0,
            backends: Vec::new(),
            rows: Vec::new(),
        };
        for (i, line) in lines.enumerate().filter(|(_, l)| !l.is_empty()) {
            let at = |what: &str| format!("report.csv line {}: {what}", i + 2);
            let f = fields(line);
            if f.len() != CSV_HEADER.split(',').count() {
                return Err(at("wrong number of fields"));
            }
            let num = |j: usize| -> Result<Option<f64>, String> {
                if f[j].is_empty() {
                    Ok(None)
                } else {
                    f[j].parse()
                        .map(Some)
                        .map_err(|_| at(&format!("{:?} is not a number", f[j])))
                }
            };
            let int = |j: usize| -> Result<Option<u64>, String> {
                if f[j].is_empty() {
                    Ok(None)
                } else {
                    f[j].parse()
                        .map(Some)
                        .map_err(|_| at(&format!("{:?} is not an integer", f[j])))
                }
            };
            let op: OpKind = f[1].parse().map_err(|e: String| at(&e))?;
            let log_n = int(2)?.ok_or_else(|| at("no size"))? as u32;
            let outcome = if f[18] == "ok" {
                let need = |v: Option<f64>| v.ok_or_else(|| at("missing wall time"));
                Outcome::Measured(Measured {
                    repeats: int(4)?.unwrap_or(0) as u32,
                    wall: Spread {
                        median: need(num(5)?)?,
                        min: need(num(6)?)?,
                        max: need(num(7)?)?,
                    },
                    device_cycles: int(9)?,
                    clock_hz: num(10)?.map(|mhz| (mhz * 1e6).round() as u64),
                    link_bytes: int(12)?,
                    link_modelled: f[13] == "modelled",
                    link_baud: int(14)?.map(|b| b as u32),
                    host_other_s: num(16)?,
                })
            } else {
                Outcome::Unsupported(
                    f[18]
                        .strip_prefix("unsupported: ")
                        .ok_or_else(|| at("unknown status"))?
                        .to_string(),
                )
            };
            if !report.backends.contains(&f[0]) {
                report.backends.push(f[0].clone());
            }
            report.rows.push(Row {
                backend: f[0].clone(),
                op,
                log_n,
                outcome,
            });
        }
        Ok(report)
    }

    /// The terminal table: one line per backend, operation and size, with the speed-up over
    /// `cpu` (if measured) by `basis`.
    pub fn table(&self, basis: RouteBy) -> String {
        let width = self
            .backends
            .iter()
            .map(|b| b.chars().count())
            .max()
            .unwrap_or(7)
            .max(7);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<5} {:>5}  {:<width$}  {:>27}  {:>10}  {:>11}  {:>12}  {:>10}  {:>14}",
            "op",
            "size",
            "backend",
            "wall median [min–max]",
            "device",
            "projected",
            "cycles",
            "link",
            "vs cpu",
        );
        let mut last = None;
        for r in &self.rows {
            if last.is_some() && last != Some((r.op, r.log_n)) {
                out.push('\n');
            }
            last = Some((r.op, r.log_n));
            let head = format!(
                "{:<5} {:>5}  {:<width$}",
                r.op.as_str(),
                format!("2^{}", r.log_n),
                r.backend
            );
            let Some(m) = r.measured() else {
                if let Outcome::Unsupported(why) = &r.outcome {
                    let _ = writeln!(out, "{head}  unsupported: {why}");
                }
                continue;
            };
            let vs = self
                .row("cpu", r.op, r.log_n)
                .and_then(Row::measured)
                .filter(|_| r.backend != "cpu")
                .map(|cpu| ratio(cpu.wall.median / m.time_by(basis)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{head}  {:>27}  {:>10}  {:>11}  {:>12}  {:>10}  {:>14}",
                with_range(&m.wall),
                m.device_s().map(secs).unwrap_or_default(),
                m.projection_shown().map(secs).unwrap_or_default(),
                m.device_cycles.map(thousands).unwrap_or_default(),
                m.link_bytes.map(bytes).unwrap_or_default(),
                vs,
            );
        }
        out
    }
}

/// A speed ratio for people: `3.2× faster`, `19× slower`.
fn ratio(x: f64) -> String {
    let (r, word) = if x >= 1.0 {
        (x, "faster")
    } else {
        (1.0 / x, "slower")
    };
    if !r.is_finite() {
        return "-".into();
    }
    if r >= 9.95 {
        format!("{r:.0}× {word}")
    } else {
        format!("{r:.1}× {word}")
    }
}

/// `median [min–max]`, the range in the median's unit: `1.86 ms [1.80–6.11]`.
fn with_range(w: &Spread) -> String {
    let scale = if w.median >= 1.0 {
        1.0
    } else if w.median >= 1e-3 {
        1e3
    } else {
        1e6
    };
    let num = |v: f64| {
        let v = v * scale;
        if v >= 100.0 {
            format!("{v:.0}")
        } else if v >= 10.0 {
            format!("{v:.1}")
        } else {
            format!("{v:.2}")
        }
    };
    format!("{} [{}–{}]", secs(w.median), num(w.min), num(w.max))
}

/// Seconds for people: µs, ms or s.
pub fn secs(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20))
    } else if n >= 1 << 10 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trips() {
        let m = Measured {
            repeats: 3,
            wall: Spread::of(&[0.3, 0.1, 0.2]),
            device_cycles: Some(1234),
            clock_hz: Some(250_000_000),
            link_bytes: Some(4096),
            link_modelled: true,
            link_baud: Some(921_600),
            host_other_s: None,
        };
        assert_eq!(m.wall.median, 0.2);
        let report = Report {
            seed: 0,
            backends: vec!["cpu".into(), "sim:c=10,P=2".into()],
            rows: vec![
                Row {
                    backend: "cpu".into(),
                    op: OpKind::Msm,
                    log_n: 10,
                    outcome: Outcome::Measured(Measured {
                        device_cycles: None,
                        clock_hz: None,
                        link_bytes: None,
                        link_modelled: false,
                        link_baud: None,
                        ..m.clone()
                    }),
                },
                Row {
                    backend: "sim:c=10,P=2".into(),
                    op: OpKind::Msm,
                    log_n: 10,
                    outcome: Outcome::Measured(m),
                },
                Row {
                    backend: "sim:c=10,P=2".into(),
                    op: OpKind::Ntt,
                    log_n: 22,
                    outcome: Outcome::Unsupported("largest NTT 2^20".into()),
                },
            ],
        };
        let back = Report::from_csv(&report.to_csv()).expect("parses");
        assert_eq!(back.backends, report.backends);
        assert_eq!(back.rows.len(), 3);
        assert_eq!(back.rows[2], report.rows[2]);
        let (a, b) = (
            back.rows[1].measured().unwrap(),
            report.rows[1].measured().unwrap(),
        );
        assert_eq!(a.device_cycles, b.device_cycles);
        assert_eq!(a.clock_hz, b.clock_hz);
        assert!((a.wall.median - b.wall.median).abs() < 1e-9);
        assert!(report.table(RouteBy::Link).contains("4.5× faster"));
        assert!(Report::from_csv("x,y\n").is_err());
    }
}
