//! The unit sources are synthesisable style and lint-clean: Verilator `-Wall` for both fields
//! and several latencies, Icarus Verilog elaborates them too, and they hold no `initial`
//! blocks or delays.

use std::process::Command;

use rtl_testbench::model::{rtl_dir, Rtl};

fn run(program: &str, args: &[String]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(rtl_dir())
        .output()
        .unwrap_or_else(|e| panic!("{program} not found ({e}); `cargo xtask test` installs it"));
    assert!(
        out.status.success(),
        "{program} {}:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sources() -> Vec<String> {
    Rtl::committed()
        .files()
        .map(|(name, _)| name.to_owned())
        .collect()
}

#[test]
fn verilator_lints_every_unit_clean() {
    let mut configs = Vec::new();
    for top in ["mont_mul", "butterfly"] {
        for field in [0, 1] {
            for l in [2, 3, 7, 16, 40] {
                configs.push((top, vec![format!("-GFIELD={field}"), format!("-GL={l}")]));
            }
        }
    }
    for (l, d_add) in [(2, 2), (3, 6), (16, 6), (16, 2)] {
        configs.push((
            "point_add",
            vec![format!("-GL={l}"), format!("-GD_ADD={d_add}")],
        ));
    }
    for (top, params) in configs {
        let mut args: Vec<String> = ["--lint-only", "-Wall", "--top-module", top]
            .map(String::from)
            .to_vec();
        args.extend(params);
        args.extend(sources());
        run("verilator", &args);
    }
}

#[test]
fn icarus_elaborates_every_unit() {
    let out = std::env::temp_dir().join(format!("rtl-testbench-iverilog-{}", std::process::id()));
    for top in ["mont_mul", "butterfly", "point_add"] {
        let mut args: Vec<String> = ["-g2005", "-Wall", "-s", top, "-o"]
            .map(String::from)
            .to_vec();
        args.push(out.to_string_lossy().into_owned());
        args.extend(sources());
        run("iverilog", &args);
    }
    let _ = std::fs::remove_file(out);
}

#[test]
fn units_have_no_initial_blocks_or_delays() {
    for (name, text) in Rtl::committed().files() {
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let words: Vec<&str> = code
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .collect();
            assert!(!words.contains(&"initial"), "{name}:{}: {line}", n + 1);
            // `#(` passes parameters; `#5` or `# 5` would be a delay.
            let delay = code.match_indices('#').any(|(i, _)| {
                code[i + 1..]
                    .trim_start()
                    .starts_with(|c: char| c.is_ascii_digit())
            });
            assert!(!delay, "{name}:{}: a delay: {line}", n + 1);
        }
    }
}
