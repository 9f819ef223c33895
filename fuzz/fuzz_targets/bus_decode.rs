//! Fuzz the bus payload parser (`bus::decode`, `crates/bus/src/wire.rs`): every byte a
//! compromised sensor can put on the bus reaches it in the collector.
//!
//! Input: the whole payload. The seeds (`seeds/bus_decode/`) are valid capture and session
//! frames, so the fuzzer starts past the magic, the length and the JSON.
//!
//! Checks beyond "no panic":
//! - an accepted capture keeps the promises the collector relies on: a valid sensor tag,
//!   `size` equal to the raw length, `message_id` equal to the SHA-256 of the raw bytes;
//! - an accepted message re-encodes to a frame that decodes again and re-encodes to itself;
//! - a refusal's text starts with its token (`[a-z-]`), is one line without control
//!   characters and is short (it becomes a dead-letter header and a log line);
//! - `check_subject` on an accepted message agrees with the subject's sensor token.
#![no_main]

use bus::wire::{BusMessage, check_subject, decode, encode, msg_id, tagged_sensor};
use libfuzzer_sys::fuzz_target;
use model::MessageId;

/// Longest refusal text: the longest detail (160 characters) plus the fixed words.
const MAX_REASON: usize = 400;

fuzz_target!(|data: &[u8]| {
    match decode(data) {
        Ok(msg) => accepted(&msg),
        Err(e) => {
            let token = e.token();
            assert!(!token.is_empty());
            assert!(token.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
            let text = e.to_string();
            assert!(text.starts_with(&format!("{token}: ")), "{text}");
            assert!(text.chars().count() <= MAX_REASON, "{text}");
            assert!(!text.chars().any(char::is_control), "{text:?}");
        }
    }
});

fn accepted(msg: &BusMessage) {
    if let BusMessage::Capture { sighting, raw } = msg {
        let tag = sighting
            .sensor
            .as_ref()
            .expect("a capture carries a sensor tag");
        assert!(tag.validate().is_ok());
        assert_eq!(sighting.size, raw.len() as u64);
        assert_eq!(sighting.message_id, MessageId::of(raw));
        assert!(msg_id(msg).starts_with("cap-"));
    } else {
        assert!(msg_id(msg).starts_with("ses-"));
    }
    let frame = encode(msg);
    let again = decode(&frame).expect("a re-encoded message decodes");
    assert_eq!(encode(&again), frame);

    let subjects = bus::Subjects::default();
    let sensor = tagged_sensor(msg).unwrap_or("any-sensor");
    let (own, other) = match msg {
        BusMessage::Capture { .. } => (subjects.capture(sensor), subjects.capture("zz-other")),
        BusMessage::Session(_) => (subjects.session(sensor), subjects.capture(sensor)),
    };
    assert_eq!(check_subject(&subjects, &own, msg), Ok(()));
    assert!(check_subject(&subjects, &other, msg).is_err() || sensor == "zz-other");
}
