//! Behaviour of `parse_command` for every verb and every error path.

use smtp_wire::{Command, CommandError, param_value, parse_command};

fn parse(line: &str) -> Result<Command, CommandError> {
    parse_command(line.as_bytes())
}

fn syntax_verb(line: &[u8]) -> &'static str {
    match parse_command(line) {
        Err(CommandError::Syntax { verb, .. }) => verb,
        other => panic!("expected a syntax error for {line:?}, got {other:?}"),
    }
}

#[test]
fn verbs_are_case_insensitive() {
    assert_eq!(
        parse("ehlo mx.example"),
        Ok(Command::Ehlo("mx.example".into()))
    );
    assert_eq!(parse("QuIt"), Ok(Command::Quit));
    assert_eq!(parse("data"), Ok(Command::Data));
    assert_eq!(parse("StartTLS"), Ok(Command::StartTls));
}

#[test]
fn surrounding_blanks_and_stray_cr_are_ignored() {
    assert_eq!(parse("  NOOP \t"), Ok(Command::Noop));
    assert_eq!(parse("RSET\r"), Ok(Command::Rset));
    assert_eq!(parse("EHLO\tfoo  "), Ok(Command::Ehlo("foo".into())));
}

#[test]
fn empty_line_is_empty_error() {
    assert_eq!(parse(""), Err(CommandError::Empty));
    assert_eq!(parse(" \t "), Err(CommandError::Empty));
}

#[test]
fn ehlo_and_helo_keep_their_whole_argument() {
    assert_eq!(
        parse("EHLO [192.0.2.1]"),
        Ok(Command::Ehlo("[192.0.2.1]".into()))
    );
    assert_eq!(parse("HELO a b  c"), Ok(Command::Helo("a b  c".into())));
}

#[test]
fn ehlo_without_argument_is_a_syntax_error() {
    assert_eq!(syntax_verb(b"EHLO"), "EHLO");
    assert_eq!(syntax_verb(b"HELO   "), "HELO");
}

#[test]
fn mail_with_size_and_body_params_is_parsed() {
    let Ok(Command::Mail { path, params }) =
        parse("MAIL FROM:<a@b.example> SIZE=123 BODY=8BITMIME")
    else {
        panic!("not a MAIL");
    };
    assert_eq!(path.address(), "a@b.example");
    assert_eq!(params, vec!["SIZE=123", "BODY=8BITMIME"]);
    assert_eq!(param_value(&params, "size"), Some("123"));
    assert_eq!(param_value(&params, "BODY"), Some("8BITMIME"));
}

#[test]
fn mail_keeps_unknown_params() {
    let Ok(Command::Mail { params, .. }) = parse("MAIL FROM:<a@b> XFOO=bar SMTPUTF8") else {
        panic!("not a MAIL");
    };
    assert_eq!(params, vec!["XFOO=bar", "SMTPUTF8"]);
    assert_eq!(param_value(&params, "smtputf8"), Some(""));
    assert_eq!(param_value(&params, "RET"), None);
}

#[test]
fn mail_with_space_after_colon_is_accepted() {
    let Ok(Command::Mail { path, .. }) = parse("mail from: <a@b>") else {
        panic!("not a MAIL");
    };
    assert_eq!(path.raw, "<a@b>");
}

#[test]
fn mail_with_space_before_colon_is_accepted() {
    assert!(matches!(
        parse("MAIL FROM :<a@b>"),
        Ok(Command::Mail { .. })
    ));
}

#[test]
fn mail_without_brackets_is_accepted() {
    let Ok(Command::Mail { path, params }) = parse("MAIL FROM:a@b SIZE=1") else {
        panic!("not a MAIL");
    };
    assert!(!path.bracketed);
    assert_eq!(path.address(), "a@b");
    assert_eq!(params, vec!["SIZE=1"]);
}

#[test]
fn mail_null_sender_is_parsed() {
    let Ok(Command::Mail { path, .. }) = parse("MAIL FROM:<>") else {
        panic!("not a MAIL");
    };
    assert!(path.null);
    assert_eq!(path.address(), "");
}

#[test]
fn mail_error_paths_are_syntax_errors() {
    for line in [
        "MAIL",
        "MAIL TO:<a@b>",
        "MAIL FROM <a@b>",
        "MAIL FROM:",
        "MAIL FROM:   ",
        "MAIL FROM:<a@b",
        "MAIL FROM:<a@b>SIZE=1",
        "MAIL FROM:<\"a@b>",
        "MAIL FR",
    ] {
        assert_eq!(syntax_verb(line.as_bytes()), "MAIL", "{line}");
    }
}

#[test]
fn rcpt_is_parsed_with_params() {
    let Ok(Command::Rcpt { path, params }) = parse("RCPT TO:<u@trap.example> NOTIFY=NEVER") else {
        panic!("not a RCPT");
    };
    assert_eq!(path.address(), "u@trap.example");
    assert_eq!(param_value(&params, "notify"), Some("NEVER"));
}

#[test]
fn rcpt_error_paths_are_syntax_errors() {
    for line in [
        "RCPT",
        "RCPT FROM:<a@b>",
        "RCPT TO:",
        "RCPT TO:<<a@b>>",
        "RCPT TO:<a@b",
    ] {
        assert_eq!(syntax_verb(line.as_bytes()), "RCPT", "{line}");
    }
}

#[test]
fn data_rset_and_starttls_refuse_arguments() {
    assert_eq!(syntax_verb(b"DATA now"), "DATA");
    assert_eq!(syntax_verb(b"RSET x"), "RSET");
    assert_eq!(syntax_verb(b"STARTTLS please"), "STARTTLS");
}

#[test]
fn noop_help_and_quit_accept_arguments() {
    assert_eq!(parse("NOOP hello"), Ok(Command::Noop));
    assert_eq!(parse("HELP"), Ok(Command::Help(String::new())));
    assert_eq!(parse("HELP mail"), Ok(Command::Help("mail".into())));
    assert_eq!(parse("QUIT now"), Ok(Command::Quit));
}

#[test]
fn vrfy_and_expn_need_an_argument() {
    assert_eq!(parse("VRFY root"), Ok(Command::Vrfy("root".into())));
    assert_eq!(
        parse("EXPN staff list"),
        Ok(Command::Expn("staff list".into()))
    );
    assert_eq!(syntax_verb(b"VRFY"), "VRFY");
    assert_eq!(syntax_verb(b"EXPN "), "EXPN");
}

#[test]
fn bdat_sizes_and_last_are_parsed() {
    assert_eq!(
        parse("BDAT 1000 LAST"),
        Ok(Command::Bdat {
            size: 1000,
            last: true
        })
    );
    assert_eq!(
        parse("bdat 0 last"),
        Ok(Command::Bdat {
            size: 0,
            last: true
        })
    );
    assert_eq!(
        parse("BDAT 00042"),
        Ok(Command::Bdat {
            size: 42,
            last: false
        })
    );
    assert_eq!(
        parse("BDAT 18446744073709551615"),
        Ok(Command::Bdat {
            size: u64::MAX,
            last: false
        })
    );
}

#[test]
fn bdat_error_paths_are_syntax_errors() {
    for line in [
        "BDAT",
        "BDAT LAST",
        "BDAT -1",
        "BDAT +5",
        "BDAT 1e3",
        "BDAT 18446744073709551616",
        "BDAT 99999999999999999999999999",
        "BDAT 10 FIRST",
        "BDAT 10 LAST more",
    ] {
        assert_eq!(syntax_verb(line.as_bytes()), "BDAT", "{line}");
    }
}

#[test]
fn auth_forms_are_parsed() {
    assert_eq!(
        parse("AUTH plain AGZvbwBiYXI="),
        Ok(Command::Auth {
            mechanism: "PLAIN".into(),
            initial: Some("AGZvbwBiYXI=".into())
        })
    );
    assert_eq!(
        parse("AUTH LOGIN"),
        Ok(Command::Auth {
            mechanism: "LOGIN".into(),
            initial: None
        })
    );
    assert_eq!(
        parse("AUTH LOGIN dXNlcg=="),
        Ok(Command::Auth {
            mechanism: "LOGIN".into(),
            initial: Some("dXNlcg==".into())
        })
    );
}

#[test]
fn auth_error_paths_are_syntax_errors() {
    assert_eq!(syntax_verb(b"AUTH"), "AUTH");
    assert_eq!(syntax_verb(b"AUTH PLAIN a b"), "AUTH");
}

#[test]
fn unknown_verb_is_returned_as_sent() {
    assert_eq!(
        parse("XCLIENT ADDR=1.2.3.4"),
        Ok(Command::Unknown("XCLIENT".into()))
    );
    assert_eq!(parse("GET / HTTP/1.1"), Ok(Command::Unknown("GET".into())));
    assert_eq!(
        parse_command(b"\xffBAD x"),
        Ok(Command::Unknown("\u{fffd}BAD".into()))
    );
}

#[test]
fn verb_prefix_is_not_the_verb() {
    assert_eq!(
        parse("MAILFROM:<a@b>"),
        Ok(Command::Unknown("MAILFROM:<a@b>".into()))
    );
    assert_eq!(parse("EHLOfoo"), Ok(Command::Unknown("EHLOfoo".into())));
}

#[test]
fn nul_byte_in_a_command_is_a_syntax_error() {
    assert_eq!(syntax_verb(b"EHLO foo\0bar"), "EHLO");
    assert_eq!(syntax_verb(b"RCPT TO:<a\0@b>"), "RCPT");
    assert_eq!(syntax_verb(b"\0"), "UNKNOWN");
    assert_eq!(syntax_verb(b"XYZ\0"), "UNKNOWN");
}

#[test]
fn non_utf8_arguments_are_kept_lossily() {
    let Ok(Command::Ehlo(name)) = parse_command(b"EHLO h\xe9llo") else {
        panic!("not an EHLO");
    };
    assert_eq!(name, "h\u{fffd}llo");
}

#[test]
fn command_error_display_names_the_verb() {
    let err = parse("EHLO").expect_err("syntax error");
    assert_eq!(err.to_string(), "EHLO syntax error: expected EHLO hostname");
    assert_eq!(CommandError::Empty.to_string(), "empty command");
}

#[test]
fn command_verb_is_canonical() {
    assert_eq!(parse("rcpt to:<a@b>").map(|c| c.verb()), Ok("RCPT"));
    assert_eq!(parse("FOO").map(|c| c.verb()), Ok("UNKNOWN"));
}
