//! What submitters and readers do: submit a job, read its record, fetch its proof.

use async_nats::{header::NATS_MESSAGE_ID, jetstream::kv, HeaderMap};
use tokio::io::AsyncReadExt;

use super::{
    js_err, store_err, Cluster, ClusterError, Job, JobId, Record, JOBS_STREAM, JOBS_SUBJECT,
};
use crate::proof::{ProofFile, MAX_PROOF_FILE};

/// What [`Cluster::submit`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Submitted {
    /// Queued now.
    Queued(JobId),
    /// Already waiting or in progress: not queued again.
    AlreadyQueued(JobId),
    /// Already proven: nothing to do.
    AlreadyDone(JobId),
}

impl Submitted {
    /// The job's id.
    pub fn id(&self) -> JobId {
        match *self {
            Submitted::Queued(id) | Submitted::AlreadyQueued(id) | Submitted::AlreadyDone(id) => id,
        }
    }
}

/// Counts over the whole cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Status {
    /// Jobs in the queue, waiting or in progress.
    pub queued: u64,
    /// Jobs a worker holds now (delivered, not yet acknowledged).
    pub in_progress: u64,
    /// Raw inputs (MQTT) not yet turned into jobs.
    pub inputs: u64,
    /// Jobs proven and stored.
    pub done: u64,
    /// Jobs given up (in the dead letter).
    pub dead: u64,
}

impl Cluster {
    /// Queues `job` unless it is queued or done already (a dead job is queued again). Idempotent:
    /// the job's id is its content's digest, the queue holds at most one message per id, and
    /// JetStream drops a second publish of the same id within its duplicate window.
    pub async fn submit(&self, job: &Job) -> Result<Submitted, ClusterError> {
        let id = job.id()?;
        let key = id.to_string();
        let queued = Record::Queued {
            model: job.model.clone(),
        };
        match self.record(&id).await? {
            Some((Record::Done { .. }, _)) => return Ok(Submitted::AlreadyDone(id)),
            Some((Record::Queued { .. }, _)) => {}
            Some((Record::Dead { .. }, revision)) => {
                self.jobs
                    .update(&key, queued.to_bytes().into(), revision)
                    .await
                    .map_err(store_err)?;
            }
            None => match self.jobs.create(&key, queued.to_bytes().into()).await {
                Ok(_) => {}
                // Someone wrote it since: a worker finishing it, or another submitter.
                Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                    if let Some((Record::Done { .. }, _)) = self.record(&id).await? {
                        return Ok(Submitted::AlreadyDone(id));
                    }
                }
                Err(e) => return Err(store_err(e)),
            },
        }
        let mut headers = HeaderMap::new();
        headers.insert(NATS_MESSAGE_ID, key.as_str());
        let ack = self
            .js
            .publish_with_headers(
                format!("{JOBS_SUBJECT}.{}.{key}", job.model),
                headers,
                job.to_bytes().into(),
            )
            .await
            .map_err(js_err)?
            .await;
        match ack {
            Ok(ack) if ack.duplicate => Ok(Submitted::AlreadyQueued(id)),
            Ok(_) => Ok(Submitted::Queued(id)),
            // The stream refuses a second message for a job id still in the queue.
            Err(e) if e.to_string().contains("maximum messages per subject") => {
                Ok(Submitted::AlreadyQueued(id))
            }
            Err(e) => Err(js_err(e)),
        }
    }

    /// Publishes raw bytes on `subject` and waits for JetStream's acknowledgement: for sensors
    /// that bring their own encoding, and for tests that send what no honest client would.
    pub async fn publish_raw(&self, subject: String, payload: Vec<u8>) -> Result<(), ClusterError> {
        self.js
            .publish(subject, payload.into())
            .await
            .map_err(js_err)?
            .await
            .map_err(js_err)?;
        Ok(())
    }

    /// The proof file of a done job, checked against the digest its record names.
    pub async fn proof(&self, id: &JobId) -> Result<(Record, Vec<u8>), ClusterError> {
        let record = match self.record(id).await? {
            Some((record, _)) => record,
            None => return Err(ClusterError::Unknown(*id)),
        };
        let Record::Done { proof, .. } = &record else {
            return Ok((record, Vec::new()));
        };
        let mut object = self.proofs.get(proof).await.map_err(store_err)?;
        let mut bytes = Vec::new();
        (&mut object)
            .take(MAX_PROOF_FILE + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(store_err)?;
        if crate::files::hash_hex(&bytes) != *proof {
            return Err(ClusterError::Store(format!(
                "the stored proof of job {id} is not the one its record names ({proof}): the \
                 object store is damaged"
            )));
        }
        ProofFile::from_bytes(&bytes).map_err(|e| {
            ClusterError::Store(format!("the stored proof of job {id} is damaged: {e}"))
        })?;
        Ok((record, bytes))
    }

    /// Waits until the job is done or dead (its record), polling the bucket: a restarted server
    /// or a redelivered job only delays the answer. `None` when `wait` passes first: the job
    /// stays queued, and waiting again (or submitting it again) picks it up.
    pub async fn wait(
        &self,
        id: &JobId,
        wait: std::time::Duration,
    ) -> Result<Option<Record>, ClusterError> {
        let until = tokio::time::Instant::now() + wait;
        let mut pause = std::time::Duration::from_millis(20);
        loop {
            // A server that restarts refuses reads for a moment: retried until the deadline.
            match self.record(id).await {
                Ok(Some((record @ (Record::Done { .. } | Record::Dead { .. }), _))) => {
                    return Ok(Some(record))
                }
                Ok(_) => {}
                Err(e) if tokio::time::Instant::now() >= until => return Err(e),
                Err(_) => {}
            }
            if tokio::time::Instant::now() >= until {
                return Ok(None);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_millis(250));
        }
    }

    /// Counts over the whole cluster (reads every record: for people, not for loops).
    pub async fn status(&self) -> Result<Status, ClusterError> {
        use futures_util::StreamExt;
        let mut status = Status::default();
        let mut jobs = self.js.get_stream(JOBS_STREAM).await.map_err(js_err)?;
        status.queued = jobs.info().await.map_err(js_err)?.state.messages;
        let mut consumers = jobs.consumers();
        while let Some(Ok(consumer)) = consumers.next().await {
            status.in_progress += consumer.num_ack_pending as u64;
        }
        let inputs = self
            .js
            .get_stream(super::INPUT_STREAM)
            .await
            .map_err(js_err)?
            .get_info()
            .await
            .map_err(js_err)?;
        status.inputs = inputs.state.messages;
        let mut keys = self.jobs.keys().await.map_err(store_err)?;
        while let Some(key) = keys.next().await {
            let key = key.map_err(store_err)?;
            let Ok(id) = key.parse::<JobId>() else {
                continue;
            };
            match self.record(&id).await? {
                Some((Record::Done { .. }, _)) => status.done += 1,
                Some((Record::Dead { .. }, _)) => status.dead += 1,
                _ => {}
            }
        }
        Ok(status)
    }
}
