//! Randomness for the prover's blinding factors and the salts of input commitments.
//!
//! **Not secure as shipped.** QEMU's boards have no entropy source, so the generator is
//! ChaCha20 seeded from bytes the build machine drew (`build.rs`) mixed with the timing of
//! events at boot. Zero knowledge needs unpredictable, never-repeated blinding: on a real
//! board, seed [`Entropy`] from its TRNG (e.g. the STM32 `RNG` peripheral) instead.

use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};

/// Collects seed material.
pub struct Entropy {
    state: blake2b_simd::State,
}

impl Entropy {
    /// Starts from the build-time seed.
    pub fn new() -> Self {
        let mut state = blake2b_simd::Params::new().hash_length(32).to_state();
        state.update(&crate::assets::SEED);
        Self { state }
    }

    /// Mixes in a measurement (a timer reading at an event whose timing varies).
    pub fn mix(&mut self, value: u64) {
        self.state.update(&value.to_le_bytes());
    }

    /// The generator.
    pub fn rng(&self) -> ChaCha20Rng {
        let mut seed = [0u8; 32];
        seed.copy_from_slice(self.state.finalize().as_bytes());
        ChaCha20Rng::from_seed(seed)
    }
}
