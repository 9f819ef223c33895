//! `spamhattan feeds-bench-fill DIR`: a scratch store with N campaigns and M indicators for
//! the feed export benchmark (`bench/feeds_export.py`, issue 5: 10,000 campaigns and
//! 1,000,000 indicators).
//!
//! Each campaign is one captured message whose report carries M/N indicators: URLs, their
//! domains, sending IPs, sender addresses and payloads with full file facts, saved through
//! the real report path (so the indicator index, change clock and file facts are the real
//! ones), then put in a campaign of its own through the real clustering transaction with
//! facets (family, subjects, sending IPs). Only the analysis is skipped: reports are made
//! here, which keeps filling a million indicators to a minute or two.

use anyhow::{Context, Result, bail};
use model::campaign::CampaignProfile;
use model::report::{
    Artifact, BudgetUse, Hashes, Headers, Indicator, IndicatorKind, Report, Verdict,
};
use model::{MessageId, VerdictClass};
use std::path::Path;
use std::process::ExitCode;
use store::{Store, StoreConfig, StoreError};

/// Campaigns captured, saved and clustered per batch.
const BATCH: usize = 200;
/// Indicators per report at most (the analysis caps a message at 5,000 too).
const MAX_PER_CAMPAIGN: usize = 5_000;

pub fn run(dir: &Path, indicators: usize, campaigns: usize) -> Result<ExitCode> {
    if campaigns == 0 || indicators < campaigns {
        bail!("need at least one campaign and one indicator per campaign");
    }
    let per = (indicators / campaigns).min(MAX_PER_CAMPAIGN);
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!(
            "feeds-bench-fill needs an empty or new directory, {} is not",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir)?;
    let store = Store::open(StoreConfig::new(dir)).context("cannot open the scratch store")?;
    let started = std::time::Instant::now();
    let mut c = 0;
    while c < campaigns {
        let n = BATCH.min(campaigns - c);
        let messages = (c..c + n)
            .map(|i| {
                let (raw, report) = synthetic(i, per);
                let s = super::bench_fill::sighting(&raw, &format!("{}:40000", ip(i, 0)));
                (raw, s, report)
            })
            .collect();
        super::bench_fill::capture_and_save(&store, messages)?;
        store.cluster(|tx| -> Result<(), StoreError> {
            for u in tx.pending(n)? {
                let id = tx.create(u.sighting.received_at, &CampaignProfile::default())?;
                let k = id as usize;
                let class = if k.is_multiple_of(4) {
                    VerdictClass::RansomwareDelivery
                } else {
                    VerdictClass::Phishing
                };
                tx.assign(
                    u.seq,
                    id,
                    u.sighting.received_at,
                    class,
                    &[
                        ("family", format!("family{}", k % 50)),
                        ("subject_template", format!("Factuur {k} - {{id}}")),
                        ("source_ip", ip(k, 0)),
                        ("attachment_kind", "zip".to_string()),
                    ],
                )?;
            }
            Ok(())
        })?;
        c += n;
        eprintln!(
            "filled {c}/{campaigns} campaigns ({:.0} s)",
            started.elapsed().as_secs_f64()
        );
    }
    store.close()?;
    println!(
        "{{\"campaigns\": {campaigns}, \"indicators_per_campaign\": {per}, \"seconds\": {:.1}}}",
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn ip(k: usize, j: usize) -> String {
    let n = (k * 131 + j * 7) as u32;
    format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
}

fn hexof(seed: u64, len: usize) -> String {
    let mut x = seed | 1;
    let mut s = String::with_capacity(len);
    while s.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.push_str(&format!("{:016x}", x.wrapping_mul(0x2545_F491_4F6C_DD1D)));
    }
    s.truncate(len);
    s
}

/// A message of campaign `k` with `per` indicators: 40% URLs, 20% domains, 20% IPs, 10%
/// sender addresses, 10% payloads.
fn synthetic(k: usize, per: usize) -> (Vec<u8>, Report) {
    let raw =
        format!("Subject: Factuur {k}\r\nX-Campaign: {k}\r\n\r\nbench body {k}\r\n").into_bytes();
    let mut indicators = Vec::with_capacity(per);
    let mut artifacts = Vec::new();
    for j in 0..per {
        let (kind, value) = match j % 10 {
            0..=3 => (
                IndicatorKind::Url,
                format!("https://c{k}-h{}.example/inv/{j}/view?id={k}{j}", j / 10),
            ),
            4 | 5 => (IndicatorKind::Domain, format!("c{k}-d{j}.example")),
            6 | 7 => (IndicatorKind::Ip, ip(k, j)),
            8 => (
                IndicatorKind::Email,
                format!("billing{j}@c{k}-mail.example"),
            ),
            _ => {
                let seed = (k as u64) << 20 | j as u64;
                let sha256 = hexof(seed, 64);
                artifacts.push(Artifact {
                    index: artifacts.len() as u32,
                    path: format!("factuur_{k}_{j}.zip"),
                    name: Some(format!("factuur_{k}_{j}.zip")),
                    declared_type: Some("application/zip".into()),
                    kind: "zip".into(),
                    size: 1000 + j as u64,
                    hashes: Hashes {
                        md5: hexof(seed ^ 1, 32),
                        sha1: hexof(seed ^ 2, 40),
                        sha256: sha256.clone(),
                        sha512: hexof(seed ^ 3, 128),
                        ssdeep: format!("24:{}:{}", hexof(seed ^ 4, 30), hexof(seed ^ 5, 20)),
                        tlsh: Some(format!("T1{}", hexof(seed ^ 6, 70).to_ascii_uppercase())),
                    },
                    ..Artifact::default()
                });
                (IndicatorKind::Sha256, sha256)
            }
        };
        indicators.push(Indicator {
            kind,
            value,
            at: format!("bench[{j}]"),
        });
    }
    let report = Report {
        schema: model::report::REPORT_SCHEMA,
        engine: "bench".into(),
        message_id: MessageId::of(&raw),
        size: raw.len() as u64,
        headers: Headers::default(),
        bodies: vec![],
        urls: vec![],
        artifacts,
        auth: None,
        scans: vec![],
        findings: vec![],
        indicators,
        trap_addresses: vec![],
        anomalies: vec![],
        verdict: Verdict {
            class: VerdictClass::Phishing,
            score: 60,
            reasons: vec![],
        },
        budget: BudgetUse::default(),
    };
    (raw, report)
}
