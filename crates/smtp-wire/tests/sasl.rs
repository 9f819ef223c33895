//! Base64 and SASL PLAIN/LOGIN decoding for the AUTH lure, including invalid input.

use smtp_wire::{decode_base64, decode_login, decode_plain, encode_base64};

#[test]
fn base64_round_trips_rfc4648_vectors() {
    let vectors: [(&[u8], &str); 7] = [
        (b"", ""),
        (b"f", "Zg=="),
        (b"fo", "Zm8="),
        (b"foo", "Zm9v"),
        (b"foob", "Zm9vYg=="),
        (b"fooba", "Zm9vYmE="),
        (b"foobar", "Zm9vYmFy"),
    ];
    for (plain, encoded) in vectors {
        assert_eq!(encode_base64(plain), encoded);
        assert_eq!(decode_base64(encoded).as_deref(), Some(plain), "{encoded}");
    }
}

#[test]
fn base64_tolerates_whitespace_and_missing_padding() {
    assert_eq!(
        decode_base64(" Zm9v\r\nYmFy ").as_deref(),
        Some(&b"foobar"[..])
    );
    assert_eq!(decode_base64("Zg").as_deref(), Some(&b"f"[..]));
    assert_eq!(decode_base64("Zm8").as_deref(), Some(&b"fo"[..]));
}

#[test]
fn base64_rejects_invalid_input() {
    for bad in [
        "Z", "Zm9v!", "Zm-v", "Zm_v", "Z===", "Zg=a", "Zg==Zg==", "Zm9=v", "=", "Zg=", "é",
    ] {
        assert_eq!(decode_base64(bad), None, "{bad}");
    }
}

#[test]
fn base64_round_trips_all_byte_values() {
    let bytes: Vec<u8> = (0..=255).collect();
    assert_eq!(decode_base64(&encode_base64(&bytes)), Some(bytes));
}

#[test]
fn plain_response_yields_authzid_user_and_password() {
    let initial = encode_base64(b"admin\0user@example.com\0hunter2");
    assert_eq!(
        decode_plain(&initial),
        Some(("admin".into(), "user@example.com".into(), "hunter2".into()))
    );
    let initial = encode_base64(b"\0bot\0pass123");
    assert_eq!(
        decode_plain(&initial),
        Some((String::new(), "bot".into(), "pass123".into()))
    );
}

#[test]
fn plain_response_with_wrong_field_count_is_refused() {
    assert_eq!(decode_plain(&encode_base64(b"userpass")), None);
    assert_eq!(decode_plain(&encode_base64(b"user\0pass")), None);
    assert_eq!(decode_plain(&encode_base64(b"a\0b\0c\0d")), None);
    assert_eq!(decode_plain("not base64!"), None);
    assert_eq!(decode_plain("="), None);
}

#[test]
fn plain_response_with_non_utf8_is_lossy() {
    let initial = encode_base64(b"\0us\xffer\0p\xfe");
    assert_eq!(
        decode_plain(&initial),
        Some((String::new(), "us\u{fffd}er".into(), "p\u{fffd}".into()))
    );
}

#[test]
fn login_response_is_decoded() {
    assert_eq!(decode_login("dXNlcm5hbWU="), Some("username".into()));
    assert_eq!(decode_login("%%%"), None);
}
