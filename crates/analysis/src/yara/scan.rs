//! Running the compiled rules on one object, with one reusable scanner per worker thread.

use crate::walk::Walk;
use model::AnomalyKind;
use model::report::ScanHit;
use std::cell::RefCell;
use std::time::Duration;

/// Largest object scanned. Malspam payloads are small (scripts, documents, loaders of a few
/// MiB); a bigger object is padding meant to push files past scanners, and scanning it would
/// cost time the rest of the message needs. It is flagged, and the other parsers still see it.
pub(crate) const MAX_SCAN_BYTES: usize = 32 << 20;

/// Matches kept per pattern. The rules only ask whether a pattern occurs (or a few times); a
/// crafted file with a million occurrences of a short pattern must not cost a million records.
const MAX_MATCHES_PER_PATTERN: usize = 1_000;

/// Rules recorded per scanned object: an operator rule set matching hundreds of rules on one
/// file would flood the report without telling more.
const MAX_HITS_PER_OBJECT: usize = 64;

thread_local! {
    /// The scanner of this thread, over the rules it was built for. Building a scanner
    /// instantiates the rules' WASM module, which costs more than scanning a small object
    /// (measured in `tests/yara.rs`, `scan_overhead`), and `scan` runs once per message and once
    /// per object. Taken out while in use, so a panic inside yara-x drops it instead of leaving
    /// a half-run scanner behind.
    static SCANNER: RefCell<Option<Cached>> = const { RefCell::new(None) };
}

struct Cached {
    /// Identity of the rules: they are leaked, so no other rule set can reuse the address.
    rules: &'static yara_x::Rules,
    scanner: yara_x::Scanner<'static>,
}

/// What one rule match records.
struct Matched {
    rule: String,
    namespace: String,
    tags: Vec<String>,
}

/// Scans `data` (the object at location `at`) and records hits in `report.scans`.
pub(crate) fn scan(walk: &mut Walk<'_>, data: &[u8], at: &str) {
    let Some(rules) = walk.engine.yara.rules else {
        return;
    };
    if data.len() > MAX_SCAN_BYTES {
        walk.anomaly(
            AnomalyKind::LimitReached,
            at,
            format!(
                "yara: {} bytes not scanned (more than {MAX_SCAN_BYTES})",
                data.len()
            ),
        );
        return;
    }
    if walk.out_of_time() {
        return;
    }
    let timeout = walk.time_left();
    match walk.guard(at, "yara", |_| run(rules, data, timeout)) {
        Some(Ok(matched)) => record(walk, matched, at),
        Some(Err(yara_x::ScanError::Timeout)) => {
            walk.anomaly(AnomalyKind::BudgetExceeded, at, "yara: scan timed out");
        }
        Some(Err(err)) => walk.anomaly(AnomalyKind::MalformedContent, at, format!("yara: {err}")),
        None => {}
    }
}

/// Runs the rules with this thread's scanner (built on first use or when the rules changed).
/// yara-x counts its timeout in whole seconds (rounded up), which is what the budget needs: a
/// message near its end still gets up to a second, and `out_of_time` stops the walk after.
fn run(
    rules: &'static yara_x::Rules,
    data: &[u8],
    timeout: Duration,
) -> Result<Vec<Matched>, yara_x::ScanError> {
    let reused = SCANNER
        .try_with(|cell| cell.borrow_mut().take())
        .ok()
        .flatten()
        .filter(|c| std::ptr::eq(c.rules, rules));
    let mut cached = reused.unwrap_or_else(|| new_scanner(rules));
    cached.scanner.set_timeout(timeout);
    let matched = match cached.scanner.scan(data) {
        Ok(results) => results
            .matching_rules()
            .take(MAX_HITS_PER_OBJECT + 1)
            .map(|rule| Matched {
                rule: rule.identifier().to_string(),
                namespace: rule.namespace().to_string(),
                tags: rule.tags().map(|t| t.identifier().to_string()).collect(),
            })
            .collect(),
        // After an error (a timeout) the scanner is dropped rather than trusted again.
        Err(err) => return Err(err),
    };
    // Ignoring the error: the thread is exiting, the next call builds a new scanner.
    let _ = SCANNER.try_with(|cell| *cell.borrow_mut() = Some(cached));
    Ok(matched)
}

fn new_scanner(rules: &'static yara_x::Rules) -> Cached {
    let mut scanner = yara_x::Scanner::new(rules);
    scanner
        .max_matches_per_pattern(MAX_MATCHES_PER_PATTERN)
        // Only whether a rule matched is recorded, so the first occurrence of a pattern that
        // is only tested for existence is enough.
        .fast_scan(true);
    Cached { rules, scanner }
}

/// Adds the hits, once per (namespace, rule, location).
fn record(walk: &mut Walk<'_>, matched: Vec<Matched>, at: &str) {
    if matched.len() > MAX_HITS_PER_OBJECT {
        walk.anomaly(
            AnomalyKind::LimitReached,
            at,
            format!("yara: more than {MAX_HITS_PER_OBJECT} rules matched, the rest not recorded"),
        );
    }
    for m in matched.into_iter().take(MAX_HITS_PER_OBJECT) {
        let seen = walk.report.scans.iter().any(|h| {
            h.engine == "yara"
                && h.at == at
                && h.rule == m.rule
                && h.namespace.as_deref() == Some(m.namespace.as_str())
        });
        if !seen {
            walk.report.scans.push(ScanHit {
                engine: "yara".to_string(),
                rule: m.rule,
                namespace: Some(m.namespace),
                tags: m.tags,
                at: at.to_string(),
            });
        }
    }
}
