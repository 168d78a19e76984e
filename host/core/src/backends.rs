//! The backend registry: names → constructors. `zkedge` registers the backends every build
//! has; another binary (`zkedge-icicle`) adds its own and runs the same CLI
//! (`zkedge::cli::run_with`), so the host crate needs no change to gain a backend.

#[cfg(feature = "host-io")]
use std::time::Duration;

#[cfg(feature = "host-io")]
use accel_backends::wire::serial::{SerialBackend, SerialConfig};
use accel_backends::{Backend, CpuBackend};
use thiserror::Error;
use zkedge_hwsim::HwSim;

/// A backend behind a trait object.
pub type DynBackend = Box<dyn Backend + Send>;

/// Builds a backend from the argument after `name:` in a backend spec (empty if none).
pub type Factory = Box<dyn Fn(&str) -> Result<DynBackend, String> + Send + Sync>;

/// Why a backend spec could not be turned into a backend.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// No backend has that name.
    #[error("unknown backend {spec:?}; this build has: {known}")]
    Unknown {
        /// The spec given.
        spec: String,
        /// The registered names.
        known: String,
    },
    /// The backend's constructor failed.
    #[error("backend {spec:?}: {reason}")]
    Create {
        /// The spec given.
        spec: String,
        /// What failed.
        reason: String,
    },
}

struct Entry {
    name: String,
    help: String,
    factory: Factory,
    /// The reference backend: its results need no checking, and it needs no router in front.
    reference: bool,
}

/// Named backend constructors.
#[derive(Default)]
pub struct Registry {
    entries: Vec<Entry>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The backends every `zkedge` build has.
    pub fn with_defaults() -> Self {
        let mut r = Self::new();
        r.register_reference(
            "cpu",
            "the CPU reference backend (all cores)",
            Box::new(|_| Ok(Box::new(CpuBackend::new()))),
        );
        r.register(
            "sim",
            "the cycle-accurate accelerator simulator, in process (sim:CONFIG.toml and/or sim:KEY=VALUE,… for other parameters, e.g. sim:c=10,P=4)",
            Box::new(|arg| {
                let config = crate::sim_params::config(arg)?;
                Ok(Box::new(HwSim::new(config).map_err(|e| e.to_string())?))
            }),
        );
        #[cfg(feature = "host-io")]
        r.register(
            "serial",
            "an accelerator (or `zkedge-hwsim serve`) on a serial port: serial:/dev/ttyUSB0",
            Box::new(|path| {
                if path.is_empty() {
                    return Err("give the port, e.g. serial:/dev/ttyUSB0".into());
                }
                let config = SerialConfig::new(3_000_000, Duration::from_millis(400));
                Ok(Box::new(
                    SerialBackend::open(path, config).map_err(|e| e.to_string())?,
                ))
            }),
        );
        r
    }

    /// Adds (or replaces) a backend.
    pub fn register(&mut self, name: &str, help: &str, factory: Factory) {
        self.add(name, help, factory, false);
    }

    /// Adds (or replaces) the reference backend: the one whose results are trusted, that an
    /// accelerator's jobs fall back to, and that needs no router in front of it.
    pub fn register_reference(&mut self, name: &str, help: &str, factory: Factory) {
        self.add(name, help, factory, true);
    }

    fn add(&mut self, name: &str, help: &str, factory: Factory, reference: bool) {
        self.entries.retain(|e| e.name != name);
        self.entries.push(Entry {
            name: name.into(),
            help: help.into(),
            factory,
            reference,
        });
    }

    /// Whether `spec` names the reference backend.
    pub fn is_reference(&self, spec: &str) -> bool {
        let name = spec.split_once(':').map_or(spec, |(name, _)| name);
        self.entries.iter().any(|e| e.name == name && e.reference)
    }

    /// The reference backend's name (`cpu` in every build), if one is registered.
    pub fn reference_name(&self) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.reference)
            .map(|e| e.name.as_str())
    }

    /// Builds the reference backend.
    pub fn reference(&self) -> Result<DynBackend, RegistryError> {
        let entry =
            self.entries
                .iter()
                .find(|e| e.reference)
                .ok_or_else(|| RegistryError::Unknown {
                    spec: "(the reference backend)".into(),
                    known: self.names(),
                })?;
        (entry.factory)("").map_err(|reason| RegistryError::Create {
            spec: entry.name.clone(),
            reason,
        })
    }

    fn names(&self) -> String {
        self.entries
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Builds the backend a spec names: `name` or `name:argument`.
    pub fn create(&self, spec: &str) -> Result<DynBackend, RegistryError> {
        let (name, arg) = spec.split_once(':').unwrap_or((spec, ""));
        let entry = self
            .entries
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| RegistryError::Unknown {
                spec: spec.into(),
                known: self.names(),
            })?;
        (entry.factory)(arg).map_err(|reason| RegistryError::Create {
            spec: spec.into(),
            reason,
        })
    }

    /// `(name, help)` of every backend.
    pub fn list(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|e| (e.name.as_str(), e.help.as_str()))
    }
}
