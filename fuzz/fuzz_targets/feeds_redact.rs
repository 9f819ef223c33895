//! Fuzz the feed redactor (`feeds::intel::Redactor`): `burns`, `text`, `url` and `pseudonym` on
//! arbitrary strings, with a fixed set of trap names.
//!
//! Checks beyond "no panic", each a promise of `crates/feeds/src/intel/redact.rs`:
//! - `text` leaves no trap name (they become `[trap]`), and changes nothing in a value that has
//!   no address (`@`, `%40`) and names no trap;
//! - `url` is `None` when the URL's host is a trap name, and what it returns never names the
//!   trap;
//! - a pseudonym is `p-<10 hex>@pseudonym.invalid`, the same for the same address in any case.
//!
//! The trap names are what the configuration accepts: IDNA domains (one a wildcard, one whose
//! labels repeat, `co.co`, so overlapping matches are exercised) and host names, which the
//! config only requires to be one word (so one starts with a non-ASCII letter).
#![no_main]

use feeds::intel::Redactor;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static REDACTOR: LazyLock<Redactor> = LazyLock::new(|| {
    let domains = [
        "trap.example",
        "*.wild.example",
        "co.co",
        "Second-Trap.example.",
    ];
    let hosts = ["mx1.trap-host.example", "ébène-mx"];
    Redactor::new(
        &domains.map(String::from),
        &hosts.map(String::from),
        [0x5a; 32],
    )
});

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let r = &*REDACTOR;
    let burnt = r.burns(&s);

    let text = r.text(&s);
    assert!(!r.burns(&text), "text({s:?}) = {text:?} names the trap");
    if !burnt && !s.contains('@') && !s.contains("%40") {
        assert_eq!(
            text, s,
            "text changed a value with no address and no trap name"
        );
    }

    let host_burns = feeds::intel::policy::url_host(&s).is_some_and(|h| r.burns(&h));
    match r.url(&s) {
        Some(url) => {
            assert!(!host_burns, "url({s:?}) kept a URL on a trap host");
            assert!(!r.burns(&url), "url({s:?}) = {url:?} names the trap");
        }
        None => assert!(
            host_burns || burnt || s.len() > feeds::intel::redact::MAX_VALUE_LEN,
            "url({s:?}) dropped a URL that names no trap"
        ),
    }

    let p = r.pseudonym(&s);
    let hex = p
        .strip_prefix("p-")
        .and_then(|rest| rest.strip_suffix("@pseudonym.invalid"))
        .unwrap_or_else(|| panic!("pseudonym {p:?}"));
    assert!(
        hex.len() == 10
            && hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
        "pseudonym {p:?}"
    );
    assert_eq!(r.pseudonym(&s.to_ascii_uppercase()), p);
});
