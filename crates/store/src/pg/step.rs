//! The clustering step's transaction on PostgreSQL, and what the step has learnt so far.
//!
//! A step places up to 64 messages one after another, and on a typical stream most of them
//! join the same few campaigns: each message would read the same profile, write it back,
//! re-post keys the index already holds and re-read the trap's hourly rate. Every one of those
//! statements is a network round trip, and the step is serial, so round trips were its cost
//! (`docs/PERFORMANCE.md`). The step therefore remembers, for its own duration only:
//!
//! - **profiles** it read or set. A set profile is written once, when the step commits (or
//!   before a merge), not once per message. Nothing else writes profiles meanwhile: every
//!   profile write happens in a step, and steps hold `LOCK_CLUSTER` (`campaigns.rs`).
//! - **postings** the candidate lookup saw: a `(key, campaign)` pair already in the index, or a
//!   key whose posting is full, needs no insert. A merge moves postings, so it forgets them.
//! - **the trap's hourly counts** (campaign 0), read once and advanced by each assign.
//!
//! What is remembered is exact, not a guess: each entry is either what the database returned
//! inside this transaction or what this transaction wrote, and it dies with the transaction.

use super::prepared::Tx;
use crate::error::Result;
use model::campaign::{CampaignId, CampaignProfile};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// A clustering step's transaction: the connection's prepared statements plus the step's
/// memory. Dereferences to the transaction, so statements run on it directly.
pub(crate) struct Step<'a> {
    tx: Tx<'a>,
    /// Profiles known in this step; `None`: not a live campaign.
    pub(crate) profiles: HashMap<CampaignId, Option<CampaignProfile>>,
    /// Profiles set in this step and not yet written.
    pub(crate) dirty: BTreeSet<CampaignId>,
    /// `(key, campaign)` pairs the key index holds.
    pub(crate) posted: HashSet<(i64, CampaignId)>,
    /// Keys whose posting is full (more than `MAX_POSTING` campaigns): never posted to.
    pub(crate) full: HashSet<i64>,
    /// The trap's messages per hour (campaign 0) from the first hour (unix s) on.
    pub(crate) trap: Option<(i64, BTreeMap<i64, i64>)>,
}

impl<'a> Step<'a> {
    pub(crate) fn new(tx: Tx<'a>) -> Step<'a> {
        Step {
            tx,
            profiles: HashMap::new(),
            dirty: BTreeSet::new(),
            posted: HashSet::new(),
            full: HashSet::new(),
            trap: None,
        }
    }

    /// Writes the profiles set in this step, then commits.
    pub(crate) fn commit(mut self) -> Result<()> {
        super::campaigns::write_profiles(&mut self)?;
        self.tx.commit()
    }

    /// The transaction, for code written over [`super::prepared::Statements`].
    pub(crate) fn tx(&mut self) -> &mut Tx<'a> {
        &mut self.tx
    }
}

impl<'a> std::ops::Deref for Step<'a> {
    type Target = Tx<'a>;
    fn deref(&self) -> &Tx<'a> {
        &self.tx
    }
}

impl std::ops::DerefMut for Step<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}
