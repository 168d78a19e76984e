//! Proving jobs through NATS JetStream: many sensors submit, many workers prove, nothing is lost.
//!
//! JetStream holds everything; zkedge holds no queue of its own:
//! - stream `ZKEDGE_JOBS` (work queue, file storage) on `zkedge.jobs.<model hash>.<id>`, at most
//!   one message per subject and new ones refused, so a job waiting or in progress cannot be
//!   queued twice; one durable pull consumer per model (`workers-<first 16 hex digits of its
//!   hash>`, filtered on its subjects) hands each job to one of the workers that hold the model's
//!   keys, and redelivers it when that worker dies (no ack within the ack wait; long proofs send
//!   in-progress acks);
//! - stream `ZKEDGE_INPUT` on `zkedge.input.<model hash>`: raw inputs (from sensors speaking MQTT
//!   to the server's MQTT gateway: topic `zkedge/input/<model hash>`), which workers turn into
//!   jobs;
//! - key-value bucket `zkedge-jobs`: the [`Record`] of each job under its id (queued, done with
//!   the proven output and the proof's digest, or dead with the reason);
//! - object store `zkedge-proofs`: proof files under their BLAKE2b-256 digest;
//! - stream `ZKEDGE_DEAD` on `zkedge.dead.<id>`: [`DeadLetter`]s of jobs given up;
//! - core subject `zkedge.done.<id>` (not stored): the [`Record`] of each job as it is stored,
//!   for whoever waits on it (MQTT clients: `zkedge/done/+`).
//!
//! A job is stored once: the worker writes its record with a compare-and-set on the revision it
//! read, so two workers that both proved a redelivered job cannot both store it.

mod client;
mod job;
mod worker;

use std::time::Duration;

use async_nats::jetstream::{self, consumer, kv, object_store, stream};
use thiserror::Error;

pub use client::{Status, Submitted};
pub use job::{DeadLetter, Job, JobId, Record, JOB_VERSION, MAX_JOB_BYTES};
pub use worker::{Worker, WorkerConfig};

/// The jobs stream.
pub const JOBS_STREAM: &str = "ZKEDGE_JOBS";
/// Subject prefix of jobs: `zkedge.jobs.<model hash>.<id>`.
pub const JOBS_SUBJECT: &str = "zkedge.jobs";
/// The raw-input stream (the MQTT gateway's).
pub const INPUT_STREAM: &str = "ZKEDGE_INPUT";
/// Subject prefix of raw inputs: `zkedge.input.<model hash>`.
pub const INPUT_SUBJECT: &str = "zkedge.input";
/// The dead-letter stream.
pub const DEAD_STREAM: &str = "ZKEDGE_DEAD";
/// Subject prefix of dead letters: `zkedge.dead.<id>` (`zkedge.dead.unknown` when the content
/// names no job).
pub const DEAD_SUBJECT: &str = "zkedge.dead";
/// Subject prefix of completion notices: `zkedge.done.<id>`.
pub const DONE_SUBJECT: &str = "zkedge.done";
/// Prefix of the durable consumers workers share, one per model: `workers-<16 hex digits>`.
pub const WORKERS: &str = "workers";
/// The durable consumer that turns raw inputs into jobs.
pub const INTAKE: &str = "intake";
/// The key-value bucket of job records.
pub const JOBS_BUCKET: &str = "zkedge-jobs";
/// The object store of proof files.
pub const PROOFS_BUCKET: &str = "zkedge-proofs";

/// What went wrong talking to the cluster, or with a job.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The server cannot be reached.
    #[error("cannot reach the NATS server at {url}: {reason} (is `nats-server -js` running?)")]
    Connect {
        /// The URL tried.
        url: String,
        /// Why.
        reason: String,
    },
    /// JetStream refused or failed an operation.
    #[error("JetStream: {0} (is JetStream enabled on the server: `nats-server -js`?)")]
    JetStream(String),
    /// A record or object could not be read or written.
    #[error("store: {0}")]
    Store(String),
    /// Not a job.
    #[error("malformed job: {0}")]
    Malformed(String),
    /// Not a job id.
    #[error("{0:?} is not a job id (64 hex digits, as `zkedge submit` prints)")]
    BadId(String),
    /// No such job.
    #[error("no job {0} in the cluster")]
    Unknown(JobId),
}

fn js_err<E: std::fmt::Display>(e: E) -> ClusterError {
    ClusterError::JetStream(e.to_string())
}

fn store_err<E: std::fmt::Display>(e: E) -> ClusterError {
    ClusterError::Store(e.to_string())
}

/// How long a worker may hold a job without acknowledging it before it is redelivered; workers
/// send in-progress acks at a third of it.
pub const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);

/// A connection to the cluster with its streams, consumers and buckets (created when missing).
#[derive(Clone)]
pub struct Cluster {
    client: async_nats::Client,
    js: jetstream::Context,
    jobs: kv::Store,
    proofs: object_store::ObjectStore,
}

impl Cluster {
    /// Connects to the server at `url` and makes sure every stream and bucket exists.
    pub async fn connect(url: &str, name: &str) -> Result<Self, ClusterError> {
        let client = async_nats::ConnectOptions::new()
            .name(name)
            .connection_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(|e| ClusterError::Connect {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(Duration::from_secs(10));
        js.get_or_create_stream(stream::Config {
            name: JOBS_STREAM.into(),
            subjects: vec![format!("{JOBS_SUBJECT}.*.*")],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            // One message per job id while it waits or is in progress; a second is refused
            // (whatever the duplicate window), and the worker skips jobs already done.
            max_messages_per_subject: 1,
            discard: stream::DiscardPolicy::New,
            discard_new_per_subject: true,
            max_message_size: MAX_JOB_BYTES as i32,
            ..Default::default()
        })
        .await
        .map_err(js_err)?;
        js.get_or_create_stream(stream::Config {
            name: INPUT_STREAM.into(),
            subjects: vec![format!("{INPUT_SUBJECT}.*")],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            max_message_size: MAX_JOB_BYTES as i32,
            ..Default::default()
        })
        .await
        .map_err(js_err)?;
        js.get_or_create_stream(stream::Config {
            name: DEAD_STREAM.into(),
            subjects: vec![format!("{DEAD_SUBJECT}.*")],
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(js_err)?;
        // The bucket's stream, made as async-nats' `create_key_value` makes it: that call first
        // reads the account's info, whose reply from Debian's nats-server 2.9 the client cannot
        // parse.
        js.get_or_create_stream(stream::Config {
            name: format!("KV_{JOBS_BUCKET}"),
            subjects: vec![format!("$KV.{JOBS_BUCKET}.>")],
            // History: enough to show that a job was stored once (tests read it).
            max_messages_per_subject: 8,
            storage: stream::StorageType::File,
            discard: stream::DiscardPolicy::New,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            num_replicas: 1,
            ..Default::default()
        })
        .await
        .map_err(js_err)?;
        let jobs = js.get_key_value(JOBS_BUCKET).await.map_err(js_err)?;
        let proofs = match js.get_object_store(PROOFS_BUCKET).await {
            Ok(store) => store,
            Err(_) => js
                .create_object_store(object_store::Config {
                    bucket: PROOFS_BUCKET.into(),
                    storage: stream::StorageType::File,
                    ..Default::default()
                })
                .await
                .map_err(js_err)?,
        };
        Ok(Cluster {
            client,
            js,
            jobs,
            proofs,
        })
    }

    /// The durable consumer `name` on `stream_name` (of the subjects `filter`, all if empty),
    /// created with `ack_wait` when missing.
    async fn consumer(
        &self,
        stream_name: &str,
        name: &str,
        filter: String,
        ack_wait: Duration,
    ) -> Result<consumer::PullConsumer, ClusterError> {
        let stream = self.js.get_stream(stream_name).await.map_err(js_err)?;
        stream
            .get_or_create_consumer(
                name,
                consumer::pull::Config {
                    durable_name: Some(name.into()),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait,
                    filter_subject: filter,
                    // Unbounded here: the worker counts deliveries and dead-letters a job itself
                    // (the server would only stop delivering it and leave it in the queue).
                    max_deliver: -1,
                    ..Default::default()
                },
            )
            .await
            .map_err(js_err)
    }

    /// The job's record and its revision in the bucket, if it has one.
    pub async fn record(&self, id: &JobId) -> Result<Option<(Record, u64)>, ClusterError> {
        let entry = self.jobs.entry(id.to_string()).await.map_err(store_err)?;
        match entry {
            Some(e) if e.operation == kv::Operation::Put => {
                Ok(Some((Record::from_bytes(&e.value)?, e.revision)))
            }
            _ => Ok(None),
        }
    }

    /// Every record the bucket has held for the job, oldest first (the bucket keeps the last 8).
    pub async fn history(&self, id: &JobId) -> Result<Vec<Record>, ClusterError> {
        use futures_util::StreamExt;
        let mut history = self.jobs.history(id.to_string()).await.map_err(store_err)?;
        let mut out = Vec::new();
        while let Some(entry) = history.next().await {
            let entry = entry.map_err(store_err)?;
            if entry.operation == kv::Operation::Put {
                out.push(Record::from_bytes(&entry.value)?);
            }
        }
        Ok(out)
    }

    /// The done jobs in the bucket that `known` does not hold, the most recently stored first:
    /// each id, its record and when the record was stored (seconds since the Unix epoch).
    /// Lists every key of the bucket (a listing, not a queue: for dashboards and audits) and
    /// reads the records of the others; a done record never changes, so a caller that polls
    /// passes the jobs it has already seen done.
    pub async fn done_jobs(
        &self,
        known: impl Fn(&JobId) -> bool,
    ) -> Result<Vec<(JobId, Record, u64)>, ClusterError> {
        use futures_util::StreamExt;
        let mut keys = self.jobs.keys().await.map_err(store_err)?;
        let mut done = Vec::new();
        while let Some(key) = keys.next().await {
            let key = key.map_err(store_err)?;
            // Only job ids are keys of this bucket; anything else is not zkedge's.
            let Ok(id) = key.parse::<JobId>() else {
                continue;
            };
            if known(&id) {
                continue;
            }
            let Some(entry) = self.jobs.entry(&key).await.map_err(store_err)? else {
                continue;
            };
            if entry.operation != kv::Operation::Put {
                continue;
            }
            let record = Record::from_bytes(&entry.value)?;
            if matches!(record, Record::Done { .. }) {
                let stored = u64::try_from(entry.created.unix_timestamp()).unwrap_or(0);
                done.push((id, record, stored));
            }
        }
        done.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        Ok(done)
    }

    /// The durable consumer of the jobs for the model whose hash is `model`.
    async fn workers(
        &self,
        model: &[u8; 32],
        ack_wait: Duration,
    ) -> Result<consumer::PullConsumer, ClusterError> {
        let model = crate::srs::hex(model);
        let name = format!("{WORKERS}-{}", &model[..16]);
        self.consumer(
            JOBS_STREAM,
            &name,
            format!("{JOBS_SUBJECT}.{model}.*"),
            ack_wait,
        )
        .await
    }

    /// The dead letters stored so far, oldest first.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, ClusterError> {
        let stream = self.js.get_stream(DEAD_STREAM).await.map_err(js_err)?;
        let mut out = Vec::new();
        let info = stream.get_info().await.map_err(js_err)?;
        for seq in info.state.first_sequence..=info.state.last_sequence {
            if info.state.messages == 0 {
                break;
            }
            let Ok(raw) = stream.get_raw_message(seq).await else {
                continue;
            };
            if let Ok(letter) = serde_json::from_slice(&raw.payload) {
                out.push(letter);
            }
        }
        Ok(out)
    }
}
