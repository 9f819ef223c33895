//! `spamhattan import`: .eml files, directories, mbox files and Maildirs become sightings with
//! source `import`, so old corpora replay through the same pipeline as live mail.

use crate::config::Config;
use crate::eventlog::EventLog;
use anyhow::Result;
use model::{Envelope, Event, EventKind, MessageId, Sighting, SightingSource};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use trap::EventSink;

/// Largest file or mbox entry imported: the store's blob limit would refuse more anyway.
const MAX_IMPORT_BYTES: u64 = 64 * 1024 * 1024;
/// Captures in flight before waiting for them: one group commit each, instead of one per file.
const BATCH: usize = 256;

/// One message found in the inputs.
struct Found {
    origin: String,
    raw: Vec<u8>,
}

pub fn run(cfg: &Config, paths: &[PathBuf]) -> Result<ExitCode> {
    let store = super::open_store(cfg)?;
    let events = EventLog::open(&cfg.event_log, &cfg.data_dir)?;
    let mut files = Vec::new();
    let mut bad: Vec<String> = Vec::new();
    for p in paths {
        collect(p, &mut files, &mut bad);
    }
    let bar = indicatif::ProgressBar::new(files.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut imported = 0u64;
    let mut pending = Vec::new();
    for file in &files {
        match read_messages(file) {
            Ok(found) => {
                for f in found {
                    let ticket = submit(&store, f);
                    pending.push(ticket);
                }
            }
            Err(why) => bad.push(format!("{}: {why}", file.display())),
        }
        if pending.len() >= BATCH {
            imported += drain(&mut pending, &events, &mut bad);
        }
        bar.inc(1);
    }
    imported += drain(&mut pending, &events, &mut bad);
    bar.finish_and_clear();
    store.flush()?;
    events.close();
    for b in &bad {
        eprintln!("skipped {b}");
    }
    eprintln!(
        "imported {imported} messages from {} files; {} skipped",
        files.len(),
        bad.len()
    );
    Ok(if imported == 0 && !bad.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn submit(store: &store::Store, f: Found) -> (String, store::CaptureTicket) {
    let message_id = MessageId::of(&f.raw);
    let sighting = Sighting {
        id: uuid::Uuid::now_v7(),
        message_id,
        received_at: model::now(),
        source: SightingSource::Import {
            path: f.origin.clone(),
        },
        size: f.raw.len() as u64,
        session_id: uuid::Uuid::nil(),
        listener: String::new(),
        peer: String::new(),
        local: String::new(),
        helo: None,
        tls: None,
        envelope: Envelope::default(),
        anomalies: Vec::new(),
        timings: Default::default(),
        queue_id: String::new(),
        sensor: None,
    };
    (f.origin, store.capture(f.raw, sighting))
}

fn drain(
    pending: &mut Vec<(String, store::CaptureTicket)>,
    events: &EventLog,
    bad: &mut Vec<String>,
) -> u64 {
    let mut ok = 0;
    for (origin, ticket) in pending.drain(..) {
        match ticket.wait() {
            Ok(c) => {
                ok += 1;
                events.emit(
                    Event::new(EventKind::MessageImported, None)
                        .field("path", &origin)
                        .field("message_id", c.message_id)
                        .field("sighting", c.sighting_id)
                        .field("duplicate", c.duplicate),
                );
            }
            Err(e) => bad.push(format!("{origin}: {e}")),
        }
    }
    ok
}

/// Expands directories: a Maildir contributes `cur/` and `new/`; other directories are walked.
fn collect(path: &Path, files: &mut Vec<PathBuf>, bad: &mut Vec<String>) {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return bad.push(format!("{}: {e}", path.display())),
    };
    if meta.is_file() {
        return files.push(path.to_owned());
    }
    if !meta.is_dir() {
        return bad.push(format!("{}: not a file or directory", path.display()));
    }
    let maildir = path.join("cur").is_dir() && path.join("new").is_dir();
    let dirs = if maildir {
        vec![path.join("cur"), path.join("new")]
    } else {
        vec![path.to_owned()]
    };
    for dir in dirs {
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => {
                bad.push(format!("{}: {e}", dir.display()));
                continue;
            }
        };
        entries.sort();
        for e in entries {
            let hidden = e
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            let maildir_tmp = maildir && e.file_name().is_some_and(|n| n == "tmp");
            if !hidden && !maildir_tmp {
                collect(&e, files, bad);
            }
        }
    }
}

/// Reads one file as an mbox (if it starts with a `From ` line) or as a single message.
fn read_messages(path: &Path) -> Result<Vec<Found>, String> {
    let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if size > MAX_IMPORT_BYTES * 16 {
        return Err(format!("{size} bytes is larger than an import accepts"));
    }
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let origin = path.display().to_string();
    if bytes.starts_with(b"From ") {
        let msgs = split_mbox(&bytes);
        if msgs.is_empty() {
            return Err("empty mbox".into());
        }
        let mut found = Vec::new();
        for (i, m) in msgs.into_iter().enumerate() {
            if looks_like_mail(&m) && m.len() as u64 <= MAX_IMPORT_BYTES {
                found.push(Found {
                    origin: format!("{origin}#{}", i + 1),
                    raw: m,
                });
            }
        }
        return Ok(found);
    }
    if bytes.len() as u64 > MAX_IMPORT_BYTES {
        return Err(format!(
            "{} bytes is larger than a message may be",
            bytes.len()
        ));
    }
    if !looks_like_mail(&bytes) {
        return Err("does not start with a mail header".into());
    }
    Ok(vec![Found { origin, raw: bytes }])
}

/// The first line must be a header field (`Name: value`) or a continuation-free `Name:`; this
/// is what separates mail from a stray binary, never a judgement of the content.
fn looks_like_mail(bytes: &[u8]) -> bool {
    let first = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    match first.iter().position(|b| *b == b':') {
        Some(colon) if colon > 0 => first[..colon].iter().all(|b| (33..=126).contains(b)),
        _ => false,
    }
}

/// Splits an mbox (mboxo/mboxrd): a message starts at a `From ` line at the start of the file
/// or after a newline; `>From `-quoted lines lose one `>`.
fn split_mbox(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    for line in bytes.split_inclusive(|b| *b == b'\n') {
        if line.starts_with(b"From ") {
            if let Some(m) = current.take() {
                messages.push(finish_mbox_message(m));
            }
            current = Some(Vec::new());
            continue;
        }
        let Some(m) = current.as_mut() else { continue };
        let quoted = line
            .iter()
            .position(|b| *b != b'>')
            .is_some_and(|i| i > 0 && line[i..].starts_with(b"From "));
        m.extend_from_slice(if quoted { &line[1..] } else { line });
    }
    if let Some(m) = current {
        messages.push(finish_mbox_message(m));
    }
    messages
}

/// The blank line that separates mbox entries belongs to the format, not to the message.
fn finish_mbox_message(mut m: Vec<u8>) -> Vec<u8> {
    if m.ends_with(b"\n\n") {
        m.pop();
    } else if m.ends_with(b"\r\n\r\n") {
        m.truncate(m.len() - 2);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbox_splits_and_unquotes_from_lines() {
        let mbox = b"From a@b Thu Jan 1 00:00:00 2026\nSubject: one\n\n>From the start\nbody\n\nFrom c@d Thu Jan 1 00:00:01 2026\nSubject: two\n\n>>From deeper\n";
        let msgs = split_mbox(mbox);
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0], b"Subject: one\n\nFrom the start\nbody\n".to_vec());
        assert_eq!(msgs[1], b"Subject: two\n\n>From deeper\n".to_vec());
    }

    #[test]
    fn garbage_is_not_mail_but_headers_are() {
        assert!(looks_like_mail(b"Received: from x\r\n\r\nbody"));
        assert!(!looks_like_mail(b"\x7fELF\x02\x01"));
        assert!(!looks_like_mail(b""));
        assert!(!looks_like_mail(b": no name\n"));
    }
}
