//! The TLS ClientHello, read before rustls sees it, and its JA4 fingerprint.
//!
//! rustls exposes only part of the ClientHello (no extension order), and failed handshakes, the
//! most interesting ones for a trap, expose nothing. So the session reads the first TLS record
//! itself, fingerprints it here, and replays it to rustls (see `rewind.rs`). The fingerprint
//! follows the published JA4 definition (FoxIO, BSD-3): `t{ver}{d|i}{ciphers:02}{exts:02}{alpn}`,
//! then the truncated SHA-256 of the sorted cipher list and of the sorted extensions plus the
//! signature algorithms.

use sha2::{Digest, Sha256};

/// The largest first record read for fingerprinting: a TLS record is at most 2^14 bytes plus
/// its 5-byte header (RFC 8446 §5.1); anything larger is not TLS.
pub const MAX_CLIENT_HELLO: usize = 16 * 1024 + 5;

/// What the fingerprint needs from a ClientHello.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHello {
    pub legacy_version: u16,
    pub ciphers: Vec<u16>,
    pub extensions: Vec<u16>,
    pub sni: Option<String>,
    pub alpn: Vec<Vec<u8>>,
    pub signature_algorithms: Vec<u16>,
    pub supported_versions: Vec<u16>,
}

/// How many bytes the first record needs in total, once its 5-byte header is available;
/// `None` if the bytes are not a TLS handshake record.
pub fn record_len(buf: &[u8]) -> Option<usize> {
    if buf.len() < 5 {
        return Some(5);
    }
    if buf[0] != 0x16 || buf[1] != 0x03 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([buf[3], buf[4]]));
    (len + 5 <= MAX_CLIENT_HELLO).then_some(len + 5)
}

fn is_grease(v: u16) -> bool {
    (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// A bounds-checked reader over attacker bytes.
struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = usize::from(self.u8()?);
        self.take(n)
    }
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = usize::from(self.u16()?);
        self.take(n)
    }
}

fn u16_list(bytes: &[u8]) -> Vec<u16> {
    bytes
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect()
}

/// Parses the ClientHello from a complete first record; `None` for anything else.
pub fn parse_client_hello(record: &[u8]) -> Option<ClientHello> {
    let mut rec = Cursor(record);
    rec.take(3)?;
    let body = rec.vec16()?;
    let mut hs = Cursor(body);
    if hs.u8()? != 1 {
        return None;
    }
    let len = hs.take(3)?;
    let len = (usize::from(len[0]) << 16) | (usize::from(len[1]) << 8) | usize::from(len[2]);
    // A ClientHello spread over several records is fingerprinted from what the first one holds.
    let mut ch = Cursor(&hs.0[..len.min(hs.0.len())]);
    let mut out = ClientHello {
        legacy_version: ch.u16()?,
        ..ClientHello::default()
    };
    ch.take(32)?;
    ch.vec8()?;
    out.ciphers = u16_list(ch.vec16()?);
    ch.vec8()?;
    let Some(exts) = ch.vec16() else {
        return Some(out);
    };
    let mut exts = Cursor(exts);
    while let (Some(ty), Some(data)) = (exts.u16(), exts.vec16()) {
        out.extensions.push(ty);
        let mut d = Cursor(data);
        match ty {
            0x0000 => {
                let mut list = Cursor(d.vec16().unwrap_or_default());
                if list.u8() == Some(0) {
                    out.sni = list
                        .vec16()
                        .map(|n| String::from_utf8_lossy(n).into_owned());
                }
            }
            0x0010 => {
                let mut list = Cursor(d.vec16().unwrap_or_default());
                while let Some(p) = list.vec8() {
                    out.alpn.push(p.to_vec());
                }
            }
            0x000d => out.signature_algorithms = u16_list(d.vec16().unwrap_or_default()),
            0x002b => out.supported_versions = u16_list(d.vec8().unwrap_or_default()),
            _ => {}
        }
    }
    Some(out)
}

fn hash12(s: &str) -> String {
    if s.is_empty() {
        return "000000000000".into();
    }
    let digest = Sha256::digest(s.as_bytes());
    hex::encode(&digest[..6])
}

fn join_hex(v: &[u16]) -> String {
    v.iter()
        .map(|x| format!("{x:04x}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The JA4 fingerprint of a ClientHello received over TCP.
pub fn ja4(ch: &ClientHello) -> String {
    let version = ch
        .supported_versions
        .iter()
        .copied()
        .filter(|v| !is_grease(*v))
        .max()
        .unwrap_or(ch.legacy_version);
    let ver = match version {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        _ => "00",
    };
    let sni = if ch.sni.is_some() { 'd' } else { 'i' };
    let mut ciphers: Vec<u16> = ch
        .ciphers
        .iter()
        .copied()
        .filter(|c| !is_grease(*c))
        .collect();
    let exts: Vec<u16> = ch
        .extensions
        .iter()
        .copied()
        .filter(|e| !is_grease(*e))
        .collect();
    let alpn = match ch.alpn.first() {
        Some(p) if !p.is_empty() => {
            let (first, last) = (p[0], p[p.len() - 1]);
            if first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() {
                format!("{}{}", first as char, last as char)
            } else {
                let h = hex::encode(p);
                format!("{}{}", &h[..1], &h[h.len() - 1..])
            }
        }
        _ => "00".into(),
    };
    let a = format!(
        "t{ver}{sni}{:02}{:02}{alpn}",
        ciphers.len().min(99),
        exts.len().min(99)
    );
    ciphers.sort_unstable();
    let mut sorted_exts: Vec<u16> = exts
        .into_iter()
        .filter(|e| *e != 0x0000 && *e != 0x0010)
        .collect();
    sorted_exts.sort_unstable();
    let sigs: Vec<u16> = ch
        .signature_algorithms
        .iter()
        .copied()
        .filter(|s| !is_grease(*s))
        .collect();
    let mut c = join_hex(&sorted_exts);
    if !sigs.is_empty() {
        c.push('_');
        c.push_str(&join_hex(&sigs));
    }
    format!("{a}_{}_{}", hash12(&join_hex(&ciphers)), hash12(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut ch = vec![0x03, 0x03];
        ch.extend([0u8; 32]);
        ch.push(0);
        ch.extend([0x00, 0x06, 0x13, 0x01, 0x13, 0x02, 0x0a, 0x0a]);
        ch.extend([0x01, 0x00]);
        let mut e = Vec::new();
        for (ty, data) in exts {
            e.extend(ty.to_be_bytes());
            e.extend((data.len() as u16).to_be_bytes());
            e.extend(data);
        }
        ch.extend((e.len() as u16).to_be_bytes());
        ch.extend(e);
        let mut hs = vec![1, 0, (ch.len() >> 8) as u8, ch.len() as u8];
        hs.extend(ch);
        let mut rec = vec![0x16, 0x03, 0x01, (hs.len() >> 8) as u8, hs.len() as u8];
        rec.extend(hs);
        rec
    }

    #[test]
    fn fingerprint_counts_and_flags_follow_the_definition() {
        let sni = vec![0, 9, 0, 0, 6, b'm', b'x', b'.', b'n', b'l', b'1'];
        let alpn = vec![0, 3, 2, b'h', b'2'];
        let versions = vec![4, 0x03, 0x04, 0x03, 0x03];
        let sigs = vec![0, 4, 0x04, 0x03, 0x08, 0x04];
        let rec = hello(&[
            (0, sni),
            (0x10, alpn),
            (0x2b, versions),
            (0x0d, sigs),
            (0x0a0a, vec![]),
        ]);
        assert_eq!(record_len(&rec), Some(rec.len()));
        let ch = parse_client_hello(&rec).expect("parses");
        assert_eq!(ch.sni.as_deref(), Some("mx.nl1"));
        let fp = ja4(&ch);
        // TLS 1.3, SNI present, 2 ciphers (GREASE dropped), 4 extensions (GREASE dropped), h2.
        assert!(fp.starts_with("t13d0204h2_"), "{fp}");
        assert_eq!(fp.len(), "t13d0204h2_".len() + 12 + 1 + 12);
    }

    #[test]
    fn garbage_and_truncation_never_panic() {
        let rec = hello(&[(0, vec![0, 1])]);
        for cut in 0..rec.len() {
            let _ = parse_client_hello(&rec[..cut]);
            let _ = record_len(&rec[..cut]);
        }
        assert_eq!(record_len(b"EHLO x\r\n"), None);
        assert!(parse_client_hello(b"\x16\x03\x01\x00\x01\x02").is_none());
    }
}
