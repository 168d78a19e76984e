//! `zkedge submit`, `status`, `fetch` and `worker`: proving through NATS JetStream
//! (`docs/cluster.md`).

use std::{path::PathBuf, sync::atomic::Ordering, time::Duration};

use anyhow::{bail, Context, Result};

use super::{input, RouteArgs};
use crate::{
    backends::Registry,
    cluster::{Cluster, Job, JobId, Record, Submitted, Worker, WorkerConfig},
    files::hash,
    keys::{Keys, Parts},
    proof::MultiOpen,
};

/// The NATS server's URL.
#[derive(clap::Args, Clone, Debug)]
pub struct NatsArg {
    /// The NATS server (with JetStream: `nats-server -js`).
    #[arg(long, value_name = "URL", default_value = "nats://127.0.0.1:4222")]
    nats: String,
}

/// Arguments of `zkedge submit`.
#[derive(clap::Args, Debug)]
pub struct SubmitArgs {
    #[command(flatten)]
    nats: NatsArg,
    /// The model (`.json`, `.zkm`, `.tflite` or `.onnx`): the job names it by its hash.
    #[arg(long)]
    model: PathBuf,
    /// Input JSON (as for `zkedge prove`).
    #[arg(long, conflicts_with = "batch", required_unless_present = "batch")]
    input: Option<PathBuf>,
    /// Batch JSON: `{"inputs": [[int8…], …]}`; one job each.
    #[arg(long)]
    batch: Option<PathBuf>,
    /// Multi-open argument of the proofs.
    #[arg(long, value_enum, default_value_t = MultiOpen::Gwc)]
    multiopen: MultiOpen,
}

/// Arguments of `zkedge status`.
#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    nats: NatsArg,
    /// A job id (from `zkedge submit`); without it, counts over the whole cluster.
    id: Option<String>,
}

/// Arguments of `zkedge fetch`.
#[derive(clap::Args, Debug)]
pub struct FetchArgs {
    #[command(flatten)]
    nats: NatsArg,
    /// The job id (from `zkedge submit`).
    id: String,
    /// Where to write the proof (check it with `zkedge verify`).
    #[arg(long)]
    out: PathBuf,
}

/// Arguments of `zkedge worker`.
#[derive(clap::Args, Debug)]
pub struct WorkerArgs {
    #[command(flatten)]
    nats: NatsArg,
    /// Keys directories from `zkedge setup`, one per model this worker proves.
    #[arg(long, num_args = 1.., required = true)]
    keys: Vec<PathBuf>,
    /// Where the prover sends its MSMs and NTTs (`zkedge backends` lists them).
    #[arg(long, default_value = "cpu")]
    backend: String,
    #[command(flatten)]
    route: RouteArgs,
    /// The worker's name in job records (default: worker-<pid>).
    #[arg(long)]
    name: Option<String>,
    /// Seconds a job may go without an ack before it is redelivered (set by the first worker,
    /// which creates the consumer; in-progress acks go out at a third of it).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(3..=3600))]
    ack_wait: u64,
    /// Deliveries after which a job that never got proven goes to the dead letter.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=100))]
    max_deliveries: u64,
    /// Do not turn raw inputs (the MQTT gateway's `zkedge/input/<model hash>`) into jobs.
    #[arg(long)]
    no_intake: bool,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

async fn connect(nats: &NatsArg, name: &str) -> Result<Cluster> {
    Ok(Cluster::connect(&nats.nats, name).await?)
}

pub fn submit(args: &SubmitArgs) -> Result<()> {
    let model = input::model(&args.model)?;
    let inputs = match (&args.input, &args.batch) {
        (Some(p), _) => vec![input::input(p, &model)?],
        (None, Some(b)) => input::batch(b, &model)?,
        (None, None) => bail!("give --input or --batch"),
    };
    let model_hash = hash(&model.to_bytes());
    runtime()?.block_on(async {
        let cluster = connect(&args.nats, "zkedge-submit").await?;
        for input in inputs {
            let job = Job::new(model_hash, input, args.multiopen);
            let submitted = cluster.submit(&job).await?;
            match submitted {
                Submitted::Queued(_) => {}
                Submitted::AlreadyQueued(id) => eprintln!("job {id} is queued already"),
                Submitted::AlreadyDone(id) => {
                    eprintln!("job {id} is done already: `zkedge fetch {id} --out P.zkp`")
                }
            }
            println!("{}", submitted.id());
        }
        Ok(())
    })
}

fn describe(record: &Record) -> String {
    match record {
        Record::Queued { model } => format!("queued (model {model})"),
        Record::Done {
            model,
            class,
            output,
            proof,
            proof_bytes,
            worker,
            prove_ms,
        } => format!(
            "done: class {class}, output {output:?}\n  proof {proof} ({proof_bytes} bytes), \
             proven and verified by {worker} in {prove_ms} ms\n  model {model}"
        ),
        Record::Dead { reason, deliveries } => {
            format!("dead after {deliveries} deliveries: {reason}")
        }
    }
}

pub fn status(args: &StatusArgs) -> Result<()> {
    let id: Option<JobId> = args.id.as_deref().map(str::parse).transpose()?;
    runtime()?.block_on(async {
        let cluster = connect(&args.nats, "zkedge-status").await?;
        match id {
            Some(id) => match cluster.record(&id).await? {
                Some((record, _)) => println!("{id} {}", describe(&record)),
                None => bail!("no job {id} in the cluster (submitted to another server?)"),
            },
            None => {
                let s = cluster.status().await?;
                println!(
                    "queued {} (in progress {}), done {}, dead {}, raw inputs waiting {}",
                    s.queued, s.in_progress, s.done, s.dead, s.inputs
                );
            }
        }
        Ok(())
    })
}

pub fn fetch(args: &FetchArgs) -> Result<()> {
    let id: JobId = args.id.parse()?;
    runtime()?.block_on(async {
        let cluster = connect(&args.nats, "zkedge-fetch").await?;
        let (record, bytes) = cluster.proof(&id).await?;
        if !matches!(record, Record::Done { .. }) {
            bail!("job {id} is not done: {}", describe(&record));
        }
        std::fs::write(&args.out, &bytes)
            .with_context(|| format!("cannot write {}", args.out.display()))?;
        println!(
            "{id} {}\nwritten to {}",
            describe(&record),
            args.out.display()
        );
        Ok(())
    })
}

pub fn worker(args: &WorkerArgs, registry: &Registry) -> Result<()> {
    let mut keys = Vec::new();
    for dir in &args.keys {
        let k = Keys::load(dir, Parts::Zkedge)
            .with_context(|| format!("loading keys from {}", dir.display()))?;
        let policy = if registry.is_reference(&args.backend) {
            crate::router::Policy::NONE
        } else {
            args.route.resolve(&args.backend)?.0
        };
        // Results checked as `prove` checks them; an accelerator that cannot be opened leaves
        // this model's jobs to the CPU.
        let (backend, unopened) = crate::router::open(registry, &args.backend, policy, &k.srs)?;
        if let Some(e) = unopened {
            eprintln!("warning: {e}; proving on the CPU instead");
        }
        eprintln!(
            "model {} ({}) from {}",
            crate::srs::hex(&k.model_id),
            k.model.file().name,
            dir.display()
        );
        keys.push((k, backend));
    }
    let config = WorkerConfig {
        name: args
            .name
            .clone()
            .unwrap_or_else(|| WorkerConfig::default().name),
        ack_wait: Duration::from_secs(args.ack_wait),
        max_deliveries: args.max_deliveries,
        intake: !args.no_intake,
    };
    let name = config.name.clone();
    let rt = runtime()?;
    let summary = rt.block_on(async {
        let cluster = connect(&args.nats, &name).await?;
        let worker = Worker::new(cluster, config, keys)?;
        let stop = worker.stopper();
        // SIGTERM or ^C: finish the job in hand, then stop.
        tokio::spawn(async move {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(term) => term,
                    Err(_) => return,
                };
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            eprintln!("stopping after the job in hand");
            stop.store(true, Ordering::Relaxed);
        });
        eprintln!("{name} waiting for jobs on {}", args.nats.nats);
        anyhow::Ok(worker.run().await?)
    })?;
    rt.shutdown_timeout(Duration::from_secs(1));
    eprintln!(
        "{name} stopped: {} stored, {} skipped (done already), {} dead-lettered, {} handed back",
        summary.stored, summary.skipped, summary.dead, summary.retried
    );
    Ok(())
}
