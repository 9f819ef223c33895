//! The file formats (CSV, lists, hosts, RPZ, JSON lines, MISP feed) on the sample campaign
//! and on hostile values; with `SPAMHATTAN_ORACLE_PYTHON` set, also through the consumers'
//! own tools (`tests/oracles/check_*.py`).

use feeds::intel::format::{FeedWriter, Format, Target};
use feeds::intel::policy::Ioc;
use feeds::intel::rpz::rpz_ip;
use feeds::intel::sample;
use feeds::intel::writers::writer;
use model::intel::{FileFacts, IndicatorRow};
use model::report::IndicatorKind;
use std::path::{Path, PathBuf};
use time::macros::datetime;

/// A fresh scratch directory per test (no tempdir crate in the dev-dependencies).
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("spamhattan-formats-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir is writable");
    d
}

fn hostile_row(id: i64, kind: IndicatorKind, value: &str) -> IndicatorRow {
    IndicatorRow {
        id,
        uuid: uuid::Uuid::from_u128(0x7d2c0000_0000_4000_8000_000000000000 | ((id as u128) << 4)),
        kind,
        value: value.to_string(),
        first_seen: datetime!(2016-02-16 09:12:00 UTC),
        last_seen: datetime!(2016-02-16 11:40:00 UTC),
        count: 3,
        changed_at: datetime!(2016-02-16 11:40:01 UTC),
        campaign: Some(1),
        file: None,
    }
}

/// Indicators whose values hold quotes, commas, newlines and a line that looks like a comment.
fn hostile() -> Vec<Ioc> {
    let p = sample::policy();
    let c = sample::campaign(1);
    let mut file = hostile_row(
        901,
        IndicatorKind::Sha256,
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    );
    file.file = Some(FileFacts {
        md5: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb".to_string(),
        sha1: "cccccccccccccccccccccccccccccccccccccccc".to_string(),
        size: 7,
        kind: "script-js".to_string(),
        name: Some("in\"voice, \"final\"\n# not a comment.js".to_string()),
        chain: "zip>script-js".to_string(),
        ..FileFacts::default()
    });
    let rows = vec![
        hostile_row(
            902,
            IndicatorKind::Url,
            "http://evil.example/a\",b\r\n#c?x=1,2",
        ),
        hostile_row(903, IndicatorKind::Domain, "bad domain\n.example"),
        hostile_row(904, IndicatorKind::Email, "\"quoted,name\"@evil.example"),
        file,
    ];
    rows.into_iter()
        .map(|r| {
            p.ioc(r, Some(c.clone()), datetime!(2016-02-16 12:00:00 UTC))
                .expect("shared")
        })
        .collect()
}

/// Every sample indicator: two campaigns, then the unclustered one.
fn all_iocs() -> Vec<Ioc> {
    let mut v = sample::iocs(1);
    v.extend(hostile());
    v.extend(sample::iocs(2));
    v.push(sample::loose_ioc());
    v
}

/// Drives `format` the way the export driver does, into `dir`; returns the output path.
fn export(format: Format, dir: &Path, iocs: &[Ioc]) -> PathBuf {
    let meta = sample::meta();
    let path = dir.join(format.file_name());
    let target = if format.is_directory() {
        Target::Dir(path.clone())
    } else {
        Target::File(Box::new(
            std::fs::File::create(&path).expect("create output"),
        ))
    };
    let mut w: Box<dyn FeedWriter> = writer(format, &meta, target).expect("writer");
    let mut current = None;
    for ioc in iocs.iter().filter(|i| format.kinds().contains(&i.kind)) {
        let id = ioc.campaign.as_ref().map(|c| c.id());
        if id != current {
            if let Some(c) = &ioc.campaign {
                w.campaign(c).expect("campaign");
            }
            current = id;
        }
        w.ioc(ioc).expect("ioc");
    }
    w.finish().expect("finish");
    path
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).expect("output is UTF-8")
}

fn data_lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.starts_with('#')).collect()
}

/// A small RFC 4180 reader for one line (the writer never puts a line break in a field).
fn fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            (true, '"') => quoted = false,
            (false, '"') => quoted = true,
            (false, ',') => out.push(std::mem::take(&mut cur)),
            (_, c) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

#[test]
fn csv_quotes_every_field_and_keeps_hostile_rows_on_one_line() {
    let dir = scratch("csv");
    for (format, width) in [
        (Format::CsvUrls, 11),
        (Format::CsvPayloads, 16),
        (Format::CsvIocs, 11),
    ] {
        let text = read(&export(format, &dir, &all_iocs()));
        assert!(text.starts_with("# "), "{format}: header block first");
        assert!(
            text.contains("# Generated: 2016-02-16 12:00:00 UTC"),
            "{format}"
        );
        let lines = data_lines(&text);
        let header = lines[0].split(',').count();
        assert_eq!(header, width, "{format}: header row");
        let expected_rows = all_iocs()
            .iter()
            .filter(|i| format.kinds().contains(&i.kind))
            .count();
        assert_eq!(
            lines.len() - 1,
            expected_rows,
            "{format}: one line per indicator"
        );
        for l in &lines[1..] {
            assert!(
                l.starts_with('"') && l.ends_with('"'),
                "{format}: quoted: {l}"
            );
            assert_eq!(fields(l).len(), width, "{format}: {l}");
        }
    }
    let iocs = read(&dir.join(Format::CsvIocs.file_name()));
    let row = data_lines(&iocs)
        .into_iter()
        .find(|l| l.contains("evil.example/a"))
        .expect("hostile url row");
    assert_eq!(
        fields(row)[2],
        "http://evil.example/a\",b\u{FFFD}\u{FFFD}#c?x=1,2"
    );
    assert_eq!(fields(row)[3], "url");
    let payloads = read(&dir.join(Format::CsvPayloads.file_name()));
    let row = data_lines(&payloads)
        .into_iter()
        .find(|l| l.contains("aaaa"))
        .expect("hostile file row");
    assert_eq!(
        fields(row)[7],
        "in\"voice, \"final\"\u{FFFD}# not a comment.js"
    );
    let sample_row = data_lines(&payloads)
        .into_iter()
        .find(|l| l.contains("d472d9c1"))
        .expect("sample");
    assert!(
        fields(sample_row)[6].starts_with("T1"),
        "tlsh as the analysis gives it"
    );
}

#[test]
fn lists_hold_one_token_per_line_and_hosts_only_dns_names() {
    let dir = scratch("lists");
    for format in [
        Format::TxtUrls,
        Format::TxtDomains,
        Format::TxtIps,
        Format::TxtSha256,
        Format::Hosts,
    ] {
        let text = read(&export(format, &dir, &all_iocs()));
        assert!(!text.contains('\r'), "{format}: LF only");
        for l in data_lines(&text) {
            let token = if format == Format::Hosts {
                l.strip_prefix("0.0.0.0 ").expect("hosts line")
            } else {
                l
            };
            assert!(
                !token.is_empty() && !token.contains(char::is_whitespace),
                "{format}: {l:?}"
            );
        }
    }
    let hosts = read(&dir.join(Format::Hosts.file_name()));
    assert!(hosts.contains("\n0.0.0.0 compromised-site.example\n"));
    assert!(hosts.contains("\n0.0.0.0 loose-domain.example\n"));
    assert!(!hosts.contains("bad domain") && !hosts.contains(".example\n.example"));
    let ips = read(&dir.join(Format::TxtIps.file_name()));
    assert_eq!(
        data_lines(&ips),
        ["203.0.113.7", "2001:db8::7", "203.0.113.7", "2001:db8::7"]
    );
    let urls = read(&dir.join(Format::TxtUrls.file_name()));
    assert!(
        urls.contains("\nhttp://compromised-site.example/wp-content/plugins/x/87yg7yyb\n"),
        "not defanged"
    );
    assert!(!urls.contains("evil.example/a"), "URL with CR/LF skipped");
}

#[test]
fn rpz_ip_names_follow_the_draft() {
    // Expected names written from draft-vixie-dnsop-dns-rpz §4 by hand, not from the code.
    let ip = |s: &str| s.parse().expect("literal");
    assert_eq!(rpz_ip(ip("203.0.113.7")), "32.7.113.0.203.rpz-ip");
    assert_eq!(rpz_ip(ip("2001:db8::7")), "128.7.zz.db8.2001.rpz-ip");
    assert_eq!(rpz_ip(ip("::1")), "128.1.zz.rpz-ip");
    assert_eq!(
        rpz_ip(ip("2001:db8:0:1:0:0:0:1")),
        "128.1.zz.1.0.db8.2001.rpz-ip"
    );
    assert_eq!(
        rpz_ip(ip("2001:db8:1:2:3:4:5:6")),
        "128.6.5.4.3.2.1.db8.2001.rpz-ip"
    );
}

#[test]
fn rpz_zone_has_soa_serial_rules_and_comment_provenance() {
    let dir = scratch("rpz");
    let text = read(&export(Format::Rpz, &dir, &all_iocs()));
    assert!(text.contains("$ORIGIN rpz.spamhattan.invalid.\n"));
    assert!(text.contains("$TTL 300\n"));
    assert!(text.contains(" 2016021601 "), "serial from meta");
    assert!(
        text.contains("\ncompromised-site.example CNAME .\n*.compromised-site.example CNAME .\n")
    );
    assert!(text.contains("\n32.7.113.0.203.rpz-ip CNAME .\n"));
    assert!(text.contains("\n128.7.zz.db8.2001.rpz-ip CNAME .\n"));
    assert!(!text.contains("bad domain"));
    assert!(!text.contains(" TXT "));
    let before = text
        .split("\ncompromised-site.example CNAME")
        .next()
        .expect("split");
    let last = before.lines().last().expect("line before the rule");
    assert!(last.starts_with("; domain campaign=1 "), "{last}");
}

#[test]
fn jsonl_lines_are_objects_with_documented_fields() {
    let dir = scratch("jsonl");
    let text = read(&export(Format::Jsonl, &dir, &all_iocs()));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), all_iocs().len());
    let v: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    for o in &v {
        for k in [
            "id",
            "kind",
            "value",
            "defanged",
            "host",
            "first_seen",
            "last_seen",
            "valid_until",
            "count",
            "confidence",
            "tlp",
            "campaign",
        ] {
            assert!(o.get(k).is_some(), "missing {k} in {o}");
        }
    }
    assert_eq!(v[0]["first_seen"], "2016-02-16T09:12:00Z");
    assert_eq!(v[0]["campaign"]["families"][0], "locky");
    let hostile = v
        .iter()
        .find(|o| {
            o["value"]
                .as_str()
                .is_some_and(|s| s.contains("evil.example/a"))
        })
        .expect("url");
    assert_eq!(
        hostile["value"], "http://evil.example/a\",b\r\n#c?x=1,2",
        "exact value"
    );
    let file = v.iter().find(|o| o["kind"] == "sha256").expect("payload");
    assert_eq!(file["file"]["md5"], "2fa1a385c48e6c94f8506e19b5d78770");
    assert!(v.last().expect("loose")["campaign"].is_null());
}

fn misp_events(dir: &Path) -> Vec<serde_json::Value> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("misp dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json") && !p.ends_with("manifest.json"))
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| serde_json::from_str(&read(p)).expect("event JSON"))
        .collect()
}

#[test]
fn misp_feed_has_one_event_per_campaign_and_stable_uuids() {
    let a = export(Format::Misp, &scratch("misp-a"), &all_iocs());
    let b = export(Format::Misp, &scratch("misp-b"), &all_iocs());
    let events = misp_events(&a);
    assert_eq!(events.len(), 3, "two campaigns and the unclustered event");
    assert!(a.join("manifest.json").is_file() && a.join("hashes.csv").is_file());
    assert!(!a.join("hashes.csv.part").exists());
    let manifest: serde_json::Value =
        serde_json::from_str(&read(&a.join("manifest.json"))).expect("manifest");
    assert_eq!(manifest.as_object().expect("object").len(), 3);
    let c1 = sample::campaign(1).brief.uuid.to_string();
    let e1 = events
        .iter()
        .find(|e| e["Event"]["uuid"] == c1.as_str())
        .expect("campaign 1 event");
    assert_eq!(e1["Event"]["threat_level_id"], "1");
    let tags: Vec<&str> = e1["Event"]["Tag"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        tags.contains(&"tlp:green")
            && tags.contains(&"rsit:malicious-code=\"malware-distribution\"")
    );
    let text = read(&a.join(format!("{c1}.json")));
    assert!(!text.contains("email-dst"));
    assert!(
        text.contains("\"8411d8e80ceba2eddd21e7f0d133cbe202d7e831680ec52f549609810f228e32825249\""),
        "tlsh without T1"
    );
    assert_eq!(misp_events(&b), events, "same input, same uuids and bytes");
    let info = e1["Event"]["info"].as_str().expect("info");
    assert!(info.len() <= 256 && !info.contains('\n'), "{info}");
}

#[test]
fn misp_refuses_a_campaign_that_comes_back() {
    let dir = scratch("misp-back");
    let mut w =
        writer(Format::Misp, &sample::meta(), Target::Dir(dir.join("misp"))).expect("writer");
    let one = sample::iocs(1);
    let two = sample::iocs(2);
    w.ioc(&one[0]).expect("first");
    w.ioc(&two[0]).expect("second campaign");
    let err = w.ioc(&one[1]).expect_err("campaign 1 again");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn wrong_target_kind_is_invalid_input() {
    let meta = sample::meta();
    let err = writer(Format::Misp, &meta, Target::File(Box::new(std::io::sink())))
        .err()
        .expect("misp wants a dir");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let err = writer(Format::CsvUrls, &meta, Target::Dir(scratch("wrong")))
        .err()
        .expect("csv wants a file");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

const FILE_FORMATS: [Format; 10] = [
    Format::CsvUrls,
    Format::CsvPayloads,
    Format::CsvIocs,
    Format::TxtUrls,
    Format::TxtDomains,
    Format::TxtIps,
    Format::TxtSha256,
    Format::Hosts,
    Format::Rpz,
    Format::Jsonl,
];

#[test]
fn no_format_names_the_trap() {
    let dir = scratch("trap");
    let mut all = String::new();
    for f in FILE_FORMATS {
        all.push_str(&read(&export(f, &dir, &all_iocs())));
    }
    let misp = export(Format::Misp, &dir, &all_iocs());
    for e in std::fs::read_dir(&misp).expect("misp dir") {
        all.push_str(&read(&e.expect("entry").path()));
    }
    assert!(
        all.contains("login-portal.example"),
        "the URL that carried the address is there"
    );
    for burnt in [sample::TRAP_DOMAIN, "jan@", sample::TRAP_HOST] {
        assert!(!all.contains(burnt), "output names the trap: {burnt}");
    }
}

/// Runs the consumers' tools on every format when `SPAMHATTAN_ORACLE_PYTHON` names a Python
/// with pymisp and dnspython (`/var/cache/spamhattan/venv/bin/python`).
#[test]
fn consumers_tools_accept_every_format() {
    let Some(python) = std::env::var_os("SPAMHATTAN_ORACLE_PYTHON") else {
        eprintln!(
            "skipped: set SPAMHATTAN_ORACLE_PYTHON to run tests/oracles/check_{{misp,rpz,csv}}.py"
        );
        return;
    };
    let oracles = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/oracles");
    let dir = scratch("oracle");
    let run = |args: &[&std::ffi::OsStr]| {
        let out = std::process::Command::new(&python)
            .args(args)
            .output()
            .expect("python runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{args:?}: {text}");
        text
    };
    for f in [Format::CsvUrls, Format::CsvPayloads, Format::CsvIocs] {
        let p = export(f, &dir, &all_iocs());
        run(&[
            oracles.join("check_csv.py").as_os_str(),
            f.as_str().as_ref(),
            p.as_os_str(),
        ]);
    }
    let zone = export(Format::Rpz, &dir, &all_iocs());
    let out = run(&[
        oracles.join("check_rpz.py").as_os_str(),
        zone.as_os_str(),
        "rpz.spamhattan.invalid.".as_ref(),
    ]);
    // SOA + NS + 2 per distinct domain (compromised-site, loose-domain) + 1 per distinct IP
    // (two): both campaigns repeat the same names, which a zone merges.
    assert!(out.contains("OK: 8 records"), "{out}");
    let misp = export(Format::Misp, &dir, &all_iocs());
    run(&[oracles.join("check_misp.py").as_os_str(), misp.as_os_str()]);
}
