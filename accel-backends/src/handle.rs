//! [`BasesHandle`]: a set of loaded bases, branded by the backend that loaded it.

use core::{
    fmt,
    sync::atomic::{AtomicU32, Ordering},
};

/// Refers to a set of bases loaded into one backend, and only that one.
///
/// A handle carries the brand of the [`Checked`](crate::Checked) front that issued it: given to
/// any other backend it is [`BackendError::UnknownBases`](crate::BackendError::UnknownBases),
/// never another set of bases that happens to have the same number there. Handles cannot be
/// made from numbers except [`detached`](Self::detached) ones, which no backend accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BasesHandle {
    brand: u32,
    id: u32,
}

impl BasesHandle {
    /// The brand no backend has.
    const DETACHED: u32 = 0;

    pub(crate) const fn new(brand: Brand, id: u32) -> Self {
        Self { brand: brand.0, id }
    }

    /// A handle that names the set `id` of no backend, for reporting a number that came from
    /// elsewhere (a wire message, a log). Every backend answers it with `UnknownBases`.
    pub const fn detached(id: u32) -> Self {
        Self {
            brand: Self::DETACHED,
            id,
        }
    }

    /// The backend's own number for the set: what its hooks and the wire protocol use.
    pub const fn id(self) -> u32 {
        self.id
    }

    /// Whether this backend (by its brand) issued the handle.
    pub(crate) fn is_of(self, brand: Brand) -> bool {
        self.brand == brand.0 && brand.0 != Self::DETACHED
    }
}

impl fmt::Display for BasesHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.brand == Self::DETACHED {
            write!(f, "#{}", self.id)
        } else {
            write!(f, "#{} of backend {}", self.id, self.brand)
        }
    }
}

/// The identity of one [`Checked`](crate::Checked) front, unique in the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Brand(u32);

/// The next brand to give out; 0 is [`BasesHandle::detached`]'s.
static NEXT_BRAND: AtomicU32 = AtomicU32::new(1);

impl Brand {
    /// A brand no other front of this process has. After 2^32 − 1 fronts the counter would
    /// wrap; it skips 0 so a wrapped brand is never the detached one.
    pub(crate) fn fresh() -> Self {
        loop {
            let b = NEXT_BRAND.fetch_add(1, Ordering::Relaxed);
            if b != BasesHandle::DETACHED {
                return Self(b);
            }
        }
    }
}
