//! The MIME walk: parse the message, hand text parts to `body`, everything else to
//! `Walk::add_object`. Nested `message/rfc822` parts are walked as objects of kind `eml`.

use crate::body::{self, BodyInput};
use crate::walk::{Origin, Walk};
use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use model::AnomalyKind;

/// Parses the top-level message and walks it.
pub(crate) fn walk_message(walk: &mut Walk<'_>, raw: &[u8]) {
    let Some(msg) = parse(walk, raw, "message") else {
        return;
    };
    if let Some(headers) = walk.guard("headers", "headers", |w| crate::headers::extract(w, &msg)) {
        walk.report.headers = headers;
    }
    walk.finding("message.parsed", "message", "");
    if msg.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    }) {
        walk.finding("message.delivery-report", "message", "multipart/report");
    }
    walk_parts(walk, &msg, None, "");
}

/// Walks a message attached to another (`message/rfc822`): its text parts become bodies, its
/// attachments children of the artefact at `index`.
pub(crate) fn walk_attached(walk: &mut Walk<'_>, index: u32, data: &[u8]) {
    let at = format!("artifacts[{index}]");
    if let Some(msg) = parse(walk, data, &at) {
        walk_parts(walk, &msg, Some(index), &format!("{at}/"));
    }
}

/// mail-parser never rejects input outright; `None` here means it panicked (caught) or found
/// no message at all. Either way it is recorded and the report goes on without the MIME tree.
fn parse<'m>(walk: &mut Walk<'_>, raw: &'m [u8], at: &str) -> Option<Message<'m>> {
    match walk.guard(at, "mail-parser", |_| MessageParser::default().parse(raw)) {
        Some(Some(msg)) => Some(msg),
        Some(None) => {
            walk.anomaly(
                AnomalyKind::MalformedContent,
                at,
                "no RFC 5322 message found",
            );
            None
        }
        None => None,
    }
}

fn walk_parts(walk: &mut Walk<'_>, msg: &Message<'_>, parent: Option<u32>, prefix: &str) {
    let max = walk.engine.limits().max_mime_parts as usize;
    if msg.parts.len() > max {
        walk.limit(
            "max_mime_parts",
            if prefix.is_empty() { "message" } else { prefix },
        );
    }
    for (i, part) in msg.parts.iter().enumerate().take(max) {
        if walk.out_of_time() {
            return;
        }
        let part_id = format!("{prefix}{i}");
        if part.is_encoding_problem {
            walk.anomaly(
                AnomalyKind::MalformedContent,
                format!("part {part_id}"),
                "transfer encoding could not be decoded; raw bytes kept",
            );
        }
        let is_attachment = msg.attachments.contains(&(i as u32));
        let declared = part.content_type().map(|ct| match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        });
        let name = part.attachment_name().map(str::to_string);
        match &part.body {
            PartType::Multipart(_) => {}
            PartType::Text(text) | PartType::Html(text) if !is_attachment || name.is_none() => {
                let html = matches!(part.body, PartType::Html(_));
                let charset = part
                    .content_type()
                    .and_then(|ct| ct.attribute("charset"))
                    .map(|c| c.to_ascii_lowercase());
                let input = BodyInput {
                    part: part_id,
                    content_type: declared.clone().unwrap_or_else(|| {
                        if html { "text/html" } else { "text/plain" }.to_string()
                    }),
                    charset,
                    text,
                    html,
                };
                let visible = walk
                    .guard(&format!("part {}", input.part), "body", |w| {
                        body::analyze(w, &input)
                    })
                    .unwrap_or_default();
                let found = crate::passwords::from_text(&visible);
                for p in found {
                    if !walk.passwords.contains(&p) {
                        walk.passwords.push(p);
                    }
                }
            }
            PartType::Message(_) => {
                let data = part.contents();
                walk.add_object(
                    parent,
                    name.or_else(|| Some(format!("part-{i}.eml"))),
                    data,
                    Origin {
                        declared_type: Some("message/rfc822".to_string()),
                        ..Origin::default()
                    },
                );
            }
            _ => {
                walk.add_object(
                    parent,
                    name,
                    part.contents(),
                    Origin {
                        declared_type: declared,
                        ..Origin::default()
                    },
                );
            }
        }
    }
}
