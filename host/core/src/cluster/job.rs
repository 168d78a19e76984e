//! A proving job and what the cluster records about it.

use serde::{Deserialize, Serialize};

use super::ClusterError;
use crate::{files::hash, proof::MultiOpen, srs::hex};

/// Version of the job encoding the id is a digest of: bump it when [`Job`] changes meaning.
pub const JOB_VERSION: u8 = 1;
/// Largest job message accepted (an input of 512 KiB is far beyond any model zkedge proves; the
/// server's default `max_payload` is 1 MiB).
pub const MAX_JOB_BYTES: usize = 1 << 20;

/// What to prove: a model (by its hash), an input, and how.
///
/// Its [`id`](Job::id) is a digest of this content, so the same job submitted twice is the same
/// job: it is queued once and proven once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// BLAKE2b-256 of the model's binary form (`.zkm`), in hex: a worker proves it with the keys
    /// made for that model.
    pub model: String,
    /// The input, int8, in zkedge's `[C][H][W]` order.
    pub input: Vec<i8>,
    /// The multi-open argument of the proof.
    #[serde(default = "gwc")]
    pub multiopen: MultiOpen,
}

fn gwc() -> MultiOpen {
    MultiOpen::Gwc
}

/// A job's name: BLAKE2b-256 of its canonical encoding, 64 hex digits on the wire and in
/// subjects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(pub [u8; 32]);

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

impl std::str::FromStr for JobId {
    type Err = ClusterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::files::parse_hex32(s)
            .map(JobId)
            .ok_or_else(|| ClusterError::BadId(s.chars().take(80).collect()))
    }
}

impl Job {
    /// A job for the model whose binary form hashes to `model_hash`.
    pub fn new(model_hash: [u8; 32], input: Vec<i8>, multiopen: MultiOpen) -> Self {
        Job {
            model: hex(&model_hash),
            input,
            multiopen,
        }
    }

    /// The model's hash, if `model` is one.
    pub fn model_hash(&self) -> Result<[u8; 32], ClusterError> {
        crate::files::parse_hex32(&self.model).ok_or_else(|| {
            ClusterError::Malformed(format!(
                "\"model\" must be the model's BLAKE2b-256 hash in 64 hex digits, not {:?}",
                self.model.chars().take(80).collect::<String>()
            ))
        })
    }

    /// The job's id: BLAKE2b-256 of the version, model hash, input and multi-open argument
    /// (postcard), so that JSON spacing or key order never makes a second job of the same one.
    pub fn id(&self) -> Result<JobId, ClusterError> {
        let canonical = (JOB_VERSION, self.model_hash()?, &self.input, self.multiopen);
        let bytes = postcard::to_allocvec(&canonical)
            .map_err(|e| ClusterError::Malformed(format!("cannot encode the job: {e}")))?;
        Ok(JobId(hash(&bytes)))
    }

    /// The job's message body (JSON, so that any NATS or MQTT client can write one).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a job message; never panics, refuses more than [`MAX_JOB_BYTES`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ClusterError> {
        if bytes.len() > MAX_JOB_BYTES {
            return Err(ClusterError::Malformed(format!(
                "the job has {} bytes; at most {MAX_JOB_BYTES} are accepted",
                bytes.len()
            )));
        }
        let job: Job = serde_json::from_slice(bytes).map_err(|e| {
            ClusterError::Malformed(format!(
                "not a job (JSON {{\"model\": HEX, \"input\": [int8…]}}): {e}"
            ))
        })?;
        job.model_hash()?;
        Ok(job)
    }
}

/// What the cluster knows about a job: the value under its id in the jobs bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Record {
    /// Submitted, not yet proven.
    Queued {
        /// The model's hash (hex).
        model: String,
    },
    /// Proven, verified by halo2-axiom's verifier, stored.
    Done {
        /// The model's hash (hex).
        model: String,
        /// The proven class.
        class: u32,
        /// The proven output (int8 logits).
        output: Vec<i8>,
        /// BLAKE2b-256 of the proof file: its name in the proofs object store.
        proof: String,
        /// Size of the proof file.
        proof_bytes: usize,
        /// The worker that proved it.
        worker: String,
        /// How long proving and verifying took on that worker.
        prove_ms: u64,
    },
    /// Given up: in the dead letter, with the reason.
    Dead {
        /// Why.
        reason: String,
        /// How many times it had been delivered to workers.
        deliveries: u64,
    },
}

impl Record {
    /// The record's bytes in the bucket.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a record read from the bucket.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ClusterError> {
        serde_json::from_slice(bytes)
            .map_err(|e| ClusterError::Store(format!("a job record is damaged: {e}")))
    }
}

/// What the dead letter holds about a job that was given up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The subject the job arrived on.
    pub subject: String,
    /// The job's id, when its content could be read.
    pub id: Option<String>,
    /// Why it was given up.
    pub reason: String,
    /// How many times it had been delivered.
    pub deliveries: u64,
    /// The job's bytes as they arrived (lossy UTF-8, at most 4 KiB of them).
    pub payload: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_names_the_content_not_its_spelling() {
        let job = Job::new([7; 32], vec![1, -2, 3], MultiOpen::Gwc);
        let spaced = format!(
            "{{ \"input\" : [1, -2, 3], \"model\": \"{}\" }}",
            hex(&[7; 32])
        );
        let parsed = Job::from_bytes(spaced.as_bytes()).unwrap();
        assert_eq!(parsed.id().unwrap(), job.id().unwrap());
        let other = Job::new([7; 32], vec![1, -2, 4], MultiOpen::Gwc);
        assert_ne!(other.id().unwrap(), job.id().unwrap());
        let shplonk = Job::new([7; 32], vec![1, -2, 3], MultiOpen::Shplonk);
        assert_ne!(shplonk.id().unwrap(), job.id().unwrap());
        let id = job.id().unwrap();
        assert_eq!(id.to_string().parse::<JobId>().unwrap(), id);
    }

    #[test]
    fn malformed_jobs_are_refused_with_a_reason() {
        for bad in [
            &b"\xff\xfe"[..],
            b"{}",
            b"{\"model\": \"00\", \"input\": []}",
            b"{\"model\": \"zz\", \"input\": [300]}",
        ] {
            let e = Job::from_bytes(bad).unwrap_err();
            assert!(matches!(e, ClusterError::Malformed(_)), "{e}");
        }
        let model = hex(&[1; 32]);
        let out_of_range = format!("{{\"model\": \"{model}\", \"input\": [128]}}");
        assert!(Job::from_bytes(out_of_range.as_bytes()).is_err());
        let extra = format!("{{\"model\": \"{model}\", \"input\": [1], \"x\": 1}}");
        assert!(Job::from_bytes(extra.as_bytes()).is_err());
        assert!(Job::from_bytes(&vec![b' '; MAX_JOB_BYTES + 1]).is_err());
    }
}
