//! BDAT chunks: exact byte counting, room budget, untouched pipelined bytes.

use smtp_wire::BdatChunk;

#[test]
fn chunk_consumes_exactly_its_size_and_leaves_the_rest() {
    let mut chunk = BdatChunk::new(5);
    let mut out = Vec::new();
    assert_eq!(chunk.feed(b"hello\r\nQUIT\r\n", &mut out, 100), 5);
    assert!(chunk.done());
    assert_eq!(out, b"hello");
    assert_eq!(chunk.swallowed(), 0);
}

#[test]
fn chunk_split_across_reads_is_reassembled() {
    let mut chunk = BdatChunk::new(6);
    let mut out = Vec::new();
    assert_eq!(chunk.feed(b"ab", &mut out, 100), 2);
    assert!(!chunk.done());
    assert_eq!(chunk.remaining(), 4);
    assert_eq!(chunk.feed(b"cd", &mut out, 100), 2);
    assert_eq!(chunk.feed(b"efNOOP", &mut out, 100), 2);
    assert!(chunk.done());
    assert_eq!(out, b"abcdef");
}

#[test]
fn chunk_beyond_room_is_swallowed_and_counted() {
    let mut chunk = BdatChunk::new(10);
    let mut out = Vec::new();
    assert_eq!(chunk.feed(b"0123456789", &mut out, 4), 10);
    assert_eq!(out, b"0123");
    assert_eq!(chunk.swallowed(), 6);
}

#[test]
fn zero_room_stores_nothing() {
    let mut chunk = BdatChunk::new(3);
    let mut out = Vec::new();
    assert_eq!(chunk.feed(b"abc", &mut out, 0), 3);
    assert!(out.is_empty());
    assert_eq!(chunk.swallowed(), 3);
}

#[test]
fn zero_size_chunk_is_done_at_once_and_consumes_nothing() {
    let mut chunk = BdatChunk::new(0);
    let mut out = Vec::new();
    assert!(chunk.done());
    assert_eq!(chunk.feed(b"QUIT\r\n", &mut out, 100), 0);
    assert!(out.is_empty());
}

#[test]
fn chunk_bytes_are_not_unstuffed_or_framed() {
    let mut chunk = BdatChunk::new(9);
    let mut out = Vec::new();
    assert_eq!(chunk.feed(b"..\r\n.\r\n\0\n", &mut out, 100), 9);
    assert_eq!(out, b"..\r\n.\r\n\0\n");
}

#[test]
fn huge_announced_size_only_takes_what_arrives() {
    let mut chunk = BdatChunk::new(u64::MAX);
    let mut out = Vec::new();
    assert_eq!(chunk.feed(b"abc", &mut out, u64::MAX), 3);
    assert_eq!(chunk.remaining(), u64::MAX - 3);
    assert!(!chunk.done());
}
