//! Envelope addresses (`MAIL FROM` / `RCPT TO` paths): kept as sent and as understood.
//!
//! The parser is deliberately lenient, like Postfix with its default
//! `strict_rfc821_envelopes = no`: a trap that rejects a malformed address loses
//! the spam that follows it. Everything the client sent stays in [`Path::raw`];
//! the other fields are the best reading of it. Deciding what to *refuse*
//! (percent hack, bang paths, source routes) is the trap's relay policy, not ours.

/// An envelope path as sent and as understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// The argument as sent (lossy UTF-8), e.g. `"<@a,@b:u@c>"`.
    pub raw: String,
    /// The argument was enclosed in `<...>`.
    pub bracketed: bool,
    /// The null path `"<>"` (bounces).
    pub null: bool,
    /// `["a", "b"]` for `<@a,@b:u@c>` (RFC 5321 §4.1.2 A-d-l, obsolete but still sent).
    pub source_route: Vec<String>,
    /// Unquoted value of the local part (`a@b` for `<"a@b"@c>`).
    pub local_part: String,
    /// The local part was a quoted-string.
    pub quoted: bool,
    /// `None` for `<postmaster>`, `<>`, a bare local part or an empty domain (`<u@>`).
    pub domain: Option<Domain>,
}

/// The domain of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Domain {
    /// A host name as sent: case, trailing dot and UTF-8 (IDN) are kept.
    Name(String),
    /// An address literal; keeps the text inside `[...]`, e.g. `192.0.2.1` or `IPv6:2001:db8::1`.
    Literal(String),
}

impl Domain {
    /// The domain as it appears in an address: literals get their brackets back.
    pub fn to_address_text(&self) -> String {
        match self {
            Domain::Name(name) => name.clone(),
            Domain::Literal(text) => format!("[{text}]"),
        }
    }

    fn parse(text: &str) -> Option<Domain> {
        if text.is_empty() {
            return None;
        }
        match text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            Some(inner) => Some(Domain::Literal(inner.to_owned())),
            None => Some(Domain::Name(text.to_owned())),
        }
    }
}

impl Path {
    /// Reads a path argument (the text after `FROM:` / `TO:`, parameters already split off).
    ///
    /// Never fails: a path the grammar does not allow still gets the most useful
    /// reading, and `raw` keeps the original. Framing errors (an unclosed `<`) are
    /// detected earlier, when the argument is split from its parameters.
    pub fn parse(raw: &str) -> Path {
        let inner = raw.strip_prefix('<').and_then(|t| t.strip_suffix('>'));
        let bracketed = inner.is_some();
        let inner = inner.unwrap_or(raw).trim_matches([' ', '\t']);
        let (source_route, mailbox) = split_source_route(inner);
        let (local_part, quoted, domain) = split_mailbox(mailbox);
        Path {
            raw: raw.to_owned(),
            bracketed,
            null: bracketed && inner.is_empty(),
            source_route,
            local_part,
            quoted,
            domain,
        }
    }

    /// `"local@domain"`, `"local"` when there is no domain, or `""` for the null path.
    ///
    /// A quoted local part is quoted again (with `\` before `"` and `\`), so
    /// `<"a@b"@c>` gives `"a@b"@c` rather than the ambiguous `a@b@c`.
    pub fn address(&self) -> String {
        if self.null {
            return String::new();
        }
        let mut out = if self.quoted {
            quote(&self.local_part)
        } else {
            self.local_part.clone()
        };
        if let Some(domain) = &self.domain {
            out.push('@');
            out.push_str(&domain.to_address_text());
        }
        out
    }
}

/// Splits `@a,@b:rest` into (`["a","b"]`, `rest`). A `:` inside `[...]` (an IPv6
/// literal in the route) does not end the route.
fn split_source_route(inner: &str) -> (Vec<String>, &str) {
    if !inner.starts_with('@') {
        return (Vec::new(), inner);
    }
    let mut depth = 0usize;
    for (i, c) in inner.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => {
                let route = inner.get(..i).unwrap_or_default();
                let rest = inner.get(i + 1..).unwrap_or_default();
                let hops = route
                    .split(',')
                    .map(|hop| hop.trim().trim_start_matches('@').to_owned())
                    .collect();
                return (hops, rest);
            }
            _ => {}
        }
    }
    // "@foo" without a colon: not a route, read it as a mailbox with an empty local part.
    (Vec::new(), inner)
}

/// Splits a mailbox into (local part, quoted, domain).
fn split_mailbox(mailbox: &str) -> (String, bool, Option<Domain>) {
    if let Some((local, after)) = unquote(mailbox) {
        if after.is_empty() {
            return (local, true, None);
        }
        if let Some(domain) = after.strip_prefix('@') {
            return (local, true, Domain::parse(domain));
        }
        // `"a"b@c`: not a quoted local part after all; fall through to the plain reading.
    }
    match mailbox.rsplit_once('@') {
        Some((local, domain)) => (local.to_owned(), false, Domain::parse(domain)),
        None => (mailbox.to_owned(), false, None),
    }
}

/// If `text` starts with a quoted-string, returns its unescaped value and the text after it.
fn unquote(text: &str) -> Option<(String, &str)> {
    let body = text.strip_prefix('"')?;
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => value.push(chars.next().map_or('\\', |(_, escaped)| escaped)),
            '"' => return Some((value, body.get(i + 1..).unwrap_or_default())),
            _ => value.push(c),
        }
    }
    None
}

fn quote(local: &str) -> String {
    let mut out = String::with_capacity(local.len() + 2);
    out.push('"');
    for c in local.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Value of an ESMTP parameter, matched case-insensitively on its keyword:
/// `SIZE=123` gives `Some("123")`, a bare `BODY` gives `Some("")`, absent gives `None`.
/// The first occurrence wins when a client repeats a keyword.
pub fn param_value<'a>(params: &'a [String], key: &str) -> Option<&'a str> {
    params.iter().find_map(|param| {
        let (k, v) = param.split_once('=').unwrap_or((param.as_str(), ""));
        k.eq_ignore_ascii_case(key).then_some(v)
    })
}
