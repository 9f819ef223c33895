//! Fuzz BDAT: a `BDAT` command line followed by chunk bytes, as a session would see them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_wire::{BdatChunk, Command, LineScan, parse_command, scan_line};

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let mut stored: Vec<u8> = Vec::new();
    let budget: u64 = 256;
    while let LineScan::Line { len, consumed, .. } = scan_line(rest, 64) {
        let command = parse_command(rest.get(..len).expect("line within buffer"));
        rest = rest.get(consumed..).expect("consumed within buffer");
        let Ok(Command::Bdat { size, last }) = command else {
            continue;
        };
        let mut chunk = BdatChunk::new(size);
        let room = budget.saturating_sub(stored.len() as u64);
        let before = stored.len();
        let taken = chunk.feed(rest, &mut stored, room);
        assert!(taken <= rest.len());
        assert!((stored.len() - before) as u64 <= room);
        assert_eq!((stored.len() - before) as u64 + chunk.swallowed(), taken as u64);
        rest = rest.get(taken..).expect("taken within buffer");
        if !chunk.done() || last {
            break;
        }
    }
    assert!(stored.len() as u64 <= budget);
});
