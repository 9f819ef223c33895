//! Unit tests of the clustering algorithm on hand-made texts and features.

use super::*;
use model::campaign::AttachmentFeature;
use model::{MessageId, VerdictClass};

const TEMPLATE: &str = "dear customer we have noticed unusual activity on your account \
    ending in 0000 and have temporarily limited access to protect you please confirm your \
    identity within 0 hours by following the secure link below otherwise your account will be \
    closed permanently and any remaining balance will be held for review thank you for banking \
    with us the security team";

const OTHER: &str = "congratulations you have been selected to take part in our annual \
    customer survey complete the short questionnaire and receive a gift card worth 0 euro \
    the offer is valid for a limited time only and can be redeemed at any participating store \
    do not miss this chance to share your opinion with the marketing department";

fn blank() -> Features {
    Features {
        message_id: MessageId::of(b"test"),
        sighting: uuid::Uuid::nil(),
        received_at: time::OffsetDateTime::UNIX_EPOCH,
        class: VerdictClass::Unknown,
        body_sha256: Vec::new(),
        body_minhash: Vec::new(),
        body_tlsh: Vec::new(),
        subject_template: None,
        attachments: Vec::new(),
        domains: Vec::new(),
        url_templates: Vec::new(),
        helo_pattern: None,
        x_mailer: None,
        sender_domain: None,
        source_ip: None,
        source_net: None,
        helo: None,
        trap_domains: Vec::new(),
        sensor: String::new(),
        language: None,
        lures: Vec::new(),
        yara: Vec::new(),
        families: Vec::new(),
        subject: None,
        from: None,
    }
}

fn with_body(text: &str) -> Features {
    let mut f = blank();
    f.body_minhash = minhash(text).expect("long enough for a sketch");
    f.body_sha256 = vec![format!("{:x}", text.len())];
    f
}

#[test]
fn minhash_of_one_template_with_changed_names_is_similar() {
    let a = format!("hello alice {TEMPLATE}");
    let b = format!("hello bob {}", TEMPLATE.replace("0000", "0"));
    let sa = minhash(&a).expect("sketch a");
    let sb = minhash(&b).expect("sketch b");
    assert!(similarity(&sa, &sb) >= 0.6, "{}", similarity(&sa, &sb));
}

#[test]
fn minhash_of_reordered_paragraphs_is_similar() {
    let (first, second) = TEMPLATE.split_at(TEMPLATE.len() / 2);
    let reordered = format!("{second} {first}");
    let s1 = minhash(TEMPLATE).expect("sketch");
    let s2 = minhash(&reordered).expect("sketch");
    assert!(similarity(&s1, &s2) >= 0.6, "{}", similarity(&s1, &s2));
}

#[test]
fn minhash_of_different_texts_is_dissimilar() {
    let s1 = minhash(TEMPLATE).expect("sketch");
    let s2 = minhash(OTHER).expect("sketch");
    assert!(similarity(&s1, &s2) < 0.15, "{}", similarity(&s1, &s2));
}

#[test]
fn minhash_needs_enough_shingles() {
    assert_eq!(minhash(""), None);
    assert_eq!(minhash("see the attached file"), None);
    assert!(minhash("one two three four five six seven eight nine ten").is_some());
}

#[test]
fn minhash_hex_round_trips() {
    let s = minhash(TEMPLATE).expect("sketch");
    let hex = to_hex(&s);
    assert_eq!(hex.len(), 512);
    assert_eq!(from_hex(&hex), Some(s));
    assert_eq!(from_hex("zz"), None);
    assert_eq!(from_hex(&"g".repeat(512)), None);
}

#[test]
fn minhash_hex_is_eight_lower_case_digits_per_value() {
    assert_eq!(
        to_hex(&[0, 0xff, 0xdead_beef, u32::MAX]),
        "00000000000000ffdeadbeefffffffff"
    );
    let s = minhash(TEMPLATE).expect("sketch");
    let formatted: String = s.iter().map(|v| format!("{v:08x}")).collect();
    assert_eq!(to_hex(&s), formatted);
}

#[test]
fn keys_are_version_stable() {
    // Fixed expected values: if these change, every stored index and sketch is invalid and
    // the change needs a migration (docs/CAMPAIGNS.md).
    let mut f = blank();
    f.body_sha256 = vec!["abc".to_string()];
    assert_eq!(keys(&f), vec![keys::key("body", b"abc")]);
    assert_eq!(keys::key("body", b"abc"), KEY_BODY_ABC);
    let sketch = minhash("one two three four five six seven eight nine ten").expect("sketch");
    assert_eq!(sketch.first().copied(), Some(SKETCH_FIRST));
}

/// Pinned outputs of the fixed hashes (see `keys_are_version_stable`), computed by an
/// independent Python transcription of the documented algorithm (docs/CAMPAIGNS.md).
const KEY_BODY_ABC: i64 = 3_038_678_438_924_719_706;
const SKETCH_FIRST: u32 = 99_474_006;

#[test]
fn keys_cover_content_but_not_generic_values() {
    let mut f = with_body(TEMPLATE);
    let bands = keys(&f).len();
    assert_eq!(bands, LSH_BANDS + 1, "16 bands and the body hash");
    f.subject_template = Some("invoice {num}".to_string());
    f.domains = vec!["google.com".to_string()];
    f.url_templates = vec!["paypal.com".to_string()];
    f.helo_pattern = Some("mail0.example".to_string());
    assert_eq!(keys(&f).len(), bands, "generic values add no key");
    f.subject_template = Some("your account has been limited".to_string());
    f.domains.push("evil.example".to_string());
    f.url_templates.push("evil.example/verify/0".to_string());
    assert_eq!(keys(&f).len(), bands + 3);
    let p = new_profile(&f);
    let pk = profile_keys(&p);
    for k in keys(&f) {
        assert!(pk.contains(&k), "profile keys include the message's keys");
    }
}

#[test]
fn same_template_joins() {
    let a = with_body(&format!("hello alice {TEMPLATE}"));
    let b = with_body(&format!("hello bob {}", TEMPLATE.replace("0000", "0")));
    let p = new_profile(&a);
    let d = decide(&b, &[(7, &p)], &Thresholds::default());
    assert!(matches!(d, Decision::Join { campaign: 7, .. }), "{d:?}");
}

#[test]
fn different_text_sharing_brand_domain_generic_subject_and_freemail_stays_apart() {
    let mut a = with_body(TEMPLATE);
    let mut b = with_body(OTHER);
    for f in [&mut a, &mut b] {
        f.domains = vec!["paypal.com".to_string()];
        f.subject_template = Some("invoice {num}".to_string());
        f.sender_domain = Some("gmail.com".to_string());
        f.x_mailer = Some("Microsoft Outlook 16.0".to_string());
        f.helo_pattern = Some("[ip]".to_string());
    }
    let p = new_profile(&a);
    assert_eq!(
        decide(&b, &[(1, &p)], &Thresholds::default()),
        Decision::New
    );
}

#[test]
fn infrastructure_alone_never_joins() {
    let mut a = blank();
    a.helo_pattern = Some("mail0.bulk.example".to_string());
    a.x_mailer = Some("BulkMailer 3".to_string());
    a.source_net = Some("192.0.2.0/24".to_string());
    a.sender_domain = Some("bulk.example".to_string());
    let p = new_profile(&a);
    let s = score(&a, &p);
    assert!(s.total < Thresholds::default().join, "{s:?}");
    assert!(s.total > 0.0);
}

#[test]
fn polymorphic_payload_of_one_shape_joins() {
    // Two TLSH digests of near-identical content: one byte region changed.
    let base: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut variant = base.clone();
    for b in variant.iter_mut().take(64) {
        *b ^= 0x5a;
    }
    let t1 = crate::hashes::tlsh(&base).expect("tlsh of 4 KiB");
    let t2 = crate::hashes::tlsh(&variant).expect("tlsh of 4 KiB");
    let att = |sha: &str, tlsh: String| AttachmentFeature {
        sha256: sha.to_string(),
        tlsh: Some(tlsh),
        kind: "script-js".to_string(),
        name_template: Some("invoice_0.js".to_string()),
        depth: 1,
    };
    let mut a = blank();
    a.attachments = vec![att("aa", t1)];
    let mut b = blank();
    b.attachments = vec![att("bb", t2)];
    let p = new_profile(&a);
    let d = decide(&b, &[(3, &p)], &Thresholds::default());
    assert!(matches!(d, Decision::Join { campaign: 3, .. }), "{d:?}");
    // The same shape alone (different payload) does not.
    let mut c = blank();
    c.attachments = vec![AttachmentFeature {
        tlsh: None,
        ..att("cc", String::new())
    }];
    assert_eq!(
        decide(&c, &[(3, &p)], &Thresholds::default()),
        Decision::New
    );
}

#[test]
fn matching_two_campaigns_merges_into_the_oldest() {
    // Clearly both (≥ the merge threshold): the same body and subject as one campaign, the
    // same payload and URL as the other.
    let mut a = with_body(TEMPLATE);
    a.attachments = vec![AttachmentFeature {
        sha256: "payload".to_string(),
        kind: "zip".to_string(),
        ..AttachmentFeature::default()
    }];
    a.subject_template = Some("your account has been limited".to_string());
    a.url_templates = vec!["evil.example/verify/0".to_string()];
    let mut body_only = with_body(TEMPLATE);
    body_only.subject_template = a.subject_template.clone();
    let p_body = new_profile(&body_only);
    let mut only_att = blank();
    only_att.attachments = a.attachments.clone();
    only_att.url_templates = a.url_templates.clone();
    let p_att = new_profile(&only_att);
    let unrelated = new_profile(&with_body(OTHER));
    let candidates = [(9, &p_body), (4, &p_att), (2, &unrelated)];
    match decide(&a, &candidates, &Thresholds::default()) {
        Decision::Merge { into, from, score } => {
            assert_eq!(into, 4);
            assert_eq!(from, vec![9]);
            assert!(score.total >= 1.0);
        }
        other => panic!("expected a merge, got {other:?}"),
    }
    // Input order does not matter.
    let reversed = [(2, &unrelated), (4, &p_att), (9, &p_body)];
    assert_eq!(
        decide(&a, &reversed, &Thresholds::default()),
        decide(&a, &candidates, &Thresholds::default())
    );
}

#[test]
fn no_candidates_or_empty_features_is_new() {
    let f = blank();
    assert_eq!(decide(&f, &[], &Thresholds::default()), Decision::New);
    let p = new_profile(&f);
    assert_eq!(
        decide(&f, &[(1, &p)], &Thresholds::default()),
        Decision::New
    );
    assert!(keys(&f).is_empty());
    assert!(profile_keys(&p).is_empty());
    assert_eq!(score(&f, &CampaignProfile::default()).total, 0.0);
}

#[test]
fn profile_stays_bounded() {
    let mut p = new_profile(&blank());
    for i in 0..10_000u32 {
        let mut f = with_body(&format!("{i} {TEMPLATE} {}", i * 7));
        f.body_minhash = minhash(&format!("w{i} x{i} y{i} z{i} {OTHER} q{i}")).expect("sketch");
        f.body_sha256 = vec![format!("sha{i}")];
        f.body_tlsh = vec![format!("T1{i}")];
        f.subject_template = Some(format!("subject {i}"));
        f.domains = vec![format!("d{i}.example")];
        f.url_templates = vec![format!("d{i}.example/p")];
        f.helo_pattern = Some(format!("h{i}"));
        f.x_mailer = Some(format!("m{i}"));
        f.sender_domain = Some(format!("s{i}.example"));
        f.source_net = Some(format!("n{i}"));
        f.attachments = vec![AttachmentFeature {
            sha256: format!("a{i}"),
            tlsh: Some(format!("t{i}")),
            kind: "zip".to_string(),
            name_template: Some(format!("name{i}.zip")),
            depth: 0,
        }];
        absorb(&mut p, &f);
    }
    assert_eq!(p.messages, 10_001);
    assert!(p.minhashes.len() <= MAX_EXEMPLARS);
    assert!(p.body_sha256.len() <= MAX_HASHES && p.attachment_sha256.len() <= MAX_HASHES);
    assert!(p.body_tlsh.len() <= MAX_TLSH && p.attachment_tlsh.len() <= MAX_TLSH);
    for list in [
        &p.subject_templates,
        &p.attachment_shapes,
        &p.domains,
        &p.url_templates,
        &p.helo_patterns,
        &p.x_mailers,
        &p.sender_domains,
        &p.source_nets,
    ] {
        assert!(list.len() <= MAX_VALUES, "{}", list.len());
    }
    // Recent values are kept (rotation), so a drifting campaign still matches its latest mail.
    assert!(p.body_sha256.contains(&"sha9999".to_string()));
    let mut merged = p.clone();
    merge_profiles(&mut merged, &p);
    assert!(merged.body_sha256.len() <= MAX_HASHES);
    assert!(profile_keys(&merged).len() < 1_000);
}

#[test]
fn templates_fold_what_varies() {
    assert_eq!(template::file_name("Invoice_83721.PDF"), "invoice_0.pdf");
    assert_eq!(template::file_name("scan-3fa9c2d17b.zip"), "scan-#.zip");
    assert_eq!(
        template::url("https://Evil.example/inv/83721/aB3dE9x/view?id=5#top").as_deref(),
        Some("evil.example/inv/0/#/view")
    );
    assert_eq!(
        template::url("https://e.example/t/QmFzZTY0SXNGdW5ueQ==").as_deref(),
        Some("e.example/t/{b64}")
    );
    assert_eq!(template::helo("[192.0.2.7]"), "[ip]");
    assert_eq!(
        template::helo("Mail-2041.Bulk.example"),
        "mail-0.bulk.example"
    );
    assert_eq!(
        template::subject("RE: Fwd: Invoice {num} Ready"),
        "invoice {num} ready"
    );
}

#[test]
fn features_of_an_analysed_message() {
    let raw = format!(
        "From: \"Billing\" <billing@sender.example>\r\nTo: alice@trap.example\r\n\
         Subject: RE: Invoice 48213 is ready\r\nX-Mailer: BulkMailer 3\r\n\
         Content-Type: text/plain\r\n\r\nhello alice {TEMPLATE}\r\n\
         https://login.evil.example/inv/48213/view?u=alice\r\n"
    );
    let engine = crate::Engine::with_defaults();
    let report = engine.analyze(raw.as_bytes(), &crate::Input::default());
    let f = features(&report, None);
    assert_eq!(f.sighting, uuid::Uuid::nil());
    assert_eq!(f.received_at, time::OffsetDateTime::UNIX_EPOCH);
    assert_eq!(f.body_minhash.len(), MINHASH_SIZE);
    assert_eq!(f.body_sha256.len(), 1);
    assert_eq!(f.domains, vec!["evil.example".to_string()]);
    assert_eq!(
        f.url_templates,
        vec!["login.evil.example/inv/0/view".to_string()]
    );
    assert_eq!(f.x_mailer.as_deref(), Some("BulkMailer 3"));
    assert_eq!(f.from.as_deref(), Some("Billing <billing@sender.example>"));
    assert!(
        f.subject_template
            .as_deref()
            .is_some_and(|s| s.starts_with("invoice"))
    );
    // The same template to another recipient lands in the same campaign.
    let other = raw.replace("alice", "bob").replace("48213", "99120");
    let g = features(
        &engine.analyze(other.as_bytes(), &crate::Input::default()),
        None,
    );
    let p = new_profile(&f);
    assert!(matches!(
        decide(&g, &[(1, &p)], &Thresholds::default()),
        Decision::Join { campaign: 1, .. }
    ));
}

#[test]
fn brand_domain_counts_only_when_linked_deeply() {
    let mut campaign = blank();
    campaign.domains = vec!["paypal.com".to_string(), "kit.example".to_string()];
    campaign.url_templates = vec![
        "www.paypal.com/logo.png".to_string(),
        "kit.example/verify/#".to_string(),
    ];
    let p = new_profile(&campaign);
    let mut brand_only = blank();
    brand_only.domains = vec!["paypal.com".to_string()];
    brand_only.url_templates = vec!["www.paypal.com/privacy".to_string()];
    assert_eq!(score(&brand_only, &p).total, 0.0);
    let mut rotated = blank();
    rotated.domains = vec!["paypal.com".to_string(), "kit.example".to_string()];
    rotated.url_templates = vec!["login.kit.example/track/{b64}".to_string()];
    let s = score(&rotated, &p);
    assert!(
        s.signals
            .iter()
            .any(|(name, _)| name == "url.domain kit.example"),
        "{s:?}"
    );
}

/// Regression (phishing corpus): unrelated campaigns linked through one shortener were
/// merged through its domain and token-folded URL template.
#[test]
fn shortener_links_give_no_url_features() {
    let raw = "From: a@b.example\r\nSubject: hello there friend\r\n\r\n\
               Click https://bit.ly/3xYz9Qk and https://login.evil.example/a/b/c now\r\n";
    let engine = crate::Engine::with_defaults();
    let report = engine.analyze(raw.as_bytes(), &crate::Input::default());
    assert!(
        report.urls.iter().any(|u| u.shortener),
        "the engine marks bit.ly as a shortener: {:?}",
        report.urls
    );
    let f = features(&report, None);
    assert!(!f.domains.iter().any(|d| d == "bit.ly"), "{:?}", f.domains);
    assert!(
        !f.url_templates.iter().any(|t| t.starts_with("bit.ly")),
        "{:?}",
        f.url_templates
    );
    assert!(f.domains.iter().any(|d| d == "evil.example"));
}

/// Regression (phishing corpus): unrelated spam hotlinking pictures from one image host was
/// merged through the host's folded URL template.
#[test]
fn shared_image_hosts_give_no_url_templates() {
    let raw = "From: a@b.example\r\nSubject: hello there friend\r\nContent-Type: text/html\r\n\r\n\
               <img src=\"https://www.zupimages.net/up/24/05/abcd1234.png\">\
               <a href=\"https://offers.evil.example/a/b/c\">go</a>\r\n";
    let engine = crate::Engine::with_defaults();
    let report = engine.analyze(raw.as_bytes(), &crate::Input::default());
    let f = features(&report, None);
    assert!(
        f.domains.iter().any(|d| d == "zupimages.net"),
        "the domain stays a facet: {:?}",
        f.domains
    );
    assert!(
        !f.url_templates.iter().any(|t| t.contains("zupimages")),
        "{:?}",
        f.url_templates
    );
    assert!(
        f.url_templates
            .iter()
            .any(|t| t.starts_with("offers.evil.example"))
    );
}
