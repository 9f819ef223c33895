//! `spamhattan console-bench-fill DIR --messages N`: a scratch store with N analysed messages
//! for the console benchmark (`bench/console_bench.py`, issue 6: 1,000,000 messages).
//!
//! Messages are captured and their reports saved through the real paths (so the message
//! index, FTS table and dashboard rollups are the real ones); only the analysis is skipped:
//! reports are made here from a small vocabulary, which keeps a million to minutes. Arrival
//! times are spread over the last 30 days, oldest first, so the dashboard's hours are full.

use anyhow::{Context, Result, bail};
use model::VerdictClass;
use model::report::{Artifact, BodyPart, BudgetUse, Headers, Indicator, IndicatorKind, Mailbox};
use model::report::{Report, Verdict};
use model::{RcptVerdict, Recipient};
use std::path::Path;
use std::process::ExitCode;
use store::{Store, StoreConfig};

/// Messages captured and saved per batch (one group commit, one report transaction).
const BATCH: usize = 1_000;
/// Days the arrival times cover.
const DAYS: i64 = 30;

const WORDS: &[&str] = &[
    "invoice", "payment", "overdue", "account", "verify", "password", "delivery", "parcel", "bank",
    "transfer", "urgent", "offer", "winner", "lottery", "crypto", "wallet", "refund", "tax",
    "document", "scan", "meeting", "contract", "shipment", "order", "receipt",
];
const DOMAINS: &[&str] = &[
    "trap.example",
    "honey.example",
    "mx.bait.example",
    "old.example",
];

pub fn run(dir: &Path, messages: usize) -> Result<ExitCode> {
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!(
            "console-bench-fill needs an empty or new directory, {} is not",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir)?;
    let store = Store::open(StoreConfig::new(dir)).context("cannot open the scratch store")?;
    let started = std::time::Instant::now();
    let now = model::now();
    let span = time::Duration::days(DAYS);
    let mut done = 0;
    while done < messages {
        let n = BATCH.min(messages - done);
        let batch = (done..done + n)
            .map(|i| {
                let (raw, report) = synthetic(i);
                let peer = format!(
                    "198.{}.{}.{}:40000",
                    (i / 65_536) % 256,
                    (i / 256) % 64,
                    i % 256
                );
                let mut s = super::bench_fill::sighting(&raw, &peer);
                // Oldest first: i / messages of the way from 30 days ago to now.
                let frac = i as f64 / messages.max(1) as f64;
                s.received_at = now - span + span * frac;
                let rcpt = format!("user{}@{}", i % 500, DOMAINS[i % DOMAINS.len()]);
                s.envelope.recipients = vec![Recipient {
                    raw: format!("RCPT TO:<{rcpt}>"),
                    address: rcpt,
                    verdict: RcptVerdict::Accepted,
                    reply: "250 2.1.5 Ok".into(),
                    quiet: false,
                }];
                (raw, s, report)
            })
            .collect();
        super::bench_fill::capture_and_save(&store, batch)?;
        done += n;
        if done.is_multiple_of(50_000) || done == messages {
            eprintln!(
                "filled {done}/{messages} messages ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    store.close()?;
    Ok(ExitCode::SUCCESS)
}

fn word(i: usize, salt: usize) -> &'static str {
    WORDS[(i.wrapping_mul(2_654_435_761).wrapping_add(salt * 97)) % WORDS.len()]
}

/// One message and its report: class by `i` (mostly spam, 2% malware, 1% ransomware
/// delivery), a subject of three words, a URL from a pool of 20,000, an attachment on 1 in 5.
fn synthetic(i: usize) -> (Vec<u8>, Report) {
    let subject = format!("{} {} {} #{i}", word(i, 1), word(i, 2), word(i, 3));
    let raw = format!(
        "From: Sender {i} <s{i}@src{}.example>\r\nSubject: {subject}\r\n\r\nhello {i}\r\n",
        i % 1000
    )
    .into_bytes();
    let class = match i % 100 {
        0 | 1 => VerdictClass::Malware,
        2 => VerdictClass::RansomwareDelivery,
        3..=12 => VerdictClass::Phishing,
        13..=17 => VerdictClass::Scam,
        _ => VerdictClass::Spam,
    };
    let url = format!("http://x{}.bad.example/{}", i % 20_000, word(i, 4));
    let artifacts = if i.is_multiple_of(5) {
        vec![Artifact {
            index: 0,
            depth: 0,
            path: format!("{}_{i}.zip", word(i, 5)),
            name: Some(format!("{}_{i}.zip", word(i, 5))),
            kind: "zip".into(),
            size: 1000,
            ..Default::default()
        }]
    } else {
        vec![]
    };
    let report = Report {
        schema: model::report::REPORT_SCHEMA,
        engine: "console-bench-fill".into(),
        message_id: model::MessageId::of(&raw),
        size: raw.len() as u64,
        headers: Headers {
            from: Some(Mailbox {
                name: Some(format!("Sender {i}")),
                address: Some(format!("s{i}@src{}.example", i % 1000)),
            }),
            subject: Some(subject),
            ..Default::default()
        },
        bodies: vec![BodyPart {
            part: "1".into(),
            content_type: "text/plain".into(),
            chars: 200,
            excerpt: format!(
                "Dear customer, your {} needs {} today. {} {} {}.",
                word(i, 6),
                word(i, 7),
                word(i, 8),
                word(i, 9),
                url
            ),
            ..Default::default()
        }],
        urls: vec![],
        artifacts,
        auth: None,
        scans: vec![],
        findings: vec![],
        indicators: vec![Indicator {
            kind: IndicatorKind::Url,
            value: url,
            at: "bodies[0]".into(),
        }],
        trap_addresses: vec![],
        anomalies: vec![],
        verdict: Verdict {
            class,
            score: 50,
            reasons: vec![],
        },
        budget: BudgetUse::default(),
    };
    (raw, report)
}
