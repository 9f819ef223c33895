//! `spamhattan analyze FILE...`: the engine offline. One JSON report per file and line, in the
//! order of the arguments, with the file name added as `file`; `--summary` prints corpus counts.
//! No store and no network: authentication and ClamAV need the worker (`serve`/`worker`).

use crate::cli::AnalyzeArgs;
use crate::config::Config;
use analysis::{Engine, Input};
use anyhow::Result;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

/// Reports a thread hands to the printer at once.
const RESULT_BATCH: usize = 16;

/// Files larger than this are refused: a mail that size is not spam, and reading it whole
/// would cost that much memory per thread.
pub const MAX_FILE_BYTES: u64 = 512 << 20;

pub fn run(cfg: &Config, args: &AnalyzeArgs) -> Result<ExitCode> {
    let engine = super::build_engine(cfg)?;
    let mut files = Vec::new();
    for p in &args.paths {
        collect(p, &mut files)?;
    }
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, 64);
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<Vec<(usize, Outcome)>>(threads * 4);
    let mut summary = Summary::default();
    let mut failed = false;
    std::thread::scope(|scope| -> Result<()> {
        for _ in 0..threads {
            let tx = tx.clone();
            let (files, engine, next) = (&files, &engine, &next);
            scope.spawn(move || {
                // Results go to the printer in small batches: one wake-up per message cost
                // more CPU in futex calls than some of the parsers.
                let mut batch = Vec::with_capacity(RESULT_BATCH);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    batch.push((i, analyse_file(engine, path, args.object)));
                    if batch.len() == RESULT_BATCH && tx.send(std::mem::take(&mut batch)).is_err() {
                        return;
                    }
                }
                let _ = tx.send(batch);
            });
        }
        drop(tx);
        // Reorder: print in argument order whatever the threads finish first.
        let mut pending: BTreeMap<usize, Outcome> = BTreeMap::new();
        let mut printed = 0;
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for (i, outcome) in rx.into_iter().flatten() {
            pending.insert(i, outcome);
            while let Some(o) = pending.remove(&printed) {
                match o {
                    Outcome::Report {
                        file,
                        report,
                        bytes,
                    } => {
                        summary.add(&report, bytes);
                        if !args.quiet {
                            let json = serde_json::to_string(&report)?;
                            let file = serde_json::to_string(&file)?;
                            // `{"file":…,` + the report's own fields.
                            writeln!(out, "{{\"file\":{file},{}", &json[1..])?;
                        }
                    }
                    Outcome::Unreadable { file, error } => {
                        failed = true;
                        summary.unreadable += 1;
                        eprintln!("spamhattan: {file}: {error}");
                    }
                }
                printed += 1;
            }
        }
        out.flush()?;
        Ok(())
    })?;
    if args.summary {
        summary.print(started.elapsed().as_secs_f64(), threads);
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

enum Outcome {
    Report {
        file: String,
        report: Box<model::Report>,
        bytes: u64,
    },
    Unreadable {
        file: String,
        error: String,
    },
}

fn analyse_file(engine: &Engine, path: &Path, object: bool) -> Outcome {
    let file = path.display().to_string();
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > MAX_FILE_BYTES {
        return Outcome::Unreadable {
            file,
            error: format!("{size} bytes is over the {MAX_FILE_BYTES}-byte limit"),
        };
    }
    match std::fs::read(path) {
        Ok(raw) => {
            let input = Input::default();
            let report = if object {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                engine.analyze_object(name.as_deref(), &raw, &input)
            } else {
                engine.analyze(&raw, &input)
            };
            Outcome::Report {
                file,
                report: Box::new(report),
                bytes: raw.len() as u64,
            }
        }
        Err(e) => Outcome::Unreadable {
            file,
            error: e.to_string(),
        },
    }
}

/// Files under `p`, sorted, symlinks not followed into directories.
fn collect(p: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    // A path that cannot be read is still listed: it becomes an "unreadable" line on stderr
    // and exit code 1, while the other files are analysed.
    if std::fs::metadata(p).is_ok_and(|m| m.is_dir()) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            if std::fs::symlink_metadata(&e).is_ok_and(|m| m.is_dir() || m.is_file()) {
                collect(&e, out)?;
            }
        }
    } else {
        out.push(p.to_path_buf());
    }
    Ok(())
}

/// Corpus counts for `--summary`.
#[derive(Debug, Default)]
struct Summary {
    reports: u64,
    unreadable: u64,
    bytes: u64,
    anomalies: BTreeMap<String, u64>,
    urls: u64,
    artifacts: HashMap<String, u64>,
    verdicts: BTreeMap<String, u64>,
    limits: BTreeMap<String, u64>,
    max_elapsed_us: u64,
}

impl Summary {
    fn add(&mut self, r: &model::Report, bytes: u64) {
        self.reports += 1;
        self.bytes += bytes;
        for a in &r.anomalies {
            let kind = serde_json::to_value(a.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            *self.anomalies.entry(kind).or_default() += 1;
        }
        self.urls += r.urls.len() as u64;
        for a in &r.artifacts {
            *self.artifacts.entry(a.kind.clone()).or_default() += 1;
        }
        *self
            .verdicts
            .entry(r.verdict.class.as_str().to_string())
            .or_default() += 1;
        for l in &r.budget.limits_hit {
            *self.limits.entry(l.clone()).or_default() += 1;
        }
        self.max_elapsed_us = self.max_elapsed_us.max(r.budget.elapsed_us);
    }

    fn print(&self, secs: f64, threads: usize) {
        let mut artifacts: Vec<_> = self.artifacts.iter().collect();
        artifacts.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let v = serde_json::json!({
            "reports": self.reports,
            "unreadable": self.unreadable,
            "bytes": self.bytes,
            "seconds": (secs * 1000.0).round() / 1000.0,
            "threads": threads,
            "messages_per_second": (self.reports as f64 / secs.max(1e-9)).round(),
            "mb_per_second": ((self.bytes as f64 / 1e6) / secs.max(1e-9) * 10.0).round() / 10.0,
            "max_message_ms": self.max_elapsed_us / 1000,
            "anomalies": self.anomalies,
            "urls": self.urls,
            "attachments_by_type": artifacts.into_iter().map(|(k, v)| (k.clone(), *v)).collect::<BTreeMap<_,_>>(),
            "verdicts": self.verdicts,
            "limits_hit": self.limits,
        });
        eprintln!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    }
}
