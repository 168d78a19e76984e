//! `zkedge dashboard`: serves the city operator's page — sensors' proven results, each one
//! verified *in the browser* by the WASM verifier (`host/verify-wasm`, built by
//! `cargo xtask wasm`).
//!
//! The server only lists and hands out bytes: the verifier bundles of the keys it was given, the
//! proof files of a folder and those of the NATS JetStream cluster's done jobs. It verifies
//! nothing itself, so a page that says "valid" has
//! checked the proof on the reader's own machine. It parses each proof file only to show it and
//! to pair it with the bundle whose verifying key it names.

#![forbid(unsafe_code)]

use std::{
    collections::{HashMap, HashSet},
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, RwLock},
    time::{Duration, UNIX_EPOCH},
};

use axum::{
    extract::{Path as UrlPath, State},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde::Serialize;
use thiserror::Error;
use zkedge_core::{
    bundle::{Bundle, MAX_BUNDLE_FILE},
    cluster::{Cluster, JobId},
    files::read_bounded,
    keys::BUNDLE,
    proof::{ProofFile, MAX_PROOF_FILE},
};

/// Most proof files listed (the newest).
pub const MAX_LISTED: usize = 500;

/// The page, compiled in.
const INDEX_HTML: &str = include_str!("../www/index.html");
const APP_JS: &str = include_str!("../www/app.js");
const STYLE_CSS: &str = include_str!("../www/style.css");

/// The WASM verifier's files, as `wasm-bindgen --target web` names them.
const WASM_JS: &str = "zkedge_verify_wasm.js";
const WASM_BIN: &str = "zkedge_verify_wasm_bg.wasm";

/// What the dashboard serves.
#[derive(Clone, Debug)]
pub struct DashboardConfig {
    /// Keys folders (each with its `verifier.zkv`), or verifier bundles themselves.
    pub keys: Vec<PathBuf>,
    /// The folder whose `.zkp` and `.proof` files are listed, if any.
    pub proofs: Option<PathBuf>,
    /// The NATS server whose cluster's done jobs are listed, if any.
    pub nats: Option<String>,
    /// The WASM verifier's folder (`cargo xtask wasm` writes `target/wasm/pkg`).
    pub wasm: PathBuf,
    /// Where to listen.
    pub listen: SocketAddr,
}

/// Why the dashboard cannot start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DashboardError {
    /// A keys folder or bundle could not be read.
    #[error("{path}: {reason}")]
    Keys {
        /// The path given.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// The WASM verifier is not built.
    #[error(
        "the WASM verifier is not in {0} (run `cargo xtask wasm`, or give --wasm DIR with \
         {WASM_JS} and {WASM_BIN})"
    )]
    NoWasm(String),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// The cluster could not be reached.
    #[error("the cluster: {0}")]
    Cluster(String),
    /// The server stopped on an error.
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
}

/// One proof file, as the page sees it.
#[derive(Clone, Debug, Serialize)]
struct ProofEntry {
    file: String,
    url: String,
    /// The index of the keys whose verifying key the proof names, if any.
    keys: Option<usize>,
    /// Seconds since the Unix epoch the file was last written.
    modified: u64,
    /// The sensor: the file name's part before its first `-` (`SENSOR-N.zkp`); empty for other
    /// names (`zkedge serve` names proofs by digest).
    sensor: String,
}

/// How often the cluster's done jobs are read again.
const CLUSTER_POLL: Duration = Duration::from_secs(3);

/// A done job's proof file, as read from the cluster.
struct JobProof {
    file: String,
    bytes: Vec<u8>,
    stored: u64,
    keys: Option<usize>,
}

/// A folder file's modification time and size, and the keys its proof names.
type Paired = (u64, u64, Option<usize>);

struct Shared {
    config: DashboardConfig,
    /// Each keys entry's bundle bytes and verifying-key hash.
    bundles: Vec<(Vec<u8>, [u8; 32])>,
    /// Which keys each folder file's proof names, by name, modification time and size: a file
    /// is read and parsed once, not at every listing. (One rewritten within the same second at
    /// the same size keeps its pairing: at worst the page checks it against other keys and
    /// shows it invalid.)
    paired: Mutex<HashMap<String, Paired>>,
    wasm_js: Vec<u8>,
    wasm_bin: Vec<u8>,
    /// The newest [`MAX_LISTED`] done jobs' proofs (with `--nats`).
    jobs: RwLock<Vec<JobProof>>,
}

/// Reads the keys and the WASM verifier, then serves until Ctrl-C.
pub async fn serve(config: DashboardConfig) -> Result<(), DashboardError> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| DashboardError::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(DashboardError::Serve)?;
    let shared = shared(config)?;
    if let Some(url) = shared.config.nats.clone() {
        let cluster = Cluster::connect(&url, "zkedge-dashboard")
            .await
            .map_err(|e| DashboardError::Cluster(e.to_string()))?;
        let shared = shared.clone();
        tokio::spawn(async move {
            // Every done job read so far (listed or not): their records are not read again.
            let mut seen = HashSet::new();
            loop {
                if let Err(e) = read_jobs(&cluster, &shared, &mut seen).await {
                    tracing::warn!("reading the cluster's done jobs: {e}");
                }
                tokio::time::sleep(CLUSTER_POLL).await;
            }
        });
    }
    let app = routes(shared);
    // Tests and scripts read the address (the port may have been 0).
    println!("dashboard on http://{addr}/");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(DashboardError::Serve)
}

/// The keys and the WASM verifier, read once.
fn shared(config: DashboardConfig) -> Result<Arc<Shared>, DashboardError> {
    let mut bundles = Vec::new();
    for path in &config.keys {
        let file = if path.is_dir() {
            path.join(BUNDLE)
        } else {
            path.clone()
        };
        let fail = |reason: String| DashboardError::Keys {
            path: file.display().to_string(),
            reason,
        };
        let bytes = read_bounded(&file, MAX_BUNDLE_FILE).map_err(|e| fail(e.to_string()))?;
        let bundle = Bundle::from_bytes(&bytes).map_err(|e| fail(e.to_string()))?;
        bundles.push((bytes, bundle.vk_hash));
    }
    let wasm_file = |name: &str| {
        std::fs::read(config.wasm.join(name))
            .map_err(|_| DashboardError::NoWasm(config.wasm.display().to_string()))
    };
    Ok(Arc::new(Shared {
        wasm_js: wasm_file(WASM_JS)?,
        wasm_bin: wasm_file(WASM_BIN)?,
        bundles,
        config,
        jobs: RwLock::new(Vec::new()),
        paired: Mutex::new(HashMap::new()),
    }))
}

/// The dashboard's routes.
fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(|| async { page("text/html", INDEX_HTML) }))
        .route("/app.js", get(|| async { page("text/javascript", APP_JS) }))
        .route("/style.css", get(|| async { page("text/css", STYLE_CSS) }))
        .route(
            "/pkg/{file}",
            get(
                |State(s): State<Arc<Shared>>, UrlPath(file): UrlPath<String>| async move {
                    match file.as_str() {
                        WASM_JS => bytes("text/javascript", s.wasm_js.clone()),
                        WASM_BIN => bytes("application/wasm", s.wasm_bin.clone()),
                        _ => StatusCode::NOT_FOUND.into_response(),
                    }
                },
            ),
        )
        .route(
            "/keys/{i}/verifier.zkv",
            get(
                |State(s): State<Arc<Shared>>, UrlPath(i): UrlPath<usize>| async move {
                    match s.bundles.get(i) {
                        Some(b) => bytes("application/octet-stream", b.0.clone()),
                        None => StatusCode::NOT_FOUND.into_response(),
                    }
                },
            ),
        )
        .route(
            "/api/proofs",
            get(|State(s): State<Arc<Shared>>| async move {
                let listed = tokio::task::spawn_blocking(move || list_proofs(&s))
                    .await
                    .unwrap_or_default();
                Json(listed)
            }),
        )
        .route(
            "/proofs/{file}",
            get(
                |State(s): State<Arc<Shared>>, UrlPath(file): UrlPath<String>| async move {
                    let job = s
                        .jobs
                        .read()
                        .unwrap_or_else(|e| e.into_inner())
                        .iter()
                        .find(|j| j.file == file)
                        .map(|j| j.bytes.clone());
                    if let Some(job) = job {
                        return bytes("application/octet-stream", job);
                    }
                    // Only names the listing would give: no separators, no way out of the folder.
                    let Some(dir) = s.config.proofs.clone() else {
                        return StatusCode::NOT_FOUND.into_response();
                    };
                    if !is_proof_name(&file) {
                        return StatusCode::NOT_FOUND.into_response();
                    }
                    match read_bounded(&dir.join(&file), MAX_PROOF_FILE) {
                        Ok(b) => bytes("application/octet-stream", b),
                        Err(_) => StatusCode::NOT_FOUND.into_response(),
                    }
                },
            ),
        )
        .with_state(shared)
}

fn page(kind: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

fn bytes(kind: &'static str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// A plain `NAME.zkp` (or `NAME.proof`, as `zkedge serve --out-dir` writes them) file name.
fn is_proof_name(name: &str) -> bool {
    (name.ends_with(".zkp") || name.ends_with(".proof"))
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// Names of the cluster's proofs: `job-<the job id's first 16 hex digits>.zkp`.
const JOB_PREFIX: &str = "job-";

/// The newest [`MAX_LISTED`] proofs of the folder and of the cluster, each paired with its keys.
fn list_proofs(s: &Shared) -> Vec<ProofEntry> {
    let mut listed = folder_proofs(s);
    let jobs = s.jobs.read().unwrap_or_else(|e| e.into_inner());
    listed.extend(jobs.iter().map(|j| ProofEntry {
        file: j.file.clone(),
        url: format!("/proofs/{}", j.file),
        keys: j.keys,
        modified: j.stored,
        sensor: String::new(),
    }));
    listed.sort_by(|a, b| b.modified.cmp(&a.modified).then(a.file.cmp(&b.file)));
    listed.truncate(MAX_LISTED);
    listed
}

/// The newest [`MAX_LISTED`] proof files of the folder.
fn folder_proofs(s: &Shared) -> Vec<ProofEntry> {
    let Some(dir) = &s.config.proofs else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(u64, String, u64)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let meta = e.metadata().ok()?;
            (is_proof_name(&name) && meta.is_file()).then_some(())?;
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            Some((modified, name, meta.len()))
        })
        .collect();
    found.sort_by(|a, b| b.cmp(a));
    found.truncate(MAX_LISTED);
    let mut paired = s.paired.lock().unwrap_or_else(|e| e.into_inner());
    paired.retain(|name, _| found.iter().any(|f| f.1 == *name));
    found
        .into_iter()
        .map(|(modified, file, len)| {
            let keys = match paired.get(&file) {
                Some(&(m, l, keys)) if (m, l) == (modified, len) => keys,
                _ => {
                    let keys = keys_of(s, &dir.join(&file));
                    paired.insert(file.clone(), (modified, len, keys));
                    keys
                }
            };
            ProofEntry {
                keys,
                url: format!("/proofs/{file}"),
                sensor: sensor_of(&file),
                modified,
                file,
            }
        })
        .collect()
}

/// `SENSOR` of a `SENSOR-….zkp` file name; empty for other names.
fn sensor_of(file: &str) -> String {
    file.split_once('-')
        .map(|(sensor, _)| sensor.to_owned())
        .unwrap_or_default()
}

/// The keys whose verifying key `path`'s proof names; `None` for an unreadable file (the page
/// shows it as invalid, with the reason its own verifier gives).
fn keys_of(s: &Shared, path: &Path) -> Option<usize> {
    keys_of_bytes(s, &read_bounded(path, MAX_PROOF_FILE).ok()?)
}

fn keys_of_bytes(s: &Shared, raw: &[u8]) -> Option<usize> {
    let file = ProofFile::from_bytes(raw).ok()?;
    s.bundles.iter().position(|b| b.1 == file.vk_hash)
}

/// Reads the cluster's done jobs not `seen` before, and the proofs of the newest
/// [`MAX_LISTED`] (older ones would not be listed: they are only marked seen).
async fn read_jobs(
    cluster: &Cluster,
    s: &Shared,
    seen: &mut HashSet<JobId>,
) -> Result<(), zkedge_core::cluster::ClusterError> {
    let mut done = cluster.done_jobs(|id| seen.contains(id)).await?;
    for (id, _, _) in done.iter().skip(MAX_LISTED) {
        seen.insert(*id);
    }
    done.truncate(MAX_LISTED);
    let mut fresh = Vec::new();
    for (id, _, stored) in done {
        // The cluster checks the stored proof against the digest its record names; a job whose
        // proof cannot be read is left out (and tried again at the next poll).
        let bytes = match cluster.proof(&id).await {
            Ok((_, bytes)) => bytes,
            Err(e) => {
                tracing::warn!("job {id}: {e}");
                continue;
            }
        };
        seen.insert(id);
        fresh.push(JobProof {
            keys: keys_of_bytes(s, &bytes),
            file: format!("{JOB_PREFIX}{}.zkp", &id.to_string()[..16]),
            bytes,
            stored,
        });
    }
    if !fresh.is_empty() {
        let mut jobs = s.jobs.write().unwrap_or_else(|e| e.into_inner());
        jobs.extend(fresh);
        jobs.sort_by_key(|j| std::cmp::Reverse(j.stored));
        jobs.truncate(MAX_LISTED);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{is_proof_name, sensor_of};

    #[test]
    fn sensors_are_named_by_the_part_before_the_first_dash() {
        assert_eq!(sensor_of("lamppost7-1.zkp"), "lamppost7");
        assert_eq!(sensor_of("bridge-2-17.zkp"), "bridge");
        assert_eq!(sensor_of("0f3e9a.proof"), "");
    }

    #[test]
    fn only_plain_proof_file_names_are_served() {
        for ok in ["lamppost7-1.zkp", "a.proof", "0f3e.proof", "x_y.z.zkp"] {
            assert!(is_proof_name(ok), "{ok}");
        }
        for bad in [
            "../keys/pk.bin.zkp",
            "..zkp",
            ".hidden.zkp",
            "a/b.zkp",
            "a\\b.zkp",
            "pk.bin",
            "proof.zkp.tmp",
            "%2e%2e.zkp",
            "",
        ] {
            assert!(!is_proof_name(bad), "{bad}");
        }
    }
}
