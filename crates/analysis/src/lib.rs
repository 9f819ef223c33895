//! Analysis: raw message bytes (and, when known, the envelope) in, a [`model::Report`] out.
//!
//! Pure: no tokio, no store, no network. Authentication (DNS) and ClamAV (a socket) run in the
//! `enrich` crate and hand their results in through [`Input`] or [`Engine::rescore`].
//!
//! [`Engine::analyze`] parses the MIME tree (`mime.rs`), decodes the headers (`headers/`) and
//! the bodies (`body/`, `lang.rs`, `lure.rs`), collects URLs (`urls/`), and hands every
//! attachment to `Walk::add_object` (`walk.rs`), which hashes it (`hashes.rs`), sniffs its type
//! (`sniff.rs`), checks its name (`names.rs`), scans it with YARA (`yara/`) and dispatches it by
//! kind (`object.rs`) to the containers (`containers/`), Office (`office/`), PDF (`pdf/`), LNK
//! (`lnk.rs`), HTML (`html/`), OneNote (`onenote.rs`), script (`script/`) and PE (`exe.rs`)
//! parsers, which add what they extract as child objects, recursively. Findings, indicators
//! (`indicators.rs`) and the verdict (`verdict.rs`, rules in `rules/verdict.toml`) come last.
//! [`cluster`] groups analysed messages into campaigns (pure; the store keeps the index).
//!
//! Hostile input is the normal case: every quantity has a limit in [`Limits`], every parser
//! runs under `catch_unwind` (`Walk::guard`), and whatever fails becomes a report anomaly.
//! The time budget is wall-clock and checked between objects (and handed to YARA as its
//! timeout); a single third-party parser call cannot be interrupted, which is why every format
//! parser also has its own size and count limits.

mod attachments;
mod body;
pub mod cluster;
mod containers;
mod engine;
mod exe;
mod hashes;
mod headers;
mod html;
mod indicators;
mod kind;
mod lang;
mod limits;
mod lnk;
mod lure;
mod mime;
mod names;
mod object;
mod office;
mod onenote;
mod passwords;
mod pdf;
mod script;
mod sniff;
mod ssdeep;
mod urls;
mod verdict;
mod walk;
pub mod warning;
mod yara;

pub use attachments::{AttachmentLimits, top_level_attachments};
pub use engine::{DEFAULT_PASSWORDS, Engine, EngineConfig, EngineError, Input};
pub use kind::Kind;
pub use limits::Limits;
pub use verdict::Rules;

/// Public entry points of single parsers, for fuzzing and for the reference-tool comparisons.
pub mod parsers {
    pub use crate::hashes::{ssdeep, tlsh};
    pub use crate::sniff::sniff;
}

/// The guards the MIME walk puts around mail-parser, for whoever else parses hostile mail
/// with it (the console's message view in `web`), so that a part bomb is cut at the same
/// place and a deep chain of attached messages never overflows the stack there either:
/// [`part_bomb_cut`](crate::mail_guards::part_bomb_cut) says where to cut a message before
/// parsing it (past too many lines starting with `--`, header-like lines or attached
/// messages): the byte offset of the cut, the limit's name as a report's `limits_hit` lists
/// it, and a sentence for the analyst; and
/// [`drop_flat`](crate::mail_guards::drop_flat) drops a parsed message level by level.
pub mod mail_guards {
    pub use crate::mime::{drop_flat, part_bomb_cut};
}

/// Turns authentication results into findings (`auth.spf.fail`, `auth.dkim.pass`,
/// `auth.dmarc.fail`, `auth.arc.none`...). Idempotent.
pub(crate) fn auth_findings(report: &mut model::Report) {
    let Some(auth) = &report.auth else { return };
    let mut signals = vec![
        (
            format!("auth.spf.{}", auth.spf.result),
            auth.spf.domain.clone(),
        ),
        (
            format!("auth.dmarc.{}", auth.dmarc.result),
            auth.dmarc.domain.clone(),
        ),
        (format!("auth.arc.{}", auth.arc.result), String::new()),
    ];
    for d in &auth.dkim {
        signals.push((format!("auth.dkim.{}", d.result), d.domain.clone()));
    }
    for (signal, detail) in signals {
        let f = model::report::Finding {
            signal,
            at: "auth".to_string(),
            detail,
        };
        if !report.findings.contains(&f) {
            report.findings.push(f);
        }
    }
}

/// Turns scanner hits into findings (`yara.<rule>`, `yara-tag.<tag>`, `clamav.hit`) so that
/// verdict rules can score them. Idempotent.
pub(crate) fn scan_findings(report: &mut model::Report) {
    let mut new = Vec::new();
    for hit in &report.scans {
        let mut signals = vec![format!("{}.{}", hit.engine, hit.rule)];
        if hit.engine == "clamav" {
            signals.push("clamav.hit".to_string());
        }
        for tag in &hit.tags {
            signals.push(format!("{}-tag.{}", hit.engine, tag.to_ascii_lowercase()));
        }
        for signal in signals {
            let f = model::report::Finding {
                signal,
                at: hit.at.clone(),
                detail: hit.rule.clone(),
            };
            if !report.findings.contains(&f) && !new.contains(&f) {
                new.push(f);
            }
        }
    }
    report.findings.extend(new);
}
