//! STIX 2.1 bundle: structure, references, versions, slots, bounded report, no trap data,
//! hostile values in patterns, and (with `SPAMHATTAN_ORACLE_PYTHON`) the OASIS validator and
//! the OASIS `stix2` library as the judges of validity and SCO ids.

use feeds::intel::format::{FeedWriter, Target};
use feeds::intel::sample;
use feeds::intel::stix::ids::{SLOT_INDICATOR, campaign_uuid_from_stix, unslot};
use feeds::intel::stix::{self, MAX_REPORT_REFS, StixWriter};
use feeds::intel::{Ioc, Tlp};
use model::report::IndicatorKind;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::io::{self, Write};
use std::sync::{Arc, Mutex};

/// A `Write` whose bytes the test reads back after the writer is finished.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("test lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Shared {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().expect("test lock").clone()).expect("bundle is UTF-8")
    }
}

/// Indicators with values a pattern and a canonical JSON must survive: hostile URLs and an
/// address (patterns only: the schema refuses them as observables) and a payload whose file
/// name holds quotes, backslashes, controls and non-ASCII (its file id goes through JCS).
fn hostile_iocs() -> Vec<Ioc> {
    let base = sample::iocs(1);
    let of = |k: IndicatorKind| {
        base.iter()
            .find(|i| i.kind == k)
            .expect("sample has the kind")
    };
    let values = [
        (
            of(IndicatorKind::Url),
            "http://evil.example/a'b\\c\nd?q=\"x\"&u=\u{1}é€😀/\u{2028}",
        ),
        (
            of(IndicatorKind::Url),
            "http://evil.example/'];[url:value = 'x",
        ),
        (of(IndicatorKind::Email), "o'brien\\x@évil.example"),
        (
            of(IndicatorKind::Sha256),
            "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        ),
    ];
    values
        .iter()
        .enumerate()
        .map(|(n, (ioc, v))| {
            let mut i = (*ioc).clone();
            i.value = v.to_string();
            i.uuid = uuid::Uuid::from_u128(
                0x3a000000_0000_4000_8000_000000000000 | ((n as u128 + 1) << 4),
            );
            if let Some(f) = i.file.as_mut() {
                f.md5 = "00112233445566778899aabbccddeeff".to_string();
                f.name = Some("fa'ct\\uur\n\t\u{1}\u{7f}é😀\u{2028}\"x\".zip".to_string());
                f.mime = Some("application/x-zip-compressed".to_string());
            }
            i
        })
        .collect()
}

/// Campaigns 1 and 2 (same family) with their indicators, the hostile ones, a loose one.
fn sample_bundle() -> String {
    let buf = Shared::default();
    let meta = sample::meta();
    let mut w: Box<dyn FeedWriter> =
        Box::new(StixWriter::new(&meta, Target::File(Box::new(buf.clone()))).expect("file target"));
    for id in [1, 2] {
        w.campaign(&sample::campaign(id)).expect("in memory");
        for ioc in sample::iocs(id) {
            w.ioc(&ioc).expect("in memory");
        }
    }
    for ioc in hostile_iocs() {
        w.ioc(&ioc).expect("in memory");
    }
    w.ioc(&sample::loose_ioc()).expect("in memory");
    w.finish().expect("in memory");
    buf.text()
}

fn objects(bundle: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(bundle).expect("the bundle is JSON");
    assert_eq!(v["type"], "bundle");
    assert!(
        v["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("bundle--"))
    );
    v["objects"].as_array().expect("objects").clone()
}

fn is_ms_time(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 24 && b[10] == b'T' && b[19] == b'.' && b[23] == b'Z'
}

/// Every id referenced by `*_ref` / `*_refs` properties.
fn refs(o: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in o.as_object().expect("object") {
        if k.ends_with("_ref") {
            out.extend(v.as_str().map(str::to_string));
        } else if k.ends_with("_refs") {
            out.extend(
                v.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.as_str().map(str::to_string)),
            );
        }
    }
    out
}

#[test]
fn bundle_holds_no_trap_data() {
    let b = sample_bundle();
    assert!(!b.contains("trap.example"), "bundle names the trap");
    assert!(!b.contains("jan@"), "bundle names a trap recipient");
    for key in [
        "\"to_refs\"",
        "\"received_lines\"",
        "\"raw_email_ref\"",
        "\"payload_bin\"",
    ] {
        assert!(!b.contains(key), "bundle has {key}");
    }
    // The URL with the recipient is still there, pseudonymised.
    assert!(b.contains("pseudonym.invalid"));
}

#[test]
fn every_object_is_unique_versioned_marked_and_its_references_resolve() {
    let objs = objects(&sample_bundle());
    let ids: Vec<&str> = objs.iter().map(|o| o["id"].as_str().expect("id")).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "an object appears twice");
    let producer = format!("identity--{}", sample::producer().uuid);
    for o in &objs {
        let kind = o["type"].as_str().expect("type");
        let id = o["id"].as_str().expect("id");
        assert!(id.starts_with(&format!("{kind}--")), "{id}");
        assert_eq!(o["spec_version"], "2.1", "{id}");
        for r in refs(o) {
            assert!(
                unique.contains(r.as_str()),
                "{id} refers to {r}, not in the bundle"
            );
        }
        if kind == "marking-definition" {
            continue;
        }
        let marks = o["object_marking_refs"]
            .as_array()
            .expect("every object is marked");
        assert_eq!(marks.len(), 1, "{id}");
        if let Some(created) = o["created"].as_str() {
            let modified = o["modified"].as_str().expect("modified with created");
            assert!(
                is_ms_time(created) && is_ms_time(modified),
                "{id}: {created} {modified}"
            );
            assert!(modified >= created, "{id}");
            assert_eq!(o["created_by_ref"], producer.as_str(), "{id}");
        }
    }
    let count = |k: &str| objs.iter().filter(|o| o["type"] == k).count();
    assert_eq!(count("marking-definition"), 5);
    assert_eq!(count("identity"), 1);
    assert_eq!(count("campaign"), 2);
    assert_eq!(
        count("malware"),
        1,
        "family shared by two campaigns is written once"
    );
    assert_eq!(count("report"), 1);
    let report = objs.iter().find(|o| o["type"] == "report").expect("report");
    let listed: Vec<&str> = report["object_refs"]
        .as_array()
        .expect("refs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for c in objs.iter().filter(|o| o["type"] == "campaign") {
        assert!(listed.contains(&c["id"].as_str().expect("id")));
    }
}

#[test]
fn derived_ids_unslot_to_their_indicator_and_campaign_ids_reverse() {
    let objs = objects(&sample_bundle());
    let by_id: HashMap<&str, &Value> = objs
        .iter()
        .map(|o| (o["id"].as_str().expect("id"), o))
        .collect();
    let mut checked = 0;
    for o in &objs {
        let (source, own) = match o["type"].as_str() {
            Some("sighting") => (o["sighting_of_ref"].as_str(), o["id"].as_str()),
            Some("relationship") if o["relationship_type"] != "uses" => {
                (o["source_ref"].as_str(), o["id"].as_str())
            }
            _ => continue,
        };
        let uuid =
            |s: &str| uuid::Uuid::parse_str(s.rsplit("--").next().expect("id")).expect("uuid");
        let (row, n) = unslot(uuid(own.expect("id")));
        let indicator = source.expect("source");
        assert_eq!((row, SLOT_INDICATOR), unslot(uuid(indicator)), "{own:?}");
        assert_ne!(n, SLOT_INDICATOR);
        assert!(by_id.contains_key(indicator));
        checked += 1;
    }
    assert!(checked > 10);
    let brief = sample::brief(1);
    let campaign = objs
        .iter()
        .find(|o| o["type"] == "campaign")
        .expect("campaign");
    let back = campaign_uuid_from_stix(campaign["id"].as_str().expect("id")).expect("campaign id");
    // The id is the brief's uuid with the version nibble swapped (4 in STIX, 7 in the store).
    assert_eq!(
        back.as_u128() & !(0xf << 76),
        brief.uuid.as_u128() & !(0xf << 76)
    );
    assert_eq!(back.get_version_num(), 7);
}

#[test]
fn indicators_carry_their_fields_and_file_hashes_are_schema_shaped() {
    let objs = objects(&sample_bundle());
    for i in objs.iter().filter(|o| o["type"] == "indicator") {
        assert!(i["valid_until"].as_str() > i["valid_from"].as_str());
        assert_eq!(i["pattern_type"], "stix");
        assert_eq!(i["indicator_types"][0], "malicious-activity");
        assert!(i["confidence"].as_u64().is_some_and(|c| c <= 100));
        assert!(i["name"].is_string() && i["description"].is_string());
    }
    let file = objs.iter().find(|o| o["type"] == "file").expect("file SCO");
    let tlsh = file["hashes"]["TLSH"].as_str().expect("TLSH");
    assert_eq!(tlsh.len(), 70, "TLSH without T1 in STIX");
    for k in ["MD5", "SHA-1", "SHA-256", "SHA-512", "SSDEEP"] {
        assert!(file["hashes"][k].is_string(), "{k}");
    }
    assert_eq!(file["mime_type"], "application/zip");
    // Campaign 2 repeats campaign 1's values: each observable is written once.
    let ipv6 = objs.iter().filter(|o| o["type"] == "ipv6-addr").count();
    assert_eq!(ipv6, 1);
    // Hostile values the schema refuses: indicator without observable or observed data.
    assert!(
        !objs
            .iter()
            .any(|o| o["type"] == "url" && o["value"].as_str().is_some_and(|v| v.contains('\'')))
    );
    let hostile_file = objs
        .iter()
        .find(|o| o["type"] == "file" && o["hashes"]["MD5"] == "00112233445566778899aabbccddeeff")
        .expect("hostile file SCO");
    assert!(
        hostile_file.get("mime_type").is_none(),
        "unregistered MIME type left out"
    );
}

/// Reads a pattern's single comparison literal back (`\\` and `\'` unescaped).
fn unquote_single_literal(pattern: &str) -> Option<String> {
    let start = pattern.find(" = '")? + 4;
    let body = pattern.strip_suffix("']")?.get(start..)?;
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '\'' => return None, // an unescaped quote would end the literal early
            c => out.push(c),
        }
    }
    Some(out)
}

#[test]
fn hostile_values_stay_one_literal_in_their_pattern() {
    let meta = sample::meta();
    for ioc in hostile_iocs() {
        let objs = stix::ioc_objects(&ioc, &meta);
        let ind = objs
            .iter()
            .find(|o| o.kind == "indicator")
            .expect("indicator");
        let v: Value = serde_json::from_str(&ind.json).expect("JSON");
        let pattern = v["pattern"].as_str().expect("pattern");
        assert_eq!(
            unquote_single_literal(pattern).as_deref(),
            Some(ioc.value.as_str()),
            "{pattern}"
        );
    }
}

#[test]
fn counts_and_validity_are_clamped() {
    let meta = sample::meta();
    let mut ioc = sample::loose_ioc();
    ioc.count = 0;
    ioc.valid_until = ioc.first_seen;
    let objs = stix::ioc_objects(&ioc, &meta);
    let get = |k: &str| -> Value {
        serde_json::from_str(&objs.iter().find(|o| o.kind == k).expect(k).json).expect("JSON")
    };
    assert_eq!(get("observed-data")["number_observed"], 1);
    let ind = get("indicator");
    assert!(ind["valid_until"].as_str() > ind["valid_from"].as_str());
    assert!(
        !objs.iter().any(|o| o.json.contains("\"indicates\"")),
        "no campaign, no indicates"
    );
    ioc.count = u64::MAX;
    let objs = stix::ioc_objects(&ioc, &meta);
    let sighting: Value = serde_json::from_str(
        &objs
            .iter()
            .find(|o| o.kind == "sighting")
            .expect("sighting")
            .json,
    )
    .expect("JSON");
    assert_eq!(sighting["count"], 999_999_999);
}

#[test]
fn preamble_has_the_oasis_tlp_2_markings_verbatim() {
    // §1.6 of the reference, copied from the OASIS common objects.
    let green: Value = serde_json::from_str(
        r#"{"type":"marking-definition","spec_version":"2.1",
        "id":"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb","created":"2022-10-01T00:00:00.000Z",
        "name":"TLP:GREEN","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":
        {"extension_type":"property-extension","tlp_2_0":"green"}}}"#,
    )
    .expect("literal");
    let pre = stix::preamble(&sample::meta());
    assert_eq!(
        pre.iter()
            .filter(|o| o.kind == "marking-definition")
            .count(),
        5
    );
    let ours = pre
        .iter()
        .find(|o| o.id == Tlp::Green.stix_marking_id())
        .expect("green");
    assert_eq!(
        serde_json::from_str::<Value>(&ours.json).expect("JSON"),
        green
    );
    let identity: Value = serde_json::from_str(&pre[0].json).expect("JSON");
    assert_eq!(identity["identity_class"], "organization");
    assert_eq!(identity["contact_information"], "cert@cert.example");
}

#[test]
fn a_directory_target_is_refused() {
    assert!(StixWriter::new(&sample::meta(), Target::Dir(std::env::temp_dir())).is_err());
}

#[test]
fn report_names_every_campaign_and_a_bounded_number_of_indicators() {
    let buf = Shared::default();
    let meta = sample::meta();
    let mut w: Box<dyn FeedWriter> =
        Box::new(StixWriter::new(&meta, Target::File(Box::new(buf.clone()))).expect("file target"));
    let campaign = sample::campaign(1);
    w.campaign(&campaign).expect("in memory");
    let mut ioc = sample::iocs(1)
        .into_iter()
        .find(|i| i.kind == IndicatorKind::Domain)
        .expect("domain");
    for n in 0..(MAX_REPORT_REFS as u128 + 5) {
        ioc.uuid = uuid::Uuid::from_u128(0x11000000_0000_4000_8000_000000000000 | (n << 4));
        ioc.value = format!("d{n}.example");
        w.ioc(&ioc).expect("in memory");
    }
    w.finish().expect("in memory");
    let text = buf.text();
    let report_at = text
        .rfind("{\"type\":\"report\"")
        .or_else(|| text.rfind("\"type\":\"report\""))
        .expect("report");
    let objs = objects(&text);
    let report = objs.iter().find(|o| o["type"] == "report").expect("report");
    assert!(report_at > 0);
    // One campaign, one malware family, then indicators up to the bound.
    assert_eq!(
        report["object_refs"].as_array().expect("refs").len(),
        1 + MAX_REPORT_REFS
    );
    assert_eq!(
        objs.iter().filter(|o| o["type"] == "indicator").count(),
        MAX_REPORT_REFS + 5
    );
}

/// Writes `text` to a fresh file under the temp dir.
fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!(
        "spamhattan-stix-{}-{name}.json",
        std::process::id()
    ));
    std::fs::write(&p, text).expect("temp dir is writable");
    p
}

fn empty_bundle() -> String {
    let buf = Shared::default();
    let w =
        StixWriter::new(&sample::meta(), Target::File(Box::new(buf.clone()))).expect("file target");
    Box::new(w).finish().expect("in memory");
    buf.text()
}

#[test]
fn oasis_validator_and_stix2_accept_the_bundles() {
    let Ok(python) = std::env::var("SPAMHATTAN_ORACLE_PYTHON") else {
        eprintln!(
            "skipped: set SPAMHATTAN_ORACLE_PYTHON to a python with stix2-validator and stix2"
        );
        return;
    };
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/oracles/check_stix.py"
    );
    let full = temp_file("sample", &sample_bundle());
    let empty = temp_file("empty", &empty_bundle());
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(&full)
        .arg(&empty)
        .output()
        .expect("the oracle python runs");
    let _ = std::fs::remove_file(&full);
    let _ = std::fs::remove_file(&empty);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "check_stix.py failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("SCO ids recomputed"), "{stdout}");
    assert!(
        !stdout.contains("sample.json: 0 SCO"),
        "the sample has observables: {stdout}"
    );
}
