//! The accelerator's parameters (see `docs/hw-sim.md` for what each one is in the hardware).

use serde::{Deserialize, Serialize};

/// How NTT values are spread over memory banks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BankMap {
    /// `bank = 2·(i mod banks/2) + parity(i)`: the two operands of a radix-2 butterfly differ
    /// in one bit, so in parity; consecutive butterflies differ in their low bits. No conflicts
    /// for in-order issue with `banks = 2·B`.
    ParitySkew,
    /// `bank = i mod banks`: the naive map; strides that are multiples of `banks` collide.
    Modulo,
}

/// How the 254 scalar bits are cut into `⌈254/c⌉` windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WindowLayout {
    /// Widths differ by at most one bit (`c` or `c − 1`…), so no window has few buckets.
    Balanced,
    /// Every window `c` bits but the top one, which gets what is left (2 bits for `c = 12`):
    /// its few buckets are hit again and again, and the adders stall on them.
    Uniform,
}

/// Every parameter of the simulated accelerator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct HwConfig {
    /// Pippenger window `c` in bits (1..=16).
    pub window_bits: u32,
    /// How scalar bits are cut into windows.
    pub window_layout: WindowLayout,
    /// `P`: pipelined point adders, one addition issued per adder per cycle.
    pub adders: u32,
    /// `L_mul`: cycles from a Montgomery multiplier's input to its output (≥ 1).
    pub mul_latency: u32,
    /// Multiplications on the point adder's critical path.
    pub adder_mul_depth: u32,
    /// Modular additions/subtractions on the point adder's critical path (1 cycle each).
    pub adder_add_depth: u32,
    /// Entries of each adder's hazard retry queue.
    pub retry_depth: u32,
    /// Segments each window's buckets are split into for the reduction (a power of two
    /// dividing `2^c`): more segments, more independent chains to fill the adders.
    pub reduction_segments: u32,
    /// `B`: radix-2 butterfly units (each a multiplier plus an adder/subtractor).
    pub butterflies: u32,
    /// NTT memory banks, each one read and one write per cycle (a power of two ≥ 2).
    pub ntt_banks: u32,
    /// How NTT indices map to banks.
    pub bank_map: BankMap,
    /// Clock in MHz: converts cycles to time.
    pub clock_mhz: u32,
    /// Serial line rate in baud (8N1), for the link-time model.
    pub link_baud: u32,
    /// log2 of the largest MSM (and set of bases).
    pub max_msm_log: u32,
    /// log2 of the largest NTT.
    pub max_ntt_log: u32,
    /// Sets of bases kept at once.
    pub bases_slots: u16,
}

impl Default for HwConfig {
    fn default() -> Self {
        Self {
            window_bits: 12,
            window_layout: WindowLayout::Balanced,
            adders: 2,
            mul_latency: 16,
            adder_mul_depth: 3,
            adder_add_depth: 6,
            retry_depth: 16,
            reduction_segments: 8,
            butterflies: 4,
            ntt_banks: 8,
            bank_map: BankMap::ParitySkew,
            clock_mhz: 250,
            link_baud: 921_600,
            max_msm_log: 20,
            max_ntt_log: 20,
            bases_slots: 4,
        }
    }
}

/// A parameter outside what the model supports.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid hw-sim parameter {name} = {value}: {rule}")]
pub struct ConfigError {
    /// The parameter's name as in the TOML file.
    pub name: &'static str,
    /// Its value.
    pub value: u64,
    /// What it must satisfy.
    pub rule: &'static str,
}

impl HwConfig {
    /// Checks every parameter.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let check = |ok: bool, name, value: u32, rule| {
            if ok {
                Ok(())
            } else {
                Err(ConfigError {
                    name,
                    value: u64::from(value),
                    rule,
                })
            }
        };
        check(
            (1..=16).contains(&self.window_bits),
            "window-bits",
            self.window_bits,
            "must lie in 1..=16",
        )?;
        check(
            (1..=64).contains(&self.adders),
            "adders",
            self.adders,
            "must lie in 1..=64",
        )?;
        check(
            (1..=256).contains(&self.mul_latency),
            "mul-latency",
            self.mul_latency,
            "must lie in 1..=256",
        )?;
        check(
            self.adder_mul_depth >= 1 && self.adder_mul_depth <= 32,
            "adder-mul-depth",
            self.adder_mul_depth,
            "must lie in 1..=32",
        )?;
        check(
            self.adder_add_depth <= 64,
            "adder-add-depth",
            self.adder_add_depth,
            "must be at most 64",
        )?;
        check(
            (1..=1024).contains(&self.retry_depth),
            "retry-depth",
            self.retry_depth,
            "must lie in 1..=1024",
        )?;
        check(
            self.reduction_segments.is_power_of_two()
                && self.reduction_segments.trailing_zeros() <= self.window_bits,
            "reduction-segments",
            self.reduction_segments,
            "must be a power of two no larger than 2^window-bits",
        )?;
        check(
            (1..=64).contains(&self.butterflies),
            "butterflies",
            self.butterflies,
            "must lie in 1..=64",
        )?;
        check(
            self.ntt_banks.is_power_of_two() && (2..=256).contains(&self.ntt_banks),
            "ntt-banks",
            self.ntt_banks,
            "must be a power of two in 2..=256",
        )?;
        check(
            self.clock_mhz >= 1,
            "clock-mhz",
            self.clock_mhz,
            "must be at least 1",
        )?;
        check(
            self.link_baud >= 1,
            "link-baud",
            self.link_baud,
            "must be at least 1",
        )?;
        check(
            self.max_msm_log <= 26,
            "max-msm-log",
            self.max_msm_log,
            "must be at most 26",
        )?;
        check(
            (1..=28).contains(&self.max_ntt_log),
            "max-ntt-log",
            self.max_ntt_log,
            "must lie in 1..=28 (BN254's scalar field has two-adicity 28)",
        )?;
        check(
            self.bases_slots >= 1,
            "bases-slots",
            u32::from(self.bases_slots),
            "must be at least 1",
        )
    }

    /// `L_padd`: cycles through a point adder, from its multiplier depth.
    pub fn adder_latency(&self) -> u32 {
        self.adder_mul_depth * self.mul_latency + self.adder_add_depth
    }

    /// `L_bf`: cycles through a butterfly (a multiplication, then one add/sub stage).
    pub fn butterfly_latency(&self) -> u32 {
        self.mul_latency + 1
    }

    /// Windows of `c` bits that cover a 254-bit scalar.
    pub fn windows(&self) -> u32 {
        SCALAR_BITS.div_ceil(self.window_bits)
    }

    /// Each window's first bit and width, lowest window first.
    pub fn window_spans(&self) -> Vec<(u32, u32)> {
        let c = self.window_bits;
        let windows = self.windows();
        let mut offset = 0;
        (0..windows)
            .map(|w| {
                let width = match self.window_layout {
                    WindowLayout::Uniform => c.min(SCALAR_BITS - w * c),
                    WindowLayout::Balanced => {
                        SCALAR_BITS / windows + u32::from(w < SCALAR_BITS % windows)
                    }
                };
                let span = (offset, width);
                offset += width;
                span
            })
            .collect()
    }

    /// Reads a TOML file's text; missing keys keep their defaults.
    pub fn from_toml(text: &str) -> Result<Self, TomlError> {
        let config: Self = toml::from_str(text).map_err(|e| TomlError::Parse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }
}

/// Bits of a BN254 scalar (`r < 2^254`).
pub const SCALAR_BITS: u32 = 254;

/// Why a configuration file was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TomlError {
    /// Not TOML, an unknown key, or a value of the wrong type.
    #[error("config file: {0}")]
    Parse(String),
    /// A value out of range.
    #[error(transparent)]
    Invalid(#[from] ConfigError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_toml_overrides_some_keys() {
        HwConfig::default().validate().expect("defaults");
        let c = HwConfig::from_toml("window-bits = 10\nadders = 4\nbank-map = \"modulo\"\n")
            .expect("valid");
        assert_eq!((c.window_bits, c.adders), (10, 4));
        assert_eq!(c.bank_map, BankMap::Modulo);
        assert_eq!(c.mul_latency, HwConfig::default().mul_latency);
        assert_eq!(c.windows(), 26);
        assert!(matches!(
            HwConfig::from_toml("window-bits = 0"),
            Err(TomlError::Invalid(ConfigError {
                name: "window-bits",
                ..
            }))
        ));
        assert!(matches!(
            HwConfig::from_toml("widow-bits = 3"),
            Err(TomlError::Parse(_))
        ));
    }

    #[test]
    fn latencies_derive_from_the_multiplier() {
        let c = HwConfig::default();
        assert_eq!(c.adder_latency(), 3 * 16 + 6);
        assert_eq!(c.butterfly_latency(), 17);
        assert_eq!(c.windows(), 22);
        for layout in [WindowLayout::Balanced, WindowLayout::Uniform] {
            for bits in 1..=16 {
                let c = HwConfig {
                    window_bits: bits,
                    window_layout: layout,
                    ..HwConfig::default()
                };
                let spans = c.window_spans();
                assert_eq!(spans.len() as u32, c.windows());
                assert_eq!(spans.iter().map(|s| s.1).sum::<u32>(), SCALAR_BITS);
                assert!(spans.iter().all(|&(_, w)| w >= 1 && w <= bits));
                assert!(spans.windows(2).all(|p| p[0].0 + p[0].1 == p[1].0));
            }
        }
        let balanced = HwConfig::default().window_spans();
        assert_eq!(balanced[0], (0, 12));
        assert_eq!(balanced[21], (243, 11));
    }
}
