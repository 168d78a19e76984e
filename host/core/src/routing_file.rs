//! Routing files: a measured [`Policy`] per accelerator, written by `zkedge calibrate` and read
//! by `zkedge prove` and `zkedge demo`.
//!
//! ```toml
//! [backend.sim]
//! msm-min = 4096        # MSMs of 4096 terms or more go to sim; shorter ones stay on the CPU
//! ntt-min-log = "never" # no NTT goes to sim
//! basis = "…"           # how the thresholds were measured (informative)
//! ```
//!
//! A backend spec (`--backend sim:c=10`) finds its entry by the spec itself, else by its
//! registry name (`sim`). Where no file is given, [`default_path`] is read if it exists.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::router::Policy;

/// The environment variable that names the default routing file.
pub const ENV: &str = "ZKEDGE_ROUTING";

/// Thresholds for one accelerator: jobs at least this large go to it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Entry {
    /// Shortest MSM sent to the accelerator (`None`: no MSM).
    #[serde(with = "bound")]
    pub msm_min: Option<u64>,
    /// log2 of the smallest NTT sent to the accelerator (`None`: no NTT).
    #[serde(with = "bound")]
    pub ntt_min_log: Option<u64>,
    /// How the thresholds were found; informative.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
}

impl Entry {
    /// As the router's policy ("never" is a threshold no job reaches).
    pub fn policy(&self) -> Policy {
        Policy {
            msm_min: self
                .msm_min
                .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX)),
            ntt_min_log: self
                .ntt_min_log
                .map_or(u32::MAX, |n| u32::try_from(n).unwrap_or(u32::MAX)),
        }
    }
}

/// A routing file: an [`Entry`] per backend spec.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingFile {
    /// Backend spec (or registry name) → thresholds.
    #[serde(default)]
    pub backend: BTreeMap<String, Entry>,
}

/// Why a routing file could not be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RoutingError {
    /// Reading or writing failed.
    #[error("routing file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// Not a routing file.
    #[error("routing file {path}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, on one line.
        reason: String,
    },
    /// The file was named explicitly and has no entry for the backend.
    #[error("routing file {path} has no entry for backend {spec:?} (it has: {known})")]
    NoEntry {
        /// The file.
        path: PathBuf,
        /// The backend asked for.
        spec: String,
        /// The entries it has.
        known: String,
    },
}

impl RoutingFile {
    /// Parses a routing file's text.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim().replace('\n', " "))
    }

    /// The file's text, with a header saying what it is.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).unwrap_or_default();
        format!(
            "# zkedge routing: MSMs of at least msm-min terms and NTTs of at least 2^ntt-min-log\n\
             # points go to the backend, smaller ones stay on the CPU (\"never\": none go).\n\
             # Read by `zkedge prove` and `zkedge demo` (--routing FILE); see docs/backends.md.\n\n{body}"
        )
    }

    /// Reads `path`.
    pub fn load(path: &Path) -> Result<Self, RoutingError> {
        let text = crate::files::read_text(path).map_err(|e| RoutingError::Parse {
            path: path.into(),
            reason: e.to_string(),
        })?;
        Self::from_toml(&text).map_err(|reason| RoutingError::Parse {
            path: path.into(),
            reason,
        })
    }

    /// Writes the file to `path`, creating its directory.
    pub fn save(&self, path: &Path) -> Result<(), RoutingError> {
        let io = |source| RoutingError::Io {
            path: path.into(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::write(path, self.to_toml()).map_err(io)
    }

    /// The entry for a backend spec: the spec itself, else its registry name.
    pub fn entry(&self, spec: &str) -> Option<&Entry> {
        self.backend.get(spec).or_else(|| {
            let name = spec.split_once(':').map_or(spec, |(name, _)| name);
            self.backend.get(name)
        })
    }
}

/// Where `zkedge prove` looks for a routing file when none is given: `$ZKEDGE_ROUTING`, else
/// `$XDG_CONFIG_HOME/zkedge/routing.toml`, else `$HOME/.config/zkedge/routing.toml`.
pub fn default_path() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(p) = var(ENV) {
        return Some(PathBuf::from(p));
    }
    if let Some(dir) = var("XDG_CONFIG_HOME") {
        return Some(PathBuf::from(dir).join("zkedge/routing.toml"));
    }
    var("HOME").map(|home| PathBuf::from(home).join(".config/zkedge/routing.toml"))
}

/// The policy for `spec` and where it came from: `file` if given (it must have an entry), else
/// the default file if it exists and has one, else [`Policy::ALL`].
pub fn resolve(spec: &str, file: Option<&Path>) -> Result<(Policy, String), RoutingError> {
    if let Some(path) = file {
        let routing = RoutingFile::load(path)?;
        return match routing.entry(spec) {
            Some(e) => Ok((e.policy(), path.display().to_string())),
            None => Err(RoutingError::NoEntry {
                path: path.into(),
                spec: spec.into(),
                known: routing
                    .backend
                    .keys()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        };
    }
    if let Some(path) = default_path().filter(|p| p.is_file()) {
        let routing = RoutingFile::load(&path)?;
        if let Some(e) = routing.entry(spec) {
            return Ok((e.policy(), path.display().to_string()));
        }
    }
    Ok((Policy::ALL, "built-in default".into()))
}

/// A policy in words, e.g. `MSM ≥ 4096 terms, NTT never`.
pub fn describe(policy: &Policy) -> String {
    let msm = match policy.msm_min {
        0 => "every MSM".to_string(),
        usize::MAX => "no MSM".to_string(),
        n => format!("MSMs ≥ {n} terms"),
    };
    let ntt = match policy.ntt_min_log {
        0 => "every NTT".to_string(),
        n if n > accel_backends::MAX_LOG_N => "no NTT".to_string(),
        n => format!("NTTs ≥ 2^{n}"),
    };
    format!("{msm}, {ntt}")
}

/// `Option<u64>` as an integer or the word `"never"`.
mod bound {
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(u64),
        Word(String),
    }

    pub fn serialize<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(n) => s.serialize_u64(*n),
            None => s.serialize_str("never"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(Some(n)),
            Raw::Word(w) if w == "never" => Ok(None),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "expected a number or \"never\", found {w:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_lookup() {
        let mut f = RoutingFile::default();
        f.backend.insert(
            "sim".into(),
            Entry {
                msm_min: Some(4096),
                ntt_min_log: None,
                basis: Some("test".into()),
            },
        );
        f.backend.insert(
            "sim:c=10".into(),
            Entry {
                msm_min: Some(1),
                ntt_min_log: Some(12),
                basis: None,
            },
        );
        let text = f.to_toml();
        assert!(text.contains("ntt-min-log = \"never\""), "{text}");
        let back = RoutingFile::from_toml(&text).expect("parses");
        assert_eq!(back, f);
        assert_eq!(back.entry("sim").unwrap().policy().msm_min, 4096);
        assert_eq!(back.entry("sim").unwrap().policy().ntt_min_log, u32::MAX);
        assert_eq!(back.entry("sim:hw.toml").unwrap().msm_min, Some(4096));
        assert_eq!(back.entry("sim:c=10").unwrap().ntt_min_log, Some(12));
        assert!(back.entry("icicle").is_none());
        assert!(
            RoutingFile::from_toml("[backend.sim]\nmsm-min = \"sometimes\"\nntt-min-log = 1")
                .is_err()
        );
        assert!(
            RoutingFile::from_toml("[backend.sim]\nmsm-min = 1\nntt-min-log = 1\nx = 2").is_err()
        );
    }

    #[test]
    fn an_explicit_file_must_name_the_backend() {
        let dir = std::env::temp_dir().join(format!("zkedge-routing-{}", std::process::id()));
        let path = dir.join("r.toml");
        let mut f = RoutingFile::default();
        f.backend.insert("sim".into(), Entry::default());
        f.save(&path).expect("saves");
        let (p, from) = resolve("sim", Some(&path)).expect("resolves");
        assert_eq!(
            p,
            Policy {
                msm_min: usize::MAX,
                ntt_min_log: u32::MAX
            }
        );
        assert!(from.contains("r.toml"));
        let err = resolve("icicle", Some(&path)).unwrap_err().to_string();
        assert!(err.contains("no entry for backend \"icicle\""), "{err}");
        assert!(resolve("sim", Some(&dir.join("missing.toml"))).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
