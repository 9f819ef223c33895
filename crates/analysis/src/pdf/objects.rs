//! The object-level reader: `lopdf` loads the document, then every object's dictionaries are
//! searched for the keys of active content and embedded files.

use super::Facts;
use crate::limits::Limits;
use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId, Stream};
use std::collections::HashSet;

/// Objects visited: documents with more are generated to exhaust parsers; lures have tens.
const MAX_PDF_OBJECTS: usize = 100_000;
/// Nesting of arrays and dictionaries inside one object followed: real files nest a few levels.
const MAX_NESTING: usize = 32;
/// Inflated output of a stream is allowed at least this much even when its ratio is high:
/// small streams of repetitive text compress far beyond the bomb ratio.
pub(super) const RATIO_FLOOR: usize = 1 << 20;

/// Loads `data` and records what the objects hold. `Err` when `lopdf` refuses the file.
pub(super) fn read(data: &[u8], limits: &Limits, facts: &mut Facts) -> Result<(), String> {
    let max = usize::try_from(limits.max_object_bytes).unwrap_or(usize::MAX);
    let options = LoadOptions {
        max_decompressed_size: Some(max),
        ..LoadOptions::default()
    };
    let doc = Document::load_mem_with_options(data, options).map_err(|e| e.to_string())?;
    if doc.trailer.has(b"Encrypt") || doc.was_encrypted() {
        facts.info.encrypted = true;
    }
    if doc.objects.len() > MAX_PDF_OBJECTS {
        facts.limit("pdf_max_objects");
    }
    let mut reader = Reader {
        doc: &doc,
        facts,
        budget: max,
        max_ratio: usize::try_from(limits.max_ratio).unwrap_or(usize::MAX),
        extracted: HashSet::new(),
        embedded_streams: Vec::new(),
    };
    reader.dict(&doc.trailer, 0);
    for (&id, obj) in doc.objects.iter().take(MAX_PDF_OBJECTS) {
        // An object that is only a reference to itself, or to a ring of such objects, never
        // resolves: lopdf gives up after its `DEREF_LIMIT` steps (128), and so does every
        // lookup here. Worth naming: no writer makes one. Only bare references are tried (so
        // this costs nothing on real files), and only until `MAX_LISTED` are named.
        if matches!(obj, Object::Reference(_))
            && reader.facts.errors.len() < super::MAX_LISTED
            && matches!(doc.dereference(obj), Err(lopdf::Error::ReferenceLimit))
        {
            reader
                .facts
                .errors
                .push(format!("object {} {} is a reference loop", id.0, id.1));
        }
        if let Object::Stream(s) = obj
            && s.dict.get(b"Type").and_then(Object::as_name).ok() == Some(b"EmbeddedFile")
        {
            reader.embedded_streams.push(id);
        }
        reader.visit(obj, 0);
    }
    // Embedded streams no file specification pointed to are still extracted, by number.
    for id in std::mem::take(&mut reader.embedded_streams) {
        if !reader.extracted.contains(&id)
            && let Ok(Object::Stream(s)) = doc.get_object(id)
            && let Some(bytes) = reader.decode(s)
        {
            reader.facts.add_file(format!("embedded-{}", id.0), bytes);
        }
    }
    Ok(())
}

struct Reader<'a> {
    doc: &'a Document,
    facts: &'a mut Facts,
    /// Decoded stream bytes left for this document.
    budget: usize,
    max_ratio: usize,
    extracted: HashSet<ObjectId>,
    embedded_streams: Vec<ObjectId>,
}

impl Reader<'_> {
    fn visit(&mut self, obj: &Object, depth: usize) {
        if depth > MAX_NESTING {
            return;
        }
        match obj {
            Object::Dictionary(d) => self.dict(d, depth),
            Object::Stream(s) => self.dict(&s.dict, depth),
            Object::Array(items) => {
                for item in items {
                    self.visit(item, depth + 1);
                }
            }
            _ => {}
        }
    }

    fn dict(&mut self, d: &Dictionary, depth: usize) {
        for (key, value) in d.iter() {
            match key.as_slice() {
                b"JS" => match resolve(self.doc, value) {
                    Some(Object::String(code, _)) => self.facts.add_js(code),
                    Some(Object::Stream(s)) => {
                        let code = self.decode(s).unwrap_or_else(|| s.content.clone());
                        self.facts.add_js(&code);
                    }
                    _ => self.facts.javascript = true,
                },
                b"JavaScript" => self.facts.javascript = true,
                b"S" => match value.as_name().ok() {
                    Some(b"JavaScript") => self.facts.javascript = true,
                    Some(b"Launch") => {
                        let target = self.launch_target(d);
                        self.facts.add_launch(target);
                    }
                    _ => {}
                },
                b"OpenAction" => self.facts.info.open_action = true,
                b"AA" => self.facts.info.additional_actions = true,
                b"URI" => {
                    if let Some(Object::String(uri, _)) = resolve(self.doc, value) {
                        self.facts.add_uri(uri);
                    }
                }
                b"XFA" => self.facts.info.xfa = true,
                b"Encrypt" => self.facts.info.encrypted = true,
                b"EF" => self.file_spec(d, value),
                _ => {}
            }
            if matches!(value, Object::Dictionary(_) | Object::Array(_)) {
                self.visit(value, depth + 1);
            }
        }
    }

    /// `/F` (a string or a file specification) and `/Win /F /P` of a launch action.
    fn launch_target(&self, d: &Dictionary) -> String {
        let mut parts = Vec::new();
        if let Ok(f) = d.get(b"F") {
            parts.extend(self.file_name(f));
        }
        if let Ok(Some(Object::Dictionary(win))) = d.get(b"Win").map(|w| resolve(self.doc, w)) {
            for key in [b"F".as_slice(), b"P"] {
                if let Ok(Some(Object::String(s, _))) = win.get(key).map(|v| resolve(self.doc, v)) {
                    parts.push(super::pdf_text(s));
                }
            }
        }
        parts.join(" ")
    }

    /// The name a file specification gives: `/UF`, else `/F`, else the string itself.
    fn file_name(&self, spec: &Object) -> Option<String> {
        match resolve(self.doc, spec)? {
            Object::String(s, _) => Some(super::pdf_text(s)),
            Object::Dictionary(d) => {
                [b"UF".as_slice(), b"F", b"Unix", b"DOS"]
                    .iter()
                    .find_map(|k| match d.get(k).ok().and_then(|v| resolve(self.doc, v)) {
                        Some(Object::String(s, _)) => Some(super::pdf_text(s)),
                        _ => None,
                    })
            }
            _ => None,
        }
    }

    /// A file specification with `/EF`: the embedded stream, decoded, under the spec's name.
    fn file_spec(&mut self, spec: &Dictionary, ef: &Object) {
        self.facts.embedded = true;
        let name = [b"UF".as_slice(), b"F"].iter().find_map(|k| {
            match spec.get(k).ok().and_then(|v| resolve(self.doc, v)) {
                Some(Object::String(s, _)) => Some(super::pdf_text(s)),
                _ => None,
            }
        });
        let Some(Object::Dictionary(ef)) = resolve(self.doc, ef) else {
            return;
        };
        for key in [b"UF".as_slice(), b"F"] {
            let Ok(Object::Reference(id)) = ef.get(key) else {
                continue;
            };
            if self.extracted.contains(id) {
                continue;
            }
            if let Ok(Object::Stream(s)) = self.doc.get_object(*id)
                && let Some(bytes) = self.decode(s)
            {
                self.extracted.insert(*id);
                let name = name.clone().unwrap_or_else(|| format!("embedded-{}", id.0));
                self.facts.add_file(name, bytes);
                return;
            }
        }
    }

    /// A stream's decoded content, within the ratio and the document's byte budget.
    fn decode(&mut self, s: &Stream) -> Option<Vec<u8>> {
        let by_ratio = s
            .content
            .len()
            .saturating_mul(self.max_ratio)
            .max(RATIO_FLOOR);
        let cap = by_ratio.min(self.budget);
        match s.get_plain_content_with_limit(cap) {
            Ok(bytes) => {
                self.budget = self.budget.saturating_sub(bytes.len());
                Some(bytes)
            }
            Err(e) => {
                if cap < by_ratio {
                    self.facts.limit("max_object_bytes");
                } else if e.to_string().to_ascii_lowercase().contains("limit") {
                    self.facts.limit("max_ratio");
                } else {
                    self.facts.errors.push(format!("stream: {e}"));
                }
                None
            }
        }
    }
}

/// Follows references (`lopdf` bounds the chain).
fn resolve<'o>(doc: &'o Document, obj: &'o Object) -> Option<&'o Object> {
    doc.dereference(obj).ok().map(|(_, o)| o)
}
