//! SPF, DKIM, DMARC and ARC evaluation against a real DNS server on loopback (no network).

#[path = "common/dns.rs"]
mod dns;

use base64::Engine as _;
use dns::{DnsServer, SilentServer, Zone};
use enrich::{AuthConfig, Authenticator};
use mail_auth::common::crypto::Ed25519Key;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use model::report::AuthResults;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

const GOOD_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
const OTHER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));

const MESSAGE: &str = "From: Alice <alice@example.test>\r\n\
    To: trap@sensor.test\r\n\
    Subject: Invoice 2291\r\n\
    Message-ID: <1@example.test>\r\n\
    \r\n\
    Please find the invoice attached.\r\n";

fn config(nameserver: std::net::SocketAddr) -> AuthConfig {
    AuthConfig {
        nameservers: vec![nameserver],
        timeout: Duration::from_secs(2),
        total_budget: Duration::from_secs(5),
        ..AuthConfig::default()
    }
}

fn spf_zone() -> Zone {
    Zone::default().txt("example.test", "v=spf1 ip4:192.0.2.10 -all")
}

/// Signs `MESSAGE` with a fresh Ed25519 key and returns the signed message and the key's TXT.
fn signed_message() -> (String, String) {
    let pkcs8 = Ed25519Key::generate_pkcs8().expect("generate key");
    let key = Ed25519Key::from_pkcs8_der(&pkcs8).expect("load key");
    let public = base64::engine::general_purpose::STANDARD.encode(key.public_key());
    let signature = DkimSigner::from_key(key)
        .domain("example.test")
        .selector("sel")
        .headers(["From", "To", "Subject", "Message-ID"])
        .sign(MESSAGE.as_bytes())
        .expect("sign");
    (
        format!("{}{MESSAGE}", signature.to_header()),
        format!("v=DKIM1; k=ed25519; p={public}"),
    )
}

async fn evaluate(zone: Zone, raw: &str, peer: IpAddr, mail_from: &str) -> AuthResults {
    evaluate_bytes(zone, raw.as_bytes(), peer, mail_from).await
}

async fn evaluate_bytes(zone: Zone, raw: &[u8], peer: IpAddr, mail_from: &str) -> AuthResults {
    let server = DnsServer::start(zone).await;
    let auth = Authenticator::new(&config(server.addr)).expect("authenticator");
    auth.evaluate(raw, peer, "mail.example.test", mail_from)
        .await
}

#[tokio::test]
async fn spf_passes_for_the_listed_address() {
    let r = evaluate(spf_zone(), MESSAGE, GOOD_IP, "alice@example.test").await;
    assert_eq!(r.spf.result, "pass", "{r:?}");
    assert_eq!(r.spf.domain, "example.test");
    assert!(r.spf.detail.contains("identity=mailfrom"), "{r:?}");
}

#[tokio::test]
async fn spf_fails_for_another_address() {
    let r = evaluate(spf_zone(), MESSAGE, OTHER_IP, "alice@example.test").await;
    assert_eq!(r.spf.result, "fail", "{r:?}");
}

#[tokio::test]
async fn spf_is_none_without_a_record() {
    let r = evaluate(spf_zone(), MESSAGE, GOOD_IP, "bob@norecord.test").await;
    assert_eq!(r.spf.result, "none", "{r:?}");
    assert_eq!(r.spf.domain, "norecord.test");
}

#[tokio::test]
async fn spf_a_mechanism_is_resolved_through_an_address_lookup() {
    let zone = Zone::default()
        .txt("example.test", "v=spf1 a:out.example.test -all")
        .a("out.example.test", Ipv4Addr::new(192, 0, 2, 10));
    let pass = evaluate(zone.clone(), MESSAGE, GOOD_IP, "alice@example.test").await;
    let fail = evaluate(zone, MESSAGE, OTHER_IP, "alice@example.test").await;
    assert_eq!(pass.spf.result, "pass", "{pass:?}");
    assert_eq!(fail.spf.result, "fail", "{fail:?}");
}

#[tokio::test]
async fn null_sender_is_checked_with_the_helo_identity() {
    let zone = Zone::default().txt("mail.example.test", "v=spf1 ip4:192.0.2.10 -all");
    let r = evaluate(zone, MESSAGE, GOOD_IP, "").await;
    assert_eq!(r.spf.result, "pass", "{r:?}");
    assert_eq!(r.spf.domain, "mail.example.test");
    assert!(r.spf.detail.contains("identity=helo"), "{r:?}");
}

#[tokio::test]
async fn dkim_passes_for_an_intact_signed_message() {
    let (raw, key) = signed_message();
    let zone = spf_zone().txt("sel._domainkey.example.test", &key);
    let r = evaluate(zone, &raw, GOOD_IP, "alice@example.test").await;
    assert_eq!(r.dkim.len(), 1, "{r:?}");
    assert_eq!(r.dkim[0].result, "pass", "{r:?}");
    assert_eq!(r.dkim[0].domain, "example.test");
    assert_eq!(r.dkim[0].selector, "sel");
}

#[tokio::test]
async fn dkim_fails_when_the_body_was_altered_after_signing() {
    let (raw, key) = signed_message();
    let raw = raw.replace("invoice attached", "invoice at hxxp://evil.test");
    let zone = spf_zone().txt("sel._domainkey.example.test", &key);
    let r = evaluate(zone, &raw, GOOD_IP, "alice@example.test").await;
    assert_eq!(r.dkim.len(), 1, "{r:?}");
    assert_eq!(r.dkim[0].result, "fail", "{r:?}");
    assert!(r.dkim[0].detail.contains("body hash"), "{r:?}");
}

#[tokio::test]
async fn dmarc_passes_with_aligned_spf_and_records_the_reject_policy() {
    let zone = spf_zone().txt("_dmarc.example.test", "v=DMARC1; p=reject");
    let r = evaluate(zone, MESSAGE, GOOD_IP, "alice@example.test").await;
    assert_eq!(r.dmarc.result, "pass", "{r:?}");
    assert_eq!(r.dmarc.domain, "example.test");
    assert_eq!(r.dmarc.policy, "reject");
}

#[tokio::test]
async fn dmarc_fails_without_an_aligned_pass_and_records_the_reject_policy() {
    let zone = spf_zone().txt("_dmarc.example.test", "v=DMARC1; p=reject");
    let r = evaluate(zone, MESSAGE, OTHER_IP, "alice@example.test").await;
    assert_eq!(r.spf.result, "fail", "{r:?}");
    assert_eq!(r.dmarc.result, "fail", "{r:?}");
    assert_eq!(r.dmarc.policy, "reject");
}

#[tokio::test]
async fn dmarc_passes_on_an_aligned_dkim_signature_despite_spf_failing() {
    let (raw, key) = signed_message();
    let zone = spf_zone()
        .txt("sel._domainkey.example.test", &key)
        .txt("_dmarc.example.test", "v=DMARC1; p=quarantine");
    let r = evaluate(zone, &raw, OTHER_IP, "alice@example.test").await;
    assert_eq!(r.spf.result, "fail", "{r:?}");
    assert_eq!(r.dmarc.result, "pass", "{r:?}");
    assert_eq!(r.dmarc.policy, "quarantine");
}

#[tokio::test]
async fn dmarc_is_none_and_policy_empty_without_a_record() {
    let r = evaluate(spf_zone(), MESSAGE, GOOD_IP, "alice@example.test").await;
    assert_eq!(r.dmarc.result, "none", "{r:?}");
    assert_eq!(r.dmarc.policy, "");
    assert_eq!(r.arc.result, "none", "{r:?}");
}

#[tokio::test]
async fn unanswered_queries_become_temperror_within_the_budget() {
    let silent = SilentServer::start();
    let cfg = AuthConfig {
        nameservers: vec![silent.addr],
        timeout: Duration::from_secs(10),
        total_budget: Duration::from_millis(300),
        ..AuthConfig::default()
    };
    let auth = Authenticator::new(&cfg).expect("authenticator");
    let (raw, _) = signed_message();
    let started = Instant::now();
    let r = auth
        .evaluate(
            raw.as_bytes(),
            GOOD_IP,
            "mail.example.test",
            "alice@example.test",
        )
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r.spf.result, "temperror", "{r:?}");
    assert!(r.spf.detail.contains("budget"), "{r:?}");
    assert_eq!(r.dkim.len(), 1, "{r:?}");
    assert_eq!(r.dkim[0].result, "temperror", "{r:?}");
    assert_eq!(
        r.dkim[0].domain, "example.test",
        "the signature is still named"
    );
    assert_eq!(r.dmarc.result, "temperror", "{r:?}");
    assert_eq!(r.dmarc.domain, "example.test");
}

#[tokio::test]
async fn a_message_without_headers_gives_permerror_not_a_panic() {
    for raw in [&b""[..], b"\r\n\r\nbody only"] {
        let r = evaluate_bytes(spf_zone(), raw, GOOD_IP, "a@example.test").await;
        assert_eq!(r.spf.result, "pass", "SPF needs only the envelope: {r:?}");
        assert!(r.dkim.is_empty(), "{r:?}");
        assert_eq!(r.dmarc.result, "permerror", "{r:?}");
        assert_eq!(r.arc.result, "permerror", "{r:?}");
    }
}

#[tokio::test]
async fn hostile_header_bytes_give_results_not_a_panic() {
    let raws: [&[u8]; 4] = [
        b"\xff\xfe\x00garbage",
        b"DKIM-Signature: v=1; a=rsa-sha256; d=; s=; bh=!!; b=\r\n\r\nx",
        b"From: <@>\r\nDKIM-Signature: v=1; l=99999999999999999999\r\n\r\n",
        b"ARC-Seal: i=0; cv=fail\r\nARC-Message-Signature: i=99\r\n\r\n",
    ];
    for raw in raws {
        let r = evaluate_bytes(spf_zone(), raw, GOOD_IP, "a@example.test").await;
        assert_eq!(r.spf.result, "pass", "{r:?}");
        assert!(
            !r.dmarc.result.is_empty() && !r.arc.result.is_empty(),
            "{r:?}"
        );
    }
}

#[tokio::test]
async fn records_stay_cached_across_messages() {
    let server = DnsServer::start(spf_zone()).await;
    let auth = Authenticator::new(&config(server.addr)).expect("authenticator");
    let first = auth
        .evaluate(
            MESSAGE.as_bytes(),
            GOOD_IP,
            "mail.example.test",
            "alice@example.test",
        )
        .await;
    drop(server);
    let second = auth
        .evaluate(
            MESSAGE.as_bytes(),
            GOOD_IP,
            "mail.example.test",
            "alice@example.test",
        )
        .await;
    assert_eq!(first.spf.result, "pass");
    assert_eq!(second.spf.result, "pass", "{second:?}");
}

#[test]
fn disabled_evaluation_builds_no_authenticator() {
    let cfg = AuthConfig {
        enabled: false,
        ..AuthConfig::default()
    };
    assert!(matches!(Authenticator::from_config(&cfg), Ok(None)));
}

#[test]
fn config_section_reads_with_defaults_and_refuses_unknown_keys() {
    let cfg: AuthConfig =
        toml::from_str("nameservers = [\"127.0.0.1:5353\"]\ntotal_budget_ms = 800\n")
            .expect("parse");
    assert!(cfg.enabled);
    assert_eq!(cfg.nameservers.len(), 1);
    assert_eq!(cfg.total_budget, Duration::from_millis(800));
    assert_eq!(cfg.timeout, Duration::from_secs(2));
    assert_eq!(cfg.cache_entries, 10_000);
    assert!(toml::from_str::<AuthConfig>("resolver = \"x\"\n").is_err());
}

/// `raw` with one ARC set added by `relay.test` (Ed25519), and the TXT of its key.
fn arc_sealed(raw: &str) -> (String, String) {
    use mail_auth::{ArcOutput, AuthenticatedMessage, AuthenticationResults, arc::ArcSealer};
    let pkcs8 = Ed25519Key::generate_pkcs8().expect("generate key");
    let key = Ed25519Key::from_pkcs8_der(&pkcs8).expect("load key");
    let public = base64::engine::general_purpose::STANDARD.encode(key.public_key());
    let message = AuthenticatedMessage::parse(raw.as_bytes()).expect("parse");
    let no_chain = ArcOutput::default();
    let results = AuthenticationResults::new("relay.test").with_arc_result(&no_chain, GOOD_IP);
    let set = ArcSealer::from_key(key)
        .domain("relay.test")
        .selector("arc")
        .headers(["From", "To", "Subject"])
        .seal(&message, &results, &no_chain)
        .expect("seal");
    (
        format!("{}{raw}", set.to_header()),
        format!("v=DKIM1; k=ed25519; p={public}"),
    )
}

#[tokio::test]
async fn arc_chain_passes_when_intact_and_fails_when_the_body_changed() {
    let (sealed, key) = arc_sealed(MESSAGE);
    let zone = spf_zone().txt("arc._domainkey.relay.test", &key);
    let intact = evaluate(zone.clone(), &sealed, GOOD_IP, "alice@example.test").await;
    assert_eq!(intact.arc.result, "pass", "{intact:?}");
    assert_eq!(intact.arc.domain, "relay.test");
    let altered = sealed.replace("invoice attached", "invoice elsewhere");
    let altered = evaluate(zone, &altered, GOOD_IP, "alice@example.test").await;
    assert_eq!(altered.arc.result, "fail", "{altered:?}");
}
