//! Booting the firmware in QEMU with `zkedge serve` on the other end of its UART.

use std::{
    collections::BTreeMap,
    fs,
    io::{self, Read, Write},
    os::unix::net::{UnixListener, UnixStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};

use super::{build, BuildArgs, Built};
use crate::sh::root;

/// How QEMU's UART reaches the host driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Serial {
    /// `-serial pty`: QEMU makes a pseudo-terminal; `zkedge serve --port /dev/pts/N`.
    Pty,
    /// `-serial unix:PATH,server=on`: `zkedge serve --port unix:PATH`.
    Unix,
}

#[derive(Args, Clone, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    /// Where the host driver runs the device's MSMs (`zkedge backends`).
    #[arg(long, default_value = "cpu")]
    pub backend: String,
    /// How QEMU's UART reaches the host.
    #[arg(long, value_enum, default_value_t = Serial::Unix)]
    pub serial: Serial,
    /// Samples proven in witness mode (default: the firmware's, 2).
    #[arg(long)]
    pub witness: Option<u32>,
    /// Samples proven on the device (default: 1 when the prover is built in).
    #[arg(long)]
    pub device: Option<u32>,
    /// Let the device send NTTs of 2^LOG points or more to the host.
    #[arg(long, value_name = "LOG")]
    pub device_ntt_from: Option<u8>,
    /// Count instructions: QEMU with `-icount shift=0` (the firmware's busy times are then
    /// instruction counts) and the TCG counting plugin (needs a C compiler).
    #[arg(long)]
    pub count: bool,
    /// Seconds before QEMU is stopped.
    #[arg(long, default_value_t = 1800)]
    pub timeout: u64,
}

/// Corrupts host→device bytes on their way (tests the device's fault handling).
#[derive(Clone, Copy, Debug)]
pub struct Faults {
    /// One byte in every `every` is flipped.
    pub every: usize,
}

/// One boot.
pub struct Spec<'a> {
    pub built: &'a Built,
    pub serial: Serial,
    /// `-semihosting-config …,arg=` words for the firmware's plan.
    pub plan: Vec<String>,
    /// Extra `zkedge serve` arguments.
    pub serve: Vec<String>,
    /// Keys `zkedge serve` serves, if not the build's.
    pub keys: Option<PathBuf>,
    /// How long after QEMU the host driver starts.
    pub host_delay: Duration,
    pub faults: Option<Faults>,
    pub count: bool,
    pub timeout: Duration,
    /// Run directory (QEMU's working directory: the report file lands here).
    pub dir: PathBuf,
}

/// What a boot left behind.
pub struct Outcome {
    /// QEMU's exit code (`None`: stopped at the timeout).
    pub qemu: Option<i32>,
    /// The firmware's report: key → values, in order.
    pub report: BTreeMap<String, Vec<String>>,
    /// `zkedge serve --report`.
    pub serve: serde_json::Value,
    /// Whether `zkedge serve` exited 0.
    pub serve_ok: bool,
    /// Instruction counts at each mark (`--count`), and the total.
    pub marks: Vec<u64>,
    pub total_insns: Option<u64>,
    pub wall: Duration,
    pub dir: PathBuf,
}

impl Outcome {
    /// The first value of `key` in the firmware's report.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.report.get(key)?.first().map(String::as_str)
    }

    /// `name=value` fields of a report value.
    pub fn field<'v>(value: &'v str, name: &str) -> Option<&'v str> {
        value
            .split_whitespace()
            .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
    }
}

fn copy_to_file(mut from: impl Read + Send + 'static, path: PathBuf) {
    thread::spawn(move || {
        if let Ok(mut f) = fs::File::create(path) {
            let _ = io::copy(&mut from, &mut f);
        }
    });
}

fn wait_for(child: &mut Child, deadline: Instant) -> Result<Option<i32>> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status.code().unwrap_or(-1)));
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// Builds the counting plugin; returns it and the mark address.
fn plugin(built: &Built) -> Result<(PathBuf, String)> {
    let lib = root().join("target/firmware/libinsncount.so");
    let src = root().join("firmware/tools/insncount.c");
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&lib)
        .arg(&src)
        .status()
        .context("building the QEMU counting plugin needs a C compiler (cc)")?;
    if !status.success() {
        bail!("building {} failed", src.display());
    }
    let nm = Command::new("arm-none-eabi-nm").arg(&built.elf).output()?;
    let addr = String::from_utf8_lossy(&nm.stdout)
        .lines()
        .find(|l| l.ends_with(" zkedge_mark"))
        .and_then(|l| l.split_whitespace().next())
        .map(|a| format!("0x{a}"))
        .context("zkedge_mark not found in the firmware's symbols")?;
    Ok((lib, addr))
}

/// Forwards bytes both ways between `a` (QEMU) and `b` (the host driver), flipping one byte in
/// every `faults.every` of those going to QEMU.
fn relay(qemu: UnixStream, host: UnixStream, faults: Faults) -> Result<()> {
    let (mut q_read, mut h_write) = (qemu.try_clone()?, host.try_clone()?);
    thread::spawn(move || {
        let _ = io::copy(&mut q_read, &mut h_write);
        let _ = h_write.shutdown(std::net::Shutdown::Both);
    });
    let (mut h_read, mut q_write) = (host, qemu);
    thread::spawn(move || {
        let mut buf = [0u8; 1024];
        let mut seen = 0usize;
        loop {
            let n = match h_read.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            for b in &mut buf[..n] {
                seen += 1;
                if seen % faults.every == faults.every / 2 {
                    *b ^= 0x5a;
                }
            }
            if q_write.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = q_write.shutdown(std::net::Shutdown::Both);
    });
    Ok(())
}

fn connect(path: &Path, within: Duration) -> Result<UnixStream> {
    let start = Instant::now();
    loop {
        match UnixStream::connect(path) {
            Ok(s) => return Ok(s),
            Err(e) if start.elapsed() > within => {
                return Err(e).with_context(|| format!("connecting to {}", path.display()))
            }
            Err(_) => thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Boots the firmware, serves it, waits for both, and collects what they wrote.
pub fn launch(spec: &Spec<'_>) -> Result<Outcome> {
    let dir = &spec.dir;
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir)?;
    let started = Instant::now();
    let mut semihosting = String::from("enable=on,target=native,arg=zkedge");
    for word in &spec.plan {
        semihosting += &format!(",arg={word}");
    }
    let sock = dir.join("qemu.sock");
    let serial = match spec.serial {
        Serial::Pty => "pty".to_string(),
        Serial::Unix => format!("unix:{},server=on,wait=off", sock.display()),
    };
    let mut qemu = Command::new("qemu-system-arm");
    qemu.args([
        "-M",
        spec.built.board.machine(),
        "-nographic",
        "-monitor",
        "none",
    ])
    .args(["-semihosting-config", &semihosting])
    .arg("-kernel")
    .arg(&spec.built.elf)
    .args(["-serial", &serial]);
    if spec.count {
        let (lib, mark) = plugin(spec.built)?;
        qemu.args(["-icount", "shift=0"])
            .arg("-plugin")
            .arg(format!("{},mark={mark}", lib.display()))
            .args(["-d", "plugin", "-D"])
            .arg(dir.join("insncount.log"));
    }
    eprintln!(
        "\n==> qemu-system-arm -M {} … -serial {serial}",
        spec.built.board.machine()
    );
    let mut qemu = qemu
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(fs::File::create(dir.join("qemu.log"))?)
        .spawn()
        .context("could not start qemu-system-arm")?;
    let mut stdout = qemu.stdout.take().context("QEMU's stdout")?;
    let port = match spec.serial {
        Serial::Pty => {
            // QEMU names the pseudo-terminal on its first line; defmt's bytes follow.
            let mut line = Vec::new();
            let mut byte = [0u8; 1];
            while stdout.read(&mut byte)? == 1 && byte[0] != b'\n' {
                line.push(byte[0]);
            }
            let line = String::from_utf8_lossy(&line).into_owned();
            line.split_whitespace()
                .find(|w| w.starts_with("/dev/"))
                .map(str::to_string)
                .with_context(|| format!("QEMU did not name its pty: {line:?}"))?
        }
        Serial::Unix => format!("unix:{}", sock.display()),
    };
    copy_to_file(stdout, dir.join("defmt.bin"));
    thread::sleep(spec.host_delay);

    let port = match spec.faults {
        None => port,
        Some(faults) => {
            let relay_sock = dir.join("relay.sock");
            let listener = UnixListener::bind(&relay_sock)?;
            let qemu_sock = sock.clone();
            thread::spawn(move || -> Result<()> {
                let (host, _) = listener.accept()?;
                let qemu = connect(&qemu_sock, Duration::from_secs(30))?;
                relay(qemu, host, faults)
            });
            format!("unix:{}", relay_sock.display())
        }
    };
    let mut serve = Command::new(&spec.built.zkedge);
    serve
        .args(["serve", "--port", &port, "--keys"])
        .arg(spec.keys.as_ref().unwrap_or(&spec.built.keys))
        .arg("--report")
        .arg(dir.join("serve.json"))
        .arg("--out")
        .arg(dir.join("proofs"))
        .args(&spec.serve)
        .stdin(Stdio::null())
        .stderr(fs::File::create(dir.join("serve.log"))?);
    eprintln!("==> zkedge serve --port {port} {}", spec.serve.join(" "));
    let mut serve = serve.spawn().context("could not start zkedge serve")?;

    let qemu_code = wait_for(&mut qemu, started + spec.timeout)?;
    let serve_code = wait_for(&mut serve, Instant::now() + Duration::from_secs(30))?;
    let wall = started.elapsed();

    let mut report: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let text = fs::read_to_string(dir.join("zkedge-report.txt")).unwrap_or_default();
    for line in text.lines() {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        report.entry(key.into()).or_default().push(value.into());
    }
    let serve_json = fs::read_to_string(dir.join("serve.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null);
    let (marks, total_insns) = insn_counts(&dir.join("insncount.log"));
    Ok(Outcome {
        qemu: qemu_code,
        report,
        serve: serve_json,
        serve_ok: serve_code == Some(0),
        marks,
        total_insns,
        wall,
        dir: dir.clone(),
    })
}

fn insn_counts(log: &Path) -> (Vec<u64>, Option<u64>) {
    let text = fs::read_to_string(log).unwrap_or_default();
    let number_after = |line: &str, word: &str| -> Option<u64> {
        let rest = line.split(word).nth(1)?;
        rest.split_whitespace().next()?.parse().ok()
    };
    let marks = text
        .lines()
        .filter(|l| l.contains("insncount: mark"))
        .filter_map(|l| number_after(l, " at "))
        .collect();
    let total = text
        .lines()
        .find(|l| l.contains("insncount: total"))
        .and_then(|l| number_after(l, "total "));
    (marks, total)
}

/// Prints the firmware's logs: decoded by `defmt-print` where it is installed.
pub fn print_logs(built: &Built, dir: &Path) {
    let raw = dir.join("defmt.bin");
    let decoded = fs::File::open(&raw).ok().and_then(|input| {
        Command::new("defmt-print")
            .arg("-e")
            .arg(&built.elf)
            .stdin(input)
            .output()
            .ok()
            .filter(|o| o.status.success() || !o.stdout.is_empty())
    });
    match decoded {
        Some(out) => {
            eprintln!("\n--- device log (defmt) ---");
            eprint!("{}", String::from_utf8_lossy(&out.stdout));
        }
        None => eprintln!(
            "\n(device log: {} holds defmt frames; `cargo install defmt-print` and run \
             `defmt-print -e {} < {}` to read them)",
            raw.display(),
            built.elf.display(),
            raw.display()
        ),
    }
}

/// Prints the firmware's report and the host's summary.
pub fn print_outcome(o: &Outcome, counted: bool) {
    eprintln!(
        "\n--- device report ({}) ---",
        o.dir.join("zkedge-report.txt").display()
    );
    for (key, values) in &o.report {
        for v in values {
            eprintln!("{key} {v}");
        }
    }
    if counted {
        eprintln!("(run with -icount shift=0: every *busy_ns above is an instruction count)");
        if let Some(total) = o.total_insns {
            eprintln!("instructions executed in all (TCG plugin): {total}");
        }
        let deltas: Vec<u64> = o.marks.windows(2).map(|w| w[1] - w[0]).collect();
        if !deltas.is_empty() {
            eprintln!("instructions between consecutive marks: {deltas:?}");
        }
    }
    eprintln!("\n--- host log ---");
    eprint!(
        "{}",
        fs::read_to_string(o.dir.join("serve.log")).unwrap_or_default()
    );
    eprintln!(
        "\nQEMU exit: {}; wall time {:.1} s",
        o.qemu
            .map_or_else(|| "stopped at the timeout".into(), |c| c.to_string()),
        o.wall.as_secs_f64()
    );
}

/// `cargo xtask firmware run`.
pub fn run(args: &RunArgs) -> Result<()> {
    if args.build.rtt {
        bail!("an --rtt image logs over RTT and cannot exit QEMU; run a build without --rtt");
    }
    let built = build(&args.build)?;
    let mut plan = Vec::new();
    if let Some(n) = args.witness {
        plan.push(format!("witness={n}"));
    }
    if let Some(n) = args.device {
        plan.push(format!("device={n}"));
    }
    let mut serve = vec!["--backend".to_string(), args.backend.clone()];
    if let Some(log) = args.device_ntt_from {
        serve.extend(["--device-ntt-from".into(), log.to_string()]);
    }
    let spec = Spec {
        built: &built,
        serial: args.serial,
        plan,
        serve,
        keys: None,
        host_delay: Duration::from_millis(500),
        faults: None,
        count: args.count,
        timeout: Duration::from_secs(args.timeout),
        dir: root()
            .join("target/firmware/run")
            .join(built.board.machine()),
    };
    let outcome = launch(&spec)?;
    print_logs(&built, &outcome.dir);
    print_outcome(&outcome, args.count);
    match outcome.qemu {
        Some(0) => Ok(()),
        other => bail!("the firmware did not finish cleanly (QEMU exit {other:?})"),
    }
}
