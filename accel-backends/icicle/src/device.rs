//! Which ICICLE device does the work: loading ICICLE's backends once per process, parsing a
//! device choice, confirming the device before anything activates it.
//!
//! ICICLE aborts the process when `set_device` names a device it has not loaded, so no device
//! is ever activated until `is_device_available` has confirmed it. ICICLE's active device is
//! per thread; the backend activates its device at the start of every call, on whatever thread
//! makes it.

use std::{fmt, str::FromStr, sync::OnceLock};

use icicle_runtime::{runtime, Device};

use crate::error::{self, SetupError};

/// The ICICLE device kinds zkedge knows by name; any other registered type can be named too.
const CUDA: &str = "CUDA";
const CPU: &str = "CPU";

/// Longest device type ICICLE stores (its buffer is 64 bytes with the terminating NUL).
const MAX_TYPE_LEN: usize = 63;

/// Which device to use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceChoice {
    /// CUDA device 0 if ICICLE confirms it, else ICICLE's CPU device.
    #[default]
    Auto,
    /// Exactly this device type and index; fail rather than fall back.
    Exact {
        /// ICICLE's device type, upper case (`CPU`, `CUDA`, …).
        kind: String,
        /// The device index.
        id: i32,
    },
}

impl DeviceChoice {
    /// ICICLE's CPU device.
    pub fn cpu() -> Self {
        Self::Exact {
            kind: CPU.into(),
            id: 0,
        }
    }

    /// CUDA device `id`.
    pub fn cuda(id: i32) -> Self {
        Self::Exact {
            kind: CUDA.into(),
            id,
        }
    }
}

impl FromStr for DeviceChoice {
    type Err = SetupError;

    /// `""` or `auto`; `cpu`; `cuda`; `TYPE` or `TYPE:ID` for any ICICLE device type
    /// (case-insensitive).
    fn from_str(spec: &str) -> Result<Self, SetupError> {
        let bad = || SetupError::BadSpec { spec: spec.into() };
        let trimmed = spec.trim();
        if trimmed.is_empty() || trimmed.eq_ignore_ascii_case("auto") {
            return Ok(Self::Auto);
        }
        let (kind, id) = match trimmed.split_once(':') {
            Some((kind, id)) => (kind, id.parse::<i32>().map_err(|_| bad())?),
            None => (trimmed, 0),
        };
        let valid = !kind.is_empty()
            && kind.len() <= MAX_TYPE_LEN
            && kind
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid || id < 0 {
            return Err(bad());
        }
        Ok(Self::Exact {
            kind: kind.to_ascii_uppercase(),
            id,
        })
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Exact { kind, id } => write!(f, "{kind}:{id}"),
        }
    }
}

/// What loading ICICLE's backends did (once per process).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackendsLoaded {
    /// Whether a backend directory was loaded.
    pub loaded: bool,
    /// Where ICICLE looked, for messages.
    pub detail: String,
}

static LOADED: OnceLock<BackendsLoaded> = OnceLock::new();

/// Loads ICICLE's device backends from `ICICLE_BACKEND_INSTALL_DIR`, or ICICLE's default
/// `/opt/icicle/lib/backend`, once per process. The CPU device is built in and needs none.
pub fn load_backends() -> &'static BackendsLoaded {
    LOADED.get_or_init(|| {
        let from = match std::env::var("ICICLE_BACKEND_INSTALL_DIR") {
            Ok(dir) => format!("ICICLE_BACKEND_INSTALL_DIR={dir} (then /opt/icicle/lib/backend)"),
            Err(_) => "/opt/icicle/lib/backend (ICICLE_BACKEND_INSTALL_DIR unset)".into(),
        };
        match runtime::load_backend_from_env_or_default() {
            Ok(()) => BackendsLoaded {
                loaded: true,
                detail: format!("loaded from {from}"),
            },
            Err(e) => BackendsLoaded {
                loaded: false,
                detail: format!("none loaded from {from} (ICICLE code {})", error::code(&e)),
            },
        }
    })
}

/// The device types ICICLE has registered, comma-separated.
fn registered() -> String {
    runtime::get_registered_devices()
        .map(|d| d.join(", "))
        .unwrap_or_else(|e| format!("unknown (ICICLE code {})", error::code(&e)))
}

/// A device ICICLE has confirmed, and how it was chosen.
#[derive(Clone, Debug)]
pub struct Selected {
    pub(crate) device: Device,
    kind: String,
    id: i32,
    note: String,
}

impl Selected {
    /// The device type (`CUDA`, `CPU`, …).
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The device index.
    pub fn id(&self) -> i32 {
        self.id
    }

    /// One line on the choice, for the user: which device, and why not CUDA if not.
    pub fn note(&self) -> &str {
        &self.note
    }

    /// Whether it is ICICLE's CPU device.
    pub fn is_cpu(&self) -> bool {
        self.kind == CPU
    }
}

impl fmt::Display for Selected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.id)
    }
}

/// Confirms `kind:id` and makes it this thread's active device, or says why not.
///
/// `is_device_available` only knows whether the device *type* is registered; activating an
/// unregistered type throws inside ICICLE and aborts the process, so that is checked first.
/// A registered type may still refuse an index (no such GPU, driver missing, no licence):
/// activation says so with an error code, which is reported.
fn confirm(kind: &str, id: i32, loaded: &BackendsLoaded) -> Result<Device, String> {
    // `kind` was validated by `DeviceChoice::from_str` or is a constant: no NUL, short.
    let device = Device::new(kind, id);
    if !runtime::is_device_available(&device) {
        return Err(format!(
            "device type {kind} is not registered (registered: {}; backends {})",
            registered(),
            loaded.detail
        ));
    }
    activate(&device).map(|()| device).map_err(|e| {
        format!(
            "ICICLE refused {kind}:{id} with error code {}",
            error::code(&e)
        )
    })
}

/// Picks the device `choice` names, loading ICICLE's backends first, and makes it active on
/// the calling thread.
pub fn select(choice: &DeviceChoice) -> Result<Selected, SetupError> {
    let loaded = load_backends();
    let pick = |device: Device, kind: &str, id: i32, note: String| Selected {
        device,
        kind: kind.into(),
        id,
        note,
    };
    match choice {
        DeviceChoice::Auto => {
            let cuda = match confirm(CUDA, 0, loaded) {
                Ok(device) => {
                    let note = format!("ICICLE on CUDA:0 (backends {})", loaded.detail);
                    return Ok(pick(device, CUDA, 0, note));
                }
                Err(why) => why,
            };
            match confirm(CPU, 0, loaded) {
                Ok(device) => {
                    let note = format!("ICICLE on its CPU device, no GPU: {cuda}");
                    Ok(pick(device, CPU, 0, note))
                }
                Err(cpu) => Err(SetupError::Unavailable {
                    device: format!("{CUDA}:0 or {CPU}:0"),
                    reason: format!("{cuda}; {cpu}"),
                }),
            }
        }
        DeviceChoice::Exact { kind, id } => {
            // Re-validate: a caller may have built the variant by hand.
            let spec = format!("{kind}:{id}");
            let parsed = DeviceChoice::from_str(&spec)?;
            if parsed != *choice {
                return Err(SetupError::BadSpec { spec });
            }
            match confirm(kind, *id, loaded) {
                Ok(device) => Ok(pick(
                    device,
                    kind,
                    *id,
                    format!("ICICLE on {spec} (as asked)"),
                )),
                Err(reason) => Err(SetupError::Unavailable {
                    device: spec,
                    reason,
                }),
            }
        }
    }
}

/// Makes `device` (confirmed by [`select`]) this thread's active ICICLE device.
///
/// Only ever called with a device whose type ICICLE has registered.
pub(crate) fn activate(device: &Device) -> Result<(), icicle_runtime::IcicleError> {
    runtime::set_device(device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse() {
        assert_eq!("".parse::<DeviceChoice>(), Ok(DeviceChoice::Auto));
        assert_eq!("Auto".parse::<DeviceChoice>(), Ok(DeviceChoice::Auto));
        assert_eq!("cpu".parse::<DeviceChoice>(), Ok(DeviceChoice::cpu()));
        assert_eq!("CUDA".parse::<DeviceChoice>(), Ok(DeviceChoice::cuda(0)));
        assert_eq!("cuda:3".parse::<DeviceChoice>(), Ok(DeviceChoice::cuda(3)));
        assert_eq!(
            "metal:0".parse::<DeviceChoice>().map(|c| c.to_string()),
            Ok("METAL:0".to_string())
        );
        for bad in [
            "cuda:-1",
            "cuda:x",
            ":1",
            "cu\0da",
            "a b",
            "CUDA:1:2",
            &"X".repeat(64),
        ] {
            assert!(
                matches!(bad.parse::<DeviceChoice>(), Err(SetupError::BadSpec { .. })),
                "{bad:?} was accepted"
            );
        }
    }
}
