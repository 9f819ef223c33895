//! `spamhattan campaigns bench`: what assigning one message to a campaign costs as the number
//! of campaigns grows (the 10 / 10k / 100k), on a scratch store.
//!
//! The store is filled with synthetic analysed messages, each a campaign of its own (its own
//! body text, subject template, URL domain); then probe messages are clustered and each
//! assignment timed: half are variants of a random existing campaign (they must join it), half
//! are new. The timed part is the real clustering step (`worker::campaign`): features, key
//! look-ups, profile loads, decision, store update, facets, alert rules. Analysis is not part
//! of it (the reports are made here), so the figures isolate assignment.

use crate::worker::Clustering;
use anyhow::{Context, Result, bail};
use model::report::{
    BodyPart, BudgetUse, Headers, Indicator, IndicatorKind, Report, UrlRecord, Verdict,
};
use model::{MessageId, VerdictClass};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use store::{Store, StoreConfig};

/// Words of the synthetic vocabulary; texts draw from it, so unrelated texts share few
/// shingles, as unrelated spam does.
const VOCABULARY: usize = 4_000;
/// Words per synthetic body.
const BODY_WORDS: usize = 80;
/// Captures and reports written per batch while filling.
const FILL_BATCH: usize = 1_000;

/// Options of `campaigns bench`.
#[derive(Debug, Clone)]
pub struct BenchArgs {
    pub sizes: Vec<usize>,
    pub probes: usize,
    pub seed: u64,
}

pub fn run(dir: &Path, args: &BenchArgs) -> Result<ExitCode> {
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!(
            "campaigns bench needs an empty or new directory, {} is not",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir)?;
    let store = Store::open(StoreConfig::new(dir)).context("cannot open the scratch store")?;
    let clustering = Clustering {
        thresholds: analysis::cluster::Thresholds::default(),
        rules: Arc::new(analysis::warning::Rules::defaults()),
        receivers: Vec::new(),
        events: Arc::new(trap::NullSink),
        outbox: Arc::new(tokio::sync::Notify::new()),
        raised: Default::default(),
    };
    let mut rng = Rng(args.seed | 1);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "| campaigns | probes | joined | p50 µs | p99 µs | max µs | mean µs | DB bytes/campaign | peak RSS MiB |"
    )?;
    writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|")?;
    let mut made = 0usize;
    for &size in &args.sizes {
        while made < size {
            let n = (size - made).min(FILL_BATCH);
            let batch: Vec<usize> = (made..made + n).collect();
            add(&store, &batch, None, &mut rng)?;
            while clustering.try_cluster_next(&store)? > 0 {}
            made += n;
        }
        let (live, _, _) = store.campaign_counts()?;
        let mut timings = Vec::with_capacity(args.probes);
        let mut joined_expected = 0;
        for chunk in (0..args.probes).collect::<Vec<_>>().chunks(store_batch()) {
            let mut variants = Vec::new();
            let mut fresh = Vec::new();
            for _ in chunk {
                if rng.below(2) == 0 && made > 0 {
                    variants.push(rng.below(made as u64) as usize);
                } else {
                    fresh.push(1_000_000_000 + rng.below(1 << 40) as usize);
                }
            }
            joined_expected += variants.len();
            add(&store, &variants, Some(&mut rng.fork()), &mut rng)?;
            add(&store, &fresh, None, &mut rng)?;
            while clustering.try_cluster_next_timed(&store, Some(&mut timings))? > 0 {}
        }
        let (after, _, _) = store.campaign_counts()?;
        let created = after.saturating_sub(live) as usize;
        let joined = args.probes.saturating_sub(created);
        timings.sort();
        let pct = |p: f64| {
            let i = ((timings.len() as f64 * p).ceil() as usize).saturating_sub(1);
            timings.get(i).copied().unwrap_or_default()
        };
        let mean = timings.iter().sum::<Duration>() / timings.len().max(1) as u32;
        // The database and its write-ahead log (recent pages live there until a checkpoint).
        let db: u64 = ["spamhattan.sqlite", "spamhattan.sqlite-wal"]
            .iter()
            .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
            .map(|m| m.len())
            .sum();
        writeln!(
            out,
            "| {} | {} | {}/{} | {} | {} | {} | {} | {} | {:.1} |",
            live,
            timings.len(),
            joined,
            joined_expected,
            pct(0.5).as_micros(),
            pct(0.99).as_micros(),
            timings.last().copied().unwrap_or_default().as_micros(),
            mean.as_micros(),
            db / after.max(1),
            peak_rss_mib()
        )?;
        out.flush()?;
    }
    store.close()?;
    Ok(ExitCode::SUCCESS)
}

/// Probe messages clustered per round (one cluster step's worth).
fn store_batch() -> usize {
    crate::worker::campaign::CLUSTER_BATCH
}

/// Captures and saves one analysed message per campaign number in `which`; with `variant`,
/// the text is a variant of that campaign's (some words replaced, a name inserted).
fn add(store: &Store, which: &[usize], mut variant: Option<&mut Rng>, rng: &mut Rng) -> Result<()> {
    let mut messages = Vec::with_capacity(which.len());
    for &c in which {
        let nonce = rng.next();
        let (raw, report) = synthetic(c, variant.as_deref_mut(), nonce);
        let sighting = super::bench_fill::sighting(&raw, "192.0.2.7:40000");
        messages.push((raw, sighting, report));
    }
    super::bench_fill::capture_and_save(store, messages)
}

/// The raw bytes and report of a message of campaign `c`.
fn synthetic(c: usize, variant: Option<&mut Rng>, nonce: u64) -> (Vec<u8>, Report) {
    let mut words = Rng(0x9E37_79B9_7F4A_7C15 ^ (c as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut text: Vec<String> = (0..BODY_WORDS)
        .map(|_| format!("w{}", words.below(VOCABULARY as u64)))
        .collect();
    let subject = format!(
        "w{} w{} w{} order 0",
        words.below(VOCABULARY as u64),
        words.below(VOCABULARY as u64),
        words.below(VOCABULARY as u64)
    );
    let domain = format!("c{c}-{}.example", words.below(1 << 30));
    if let Some(v) = variant {
        for _ in 0..4 {
            let i = v.below(BODY_WORDS as u64) as usize;
            text[i] = format!("name{}", v.below(1 << 20));
        }
    }
    let body = text.join(" ");
    let raw = format!(
        "Subject: {subject}\r\nX-Nonce: {nonce}\r\nFrom: x@{domain}\r\n\r\n{body}\r\nhttps://{domain}/t/{nonce}\r\n"
    )
    .into_bytes();
    let url = format!("https://{domain}/t/{nonce}");
    let report = Report {
        schema: model::report::REPORT_SCHEMA,
        engine: "bench".into(),
        message_id: MessageId::of(&raw),
        size: raw.len() as u64,
        headers: Headers {
            subject: Some(subject.clone()),
            subject_template: Some(subject),
            ..Headers::default()
        },
        bodies: vec![BodyPart {
            part: "1".into(),
            content_type: "text/plain".into(),
            chars: body.len() as u64,
            minhash: analysis::cluster::minhash(&body).map(|m| analysis::cluster::to_hex(&m)),
            ..BodyPart::default()
        }],
        urls: vec![UrlRecord {
            url: url.clone(),
            defanged: url.replace("https", "hxxps"),
            host: domain.clone(),
            registered_domain: Some(domain.clone()),
            ..UrlRecord::default()
        }],
        artifacts: vec![],
        auth: None,
        scans: vec![],
        findings: vec![],
        indicators: vec![Indicator {
            kind: IndicatorKind::Url,
            value: url,
            at: "urls[0]".into(),
        }],
        trap_addresses: vec![],
        anomalies: vec![],
        verdict: Verdict {
            class: VerdictClass::Phishing,
            score: 50,
            reasons: vec![],
        },
        budget: BudgetUse::default(),
    };
    (raw, report)
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// xorshift64*: deterministic, good enough to draw words.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn fork(&mut self) -> Rng {
        Rng(self.next() | 1)
    }
}
