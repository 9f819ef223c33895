//! File-name tricks: the ways a sender makes an executable look like a document in a mail
//! client or Explorer (double extensions, right-to-left overrides, padding, lying extensions).
//!
//! Names are evidence: they are judged, never rewritten. Windows ignores trailing dots and
//! spaces, so the extension is read after trimming them, as the shell would.

use crate::kind::Kind;
use crate::walk::Walk;

/// Names longer than this (in characters) are flagged: Windows' `MAX_PATH` is 260 for the whole
/// path, and mail clients cut long names, hiding the real extension at the end.
const LONG_NAME_CHARS: usize = 200;
/// A run of this many blanks before the extension pushes it out of view in a file list.
const PADDING_RUN: usize = 5;

/// Extensions that run code when opened on Windows (plus a few loaders for other systems).
const EXECUTABLE: &[&str] = &[
    "exe",
    "scr",
    "com",
    "pif",
    "cpl",
    "msi",
    "msp",
    "dll",
    "js",
    "jse",
    "vbs",
    "vbe",
    "wsf",
    "wsh",
    "hta",
    "ps1",
    "psm1",
    "bat",
    "cmd",
    "lnk",
    "jar",
    "reg",
    "inf",
    "msc",
    "appx",
    "msix",
    "appref-ms",
    "url",
    "iqy",
    "slk",
    "chm",
    "xll",
    "app",
    "sh",
    "elf",
    "apk",
    "gadget",
];

/// Extensions a victim expects to be harmless documents, media or archives.
const DOCUMENT: &[&str] = &[
    "pdf", "doc", "docx", "docm", "xls", "xlsx", "xlsm", "xlsb", "ppt", "pptx", "pptm", "rtf",
    "odt", "ods", "txt", "csv", "jpg", "jpeg", "png", "gif", "bmp", "tif", "tiff", "mp3", "mp4",
    "wav", "avi", "htm", "html", "zip", "rar", "7z", "iso", "img", "eml", "msg", "xml", "one",
];

/// The lower-cased last extension of `name`, ignoring trailing dots and blanks as Windows does.
pub(crate) fn extension(name: &str) -> Option<String> {
    let trimmed = name.trim_end_matches(|c: char| c == '.' || c.is_whitespace());
    let base = trimmed.rsplit(['/', '\\']).next().unwrap_or(trimmed);
    let (stem, ext) = base.rsplit_once('.')?;
    if stem.is_empty() || ext.is_empty() || ext.chars().count() > 16 {
        return None;
    }
    Some(ext.to_lowercase())
}

/// Tricks in a declared name: `double-extension`, `rtlo`, `whitespace-padding`,
/// `type-mismatch`, `executable-extension`, `long-name`.
pub(crate) fn tricks(name: Option<&str>, _declared_type: Option<&str>, kind: Kind) -> Vec<String> {
    let Some(name) = name else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let ext = extension(name);
    let executable = ext.as_deref().is_some_and(|e| EXECUTABLE.contains(&e));
    if executable && has_document_before_last(name) {
        out.push("double-extension");
    }
    if name.chars().any(is_bidi_control) {
        out.push("rtlo");
    }
    if has_padding(name) {
        out.push("whitespace-padding");
    }
    if let Some(e) = ext.as_deref()
        && mismatched(e, kind)
    {
        out.push("type-mismatch");
    }
    if executable {
        out.push("executable-extension");
    }
    if name.chars().count() > LONG_NAME_CHARS {
        out.push("long-name");
    }
    out.into_iter().map(str::to_string).collect()
}

/// Findings for the name tricks of the artefact at `index`.
pub(crate) fn findings(walk: &mut Walk<'_>, index: u32) {
    let tricks = walk.report.artifacts[index as usize].name_tricks.clone();
    for t in tricks {
        walk.finding(&format!("name.{t}"), format!("artifacts[{index}]"), "");
    }
}

/// Explicit embeddings and overrides (U+202A–U+202E) and isolates (U+2066–U+2069): they
/// reorder what the victim sees (`invoice\u{202E}fdp.exe` shows as `invoiceexe.pdf`).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `invoice.pdf.exe`: a document-like extension right before the executable one.
fn has_document_before_last(name: &str) -> bool {
    let trimmed = name.trim_end_matches(|c: char| c == '.' || c.is_whitespace());
    let Some((stem, _)) = trimmed.rsplit_once('.') else {
        return false;
    };
    extension(stem).is_some_and(|e| DOCUMENT.contains(&e.trim().to_lowercase().as_str()))
}

/// A run of blanks (space, NBSP, ideographic space, other Unicode white space, or Braille
/// blank U+2800) before the last dot.
fn has_padding(name: &str) -> bool {
    let Some((stem, _)) = name.rsplit_once('.') else {
        return false;
    };
    let mut run = 0;
    for c in stem.chars() {
        if c.is_whitespace() || c == '\u{2800}' || c == '\u{3164}' {
            run += 1;
            if run >= PADDING_RUN {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

/// The families an extension promises, and whether the sniffed kind belongs to them. Only
/// kinds with magic bytes are judged: `Text`/`Unknown` prove nothing (a `.docx` that is text
/// is broken, not disguised), and zip-based formats (docx, jar, apk, odt...) are zips.
fn mismatched(ext: &str, kind: Kind) -> bool {
    use Kind::*;
    let allowed: &[Kind] = match ext {
        "pdf" => &[Pdf],
        "doc" | "dot" => &[OleDoc, Ole, Rtf, Html, OoxmlWord],
        "xls" | "xlt" => &[OleXls, Ole, Html, OoxmlExcel],
        "ppt" | "pps" => &[OlePpt, Ole, OoxmlPpt],
        "docx" | "docm" | "dotx" | "dotm" => &[OoxmlWord, Zip],
        "xlsx" | "xlsm" | "xlsb" | "xltx" | "xltm" => &[OoxmlExcel, Zip],
        "pptx" | "pptm" | "ppsx" | "ppsm" => &[OoxmlPpt, Zip],
        "rtf" => &[Rtf],
        "zip" | "jar" | "apk" | "odt" | "ods" | "odp" | "epub" | "xpi" | "appx" | "msix"
        | "nupkg" | "kmz" => &[Zip, OoxmlWord, OoxmlExcel, OoxmlPpt],
        "7z" => &[SevenZip],
        "rar" => &[Rar],
        "gz" | "tgz" => &[Gzip],
        "bz2" => &[Bzip2],
        "xz" => &[Xz],
        "tar" => &[Tar],
        "iso" => &[Iso],
        "img" | "ima" => &[Img, Iso],
        "cab" => &[Cab],
        "msi" => &[Msi, Ole],
        "lnk" => &[Lnk],
        "one" => &[OneNote],
        "exe" | "dll" | "scr" | "com" | "cpl" | "sys" => &[Pe],
        "jpg" | "jpeg" | "png" | "gif" | "bmp" | "ico" | "tif" | "tiff" | "webp" => &[Image],
        "eml" => &[Eml],
        "txt" | "csv" | "log" => &[Text, Html, Eml],
        "html" | "htm" | "shtml" | "xhtml" => &[Html, Svg, Hta],
        "svg" => &[Svg, Html],
        _ => return false,
    };
    !matches!(kind, Text | Unknown) && !allowed.contains(&kind)
}
