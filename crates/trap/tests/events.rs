//! The event contract: `docs/EVENTS.md`, `model::EventKind` and what the trap really emits agree.

#![allow(clippy::unwrap_used)]

mod common;
use common::Harness;
use model::EventKind;
use std::collections::{BTreeMap, BTreeSet};

/// Parses `## \`id\`` sections and their `Fields:` lists from the document.
fn documented() -> BTreeMap<String, BTreeSet<String>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/EVENTS.md");
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_fields = false;
    for line in text.lines() {
        if let Some(id) = line.strip_prefix("## `").and_then(|l| l.strip_suffix('`')) {
            current = Some(id.to_owned());
            out.insert(id.to_owned(), BTreeSet::new());
            in_fields = false;
            continue;
        }
        if line.starts_with("Fields:") {
            in_fields = true;
        } else if line.trim().is_empty() {
            in_fields = false;
        }
        if let (true, Some(id)) = (in_fields, &current) {
            // The first backticked word of each comma-separated item is a field name.
            for item in line.trim_start_matches("Fields:").split(',') {
                if let Some(name) = item
                    .split('`')
                    .nth(1)
                    .filter(|_| item.trim_start().starts_with('`'))
                {
                    out.get_mut(id).unwrap().insert(name.to_owned());
                }
            }
        }
    }
    out
}

#[test]
fn the_document_lists_exactly_the_enum() {
    let doc: BTreeSet<String> = documented().keys().cloned().collect();
    let code: BTreeSet<String> = EventKind::ALL.iter().map(|k| k.id().to_owned()).collect();
    assert_eq!(doc, code);
}

#[tokio::test]
async fn every_field_the_trap_emits_is_documented() {
    let h = Harness::with(|c| c.auth_lure = true).await;
    let mut c = h.connect();
    c.greeting().await;
    c.ehlo().await;
    c.cmd("AUTH PLAIN AGEAYg==", "535 ").await;
    c.cmd("BOGUS", "502 ").await;
    c.mail_from("a@src.example", "250 ").await;
    c.rcpt_to("x@elsewhere.example", "554 ").await;
    c.rcpt_to("x@trap.example", "250 ").await;
    c.data(b"hi\r\n", "250 ").await;
    c.cmd("QUIT", "221 ").await;
    c.finish().await;
    let doc = documented();
    let events = h.events.events();
    let mut seen = BTreeSet::new();
    for e in &events {
        let id = e.kind.id();
        seen.insert(id);
        let fields = doc.get(id).unwrap_or_else(|| panic!("{id} not documented"));
        let line: serde_json::Value = serde_json::from_str(&e.to_json_line()).unwrap();
        for key in line.as_object().unwrap().keys() {
            if !["eventid", "timestamp", "session"].contains(&key.as_str()) {
                assert!(fields.contains(key), "{id} emits undocumented field {key}");
            }
        }
    }
    for id in [
        "spamhattan.session.connect",
        "spamhattan.session.helo",
        "spamhattan.session.auth",
        "spamhattan.session.anomaly",
        "spamhattan.session.mail_from",
        "spamhattan.session.rcpt",
        "spamhattan.message.stored",
        "spamhattan.session.closed",
    ] {
        assert!(seen.contains(id), "{id} never emitted");
    }
}
