//! Slack and Mattermost incoming-webhook messages, with every indicator defanged.
//!
//! Alert text carries attacker-chosen strings (subjects, URLs, sender addresses), so every
//! string that reaches a chat is cut to a bound, defanged (no clickable link, no e-mail
//! address, no `@channel` mention) and escaped for Slack's `<`, `>`, `&` control syntax, which
//! Mattermost also honours.

use model::{Alert, Severity};
use serde_json::{Value, json};

/// Longest one-line title, in characters: a chat headline, not a document.
pub const MAX_CHAT_TITLE_CHARS: usize = 300;
/// Longest summary or field value, in characters; Slack folds attachments beyond a few
/// thousand characters and a longer value is no longer read by a human anyway.
pub const MAX_CHAT_FIELD_CHARS: usize = 2000;
/// Evidence lines shown; the rest is counted.
pub const MAX_CHAT_EVIDENCE: usize = 10;
/// Indicators shown; the webhook and syslog formats carry the full list.
pub const MAX_CHAT_INDICATORS: usize = 10;
/// Longest single indicator or evidence line, in characters.
pub const MAX_CHAT_LINE_CHARS: usize = 200;

/// Which chat dialect to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatFlavour {
    Slack,
    Mattermost,
}

/// The incoming-webhook JSON for one alert.
pub fn chat_body(alert: &Alert, flavour: ChatFlavour) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&chat_message(alert, flavour))
}

/// The message as a JSON value (for tests and callers that add `channel`, `username`...).
pub fn chat_message(alert: &Alert, flavour: ChatFlavour) -> Value {
    let bold = match flavour {
        ChatFlavour::Slack => "*",
        ChatFlavour::Mattermost => "**",
    };
    let severity = alert.severity.as_str().to_ascii_uppercase();
    let title = safe(&alert.title, MAX_CHAT_TITLE_CHARS);
    let rule = safe(&alert.rule, MAX_CHAT_LINE_CHARS);
    let text = format!("{bold}[{severity}]{bold} {title} (rule {rule})");
    let fallback = format!("[{severity}] {title} (rule {rule})");
    let campaign = match (alert.campaign, alert.campaign_uuid) {
        (Some(id), Some(uuid)) => format!("#{id} ({uuid})"),
        (Some(id), None) => format!("#{id}"),
        (None, Some(uuid)) => uuid.to_string(),
        (None, None) => "none".to_owned(),
    };
    let mut fields = vec![
        field("Rule", rule, true),
        field("Severity", alert.severity.as_str().to_owned(), true),
        field("Campaign", campaign, true),
    ];
    if !alert.evidence.is_empty() {
        let lines = alert.evidence.iter().map(|e| {
            let line = format!("{}: {}", e.what, e.detail);
            format!("• {}", safe(&line, MAX_CHAT_LINE_CHARS))
        });
        fields.push(field(
            "Evidence",
            bounded_list(lines, alert.evidence.len(), MAX_CHAT_EVIDENCE),
            false,
        ));
    }
    if !alert.indicators.is_empty() {
        let lines = alert.indicators.iter().map(|i| {
            // A code span keeps chats from linking what defanging left; no backtick may end it.
            let value = safe(&i.value, MAX_CHAT_LINE_CHARS).replace('`', "'");
            format!("• {} `{value}`", i.kind.as_str())
        });
        fields.push(field(
            "Indicators",
            bounded_list(lines, alert.indicators.len(), MAX_CHAT_INDICATORS),
            false,
        ));
    }
    json!({
        "text": text,
        "attachments": [{
            "fallback": fallback,
            "color": colour(alert.severity),
            "title": title,
            "text": safe(&alert.summary, MAX_CHAT_FIELD_CHARS),
            "fields": fields,
            "footer": format!("spamhattan alert {}", alert.id),
            "ts": alert.created_at.unix_timestamp(),
        }],
    })
}

fn field(title: &str, value: String, short: bool) -> Value {
    json!({ "title": title, "value": value, "short": short })
}

fn bounded_list(lines: impl Iterator<Item = String>, total: usize, max: usize) -> String {
    let mut out: Vec<String> = lines.take(max).collect();
    if total > max {
        out.push(format!("… and {} more", total - max));
    }
    out.join("\n")
}

fn colour(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "#8b0000",
        Severity::High => "#d9534f",
        Severity::Medium => "#f0ad4e",
        Severity::Low => "#5bc0de",
        Severity::Info => "#999999",
    }
}

/// Bound, defang and escape one attacker-influenced string for a chat.
fn safe(text: &str, max_chars: usize) -> String {
    escape_slack(&defang(&truncate_chars(text, max_chars)))
}

/// At most `max_chars` characters, with `…` when something was cut.
pub fn truncate_chars(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Makes links and addresses unclickable the way analysts expect: `http`/`https`/`ftp`
/// schemes become `hxxp`/`hxxps`/`fxp`, a dot between two letters or digits becomes `[.]`
/// (domains and IPs, while a sentence's final full stop stays), and every `@` becomes `[@]`
/// (no mail links, no `@channel` mentions).
pub fn defang(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let rest = &chars[i..];
        if starts_with_ci(rest, "http://") || starts_with_ci(rest, "https://") {
            out.push_str("hxxp");
            i += 4;
            continue;
        }
        if starts_with_ci(rest, "ftp://") {
            out.push_str("fxp");
            i += 3;
            continue;
        }
        let between_alnum = i > 0
            && chars[i - 1].is_alphanumeric()
            && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
        match c {
            '.' if between_alnum => out.push_str("[.]"),
            '@' => out.push_str("[@]"),
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

fn starts_with_ci(chars: &[char], prefix: &str) -> bool {
    let n = prefix.chars().count();
    chars.len() >= n
        && chars
            .iter()
            .zip(prefix.chars())
            .all(|(a, b)| a.eq_ignore_ascii_case(&b))
}

/// Slack's three control characters (`<` starts links and mentions such as `<!channel>`).
pub fn escape_slack(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}
