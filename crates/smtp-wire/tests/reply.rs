//! Reply formatting: single and multi-line, empty, and injection-proof.

use smtp_wire::Reply;

#[test]
fn single_line_reply_is_written_with_crlf() {
    assert_eq!(Reply::new(250, "2.1.0 Ok").to_bytes(), b"250 2.1.0 Ok\r\n");
}

#[test]
fn multi_line_reply_uses_dashes_until_the_last_line() {
    let reply = Reply::multi(
        250,
        vec![
            "mx.example".into(),
            "PIPELINING".into(),
            "SIZE 10240000".into(),
        ],
    );
    let mut out = Vec::new();
    reply.write_to(&mut out);
    assert_eq!(
        out,
        b"250-mx.example\r\n250-PIPELINING\r\n250 SIZE 10240000\r\n"
    );
}

#[test]
fn empty_reply_writes_code_and_space() {
    assert_eq!(Reply::multi(250, Vec::new()).to_bytes(), b"250 \r\n");
    assert_eq!(Reply::multi(250, Vec::new()).first_line(), "250 ");
}

#[test]
fn crlf_injection_in_text_is_neutralised() {
    let reply = Reply::new(250, "Hello evil\r\n250 fake\nline\rend");
    assert_eq!(reply.to_bytes(), b"250 Hello evil  250 fake line end\r\n");
    let multi = Reply::multi(220, vec!["a\r\n220 b".into(), "c".into()]);
    assert_eq!(multi.to_bytes(), b"220-a  220 b\r\n220 c\r\n");
}

#[test]
fn write_to_appends_to_existing_output() {
    let mut out = b"354 go\r\n".to_vec();
    Reply::new(221, "2.0.0 Bye").write_to(&mut out);
    assert_eq!(out, b"354 go\r\n221 2.0.0 Bye\r\n");
}

#[test]
fn positive_replies_are_2xx_and_3xx() {
    assert!(Reply::new(250, "").is_positive());
    assert!(Reply::new(354, "").is_positive());
    assert!(!Reply::new(451, "").is_positive());
    assert!(!Reply::new(554, "").is_positive());
    assert!(!Reply::new(199, "").is_positive());
}

#[test]
fn first_line_joins_code_and_first_text() {
    let reply = Reply::multi(250, vec!["2.1.0 Ok".into(), "ignored".into()]);
    assert_eq!(reply.first_line(), "250 2.1.0 Ok");
    assert_eq!(Reply::new(250, "a\r\nb").first_line(), "250 a  b");
}
