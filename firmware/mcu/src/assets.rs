//! What the build compiles in (see `build.rs`).

/// The model, in its binary form (`.zkm`).
pub static MODEL: &[u8] = include_bytes!(env!("ZKEDGE_FW_MODEL"));

/// The recorded sensor stream: int8 samples back to back, one model input each.
pub static SAMPLES: &[u8] = include_bytes!(env!("ZKEDGE_FW_SAMPLES"));

/// Seed material from the build machine (see `rng.rs`).
pub static SEED: [u8; 32] = *include_bytes!(concat!(env!("OUT_DIR"), "/seed.bin"));

#[cfg(feature = "device-proving")]
const ZPK_LEN: usize = include_bytes!(env!("ZKEDGE_FW_ZPK")).len();

/// The proving key (`zkedge.zpk` from `zkedge setup`), in its own linker section: flash on
/// the MPS2 boards, the QSPI flash on the AN547.
#[cfg(feature = "device-proving")]
#[link_section = ".blobs.zpk"]
pub static ZPK: [u8; ZPK_LEN] = *include_bytes!(env!("ZKEDGE_FW_ZPK"));
