//! Fuzz the DATA receiver: feed in chunk sizes derived from the input and check
//! that the result equals feeding everything at once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_wire::DataReceiver;

fuzz_target!(|data: &[u8]| {
    let Some((&seed, body)) = data.split_first() else {
        return;
    };
    let max_size = u64::from(seed) * 4;
    let max_line = usize::from(seed % 64);

    let mut whole = DataReceiver::new(max_size, max_line);
    let mut whole_out = Vec::new();
    let whole_step = whole.feed(body, &mut whole_out);
    assert!(whole_step.consumed <= body.len());

    let mut split = DataReceiver::new(max_size, max_line);
    let mut split_out = Vec::new();
    let mut pos = 0;
    let mut i = 0usize;
    let mut done = false;
    while pos < body.len() && !done {
        // Chunk sizes 1..=16 driven by the bytes themselves.
        let size = usize::from(body.get(i % body.len()).copied().unwrap_or(1) % 16) + 1;
        i = i.wrapping_add(1);
        let end = (pos + size).min(body.len());
        let piece = body.get(pos..end).expect("piece within body");
        let step = split.feed(piece, &mut split_out);
        pos += step.consumed;
        done = step.done;
    }
    assert_eq!(whole_out, split_out);
    assert_eq!(whole_step.consumed, pos);
    assert_eq!(whole_step.done, done);
    assert_eq!(whole.total_bytes(), split.total_bytes());
    assert_eq!(whole.take_anomalies(), split.take_anomalies());
    assert!(whole_out.len() as u64 <= max_size);
});
