//! STIX identifiers: deterministic UUIDv5 for observables (SCOs), derived UUIDv4 for
//! everything we author, and the "slots" that tie an indicator's derived objects to its row.
//!
//! - SCO ids follow STIX 2.1 §2.9: UUIDv5 in the STIX namespace over the RFC 8785 (JCS)
//!   canonical JSON of the ID-contributing properties, so any producer naming the same
//!   observable gets the same id (checked against the OASIS `stix2` library by the oracle).
//! - Indicator ids are the store row's random UUIDv4, whose last 4 bits are zero; the
//!   relationship, observed data and sighting derived from it take the same UUID with another
//!   value in those 4 bits (its slot). The version and variant bits sit elsewhere, so every
//!   slotted id is still a valid UUIDv4, and [`unslot`] finds the row from any of them.
//! - Campaign ids reuse the campaign's UUIDv7 with the version nibble set to 4 (STIX demands
//!   v4 for domain objects); [`campaign_uuid_from_stix`] sets it back.
//! - Malware families and `uses` relationships: [`stable_v4`] under the installation secret.

use crate::intel::ids::stable_v4;
use uuid::Uuid;

/// The STIX 2.1 namespace for SCO ids (`00abedb4-aa42-466c-9c01-fed23315a9b7`).
pub const SCO_NAMESPACE: Uuid = Uuid::from_u128(0x00abedb4_aa42_466c_9c01_fed23315a9b7);

/// Slot of the indicator itself (`indicator--<row uuid>`).
pub const SLOT_INDICATOR: u8 = 0;
/// Slot of the relationship `indicator indicates campaign`.
pub const SLOT_INDICATES: u8 = 1;
/// Slot of the observed data behind the indicator.
pub const SLOT_OBSERVED_DATA: u8 = 2;
/// Slot of the sighting of the indicator by our identity.
pub const SLOT_SIGHTING: u8 = 3;
/// Slot of the relationship `indicator based-on observed-data`.
pub const SLOT_BASED_ON: u8 = 4;

/// `uuid` with its last 4 bits replaced by `n` (only the low 4 bits of `n` count).
pub fn slot(uuid: Uuid, n: u8) -> Uuid {
    let mut b = *uuid.as_bytes();
    b[15] = (b[15] & 0xf0) | (n & 0x0f);
    Uuid::from_bytes(b)
}

/// The row uuid (last 4 bits zero) and the slot of a derived id: the inverse of [`slot`].
pub fn unslot(uuid: Uuid) -> (Uuid, u8) {
    let mut b = *uuid.as_bytes();
    let n = b[15] & 0x0f;
    b[15] &= 0xf0;
    (Uuid::from_bytes(b), n)
}

/// `<kind>--<uuid>`, lower case hyphenated as STIX requires.
pub fn stix_id(kind: &str, uuid: Uuid) -> String {
    format!("{kind}--{}", uuid.hyphenated())
}

/// `uuid` with its version nibble set to `version`.
fn with_version(uuid: Uuid, version: u8) -> Uuid {
    let mut b = *uuid.as_bytes();
    b[6] = (b[6] & 0x0f) | (version << 4);
    Uuid::from_bytes(b)
}

/// `campaign--<uuid>`: the campaign's UUIDv7 with the version nibble set to 4. The variant
/// bits of a v7 are already RFC 4122, so the result is a valid UUIDv4.
pub fn campaign_stix_id(campaign_uuid: Uuid) -> String {
    stix_id("campaign", with_version(campaign_uuid, 4))
}

/// The campaign UUIDv7 behind a STIX campaign id (`campaign--<uuid>`, or the bare UUID), or
/// `None` when it is not one.
pub fn campaign_uuid_from_stix(id: &str) -> Option<Uuid> {
    let bare = id.strip_prefix("campaign--").unwrap_or(id);
    let uuid = Uuid::try_parse(bare).ok()?;
    (uuid.get_version_num() == 4).then(|| with_version(uuid, 7))
}

/// `identity--<producer uuid>`.
pub fn identity_id(producer_uuid: Uuid) -> String {
    stix_id("identity", producer_uuid)
}

/// The family name as it keys ids: trimmed, lower case.
fn family_key(family: &str) -> String {
    family.trim().to_lowercase()
}

/// `malware--<v4>` of a family: the same family gets the same id in every export.
pub fn malware_id(secret: &[u8; 32], family: &str) -> String {
    stix_id(
        "malware",
        stable_v4(secret, &format!("malware:{}", family_key(family))),
    )
}

/// `relationship--<v4>` of `campaign uses malware`.
pub fn uses_id(secret: &[u8; 32], campaign_uuid: Uuid, family: &str) -> String {
    let key = format!("uses:{}:{}", campaign_uuid.hyphenated(), family_key(family));
    stix_id("relationship", stable_v4(secret, &key))
}

/// A JSON value as it appears in ID-contributing properties of the SCOs we emit: strings
/// and objects of strings (`hashes`). Numbers never contribute to the ids of our SCOs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Jcs<'a> {
    Str(&'a str),
    Obj(Vec<(&'a str, Jcs<'a>)>),
}

impl Jcs<'_> {
    /// RFC 8785 serialisation: members sorted by key, no whitespace, strings escaped as
    /// ECMAScript `JSON.stringify` does (`\"`, `\\`, `\b \f \n \r \t`, other controls as
    /// lower-case `\u00xx`, everything else literal UTF-8), which is what `serde_json` does
    /// for strings. JCS sorts keys by UTF-16 code units; our keys are ASCII, where that is
    /// byte order.
    pub fn canonical(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Jcs::Str(s) => out.push_str(&json_string(s)),
            Jcs::Obj(members) => {
                let mut sorted: Vec<&(&str, Jcs<'_>)> = members.iter().collect();
                sorted.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
                out.push('{');
                for (i, (k, v)) in sorted.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&json_string(k));
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("serialising a str cannot fail")
}

/// The id of an SCO from its ID-contributing properties (absent ones left out).
pub fn sco_id(kind: &str, contributing: Vec<(&str, Jcs<'_>)>) -> String {
    let name = Jcs::Obj(contributing).canonical();
    stix_id(kind, Uuid::new_v5(&SCO_NAMESPACE, name.as_bytes()))
}

/// The id of a `url`, `domain-name`, `ipv4-addr`, `ipv6-addr` or `email-addr`: `value` only.
pub fn value_sco_id(kind: &str, value: &str) -> String {
    sco_id(kind, vec![("value", Jcs::Str(value))])
}

/// Hash names in the order STIX picks the one that contributes to a `file` id.
const HASH_PREFERENCE: [&str; 4] = ["MD5", "SHA-1", "SHA-256", "SHA-512"];

/// The id of a `file` from its `hashes` (name, value; in output order) and `name`. Only one
/// hash contributes: MD5, else SHA-1, SHA-256, SHA-512, else the first one given.
pub fn file_sco_id(hashes: &[(&str, &str)], name: Option<&str>) -> String {
    let chosen = HASH_PREFERENCE
        .iter()
        .find_map(|want| hashes.iter().find(|(k, _)| k == want))
        .or_else(|| hashes.first());
    let mut props = Vec::new();
    if let Some((k, v)) = chosen {
        props.push(("hashes", Jcs::Obj(vec![(k, Jcs::Str(v))])));
    }
    if let Some(n) = name {
        props.push(("name", Jcs::Str(n)));
    }
    sco_id("file", props)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// All test vectors of the reference (§1.3), computed there with the OASIS `stix2` library.
    #[test]
    fn sco_ids_match_the_oasis_vectors() {
        let cases = [
            (
                "domain-name",
                "example.com",
                "bedb4899-d24b-5401-bc86-8f6b4cc18ec7",
            ),
            (
                "ipv4-addr",
                "203.0.113.7",
                "9ddd739e-87b1-587d-83f2-62ef1130af2f",
            ),
            (
                "ipv6-addr",
                "2001:db8::7",
                "9ed76cd5-ab3b-55a5-b6ec-b55c3efb0be2",
            ),
            (
                "url",
                "http://compromised-site.example/wp-content/plugins/x/87yg7yyb",
                "44c9a3e5-2654-5182-9869-10ecce879b6e",
            ),
            (
                "email-addr",
                "accounts@invoice-mailer.example",
                "8bf5a5d6-54f4-543a-a441-2eda53123c11",
            ),
            // From the reference's verified bundle.
            (
                "domain-name",
                "compromised-site.example",
                "483d515f-ae5e-5613-ae2f-8325d0701e9b",
            ),
        ];
        for (kind, value, uuid) in cases {
            assert_eq!(
                value_sco_id(kind, value),
                format!("{kind}--{uuid}"),
                "{value}"
            );
        }
        let sha256 = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
        assert_eq!(
            file_sco_id(&[("SHA-256", sha256)], Some("factuur.js")),
            "file--780fc0c5-d2d7-5fc7-8fec-227f800e1ef1"
        );
        // MD5 + SHA-256 of b"hello\n": MD5 wins whatever the order given.
        let md5 = "b1946ac92492d2347c6235b4d2611184";
        assert_eq!(
            file_sco_id(&[("SHA-256", sha256), ("MD5", md5)], Some("factuur.js")),
            "file--b74137c9-c01d-5514-b964-8a2dca0e2ed7"
        );
        let msg = sco_id(
            "email-message",
            vec![
                (
                    "from_ref",
                    Jcs::Str("email-addr--8bf5a5d6-54f4-543a-a441-2eda53123c11"),
                ),
                ("subject", Jcs::Str("Factuur 2016-0216-4471")),
                ("body", Jcs::Str("x")),
            ],
        );
        assert_eq!(msg, "email-message--c2d89569-983c-5661-9acd-4652e695db2b");
    }

    #[test]
    fn file_id_of_the_reference_bundle() {
        // All five hashes present: only MD5 and the name contribute.
        let id = file_sco_id(
            &[
                (
                    "SHA-256",
                    "d472d9c138bff172c7eb7a26e08fb89250a56362f2052ca26b9af93de40e6db6",
                ),
                ("MD5", "2fa1a385c48e6c94f8506e19b5d78770"),
                ("SHA-1", "14bad5c1c3097a297e5bf791d75481f16695281c"),
            ],
            Some("factuur_4471.zip"),
        );
        assert_eq!(id, "file--d7e7a233-aee2-5170-9507-df561c0c4043");
    }

    #[test]
    fn canonical_json_sorts_keys_and_escapes_like_jcs() {
        let v = Jcs::Obj(vec![
            ("value", Jcs::Str("a\"b\\c\n\u{1f}\u{7f}é\u{2028}")),
            (
                "hashes",
                Jcs::Obj(vec![("SHA-1", Jcs::Str("x")), ("MD5", Jcs::Str("y"))]),
            ),
        ]);
        assert_eq!(
            v.canonical(),
            "{\"hashes\":{\"MD5\":\"y\",\"SHA-1\":\"x\"},\"value\":\"a\\\"b\\\\c\\n\\u001f\u{7f}é\u{2028}\"}"
        );
    }

    #[test]
    fn slots_round_trip_and_stay_version_4() {
        let row = Uuid::from_u128(0x7d2c1234_5678_4abc_8def_0123456789a0);
        for n in 0..16u8 {
            let s = slot(row, n);
            assert_eq!(unslot(s), (row, n));
            assert_eq!(s.get_version_num(), 4);
            assert_eq!(s.get_variant(), uuid::Variant::RFC4122);
        }
        assert_eq!(slot(row, SLOT_INDICATOR), row);
        assert_ne!(slot(row, SLOT_SIGHTING), slot(row, SLOT_BASED_ON));
        // Only the low nibble of n counts.
        assert_eq!(slot(row, 0x13), slot(row, 3));
    }

    #[test]
    fn campaign_ids_are_v4_and_reverse_to_the_v7() {
        let v7 = Uuid::from_u128(0x01890a5d_ac96_774b_bcce_b302099a8057);
        assert_eq!(v7.get_version_num(), 7);
        let id = campaign_stix_id(v7);
        assert_eq!(id, "campaign--01890a5d-ac96-474b-bcce-b302099a8057");
        let parsed = Uuid::try_parse(id.trim_start_matches("campaign--")).expect("a uuid");
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(campaign_uuid_from_stix(&id), Some(v7));
        assert_eq!(campaign_uuid_from_stix("campaign--not-a-uuid"), None);
        assert_eq!(
            campaign_uuid_from_stix("01890a5d-ac96-774b-bcce-b302099a8057"),
            None
        );
    }

    #[test]
    fn family_ids_are_stable_case_insensitive_and_secret_keyed() {
        let s = [7u8; 32];
        assert_eq!(malware_id(&s, "Locky"), malware_id(&s, "locky"));
        assert_ne!(malware_id(&s, "locky"), malware_id(&s, "emotet"));
        assert_ne!(malware_id(&s, "locky"), malware_id(&[8; 32], "locky"));
        let c = Uuid::from_u128(1);
        assert_ne!(
            uses_id(&s, c, "locky"),
            uses_id(&s, Uuid::from_u128(2), "locky")
        );
        assert!(malware_id(&s, "locky").starts_with("malware--"));
    }
}
