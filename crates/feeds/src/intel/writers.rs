//! The writer for each [`Format`], and what the line-oriented formats share: timestamps in
//! their two spellings and the `#` header block.

use super::format::{FeedMeta, FeedWriter, Format, Target};
use super::policy::Ioc;
use model::Timestamp;
use std::io;

/// RPZ zone origin when the operator configures none: `.invalid` (RFC 2606) can never clash
/// with a real zone, so a resolver loading it by mistake blocks nothing real by its name.
pub const DEFAULT_RPZ_ORIGIN: &str = "rpz.spamhattan.invalid.";

/// The writer for `format`. MISP wants [`Target::Dir`], every other format [`Target::File`];
/// the other kind is refused with [`io::ErrorKind::InvalidInput`].
pub fn writer(format: Format, meta: &FeedMeta, target: Target) -> io::Result<Box<dyn FeedWriter>> {
    if format.is_directory() != matches!(target, Target::Dir(_)) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "feed format {format} writes {}, got {target:?}",
                if format.is_directory() {
                    "a directory"
                } else {
                    "a file"
                }
            ),
        ));
    }
    let file = |target: Target| match target {
        Target::File(w) => Ok(w),
        Target::Dir(_) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "expected a file target",
        )),
    };
    Ok(match format {
        Format::Stix => Box::new(super::stix::StixWriter::new(meta, target)?),
        Format::Misp => match target {
            Target::Dir(dir) => Box::new(super::misp::MispWriter::new(meta, dir)?),
            Target::File(_) => unreachable!("checked above: MISP has a directory target"),
        },
        Format::CsvUrls | Format::CsvPayloads | Format::CsvIocs => {
            Box::new(super::csv::CsvWriter::new(format, meta, file(target)?)?)
        }
        Format::TxtUrls
        | Format::TxtDomains
        | Format::TxtIps
        | Format::TxtSha256
        | Format::Hosts => Box::new(super::text::ListWriter::new(format, meta, file(target)?)?),
        Format::Rpz => Box::new(super::rpz::RpzWriter::new(
            meta,
            &meta.rpz_origin,
            file(target)?,
        )?),
        Format::Jsonl => Box::new(super::jsonl::JsonlWriter::new(file(target)?)),
    })
}

/// `2016-02-16 09:12:00`: the abuse.ch spelling of a UTC time (CSV columns and headers).
pub fn utc_seconds(t: Timestamp) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// RFC 3339 in UTC with a `Z` (JSON lines).
pub fn rfc3339(t: Timestamp) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| utc_seconds(t).replace(' ', "T") + "Z")
}

/// One line of header text: control characters (which would end the comment line or
/// confuse a terminal) become spaces. Producer names come from configuration.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The `#` comment block that opens CSV files, lists and (with `;`) the RPZ zone: title,
/// generation time, TLP ceiling of the audience, snapshot or delta, producer, and a legend.
pub fn header_lines(title: &str, meta: &FeedMeta, legend: &[&str]) -> Vec<String> {
    let p = &meta.producer;
    let producer = if p.contact.is_empty() {
        one_line(&p.name)
    } else {
        format!("{} <{}>", one_line(&p.name), one_line(&p.contact))
    };
    let content = match meta.since {
        Some(t) => format!("delta: indicators changed after {} UTC", utc_seconds(t)),
        None => "full snapshot of live indicators".to_string(),
    };
    let mut lines = vec![
        one_line(title),
        format!("Generated: {} UTC", utc_seconds(meta.generated_at)),
        format!(
            "TLP: {} (audience {:?}: entries are marked {} or less restricted)",
            meta.audience.tlp.as_str().to_ascii_uppercase(),
            meta.audience.name,
            meta.audience.tlp.as_str().to_ascii_uppercase()
        ),
        format!("Content: {content}"),
        format!("Producer: {producer}"),
    ];
    lines.extend(legend.iter().map(|l| one_line(l)));
    lines
}

/// Writes `lines` each prefixed with `mark` (`#` or `;`).
pub fn write_comments(out: &mut dyn io::Write, mark: &str, lines: &[String]) -> io::Result<()> {
    for l in lines {
        writeln!(out, "{mark} {l}")?;
    }
    Ok(())
}

/// Does `format` carry this indicator? The driver already filters by kind; writers check
/// again so a mistake upstream cannot put a URL into a list of IPs.
pub fn carries(format: Format, ioc: &Ioc) -> bool {
    format.kinds().contains(&ioc.kind)
}
