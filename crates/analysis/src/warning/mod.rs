//! Early warning: data-driven rules (`rules/alerts.toml`, see `docs/ALERTS.md`) that look at a
//! message just assigned to a campaign and say which alerts it raises.
//!
//! Pure and stateless: [`evaluate`] sees one [`Situation`] (the message's features, the
//! campaign after the update, the facet values the trap had never seen, the trap's hourly
//! counts) and returns every alert whose condition holds *now*. The binary stores them with
//! `ON CONFLICT(dedup_key) DO NOTHING`, so an alert returned again for a later message is
//! dropped there; that is what makes "fires once per campaign" hold without state here.
//!
//! Layout: `rules.rs` (the rule set and its parser), `fields.rs` (reading one rule's fields),
//! `settings.rs` (each kind's settings), `duration.rs` (windows), one file per rule kind
//! (`new_campaign.rs`, `novel.rs`, `yara.rs`, `spike.rs`, `watch.rs`), `build.rs` (alert
//! assembly, indicators) and `text.rs` (bounded, single-line alert text and matching helpers).

mod build;
mod duration;
mod fields;
mod new_campaign;
mod novel;
mod rules;
mod settings;
mod spike;
mod text;
mod watch;
mod yara;

#[cfg(test)]
mod tests;

pub use build::{MAX_EVIDENCE, MAX_INDICATOR_CHARS, MAX_INDICATORS};
pub use duration::{MAX_DURATION, parse_duration};
pub use rules::{
    MAX_BASELINE_HOURS, MAX_BRAND_CHARS, MAX_RULE_ID_CHARS, MAX_SPIKE_FACTOR, Rule, Rules,
    RulesError,
};
pub use text::{MAX_SUMMARY_CHARS, MAX_TITLE_CHARS, MAX_TITLE_VALUE_CHARS};

use model::VerdictClass;
use rules::RuleKind;

/// Everything a rule may look at when a message has just been assigned to a campaign.
#[derive(Debug, Clone, Copy)]
pub struct Situation<'a> {
    /// Arrival of the triggering message (time to alert is measured from it).
    pub now: model::Timestamp,
    /// The message just assigned.
    pub features: &'a model::Features,
    /// The campaign after the update (facets, rate, distinct counts).
    pub campaign: &'a model::Campaign,
    /// Facet values this message brought that the trap had never seen.
    pub novel: &'a [Novelty],
    /// Trap-wide hourly counts, oldest first, including the current hour.
    pub trap_rate: &'a [model::campaign::RatePoint],
}

/// A facet value the trap had never seen before this message (`attachment_kind` = `lnk`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Novelty {
    pub facet: String,
    pub value: String,
}

/// Alerts one rule may raise for one message (a message matching 300 YARA rules, or bringing
/// many novel values, yields the first few; the rest fire on later messages if they recur).
pub const MAX_ALERTS_PER_RULE: usize = 20;

/// The alerts the enabled rules raise for this situation, in rule-file order. Ids are nil and
/// `created_at` is `s.now`: the binary assigns both when it stores them.
pub fn evaluate(rules: &Rules, s: &Situation<'_>) -> Vec<model::Alert> {
    evaluate_unless(rules, s, |_| false)
}

/// [`evaluate`] without the alerts whose dedup key `known` recognises (already stored): the
/// rules fire again for every later message of a campaign, and building an alert's title,
/// summary and indicators only to drop it was the clustering step's largest cost. Which
/// alerts come back is otherwise the same: the per-rule bound counts known keys too.
pub fn evaluate_unless(
    rules: &Rules,
    s: &Situation<'_>,
    known: impl Fn(&str) -> bool,
) -> Vec<model::Alert> {
    let mut alerts = Vec::new();
    for rule in rules.rules().iter().filter(|r| r.enabled) {
        let drafts = match &rule.kind {
            RuleKind::NewCampaign(k) => new_campaign::check(rule, k, s),
            RuleKind::Novel(k) => novel::check(rule, k, s),
            RuleKind::Yara(k) => yara::check(rule, k, s),
            RuleKind::Spike(k) => spike::check(rule, k, s),
            RuleKind::Watch(k) => watch::check(rule, k, s),
        };
        let mut keys: Vec<String> = Vec::new();
        for draft in drafts {
            if keys.len() == MAX_ALERTS_PER_RULE {
                break;
            }
            if !keys.contains(&draft.dedup_key) {
                keys.push(draft.dedup_key.clone());
                if !known(&draft.dedup_key) {
                    alerts.push(build::finish(rule, s, draft));
                }
            }
        }
    }
    alerts
}

/// An optional verdict filter: empty means any verdict. Rules judge the campaign's verdict
/// (the most severe of its messages), so a campaign is judged the same way by every rule.
fn class_allowed(classes: &[VerdictClass], s: &Situation<'_>) -> bool {
    classes.is_empty() || classes.contains(&s.campaign.verdict)
}
