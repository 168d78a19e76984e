//! BN254 field arithmetic on eight lanes at once with AVX-512 IFMA (52-bit multiply-add), and
//! the kernels zkedge's CPU spends most of its proving time in: a round of the MSM's
//! batch-affine pair additions (base field), an NTT level's butterflies and a transform's
//! scalings, and a gate expression evaluated at eight rows (scalar field).
//!
//! Why it exists: arkworks' multiplication is a 4×64-bit Montgomery product on the scalar
//! multiplier, ≈ 45 cycles on the machines we measure on, and the MSM's rounds and the NTT's
//! butterflies were within ≈ 15 % and a few percent of what that allows. IFMA does eight
//! 52×52-bit products an instruction; five 52-bit limbs hold a 254-bit value, so one vector
//! Montgomery product computes eight field products. No maintained crate offers this for BN254
//! (searched 2026-12); arkworks stays the reference every lane is tested against, and the only
//! arithmetic anywhere else in zkedge.
//!
//! Values stay in arkworks' representation, Montgomery form with R = 2^256, fully reduced:
//! lanes are filled from and written back to the elements' limbs by bit slicing and
//! transposes alone. The vector Montgomery product runs with R' = 2^260, so it is given one
//! operand times 16 (`mont'(16a, b) = 16ab / 2^260 = ab / 2^256`), which is arkworks' product
//! exactly.
//!
//! Without an x86-64 CPU with `avx512f` and `avx512ifma`, without the `std` feature (the CPU is
//! detected at run time), or with `ZKEDGE_NO_IFMA` set, [`Ifma::detect`] finds nothing and
//! callers keep their scalar code.
#![no_std]
// Unsafe here: calling the `#[target_feature]` kernels (behind an `Ifma`, which proves the CPU
// has the features), the pair kernel's gathers and scatters (raw pointers into slices whose
// bounds are checked first, see `pairs`), and unaligned loads and stores of eight elements
// (256 bytes of limbs, the layout asserted at compile time, see `lanes`).
#![cfg_attr(all(target_arch = "x86_64", feature = "std"), allow(unsafe_code))]
#![cfg_attr(not(all(target_arch = "x86_64", feature = "std")), forbid(unsafe_code))]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

#[cfg(feature = "std")]
extern crate std;

extern crate alloc;

use ark_bn254::{Fq, Fr};

#[cfg(all(target_arch = "x86_64", feature = "std"))]
mod eval;
#[cfg(all(target_arch = "x86_64", feature = "std"))]
mod lanes;
#[cfg(all(target_arch = "x86_64", feature = "std"))]
mod ntt;
#[cfg(all(target_arch = "x86_64", feature = "std"))]
mod pairs;

/// A point in affine coordinates, as the MSM's buckets hold it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct Point {
    /// The x coordinate.
    pub x: Fq,
    /// The y coordinate.
    pub y: Fq,
}

/// One step of a straight-line program over BN254's scalar field (a gate's expression, as a
/// prover keeps it): each step's value is a constant, a leaf, or a combination of earlier
/// steps' values, named by their index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// A constant.
    Constant(Fr),
    /// Leaf `k`'s values ([`Ifma::evaluate`]'s `leaves[k]`).
    Leaf(usize),
    /// `−a`.
    Negated(usize),
    /// `a + b`.
    Sum(usize, usize),
    /// `a · b`.
    Product(usize, usize),
    /// `a · c`.
    Scaled(usize, Fr),
}

/// A straight-line program whose steps name only earlier steps and leaves below its count,
/// checked once when built: [`Ifma::evaluate`] then runs it block after block unchecked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    steps: alloc::vec::Vec<Step>,
    leaves: usize,
}

impl Program {
    /// `steps` reading `leaves` leaves.
    ///
    /// # Panics
    /// If a step names itself, a later step, or a leaf `≥ leaves`.
    pub fn new(steps: alloc::vec::Vec<Step>, leaves: usize) -> Self {
        for (i, step) in steps.iter().enumerate() {
            let ok = match *step {
                Step::Constant(_) => true,
                Step::Leaf(k) => k < leaves,
                Step::Negated(a) | Step::Scaled(a, _) => a < i,
                Step::Sum(a, b) | Step::Product(a, b) => a < i && b < i,
            };
            assert!(
                ok,
                "step {i} ({step:?}) names a later step or a missing leaf"
            );
        }
        Self { steps, leaves }
    }
}

/// Working memory of [`Ifma::evaluate`], kept between calls.
#[derive(Default)]
pub struct EvalScratch {
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    values: alloc::vec::Vec<lanes::Fr8>,
}

/// Proof that this CPU runs AVX-512 IFMA: the only way to reach the vector kernels.
#[derive(Clone, Copy, Debug)]
pub struct Ifma(Present);

#[cfg(all(target_arch = "x86_64", feature = "std"))]
#[derive(Clone, Copy, Debug)]
struct Present;

#[cfg(not(all(target_arch = "x86_64", feature = "std")))]
#[derive(Clone, Copy, Debug)]
enum Present {}

/// Working memory of [`Ifma::add_pairs`], kept between calls.
#[derive(Default)]
pub struct PairScratch {
    #[cfg(all(target_arch = "x86_64", feature = "std"))]
    prefix: alloc::vec::Vec<lanes::Fq8>,
}

impl PairScratch {
    /// The memory it holds, in bytes.
    pub fn bytes(&self) -> usize {
        #[cfg(all(target_arch = "x86_64", feature = "std"))]
        {
            self.prefix.capacity() * core::mem::size_of::<lanes::Fq8>()
        }
        #[cfg(not(all(target_arch = "x86_64", feature = "std")))]
        {
            0
        }
    }
}

impl Ifma {
    /// This CPU's IFMA, if it has it (`avx512f` and `avx512ifma`, detected at run time) and the
    /// environment does not set `ZKEDGE_NO_IFMA` (to anything but `0`): the way to compare the
    /// two paths, or to rule the vector one out when a result is in doubt. Read once a process.
    pub fn detect() -> Option<Self> {
        #[cfg(all(target_arch = "x86_64", feature = "std"))]
        {
            static FOUND: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
            let found = *FOUND.get_or_init(|| {
                let off = std::env::var_os("ZKEDGE_NO_IFMA").is_some_and(|v| v != "0");
                !off && std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512ifma")
            });
            found.then_some(Ifma(Present))
        }
        #[cfg(not(all(target_arch = "x86_64", feature = "std")))]
        {
            None
        }
    }

    /// One round of batch-affine additions: `sums[i] = pts[firsts[i]] + pts[firsts[i] + 1]`,
    /// with `identity[i]` set instead where that sum is the identity (`p = −q`), whose
    /// `sums[i]` is then unspecified. Doublings (`p = q`) are handled. Every point must be
    /// on the curve and not the identity (then no denominator is zero); `sums` and `identity`
    /// are resized to `firsts.len()`.
    ///
    /// One field inversion serves the whole round, as in the scalar batch-affine code; the
    /// pairs are taken eight at a time, each lane with its own chain of prefix products.
    ///
    /// # Panics
    /// If some `firsts[i] + 1` is not an index of `pts`.
    pub fn add_pairs(
        self,
        pts: &[Point],
        firsts: &[u32],
        sums: &mut alloc::vec::Vec<Point>,
        identity: &mut alloc::vec::Vec<bool>,
        scratch: &mut PairScratch,
    ) {
        assert!(
            firsts.iter().all(|&f| (f as usize) + 1 < pts.len()),
            "a pair's index is past the points"
        );
        // Every entry is written but the identities', which keep any value.
        let zero = Point {
            x: Fq::from(0u64),
            y: Fq::from(0u64),
        };
        sums.resize(firsts.len(), zero);
        identity.clear();
        identity.resize(firsts.len(), false);
        #[cfg(all(target_arch = "x86_64", feature = "std"))]
        {
            let Ifma(Present) = self;
            // SAFETY: an `Ifma` exists only where `detect` found avx512f and avx512ifma; the
            // indices are checked above and the outputs sized to `firsts`.
            unsafe { pairs::add_pairs(pts, firsts, sums, identity, &mut scratch.prefix) }
        }
        #[cfg(not(all(target_arch = "x86_64", feature = "std")))]
        {
            let _ = scratch;
            match self.0 {}
        }
    }

    /// Runs `program` at eight points at once: `Leaf(k)` takes `leaves[k]` (one value a point),
    /// every other step combines earlier ones. Returns the last step's eight values (zeros for
    /// no steps).
    ///
    /// # Panics
    /// If `leaves` is not as long as the program's leaf count.
    pub fn evaluate(
        self,
        program: &Program,
        leaves: &[[Fr; 8]],
        scratch: &mut EvalScratch,
    ) -> [Fr; 8] {
        assert_eq!(leaves.len(), program.leaves, "the program's leaves");
        #[cfg(all(target_arch = "x86_64", feature = "std"))]
        {
            let Ifma(Present) = self;
            // SAFETY: an `Ifma` exists only where `detect` found avx512f and avx512ifma.
            unsafe { eval::evaluate(&program.steps, leaves, &mut scratch.values) }
        }
        #[cfg(not(all(target_arch = "x86_64", feature = "std")))]
        {
            let _ = scratch;
            match self.0 {}
        }
    }

    /// The butterflies of one level of a decimation-in-frequency NTT:
    /// `(lo[i], hi[i]) ← (lo[i] + hi[i], (lo[i] − hi[i])·t[i])`, eight at a time.
    ///
    /// # Panics
    /// If the three slices are not equally long.
    pub fn dif_butterflies(self, lo: &mut [Fr], hi: &mut [Fr], t: &[Fr]) {
        assert!(
            lo.len() == hi.len() && hi.len() == t.len(),
            "butterflies over unequal slices"
        );
        #[cfg(all(target_arch = "x86_64", feature = "std"))]
        {
            let Ifma(Present) = self;
            // SAFETY: an `Ifma` exists only where `detect` found avx512f and avx512ifma.
            unsafe { ntt::dif_butterflies(lo, hi, t) }
        }
        #[cfg(not(all(target_arch = "x86_64", feature = "std")))]
        {
            match self.0 {}
        }
    }

    /// `values[i] ← values[i] · c · gⁱ`: a coset's shift, an inverse transform's `1/n`.
    pub fn scale_by_powers(self, values: &mut [Fr], c: Fr, g: Fr) {
        #[cfg(all(target_arch = "x86_64", feature = "std"))]
        {
            let Ifma(Present) = self;
            // SAFETY: an `Ifma` exists only where `detect` found avx512f and avx512ifma.
            unsafe { ntt::scale_by_powers(values, c, g) }
        }
        #[cfg(not(all(target_arch = "x86_64", feature = "std")))]
        {
            let _ = (values, c, g);
            match self.0 {}
        }
    }
}

/// Tests' access to the kernels: the CPU's `Ifma`, or `None` with a line saying what is not
/// exercised here.
#[cfg(all(test, target_arch = "x86_64", feature = "std"))]
fn ifma_or_skip(what: &str) -> Option<Ifma> {
    let found = Ifma::detect();
    if found.is_none() {
        std::eprintln!("no AVX-512 IFMA here (or ZKEDGE_NO_IFMA set): {what} not exercised");
    }
    found
}

/// Asserts that `f` panics with a message containing `expected`.
#[cfg(all(test, target_arch = "x86_64", feature = "std"))]
fn assert_refused(expected: &str, f: impl FnOnce() + std::panic::UnwindSafe) {
    let payload = std::panic::catch_unwind(f).expect_err("not refused");
    let message = payload
        .downcast_ref::<std::string::String>()
        .map(|s| s.as_str())
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("");
    assert!(message.contains(expected), "refused with {message:?}");
}
