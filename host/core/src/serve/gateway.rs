//! `zkedge serve --nats`: a device's input-mode uploads become cluster jobs, proven by whichever
//! `zkedge worker` holds the model's keys; the device is answered once the job is stored.
//!
//! The gateway holds no queue: the job goes to JetStream (idempotent: its id is its content's
//! digest, so a device that sends the same input again is answered from the stored proof), and
//! the gateway waits on the job's record.

use std::time::Duration;

use crate::cluster::{Cluster, ClusterError, Job, JobId, Record};

/// A connection to the cluster, with the runtime its client lives on.
pub struct Gateway {
    rt: tokio::runtime::Runtime,
    cluster: Cluster,
    url: String,
    wait: Duration,
}

/// How a job the gateway submitted ended.
#[derive(Debug)]
pub enum Outcome {
    /// Proven and stored: the proof file's bytes (checked against the digest its record
    /// names) and the worker that proved it.
    Proved {
        /// The job.
        id: JobId,
        /// The proof file.
        file: Vec<u8>,
        /// The worker's name.
        worker: String,
    },
    /// Given up by the workers (in the dead letter).
    Dead {
        /// The job.
        id: JobId,
        /// Why.
        reason: String,
    },
    /// Not done within the gateway's wait; it stays queued.
    Waiting(JobId),
}

impl Gateway {
    /// Connects to the NATS server at `url`; a job is waited on for at most `wait`.
    pub fn connect(url: &str, wait: Duration) -> Result<Self, ClusterError> {
        // A thread of its own keeps the client's connection served (pings, reconnects) while
        // the service is busy with the device's line.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| ClusterError::Connect {
                url: url.to_string(),
                reason: format!("cannot start the async runtime: {e}"),
            })?;
        let cluster = rt.block_on(Cluster::connect(url, "zkedge-serve"))?;
        Ok(Gateway {
            rt,
            cluster,
            url: url.to_string(),
            wait,
        })
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How long a job is waited on.
    pub fn wait(&self) -> Duration {
        self.wait
    }

    /// Submits `job` (or finds it submitted or done already) and waits until it ends.
    pub fn prove(&self, job: &Job) -> Result<Outcome, ClusterError> {
        self.rt.block_on(async {
            let id = self.cluster.submit(job).await?.id();
            match self.cluster.wait(&id, self.wait).await? {
                None | Some(Record::Queued { .. }) => Ok(Outcome::Waiting(id)),
                Some(Record::Dead { reason, .. }) => Ok(Outcome::Dead { id, reason }),
                Some(Record::Done { .. }) => {
                    let (record, file) = self.cluster.proof(&id).await?;
                    let worker = match record {
                        Record::Done { worker, .. } => worker,
                        _ => String::new(),
                    };
                    Ok(Outcome::Proved { id, file, worker })
                }
            }
        })
    }
}
