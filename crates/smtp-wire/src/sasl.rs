//! SASL helpers for the AUTH lure: base64 and the PLAIN / LOGIN payloads.
//!
//! The trap advertises AUTH to attract credential-stuffing bots and records what
//! they send as evidence. Decoders are tolerant of whitespace (clients wrap
//! lines) and missing padding, strict about the alphabet, and never panic; text
//! is decoded as lossy UTF-8 so nothing a bot sends is lost.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn sextet(byte: u8) -> Option<u32> {
    let value = match byte {
        b'A'..=b'Z' => byte - b'A',
        b'a'..=b'z' => byte - b'a' + 26,
        b'0'..=b'9' => byte - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(value))
}

/// Decodes standard base64 (RFC 4648 §4).
///
/// ASCII whitespace anywhere is ignored. Padding may be present (at most two
/// `=`, only at the end, making a multiple of four) or absent. Any other byte
/// outside the alphabet, or a length that cannot be base64, gives `None`.
/// Non-zero trailing bits are accepted: bots produce them and the bytes are
/// still evidence. A lone `"="` (RFC 4954's empty response) is `None` here; the
/// caller handles it before decoding.
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let symbols: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let data_len = symbols
        .iter()
        .position(|&b| b == b'=')
        .unwrap_or(symbols.len());
    let (data, padding) = symbols.split_at(data_len);
    if padding.len() > 2
        || padding.iter().any(|&b| b != b'=')
        || (!padding.is_empty() && !symbols.len().is_multiple_of(4))
        || data.len() % 4 == 1
    {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    for group in data.chunks(4) {
        let mut acc = 0u32;
        for &byte in group {
            acc = (acc << 6) | sextet(byte)?;
        }
        // Left-align the group into 24 bits; emit one byte per 8 bits of real data.
        acc <<= 6 * (4 - group.len() as u32);
        let bytes = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
        out.extend_from_slice(bytes.get(..group.len().saturating_sub(1)).unwrap_or(&bytes));
    }
    Some(out)
}

/// Encodes standard base64 with padding.
pub fn encode_base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b = |i: usize| u32::from(group.get(i).copied().unwrap_or(0));
        let acc = (b(0) << 16) | (b(1) << 8) | b(2);
        for i in 0..4 {
            if i <= group.len() {
                let index = ((acc >> (18 - 6 * i)) & 0x3f) as usize;
                out.push(char::from(ALPHABET.get(index).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes an RFC 4616 PLAIN response: `[authzid] NUL authcid NUL passwd`.
///
/// Returns `(authzid, user, pass)` as lossy UTF-8. Exactly two NUL separators are
/// required; empty fields are allowed (an empty password is still evidence).
pub fn decode_plain(initial: &str) -> Option<(String, String, String)> {
    let bytes = decode_base64(initial)?;
    let mut parts = bytes.split(|&b| b == 0);
    let authzid = parts.next()?;
    let user = parts.next()?;
    let pass = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Some((text(authzid), text(user), text(pass)))
}

/// Decodes one AUTH LOGIN response (the user name or the password) as lossy UTF-8.
pub fn decode_login(response: &str) -> Option<String> {
    decode_base64(response).map(|b| String::from_utf8_lossy(&b).into_owned())
}
