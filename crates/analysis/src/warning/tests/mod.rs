//! Tests of the early-warning rules: a fixture situation that each test bends to one rule's
//! boundary.

mod hostile;
mod kinds;
mod parse;
mod spike;

use super::{Novelty, Rules, Situation, evaluate};
use model::campaign::{FacetValue, RatePoint};
use model::{Alert, Campaign, CampaignStatus, Features, MessageId, Timestamp, VerdictClass};
use time::macros::datetime;

/// Arrival of the triggering message.
const NOW: Timestamp = datetime!(2026-12-04 22:30:00 UTC);

/// A message, its campaign and the trap's state, owned so a test can change any of it.
struct Fixture {
    now: Timestamp,
    features: Features,
    campaign: Campaign,
    novel: Vec<Novelty>,
    trap_rate: Vec<RatePoint>,
}

impl Fixture {
    fn new(class: VerdictClass) -> Fixture {
        let features = Features {
            message_id: MessageId::of(b"the triggering message"),
            sighting: uuid::Uuid::from_u128(1),
            received_at: NOW,
            class,
            body_sha256: Vec::new(),
            body_minhash: Vec::new(),
            body_tlsh: Vec::new(),
            subject_template: Some("Your invoice 0000 is ready".to_string()),
            attachments: Vec::new(),
            domains: vec!["evil.example".to_string()],
            url_templates: vec!["login.evil.example/inv/0/view".to_string()],
            helo_pattern: None,
            x_mailer: None,
            sender_domain: Some("sender.example".to_string()),
            source_ip: Some("192.0.2.7".to_string()),
            source_net: Some("192.0.2.0/24".to_string()),
            helo: None,
            trap_domains: vec!["trap.example".to_string()],
            sensor: "mx1".to_string(),
            language: Some("en".to_string()),
            lures: vec!["lure.invoice".to_string()],
            yara: Vec::new(),
            families: Vec::new(),
            subject: Some("Your invoice 12345 is ready".to_string()),
            from: Some("Billing <billing@sender.example>".to_string()),
        };
        let campaign = Campaign {
            id: 42,
            uuid: uuid::Uuid::from_u128(0x42),
            first_seen: NOW - time::Duration::minutes(4),
            last_seen: NOW,
            messages: 3,
            status: CampaignStatus::New,
            verdict: class,
            label: String::new(),
            notes: String::new(),
            merged_into: None,
            facets: Default::default(),
            distinct: [("source_ip".to_string(), 1)].into_iter().collect(),
            rate: Vec::new(),
        };
        Fixture {
            now: NOW,
            features,
            campaign,
            novel: Vec::new(),
            trap_rate: Vec::new(),
        }
    }

    fn situation(&self) -> Situation<'_> {
        Situation {
            now: self.now,
            features: &self.features,
            campaign: &self.campaign,
            novel: &self.novel,
            trap_rate: &self.trap_rate,
        }
    }

    fn run(&self, rules: &str) -> Vec<Alert> {
        evaluate(&parse(rules), &self.situation())
    }

    fn facet(&mut self, facet: &str, values: &[&str]) {
        let list = values
            .iter()
            .map(|v| FacetValue {
                value: v.to_string(),
                count: 1,
                first_seen: NOW,
                last_seen: NOW,
            })
            .collect();
        self.campaign.facets.insert(facet.to_string(), list);
    }
}

fn parse(text: &str) -> Rules {
    match Rules::from_toml(text) {
        Ok(rules) => rules,
        Err(e) => panic!("test rules should parse: {e}"),
    }
}

fn keys(alerts: &[Alert]) -> Vec<&str> {
    alerts.iter().map(|a| a.dedup_key.as_str()).collect()
}
