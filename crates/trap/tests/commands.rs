//! Transcript tests: every command and its error paths, spoken as a client would.

#![allow(clippy::unwrap_used)]

mod common;
use common::Harness;
use model::AnomalyKind;

#[tokio::test]
async fn greeting_and_ehlo_look_like_postfix() {
    let h = Harness::new().await;
    let mut c = h.connect();
    assert_eq!(c.greeting().await, "220 mx1.example.nl ESMTP Postfix\r\n");
    let ehlo = c.ehlo().await;
    let keywords: Vec<&str> = ehlo.lines().map(|l| &l[4..]).collect();
    assert_eq!(keywords[0], "mx1.example.nl");
    for kw in [
        "PIPELINING",
        "SIZE 10240000",
        "STARTTLS",
        "ENHANCEDSTATUSCODES",
        "8BITMIME",
        "SMTPUTF8",
        "CHUNKING",
        "DSN",
    ] {
        assert!(keywords.contains(&kw), "missing {kw} in {ehlo}");
    }
    assert!(
        !keywords.iter().any(|k| k.starts_with("AUTH")),
        "AUTH offered without the lure"
    );
}

#[tokio::test]
async fn helo_answers_with_the_hostname_only() {
    let h = Harness::new().await;
    let mut c = h.connect();
    c.greeting().await;
    assert_eq!(
        c.cmd("HELO client.example", "250 ").await,
        "250 mx1.example.nl\r\n"
    );
}

#[tokio::test]
async fn ehlo_without_a_name_is_a_syntax_error() {
    let h = Harness::new().await;
    let mut c = h.connect();
    c.greeting().await;
    c.cmd("EHLO", "501 ").await;
    assert!(h.anomaly_kinds().contains(&AnomalyKind::SyntaxError));
}

#[tokio::test]
async fn a_full_transaction_is_stored_byte_exact_after_unstuffing() {
    let h = Harness::new().await;
    let mut c = h.connect();
    let reply = c
        .deliver(
            "victim@trap.example",
            b"Subject: x\r\n\r\n..leading dot\r\nbody\r\n",
        )
        .await;
    let qid = reply.trim_end().rsplit(' ').next().unwrap().to_owned();
    c.cmd("QUIT", "221 2.0.0 Bye").await;
    c.finish().await;
    let s = h.sightings();
    assert_eq!(s.len(), 1);
    assert_eq!(
        h.raw(&s[0].message_id),
        b"Subject: x\r\n\r\n.leading dot\r\nbody\r\n"
    );
    assert_eq!(s[0].queue_id, qid);
    assert_eq!(s[0].sender(), "spammer@src.example");
    assert_eq!(s[0].helo.as_deref(), Some("client.example"));
    assert_eq!(s[0].peer, "192.0.2.10:40000");
    assert_eq!(s[0].sensor, None, "serve stamps no sensor tag");
}

/// `spamhattan sensor` sets the tag; every sighting carries it to the collector.
#[tokio::test]
async fn a_sensor_stamps_its_tag_on_every_sighting() {
    let tag = model::SensorTag {
        id: "bank-nl-01".into(),
        sector: "bank".into(),
        location: "NL".into(),
    };
    let h = Harness::with(|c| c.sensor = Some(tag.clone())).await;
    let mut c = h.connect();
    c.deliver("victim@trap.example", b"Subject: a\r\n\r\nbody\r\n")
        .await;
    c.mail_from("spammer@src.example", "250 2.1.0").await;
    c.rcpt_to("victim@trap.example", "250 2.1.5").await;
    c.data(b"Subject: b\r\n\r\nbody\r\n", "250 2.0.0 Ok: queued as ")
        .await;
    c.cmd("QUIT", "221 2.0.0 Bye").await;
    c.finish().await;
    let s = h.sightings();
    assert_eq!(s.len(), 2);
    assert!(s.iter().all(|s| s.sensor.as_ref() == Some(&tag)), "{s:?}");
}

#[tokio::test]
async fn pipelined_commands_are_answered_in_order_in_one_batch() {
    let h = Harness::new().await;
    let mut c = h.connect();
    c.greeting().await;
    c.ehlo().await;
    c.send("MAIL FROM:<a@src.example>\r\nRCPT TO:<x@trap.example>\r\nRCPT TO:<y@elsewhere.example>\r\nRCPT TO:<z@trap.example>\r\nDATA\r\n").await;
    c.expect("250 2.1.0").await;
    c.expect("250 2.1.5").await;
    c.expect("554 5.7.1 <y@elsewhere.example>").await;
    c.expect("250 2.1.5").await;
    c.expect("354 ").await;
    c.send("hi\r\n.\r\nQUIT\r\n").await;
    c.expect("250 2.0.0 Ok: queued").await;
    c.expect("221 ").await;
    c.finish().await;
    let s = h.sightings();
    let accepted: Vec<_> = s[0]
        .envelope
        .accepted()
        .map(|r| r.address.clone())
        .collect();
    assert_eq!(accepted, ["x@trap.example", "z@trap.example"]);
    assert_eq!(
        s[0].envelope.recipients.len(),
        3,
        "refused attempts are kept as evidence"
    );
    assert!(
        !h.anomaly_kinds()
            .contains(&AnomalyKind::PipeliningViolation)
    );
}

#[tokio::test]
async fn sequence_errors_use_postfix_wording() {
    let h = Harness::new().await;
    let mut c = h.connect();
    c.greeting().await;
    c.ehlo().await;
    c.rcpt_to("x@trap.example", "503 5.5.1 Error: need MAIL command")
        .await;
    c.cmd("DATA", "503 5.5.1 Error: need MAIL command").await;
    c.mail_from("a@src.example", "250 ").await;
    c.mail_from("b@src.example", "503 5.5.1 Error: nested MAIL command")
        .await;
    c.cmd("DATA", "503 5.5.1 Error: need RCPT command").await;
    c.rcpt_to("x@elsewhere.example", "554 ").await;
    c.cmd("DATA", "554 5.5.1 Error: no valid recipients").await;
    c.cmd("RSET", "250 2.0.0 Ok").await;
    c.rcpt_to("x@trap.example", "503 ").await;
}

#[tokio::test]
async fn small_verbs_answer_like_postfix() {
    let h = Harness::new().await;
    let mut c = h.connect();
    c.greeting().await;
    c.cmd("NOOP", "250 2.0.0 Ok").await;
    c.cmd("VRFY root", "252 2.0.0 root").await;
    c.cmd("HELP", "502 5.5.2 Error: command not recognized")
        .await;
    c.cmd("EXPN staff", "502 5.5.2").await;
    c.cmd("XYZZY plugh", "502 5.5.2 Error: command not recognized")
        .await;
    c.cmd(
        "AUTH PLAIN AGEAYg==",
        "503 5.5.1 Error: authentication not enabled",
    )
    .await;
    c.cmd("QUIT", "221 2.0.0 Bye").await;
    assert!(c.closed().await);
    assert!(h.anomaly_kinds().contains(&AnomalyKind::UnknownCommand));
}

#[tokio::test]
async fn lenient_forms_real_mtas_accept_are_accepted_and_kept_raw() {
    let h = Harness::new().await;
    let mut c = h.connect();
    c.greeting().await;
    c.ehlo().await;
    c.cmd("mail from:bot@src.example XFOO=bar", "250 2.1.0")
        .await;
    c.cmd("RCPT TO: <x@TRAP.example.>", "250 2.1.5").await;
    c.data(b"x\r\n", "250 ").await;
    let s = h.sightings();
    assert_eq!(
        s[0].envelope.mail_from.raw,
        "mail from:bot@src.example XFOO=bar"
    );
    assert_eq!(s[0].envelope.mail_from.params, ["XFOO=bar"]);
}

#[tokio::test]
async fn size_declared_over_the_limit_is_refused_at_mail() {
    let h = Harness::new().await;
    let mut c = h.connect();
    c.greeting().await;
    c.ehlo().await;
    c.cmd(
        "MAIL FROM:<a@src.example> SIZE=999999999",
        "552 5.3.4 Message size exceeds fixed limit",
    )
    .await;
    c.cmd("MAIL FROM:<a@src.example> SIZE=1000", "250 ").await;
}

#[tokio::test]
async fn over_long_command_lines_are_refused_and_the_session_resyncs() {
    let h = Harness::new().await;
    let mut c = h.connect();
    c.greeting().await;
    c.send(format!("NOOP {}\r\n", "a".repeat(10_000))).await;
    c.expect("500 5.5.2 Error: line too long").await;
    c.cmd("NOOP", "250 2.0.0 Ok").await;
    assert!(h.anomaly_kinds().contains(&AnomalyKind::LineTooLong));
}

#[tokio::test]
async fn bare_lf_and_nul_in_commands_are_recorded() {
    let h = Harness::new().await;
    let mut c = h.connect();
    c.greeting().await;
    c.send("NOOP\n").await;
    c.expect("250 ").await;
    c.send("NO\0OP\r\n").await;
    c.reply().await;
    let kinds = h.anomaly_kinds();
    assert!(kinds.contains(&AnomalyKind::BareLf), "{kinds:?}");
    assert!(kinds.contains(&AnomalyKind::NulByte), "{kinds:?}");
}

#[tokio::test]
async fn ehlo_in_the_middle_of_a_group_is_a_pipelining_violation() {
    let h = Harness::new().await;
    let mut c = h.connect();
    c.greeting().await;
    c.send("EHLO a.example\r\nMAIL FROM:<a@src.example>\r\n")
        .await;
    c.expect("250-").await;
    c.expect("250 2.1.0").await;
    assert!(
        h.anomaly_kinds()
            .contains(&AnomalyKind::PipeliningViolation)
    );
}

#[tokio::test]
async fn session_record_keeps_the_transcript() {
    let h = Harness::new().await;
    let mut c = h.connect();
    c.deliver("x@trap.example", b"hi\r\n").await;
    c.cmd("QUIT", "221 ").await;
    c.finish().await;
    let s = h.sightings();
    let record = h
        .store
        .session(s[0].session_id)
        .unwrap()
        .expect("session stored");
    let lines: Vec<&str> = record
        .transcript
        .lines
        .iter()
        .map(|l| l.line.as_str())
        .collect();
    assert_eq!(lines[0], "220 mx1.example.nl ESMTP Postfix");
    assert!(lines.contains(&"MAIL FROM:<spammer@src.example>"));
    assert_eq!(record.end, "quit");
    assert_eq!(record.sightings, vec![s[0].id]);
}
