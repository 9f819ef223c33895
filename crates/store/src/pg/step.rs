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
//! - **postings**: for each key the candidate lookup read, every campaign the key index holds
//!   for it, kept current as the step posts keys. A later message whose keys are all known
//!   needs no lookup at all (a campaign's messages share most keys), and a known posting
//!   needs no insert. Only steps post keys, so nothing else changes a posting meanwhile. A
//!   merge moves postings, so it forgets them.
//! - **facet values** it knows are stored (a facet write returned them), with their counts:
//!   a message whose values are all known only adds to the counts in memory, written once
//!   at commit (or before a merge) by `facets::write`. Only steps write facets.
//! - **campaign records** it read (`campaigns::campaign`, after every message, for the alert
//!   rules), as stored, kept current by the facet writes, which return the rows they changed:
//!   one read per campaign per step instead of one per message. Only steps write facets. The
//!   analyst's label and notes are as of the first read; the next step sees a later change.
//! - **the trap's hourly counts** (campaign 0), read once and advanced by each assign.
//! - **what the step's assigns did**: which report went to which campaign, and what each adds
//!   to its campaign (messages, first and last seen, the most severe verdict, the hourly rate,
//!   the trap's too): [`Counts`]. Both are written once, when the step commits (or before a
//!   merge). Writing them with every assign made each message update its campaign's row, and
//!   `campaigns` indexes `last_seen` and `changed_at`, so no such update is HOT: a campaign
//!   taking thousands of messages left thousands of dead row versions that every read of it
//!   walked (`docs/PERFORMANCE.md`, "the campaign row is a hot row"). And those writes need the
//!   feeds' clock, which report saves wait for: the step now holds it only for its last
//!   statements. The record the step reads back (`campaigns::campaign`) adds the counts in.
//!
//! What is remembered is exact, not a guess: each entry is either what the database returned
//! inside this transaction or what this transaction wrote, and it dies with the transaction.

use super::prepared::Tx;
use crate::campaigns::{more_severe, status};
use crate::error::Result;
use crate::query::from_nanos;
use crate::{Timestamp, unix_nanos};
use model::campaign::{CampaignId, CampaignProfile};
use model::{Campaign, VerdictClass};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A clustering step's transaction: the connection's prepared statements plus the step's
/// memory. Dereferences to the transaction, so statements run on it directly.
pub(crate) struct Step<'a> {
    tx: Tx<'a>,
    /// Profiles known in this step; `None`: not a live campaign.
    pub(crate) profiles: HashMap<CampaignId, Option<CampaignProfile>>,
    /// Profiles set in this step and not yet written.
    pub(crate) dirty: BTreeSet<CampaignId>,
    /// Keys whose whole posting the step knows: the campaigns the key index holds for each.
    /// More than `MAX_POSTING` campaigns: the posting is full (read up to one past it).
    pub(crate) postings: HashMap<i64, Vec<CampaignId>>,
    /// Facet values the step knows are stored, by `(campaign, facet, value)`: as they are
    /// now, with what [`Step::facets_unwritten`] adds.
    pub(crate) facets_known: HashMap<(CampaignId, String, String), Tally>,
    /// What the step's assigns added to stored facet values, not yet written.
    pub(crate) facets_unwritten: HashMap<(CampaignId, String, String), Tally>,
    /// Campaign records read in this step, as stored (without [`Step::counts`]), with the
    /// first rate hour (unix s) each shows; the facet writes keep them current. A write of
    /// the counts, or a merge, makes the stored rows differ, and clears them.
    pub(crate) records: HashMap<CampaignId, (i64, Campaign)>,
    /// The trap's messages per hour (campaign 0) from the first hour (unix s) on.
    pub(crate) trap: Option<(i64, BTreeMap<i64, i64>)>,
    /// `(report seq, campaign)` of this step's assigns, in order, not yet written.
    pub(crate) assigned: Vec<(i64, CampaignId)>,
    /// What this step's assigns add to each campaign, not yet written.
    pub(crate) counts: BTreeMap<CampaignId, Counts>,
    /// The trap's messages per hour (unix s) added by this step's assigns, not yet written.
    pub(crate) trap_added: BTreeMap<i64, i64>,
}

/// How often a facet value was seen, and when first and last (unix nanoseconds).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tally {
    pub(crate) count: i64,
    pub(crate) first: i64,
    pub(crate) last: i64,
}

impl Tally {
    /// Adds `more` (later sightings of the same value).
    pub(crate) fn add(&mut self, more: Tally) {
        self.count = self.count.saturating_add(more.count);
        self.first = self.first.min(more.first);
        self.last = self.last.max(more.last);
    }
}

/// What a step's assigns add to one campaign's row and hourly rate.
#[derive(Debug, Clone)]
pub(crate) struct Counts {
    pub(crate) messages: i64,
    /// Unix nanoseconds.
    pub(crate) first_seen: i64,
    pub(crate) last_seen: i64,
    /// The most severe class assigned.
    pub(crate) verdict: VerdictClass,
    /// Messages per hour (unix s).
    pub(crate) hours: BTreeMap<i64, i64>,
}

impl Counts {
    /// The counts of one message received at `at` (unix nanoseconds, hour `hour`).
    pub(crate) fn one(at: i64, hour: i64, class: VerdictClass) -> Counts {
        Counts {
            messages: 1,
            first_seen: at,
            last_seen: at,
            verdict: class,
            hours: BTreeMap::from([(hour, 1)]),
        }
    }

    /// Adds `more` (a later assign) to these counts.
    pub(crate) fn add(&mut self, more: Counts) {
        self.messages += more.messages;
        self.first_seen = self.first_seen.min(more.first_seen);
        self.last_seen = self.last_seen.max(more.last_seen);
        self.verdict = more_severe(self.verdict, more.verdict);
        for (hour, n) in more.hours {
            *self.hours.entry(hour).or_default() += n;
        }
    }

    /// `c` as it will be once these counts are written: what the row update and the rate
    /// upsert at commit do to the stored record. `rate_from` is the first hour (unix s) the
    /// record shows.
    pub(crate) fn apply(&self, c: &mut Campaign, now: Timestamp, rate_from: i64) -> Result<()> {
        c.messages += u64::try_from(self.messages).unwrap_or(0);
        c.first_seen = c.first_seen.min(from_nanos(self.first_seen)?);
        c.last_seen = c.last_seen.max(from_nanos(self.last_seen)?);
        c.verdict = more_severe(c.verdict, self.verdict);
        c.status = status(c.first_seen, c.last_seen, c.merged_into.is_some(), now);
        let mut hours: BTreeMap<i64, i64> = BTreeMap::new();
        for p in &c.rate {
            let hour = unix_nanos(p.hour) / 1_000_000_000;
            *hours.entry(hour).or_default() += i64::try_from(p.messages).unwrap_or(i64::MAX);
        }
        for (hour, n) in self.hours.range(rate_from..) {
            *hours.entry(*hour).or_default() += n;
        }
        c.rate = hours
            .into_iter()
            .map(|(hour, n)| super::campaign_read::rate_point(hour, n))
            .collect::<Result<_>>()?;
        Ok(())
    }
}

impl<'a> Step<'a> {
    pub(crate) fn new(tx: Tx<'a>) -> Step<'a> {
        Step {
            tx,
            profiles: HashMap::new(),
            dirty: BTreeSet::new(),
            postings: HashMap::new(),
            records: HashMap::new(),
            facets_known: HashMap::new(),
            facets_unwritten: HashMap::new(),
            trap: None,
            assigned: Vec::new(),
            counts: BTreeMap::new(),
            trap_added: BTreeMap::new(),
        }
    }

    /// Writes the assigns, counts and profiles of this step, then commits.
    pub(crate) fn commit(mut self) -> Result<()> {
        super::facets::write(&mut self)?;
        super::campaigns::write_assigns(&mut self)?;
        super::campaigns::write_counts(&mut self)?;
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
