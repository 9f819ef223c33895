//! Spike rules: this hour against the mean of the previous hours, with the floor of 1/hour.

use super::{Fixture, NOW, keys};
use model::VerdictClass;
use model::campaign::RatePoint;
use time::Duration;

const CAMPAIGN_SPIKE: &str = r#"
[[rule]]
id = "burst"
kind = "spike"
severity = "medium"
scope = "campaign"
factor = 5.0
min_messages = 20
baseline_hours = 24
"#;

/// The start of the hour `back` hours before the one holding `NOW`.
fn hour(back: i64) -> model::Timestamp {
    let start = NOW
        .replace_minute(0)
        .and_then(|t| t.replace_second(0))
        .expect("valid time");
    start - Duration::hours(back)
}

/// 24 previous hours of `per_hour` each, then `current` in this hour.
fn history(per_hour: u64, current: u64) -> Vec<RatePoint> {
    let mut rate: Vec<RatePoint> = (1..=24)
        .rev()
        .map(|back| RatePoint {
            hour: hour(back),
            messages: per_hour,
        })
        .collect();
    rate.push(RatePoint {
        hour: hour(0),
        messages: current,
    });
    rate
}

#[test]
fn campaign_spike_at_factor_times_mean() {
    let mut fx = Fixture::new(VerdictClass::Phishing);
    fx.campaign.rate = history(6, 29);
    assert!(fx.run(CAMPAIGN_SPIKE).is_empty(), "29 < 5 x 6");
    fx.campaign.rate = history(6, 30);
    let alerts = fx.run(CAMPAIGN_SPIKE);
    assert_eq!(keys(&alerts), ["burst/42/2026-12-04T22:00:00Z"]);
    assert_eq!(alerts[0].campaign, Some(42));
}

#[test]
fn spike_needs_min_messages() {
    let mut fx = Fixture::new(VerdictClass::Phishing);
    fx.campaign.rate = history(2, 19);
    assert!(fx.run(CAMPAIGN_SPIKE).is_empty(), "19 is 9.5x but below 20");
    fx.campaign.rate = history(2, 20);
    assert_eq!(fx.run(CAMPAIGN_SPIKE).len(), 1);
}

#[test]
fn mean_floor_of_one_per_hour_on_a_brand_new_history() {
    let rule = CAMPAIGN_SPIKE.replace("min_messages = 20", "min_messages = 1");
    let mut fx = Fixture::new(VerdictClass::Phishing);
    fx.campaign.rate = vec![RatePoint {
        hour: hour(0),
        messages: 4,
    }];
    assert!(fx.run(&rule).is_empty(), "4 < 5 x floor 1");
    fx.campaign.rate[0].messages = 5;
    assert_eq!(fx.run(&rule).len(), 1);
}

#[test]
fn hours_outside_the_baseline_do_not_count() {
    let mut fx = Fixture::new(VerdictClass::Phishing);
    fx.campaign.rate = history(0, 20);
    fx.campaign.rate.insert(
        0,
        RatePoint {
            hour: hour(25),
            messages: 10_000,
        },
    );
    assert_eq!(
        fx.run(CAMPAIGN_SPIKE).len(),
        1,
        "25 hours ago is outside 24"
    );
    fx.campaign.rate.insert(
        1,
        RatePoint {
            hour: hour(24),
            messages: 10_000,
        },
    );
    assert!(fx.run(CAMPAIGN_SPIKE).is_empty(), "24 hours ago is inside");
}

#[test]
fn trap_spike_is_not_about_the_campaign() {
    let rule = CAMPAIGN_SPIKE
        .replace("scope = \"campaign\"", "scope = \"trap\"")
        .replace("factor = 5.0", "factor = 10");
    let mut fx = Fixture::new(VerdictClass::Spam);
    fx.campaign.rate = history(0, 500);
    fx.trap_rate = history(10, 99);
    assert!(
        fx.run(&rule).is_empty(),
        "99 < 10 x 10; the campaign's own rate is ignored"
    );
    fx.trap_rate = history(10, 100);
    let alerts = fx.run(&rule);
    assert_eq!(keys(&alerts), ["burst/trap/2026-12-04T22:00:00Z"]);
    assert_eq!((alerts[0].campaign, alerts[0].campaign_uuid), (None, None));
    assert!(alerts[0].evidence.iter().any(|e| e.detail.contains("#42")));
    fx.now = NOW + Duration::hours(1);
    assert!(
        fx.run(&rule).is_empty(),
        "the next hour has no messages yet"
    );
}

#[test]
fn trap_rate_hours_follows_enabled_trap_rules() {
    let rules = crate::warning::Rules::defaults();
    assert_eq!(
        rules.trap_rate_hours(),
        25,
        "the shipped trap spike: 24 h + this hour"
    );
    let campaign_only = super::parse(CAMPAIGN_SPIKE);
    assert_eq!(campaign_only.trap_rate_hours(), 0);
    let long = CAMPAIGN_SPIKE
        .replace("scope = \"campaign\"", "scope = \"trap\"")
        .replace("baseline_hours = 24", "baseline_hours = 72");
    assert_eq!(super::parse(&long).trap_rate_hours(), 73);
}
