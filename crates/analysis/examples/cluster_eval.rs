//! Measures campaign clustering against labelled traffic:
//! `cargo run -p spamhattan-analysis --release --example cluster_eval -- DIR [LABELS.csv] [-v]`
//!
//! Analyses every `DIR/*.eml` (in file-name order) with `Engine::with_defaults()`, clusters the
//! messages online with `analysis::cluster` and an in-memory inverted index that behaves like
//! the store's (posting lists over [`POSTING_CAP`] campaigns are ignored, the
//! [`MAX_CANDIDATES`] campaigns with most key hits are scored), and prints pairwise precision,
//! recall and the adjusted Rand index against the labels (`file,label` CSV, `DIR/labels.csv` by
//! default; labels starting `noise` are singletons each). `-v` lists every impure or split
//! cluster. Timings are printed too (meaningful in release builds only).

use analysis::cluster::{self, Decision, Thresholds};
use analysis::{Engine, Input};
use model::{CampaignId, CampaignProfile, Features};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Instant;

/// Campaigns a posting list may hold before its key is ignored (the store's cap).
const POSTING_CAP: usize = 64;
/// Candidates handed to `decide` (the store's choice).
const MAX_CANDIDATES: usize = 16;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verbose = args.iter().any(|a| a == "-v");
    if let Some(i) = args.iter().position(|a| a == "--pair") {
        return pair(args.get(i + 1), args.get(i + 2));
    }
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let Some(dir) = positional.first().map(PathBuf::from) else {
        eprintln!("usage: cluster_eval DIR [LABELS.csv] [-v]");
        std::process::exit(2);
    };
    let labels_path = positional
        .get(1)
        .map_or_else(|| dir.join("labels.csv"), PathBuf::from);
    let labels = read_labels(&labels_path)?;

    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();

    let engine = Engine::with_defaults();
    let mut index = Index::default();
    let mut assigned: Vec<(String, CampaignId)> = Vec::new();
    let mut t_features = Vec::new();
    let mut t_decide = Vec::new();
    let mut sketches: Vec<(String, Vec<u32>)> = Vec::new();
    let mut all_features: Vec<Features> = Vec::new();
    for path in &files {
        let raw = std::fs::read(path)?;
        let report = engine.analyze(&raw, &Input::default());
        let start = Instant::now();
        let f = cluster::features(&report, None);
        t_features.push(start.elapsed().as_secs_f64() * 1e6);
        let start = Instant::now();
        let id = index.assign(&f);
        t_decide.push(start.elapsed().as_secs_f64() * 1e6);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(label) = labels.get(&name) {
            sketches.push((label.clone(), f.body_minhash.clone()));
        }
        assigned.push((name, id));
        all_features.push(f);
    }

    // Truth and prediction per message (unlabelled files are left out).
    let mut pairs: Vec<(String, CampaignId, String)> = Vec::new();
    for (name, id) in &assigned {
        let Some(label) = labels.get(name) else {
            continue;
        };
        let truth = if label.starts_with("noise") {
            format!("{label}#{name}")
        } else {
            label.clone()
        };
        pairs.push((name.clone(), index.resolve(*id), truth));
    }
    let m = metrics(&pairs);
    println!(
        "messages {}  labelled {}  campaigns {}  true clusters {}",
        files.len(),
        pairs.len(),
        index.live(),
        pairs
            .iter()
            .map(|p| &p.2)
            .collect::<std::collections::HashSet<_>>()
            .len()
    );
    println!(
        "pairwise precision {:.4}  recall {:.4}  ARI {:.4}",
        m.precision, m.recall, m.ari
    );
    println!(
        "features µs p50 {:.1} p99 {:.1}   assign (index + decide + apply) µs p50 {:.1} p99 {:.1}",
        pct(&mut t_features, 0.5),
        pct(&mut t_features, 0.99),
        pct(&mut t_decide, 0.5),
        pct(&mut t_decide, 0.99)
    );
    bench_decide(&index, &all_features);
    if verbose {
        explain(&pairs);
    }
    if args.iter().any(|a| a == "--sims") {
        similarities(&sketches);
    }
    Ok(())
}

/// `--pair A B`: the features of two messages and the score of B against A's profile.
fn pair(a: Option<&String>, b: Option<&String>) -> Result<(), Box<dyn std::error::Error>> {
    let (Some(a), Some(b)) = (a, b) else {
        eprintln!("usage: cluster_eval --pair A.eml B.eml");
        std::process::exit(2);
    };
    let engine = Engine::with_defaults();
    let fa = cluster::features(&engine.analyze(&std::fs::read(a)?, &Input::default()), None);
    let fb = cluster::features(&engine.analyze(&std::fs::read(b)?, &Input::default()), None);
    for f in [&fa, &fb] {
        let mut shown = f.clone();
        shown.body_minhash.truncate(2);
        println!("{}", serde_json::to_string_pretty(&shown)?);
    }
    println!(
        "minhash similarity {:.3}",
        cluster::similarity(&fa.body_minhash, &fb.body_minhash)
    );
    println!("{:?}", cluster::score(&fb, &cluster::new_profile(&fa)));
    Ok(())
}

/// The in-memory campaign index: profiles, postings and merge redirects.
#[derive(Default)]
struct Index {
    profiles: BTreeMap<CampaignId, CampaignProfile>,
    postings: HashMap<i64, Vec<CampaignId>>,
    merged_into: HashMap<CampaignId, CampaignId>,
    next: CampaignId,
}

impl Index {
    fn resolve(&self, mut id: CampaignId) -> CampaignId {
        while let Some(next) = self.merged_into.get(&id) {
            id = *next;
        }
        id
    }

    fn live(&self) -> usize {
        self.profiles.len()
    }

    fn assign(&mut self, f: &Features) -> CampaignId {
        let keys = cluster::keys(f);
        let mut hits: HashMap<CampaignId, usize> = HashMap::new();
        for k in &keys {
            let Some(list) = self.postings.get(k) else {
                continue;
            };
            if list.len() > POSTING_CAP {
                continue;
            }
            for id in list {
                *hits.entry(self.resolve(*id)).or_default() += 1;
            }
        }
        let mut ranked: Vec<(CampaignId, usize)> = hits.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(MAX_CANDIDATES);
        let candidates: Vec<(CampaignId, &CampaignProfile)> = ranked
            .iter()
            .filter_map(|(id, _)| self.profiles.get(id).map(|p| (*id, p)))
            .collect();
        let decision = cluster::decide(f, &candidates, &Thresholds::default());
        match decision {
            Decision::New => {
                self.next += 1;
                let id = self.next;
                self.profiles.insert(id, cluster::new_profile(f));
                self.index(id, &keys);
                id
            }
            Decision::Join { campaign, .. } => {
                if let Some(p) = self.profiles.get_mut(&campaign) {
                    cluster::absorb(p, f);
                }
                self.index(campaign, &keys);
                campaign
            }
            Decision::Merge { into, from, .. } => {
                for id in from {
                    if let Some(p) = self.profiles.remove(&id) {
                        if let Some(target) = self.profiles.get_mut(&into) {
                            cluster::merge_profiles(target, &p);
                        }
                        self.merged_into.insert(id, into);
                    }
                }
                let mut all = keys;
                if let Some(p) = self.profiles.get_mut(&into) {
                    cluster::absorb(p, f);
                    all.extend(cluster::profile_keys(p));
                }
                self.index(into, &all);
                into
            }
        }
    }

    fn index(&mut self, id: CampaignId, keys: &[i64]) {
        for k in keys {
            let list = self.postings.entry(*k).or_default();
            if !list.contains(&id) && list.len() <= POSTING_CAP {
                list.push(id);
            }
        }
    }
}

fn read_labels(path: &PathBuf) -> Result<HashMap<String, String>, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(','))
        .map(|(f, l)| (f.trim().to_string(), l.trim().to_string()))
        .collect())
}

struct Metrics {
    precision: f64,
    recall: f64,
    ari: f64,
}

fn choose2(n: usize) -> f64 {
    let n = n as f64;
    n * (n - 1.0) / 2.0
}

/// Pairwise precision/recall and ARI from the contingency table.
fn metrics(pairs: &[(String, CampaignId, String)]) -> Metrics {
    let mut cells: HashMap<(CampaignId, &str), usize> = HashMap::new();
    let mut predicted: HashMap<CampaignId, usize> = HashMap::new();
    let mut truth: HashMap<&str, usize> = HashMap::new();
    for (_, id, label) in pairs {
        *cells.entry((*id, label.as_str())).or_default() += 1;
        *predicted.entry(*id).or_default() += 1;
        *truth.entry(label.as_str()).or_default() += 1;
    }
    let tp: f64 = cells.values().map(|n| choose2(*n)).sum();
    let pred_pairs: f64 = predicted.values().map(|n| choose2(*n)).sum();
    let true_pairs: f64 = truth.values().map(|n| choose2(*n)).sum();
    let all = choose2(pairs.len());
    let expected = if all > 0.0 {
        pred_pairs * true_pairs / all
    } else {
        0.0
    };
    let max = (pred_pairs + true_pairs) / 2.0;
    Metrics {
        precision: if pred_pairs > 0.0 {
            tp / pred_pairs
        } else {
            1.0
        },
        recall: if true_pairs > 0.0 {
            tp / true_pairs
        } else {
            1.0
        },
        ari: if max - expected != 0.0 {
            (tp - expected) / (max - expected)
        } else {
            1.0
        },
    }
}

/// Lists predicted clusters holding several labels and labels split over several clusters.
fn explain(pairs: &[(String, CampaignId, String)]) {
    let mut by_cluster: BTreeMap<CampaignId, BTreeMap<&str, Vec<&str>>> = BTreeMap::new();
    let mut by_label: BTreeMap<&str, BTreeMap<CampaignId, Vec<&str>>> = BTreeMap::new();
    for (name, id, label) in pairs {
        by_cluster
            .entry(*id)
            .or_default()
            .entry(label.as_str())
            .or_default()
            .push(name.as_str());
        by_label
            .entry(label.as_str())
            .or_default()
            .entry(*id)
            .or_default()
            .push(name.as_str());
    }
    for (id, labels) in &by_cluster {
        if labels.len() > 1 {
            let parts: Vec<String> = labels
                .iter()
                .map(|(l, files)| format!("{l}×{} ({})", files.len(), files[0]))
                .collect();
            println!("impure campaign {id}: {}", parts.join(", "));
        }
    }
    for (label, clusters) in &by_label {
        if clusters.len() > 1 {
            let parts: Vec<String> = clusters
                .iter()
                .map(|(c, files)| format!("{c}×{} ({})", files.len(), files[0]))
                .collect();
            println!("split label {label}: {}", parts.join(", "));
        }
    }
}

/// Times `decide` of every message against the 16 largest campaigns (the worst case the
/// store hands over: every candidate scored in full).
fn bench_decide(index: &Index, features: &[Features]) {
    let mut big: Vec<(CampaignId, &CampaignProfile)> =
        index.profiles.iter().map(|(id, p)| (*id, p)).collect();
    big.sort_by(|a, b| b.1.messages.cmp(&a.1.messages).then(a.0.cmp(&b.0)));
    big.truncate(MAX_CANDIDATES);
    let mut times = Vec::with_capacity(features.len());
    let t = Thresholds::default();
    for f in features {
        let start = Instant::now();
        let d = cluster::decide(f, &big, &t);
        times.push(start.elapsed().as_secs_f64() * 1e6);
        std::hint::black_box(d);
    }
    println!(
        "decide over {} largest campaigns µs p50 {:.1} p99 {:.1}",
        big.len(),
        pct(&mut times, 0.5),
        pct(&mut times, 0.99)
    );
}

/// `--sims`: how similar bodies are within a label and across labels (MinHash estimates).
fn similarities(sketches: &[(String, Vec<u32>)]) {
    let mut within = Vec::new();
    let mut across_max = Vec::new();
    for (i, (la, a)) in sketches.iter().enumerate() {
        if a.is_empty() {
            continue;
        }
        let mut best_across: f64 = 0.0;
        for (j, (lb, b)) in sketches.iter().enumerate() {
            if i == j || b.is_empty() {
                continue;
            }
            let s = cluster::similarity(a, b);
            if la == lb && !la.starts_with("noise") {
                if j > i {
                    within.push(s);
                }
            } else {
                best_across = best_across.max(s);
            }
        }
        across_max.push(best_across);
    }
    for q in [0.01, 0.05, 0.1, 0.5] {
        println!(
            "within-label pair similarity q{q}: {:.3}",
            pct(&mut within, q)
        );
    }
    for q in [0.5, 0.9, 0.99, 1.0] {
        println!(
            "best other-label similarity q{q}: {:.3}",
            pct(&mut across_max, q)
        );
    }
}

fn pct(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let i = ((values.len() - 1) as f64 * q).round() as usize;
    values[i.min(values.len() - 1)]
}
