//! Frame round trips, each refusal, and a proptest that decode never panics.

use super::*;
use model::{Envelope, MailFrom, SensorTag, SightingSource, Timings, Transcript};
use proptest::prelude::*;

fn tag(id: &str) -> SensorTag {
    SensorTag {
        id: id.into(),
        sector: "bank".into(),
        location: "NL".into(),
    }
}

fn sighting(raw: &[u8], sensor: Option<SensorTag>) -> Sighting {
    Sighting {
        id: uuid::Uuid::now_v7(),
        message_id: MessageId::of(raw),
        received_at: model::now(),
        source: SightingSource::Smtp,
        size: raw.len() as u64,
        session_id: uuid::Uuid::now_v7(),
        listener: "smtp".into(),
        peer: "192.0.2.7:40000".into(),
        local: "198.51.100.1:25".into(),
        helo: Some("spam.example".into()),
        tls: None,
        envelope: Envelope {
            mail_from: MailFrom {
                raw: "MAIL FROM:<bulk@spam.example>".into(),
                address: "bulk@spam.example".into(),
                params: vec![],
            },
            recipients: vec![],
        },
        anomalies: vec![],
        timings: Timings::default(),
        queue_id: "4XyZ1".into(),
        sensor,
    }
}

fn capture(raw: &[u8]) -> BusMessage {
    BusMessage::Capture {
        sighting: sighting(raw, Some(tag("sensor-a"))),
        raw: raw.to_vec(),
    }
}

fn session() -> BusMessage {
    let mut transcript = Transcript::default();
    transcript.push(0, model::Direction::Client, b"EHLO spam.example");
    BusMessage::Session(SessionRecord {
        id: uuid::Uuid::now_v7(),
        started_at: model::now(),
        ended_at: model::now(),
        listener: "smtp".into(),
        peer: "192.0.2.9:1234".into(),
        local: "198.51.100.1:25".into(),
        helo: Some("spam.example".into()),
        tls: None,
        auth_attempts: vec![],
        anomalies: vec![],
        sightings: vec![uuid::Uuid::now_v7()],
        commands: 4,
        errors: 0,
        end: "quit".into(),
        transcript,
    })
}

/// Replaces the JSON of a frame, keeping its kind and raw tail.
fn with_json(frame: &[u8], json: &[u8], tail: &[u8]) -> Vec<u8> {
    let mut out = frame[..5].to_vec();
    out.extend_from_slice(&(json.len() as u32).to_be_bytes());
    out.extend_from_slice(json);
    out.extend_from_slice(tail);
    out
}

#[test]
fn capture_and_session_round_trip() {
    for msg in [capture(b"Subject: hi\r\n\r\nbody\r\n"), capture(b"")] {
        assert_eq!(decode(&encode(&msg)), Ok(msg.clone()));
    }
    // A session compares by its frame: `Transcript` keeps a byte count serde skips.
    let frame = encode(&session());
    let decoded = decode(&frame).expect("session decodes");
    assert!(matches!(decoded, BusMessage::Session(_)));
    assert_eq!(encode(&decoded), frame);
}

#[test]
fn frame_starts_with_magic_version_and_kind() {
    let frame = encode(&capture(b"x"));
    assert_eq!(&frame[..5], b"SHB1C");
    assert_eq!(&encode(&session())[..5], b"SHB1S");
}

#[test]
fn foreign_payloads_are_refused_as_foreign() {
    for bad in [&b"{\"id\":1}"[..], b"\x00\x01\x02\x03", b"SHX1C", b"X"] {
        assert_eq!(decode(bad), Err(WireError::Foreign), "{bad:?}");
    }
    assert_eq!(decode(b""), Err(WireError::Truncated));
}

#[test]
fn every_truncation_is_refused() {
    let frame = encode(&session());
    for cut in 1..frame.len() {
        let err = decode(&frame[..cut]).expect_err("a cut frame must not decode");
        assert!(matches!(err, WireError::Truncated), "cut at {cut}: {err}");
    }
}

#[test]
fn a_truncated_raw_message_fails_the_size_check() {
    let frame = encode(&capture(b"0123456789"));
    assert!(matches!(
        decode(&frame[..frame.len() - 1]),
        Err(WireError::Size {
            declared: 10,
            actual: 9
        })
    ));
}

#[test]
fn unknown_version_and_kind_are_named() {
    let mut frame = encode(&session());
    frame[3] = b'2';
    assert_eq!(decode(&frame), Err(WireError::Version(b'2')));
    frame[3] = VERSION;
    frame[4] = b'X';
    assert_eq!(decode(&frame), Err(WireError::Kind(b'X')));
}

#[test]
fn a_json_length_over_the_limit_is_refused_before_reading_it() {
    let mut frame = b"SHB1S".to_vec();
    frame.extend_from_slice(&((MAX_JSON_BYTES + 1) as u32).to_be_bytes());
    assert_eq!(
        decode(&frame),
        Err(WireError::JsonTooLarge(MAX_JSON_BYTES + 1))
    );
}

#[test]
fn bytes_after_a_session_record_are_refused() {
    let mut frame = encode(&session());
    frame.extend_from_slice(b"extra");
    assert_eq!(decode(&frame), Err(WireError::Trailing(5)));
}

#[test]
fn json_errors_are_short_and_on_one_line() {
    let frame = encode(&session());
    let long = format!("{{\"id\":\"{}\n\"}}", "x".repeat(10_000));
    let err = decode(&with_json(&frame, long.as_bytes(), b"")).expect_err("not a record");
    let text = err.to_string();
    assert!(text.starts_with("json: "), "{text}");
    assert!(text.len() < 250 && !text.contains('\n'), "{text}");
}

#[test]
fn a_message_id_that_is_not_the_hash_is_refused() {
    let BusMessage::Capture { mut sighting, raw } = capture(b"body") else {
        unreachable!()
    };
    sighting.message_id = MessageId::of(b"other");
    let msg = BusMessage::Capture { sighting, raw };
    assert_eq!(decode(&encode(&msg)), Err(WireError::MessageId));
}

#[test]
fn captures_need_a_valid_sensor_tag() {
    let raw = b"body";
    let untagged = BusMessage::Capture {
        sighting: sighting(raw, None),
        raw: raw.to_vec(),
    };
    assert_eq!(decode(&encode(&untagged)), Err(WireError::NoSensor));
    let bad = BusMessage::Capture {
        sighting: sighting(raw, Some(tag("a.b"))),
        raw: raw.to_vec(),
    };
    assert_eq!(
        decode(&encode(&bad)),
        Err(WireError::BadSensor(model::SensorTagError::Id))
    );
}

#[test]
fn encode_checked_refuses_what_decode_would() {
    let msg = capture(b"fine");
    assert_eq!(encode_checked(&msg), Ok(encode(&msg)));
    let BusMessage::Capture { mut sighting, raw } = msg else {
        unreachable!()
    };
    sighting.size += 1;
    let bad = BusMessage::Capture {
        sighting: sighting.clone(),
        raw: raw.clone(),
    };
    assert!(matches!(encode_checked(&bad), Err(WireError::Size { .. })));
    sighting.size -= 1;
    sighting.queue_id = "q".repeat(MAX_JSON_BYTES);
    let huge = BusMessage::Capture { sighting, raw };
    assert!(matches!(
        encode_checked(&huge),
        Err(WireError::JsonTooLarge(_))
    ));
}

#[test]
fn every_error_display_starts_with_its_token() {
    let errors = [
        WireError::Foreign,
        WireError::Truncated,
        WireError::Version(0),
        WireError::Kind(0),
        WireError::JsonTooLarge(1),
        WireError::RawTooLarge(1),
        WireError::Trailing(1),
        WireError::Json("x".into()),
        WireError::Size {
            declared: 1,
            actual: 2,
        },
        WireError::MessageId,
        WireError::NoSensor,
        WireError::BadSensor(model::SensorTagError::Id),
        WireError::SensorMismatch {
            subject: "a".into(),
            tagged: "b".into(),
        },
        WireError::KindMismatch {
            subject: "s".into(),
        },
        WireError::Subject("s".into()),
    ];
    for e in errors {
        let token = e.token();
        assert!(token.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
        assert!(e.to_string().starts_with(&format!("{token}: ")), "{e}");
    }
}

#[test]
fn msg_ids_name_the_arrival_not_the_content() {
    let a = capture(b"same");
    let b = capture(b"same");
    assert_ne!(msg_id(&a), msg_id(&b));
    let BusMessage::Capture { sighting, .. } = &a else {
        unreachable!()
    };
    assert_eq!(msg_id(&a), format!("cap-{}", sighting.id));
    assert!(msg_id(&session()).starts_with("ses-"));
}

#[test]
fn debug_output_does_not_dump_the_raw_message() {
    let text = format!("{:?}", capture(b"secret-raw-bytes"));
    assert!(!text.contains("115, 101"), "{text}");
    assert!(text.contains("raw_len: 16"), "{text}");
}

#[test]
fn the_subject_decides_who_published() {
    let subjects = crate::Subjects::new("p");
    let cap = capture(b"x");
    assert_eq!(check_subject(&subjects, "p.capture.sensor-a", &cap), Ok(()));
    assert_eq!(
        check_subject(&subjects, "p.capture.sensor-b", &cap),
        Err(WireError::SensorMismatch {
            subject: "sensor-b".into(),
            tagged: "sensor-a".into()
        })
    );
    assert!(matches!(
        check_subject(&subjects, "p.session.sensor-a", &cap),
        Err(WireError::KindMismatch { .. })
    ));
    assert!(matches!(
        check_subject(&subjects, "p.capture.a%b", &cap),
        Err(WireError::Subject(_))
    ));
    assert_eq!(
        check_subject(&subjects, "p.session.any", &session()),
        Ok(())
    );
}

proptest! {
    #[test]
    fn raw_bytes_round_trip(raw in proptest::collection::vec(any::<u8>(), 0..2048),
                            sector in "[a-z ]{0,20}") {
        let mut s = sighting(&raw, Some(tag("s_1")));
        if let Some(t) = s.sensor.as_mut() {
            t.sector = sector;
        }
        let msg = BusMessage::Capture { sighting: s, raw };
        prop_assert_eq!(decode(&encode(&msg)), Ok(msg));
    }

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn decode_never_panics_on_framed_garbage(kind in prop_oneof![Just(b'C'), Just(b'S')],
                                             json in proptest::collection::vec(any::<u8>(), 0..128),
                                             tail in proptest::collection::vec(any::<u8>(), 0..64)) {
        let frame = with_json(&[b'S', b'H', b'B', b'1', kind], &json, &tail);
        let _ = decode(&frame);
    }
}
