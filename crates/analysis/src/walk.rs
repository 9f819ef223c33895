//! One analysis in progress: the report being built, the budget left, and the helpers every
//! parser uses to record what it found (`finding`, `anomaly`, `limit`, `url`, `add_object`).

use crate::engine::{Engine, Input};
use crate::kind::Kind;
use model::report::{Artifact, BudgetUse, Finding, Headers, Report, ReportAnomaly, Verdict};
use model::{AnomalyKind, MessageId};
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

/// How an extracted object came out of its container.
#[derive(Debug, Clone, Default)]
pub(crate) struct Origin {
    /// Declared MIME type (attachments only).
    pub declared_type: Option<String>,
    /// The container entry was encrypted.
    pub encrypted: bool,
    /// The password that decrypted it.
    pub password: Option<String>,
    /// The kind, when the caller knows better than sniffing (fuzz targets forcing a parser).
    pub kind: Option<Kind>,
}

/// The state of one message's analysis.
pub(crate) struct Walk<'e> {
    pub engine: &'e Engine,
    pub input: &'e Input<'e>,
    pub report: Report,
    /// Passwords to try on encrypted containers: defaults, then those found in the bodies.
    pub passwords: Vec<String>,
    /// URL → index in `report.urls`.
    pub(crate) url_index: HashMap<String, usize>,
    started: Instant,
    out_of_time: bool,
}

impl<'e> Walk<'e> {
    pub(crate) fn run(engine: &'e Engine, raw: &[u8], input: &'e Input<'e>) -> Report {
        let mut walk = Walk::new(engine, raw, input);
        crate::yara::scan(&mut walk, raw, "message");
        crate::mime::walk_message(&mut walk, raw);
        crate::headers::check_consistency(&mut walk);
        walk.finish()
    }

    /// Analyses a bare file (a sample, not a mail) as if it were the only attachment of a
    /// message: `artifacts[0]` is the file.
    pub(crate) fn run_object(
        engine: &'e Engine,
        name: Option<String>,
        data: &[u8],
        kind: Option<Kind>,
        input: &'e Input<'e>,
    ) -> Report {
        let mut walk = Walk::new(engine, data, input);
        walk.report.budget.bytes = 0;
        let origin = Origin {
            kind,
            ..Origin::default()
        };
        walk.add_object(None, name, data, origin);
        walk.finish()
    }

    fn new(engine: &'e Engine, raw: &[u8], input: &'e Input<'e>) -> Walk<'e> {
        let started = Instant::now();
        let mut walk = Walk {
            engine,
            input,
            report: Report {
                schema: model::report::REPORT_SCHEMA,
                engine: engine.version().to_string(),
                message_id: MessageId::of(raw),
                size: raw.len() as u64,
                headers: Headers::default(),
                bodies: Vec::new(),
                urls: Vec::new(),
                artifacts: Vec::new(),
                auth: input.auth.clone(),
                scans: Vec::new(),
                findings: Vec::new(),
                indicators: Vec::new(),
                trap_addresses: Vec::new(),
                anomalies: Vec::new(),
                verdict: Verdict::default(),
                budget: BudgetUse::default(),
            },
            passwords: engine.passwords.clone(),
            url_index: HashMap::new(),
            started,
            out_of_time: false,
        };
        walk.report.budget.objects = 1;
        walk.report.budget.bytes = raw.len() as u64;
        walk
    }

    fn finish(self) -> Report {
        let mut report = self.report;
        report.trap_addresses = crate::indicators::trap_addresses(&report, self.input);
        crate::scan_findings(&mut report);
        crate::auth_findings(&mut report);
        report.indicators = crate::indicators::collect(&report);
        report.verdict = self.engine.rules.decide(&report);
        report.budget.elapsed_us =
            u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        report
    }

    /// Records a fact the verdict rules can score.
    pub fn finding(&mut self, signal: &str, at: impl Into<String>, detail: impl Into<String>) {
        let at = at.into();
        let detail = bounded(detail.into(), 300);
        if self.report.findings.len() >= MAX_FINDINGS {
            return;
        }
        if self
            .report
            .findings
            .iter()
            .any(|f| f.signal == signal && f.at == at && f.detail == detail)
        {
            return;
        }
        self.report.findings.push(Finding {
            signal: signal.to_string(),
            at,
            detail,
        });
    }

    /// Records malformed content or a caught failure. Past `MAX_ANOMALIES` only the one
    /// `budget-exceeded` anomaly is still recorded: a bomb that fills the list with limits must
    /// not hide that the analysis ran out of time.
    pub fn anomaly(&mut self, kind: AnomalyKind, at: impl Into<String>, detail: impl Into<String>) {
        if self.report.anomalies.len() >= MAX_ANOMALIES && kind != AnomalyKind::BudgetExceeded {
            return;
        }
        self.report.anomalies.push(ReportAnomaly {
            kind,
            at: at.into(),
            detail: bounded(detail.into(), 300),
        });
    }

    /// Records that the named limit (a field of `Limits`) was reached at `at`, once per
    /// place: a bomb's container hitting `max_ratio` with each of its entries is one anomaly.
    pub fn limit(&mut self, name: &'static str, at: impl Into<String>) {
        let at = at.into();
        if !self.report.budget.limits_hit.iter().any(|l| l == name) {
            self.report.budget.limits_hit.push(name.to_string());
        }
        let recorded = self
            .report
            .anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::LimitReached && a.at == at && a.detail == name);
        if !recorded {
            self.anomaly(AnomalyKind::LimitReached, at, name);
        }
    }

    /// Adds a URL seen at `source` (a location such as `bodies[0].href`).
    pub fn url(&mut self, raw: &str, source: &str) {
        crate::urls::add(self, raw, source);
    }

    /// True once the time budget is spent (recorded once). Parsers check it between objects.
    pub fn out_of_time(&mut self) -> bool {
        if !self.out_of_time && self.started.elapsed() > self.engine.limits.time_budget {
            self.out_of_time = true;
            self.report
                .budget
                .limits_hit
                .push("time_budget".to_string());
            self.anomaly(AnomalyKind::BudgetExceeded, "message", "time_budget");
        }
        self.out_of_time
    }

    /// Time left in the budget (for engines with their own timeout, such as YARA).
    #[cfg_attr(not(feature = "yara"), allow(dead_code))]
    pub fn time_left(&self) -> std::time::Duration {
        self.engine
            .limits
            .time_budget
            .saturating_sub(self.started.elapsed())
    }

    /// Runs one parser on hostile bytes: a panic becomes a `parser-panic` anomaly at `at`, and
    /// the analysis goes on without that parser's result.
    pub fn guard<T>(
        &mut self,
        at: &str,
        parser: &str,
        f: impl FnOnce(&mut Walk<'e>) -> T,
    ) -> Option<T> {
        match catch_unwind(AssertUnwindSafe(|| f(self))) {
            Ok(v) => Some(v),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                self.anomaly(AnomalyKind::ParserPanic, at, format!("{parser}: {msg}"));
                None
            }
        }
    }

    /// Adds an object (attachment or extracted entry), hashes and sniffs it, scans it and
    /// inspects it by kind, recursively. Returns its index, or `None` when a limit refused it.
    pub fn add_object(
        &mut self,
        parent: Option<u32>,
        name: Option<String>,
        data: &[u8],
        origin: Origin,
    ) -> Option<u32> {
        let limits = &self.engine.limits;
        let (depth, parent_path) = match parent {
            Some(p) => {
                let a = &self.report.artifacts[p as usize];
                (a.depth + 1, a.path.clone())
            }
            None => (0, String::new()),
        };
        let at_parent = parent.map_or("message".to_string(), |p| format!("artifacts[{p}]"));
        if depth > limits.max_depth {
            self.limit("max_depth", at_parent);
            return None;
        }
        if self.report.artifacts.len() as u32 >= limits.max_objects {
            self.limit("max_objects", at_parent);
            return None;
        }
        if data.len() as u64 > limits.max_object_bytes {
            self.limit("max_object_bytes", at_parent);
            return None;
        }
        let total = self.report.budget.bytes + data.len() as u64;
        if total > limits.max_total_bytes {
            self.limit("max_total_bytes", at_parent);
            return None;
        }
        if self.out_of_time() {
            return None;
        }
        self.report.budget.bytes = total;
        self.report.budget.objects += 1;
        let index = self.report.artifacts.len() as u32;
        let at = format!("artifacts[{index}]");
        let kind = if let Some(kind) = origin.kind {
            kind
        } else if origin.declared_type.as_deref() == Some("message/rfc822") {
            Kind::Eml
        } else {
            crate::sniff::sniff(data, name.as_deref())
        };
        let shown = name.clone().unwrap_or_else(|| format!("#{index}"));
        let path = if parent_path.is_empty() {
            shown
        } else {
            format!("{parent_path}/{shown}")
        };
        let hashes = self
            .guard(&at, "hashes", |_| crate::hashes::compute(data))
            .unwrap_or_default();
        let name_tricks =
            crate::names::tricks(name.as_deref(), origin.declared_type.as_deref(), kind);
        self.report.artifacts.push(Artifact {
            index,
            parent,
            depth,
            path,
            name,
            declared_type: origin.declared_type,
            kind: kind.as_str().to_string(),
            size: data.len() as u64,
            hashes,
            encrypted: origin.encrypted,
            password: origin.password,
            name_tricks,
            ..Artifact::default()
        });
        crate::names::findings(self, index);
        crate::yara::scan(self, data, &at);
        crate::object::inspect(self, index, kind, data);
        Some(index)
    }

    /// The artefact at `index`, for parsers filling in their details.
    pub fn artifact(&mut self, index: u32) -> &mut Artifact {
        &mut self.report.artifacts[index as usize]
    }
}

/// Anomalies kept per message: enough to show every kind of trouble a real file has; a bomb
/// repeating one limit ten thousand times would otherwise make the report that large.
pub(crate) const MAX_ANOMALIES: usize = 200;

/// Findings kept per message. Rules need one finding per signal to fire; a message with 2,000
/// IP-literal URLs would otherwise make 2,000 findings, each deduplicated against all the others.
pub(crate) const MAX_FINDINGS: usize = 1_000;

/// Cuts attacker text to at most `max` bytes on a character boundary.
pub(crate) fn bounded(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}
