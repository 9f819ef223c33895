//! Trap-domain lifecycle at the SMTP level: a `new` domain answers `250` at RCPT and `550 5.1.1`
//! after DATA while keeping the message; `aging` and `active` capture as usual; `retired`
//! refuses at RCPT and keeps nothing. States come from dates relative to today, one year away
//! on either side, so the outcome never depends on which day the test runs.

#![allow(clippy::unwrap_used)]

mod common;
use common::{Client, Harness};
use model::{DomainState, EventKind, RcptVerdict, TrapDomain};
use smtp_wire::{Command, Path};
use time::{Date, Duration, OffsetDateTime};
use trap::{AddressPolicy, RcptDecision, RelayPolicy};

const QUIET_BOUNCE: &str = "550 5.1.1 <victim@new.example>: Recipient address rejected: User unknown in virtual mailbox table";

fn today() -> Date {
    OffsetDateTime::now_utc().date()
}

fn year_ago() -> Date {
    today() - Duration::days(365)
}

fn next_year() -> Date {
    today() + Duration::days(365)
}

/// One domain per state, each reached by dates except `gone.example` (operator's word).
fn lifecycle_domains() -> Vec<TrapDomain> {
    vec![
        TrapDomain {
            active_from: Some(next_year()),
            ..TrapDomain::active("new.example")
        },
        TrapDomain {
            active_from: Some(next_year()),
            ..TrapDomain::active("*.newwild.example")
        },
        TrapDomain {
            aging_from: Some(year_ago()),
            active_from: Some(next_year()),
            ..TrapDomain::active("aging.example")
        },
        TrapDomain {
            active_from: Some(year_ago()),
            ..TrapDomain::active("active.example")
        },
        TrapDomain {
            active_from: Some(year_ago() - Duration::days(30)),
            retired_from: Some(year_ago()),
            ..TrapDomain::active("retired.example")
        },
        TrapDomain {
            state: Some(DomainState::Retired),
            ..TrapDomain::active("gone.example")
        },
    ]
}

async fn lifecycle_trap() -> Harness {
    Harness::with(|c| c.domains = lifecycle_domains()).await
}

/// Greets, EHLO, MAIL and one RCPT per address, each expected `250`.
async fn ready(h: &Harness, rcpts: &[&str]) -> Client {
    let mut c = h.connect();
    c.greeting().await;
    c.ehlo().await;
    c.mail_from("spammer@src.example", "250 ").await;
    for r in rcpts {
        c.rcpt_to(r, "250 2.1.5 Ok").await;
    }
    c
}

fn stored_events(h: &Harness) -> Vec<serde_json::Value> {
    h.events
        .events()
        .iter()
        .filter(|e| e.kind == EventKind::MessageStored)
        .map(|e| e.fields())
        .collect()
}

#[tokio::test]
async fn a_new_domain_takes_the_message_then_answers_550_and_keeps_it() {
    let h = lifecycle_trap().await;
    let mut c = ready(&h, &["victim@new.example"]).await;
    c.data(b"Subject: quiet\r\n\r\nhello\r\n", QUIET_BOUNCE)
        .await;
    // The session goes on like after any refusal.
    c.mail_from("spammer@src.example", "250 2.1.0").await;
    c.cmd("QUIT", "221 ").await;
    c.finish().await;

    let s = h.sightings();
    assert_eq!(s.len(), 1);
    assert_eq!(h.raw(&s[0].message_id), b"Subject: quiet\r\n\r\nhello\r\n");
    let r = &s[0].envelope.recipients[0];
    assert_eq!(
        (r.address.as_str(), r.verdict, r.quiet),
        ("victim@new.example", RcptVerdict::Accepted, true)
    );
    assert_eq!(stored_events(&h)[0]["quiet"], true);
    let session = h.store.session(s[0].session_id).unwrap().unwrap();
    assert_eq!(session.sightings, vec![s[0].id]);
    let said: Vec<String> = session
        .transcript
        .lines
        .iter()
        .map(|l| l.line.clone())
        .collect();
    assert!(said.iter().any(|l| l == QUIET_BOUNCE), "{said:?}");
    assert_eq!(session.errors, 0, "the quiet bounce is not a client error");
}

#[tokio::test]
async fn one_recipient_outside_the_quiet_period_makes_it_250() {
    let h = lifecycle_trap().await;
    let mut c = ready(&h, &["a@new.example", "b@active.example"]).await;
    c.data(b"Subject: mixed\r\n\r\nx\r\n", "250 2.0.0 Ok: queued as ")
        .await;
    let s = h.sightings();
    let quiet: Vec<(&str, bool)> = s[0]
        .envelope
        .recipients
        .iter()
        .map(|r| (r.address.as_str(), r.quiet))
        .collect();
    assert_eq!(
        quiet,
        vec![("a@new.example", true), ("b@active.example", false)]
    );
    assert!(stored_events(&h)[0].get("quiet").is_none());
}

#[tokio::test]
async fn aging_and_active_domains_capture_as_usual() {
    let h = lifecycle_trap().await;
    for rcpt in ["a@aging.example", "a@active.example"] {
        let mut c = ready(&h, &[rcpt]).await;
        c.data(b"Subject: s\r\n\r\nx\r\n", "250 2.0.0 Ok: queued as ")
            .await;
    }
    let s = h.sightings();
    assert_eq!(s.len(), 2);
    assert!(s.iter().all(|s| !s.envelope.recipients[0].quiet));
}

#[tokio::test]
async fn retired_domains_refuse_at_rcpt_and_keep_nothing() {
    let h = lifecycle_trap().await;
    for rcpt in ["a@retired.example", "a@gone.example", "a@GONE.example"] {
        let mut c = h.connect();
        c.greeting().await;
        c.ehlo().await;
        c.mail_from("spammer@src.example", "250 ").await;
        let lower = rcpt.to_lowercase();
        let reply = c.rcpt_to(rcpt, "550 5.1.1 ").await;
        assert!(
            reply.contains("User unknown in virtual mailbox table"),
            "{reply}"
        );
        assert!(reply.to_lowercase().contains(&lower), "{reply}");
        c.cmd("DATA", "554 5.5.1 Error: no valid recipients").await;
    }
    assert!(h.sightings().is_empty());
}

#[tokio::test]
async fn a_subdomain_of_a_new_wildcard_domain_is_quiet() {
    let h = lifecycle_trap().await;
    let mut c = ready(&h, &["x@deep.sub.newwild.example"]).await;
    let reply = c.data(b"Subject: w\r\n\r\nx\r\n", "550 5.1.1 ").await;
    assert!(reply.contains("<x@deep.sub.newwild.example>"), "{reply}");
    assert!(h.sightings()[0].envelope.recipients[0].quiet);
}

#[tokio::test]
async fn bdat_to_a_new_domain_is_kept_and_answered_550() {
    let h = lifecycle_trap().await;
    let mut c = ready(&h, &["victim@new.example"]).await;
    c.send("BDAT 5\r\nab\r\nc").await;
    c.expect("250 2.0.0 Ok: 5 bytes").await;
    c.send("BDAT 2 LAST\r\nd\n").await;
    c.expect(QUIET_BOUNCE).await;
    let s = h.sightings();
    assert_eq!(h.raw(&s[0].message_id), b"ab\r\ncd\n");
    assert!(s[0].envelope.recipients[0].quiet);
}

/// The store refuses anything over `store::MAX_MESSAGE_BYTES`; with the trap's own limit above
/// it, that is a store failure the client must see as `451`, quiet or not.
#[tokio::test]
async fn a_quiet_message_the_store_cannot_keep_gets_451_not_550() {
    let too_big = store::MAX_MESSAGE_BYTES + 1;
    let h = Harness::with(|c| {
        c.domains = lifecycle_domains();
        c.limits.max_message_bytes = too_big as u64 + 1;
    })
    .await;
    let mut c = ready(&h, &["victim@new.example"]).await;
    c.send(format!("BDAT {too_big} LAST\r\n")).await;
    c.send(vec![b'x'; too_big]).await;
    c.expect("451 4.3.0 ").await;
    assert!(h.sightings().is_empty());
    assert!(stored_events(&h).is_empty());
}

fn path(local: &str, domain: &str) -> Path {
    let line = format!("RCPT TO:<{local}@{domain}>");
    match smtp_wire::parse_command(line.as_bytes()) {
        Ok(Command::Rcpt { path, .. }) => path,
        other => panic!("{line}: {other:?}"),
    }
}

#[test]
fn the_date_of_the_decision_sets_the_state() {
    let d = vec![TrapDomain {
        aging_from: Some(date(2027, 2, 1)),
        active_from: Some(date(2027, 3, 1)),
        retired_from: Some(date(2028, 1, 1)),
        ..TrapDomain::active("trap.example")
    }];
    let p = RelayPolicy::new(&d, &[]).unwrap();
    let to = path("x", "trap.example");
    assert_eq!(p.decide(&to, date(2027, 1, 31)), RcptDecision::Quiet);
    assert_eq!(p.decide(&to, date(2027, 2, 1)), RcptDecision::Accept);
    assert_eq!(p.decide(&to, date(2027, 3, 1)), RcptDecision::Accept);
    assert_eq!(p.decide(&to, date(2028, 1, 1)), RcptDecision::UnknownUser);
    // Relay refusals do not depend on the state.
    let relay = path("x%evil.example", "trap.example");
    for day in [date(2027, 1, 1), date(2029, 1, 1)] {
        assert!(matches!(
            p.decide(&relay, day),
            RcptDecision::RelayDenied(_)
        ));
    }
}

#[test]
fn address_policies_still_refuse_in_the_quiet_period_and_retirement_wins() {
    let new = TrapDomain {
        active_from: Some(date(2030, 1, 1)),
        ..TrapDomain::active("trap.example")
    };
    let addresses = [
        ("gone@trap.example".to_string(), AddressPolicy::UnknownUser),
        ("rest@trap.example".to_string(), AddressPolicy::TempFail),
        ("open@trap.example".to_string(), AddressPolicy::Accept),
    ];
    let p = RelayPolicy::new(std::slice::from_ref(&new), &addresses).unwrap();
    let day = date(2029, 6, 1);
    assert_eq!(
        p.decide(&path("gone", "trap.example"), day),
        RcptDecision::UnknownUser
    );
    assert_eq!(
        p.decide(&path("rest", "trap.example"), day),
        RcptDecision::TempFail
    );
    assert_eq!(
        p.decide(&path("open", "trap.example"), day),
        RcptDecision::Quiet
    );
    let retired = TrapDomain {
        state: Some(DomainState::Retired),
        ..new
    };
    let p = RelayPolicy::new(&[retired], &addresses).unwrap();
    assert_eq!(
        p.decide(&path("open", "trap.example"), day),
        RcptDecision::UnknownUser
    );
}

#[test]
fn the_most_specific_domain_decides() {
    let domains = [
        TrapDomain {
            active_from: Some(date(2030, 1, 1)),
            ..TrapDomain::active("*.trap.example")
        },
        TrapDomain::active("live.trap.example"),
    ];
    let p = RelayPolicy::new(&domains, &[]).unwrap();
    let day = date(2029, 1, 1);
    assert_eq!(
        p.decide(&path("x", "live.trap.example"), day),
        RcptDecision::Accept
    );
    assert_eq!(
        p.decide(&path("x", "other.trap.example"), day),
        RcptDecision::Quiet
    );
    assert_eq!(
        p.decide(&path("x", "a.live.trap.example"), day),
        RcptDecision::Quiet
    );
}

fn date(y: i32, m: u8, d: u8) -> Date {
    Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), d).unwrap()
}
