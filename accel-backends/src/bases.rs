//! [`LoadedBases`]: the bases sets a backend holds in host memory, by handle.

use alloc::{collections::BTreeMap, vec::Vec};

use crate::{BackendError, BasesHandle, G1Affine};

/// Bases sets by id, for backends that keep them in host memory (the CPU backend, the
/// simulator). Ids are never reused, so a stale handle cannot alias a newer set.
#[derive(Default)]
pub struct LoadedBases {
    sets: BTreeMap<u32, Vec<G1Affine>>,
    next: u32,
    max_sets: Option<u32>,
}

impl LoadedBases {
    /// A store with no limit on how many sets it holds but memory.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store that refuses a set beyond `max_sets` held at once.
    pub fn with_max_sets(max_sets: u32) -> Self {
        Self {
            max_sets: Some(max_sets),
            ..Self::default()
        }
    }

    /// Copies `bases` in and returns the new set's id; a failed allocation is an error, not an
    /// abort.
    pub fn load(&mut self, bases: &[G1Affine]) -> Result<u32, BackendError> {
        let max = self.max_sets.unwrap_or(u32::MAX);
        if self.sets.len() >= max as usize {
            return Err(BackendError::NoBasesSlot { max });
        }
        let raw = self.next;
        self.next = raw
            .checked_add(1)
            .ok_or(BackendError::NoBasesSlot { max })?;
        let mut copy = Vec::new();
        copy.try_reserve_exact(bases.len())
            .map_err(|_| BackendError::OutOfMemory {
                elements: bases.len(),
            })?;
        copy.extend_from_slice(bases);
        self.sets.insert(raw, copy);
        Ok(raw)
    }

    /// How many points the set `id` holds.
    pub fn len_of(&self, id: u32) -> Option<usize> {
        self.sets.get(&id).map(Vec::len)
    }

    /// All points of the set `id`.
    pub fn get(&self, id: u32) -> Option<&[G1Affine]> {
        self.sets.get(&id).map(Vec::as_slice)
    }

    /// `len` points of the set behind `handle` (by its id) from `start`.
    pub fn range(
        &self,
        handle: BasesHandle,
        start: usize,
        len: usize,
    ) -> Result<&[G1Affine], BackendError> {
        let set = self
            .sets
            .get(&handle.id())
            .ok_or(BackendError::UnknownBases(handle))?;
        let end = start.saturating_add(len);
        set.get(start..end).ok_or(BackendError::BasesOutOfRange {
            handle,
            start,
            end,
            loaded: set.len(),
        })
    }

    /// Frees the set `id`.
    pub fn release(&mut self, id: u32) -> Result<(), BackendError> {
        self.sets
            .remove(&id)
            .map(drop)
            .ok_or(BackendError::UnknownBases(BasesHandle::detached(id)))
    }
}
