//! Each rule kind at its boundary: fires on one side, stays quiet on the other.

use super::{Fixture, NOW, keys};
use crate::warning::Novelty;
use model::{Severity, VerdictClass};
use time::Duration;

const NEW_PHISHING: &str = r#"
[[rule]]
id = "young"
kind = "new-campaign"
severity = "medium"
classes = ["phishing"]
min_messages = 3
min_sources = 3
within = "1h"
"#;

#[test]
fn new_campaign_fires_at_min_messages_not_below() {
    let mut fx = Fixture::new(VerdictClass::Phishing);
    fx.campaign.messages = 2;
    assert!(fx.run(NEW_PHISHING).is_empty(), "2 of 3 messages");
    fx.campaign.messages = 3;
    let alerts = fx.run(NEW_PHISHING);
    assert_eq!(keys(&alerts), ["young/42"]);
    let a = &alerts[0];
    assert_eq!(a.severity, Severity::Medium);
    assert_eq!(a.campaign, Some(42));
    assert_eq!(a.campaign_uuid, Some(uuid::Uuid::from_u128(0x42)));
    assert!(a.id.is_nil());
    assert_eq!((a.triggered_at, a.created_at), (NOW, NOW));
    assert_eq!(
        a.title,
        "New phishing campaign #42: 3 messages from 1 source in 4 min"
    );
    let hex = fx.features.message_id.to_hex();
    assert!(
        a.evidence
            .iter()
            .all(|e| e.message.as_deref() == Some(hex.as_str()))
    );
    assert!(a.evidence.iter().any(|e| e.what == "messages"));
    assert!(a.summary.contains(&hex), "the summary names the message");
}

#[test]
fn new_campaign_fires_on_distinct_sources_alone() {
    let mut fx = Fixture::new(VerdictClass::Phishing);
    fx.campaign.messages = 1;
    fx.campaign.distinct.insert("source_ip".to_string(), 2);
    assert!(fx.run(NEW_PHISHING).is_empty(), "2 of 3 sources");
    fx.campaign.distinct.insert("source_ip".to_string(), 3);
    let alerts = fx.run(NEW_PHISHING);
    assert_eq!(keys(&alerts), ["young/42"]);
    assert!(alerts[0].evidence.iter().any(|e| e.what == "sources"));
}

#[test]
fn new_campaign_window_and_class() {
    let mut fx = Fixture::new(VerdictClass::Phishing);
    fx.campaign.first_seen = NOW - Duration::hours(1);
    assert_eq!(fx.run(NEW_PHISHING).len(), 1, "exactly at the window");
    fx.campaign.first_seen = NOW - Duration::hours(1) - Duration::seconds(1);
    assert!(fx.run(NEW_PHISHING).is_empty(), "one second too old");
    fx.campaign.first_seen = NOW;
    fx.campaign.verdict = VerdictClass::Spam;
    assert!(fx.run(NEW_PHISHING).is_empty(), "spam is not watched");
}

#[test]
fn dedup_key_is_stable_across_later_messages() {
    let mut fx = Fixture::new(VerdictClass::Phishing);
    let first = fx.run(NEW_PHISHING);
    fx.features.message_id = model::MessageId::of(b"a later message");
    fx.campaign.messages = 7;
    fx.now = NOW + Duration::minutes(10);
    let later = fx.run(NEW_PHISHING);
    assert_eq!(keys(&first), keys(&later));
    assert_ne!(
        first[0].title, later[0].title,
        "the alert itself reflects the update"
    );
}

#[test]
fn disabled_rule_is_skipped() {
    let fx = Fixture::new(VerdictClass::Phishing);
    let off = NEW_PHISHING.replace(
        "severity = \"medium\"",
        "severity = \"medium\"\nenabled = false",
    );
    assert!(fx.run(&off).is_empty());
}

const NOVEL: &str = r#"
[[rule]]
id = "novel-kind"
kind = "novel"
severity = "medium"
facets = ["attachment_kind"]
"#;

#[test]
fn novel_fires_per_watched_facet_value_only() {
    let mut fx = Fixture::new(VerdictClass::Malware);
    fx.novel = vec![Novelty {
        facet: "lure".to_string(),
        value: "lure.invoice".to_string(),
    }];
    assert!(fx.run(NOVEL).is_empty(), "lure is not a watched facet");
    fx.novel.push(Novelty {
        facet: "attachment_kind".to_string(),
        value: "onenote".to_string(),
    });
    fx.novel.push(Novelty {
        facet: "attachment_kind".to_string(),
        value: "onenote".to_string(),
    });
    let alerts = fx.run(NOVEL);
    assert_eq!(
        keys(&alerts),
        ["novel-kind/attachment_kind/onenote"],
        "repeats fold"
    );
    assert!(
        alerts[0].title.contains("\"onenote\""),
        "{}",
        alerts[0].title
    );
}

#[test]
fn novel_respects_class_filter() {
    let mut fx = Fixture::new(VerdictClass::Spam);
    fx.novel = vec![Novelty {
        facet: "lure".to_string(),
        value: "lure.prize".to_string(),
    }];
    let rule = "[[rule]]\nid = \"l\"\nkind = \"novel\"\nseverity = \"low\"\nfacets = [\"lure\"]\nclasses = [\"phishing\"]\n";
    assert!(fx.run(rule).is_empty());
    fx.campaign.verdict = VerdictClass::Phishing;
    assert_eq!(fx.run(rule).len(), 1);
}

#[test]
fn yara_rule_globs_and_families() {
    let mut fx = Fixture::new(VerdictClass::Malware);
    let rule = "[[rule]]\nid = \"y\"\nkind = \"yara\"\nseverity = \"high\"\nrules = [\"emotet_*\", \"Qbot?\"]\n";
    fx.features.yara = vec!["Generic_Macro".to_string()];
    assert!(fx.run(rule).is_empty(), "no glob matches");
    fx.features.yara = vec![
        "Emotet_Loader".to_string(),
        "QbotX".to_string(),
        "Qbot".to_string(),
    ];
    assert_eq!(fx.run(rule).len(), 2);
    assert_eq!(keys(&fx.run(rule)), ["y/42/Emotet_Loader", "y/42/QbotX"]);
    fx.features.families = vec!["qakbot".to_string()];
    assert_eq!(fx.run(rule).len(), 2, "families off");
    let fam = "[[rule]]\nid = \"f\"\nkind = \"yara\"\nseverity = \"high\"\nfamilies = true\n";
    assert_eq!(keys(&fx.run(fam)), ["f/42/family:qakbot"]);
}

#[test]
fn alerts_per_rule_are_bounded() {
    let mut fx = Fixture::new(VerdictClass::Malware);
    fx.features.yara = (0..300).map(|i| format!("rule_{i}")).collect();
    let all = "[[rule]]\nid = \"y\"\nkind = \"yara\"\nseverity = \"high\"\nrules = [\"*\"]\n";
    assert_eq!(fx.run(all).len(), crate::warning::MAX_ALERTS_PER_RULE);
}

#[test]
fn known_alerts_are_left_out_and_still_count_against_the_bound() {
    let mut fx = Fixture::new(VerdictClass::Malware);
    fx.features.yara = (0..30).map(|i| format!("rule_{i}")).collect();
    let all = "[[rule]]\nid = \"y\"\nkind = \"yara\"\nseverity = \"high\"\nrules = [\"*\"]\n";
    let rules = super::parse(all);
    let alerts = crate::warning::evaluate(&rules, &fx.situation());
    let every = keys(&alerts);
    assert_eq!(every.len(), crate::warning::MAX_ALERTS_PER_RULE);
    let known: Vec<String> = every.iter().step_by(2).map(|k| k.to_string()).collect();
    let rest =
        crate::warning::evaluate_unless(&rules, &fx.situation(), |k| known.iter().any(|x| x == k));
    let expected: Vec<&str> = every.iter().skip(1).step_by(2).copied().collect();
    assert_eq!(
        keys(&rest),
        expected,
        "the others, in order, none past the bound"
    );
}

const WATCH: &str = r#"
[[rule]]
id = "banks"
kind = "watch"
severity = "high"
brands = ["ING", "ABN AMRO"]
domains = ["rabobank.nl"]
classes = ["phishing"]
"#;

#[test]
fn watch_brand_is_a_whole_word() {
    let mut fx = Fixture::new(VerdictClass::Phishing);
    fx.features.subject_template = Some("Booking confirmation 0000".to_string());
    fx.features.subject = Some("Booking confirmation 1234".to_string());
    assert!(fx.run(WATCH).is_empty(), "ing inside booking is no match");
    fx.features.subject = None;
    fx.features.subject_template = Some("Uw ING-rekening is geblokkeerd".to_string());
    let alerts = fx.run(WATCH);
    assert_eq!(keys(&alerts), ["banks/42"]);
    assert_eq!(
        alerts[0].title,
        "Watched brand \"ING\" in phishing campaign #42"
    );
    assert!(alerts[0].evidence.iter().any(|e| e.what == "watched-brand"));
}

#[test]
fn watch_looks_at_subject_and_from() {
    let mut fx = Fixture::new(VerdictClass::Phishing);
    fx.features.subject_template = None;
    fx.features.subject = Some("Uw ING pas verloopt".to_string());
    assert_eq!(fx.run(WATCH).len(), 1, "raw subject");
    fx.features.subject = None;
    fx.features.from = Some("\"ING Klantenservice\" <noreply@mailer.example>".to_string());
    assert_eq!(fx.run(WATCH).len(), 1, "From display name");
    fx.features.from = Some("Klantenservice <noreply@veilig.rabobank.nl>".to_string());
    let alerts = fx.run(WATCH);
    assert_eq!(alerts.len(), 1, "From domain under a watched domain");
    assert!(
        alerts[0]
            .evidence
            .iter()
            .any(|e| e.detail.contains("From domain"))
    );
    fx.features.from = Some("Klantenservice <noreply@mailer.example>".to_string());
    assert!(fx.run(WATCH).is_empty());
}

#[test]
fn watch_brand_with_blank_matches_joined_spellings_in_domains() {
    let mut fx = Fixture::new(VerdictClass::Phishing);
    fx.features.domains = vec!["abn-amro-veilig.example".to_string()];
    assert_eq!(fx.run(WATCH).len(), 1);
    fx.features.domains = vec!["abnamrobank.example".to_string()];
    assert!(
        fx.run(WATCH).is_empty(),
        "abnamrobank is not the whole word"
    );
}

#[test]
fn watch_domain_equal_or_subdomain_only() {
    let mut fx = Fixture::new(VerdictClass::Phishing);
    fx.features.url_templates = vec!["secure.rabobank.nl.evil.example/x/0".to_string()];
    fx.features.sender_domain = Some("notrabobank.nl".to_string());
    assert!(
        fx.run(WATCH).is_empty(),
        "lookalike hosts are not the domain"
    );
    fx.features.sender_domain = Some("Mail.Rabobank.NL".to_string());
    let alerts = fx.run(WATCH);
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0].title.contains("\"rabobank.nl\""),
        "{}",
        alerts[0].title
    );
    fx.campaign.verdict = VerdictClass::Spam;
    assert!(fx.run(WATCH).is_empty(), "class filter");
}

#[test]
fn indicators_message_first_bounded_and_checked() {
    let mut fx = Fixture::new(VerdictClass::Phishing);
    fx.facet("source_ip", &["192.0.2.7", "not-an-ip", "2001:db8::1"]);
    let many: Vec<String> = (0..200).map(|i| format!("d{i}.example")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    fx.facet("domain", &refs);
    fx.facet(
        "url",
        &["https://login.evil.example/inv/1", "https://bad url"],
    );
    let alerts = fx.run(NEW_PHISHING);
    let ind = &alerts[0].indicators;
    assert_eq!(ind.len(), crate::warning::MAX_INDICATORS);
    assert_eq!(
        (ind[0].value.as_str(), ind[0].at.as_str()),
        ("192.0.2.7", "message")
    );
    assert!(
        ind.iter()
            .any(|i| i.value == "https://login.evil.example/inv/1" && i.at == "url")
    );
    assert!(
        !ind.iter()
            .any(|i| i.value == "not-an-ip" || i.value.contains(' '))
    );
    assert_eq!(ind.iter().filter(|i| i.value == "192.0.2.7").count(), 1);
}

#[test]
fn defaults_raise_critical_for_two_ransomware_messages() {
    let mut fx = Fixture::new(VerdictClass::RansomwareDelivery);
    fx.campaign.messages = 1;
    let rules = crate::warning::Rules::defaults();
    let quiet = crate::warning::evaluate(&rules, &fx.situation());
    assert!(quiet.is_empty(), "{quiet:?}");
    fx.campaign.messages = 2;
    let alerts = crate::warning::evaluate(&rules, &fx.situation());
    assert_eq!(keys(&alerts), ["new-ransomware-campaign/42"]);
    assert_eq!(alerts[0].severity, Severity::Critical);
}

#[test]
fn shipped_dutch_banks_watch_works_once_enabled() {
    let mut fx = Fixture::new(VerdictClass::Phishing);
    fx.campaign.messages = 1;
    fx.features.subject = Some("DigiD: uw account verloopt".to_string());
    let text = crate::warning::Rules::defaults_text();
    assert!(fx.run(text).is_empty(), "shipped disabled");
    let on = text.replace("enabled = false\n", "");
    assert_eq!(keys(&fx.run(&on)), ["watch-dutch-banks/42"]);
}
