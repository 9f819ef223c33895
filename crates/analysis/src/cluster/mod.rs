//! Online campaign clustering: assigns each analysed message to a campaign or starts one.
//!
//! Pure and deterministic: no I/O, no clock, no randomness. The store owns the campaign index
//! and calls, per message: [`features`] (the compact view of the message), [`keys`] (look-ups
//! in its inverted index give up to 16 candidate campaigns), [`decide`] (new, join or merge),
//! then [`new_profile`] / [`absorb`] / [`merge_profiles`] and re-indexes with [`keys`] or
//! [`profile_keys`]. The algorithm, weights and thresholds are explained in
//! `docs/CAMPAIGNS.md`.
//!
//! Layout: `minhash.rs` (sketches and the fixed hashes), `template.rs` (folding what varies),
//! `features.rs`, `keys.rs` (LSH bands and exact keys), `profile.rs` (bounded summaries),
//! `score.rs` (weighted signals), this file (the decision).

mod features;
mod keys;
mod minhash;
mod profile;
mod score;
mod template;
#[cfg(test)]
mod tests;

pub use features::{
    MAX_ATTACHMENTS, MAX_BODIES, MAX_TAGS, MAX_TRAP_DOMAINS, MAX_URLS, MAX_VALUE_CHARS, features,
};
pub use keys::{LSH_BANDS, LSH_ROWS, keys, profile_keys};
pub use minhash::{MAX_WORDS, MIN_SHINGLES, MINHASH_SIZE, from_hex, minhash, similarity, to_hex};
pub use profile::{
    MAX_EXEMPLARS, MAX_HASHES, MAX_TLSH, MAX_VALUES, absorb, merge_profiles, new_profile,
};
pub use score::{Score, score};

use model::{CampaignId, CampaignProfile, Features};

/// Where a message goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// No candidate scored at the join threshold: start a campaign.
    New,
    /// Join `campaign`.
    Join { campaign: CampaignId, score: Score },
    /// The message matched several campaigns: fold `from` (ascending ids) into `into` (the
    /// oldest, lowest id) and join `into`. `score` is the best candidate's.
    Merge {
        into: CampaignId,
        from: Vec<CampaignId>,
        score: Score,
    },
}

/// The decision thresholds.
#[derive(Debug, Clone, PartialEq)]
pub struct Thresholds {
    /// Score at which a message joins a campaign. 1.0 is one template-identifying content
    /// signal or two medium ones together (see the weights in `score.rs`).
    pub join: f64,
    /// Score at which a second (third...) matching campaign is merged into the best one. Set
    /// above `join`: a merge is permanent and folds two whole campaigns, so it takes clearer
    /// evidence than adding one message; a message between `join` and `merge` for a second
    /// campaign just joins the best one.
    pub merge: f64,
    /// Candidates scored at most (the store sends the ones with most key hits first); bounds
    /// the cost of one decision.
    pub max_candidates: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            join: 1.0,
            merge: 1.3,
            max_candidates: 16,
        }
    }
}

/// Decides where the message with features `f` goes among `candidates`: join the best-scoring
/// candidate at or above `t.join` (ties to the lowest id); when others also reach `t.merge`,
/// merge them all into the lowest id among them. Only the first `t.max_candidates` are scored.
pub fn decide(
    f: &Features,
    candidates: &[(CampaignId, &CampaignProfile)],
    t: &Thresholds,
) -> Decision {
    let mut scored: Vec<(CampaignId, Score)> = candidates
        .iter()
        .take(t.max_candidates)
        .map(|(id, p)| (*id, score(f, p)))
        .filter(|(_, s)| s.total.is_finite() && s.total >= t.join)
        .collect();
    // Best first; equal scores by lowest id, so the outcome never depends on input order.
    scored.sort_by(|a, b| b.1.total.total_cmp(&a.1.total).then(a.0.cmp(&b.0)));
    let mut seen = std::collections::HashSet::new();
    scored.retain(|(id, _)| seen.insert(*id));
    let Some((best_id, best)) = scored.first().cloned() else {
        return Decision::New;
    };
    let merge_threshold = t.merge.max(t.join);
    let mut group: Vec<CampaignId> = scored
        .iter()
        .filter(|(id, s)| *id == best_id || s.total >= merge_threshold)
        .map(|(id, _)| *id)
        .collect();
    if group.len() < 2 {
        return Decision::Join {
            campaign: best_id,
            score: best,
        };
    }
    group.sort_unstable();
    match group.split_first() {
        Some((into, from)) => Decision::Merge {
            into: *into,
            from: from.to_vec(),
            score: best,
        },
        None => Decision::New,
    }
}
