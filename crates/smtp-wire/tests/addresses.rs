//! Envelope address forms as bots really send them: each keeps its raw text and
//! gets the most useful reading.

use smtp_wire::{Command, CommandError, Domain, Path, parse_command};

fn rcpt(arg: &str) -> Path {
    match parse_command(format!("RCPT TO:{arg}").as_bytes()) {
        Ok(Command::Rcpt { path, .. }) => path,
        other => panic!("RCPT TO:{arg} gave {other:?}"),
    }
}

fn name(text: &str) -> Option<Domain> {
    Some(Domain::Name(text.into()))
}

fn literal(text: &str) -> Option<Domain> {
    Some(Domain::Literal(text.into()))
}

/// (argument, local part, quoted, domain, address())
type Case = (
    &'static str,
    &'static str,
    bool,
    Option<Domain>,
    &'static str,
);

fn check(cases: &[Case]) {
    for (arg, local, quoted, domain, address) in cases {
        let path = rcpt(arg);
        assert_eq!(path.raw, *arg, "raw of {arg}");
        assert_eq!(path.local_part, *local, "local part of {arg}");
        assert_eq!(path.quoted, *quoted, "quoted of {arg}");
        assert_eq!(path.domain, *domain, "domain of {arg}");
        assert_eq!(path.address(), *address, "address of {arg}");
    }
}

#[test]
fn plain_addresses_are_split_at_the_at_sign() {
    check(&[
        (
            "<user@example.com>",
            "user",
            false,
            name("example.com"),
            "user@example.com",
        ),
        (
            "<User.Name+tag@Example.COM>",
            "User.Name+tag",
            false,
            name("Example.COM"),
            "User.Name+tag@Example.COM",
        ),
        ("<a@b>", "a", false, name("b"), "a@b"),
        (
            "user@example.com",
            "user",
            false,
            name("example.com"),
            "user@example.com",
        ),
        (
            "< user@example.com >",
            "user",
            false,
            name("example.com"),
            "user@example.com",
        ),
    ]);
}

#[test]
fn postmaster_without_domain_has_no_domain() {
    check(&[
        ("<postmaster>", "postmaster", false, None, "postmaster"),
        ("<Postmaster>", "Postmaster", false, None, "Postmaster"),
        ("postmaster", "postmaster", false, None, "postmaster"),
    ]);
    assert!(!rcpt("<postmaster>").null);
}

#[test]
fn percent_hack_and_bang_paths_stay_in_the_local_part() {
    check(&[
        (
            "<victim%other.example@trap.example>",
            "victim%other.example",
            false,
            name("trap.example"),
            "victim%other.example@trap.example",
        ),
        (
            "<a%b%c@trap.example>",
            "a%b%c",
            false,
            name("trap.example"),
            "a%b%c@trap.example",
        ),
        (
            "<host!user@trap.example>",
            "host!user",
            false,
            name("trap.example"),
            "host!user@trap.example",
        ),
        ("<a!b!c>", "a!b!c", false, None, "a!b!c"),
        (
            "<user%victim.example>",
            "user%victim.example",
            false,
            None,
            "user%victim.example",
        ),
    ]);
}

#[test]
fn quoted_local_parts_are_unquoted() {
    check(&[
        ("<\"a@b\"@c>", "a@b", true, name("c"), "\"a@b\"@c"),
        ("<\"a\\\"b\"@c>", "a\"b", true, name("c"), "\"a\\\"b\"@c"),
        (
            "<\"john doe\"@example.com>",
            "john doe",
            true,
            name("example.com"),
            "\"john doe\"@example.com",
        ),
        ("<\"a>b\"@c>", "a>b", true, name("c"), "\"a>b\"@c"),
        ("<\"\"@c>", "", true, name("c"), "\"\"@c"),
        (
            "<\"only-quoted\">",
            "only-quoted",
            true,
            None,
            "\"only-quoted\"",
        ),
    ]);
}

#[test]
fn quoted_local_part_with_space_survives_unbracketed() {
    let path = rcpt("\"a b\"@c");
    assert_eq!(path.local_part, "a b");
    assert!(path.quoted && !path.bracketed);
}

#[test]
fn rcpt_with_source_route_is_parsed() {
    let path = rcpt("<@a,@b:u@c>");
    assert_eq!(path.source_route, vec!["a", "b"]);
    assert_eq!(path.local_part, "u");
    assert_eq!(path.domain, name("c"));
    assert_eq!(path.address(), "u@c");
    assert_eq!(path.raw, "<@a,@b:u@c>");
}

#[test]
fn single_hop_and_literal_source_routes_are_parsed() {
    assert_eq!(
        rcpt("<@relay.example:u@c>").source_route,
        vec!["relay.example"]
    );
    let path = rcpt("<@[IPv6:2001:db8::1],@b:u@c>");
    assert_eq!(path.source_route, vec!["[IPv6:2001:db8::1]", "b"]);
    assert_eq!(path.address(), "u@c");
}

#[test]
fn address_literals_become_literal_domains() {
    check(&[
        (
            "<u@[192.0.2.1]>",
            "u",
            false,
            literal("192.0.2.1"),
            "u@[192.0.2.1]",
        ),
        (
            "<u@[IPv6:2001:db8::1]>",
            "u",
            false,
            literal("IPv6:2001:db8::1"),
            "u@[IPv6:2001:db8::1]",
        ),
        (
            "<postmaster@[127.0.0.1]>",
            "postmaster",
            false,
            literal("127.0.0.1"),
            "postmaster@[127.0.0.1]",
        ),
        ("<u@[]>", "u", false, literal(""), "u@[]"),
        (
            "<u@[192.0.2.1>",
            "u",
            false,
            name("[192.0.2.1"),
            "u@[192.0.2.1",
        ),
    ]);
}

#[test]
fn idn_and_trailing_dot_domains_are_kept_as_sent() {
    check(&[
        (
            "<josé@bücher.example>",
            "josé",
            false,
            name("bücher.example"),
            "josé@bücher.example",
        ),
        (
            "<u@xn--bcher-kva.example>",
            "u",
            false,
            name("xn--bcher-kva.example"),
            "u@xn--bcher-kva.example",
        ),
        (
            "<u@example.com.>",
            "u",
            false,
            name("example.com."),
            "u@example.com.",
        ),
        (
            "<用户@例子.广告>",
            "用户",
            false,
            name("例子.广告"),
            "用户@例子.广告",
        ),
    ]);
}

#[test]
fn spaces_inside_brackets_are_kept_in_the_local_part() {
    check(&[("<a b@c>", "a b", false, name("c"), "a b@c")]);
}

#[test]
fn null_path_is_null_and_empty() {
    let path = rcpt("<>");
    assert!(path.null && path.bracketed);
    assert_eq!(path.local_part, "");
    assert_eq!(path.domain, None);
    assert_eq!(path.address(), "");
    assert!(rcpt("< >").null);
}

#[test]
fn garbage_addresses_still_parse_leniently() {
    check(&[
        ("<@>", "", false, None, ""),
        (
            "<@example.com>",
            "",
            false,
            name("example.com"),
            "@example.com",
        ),
        ("<u@>", "u", false, None, "u"),
        ("<a@b@c>", "a@b", false, name("c"), "a@b@c"),
        ("<\"a\"b@c>", "\"a\"b", false, name("c"), "\"a\"b@c"),
        ("<<>", "<", false, None, "<"),
        ("<:u@c>", ":u", false, name("c"), ":u@c"),
        (
            "\"unterminated@c",
            "\"unterminated",
            false,
            name("c"),
            "\"unterminated@c",
        ),
    ]);
}

#[test]
fn non_utf8_addresses_are_lossy() {
    let Ok(Command::Rcpt { path, .. }) = parse_command(b"RCPT TO:<\xff@b>") else {
        panic!("not a RCPT");
    };
    assert_eq!(path.local_part, "\u{fffd}");
    assert_eq!(path.raw, "<\u{fffd}@b>");
}

#[test]
fn broken_brackets_are_syntax_errors() {
    for arg in ["<a@b", "<<a@b>>", "<a@b>>", "<a@b>x", "<\"a@b>"] {
        let result = parse_command(format!("RCPT TO:{arg}").as_bytes());
        assert!(
            matches!(result, Err(CommandError::Syntax { verb: "RCPT", .. })),
            "{arg}: {result:?}"
        );
    }
}

#[test]
fn path_parse_is_usable_on_its_own() {
    let path = Path::parse("<a@b>");
    assert!(path.bracketed);
    assert_eq!(path.address(), "a@b");
    assert_eq!(
        Domain::Literal("1.2.3.4".into()).to_address_text(),
        "[1.2.3.4]"
    );
}
