//! Small, realistic fixtures for the format tests and the export benchmark: a Dutch
//! invoice campaign delivering a zipped script, with its URL, domain, sending IP, sender
//! address and payload. Values use the documentation ranges (`.example`, 192.0.2.0/24,
//! 2001:db8::/32) so fixtures never name a real host.

use super::format::{FeedMeta, Producer};
use super::policy::{Audience, IntelCampaign, Ioc, SharingPolicy};
use super::redact::Redactor;
use super::tlp::Tlp;
use model::VerdictClass;
use model::intel::{CampaignBrief, FileFacts, IndicatorRow};
use model::report::IndicatorKind;
use std::sync::Arc;
use time::macros::datetime;

/// The trap domain the fixtures pretend to be caught at.
pub const TRAP_DOMAIN: &str = "trap.example";
/// The trap's own host name in the fixtures.
pub const TRAP_HOST: &str = "mx.trap.example";

pub fn producer() -> Producer {
    Producer {
        name: "Example CERT spamtrap".to_string(),
        contact: "cert@cert.example".to_string(),
        uuid: uuid::Uuid::from_u128(0x5f6e4d3c_2b1a_4098_8765_43210fedcba9),
        secret: [42; 32],
    }
}

pub fn meta() -> FeedMeta {
    FeedMeta {
        producer: producer(),
        audience: Audience::local(Tlp::Amber),
        generated_at: datetime!(2016-02-16 12:00:00 UTC),
        since: None,
        serial: 2016021601,
        rpz_origin: super::writers::DEFAULT_RPZ_ORIGIN.to_string(),
    }
}

pub fn policy() -> SharingPolicy {
    let mut p = SharingPolicy::new(
        Tlp::Green,
        Redactor::new(
            &[TRAP_DOMAIN.to_string()],
            &[TRAP_HOST.to_string()],
            [42; 32],
        ),
    );
    p.include_expired = true;
    p.include_unclustered = true;
    p
}

pub fn brief(id: i64) -> CampaignBrief {
    CampaignBrief {
        id,
        uuid: uuid::Uuid::from_u128(0xb1f0c5d2_3a4e_4f6b_9c8d_7e6f5a4b3c00 + id as u128),
        label: String::new(),
        first_seen: datetime!(2016-02-16 09:12:00 UTC),
        last_seen: datetime!(2016-02-16 11:40:00 UTC),
        messages: 412,
        verdict: VerdictClass::RansomwareDelivery,
        families: vec!["locky".to_string()],
        yara: vec!["spamhattan_js_dropper".to_string()],
        subjects: vec![
            "Factuur 0000-0000-0000".to_string(),
            "Invoice for jan@trap.example".to_string(),
        ],
        source_ips: vec!["203.0.113.7".to_string()],
        helos: vec![
            "invoice-mailer.example".to_string(),
            "mx.trap.example".to_string(),
        ],
        sender_domains: vec!["invoice-mailer.example".to_string()],
        attachment_kinds: vec!["zip".to_string(), "script-js".to_string()],
        changed_at: datetime!(2016-02-16 11:40:01 UTC),
    }
}

pub fn campaign(id: i64) -> Arc<IntelCampaign> {
    Arc::new(
        policy()
            .campaign(brief(id))
            .expect("ransomware campaigns are shared"),
    )
}

fn row(id: i64, kind: IndicatorKind, value: &str, campaign: Option<i64>) -> IndicatorRow {
    IndicatorRow {
        id,
        uuid: uuid::Uuid::from_u128(0x7d2c0000_0000_4000_8000_000000000000 | ((id as u128) << 4)),
        kind,
        value: value.to_string(),
        first_seen: datetime!(2016-02-16 09:12:00 UTC),
        last_seen: datetime!(2016-02-16 11:40:00 UTC),
        count: 37,
        changed_at: datetime!(2016-02-16 11:40:01 UTC) + time::Duration::microseconds(id),
        campaign,
        file: None,
    }
}

/// The raw rows of campaign `id` (before policy): one per feed kind, plus a URL carrying
/// the trap recipient's address, which policy pseudonymises.
pub fn rows(campaign: i64) -> Vec<IndicatorRow> {
    let c = Some(campaign);
    let b = campaign * 100;
    let mut file = row(
        b + 5,
        IndicatorKind::Sha256,
        "d472d9c138bff172c7eb7a26e08fb89250a56362f2052ca26b9af93de40e6db6",
        c,
    );
    file.file = Some(FileFacts {
        md5: "2fa1a385c48e6c94f8506e19b5d78770".to_string(),
        sha1: "14bad5c1c3097a297e5bf791d75481f16695281c".to_string(),
        sha512: "ab".repeat(64),
        ssdeep: "24:9JSKtm8YeS5ux8eVeTdfuAyPl/Ye5LaGCkRTK7jLUb+9imrMS0:9JSJ8YNoVwQlVc8T89ImgS0"
            .to_string(),
        tlsh: Some(
            "T18411D8E80CEBA2EDDD21E7F0D133CBE202D7E831680EC52F549609810F228E32825249".to_string(),
        ),
        size: 1074,
        kind: "zip".to_string(),
        mime: Some("application/zip".to_string()),
        name: Some("factuur_4471.zip".to_string()),
        chain: "zip".to_string(),
    });
    vec![
        row(
            b + 1,
            IndicatorKind::Url,
            "http://compromised-site.example/wp-content/plugins/x/87yg7yyb",
            c,
        ),
        row(
            b + 2,
            IndicatorKind::Url,
            "https://login-portal.example/verify?user=jan@trap.example&id=4471",
            c,
        ),
        row(b + 3, IndicatorKind::Domain, "compromised-site.example", c),
        row(b + 4, IndicatorKind::Ip, "203.0.113.7", c),
        file,
        row(
            b + 6,
            IndicatorKind::Email,
            "accounts@invoice-mailer.example",
            c,
        ),
        row(b + 7, IndicatorKind::Ip, "2001:db8::7", c),
    ]
}

/// The published indicators of campaign `id`.
pub fn iocs(campaign_id: i64) -> Vec<Ioc> {
    let p = policy();
    let c = campaign(campaign_id);
    rows(campaign_id)
        .into_iter()
        .filter_map(|r| p.ioc(r, Some(c.clone()), datetime!(2016-02-16 12:00:00 UTC)))
        .collect()
}

/// An indicator in no campaign (clustering has not run yet).
pub fn loose_ioc() -> Ioc {
    policy()
        .ioc(
            row(9001, IndicatorKind::Domain, "loose-domain.example", None),
            None,
            datetime!(2016-02-16 12:00:00 UTC),
        )
        .expect("a plain domain is shared")
}
