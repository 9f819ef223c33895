//! The sharing policy: which indicators leave, with what confidence, TLP and expiry, and who
//! (which audience) may read them.
//!
//! Confidence is a documented function of what the trap knows (verdict of the campaign, kind
//! of indicator, how often it was seen) so a consumer can reason about it; see
//! `docs/FEEDS.md` for the table. Expiry is `last_seen` plus a time to live per kind: sending
//! IPs rotate within days, payload URLs within weeks, file hashes never change.

use super::format::Format;
use super::redact::Redactor;
use super::tlp::Tlp;
use model::intel::{CampaignBrief, FileFacts, IndicatorRow};
use model::report::IndicatorKind;
use model::{CampaignId, Timestamp, VerdictClass};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use time::Duration;

/// Indicator kinds feeds publish. `md5`/`sha1` travel inside the `sha256` indicator's file
/// facts; file names and YARA rule names describe files and campaigns, they are not
/// indicators on their own.
pub const FEED_KINDS: [IndicatorKind; 5] = [
    IndicatorKind::Url,
    IndicatorKind::Domain,
    IndicatorKind::Ip,
    IndicatorKind::Email,
    IndicatorKind::Sha256,
];

/// Longest audience name: it is a TAXII collection alias and a URL segment.
pub const MAX_AUDIENCE_NAME: usize = 64;

/// HTTP Basic credentials of one consumer.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicUser {
    pub user: String,
    #[serde(serialize_with = "redacted")]
    pub password: String,
}

impl std::fmt::Debug for BasicUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicUser")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

fn redacted<S: serde::Serializer>(_: &String, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("<redacted>")
}

fn redacted_list<S: serde::Serializer>(v: &[String], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(v.len()))?;
    for _ in v {
        seq.serialize_element("<redacted>")?;
    }
    seq.end()
}

/// One audience (`[[feeds.audience]]`): a group of consumers with a TLP ceiling. It is a TAXII
/// collection and a directory of published files.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audience {
    pub name: String,
    /// The most restricted TLP this audience may read.
    pub tlp: Tlp,
    /// Indicator kinds it receives (default: all feed kinds).
    #[serde(default = "default_kinds")]
    pub kinds: Vec<IndicatorKind>,
    /// Formats published for it (default: all).
    #[serde(default = "default_formats", with = "format_names")]
    pub formats: Vec<Format>,
    #[serde(default)]
    pub min_confidence: u8,
    /// Readable without credentials (a public blocklist). Off by default.
    #[serde(default)]
    pub anonymous: bool,
    /// API tokens (`Authorization: Token <t>` or `Bearer <t>`).
    #[serde(default, serialize_with = "redacted_list")]
    pub tokens: Vec<String>,
    /// HTTP Basic users.
    #[serde(default)]
    pub users: Vec<BasicUser>,
}

impl std::fmt::Debug for Audience {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audience")
            .field("name", &self.name)
            .field("tlp", &self.tlp)
            .field("kinds", &self.kinds)
            .field("formats", &self.formats)
            .field("min_confidence", &self.min_confidence)
            .field("anonymous", &self.anonymous)
            .field("tokens", &self.tokens.len())
            .field("users", &self.users)
            .finish()
    }
}

fn default_kinds() -> Vec<IndicatorKind> {
    FEED_KINDS.to_vec()
}

fn default_formats() -> Vec<Format> {
    Format::ALL.to_vec()
}

mod format_names {
    use super::Format;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[Format], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|f| f.as_str()))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Format>, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        names
            .iter()
            .map(|n| {
                Format::parse(n).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "unknown feed format {n:?} (known: {})",
                        Format::ALL.map(|f| f.as_str()).join(", ")
                    ))
                })
            })
            .collect()
    }
}

impl Audience {
    /// The audience used when none is configured: the operator's own export, everything up
    /// to `tlp`, no credentials (so not served over HTTP unless made anonymous).
    pub fn local(tlp: Tlp) -> Audience {
        Audience {
            name: "local".to_string(),
            tlp,
            kinds: default_kinds(),
            formats: default_formats(),
            min_confidence: 0,
            anonymous: false,
            tokens: Vec::new(),
            users: Vec::new(),
        }
    }

    /// Checks the name and values; the message names the audience and the field.
    pub fn validate(&self) -> Result<(), String> {
        let n = &self.name;
        if n.is_empty()
            || n.len() > MAX_AUDIENCE_NAME
            || !n
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!(
                "feeds.audience name {n:?}: 1 to {MAX_AUDIENCE_NAME} characters of A-Z a-z 0-9 - _"
            ));
        }
        if self.min_confidence > 100 {
            return Err(format!(
                "feeds.audience {n}: min_confidence must be 0..=100"
            ));
        }
        if self.kinds.is_empty() || self.formats.is_empty() {
            return Err(format!(
                "feeds.audience {n}: kinds and formats must not be empty"
            ));
        }
        if let Some(k) = self.kinds.iter().find(|k| !FEED_KINDS.contains(k)) {
            return Err(format!(
                "feeds.audience {n}: kind {:?} is not published (feed kinds: url, domain, ip, email, sha256)",
                k.as_str()
            ));
        }
        if self.tokens.iter().any(|t| t.len() < 16) {
            return Err(format!(
                "feeds.audience {n}: tokens must be at least 16 characters"
            ));
        }
        if self
            .users
            .iter()
            .any(|u| u.user.is_empty() || u.user.contains(':') || u.password.len() < 8)
        {
            return Err(format!(
                "feeds.audience {n}: users need a name without ':' and a password of 8 or more characters"
            ));
        }
        Ok(())
    }

    /// May this audience read `ioc`?
    pub fn admits(&self, ioc: &Ioc) -> bool {
        ioc.tlp <= self.tlp
            && ioc.confidence >= self.min_confidence
            && self.kinds.contains(&ioc.kind)
    }

    /// May this audience read `campaign`?
    pub fn admits_campaign(&self, campaign: &IntelCampaign) -> bool {
        campaign.tlp <= self.tlp
    }
}

/// Time to live per indicator kind, in days (`[feeds.ttl_days]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TtlDays {
    #[serde(default = "d7")]
    pub ip: u32,
    #[serde(default = "d30")]
    pub url: u32,
    #[serde(default = "d30")]
    pub domain: u32,
    #[serde(default = "d30")]
    pub email: u32,
    #[serde(default = "d365")]
    pub sha256: u32,
}

fn d7() -> u32 {
    7
}
fn d30() -> u32 {
    30
}
fn d365() -> u32 {
    365
}

impl Default for TtlDays {
    fn default() -> Self {
        TtlDays {
            ip: 7,
            url: 30,
            domain: 30,
            email: 30,
            sha256: 365,
        }
    }
}

impl TtlDays {
    pub fn of(&self, kind: IndicatorKind) -> Duration {
        let days = match kind {
            IndicatorKind::Ip => self.ip,
            IndicatorKind::Url => self.url,
            IndicatorKind::Domain => self.domain,
            IndicatorKind::Email => self.email,
            _ => self.sha256,
        };
        Duration::days(i64::from(days.max(1)))
    }
}

/// What the trap publishes and how it is marked (`[feeds]` minus the audiences).
#[derive(Debug, Clone)]
pub struct SharingPolicy {
    /// Marking of everything published, unless `tlp_by_kind` says otherwise.
    pub tlp: Tlp,
    pub tlp_by_kind: BTreeMap<IndicatorKind, Tlp>,
    pub ttl: TtlDays,
    /// Campaign verdicts whose indicators are published. `benign` and `unknown` stay home:
    /// misdirected legitimate mail must not end up on a blocklist.
    pub verdicts: Vec<VerdictClass>,
    /// Publish expired indicators too (full snapshots only list live ones by default).
    pub include_expired: bool,
    /// Publish indicators whose message is in no campaign yet. Off by default: they are
    /// published with their campaign (and its verdict) moments later; on when clustering is
    /// off, else nothing would ever be published.
    pub include_unclustered: bool,
    pub redactor: Redactor,
    /// Well-known and shared domains (see `allowlist.rs`).
    pub allowlist: super::allowlist::Allowlist,
}

/// A campaign as it may leave the trap.
#[derive(Debug, Clone, PartialEq)]
pub struct IntelCampaign {
    /// Redacted: subjects and HELO names pseudonymised, trap names removed.
    pub brief: CampaignBrief,
    /// Display name: the analyst's label, else `spamhattan campaign <id>: <subject>`.
    pub name: String,
    pub confidence: u8,
    pub tlp: Tlp,
}

impl IntelCampaign {
    pub fn id(&self) -> CampaignId {
        self.brief.id
    }
}

/// An indicator as it may leave the trap.
#[derive(Debug, Clone, PartialEq)]
pub struct Ioc {
    pub row_id: i64,
    /// The row's UUID (see [`IndicatorRow::uuid`]): the STIX indicator id.
    pub uuid: uuid::Uuid,
    pub kind: IndicatorKind,
    /// The value as published (personal data in URLs pseudonymised).
    pub value: String,
    /// `hxxp://evil[.]example/...`, `evil[.]example`, `192.0.2[.]1`.
    pub defanged: String,
    /// Host of a URL, the domain itself, or `None`.
    pub host: Option<String>,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    /// When it last changed in the store: TAXII `date_added`, delta cut-off.
    pub changed_at: Timestamp,
    pub valid_until: Timestamp,
    pub count: u64,
    pub confidence: u8,
    pub tlp: Tlp,
    pub campaign: Option<Arc<IntelCampaign>>,
    pub file: Option<FileFacts>,
}

impl Ioc {
    /// Malware family, from the campaign.
    pub fn family(&self) -> Option<&str> {
        self.campaign
            .as_ref()
            .and_then(|c| c.brief.families.first())
            .map(String::as_str)
    }

    pub fn expired(&self, now: Timestamp) -> bool {
        self.valid_until <= now
    }
}

/// Base confidence by campaign verdict (documented in `docs/FEEDS.md`).
pub fn verdict_confidence(v: VerdictClass) -> i32 {
    match v {
        VerdictClass::RansomwareDelivery => 90,
        VerdictClass::Malware => 85,
        VerdictClass::Phishing => 75,
        VerdictClass::Scam => 65,
        VerdictClass::Spam => 50,
        VerdictClass::Unknown => 30,
        VerdictClass::Benign => 10,
    }
}

/// Adjustment by kind: a payload hash names exactly one file, a URL one resource; a domain
/// may be a compromised shared site and a sending IP a dynamic address in a botnet.
pub fn kind_adjustment(kind: IndicatorKind) -> i32 {
    match kind {
        IndicatorKind::Sha256 => 10,
        IndicatorKind::Url => 0,
        IndicatorKind::Email | IndicatorKind::Domain => -10,
        IndicatorKind::Ip => -15,
        _ => -20,
    }
}

/// Adjustment by repetition: seen in 3+ messages +5, in 10+ messages +10.
pub fn count_adjustment(count: u64) -> i32 {
    match count {
        0..=2 => 0,
        3..=9 => 5,
        _ => 10,
    }
}

impl SharingPolicy {
    pub fn new(tlp: Tlp, redactor: Redactor) -> SharingPolicy {
        SharingPolicy {
            tlp,
            tlp_by_kind: BTreeMap::new(),
            ttl: TtlDays::default(),
            verdicts: vec![
                VerdictClass::Spam,
                VerdictClass::Phishing,
                VerdictClass::Malware,
                VerdictClass::RansomwareDelivery,
                VerdictClass::Scam,
            ],
            include_expired: false,
            include_unclustered: false,
            redactor,
            allowlist: super::allowlist::Allowlist::shipped(),
        }
    }

    /// The campaign as it may be published, or `None` when its verdict is not shared.
    pub fn campaign(&self, brief: CampaignBrief) -> Option<IntelCampaign> {
        if !self.verdicts.contains(&brief.verdict) {
            return None;
        }
        let r = &self.redactor;
        let mut brief = brief;
        brief.label = r.text(&brief.label);
        brief.subjects = brief.subjects.iter().map(|s| r.text(s)).collect();
        brief.helos.retain(|h| !r.burns(h));
        brief.sender_domains.retain(|d| !r.burns(d));
        brief.source_ips.retain(|ip| !r.burns(ip));
        let name = if brief.label.is_empty() {
            match brief.subjects.first() {
                Some(s) => format!("spamhattan campaign {}: {}", brief.id, clip(s, 120)),
                None => format!("spamhattan campaign {}", brief.id),
            }
        } else {
            brief.label.clone()
        };
        let confidence = (verdict_confidence(brief.verdict) + count_adjustment(brief.messages))
            .clamp(0, 100) as u8;
        Some(IntelCampaign {
            brief,
            name,
            confidence,
            tlp: self.tlp,
        })
    }

    /// The indicator as it may be published, or `None` when it must not leave: not a feed
    /// kind, names the trap, its campaign's verdict is not shared, or (unless
    /// `include_expired`) expired at `now`.
    pub fn ioc(
        &self,
        row: IndicatorRow,
        campaign: Option<Arc<IntelCampaign>>,
        now: Timestamp,
    ) -> Option<Ioc> {
        if !FEED_KINDS.contains(&row.kind) {
            return None;
        }
        if campaign.is_none() && (row.campaign.is_some() || !self.include_unclustered) {
            // Its campaign is not shared (benign, unknown, or filtered by the caller), or it
            // has none yet.
            return None;
        }
        let r = &self.redactor;
        let value = match row.kind {
            IndicatorKind::Url => r.url(&row.value)?,
            _ => {
                if r.burns(&row.value) {
                    return None;
                }
                row.value.clone()
            }
        };
        let host = match row.kind {
            IndicatorKind::Url => url_host(&value),
            IndicatorKind::Domain => Some(value.to_ascii_lowercase()),
            _ => None,
        };
        if let Some(h) = &host {
            // `https://b/` (a fragment the URL extractor took for a link) names no host anyone
            // could block: one label and not an IP address.
            if !h.contains('.') && !h.contains(':') {
                return None;
            }
            use super::allowlist::Listing;
            match (self.allowlist.listing(h), row.kind) {
                (Some(Listing::WellKnown), _) | (Some(Listing::Shared), IndicatorKind::Domain) => {
                    return None;
                }
                _ => {}
            }
        }
        // Sender addresses stay even at freemail domains: blocking one account breaks
        // nothing, and abuse desks report them to the provider.
        let valid_until = row.last_seen + self.ttl.of(row.kind);
        if !self.include_expired && valid_until <= now {
            return None;
        }
        let base = campaign
            .as_ref()
            .map(|c| verdict_confidence(c.brief.verdict))
            .unwrap_or(verdict_confidence(VerdictClass::Unknown));
        let confidence =
            (base + kind_adjustment(row.kind) + count_adjustment(row.count)).clamp(0, 100) as u8;
        let tlp = self.tlp_by_kind.get(&row.kind).copied().unwrap_or(self.tlp);
        let mut file = row.file;
        if let Some(f) = file.as_mut()
            && let Some(name) = &f.name
            && r.burns(name)
        {
            f.name = Some(r.text(name));
        }
        Some(Ioc {
            row_id: row.id,
            uuid: row.uuid,
            kind: row.kind,
            defanged: defang(row.kind, &value),
            value,
            host,
            first_seen: row.first_seen,
            last_seen: row.last_seen,
            changed_at: row.changed_at,
            valid_until,
            count: row.count,
            confidence,
            tlp,
            campaign,
            file,
        })
    }
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}

/// The host of a URL as written (lower case, no port, no brackets for IPv6).
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        hostport.split(':').next()?
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Defanged form for text feeds and chat: schemes `hxxp`, dots of the host as `[.]`, `@` as
/// `[@]` in addresses.
pub fn defang(kind: IndicatorKind, value: &str) -> String {
    match kind {
        IndicatorKind::Url => {
            let (scheme, rest) = match value.split_once("://") {
                Some((s, r)) => (s.replace("http", "hxxp").replace("ftp", "fxp"), r),
                None => return value.replace('.', "[.]"),
            };
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let (auth, tail) = rest.split_at(end);
            format!("{scheme}[://]{}{tail}", auth.replace('.', "[.]"))
        }
        IndicatorKind::Email => value.replace('@', "[@]").replace('.', "[.]"),
        IndicatorKind::Domain | IndicatorKind::Ip => value.replace('.', "[.]"),
        _ => value.to_string(),
    }
}
