//! Fuzz the command path: frame lines from a byte stream with `scan_line` and parse each.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_wire::{LineScan, parse_command, scan_line, skip_to_next_line};

fuzz_target!(|data: &[u8]| {
    // A small limit so the TooLong/resync path is exercised as often as the normal one.
    let max = 64;
    let mut rest = data;
    while !rest.is_empty() {
        match scan_line(rest, max) {
            LineScan::Line { len, consumed, ending } => {
                assert_eq!(consumed, len + ending.len());
                let line = rest.get(..len).expect("line within buffer");
                let _ = parse_command(line);
                rest = rest.get(consumed..).expect("consumed within buffer");
            }
            LineScan::Incomplete => {
                let _ = parse_command(rest);
                break;
            }
            LineScan::TooLong => match skip_to_next_line(rest) {
                Some(skip) => rest = rest.get(skip..).expect("skip within buffer"),
                None => break,
            },
        }
    }
});
