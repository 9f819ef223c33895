//! Parsing: the shipped defaults, and errors that name the rule and the field.

use super::super::{Rules, RulesError, parse_duration};

const DOCS: &str = include_str!("../../../../../docs/ALERTS.md");

fn field_error(text: &str) -> (String, String, String) {
    match Rules::from_toml(text) {
        Err(RulesError::Field { id, field, message }) => (id, field, message),
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn shipped_rules_parse_and_each_is_documented() {
    let rules = Rules::defaults();
    let ids: Vec<&str> = rules.ids().collect();
    assert!(ids.len() >= 9, "all default rules present: {ids:?}");
    for id in ids {
        assert!(
            DOCS.contains(&format!("`{id}`")),
            "docs/ALERTS.md documents `{id}`"
        );
    }
    let watch = rules
        .rules()
        .iter()
        .find(|r| r.id() == "watch-dutch-banks")
        .expect("the Dutch banks example ships");
    assert!(!watch.enabled(), "watch lists ship disabled");
    assert_eq!(watch.kind(), "watch");
}

#[test]
fn wrong_type_names_rule_and_field() {
    let (id, field, message) = field_error(
        r#"[[rule]]
id = "young"
kind = "new-campaign"
severity = "high"
classes = ["malware"]
min_messages = "three"
within = "1h"
"#,
    );
    assert_eq!((id.as_str(), field.as_str()), ("young", "min_messages"));
    assert!(message.contains("whole number"), "{message}");
    let shown = Rules::from_toml("[[rule]]\nid = \"young\"\nkind = \"spike\"\nseverity = \"low\"\nscope = \"campaign\"\nfactor = \"big\"\n")
        .expect_err("a string factor is refused")
        .to_string();
    assert!(
        shown.contains("`young`") && shown.contains("`factor`"),
        "{shown}"
    );
}

#[test]
fn unknown_field_is_refused_with_its_name() {
    let (id, field, message) = field_error(
        r#"[[rule]]
id = "typo"
kind = "new-campaign"
severity = "high"
classes = ["malware"]
min_mesages = 3
within = "1h"
"#,
    );
    assert_eq!((id.as_str(), field.as_str()), ("typo", "min_mesages"));
    assert!(
        message.contains("min_messages"),
        "lists the allowed fields: {message}"
    );
}

#[test]
fn field_of_another_kind_is_refused() {
    let (_, field, _) = field_error(
        "[[rule]]\nid = \"n\"\nkind = \"novel\"\nseverity = \"low\"\nfacets = [\"lure\"]\nwithin = \"1h\"\n",
    );
    assert_eq!(field, "within");
}

#[test]
fn unknown_kind_severity_class_and_scope_are_refused() {
    let base = "[[rule]]\nid = \"k\"\n";
    let (_, field, _) = field_error(&format!("{base}kind = \"sniff\"\nseverity = \"low\"\n"));
    assert_eq!(field, "kind");
    let (_, field, _) = field_error(&format!(
        "{base}kind = \"novel\"\nseverity = \"urgent\"\nfacets = [\"lure\"]\n"
    ));
    assert_eq!(field, "severity");
    let (_, field, message) = field_error(&format!(
        "{base}kind = \"new-campaign\"\nseverity = \"low\"\nclasses = [\"evil\"]\nwithin = \"1h\"\n"
    ));
    assert_eq!(field, "classes");
    assert!(message.contains("ransomware-delivery"), "{message}");
    let (_, field, _) = field_error(&format!(
        "{base}kind = \"spike\"\nseverity = \"low\"\nscope = \"planet\"\nfactor = 5\n"
    ));
    assert_eq!(field, "scope");
}

#[test]
fn impossible_settings_are_refused() {
    let base = "[[rule]]\nid = \"x\"\nseverity = \"low\"\n";
    let cases = [
        (
            "kind = \"new-campaign\"\nclasses = [\"malware\"]\nmin_messages = 0\nwithin = \"1h\"\n",
            "min_messages",
        ),
        (
            "kind = \"new-campaign\"\nclasses = []\nwithin = \"1h\"\n",
            "classes",
        ),
        (
            "kind = \"new-campaign\"\nclasses = [\"malware\"]\n",
            "within",
        ),
        (
            "kind = \"spike\"\nscope = \"trap\"\nfactor = 0.5\n",
            "factor",
        ),
        (
            "kind = \"spike\"\nscope = \"trap\"\nfactor = 5\nbaseline_hours = 0\n",
            "baseline_hours",
        ),
        (
            "kind = \"spike\"\nscope = \"trap\"\nfactor = 5\nmin_messages = -1\n",
            "min_messages",
        ),
        ("kind = \"yara\"\n", "rules"),
        (
            "kind = \"yara\"\nfamilies = true\ntags = [\"ransomware\"]\n",
            "tags",
        ),
        ("kind = \"yara\"\nfamilies = true\ntags = \"x\"\n", "tags"),
        ("kind = \"watch\"\n", "brands"),
        (
            "kind = \"watch\"\ndomains = [\"https://ing.nl/\"]\n",
            "domains",
        ),
        (
            "kind = \"novel\"\nfacets = [\"Attachment Kind\"]\n",
            "facets",
        ),
    ];
    for (rest, expected) in cases {
        let (id, field, _) = field_error(&format!("{base}{rest}"));
        assert_eq!(
            (id.as_str(), field.as_str()),
            ("x", expected),
            "case {rest}"
        );
    }
}

#[test]
fn file_level_errors() {
    assert!(matches!(
        Rules::from_toml("[[rule]\nid ="),
        Err(RulesError::Syntax(_))
    ));
    assert!(matches!(
        Rules::from_toml("threshold = 3\n"),
        Err(RulesError::Syntax(m)) if m.contains("threshold")
    ));
    assert!(matches!(
        Rules::from_toml("[[rule]]\nkind = \"novel\"\n"),
        Err(RulesError::BadId { index: 1, .. })
    ));
    assert!(matches!(
        Rules::from_toml("[[rule]]\nid = \"Has Space\"\n"),
        Err(RulesError::BadId { index: 1, .. })
    ));
    let twice = "[[rule]]\nid = \"a\"\nkind = \"novel\"\nseverity = \"low\"\nfacets = [\"lure\"]\n";
    assert_eq!(
        Rules::from_toml(&format!("{twice}{twice}")),
        Err(RulesError::Duplicate("a".to_string()))
    );
    let empty = Rules::from_toml("").expect("an empty file is an empty rule set");
    assert_eq!(empty.ids().count(), 0);
}

#[test]
fn durations() {
    assert_eq!(parse_duration("15m"), Ok(time::Duration::minutes(15)));
    assert_eq!(parse_duration("1h"), Ok(time::Duration::hours(1)));
    assert_eq!(parse_duration("2d"), Ok(time::Duration::days(2)));
    assert_eq!(parse_duration("90s"), Ok(time::Duration::seconds(90)));
    for bad in [
        "",
        "15",
        "h",
        "0m",
        "1w",
        "-1h",
        "367d",
        "99999999999999999999d",
        "1.5h",
    ] {
        assert!(parse_duration(bad).is_err(), "{bad:?} is refused");
    }
}
