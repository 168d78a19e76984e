//! `zkedge serve`.

use std::{path::PathBuf, time::Duration};

use accel_backends::Backend;
use anyhow::{Context, Result};

use super::{ui::bytes, RouteArgs};
use crate::{
    backends::Registry,
    keys::{Keys, Parts},
    router::Policy,
    serve::{self, port, ServiceConfig},
};

/// Arguments of `zkedge serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The device's line: a serial device (`/dev/ttyACM0`), the pseudo-terminal QEMU made
    /// (`-serial pty` prints it), or `unix:PATH` for QEMU's `-serial unix:PATH,server=on`.
    #[arg(long)]
    port: String,
    /// Keys directory from `zkedge setup` for the model the device runs.
    #[arg(long)]
    keys: PathBuf,
    /// Where the device's MSMs (and witness-mode proofs) run (`zkedge backends` lists them).
    #[arg(long, default_value = "cpu")]
    backend: String,
    #[command(flatten)]
    route: RouteArgs,
    /// Let the device send NTTs of 2^LOG points or more here (default: none; the device keeps
    /// its NTTs, as their results would come back over the slow host→device direction).
    #[arg(long, value_name = "LOG")]
    device_ntt_from: Option<u8>,
    /// Baud rate of a serial device (ignored by pseudo-terminals and sockets).
    #[arg(long, default_value_t = 115_200)]
    baud: u32,
    /// Write each accepted proof as DIR/<digest>.proof (checkable with `zkedge verify`).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Write a JSON report of what was served to FILE when the device hangs up.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Seconds to keep trying to connect to a `unix:` socket.
    #[arg(long, default_value_t = 30)]
    wait: u64,
    /// Keep up to F times the SRS's memory of precomputed multiples in the backend, so that
    /// each MSM of a proof is faster after a slower start (`zkedge backends` says how far each
    /// backend goes; 1: none).
    #[arg(long, value_name = "F", default_value_t = 1)]
    precompute: u32,
    /// Send input-mode uploads to the cluster at URL as jobs (`zkedge worker`s prove them)
    /// instead of proving them here; witness-mode uploads and device-made proofs are still
    /// handled here (docs/cluster.md).
    #[arg(long, value_name = "URL")]
    nats: Option<String>,
    /// With --nats: how long a device's job is waited on before the device is told to try
    /// again (the job stays queued; keep it below the device's own proving timeout).
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    job_wait: u64,
}

pub fn run(args: &ServeArgs, registry: &Registry) -> Result<()> {
    let keys = Keys::load(&args.keys, Parts::Zkedge)
        .with_context(|| format!("loading keys from {}", args.keys.display()))?;
    let input = keys.layout.input_visibility();
    match input {
        zkedge_kernel::layout::Visibility::Private => {}
        zkedge_kernel::layout::Visibility::Public => eprintln!(
            "zkedge serve: these keys make the input public: a device is served in input mode \
             only (its proofs reveal the input); witness uploads and device-made proofs are \
             refused (Forbidden)"
        ),
        zkedge_kernel::layout::Visibility::Hashed => eprintln!(
            "zkedge serve: these keys hash the input: a device is served in input mode with a \
             salt only (InputBeginHashed; its proofs carry the commitment it claims); witness \
             uploads and device-made proofs are refused (Forbidden)"
        ),
    }
    if let Some(h) = &keys.weights_hash {
        eprintln!(
            "zkedge serve: these keys hash the weights (proofs carry {}): a device is served in \
             input mode only; witness uploads and device-made proofs are refused (Forbidden)",
            crate::srs::hex(h)
        );
    }
    // Every MSM result relayed to the device is checked first (router::open checks them).
    let (policy, from) = if registry.is_reference(&args.backend) {
        (Policy::NONE, String::new())
    } else {
        args.route.resolve(&args.backend)?
    };
    let (router, routing) = match crate::router::open(registry, &args.backend, policy, &keys.srs)? {
        (router, Some(e)) => {
            eprintln!("zkedge serve: warning: {e}; serving from the CPU instead");
            (router, "; could not be opened: the CPU serves".into())
        }
        (router, None) if registry.is_reference(&args.backend) => (router, String::new()),
        (router, None) => (
            router,
            format!(
                "; routing: {} ({from})",
                crate::routing_file::describe(&policy)
            ),
        ),
    };
    let mut config = ServiceConfig::default();
    config.ntt_min_log = args.device_ntt_from.unwrap_or(accel_proto::NTT_NEVER);
    config.out_dir = args.out.clone();
    config.verbose = true;
    config.bases = accel_backends::BasesConfig::precomputed(args.precompute);
    let model = keys.manifest.model.clone();
    let mut server = serve::server(keys, router, config).context("starting the service")?;
    let mut jobs = String::new();
    if let Some(url) = &args.nats {
        let gateway = serve::Gateway::connect(url, Duration::from_secs(args.job_wait))
            .context("connecting to the cluster (--nats)")?;
        jobs = format!("; input-mode uploads become jobs on {url}");
        server
            .extension_mut()
            .set_gateway(gateway)
            .context("starting the cluster gateway")?;
    }
    let mut line = port::open(&args.port, args.baud, Duration::from_secs(args.wait))?;
    eprintln!(
        "zkedge serve: serving {model} on {} (backend {}{routing}{jobs})",
        args.port, args.backend
    );
    let served = serve::serve_link(&mut server, &mut line);
    let report = server.extension().report();
    let c = server.backend().counters();
    eprintln!(
        "zkedge serve: the device hung up after {} frames: {} proofs accepted, {} refused requests, {} faults; {} MSMs ({} scalars), {} NTTs",
        server.frames_answered(),
        report.proofs.len(),
        report.refused.len(),
        report.faults,
        c.msm_calls,
        c.msm_elements,
        c.ntt_calls,
    );
    if report.dropped_sessions > 0 {
        eprintln!(
            "zkedge serve: {} sessions dropped because the device stopped reading",
            report.dropped_sessions
        );
    }
    if let Some(name) = &report.suspect {
        eprintln!(
            "zkedge serve: {name} was suspect after a proof made with it failed verification"
        );
    }
    if report.witness_bytes + report.proof_bytes + report.input_bytes > 0 {
        eprintln!(
            "zkedge serve: uploads: witnesses {}, proofs {}, inputs {}",
            bytes(report.witness_bytes as usize),
            bytes(report.proof_bytes as usize),
            bytes(report.input_bytes as usize)
        );
    }
    let jobs = report.proofs.iter().filter(|p| p.job.is_some()).count();
    if args.nats.is_some() {
        eprintln!("zkedge serve: {jobs} proofs made by cluster workers");
    }
    if let Some(path) = &args.report {
        let json = serde_json::json!({
            "report": report,
            "frames": server.frames_answered(),
            "msm_calls": c.msm_calls,
            "msm_elements": c.msm_elements,
            "ntt_calls": c.ntt_calls,
            "ntt_elements": c.ntt_elements,
        });
        std::fs::write(path, serde_json::to_string_pretty(&json)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    served.context("serving the device")?;
    Ok(())
}
