//! DATA framing: dot-unstuffing, the end marker, size cap, pipelining and anomalies.

use smtp_wire::{DEFAULT_MAX_DATA_LINE, DataReceiver, DataStep, WireAnomaly, WireAnomalyKind};

struct Received {
    message: Vec<u8>,
    step: DataStep,
    anomalies: Vec<WireAnomaly>,
}

fn receive(input: &[u8]) -> Received {
    let mut receiver = DataReceiver::new(1 << 20, DEFAULT_MAX_DATA_LINE);
    let mut message = Vec::new();
    let step = receiver.feed(input, &mut message);
    Received {
        message,
        step,
        anomalies: receiver.take_anomalies(),
    }
}

fn kinds(anomalies: &[WireAnomaly]) -> Vec<WireAnomalyKind> {
    anomalies.iter().map(|a| a.kind).collect()
}

fn smuggling_details(anomalies: &[WireAnomaly]) -> Vec<&str> {
    anomalies
        .iter()
        .filter(|a| a.kind == WireAnomalyKind::Smuggling)
        .map(|a| a.detail.as_str())
        .collect()
}

#[test]
fn plain_message_ends_at_crlf_dot_crlf_and_keeps_its_last_crlf() {
    let input = b"Subject: hi\r\n\r\nbody\r\n.\r\n";
    let got = receive(input);
    assert_eq!(got.message, b"Subject: hi\r\n\r\nbody\r\n");
    assert_eq!(
        got.step,
        DataStep {
            consumed: input.len(),
            done: true
        }
    );
    assert!(got.anomalies.is_empty());
}

#[test]
fn message_that_is_only_the_end_marker_is_empty() {
    let got = receive(b".\r\n");
    assert_eq!(got.message, b"");
    assert_eq!(
        got.step,
        DataStep {
            consumed: 3,
            done: true
        }
    );
}

#[test]
fn leading_dots_are_unstuffed() {
    let got = receive(b"..hidden\r\n...\r\n.x\r\nmid.dle\r\n.\r\n");
    assert_eq!(got.message, b".hidden\r\n..\r\nx\r\nmid.dle\r\n");
}

#[test]
fn stuffed_lone_dot_line_is_data() {
    let got = receive(b"a\r\n..\r\nb\r\n.\r\n");
    assert_eq!(got.message, b"a\r\n.\r\nb\r\n");
    assert!(got.step.done);
}

#[test]
fn incomplete_message_consumes_everything_and_is_not_done() {
    let got = receive(b"a\r\n.");
    assert_eq!(
        got.step,
        DataStep {
            consumed: 4,
            done: false
        }
    );
    assert_eq!(got.message, b"a\r\n");
}

#[test]
fn end_marker_split_across_feeds_is_found() {
    let mut receiver = DataReceiver::new(1000, 1000);
    let mut out = Vec::new();
    for part in [&b"hello\r"[..], b"\n", b".", b"\r", b"\nQUIT\r\n"] {
        let step = receiver.feed(part, &mut out);
        if step.done {
            assert_eq!(step.consumed, 1);
        }
    }
    assert!(receiver.is_done());
    assert_eq!(out, b"hello\r\n");
}

#[test]
fn pipelined_bytes_after_the_end_are_untouched() {
    let input = b"body\r\n.\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n";
    let got = receive(input);
    assert_eq!(
        got.step,
        DataStep {
            consumed: 9,
            done: true
        }
    );
    assert_eq!(
        input.get(got.step.consumed..),
        Some(&b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\n"[..])
    );
}

#[test]
fn feeding_after_done_consumes_nothing() {
    let mut receiver = DataReceiver::new(100, 100);
    let mut out = Vec::new();
    assert!(receiver.feed(b".\r\n", &mut out).done);
    assert_eq!(
        receiver.feed(b"more", &mut out),
        DataStep {
            consumed: 0,
            done: true
        }
    );
    assert!(out.is_empty());
}

#[test]
fn each_smuggling_sequence_is_data_and_recorded() {
    let cases: [(&[u8], &str); 8] = [
        (b"a\n.\nb", "\\n.\\n"),
        (b"a\n.\r\nb", "\\n.\\r\\n"),
        (b"a\r\n.\nb", "\\r\\n.\\n"),
        (b"a\r.\rb", "\\r.\\r"),
        (b"a\r.\r\nb", "\\r.\\r\\n"),
        (b"a\n.\rb", "\\n.\\r"),
        (b"a\r.\nb", "\\r.\\n"),
        (b"a\r\n.\rb", "\\r\\n.\\r"),
    ];
    for (sequence, name) in cases {
        let mut input = sequence.to_vec();
        input.extend_from_slice(b"\r\n.\r\n");
        let got = receive(&input);
        assert!(got.step.done, "{name}: should end only at the real marker");
        assert_eq!(got.step.consumed, input.len(), "{name}");
        let details = smuggling_details(&got.anomalies);
        assert_eq!(details.len(), 1, "{name}: {:?}", got.anomalies);
        assert!(
            details.iter().all(|d| d.contains(name)),
            "{name}: {details:?}"
        );
        let smuggling = got
            .anomalies
            .iter()
            .find(|a| a.kind == WireAnomalyKind::Smuggling);
        let dot = sequence.iter().position(|&b| b == b'.').map(|p| p as u64);
        assert_eq!(
            smuggling.map(|a| a.offset),
            dot,
            "{name}: offset is where the dot stood"
        );
    }
}

#[test]
fn smuggling_after_crlf_unstuffs_the_dot_but_after_bare_lf_keeps_it() {
    assert_eq!(receive(b"a\r\n.\nb\r\n.\r\n").message, b"a\r\n\nb\r\n");
    assert_eq!(receive(b"a\n.\nb\r\n.\r\n").message, b"a\n.\nb\r\n");
    assert_eq!(receive(b"a\n.\r\nb\r\n.\r\n").message, b"a\n.\r\nb\r\n");
}

#[test]
fn smuggled_second_message_stays_inside_the_first() {
    let input =
        b"Subject: a\r\n\r\nx\n.\nMAIL FROM:<evil@x>\nRCPT TO:<v@y>\nDATA\nSubject: b\n\n.\r\n";
    let got = receive(input);
    assert!(
        !got.step.done,
        "only a bare LF precedes the last dot, so this is not the end"
    );
    let mut input = input.to_vec();
    input.extend_from_slice(b"\r\n.\r\n");
    let got = receive(&input);
    assert!(got.step.done);
    assert!(got.message.windows(9).any(|w| w == b"MAIL FROM"));
    assert_eq!(smuggling_details(&got.anomalies).len(), 2);
}

#[test]
fn start_of_data_counts_as_a_line_start_for_smuggling() {
    let got = receive(b".\nfoo\r\n.\r\n");
    assert_eq!(got.message, b"\nfoo\r\n");
    assert_eq!(
        smuggling_details(&got.anomalies),
        vec!["sequence \"\\r\\n.\\n\" seen 1 time(s)"]
    );
}

#[test]
fn bare_lf_bare_cr_and_nul_are_recorded_with_offsets_and_counts() {
    let got = receive(b"ab\ncd\ref\0g\nh\r\n.\r\n");
    assert_eq!(got.message, b"ab\ncd\ref\0g\nh\r\n");
    assert_eq!(
        kinds(&got.anomalies),
        vec![
            WireAnomalyKind::BareLf,
            WireAnomalyKind::BareCr,
            WireAnomalyKind::NulByte
        ]
    );
    let offsets: Vec<u64> = got.anomalies.iter().map(|a| a.offset).collect();
    assert_eq!(offsets, vec![2, 5, 8]);
    assert_eq!(
        got.anomalies.first().map(|a| a.detail.as_str()),
        Some("bare LF seen 2 time(s)")
    );
}

#[test]
fn cr_before_crlf_is_a_bare_cr() {
    let got = receive(b"a\r\r\n.\r\n");
    assert_eq!(got.message, b"a\r\r\n");
    assert_eq!(kinds(&got.anomalies), vec![WireAnomalyKind::BareCr]);
}

#[test]
fn long_line_is_recorded_once_per_line_and_kept_whole() {
    let mut receiver = DataReceiver::new(1000, 4);
    let mut out = Vec::new();
    let step = receiver.feed(b"ok\r\n123456789\r\nabcd\r\nxxxxx\r\n.\r\n", &mut out);
    assert!(step.done);
    assert_eq!(out, b"ok\r\n123456789\r\nabcd\r\nxxxxx\r\n");
    let anomalies = receiver.take_anomalies();
    assert_eq!(kinds(&anomalies), vec![WireAnomalyKind::LineTooLong]);
    assert_eq!(anomalies.first().map(|a| a.offset), Some(4));
    assert_eq!(
        anomalies.first().map(|a| a.detail.as_str()),
        Some("2 line(s) longer than 4 bytes")
    );
}

#[test]
fn oversized_message_is_swallowed_and_capped() {
    let mut receiver = DataReceiver::new(10, 1000);
    let mut out = Vec::new();
    let body = b"0123456789abcdefghij\r\n.\r\nQUIT\r\n";
    let step = receiver.feed(body, &mut out);
    assert_eq!(
        step,
        DataStep {
            consumed: 25,
            done: true
        }
    );
    assert_eq!(out, b"0123456789");
    assert!(receiver.oversized());
    assert_eq!(receiver.total_bytes(), 22);
}

#[test]
fn message_exactly_at_the_limit_is_not_oversized() {
    let mut receiver = DataReceiver::new(5, 1000);
    let mut out = Vec::new();
    assert!(receiver.feed(b"abc\r\n.\r\n", &mut out).done);
    assert_eq!(out, b"abc\r\n");
    assert!(!receiver.oversized());
    assert_eq!(receiver.total_bytes(), 5);
}

#[test]
fn anomalies_are_bounded_and_taken_once() {
    let mut input = Vec::new();
    for _ in 0..10_000 {
        input.extend_from_slice(b"x\n.\n\0\r.\r");
    }
    input.extend_from_slice(b"\r\n.\r\n");
    let mut receiver = DataReceiver::new(1 << 20, 1000);
    let mut out = Vec::new();
    assert!(receiver.feed(&input, &mut out).done);
    let anomalies = receiver.take_anomalies();
    assert!(anomalies.len() <= smtp_wire::MAX_ANOMALIES);
    assert!(
        anomalies
            .iter()
            .any(|a| a.detail == "bare LF seen 20000 time(s)"),
        "{anomalies:?}"
    );
    assert!(receiver.take_anomalies().is_empty());
}

#[test]
fn data_split_at_every_byte_gives_same_message() {
    let input = b"From: a\r\n..x\r\nb\n.\nc\r.\rd\r\n.\ne\0\r\n.\r\nNEXT";
    let whole = receive(input);
    let mut receiver = DataReceiver::new(1 << 20, DEFAULT_MAX_DATA_LINE);
    let mut out = Vec::new();
    let mut consumed = 0;
    for byte in input.chunks(1) {
        let step = receiver.feed(byte, &mut out);
        consumed += step.consumed;
        if step.done {
            break;
        }
    }
    assert_eq!(out, whole.message);
    assert_eq!(consumed, whole.step.consumed);
    assert_eq!(receiver.take_anomalies(), whole.anomalies);
}
