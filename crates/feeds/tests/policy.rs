//! The sharing policy: which indicators leave, with which confidence, marking and expiry, and
//! which audience sees them.

use feeds::intel::policy::{Audience, FEED_KINDS};
use feeds::intel::{Tlp, sample};
use model::VerdictClass;
use model::report::IndicatorKind;
use time::macros::datetime;

fn row(kind: IndicatorKind, value: &str) -> model::intel::IndicatorRow {
    let mut r = sample::rows(1).remove(0);
    r.kind = kind;
    r.value = value.to_string();
    r
}

#[test]
fn confidence_follows_the_documented_table() {
    let p = sample::policy();
    let c = sample::campaign(1); // ransomware delivery: 90
    let now = datetime!(2016-02-16 12:00:00 UTC);
    let conf = |kind, count| {
        let mut r = row(kind, "203.0.113.9");
        if kind == IndicatorKind::Sha256 {
            r.value = "ab".repeat(32);
        }
        if kind == IndicatorKind::Url {
            r.value = "http://evil.example/x".into();
        }
        r.count = count;
        p.ioc(r, Some(c.clone()), now).expect("shared").confidence
    };
    assert_eq!(conf(IndicatorKind::Sha256, 1), 100);
    assert_eq!(conf(IndicatorKind::Url, 1), 90);
    assert_eq!(conf(IndicatorKind::Ip, 1), 75);
    assert_eq!(conf(IndicatorKind::Ip, 3), 80);
    assert_eq!(conf(IndicatorKind::Ip, 10), 85);
}

#[test]
fn expiry_is_last_seen_plus_the_kind_ttl_and_expired_ones_stay_home() {
    let mut p = sample::policy();
    p.include_expired = false;
    let c = sample::campaign(1);
    let ip = row(IndicatorKind::Ip, "203.0.113.9");
    let seen = ip.last_seen;
    let ioc = p.ioc(ip.clone(), Some(c.clone()), seen).expect("live");
    assert_eq!(ioc.valid_until, seen + time::Duration::days(7));
    assert!(p.ioc(ip, Some(c), seen + time::Duration::days(8)).is_none());
}

#[test]
fn benign_campaigns_and_trap_names_never_leave() {
    let p = sample::policy();
    let mut brief = sample::brief(3);
    brief.verdict = VerdictClass::Benign;
    assert!(p.campaign(brief).is_none());
    let c = sample::campaign(1);
    let now = datetime!(2016-02-16 12:00:00 UTC);
    for (kind, value) in [
        (IndicatorKind::Domain, "mail.trap.example"),
        (IndicatorKind::Url, "https://trap.example/x"),
        (IndicatorKind::Email, "someone@trap.example"),
        (IndicatorKind::Md5, "00"),
    ] {
        assert!(
            p.ioc(row(kind, value), Some(c.clone()), now).is_none(),
            "{value}"
        );
    }
}

#[test]
fn well_known_domains_are_never_listed_and_shared_hosts_only_as_urls() {
    let p = sample::policy();
    let c = sample::campaign(1);
    let now = datetime!(2016-02-16 12:00:00 UTC);
    let shared = |kind, value| p.ioc(row(kind, value), Some(c.clone()), now).is_some();
    assert!(!shared(
        IndicatorKind::Url,
        "https://www.paypal.com/logo.png"
    ));
    assert!(!shared(IndicatorKind::Domain, "paypal.com"));
    assert!(shared(
        IndicatorKind::Url,
        "https://drive.google.com/uc?id=abc"
    ));
    assert!(!shared(IndicatorKind::Domain, "drive.google.com"));
    assert!(
        !shared(IndicatorKind::Url, "https://b/"),
        "no routable host"
    );
    assert!(shared(
        IndicatorKind::Domain,
        "paypal.com.account-verify.example"
    ));
}

#[test]
fn audiences_see_up_to_their_tlp_confidence_and_kinds() {
    let iocs = sample::iocs(1);
    let mut a = Audience::local(Tlp::Clear);
    assert!(
        iocs.iter().all(|i| !a.admits(i)),
        "everything is green, the ceiling clear"
    );
    a.tlp = Tlp::Green;
    assert!(iocs.iter().all(|i| a.admits(i)));
    a.min_confidence = 95;
    assert!(iocs.iter().any(|i| !a.admits(i)) && iocs.iter().any(|i| a.admits(i)));
    a.min_confidence = 0;
    a.kinds = vec![IndicatorKind::Url];
    assert!(
        iocs.iter()
            .all(|i| a.admits(i) == (i.kind == IndicatorKind::Url))
    );
    assert_eq!(FEED_KINDS.len(), 5);
}

#[test]
fn audience_names_and_credentials_are_checked() {
    let mut a = Audience::local(Tlp::Green);
    a.name = "../x".into();
    assert!(a.validate().is_err());
    a.name = "ok".into();
    a.tokens = vec!["short".into()];
    assert!(a.validate().expect_err("short token").contains("16"));
    a.tokens = vec!["x".repeat(16)];
    assert!(a.validate().is_ok());
    let printed = format!("{a:?}");
    assert!(
        !printed.contains(&"x".repeat(16)),
        "tokens never print: {printed}"
    );
}
