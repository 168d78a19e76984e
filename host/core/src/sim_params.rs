//! hw-sim parameters written inline in a backend spec, and sweeps over them.
//!
//! The `sim` backend takes `sim:ARG`, where `ARG` is a TOML file, `KEY=VALUE` pairs, or both
//! (`sim:hw.toml,c=10,P=4`): the file first, then the pairs over it. Keys are the TOML keys of
//! `HwConfig` (`window-bits`, `adders`…, see `docs/hw-sim.md`) or the symbols the design notes
//! use for them ([`ALIASES`]: `c`, `P`, `B`…).
//!
//! A sweep (`--sim-param c=12,13,14 --sim-param P=1,2`) turns each `sim` spec into one spec per
//! combination of values, each built by the registry like any other backend and labelled by its
//! spec (`sim:c=12,P=1`).

use std::path::Path;

use thiserror::Error;
use zkedge_hwsim::HwConfig;

/// Symbols of the design notes and the TOML keys they stand for.
pub const ALIASES: &[(&str, &str)] = &[
    ("c", "window-bits"),
    ("P", "adders"),
    ("L", "mul-latency"),
    ("G", "reduction-segments"),
    ("B", "butterflies"),
    ("M", "ntt-banks"),
    ("f", "clock-mhz"),
    ("clock", "clock-mhz"),
    ("baud", "link-baud"),
];

/// A sweep or an inline parameter that cannot be used.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SimParamError {
    /// Not `KEY=V1,V2,…`.
    #[error("--sim-param {0:?}: write KEY=V1,V2,… (e.g. c=12,13 or adders=1,2)")]
    Syntax(String),
    /// The same key swept twice.
    #[error("--sim-param {0} is given twice")]
    Repeated(String),
    /// A sweep with no `sim` backend to apply it to.
    #[error("--sim-param needs a sim backend in --backends")]
    NoSim,
    /// More combinations than a report can hold.
    #[error("the sweep makes {0} sim backends; at most {MAX_SWEEP} fit in one report")]
    TooMany(usize),
}

/// The most backends one sweep may make.
pub const MAX_SWEEP: usize = 64;

/// The TOML key for a key or symbol written by a user.
pub fn toml_key(key: &str) -> String {
    ALIASES
        .iter()
        .find(|(alias, _)| *alias == key)
        .map_or_else(|| key.replace('_', "-"), |(_, full)| (*full).to_string())
}

/// The configuration `sim:ARG` names: defaults, then a TOML file (a part without `=`), then
/// `KEY=VALUE` parts, in order. Errors are one line, for the registry to wrap.
pub fn config(arg: &str) -> Result<HwConfig, String> {
    let mut text = String::new();
    if !arg.is_empty() && !arg.contains('=') {
        // A file alone, whatever its name holds (commas included).
        let file = crate::files::read_text(Path::new(arg)).map_err(|e| e.to_string())?;
        return HwConfig::from_toml(&file).map_err(|e| format!("{arg}: {e}"));
    }
    for part in arg.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            None => {
                if !text.is_empty() {
                    return Err(format!(
                        "{part:?}: a config file must come before KEY=VALUE parameters"
                    ));
                }
                let file = crate::files::read_text(Path::new(part)).map_err(|e| e.to_string())?;
                // Checked alone first, so that its errors name the file.
                HwConfig::from_toml(&file).map_err(|e| format!("{part}: {e}"))?;
                text = file;
                text.push('\n');
            }
            Some((key, value)) => {
                let (key, value) = (toml_key(key.trim()), value.trim());
                if key.is_empty() || value.is_empty() {
                    return Err(format!("{part:?}: write KEY=VALUE"));
                }
                // Later values win: drop an earlier line for the same key.
                text = text
                    .lines()
                    .filter(|l| l.split('=').next().map(str::trim) != Some(key.as_str()))
                    .map(|l| format!("{l}\n"))
                    .collect();
                if value.parse::<i64>().is_ok() {
                    text += &format!("{key} = {value}\n");
                } else {
                    text += &format!("{key} = {value:?}\n");
                }
            }
        }
    }
    HwConfig::from_toml(&text).map_err(|e| e.to_string())
}

/// One swept parameter: a key and its values, from `KEY=V1,V2,…`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sweep {
    /// The key as written (kept for labels: `c` stays `c`).
    pub key: String,
    /// The values, in order.
    pub values: Vec<String>,
}

impl std::str::FromStr for Sweep {
    type Err = SimParamError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (key, values) = s
            .split_once('=')
            .ok_or_else(|| SimParamError::Syntax(s.into()))?;
        let key = key.trim();
        let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
        let valid_key = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid_key || values.iter().any(|v| v.is_empty() || v.contains('=')) {
            return Err(SimParamError::Syntax(s.into()));
        }
        Ok(Self {
            key: key.into(),
            values,
        })
    }
}

/// Expands every `sim` spec of `specs` (registry name `sim`) into one spec per combination of
/// the sweeps' values, in the order given (the last sweep varies fastest); other specs pass
/// through. Values are checked when the registry builds each backend.
pub fn expand(specs: &[String], sweeps: &[Sweep]) -> Result<Vec<String>, SimParamError> {
    if sweeps.is_empty() {
        return Ok(specs.to_vec());
    }
    for (i, s) in sweeps.iter().enumerate() {
        if sweeps[..i]
            .iter()
            .any(|t| toml_key(&t.key) == toml_key(&s.key))
        {
            return Err(SimParamError::Repeated(s.key.clone()));
        }
    }
    let is_sim = |spec: &str| spec.split(':').next() == Some("sim");
    if !specs.iter().any(|s| is_sim(s)) {
        return Err(SimParamError::NoSim);
    }
    let combos: Vec<Vec<(String, String)>> = sweeps.iter().fold(vec![Vec::new()], |acc, sweep| {
        acc.iter()
            .flat_map(|prefix| {
                sweep.values.iter().map(move |v| {
                    let mut c = prefix.clone();
                    c.push((sweep.key.clone(), v.clone()));
                    c
                })
            })
            .collect()
    });
    let sims = specs.iter().filter(|s| is_sim(s)).count();
    if combos.len() * sims > MAX_SWEEP {
        return Err(SimParamError::TooMany(combos.len() * sims));
    }
    let mut out = Vec::new();
    for spec in specs {
        if !is_sim(spec) {
            out.push(spec.clone());
            continue;
        }
        let base = spec.split_once(':').map_or("", |(_, arg)| arg);
        for combo in &combos {
            let pairs: Vec<String> = combo.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let arg = if base.is_empty() {
                pairs.join(",")
            } else {
                format!("{base},{}", pairs.join(","))
            };
            out.push(format!("sim:{arg}"));
        }
    }
    Ok(out)
}

/// Splits a `--backends` list at commas, keeping the `KEY=VALUE` parts of an inline sim spec
/// with their backend: `cpu,sim:c=10,P=4,serial:/dev/x` → `cpu`, `sim:c=10,P=4`,
/// `serial:/dev/x`.
pub fn split_backends(list: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match out.last_mut() {
            Some(prev) if !part.contains(':') && part.contains('=') && prev.contains(':') => {
                prev.push(',');
                prev.push_str(part);
            }
            _ => out.push(part.to_string()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_parameters_and_aliases() {
        let c = config("c=10,P=4,bank-map=modulo").expect("valid");
        assert_eq!((c.window_bits, c.adders), (10, 4));
        assert_eq!(c.bank_map, zkedge_hwsim::BankMap::Modulo);
        assert_eq!(config("").expect("defaults"), HwConfig::default());
        assert_eq!(config("c=10,c=11").expect("last wins").window_bits, 11);
        assert!(config("c=99").unwrap_err().contains("window-bits"));
        assert!(config("nonsense=1").is_err());
        assert!(config("/no/such/file.toml")
            .unwrap_err()
            .contains("cannot read"));
    }

    #[test]
    fn sweeps_expand_sim_specs_only() {
        let specs = split_backends("cpu,sim,serial:/dev/x");
        assert_eq!(specs, ["cpu", "sim", "serial:/dev/x"]);
        let sweeps: Vec<Sweep> = ["c=12,13", "P=1,2"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let out = expand(&specs, &sweeps).unwrap();
        assert_eq!(
            out,
            [
                "cpu",
                "sim:c=12,P=1",
                "sim:c=12,P=2",
                "sim:c=13,P=1",
                "sim:c=13,P=2",
                "serial:/dev/x"
            ]
        );
        assert_eq!(
            split_backends("cpu, sim:c=12,P=1,sim:c=13"),
            ["cpu", "sim:c=12,P=1", "sim:c=13"]
        );
        assert_eq!(expand(&["cpu".into()], &sweeps), Err(SimParamError::NoSim));
        let twice: Vec<Sweep> = ["c=1", "window-bits=2"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert!(matches!(
            expand(&specs, &twice),
            Err(SimParamError::Repeated(_))
        ));
        assert!("c".parse::<Sweep>().is_err());
        assert!("c=".parse::<Sweep>().is_err());
        assert!("=1".parse::<Sweep>().is_err());
    }
}
