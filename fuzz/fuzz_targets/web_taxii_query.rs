//! Fuzz the TAXII page request: `web::taxii::query::parse` on query pairs split from the input
//! (`&` between pairs, the first `=` between key and value, no percent-decoding), and
//! `web::taxii::cursor::decode` on the `next` value and on the whole input as a token.
//!
//! Checks beyond "no panic": an accepted query is within its named limits; the pairs in reverse
//! order are accepted or refused alike and give the same filter digest, limit and `next`; a
//! decoded position survives an encode → decode round trip, is refused under another digest,
//! and (except for the preamble, which carries no time or id) re-encodes to the very token.
#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use web::taxii::cursor::{self, SourceKind};
use web::taxii::query::{self, PageQuery};

const COLLECTION: uuid::Uuid = uuid::Uuid::from_u128(0x6f1c_52d4_0a4e_4d7c_9d3b_2f7e_1a90_c4b5);

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let pairs: Vec<(String, String)> = text
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (p.to_string(), String::new()),
        })
        .collect();
    let parsed = query::parse(&pairs);
    let reversed: Vec<(String, String)> = pairs.iter().rev().cloned().collect();
    let parsed_rev = query::parse(&reversed);
    assert_eq!(
        parsed.is_ok(),
        parsed_rev.is_ok(),
        "{pairs:?}: {parsed:?} but reversed {parsed_rev:?}"
    );
    let mut digest = [0u8; 8];
    if let (Ok(p), Ok(r)) = (&parsed, &parsed_rev) {
        within_limits(p, &pairs);
        digest = p.filters.digest(&COLLECTION);
        assert_eq!(digest, r.filters.digest(&COLLECTION), "{pairs:?}");
        assert_eq!((p.limit, &p.next), (r.limit, &r.next), "{pairs:?}");
        if let Some(next) = &p.next {
            token(next, digest);
        }
    }
    token(&text, digest);
});

fn within_limits(p: &PageQuery, pairs: &[(String, String)]) {
    assert!(pairs.len() <= query::MAX_QUERY_PARAMS);
    assert!((1..=query::MAX_PAGE_LIMIT).contains(&p.limit), "{pairs:?}");
    let f = &p.filters;
    for (list, is_id) in [(&f.types, false), (&f.ids, true)] {
        let Some(list) = list else { continue };
        assert!(list.len() <= query::MAX_MATCH_VALUES, "{pairs:?}");
        for v in list {
            assert!(
                !v.is_empty()
                    && v.len() <= query::MAX_MATCH_VALUE_BYTES
                    && !v.contains(',')
                    && v.trim() == v,
                "{pairs:?}: {v:?}"
            );
            let kind = if is_id {
                let (kind, id) = v.split_once("--").expect("a STIX id has `--`");
                assert!(uuid::Uuid::try_parse(id).is_ok(), "{v:?}");
                kind
            } else {
                v.as_str()
            };
            assert!(
                !kind.is_empty()
                    && kind
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{v:?}"
            );
        }
    }
}

/// Decodes `tok` under `digest`, and under the digest the token itself carries (bytes 22..30
/// of its 30), so that the fuzzer gets past the digest check.
fn token(tok: &str, digest: [u8; 8]) {
    round_trip(tok, digest);
    if let Ok(raw) = URL_SAFE_NO_PAD.decode(tok)
        && raw.len() == 30
    {
        let mut own = [0u8; 8];
        own.copy_from_slice(&raw[22..30]);
        round_trip(tok, own);
    }
}

fn round_trip(tok: &str, digest: [u8; 8]) {
    let Ok(pos) = cursor::decode(tok, digest) else {
        return;
    };
    assert!(tok.len() <= cursor::MAX_TOKEN_CHARS, "{tok:?}");
    let again = cursor::encode(pos, digest);
    assert!(again.len() <= cursor::MAX_TOKEN_CHARS, "{again:?}");
    assert_eq!(
        cursor::decode(&again, digest),
        Ok(pos),
        "{tok:?} -> {again:?}"
    );
    let mut other = digest;
    other[7] ^= 0x80;
    assert!(cursor::decode(&again, other).is_err(), "{again:?}");
    if pos.key.kind != SourceKind::Preamble {
        assert_eq!(again, tok, "{pos:?}");
    }
}
