//! From measurements to routing: per backend and operation, the size from which the backend
//! beats the CPU, and the routing file that says so.
//!
//! A backend "beats the CPU from 2^k" when its time is below the CPU's wall time at 2^k and at
//! every larger size measured, so that the router's one threshold per operation agrees with
//! every measurement. Below the smallest size measured, jobs stay on the CPU.

use std::fmt::Write as _;

use super::{report::secs, OpKind, Report};
use zkedge_core::routing_file::{Entry, RoutingFile};

/// Which time of an accelerator is compared with the CPU's wall time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RouteBy {
    /// Device time plus link time where the backend reports a clock (hw-sim: projected
    /// accelerator time at its clock, and its data at the link's baud); wall time otherwise.
    Link,
    /// Device time alone where the backend reports a clock (as if the link were free, e.g. an
    /// accelerator on PCIe); wall time otherwise.
    Device,
    /// Host wall time for every backend (what this host sees: a GPU, or a board on a port).
    Wall,
}

impl RouteBy {
    /// The time compared, in words.
    pub fn describe(self) -> &'static str {
        match self {
            RouteBy::Link => {
                "projected (device+link) time where a backend has a clock, else wall time"
            }
            RouteBy::Device => "device time where a backend has a clock, else wall time",
            RouteBy::Wall => "host wall time",
        }
    }

    /// Short name, as on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            RouteBy::Link => "link",
            RouteBy::Device => "device",
            RouteBy::Wall => "wall",
        }
    }
}

/// Where one backend starts to beat the CPU at one operation.
#[derive(Clone, Debug, PartialEq)]
pub struct Crossover {
    /// The backend's label.
    pub backend: String,
    /// The operation.
    pub op: OpKind,
    /// What was compared.
    pub basis: RouteBy,
    /// log2 sizes both the backend and the CPU ran.
    pub measured: Vec<u32>,
    /// The backend is faster from 2^k up (every larger size measured); `None`: not at the
    /// largest size, so never.
    pub from: Option<u32>,
    /// The same by device time alone (backends with a clock).
    pub device_from: Option<u32>,
    /// At the largest size measured, the link rate (baud, 10 bit times a byte) at which
    /// device+link time would equal the CPU's time; `None` where the device alone is slower
    /// or the backend has no link.
    pub break_even_baud: Option<(u32, f64)>,
}

fn from_where(measured: &[u32], faster: impl Fn(u32) -> bool) -> Option<u32> {
    let mut from = None;
    for &k in measured.iter().rev() {
        if !faster(k) {
            break;
        }
        from = Some(k);
    }
    from
}

/// Every non-CPU backend's crossover with `cpu`, per operation, by `basis`. Empty without a
/// `cpu` row.
pub fn crossovers(report: &Report, basis: RouteBy) -> Vec<Crossover> {
    let mut out = Vec::new();
    for op in report.ops().into_iter().filter(|op| op.is_kernel()) {
        for backend in report.backends.iter().filter(|b| *b != "cpu") {
            let pairs: Vec<(u32, f64, &super::Measured)> = report
                .rows
                .iter()
                .filter(|r| &r.backend == backend && r.op == op)
                .filter_map(|r| {
                    let cpu = report.row("cpu", op, r.log_n)?.measured()?;
                    Some((r.log_n, cpu.wall.median, r.measured()?))
                })
                .collect();
            if pairs.is_empty() {
                continue;
            }
            let measured: Vec<u32> = pairs.iter().map(|p| p.0).collect();
            let find = |k: u32| pairs.iter().find(|p| p.0 == k);
            let from = from_where(&measured, |k| {
                find(k).is_some_and(|(_, cpu, m)| m.time_by(basis) < *cpu)
            });
            let clocked = pairs.iter().all(|p| p.2.device_s().is_some());
            let device_from = clocked
                .then(|| {
                    from_where(&measured, |k| {
                        find(k).is_some_and(|(_, cpu, m)| m.device_s().is_some_and(|d| d < *cpu))
                    })
                })
                .flatten();
            let break_even_baud = pairs.last().and_then(|&(k, cpu, m)| {
                let slack = cpu - m.device_s()?;
                let bytes = m.link_bytes? as f64;
                (slack > 0.0 && m.link_baud.is_some()).then(|| (k, bytes * 10.0 / slack))
            });
            out.push(Crossover {
                backend: backend.clone(),
                op,
                basis,
                measured,
                from,
                device_from,
                break_even_baud,
            });
        }
    }
    out
}

fn rate(baud: f64) -> String {
    if baud >= 1e9 {
        format!("{:.1} Gbaud", baud / 1e9)
    } else if baud >= 1e6 {
        format!("{:.1} Mbaud", baud / 1e6)
    } else {
        format!("{:.0} kbaud", baud / 1e3)
    }
}

impl Crossover {
    /// One line for people.
    pub fn describe(&self) -> String {
        let range = match (self.measured.first(), self.measured.last()) {
            (Some(lo), Some(hi)) => format!("2^{lo}..2^{hi}"),
            _ => "nothing".into(),
        };
        let mut s = format!("{} vs cpu, {}: ", self.backend, self.op);
        match self.from {
            Some(k) if Some(&k) == self.measured.first() => {
                let _ = write!(
                    s,
                    "faster at every size measured ({range}): offload from 2^{k}"
                );
            }
            Some(k) => {
                let _ = write!(
                    s,
                    "faster from 2^{k} (measured {range}): offload from 2^{k}"
                );
            }
            None => {
                let _ = write!(
                    s,
                    "not faster at 2^{} (measured {range}): keep on the CPU",
                    self.measured.last().copied().unwrap_or(0)
                );
            }
        }
        let _ = write!(s, " [by {}]", self.basis.as_str());
        if self.basis == RouteBy::Link && self.device_from != self.from {
            match self.device_from {
                Some(k) => {
                    let _ = write!(s, "; by device time alone from 2^{k}");
                }
                None => s.push_str("; slower by device time alone too"),
            }
        }
        if let Some((k, baud)) = self.break_even_baud.filter(|_| self.from.is_none()) {
            let _ = write!(
                s,
                "; at 2^{k} its link would need ≥ {} to break even",
                rate(baud)
            );
        }
        s
    }
}

/// The routing file these crossovers make: one entry per backend, thresholds from `from`
/// ("never" where the backend is not faster, or the operation was not measured).
pub fn routing_file(crossovers: &[Crossover], report: &Report) -> RoutingFile {
    let mut file = RoutingFile::default();
    for backend in report.backends.iter().filter(|b| *b != "cpu") {
        let mine: Vec<&Crossover> = crossovers
            .iter()
            .filter(|c| &c.backend == backend)
            .collect();
        if mine.is_empty() {
            continue;
        }
        let find = |op| mine.iter().find(|c| c.op == op);
        let msm = find(OpKind::Msm);
        let ntt = find(OpKind::Ntt);
        let basis: Vec<String> = mine
            .iter()
            .map(|c| {
                let times: Vec<String> = c
                    .measured
                    .iter()
                    .filter_map(|&k| {
                        let m = report.row(backend, c.op, k)?.measured()?;
                        let cpu = report.row("cpu", c.op, k)?.measured()?;
                        Some(format!(
                            "2^{k} {} vs {}",
                            secs(m.time_by(c.basis)),
                            secs(cpu.wall.median)
                        ))
                    })
                    .collect();
                format!("{}: {}", c.op, times.join(", "))
            })
            .collect();
        file.backend.insert(
            backend.clone(),
            Entry {
                msm_min: msm.and_then(|c| c.from).map(|k| 1u64 << k),
                ntt_min_log: ntt.and_then(|c| c.from).map(u64::from),
                basis: Some(format!(
                    "--route-by {} ({}) against cpu wall time; seed {}; {}",
                    mine[0].basis.as_str(),
                    mine[0].basis.describe(),
                    report.seed,
                    basis.join("; ")
                )),
            },
        );
    }
    file
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Measured, Outcome, Row, Spread};

    fn row(backend: &str, log_n: u32, wall: f64, cycles: Option<u64>) -> Row {
        Row {
            backend: backend.into(),
            op: OpKind::Msm,
            log_n,
            outcome: Outcome::Measured(Measured {
                repeats: 1,
                wall: Spread::of(&[wall]),
                device_cycles: cycles,
                clock_hz: cycles.map(|_| 1_000_000),
                link_bytes: cycles.map(|_| 1000),
                link_modelled: true,
                link_baud: cycles.map(|_| 10_000),
                host_other_s: None,
            }),
        }
    }

    #[test]
    fn the_crossover_is_where_the_backend_stays_faster() {
        // cpu: 1, 2, 4, 8 s; sim device: 3, 1, 5, 2 s (faster at 11 and 13, not at 12); link
        // adds 1 s (1000 bytes at 10 kbaud).
        let mut rows = Vec::new();
        for (k, cpu, sim) in [(10, 1.0, 3), (11, 2.0, 1), (12, 4.0, 5), (13, 8.0, 2)] {
            rows.push(row("cpu", k, cpu, None));
            rows.push(row("sim", k, 100.0, Some(sim * 1_000_000)));
        }
        let report = Report {
            seed: 7,
            backends: vec!["cpu".into(), "sim".into()],
            rows,
        };
        let c = &crossovers(&report, RouteBy::Link)[0];
        assert_eq!(c.from, Some(13));
        assert_eq!(c.device_from, Some(13));
        let wall = &crossovers(&report, RouteBy::Wall)[0];
        assert_eq!(wall.from, None);
        assert!(
            wall.describe().contains("keep on the CPU"),
            "{}",
            wall.describe()
        );
        let file = routing_file(std::slice::from_ref(c), &report);
        let e = &file.backend["sim"];
        assert_eq!(e.msm_min, Some(1 << 13));
        assert_eq!(e.ntt_min_log, None);
        // Break even at 2^13: 1000 bytes in 8 − 2 = 6 s → 1667 baud.
        let (k, baud) = c.break_even_baud.unwrap();
        assert_eq!(k, 13);
        assert!((baud - 10_000.0 / 6.0).abs() < 1.0);
    }
}
