//! The opaque `next` token: where the next page starts, and which filters it belongs to.
//!
//! A collection's content is a sequence of *sources* (the preamble, then campaigns and
//! indicators in change order), each rendering to a few STIX objects. A position names a
//! source by its order key and an object by its index within it. The token is base64url of
//! a version byte, the position and an 8-byte digest of the filters; it is not secret (it
//! only points into data the caller may read anyway), but a token replayed with other
//! filters, another collection or mangled in transit is refused with 400.

use crate::error::ApiError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

const TOKEN_VERSION: u8 = 1;
const TOKEN_BYTES: usize = 1 + 1 + 8 + 8 + 4 + 8;
/// Longest `next` value looked at (the real ones are 40 characters).
pub const MAX_TOKEN_CHARS: usize = 64;

/// What kind of source: the order of kinds at equal change times, too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SourceKind {
    Preamble = 0,
    Campaign = 1,
    Indicator = 2,
}

/// A source's place in the collection: the preamble first, then `(changed_at, kind, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceKey {
    /// `false` for the preamble, so it sorts first whatever its time.
    pub body: bool,
    /// `changed_at` in unix nanoseconds (0 for the preamble).
    pub at: i64,
    pub kind: SourceKind,
    /// Store row id (0 for the preamble).
    pub id: i64,
}

impl SourceKey {
    pub const PREAMBLE: SourceKey = SourceKey {
        body: false,
        at: 0,
        kind: SourceKind::Preamble,
        id: 0,
    };

    pub fn campaign(at: i64, id: i64) -> SourceKey {
        SourceKey {
            body: true,
            at,
            kind: SourceKind::Campaign,
            id,
        }
    }

    pub fn indicator(at: i64, id: i64) -> SourceKey {
        SourceKey {
            body: true,
            at,
            kind: SourceKind::Indicator,
            id,
        }
    }
}

/// The next object to return: `index` within source `key` (an index past the source's end
/// means "after this source").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub key: SourceKey,
    pub index: u32,
}

pub fn encode(pos: Position, digest: [u8; 8]) -> String {
    let mut b = Vec::with_capacity(TOKEN_BYTES);
    b.push(TOKEN_VERSION);
    b.push(pos.key.kind as u8);
    b.extend_from_slice(&pos.key.at.to_be_bytes());
    b.extend_from_slice(&pos.key.id.to_be_bytes());
    b.extend_from_slice(&pos.index.to_be_bytes());
    b.extend_from_slice(&digest);
    URL_SAFE_NO_PAD.encode(b)
}

pub fn decode(token: &str, digest: [u8; 8]) -> Result<Position, ApiError> {
    let bad = || ApiError::bad_request("next: not a token of this server");
    if token.len() > MAX_TOKEN_CHARS {
        return Err(bad());
    }
    let b = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    if b.len() != TOKEN_BYTES || b[0] != TOKEN_VERSION {
        return Err(bad());
    }
    if b[22..30] != digest {
        return Err(ApiError::bad_request(
            "next: the token belongs to another query; repeat the filters it was issued for",
        ));
    }
    let i64_at = |o: usize| -> Result<i64, ApiError> {
        Ok(i64::from_be_bytes(
            b[o..o + 8].try_into().map_err(|_| bad())?,
        ))
    };
    let (at, id) = (i64_at(2)?, i64_at(10)?);
    let index = u32::from_be_bytes(b[18..22].try_into().map_err(|_| bad())?);
    let key = match b[1] {
        0 => SourceKey::PREAMBLE,
        1 => SourceKey::campaign(at, id),
        2 => SourceKey::indicator(at, id),
        _ => return Err(bad()),
    };
    Ok(Position { key, index })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_refuse_other_filters_and_garbage() {
        let pos = Position {
            key: SourceKey::indicator(1_455_624_000_123_456_789, 42),
            index: 3,
        };
        let d = [7u8; 8];
        let t = encode(pos, d);
        assert!(t.len() <= MAX_TOKEN_CHARS);
        assert_eq!(decode(&t, d), Ok(pos));
        assert!(decode(&t, [8u8; 8]).is_err());
        for garbage in ["", "x", "!!!!", &"A".repeat(40), &"A".repeat(500)] {
            assert!(decode(garbage, d).is_err(), "{garbage:?}");
        }
        let p = Position {
            key: SourceKey::PREAMBLE,
            index: 1,
        };
        assert_eq!(decode(&encode(p, d), d), Ok(p));
    }

    #[test]
    fn preamble_sorts_before_everything_and_campaigns_before_indicators_at_one_time() {
        assert!(SourceKey::PREAMBLE < SourceKey::campaign(i64::MIN, i64::MIN));
        assert!(SourceKey::campaign(5, 99) < SourceKey::indicator(5, 1));
        assert!(SourceKey::indicator(5, 99) < SourceKey::campaign(6, 1));
    }
}
