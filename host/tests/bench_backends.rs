//! `zkedge bench-backends` and `zkedge calibrate` end to end at small sizes (one timed run):
//! the outputs exist and parse, sweeps make one backend per combination, bad flags fail with
//! one clear line, and a backend that disagrees stops the run before anything is timed.

mod common;

use common::{path, zkedge};

use accel_conformance::faulty::{Fault, Faulty};
use zkedge::{
    backends::Registry,
    bench::{self, BenchError, LogRange, OpKind, Plan, Report, Silent},
    routing_file::RoutingFile,
};

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("zkedge-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn bench_writes_a_table_csv_plot_and_routing() {
    let dir = temp("out");
    let (code, out, err) = zkedge(&[
        "bench-backends",
        "--backends",
        "cpu,sim",
        "--msm",
        "4..6",
        "--ntt",
        "4..6",
        "--repeat",
        "1",
        "--seed",
        "5",
        "--out",
        path(&dir),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("agree bit for bit"), "{err}");
    assert!(
        out.contains("projected") && out.contains("msm     2^6"),
        "{out}"
    );
    assert!(out.contains("crossovers"), "{out}");

    let csv = std::fs::read_to_string(dir.join("report.csv")).expect("report.csv");
    let report = Report::from_csv(&csv).expect("report.csv parses");
    assert_eq!(report.backends, ["cpu", "sim"]);
    assert_eq!(report.rows.len(), 2 * 6);
    for r in &report.rows {
        let m = r.measured().expect("every job ran");
        assert_eq!(m.repeats, 1);
        assert!(m.wall.median > 0.0);
        if r.backend == "sim" {
            assert!(m.device_cycles.is_some_and(|c| c > 0), "{r:?}");
            assert_eq!(m.clock_hz, Some(250_000_000));
            assert!(m.link_modelled && m.link_bytes.is_some_and(|b| b > 32 << r.log_n));
            assert!(m.projected_s().unwrap() > m.device_s().unwrap());
        } else {
            assert_eq!(m.device_cycles, None);
        }
    }
    let svg = std::fs::read_to_string(dir.join("report.svg")).expect("report.svg");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("MSM (BN254 G1)") && svg.contains("sim — 250 MHz, link 921600 baud"));
    let routing = RoutingFile::load(&dir.join("routing.toml")).expect("routing.toml parses");
    assert!(routing.entry("sim").is_some());
    assert!(std::fs::read_to_string(dir.join("report.txt"))
        .expect("report.txt")
        .contains("seed 5"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_sweep_makes_one_sim_per_combination_and_calibrate_writes_routing() {
    let dir = temp("sweep");
    let file = dir.join("routing.toml");
    let (code, out, err) = zkedge(&[
        "calibrate",
        "--backends",
        "cpu,sim",
        "--sim-param",
        "c=4,5",
        "--sim-param",
        "P=1,2",
        "--msm",
        "5",
        "--ntt",
        "none",
        "--repeat",
        "1",
        "--route-by",
        "device",
        "--routing",
        path(&file),
    ]);
    assert_eq!(code, 0, "{err}");
    for label in ["sim:c=4,P=1", "sim:c=4,P=2", "sim:c=5,P=1", "sim:c=5,P=2"] {
        assert!(out.contains(label), "{label}: {out}");
    }
    let routing = RoutingFile::load(&file).expect("calibrate wrote it");
    assert_eq!(routing.backend.len(), 4);
    let e = routing.entry("sim:c=5,P=2").expect("an entry per sim");
    assert_eq!(e.ntt_min_log, None, "NTTs were not measured");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_flags_fail_with_one_clear_line() {
    let cases: &[(&[&str], i32, &str)] = &[
        (&["--msm", "18..10"], 2, "is empty"),
        (&["--ntt", "10..40"], 2, "2^28"),
        (&["--repeat", "0"], 2, "repeat"),
        (&["--backends", "cpu,gpu"], 1, "unknown backend \"gpu\""),
        (&["--backends", "cpu,sim:c=99"], 1, "window-bits = 99"),
        (&["--sim-param", "c"], 2, "KEY=V1,V2"),
        (
            &["--backends", "cpu", "--sim-param", "c=9"],
            1,
            "needs a sim backend",
        ),
        (&["--backends", "cpu,cpu"], 1, "listed twice"),
        (&["--msm", "none", "--ntt", "none"], 1, "nothing to run"),
    ];
    for (args, want_code, want) in cases {
        let mut all = vec!["bench-backends"];
        for (flag, value) in [("--repeat", "1"), ("--msm", "3"), ("--ntt", "3")] {
            if !args.contains(&flag) {
                all.extend([flag, value]);
            }
        }
        all.extend_from_slice(args);
        let (code, _, err) = zkedge(&all);
        assert_eq!(code, *want_code, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    let (code, _, err) = zkedge(&["calibrate", "--backends", "sim", "--routing", "/dev/null"]);
    assert_eq!(code, 1);
    assert!(err.contains("add cpu"), "{err}");
}

#[test]
fn a_backend_that_disagrees_stops_the_run() {
    let mut registry = Registry::with_defaults();
    registry.register(
        "broken",
        "an MSM wrong above 16 terms",
        Box::new(|_| {
            Ok(Box::new(Faulty::new(
                accel_backends::cpu::Cpu::new(),
                Fault::MsmWrongAbove(16),
            )))
        }),
    );
    let plan = Plan {
        backends: vec!["cpu".into(), "broken".into()],
        msm: Some(LogRange { lo: 3, hi: 6 }),
        ntt: None,
        repeat: 1,
        seed: 9,
        proof: false,
    };
    let err = bench::run(&registry, &plan, &mut Silent).expect_err("must disagree");
    assert!(matches!(err, BenchError::Disagree { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("broken disagrees with cpu on MSM of 2^5 terms") && msg.contains("seed 9"),
        "{msg}"
    );

    let plan = Plan {
        backends: vec!["cpu".into(), "sim:max-ntt-log=4".into()],
        msm: None,
        ntt: Some(LogRange { lo: 4, hi: 5 }),
        ..plan
    };
    let report = bench::run(&registry, &plan, &mut Silent).expect("runs");
    let big = report
        .row("sim:max-ntt-log=4", OpKind::Ntt, 5)
        .expect("a row");
    assert!(big.measured().is_none(), "2^5 is beyond this sim: {big:?}");
    assert!(report
        .row("sim:max-ntt-log=4", OpKind::Ntt, 4)
        .unwrap()
        .measured()
        .is_some());
}

#[test]
fn proof_rows_come_from_identical_verified_proofs() {
    let registry = Registry::with_defaults();
    // Two backends, so that the byte-for-byte comparison of their proofs runs.
    let plan = Plan {
        backends: vec!["cpu".into(), "sim".into()],
        msm: None,
        ntt: None,
        repeat: 1,
        seed: 4,
        proof: true,
    };
    let report = bench::run(&registry, &plan, &mut Silent).expect("proves and verifies");
    assert_eq!(report.rows.len(), 2);
    for row in &report.rows {
        assert_eq!(row.op, OpKind::Proof);
        assert!(row.measured().is_some_and(|m| m.wall.median > 0.0));
    }
    assert!(report.rows[1]
        .measured()
        .is_some_and(|m| m.device_cycles.is_some_and(|c| c > 0)));
    let back = Report::from_csv(&report.to_csv()).expect("parses");
    assert_eq!(back.rows[0].op, OpKind::Proof);
}

#[test]
fn demo_reads_the_routing_file() {
    let dir = temp("routing");
    let file = dir.join("routing.toml");
    let mut routing = RoutingFile::default();
    routing.backend.insert(
        "sim".into(),
        zkedge::routing_file::Entry {
            msm_min: Some(1 << 30),
            ntt_min_log: None,
            basis: None,
        },
    );
    routing.save(&file).expect("saves");
    let (code, out, err) = zkedge(&["demo", "--backend", "sim", "--routing", path(&file)]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("routing: MSMs ≥ 1073741824 terms, no NTT") && out.contains("routing.toml"),
        "{out}"
    );
    assert!(out.contains("on hw-sim: 0 MSMs"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
