//! Property tests: nothing panics on arbitrary bytes, and DATA framing is split-invariant.

use proptest::prelude::*;
use smtp_wire::{
    BdatChunk, DataReceiver, LineScan, decode_base64, decode_plain, encode_base64, parse_command,
    scan_line,
};

/// Bytes drawn mostly from the characters that matter to SMTP framing.
fn wire_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => prop::sample::select(vec![b'\r', b'\n', b'.', b'a', 0u8, b' ']),
        1 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..max)
}

/// Feeds `input` to a fresh receiver in pieces of the given sizes (cycled).
fn feed_in_pieces(
    input: &[u8],
    sizes: &[usize],
    max_size: u64,
    max_line: usize,
) -> (Vec<u8>, usize, bool, Vec<smtp_wire::WireAnomaly>, u64) {
    let mut receiver = DataReceiver::new(max_size, max_line);
    let mut out = Vec::new();
    let mut pos = 0;
    let mut done = false;
    let mut sizes = sizes.iter().cycle();
    while pos < input.len() && !done {
        let size = sizes.next().copied().unwrap_or(1).max(1);
        let end = (pos + size).min(input.len());
        let piece = &input[pos..end];
        let step = receiver.feed(piece, &mut out);
        assert!(step.consumed <= piece.len());
        if !step.done {
            assert_eq!(step.consumed, piece.len());
        }
        pos += step.consumed;
        done = step.done;
    }
    (
        out,
        pos,
        done,
        receiver.take_anomalies(),
        receiver.total_bytes(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn parse_command_never_panics(line in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_command(&line);
    }

    #[test]
    fn parse_command_never_panics_on_smtp_like_lines(
        verb in prop::sample::select(vec!["MAIL FROM:", "RCPT TO:", "BDAT ", "AUTH ", "EHLO ", "mail from: "]),
        rest in "[<>@\"\\\\:,\\[\\] a-zA-Z0-9.%!=\u{e9}\t]{0,60}",
    ) {
        let _ = parse_command(format!("{verb}{rest}").as_bytes());
    }

    #[test]
    fn scan_line_never_panics_and_is_consistent(buf in wire_bytes(64), max in 0usize..40) {
        match scan_line(&buf, max) {
            LineScan::Line { len, consumed, ending } => {
                prop_assert!(len <= max);
                prop_assert_eq!(consumed, len + ending.len());
                prop_assert_eq!(buf.get(consumed - 1), Some(&b'\n'));
            }
            LineScan::Incomplete => prop_assert!(!buf.contains(&b'\n')),
            LineScan::TooLong => {}
        }
    }

    #[test]
    fn data_split_invariance_holds(
        input in wire_bytes(400),
        sizes in prop::collection::vec(1usize..17, 1..8),
        max_size in 0u64..300,
        max_line in 0usize..50,
    ) {
        let whole = feed_in_pieces(&input, &[usize::MAX], max_size, max_line);
        let split = feed_in_pieces(&input, &sizes, max_size, max_line);
        let bytewise = feed_in_pieces(&input, &[1], max_size, max_line);
        prop_assert_eq!(&whole, &split);
        prop_assert_eq!(&whole, &bytewise);
        let (out, _, _, _, total) = whole;
        prop_assert_eq!(out.len() as u64, total.min(max_size));
    }

    #[test]
    fn data_message_is_a_prefix_of_input_without_stuffing(body in "[a-z\r\n]{0,200}") {
        // Without dots the receiver copies bytes verbatim up to the marker.
        let mut input = body.clone().into_bytes();
        input.extend_from_slice(b"\r\n.\r\nQUIT");
        let (out, consumed, done, _, _) = feed_in_pieces(&input, &[7], 1 << 20, 1000);
        prop_assert!(done);
        prop_assert_eq!(&input[consumed..], b"QUIT");
        prop_assert_eq!(out, input[..consumed - 3].to_vec());
    }

    #[test]
    fn bdat_consumes_exactly_the_chunk(size in 0u64..100, input in wire_bytes(120), room in 0u64..120) {
        let mut chunk = BdatChunk::new(size);
        let mut out = Vec::new();
        let consumed = chunk.feed(&input, &mut out, room);
        prop_assert_eq!(consumed as u64, size.min(input.len() as u64));
        prop_assert_eq!(out.len() as u64, (consumed as u64).min(room));
        prop_assert_eq!(out.len() as u64 + chunk.swallowed(), consumed as u64);
    }

    #[test]
    fn base64_round_trips_and_decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..100), text in ".{0,80}") {
        prop_assert_eq!(decode_base64(&encode_base64(&bytes)), Some(bytes));
        let _ = decode_base64(&text);
        let _ = decode_plain(&text);
    }
}
