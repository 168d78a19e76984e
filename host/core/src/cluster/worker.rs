//! A worker: takes jobs from the queue, proves them with the zkedge prover, checks each proof with
//! halo2-axiom's verifier, stores it, then acknowledges the job.
//!
//! Nothing is acknowledged before it is stored (a proof, a dead letter), so a worker that dies at
//! any point loses nothing: the job is redelivered after the ack wait.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use async_nats::jetstream::{consumer::PullConsumer, kv, AckKind, Message};
use futures_util::StreamExt;
use rand::rngs::OsRng;
use serde::Deserialize;

use super::{
    store_err, Cluster, ClusterError, DeadLetter, Job, JobId, Record, DEAD_SUBJECT, DONE_SUBJECT,
    INPUT_STREAM, INPUT_SUBJECT, INTAKE, JOBS_SUBJECT, MAX_JOB_BYTES,
};
use accel_backends::Checked;

use crate::{
    keys::Keys,
    proof::{self, MultiOpen, ProofError, ProofFile},
    router::Router,
    srs::hex,
    zk_prover::ZkProver,
};

/// How a worker behaves.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Its name in records and logs.
    pub name: String,
    /// Ack wait of the consumers, if this worker creates them (the first worker does).
    pub ack_wait: Duration,
    /// Deliveries after which a job that never got proven goes to the dead letter.
    pub max_deliveries: u64,
    /// Also turn raw inputs (`zkedge.input.<model>`, the MQTT gateway's) into jobs.
    pub intake: bool,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            name: format!("worker-{}", std::process::id()),
            ack_wait: super::DEFAULT_ACK_WAIT,
            max_deliveries: 5,
            intake: true,
        }
    }
}

/// One model a worker proves: its keys and a prover with the SRS loaded on the backend.
struct Prover {
    keys: Keys,
    prover: ZkProver<Checked<Router>>,
}

/// What a worker did (returned when it stops).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Jobs proven and stored by this worker.
    pub stored: u64,
    /// Jobs found done already (duplicates, redeliveries).
    pub skipped: u64,
    /// Jobs sent to the dead letter.
    pub dead: u64,
    /// Jobs handed back for another try.
    pub retried: u64,
}

/// What became of one delivery.
enum Outcome {
    Stored,
    Skipped,
    Dead,
    Retried,
}

/// A worker of the cluster.
pub struct Worker {
    cluster: Cluster,
    config: WorkerConfig,
    provers: HashMap<[u8; 32], Prover>,
    stop: Arc<AtomicBool>,
}

/// The bytes of a raw input (the MQTT gateway's): `{"input": [int8…]}`, optionally with
/// `"multiopen"`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInput {
    input: Vec<i8>,
    #[serde(default)]
    multiopen: Option<MultiOpen>,
}

impl Worker {
    /// A worker proving the models of `keys`, each on its backend (the SRS is loaded into it
    /// here).
    pub fn new(
        cluster: Cluster,
        config: WorkerConfig,
        keys: Vec<(Keys, Checked<Router>)>,
    ) -> Result<Self, ProofError> {
        let mut provers = HashMap::new();
        for (keys, backend) in keys {
            let prover = proof::zk_prover(&keys, backend)?;
            provers.insert(keys.model_id, Prover { keys, prover });
        }
        Ok(Worker {
            cluster,
            config,
            provers,
            stop: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Set it to stop the worker after the job in hand (SIGTERM does).
    pub fn stopper(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Works until stopped: proves jobs; rides out server restarts (retries, never exits on a
    /// lost connection).
    pub async fn run(mut self) -> Result<Summary, ClusterError> {
        // One consumer per model: a job is only ever delivered to workers holding its keys.
        let mut jobs = Vec::new();
        for model in self.provers.keys() {
            jobs.push(self.cluster.workers(model, self.config.ack_wait).await?);
        }
        let wait = Duration::from_millis(1000 / jobs.len().max(1) as u64);
        let intake = if self.config.intake {
            let consumer = self
                .cluster
                .consumer(INPUT_STREAM, INTAKE, String::new(), self.config.ack_wait)
                .await?;
            let cluster = self.cluster.clone();
            let stop = self.stop.clone();
            Some(tokio::spawn(intake(cluster, consumer, stop)))
        } else {
            None
        };
        let mut summary = Summary::default();
        let mut turn = 0;
        while !self.stop.load(Ordering::Relaxed) {
            turn = (turn + 1) % jobs.len().max(1);
            let Some(consumer) = jobs.get(turn) else {
                return Err(ClusterError::JetStream("the worker holds no keys".into()));
            };
            let msg = match next(consumer, wait).await {
                Ok(Some(msg)) => msg,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!("fetching a job: {e}; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            match self.handle(&msg).await {
                Outcome::Stored => summary.stored += 1,
                Outcome::Skipped => summary.skipped += 1,
                Outcome::Dead => summary.dead += 1,
                Outcome::Retried => summary.retried += 1,
            }
        }
        if let Some(task) = intake {
            task.abort();
        }
        Ok(summary)
    }

    async fn handle(&mut self, msg: &Message) -> Outcome {
        let delivered = msg.info().map(|i| i.delivered.max(1) as u64).unwrap_or(1);
        // `<model hash>.<id>`
        let claimed = msg
            .subject
            .as_str()
            .strip_prefix(JOBS_SUBJECT)
            .and_then(|s| s.strip_prefix('.'))
            .unwrap_or_default()
            .to_string();
        let job = match Job::from_bytes(&msg.payload) {
            Ok(job) => job,
            Err(e) => return self.dead(msg, None, delivered, e.to_string()).await,
        };
        let id = match job.id() {
            Ok(id) => id,
            Err(e) => return self.dead(msg, None, delivered, e.to_string()).await,
        };
        if claimed != format!("{}.{id}", job.model) {
            let reason = format!(
                "the subject names job {claimed:?} but the content is job {}.{id}: publish jobs \
                 on {JOBS_SUBJECT}.<model hash>.<id of the content> (`zkedge submit` does)",
                job.model
            );
            return self.dead(msg, None, delivered, reason).await;
        }
        let revision = match self.cluster.record(&id).await {
            Ok(Some((Record::Done { .. }, _))) => {
                println!("skipped {id}: done already");
                ack(msg).await;
                return Outcome::Skipped;
            }
            Ok(found) => found.map(|(_, revision)| revision),
            Err(e) => return self.retry(msg, id, delivered, e.to_string()).await,
        };
        if delivered > self.config.max_deliveries {
            let reason = format!(
                "delivered {delivered} times without being proven (workers died, timed out or \
                 failed on it: see their logs)"
            );
            return self.dead(msg, Some(id), delivered, reason).await;
        }
        let model = job.model_hash().unwrap_or_default();
        // Consumers are per model, so this should not happen; a stray delivery is handed back
        // rather than proven with the wrong keys.
        let Some(prover) = self.provers.get_mut(&model) else {
            let reason = format!(
                "this worker has no keys for model {} (it has {})",
                job.model,
                self.provers
                    .keys()
                    .map(|h| hex(h))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return self.retry(msg, id, delivered, reason).await;
        };
        println!("proving {id} (delivery {delivered})");
        // Long proofs keep the job: in-progress acks at a third of the ack wait.
        let every = self.config.ack_wait / 3;
        let keep = msg.clone();
        let progress = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let _ = keep.ack_with(AckKind::Progress).await;
            }
        });
        let start = Instant::now();
        let made = tokio::task::block_in_place(|| {
            let Prover { keys, prover } = &mut *prover;
            let prove = |prover: &mut ZkProver<Checked<Router>>| {
                proof::prove_zkedge_with(keys, prover, &job.input, job.multiopen, &mut OsRng)
                    .map(|(proved, _)| proved.file)
            };
            let before = prover.backend().stats().accel_jobs;
            let file = prove(prover)?;
            // halo2-axiom's own verifier judges the proof before anyone else sees it. One the
            // accelerator helped make that fails is blamed on it: suspect for the rest of the
            // worker's life, the job proven again on the CPU (the result checks make this rare).
            match proof::verify(keys, &file) {
                Ok(()) => Ok(file),
                Err(e) if prover.backend().stats().accel_jobs > before => {
                    let router = prover.backend_mut();
                    router.hooks_mut().mark_suspect();
                    eprintln!(
                        "warning: a proof made with {} does not verify ({e}); it is suspect, \
                         proving again on the CPU",
                        router.accelerator().name()
                    );
                    let file = prove(prover)?;
                    proof::verify(keys, &file)?;
                    Ok(file)
                }
                Err(e) => Err(e),
            }
        });
        progress.abort();
        let took = start.elapsed();
        match made {
            Ok(file) => self.store(msg, id, revision, file, took).await,
            // The input does not fit the model: no retry can help.
            Err(e @ ProofError::Infer(_)) => {
                let reason = format!("the input does not fit the model: {e}");
                self.dead(msg, Some(id), delivered, reason).await
            }
            Err(e) => {
                let reason = format!("proving failed: {e}");
                self.retry(msg, id, delivered, reason).await
            }
        }
    }

    /// Stores the proof, then the record naming it (compare-and-set, so a job is stored once),
    /// then acknowledges. Retries through a server restart.
    async fn store(
        &self,
        msg: &Message,
        id: JobId,
        mut revision: Option<u64>,
        file: ProofFile,
        took: Duration,
    ) -> Outcome {
        let bytes = file.to_bytes();
        let digest = crate::files::hash_hex(&bytes);
        let record = Record::Done {
            model: hex(&file.model_hash),
            class: file.class,
            output: file.output.clone(),
            proof: digest.clone(),
            proof_bytes: bytes.len(),
            worker: self.config.name.clone(),
            prove_ms: took.as_millis() as u64,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let retry_later = |what: &str| {
            tracing::warn!("storing job {id}: {what}; retrying");
            Instant::now() < deadline
        };
        loop {
            match self
                .cluster
                .proofs
                .put(digest.as_str(), &mut bytes.as_slice())
                .await
            {
                Ok(_) => break,
                Err(e) if retry_later(&e.to_string()) => {
                    tokio::time::sleep(Duration::from_millis(500)).await
                }
                Err(e) => return self.give_back(msg, id, &e.to_string()).await,
            }
        }
        let key = id.to_string();
        loop {
            let written = match revision {
                Some(r) => self
                    .cluster
                    .jobs
                    .update(&key, record.to_bytes().into(), r)
                    .await
                    .map_err(|e| {
                        (
                            e.kind() == kv::UpdateErrorKind::WrongLastRevision,
                            e.to_string(),
                        )
                    }),
                None => self
                    .cluster
                    .jobs
                    .create(&key, record.to_bytes().into())
                    .await
                    .map_err(|e| {
                        (
                            e.kind() == kv::CreateErrorKind::AlreadyExists,
                            e.to_string(),
                        )
                    }),
            };
            let conflict = match written {
                Ok(_) => break,
                Err((conflict, e)) => {
                    if !conflict && !retry_later(&e) {
                        return self.give_back(msg, id, &e).await;
                    }
                    conflict
                }
            };
            // Someone wrote the record since it was read (or this write landed and its answer
            // was lost in a restart): read it again.
            match self.cluster.record(&id).await {
                Ok(Some((Record::Done { proof, .. }, _))) if proof == digest => break,
                Ok(Some((Record::Done { .. }, _))) => {
                    let _ = self.cluster.proofs.delete(&digest).await;
                    println!("skipped {id}: another worker stored it first");
                    ack(msg).await;
                    return Outcome::Skipped;
                }
                Ok(found) => revision = found.map(|(_, r)| r),
                Err(e) if retry_later(&e.to_string()) => {}
                Err(e) => return self.give_back(msg, id, &e.to_string()).await,
            }
            if !conflict {
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        println!(
            "stored {id} class {} proof {digest} ({} bytes) in {} ms",
            file.class,
            bytes.len(),
            took.as_millis()
        );
        let notice = format!("{DONE_SUBJECT}.{id}");
        let _ = self
            .cluster
            .client
            .publish(notice, record.to_bytes().into())
            .await;
        ack(msg).await;
        Outcome::Stored
    }

    /// Hands the job back for another try, or to the dead letter on its last delivery.
    async fn retry(&self, msg: &Message, id: JobId, delivered: u64, reason: String) -> Outcome {
        if delivered >= self.config.max_deliveries {
            let reason = format!("{reason} (after {delivered} deliveries)");
            return self.dead(msg, Some(id), delivered, reason).await;
        }
        println!(
            "retry {id}: {reason} (delivery {delivered} of {})",
            self.config.max_deliveries
        );
        let delay = Duration::from_millis(500 * delivered);
        let _ = msg.ack_with(AckKind::Nak(Some(delay))).await;
        Outcome::Retried
    }

    /// Gives the job back now: what is needed to finish it cannot be reached.
    async fn give_back(&self, msg: &Message, id: JobId, reason: &str) -> Outcome {
        println!("retry {id}: cannot store: {reason}");
        let _ = msg
            .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
            .await;
        Outcome::Retried
    }

    /// Stores a dead letter (and, for a job with an id, its dead record), then acknowledges.
    async fn dead(
        &self,
        msg: &Message,
        id: Option<JobId>,
        delivered: u64,
        reason: String,
    ) -> Outcome {
        let letter = DeadLetter {
            subject: msg.subject.to_string(),
            id: id.map(|id| id.to_string()),
            reason: reason.clone(),
            deliveries: delivered,
            payload: String::from_utf8_lossy(&msg.payload[..msg.payload.len().min(4096)])
                .into_owned(),
        };
        match bury(&self.cluster, id, &letter).await {
            Ok(()) => {
                let name = id.map_or_else(|| msg.subject.to_string(), |id| id.to_string());
                println!("dead {name}: {reason}");
                ack(msg).await;
                Outcome::Dead
            }
            Err(e) => {
                tracing::warn!("cannot store a dead letter: {e}; handing the job back");
                let _ = msg
                    .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                    .await;
                Outcome::Retried
            }
        }
    }
}

/// Stores a dead letter, and a dead record for a job with an id (unless it is done).
async fn bury(
    cluster: &Cluster,
    id: Option<JobId>,
    letter: &DeadLetter,
) -> Result<(), ClusterError> {
    let subject = format!(
        "{DEAD_SUBJECT}.{}",
        id.map_or_else(|| "unknown".to_string(), |id| id.to_string())
    );
    cluster
        .publish_raw(subject, serde_json::to_vec(letter).unwrap_or_default())
        .await?;
    if let Some(id) = id {
        if !matches!(cluster.record(&id).await?, Some((Record::Done { .. }, _))) {
            let record = Record::Dead {
                reason: letter.reason.clone(),
                deliveries: letter.deliveries,
            };
            cluster
                .jobs
                .put(id.to_string(), record.to_bytes().into())
                .await
                .map_err(store_err)?;
        }
    }
    Ok(())
}

/// The next message of `consumer`, if one comes within `wait`.
async fn next(consumer: &PullConsumer, wait: Duration) -> Result<Option<Message>, ClusterError> {
    let mut batch = consumer
        .fetch()
        .max_messages(1)
        .expires(wait)
        .messages()
        .await
        .map_err(super::js_err)?;
    match batch.next().await {
        Some(Ok(msg)) => Ok(Some(msg)),
        Some(Err(e)) => Err(super::js_err(e)),
        None => Ok(None),
    }
}

/// Acknowledges and waits for the server's confirmation, a few times; a lost ack only means a
/// redelivery, which finds the job done.
async fn ack(msg: &Message) {
    for _ in 0..3 {
        if msg.double_ack().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Turns raw inputs (`zkedge.input.<model hash>`: the MQTT gateway's topic
/// `zkedge/input/<model hash>`) into jobs.
async fn intake(cluster: Cluster, consumer: PullConsumer, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let msg = match next(&consumer, Duration::from_secs(1)).await {
            Ok(Some(msg)) => msg,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!("fetching an input: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let model = msg
            .subject
            .as_str()
            .strip_prefix(INPUT_SUBJECT)
            .and_then(|s| s.strip_prefix('.'))
            .unwrap_or_default()
            .to_string();
        let job = raw_job(&model, &msg.payload);
        let delivered = msg.info().map(|i| i.delivered.max(1) as u64).unwrap_or(1);
        match job {
            Ok(job) => match cluster.submit(&job).await {
                Ok(submitted) => {
                    println!("queued {} from {}", submitted.id(), msg.subject);
                    ack(&msg).await;
                }
                Err(e) => {
                    tracing::warn!("queueing an input: {e}; retrying");
                    let _ = msg
                        .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                        .await;
                }
            },
            Err(e) => {
                let letter = DeadLetter {
                    subject: msg.subject.to_string(),
                    id: None,
                    reason: e.to_string(),
                    deliveries: delivered,
                    payload: String::from_utf8_lossy(&msg.payload[..msg.payload.len().min(4096)])
                        .into_owned(),
                };
                if bury(&cluster, None, &letter).await.is_ok() {
                    println!("dead {}: {e}", msg.subject);
                    ack(&msg).await;
                } else {
                    let _ = msg
                        .ack_with(AckKind::Nak(Some(Duration::from_secs(1))))
                        .await;
                }
            }
        }
    }
}

/// The job a raw input on `zkedge.input.<model>` asks for.
fn raw_job(model: &str, payload: &[u8]) -> Result<Job, ClusterError> {
    let Some(hash) = crate::files::parse_hex32(model) else {
        return Err(ClusterError::Malformed(format!(
            "inputs go to {INPUT_SUBJECT}.<model hash, 64 hex digits> (MQTT: \
             zkedge/input/<model hash>), not {INPUT_SUBJECT}.{model}"
        )));
    };
    if payload.len() > MAX_JOB_BYTES {
        return Err(ClusterError::Malformed(format!(
            "the input has {} bytes; at most {MAX_JOB_BYTES} are accepted",
            payload.len()
        )));
    }
    let raw: RawInput = serde_json::from_slice(payload).map_err(|e| {
        ClusterError::Malformed(format!("not an input (JSON {{\"input\": [int8…]}}): {e}"))
    })?;
    Ok(Job::new(
        hash,
        raw.input,
        raw.multiopen.unwrap_or(MultiOpen::Gwc),
    ))
}
