//! Progress reports: the prover tells a [`Progress`] (a trait object, so `no_std` builds and the
//! firmware can take one too) which step of the proof it is starting, out of how many.

use super::Prepared;

/// A step of a proof, in the order the prover takes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Phase {
    /// Blinding and committing the advice columns.
    Advice,
    /// One lookup's compressed input and table, and their permutation (one step per lookup).
    LookupPermuted,
    /// The permutation argument's grand products.
    PermutationProducts,
    /// The lookups' grand products.
    LookupProducts,
    /// The vanishing argument's random polynomial.
    Vanishing,
    /// Every witness polynomial to coefficient form.
    Coefficients,
    /// The quotient on one coset: one step per group of constraints per coset.
    Quotient,
    /// The quotient's pieces, committed.
    QuotientCommit,
    /// Evaluations at the challenge `x`.
    Evaluations,
    /// The multi-opening argument.
    Opening,
    /// The proof is made.
    Done,
}

impl Phase {
    /// A short description for people.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Advice => "committing the witness",
            Phase::LookupPermuted => "permuting lookups",
            Phase::PermutationProducts => "permutation products",
            Phase::LookupProducts => "lookup products",
            Phase::Vanishing => "vanishing argument",
            Phase::Coefficients => "interpolating",
            Phase::Quotient => "quotient",
            Phase::QuotientCommit => "committing the quotient",
            Phase::Evaluations => "evaluations",
            Phase::Opening => "multi-opening",
            Phase::Done => "done",
        }
    }
}

/// Told of each step a proof starts. `done` steps of `total` are finished; the step starting
/// now belongs to `phase`. `total` is fixed for a proving key; the last report is
/// [`Phase::Done`] with `done == total`.
pub trait Progress {
    /// A step starts.
    fn report(&mut self, phase: Phase, done: u32, total: u32);
}

impl<F: FnMut(Phase, u32, u32)> Progress for F {
    fn report(&mut self, phase: Phase, done: u32, total: u32) {
        self(phase, done, total)
    }
}

/// Counts steps for a [`Progress`], if there is one.
pub(crate) struct Tracker<'a> {
    progress: Option<&'a mut dyn Progress>,
    done: u32,
    total: u32,
}

impl<'a> Tracker<'a> {
    pub(crate) fn new(progress: Option<&'a mut dyn Progress>, prep: &Prepared) -> Self {
        // One step per lookup and per quotient stage and coset, one for each other phase.
        let lookups = prep.key.lookups.len() as u32;
        let quotient = prep.plan.steps() as u32;
        Self {
            progress,
            done: 0,
            total: 8 + lookups + quotient,
        }
    }

    /// A step of `phase` starts.
    pub(crate) fn at(&mut self, phase: Phase) {
        if let Some(p) = self.progress.as_mut() {
            p.report(phase, self.done.min(self.total), self.total);
        }
        self.done += 1;
    }

    pub(crate) fn finish(&mut self) {
        self.done = self.total;
        if let Some(p) = self.progress.as_mut() {
            p.report(Phase::Done, self.total, self.total);
        }
    }
}
