//! Delivery against real local receivers on 127.0.0.1: a hand-written HTTP/1.1 server that
//! checks the Standard Webhooks signature with its own HMAC, a TLS server with an rcgen
//! certificate, and syslog listeners over UDP and TCP.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use feeds::alert::{Sink, SyslogConfig, WebhookConfig, WebhookFormat};
use model::{Alert, Severity};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Bound on what the test server accepts, so a broken client cannot hang the test.
const MAX_TEST_REQUEST: usize = 1 << 20;
/// How long a test waits for something that should already have happened.
const PATIENCE: Duration = Duration::from_secs(5);
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn alert() -> Alert {
    Alert {
        id: uuid::Uuid::now_v7(),
        rule: "yara-family".to_owned(),
        severity: Severity::Critical,
        campaign: Some(7),
        campaign_uuid: Some(uuid::Uuid::now_v7()),
        title: "Emotet loader seen".to_owned(),
        summary: "zip with lnk".to_owned(),
        evidence: Vec::new(),
        indicators: Vec::new(),
        triggered_at: model::now(),
        created_at: model::now(),
        dedup_key: "yara-family/7".to_owned(),
    }
}

fn webhook(url: String) -> WebhookConfig {
    WebhookConfig {
        name: "test".to_owned(),
        url,
        secret: Some(SECRET.to_owned()),
        format: WebhookFormat::Standard,
        min_severity: Severity::Info,
        timeout_secs: 5,
        max_per_minute: 60,
        ca_file: None,
    }
}

// ---- an independent Standard Webhooks verifier ----

/// HMAC-SHA256 written from RFC 2104 on top of plain SHA-256 (not the crate's `hmac`).
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner_key: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let outer_key: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::digest([inner_key.as_slice(), message].concat());
    Sha256::digest([outer_key.as_slice(), inner.as_slice()].concat()).to_vec()
}

fn verify(secret: &str, id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let key = BASE64
        .decode(secret.trim_start_matches("whsec_"))
        .expect("test secret is base64");
    let signed = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body].concat();
    let expected = format!("v1,{}", BASE64.encode(hmac_sha256(&key, &signed)));
    header.split(' ').any(|candidate| candidate == expected)
}

#[test]
fn verifier_matches_the_published_vector_and_rejects_tampering() {
    let body = br#"{"test": 2432232314}"#;
    let sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    assert!(verify(
        SECRET,
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265330",
        body,
        sig
    ));
    assert!(!verify(
        SECRET,
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265331",
        body,
        sig
    ));
}

// ---- a minimal HTTP/1.1 receiver ----

#[derive(Debug)]
struct Received {
    request_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 || buf.len() > MAX_TEST_REQUEST {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
        .min(MAX_TEST_REQUEST);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Received {
        request_line,
        headers,
        body,
    })
}

async fn answer<S: AsyncWrite + Unpin>(stream: &mut S, status: &str, extra: &str) {
    let body = "receiver says hello";
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Serves every connection with `status` (plus `extra` header lines) and reports requests.
async fn http_receiver(
    status: &'static str,
    extra: String,
) -> std::io::Result<(String, mpsc::UnboundedReceiver<Received>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            if let Ok(request) = read_request(&mut stream).await {
                let _ = tx.send(request);
            }
            answer(&mut stream, status, &extra).await;
        }
    });
    Ok((format!("http://{addr}"), rx))
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Received>) -> Result<Received, String> {
    match tokio::time::timeout(PATIENCE, rx.recv()).await {
        Ok(Some(r)) => Ok(r),
        _ => Err("no request arrived".to_owned()),
    }
}

// ---- webhooks ----

#[tokio::test]
async fn signed_webhook_arrives_and_verifies_independently() -> TestResult {
    let (base, mut rx) = http_receiver("204 No Content", String::new()).await?;
    let sink = Sink::from_webhook(webhook(format!("{base}/hooks/soc?team=cert")))?;
    let a = alert();
    sink.deliver(&a).await?;
    let got = next(&mut rx).await?;
    assert_eq!(got.request_line, "POST /hooks/soc?team=cert HTTP/1.1");
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert!(
        got.header("user-agent")
            .is_some_and(|ua| ua.starts_with("spamhattan/"))
    );
    assert_eq!(got.header("host"), base.strip_prefix("http://"));
    let id = got.header("webhook-id").ok_or("webhook-id")?;
    assert_eq!(id, a.id.to_string());
    let ts = got.header("webhook-timestamp").ok_or("webhook-timestamp")?;
    let age = model::now().unix_timestamp() - ts.parse::<i64>()?;
    assert!((-5..=60).contains(&age), "timestamp {age} s off");
    let sig = got.header("webhook-signature").ok_or("webhook-signature")?;
    assert!(
        verify(SECRET, id, ts, &got.body, sig),
        "signature does not verify"
    );
    let mut tampered = got.body.clone();
    tampered.push(b' ');
    assert!(!verify(SECRET, id, ts, &tampered, sig));
    let json: serde_json::Value = serde_json::from_slice(&got.body)?;
    assert_eq!(json["type"], "spamhattan.alert.raised");
    assert_eq!(json["data"]["id"], a.id.to_string());
    Ok(())
}

#[tokio::test]
async fn slack_format_posts_a_chat_message() -> TestResult {
    let (base, mut rx) = http_receiver("200 OK", String::new()).await?;
    let cfg = WebhookConfig {
        format: WebhookFormat::Slack,
        secret: None,
        ..webhook(format!("{base}/services/T/B/X"))
    };
    Sink::from_webhook(cfg)?.deliver(&alert()).await?;
    let got = next(&mut rx).await?;
    assert!(got.header("webhook-signature").is_none());
    let json: serde_json::Value = serde_json::from_slice(&got.body)?;
    assert_eq!(
        json["text"],
        "*[CRITICAL]* Emotet loader seen (rule yara-family)"
    );
    assert!(json["attachments"][0]["fields"].is_array());
    Ok(())
}

async fn delivery_status(status: &'static str) -> Result<feeds::alert::DeliveryError, String> {
    let (base, mut rx) = http_receiver(status, String::new())
        .await
        .map_err(|e| e.to_string())?;
    let sink = Sink::from_webhook(webhook(base)).map_err(|e| e.to_string())?;
    let err = sink
        .deliver(&alert())
        .await
        .expect_err("a failure status must fail the delivery");
    next(&mut rx).await?;
    Ok(err)
}

#[tokio::test]
async fn server_errors_and_throttling_are_retried() -> TestResult {
    for status in [
        "500 Internal Server Error",
        "503 Service Unavailable",
        "429 Too Many Requests",
        "408 Request Timeout",
    ] {
        let err = delivery_status(status).await?;
        assert!(err.retry, "{status} not retried: {err}");
        let code = status.split(' ').next().unwrap_or_default();
        assert!(err.message.contains(code), "{err}");
    }
    Ok(())
}

#[tokio::test]
async fn client_errors_are_not_retried() -> TestResult {
    for status in ["400 Bad Request", "401 Unauthorized", "404 Not Found"] {
        let err = delivery_status(status).await?;
        assert!(!err.retry, "{status} retried: {err}");
    }
    let err = delivery_status("400 Bad Request").await?;
    assert!(err.message.contains("receiver says hello"), "{err}");
    Ok(())
}

#[tokio::test]
async fn redirects_are_not_followed() -> TestResult {
    let (elsewhere, mut elsewhere_rx) = http_receiver("200 OK", String::new()).await?;
    let (base, mut rx) = http_receiver(
        "301 Moved Permanently",
        format!("Location: {elsewhere}/\r\n"),
    )
    .await?;
    let err = Sink::from_webhook(webhook(base))?
        .deliver(&alert())
        .await
        .expect_err("a redirect is a failure");
    assert!(!err.retry);
    assert!(err.message.contains("301"), "{err}");
    next(&mut rx).await?;
    assert!(elsewhere_rx.try_recv().is_err(), "redirect was followed");
    Ok(())
}

#[tokio::test]
async fn silent_receiver_times_out_and_is_retried() -> TestResult {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (hold_tx, mut hold_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        // Accept and keep every connection open without a word.
        while let Ok((stream, _)) = listener.accept().await {
            let _ = hold_tx.send(stream);
        }
    });
    let sink = Sink::from_webhook(webhook(format!("http://{addr}/")))?
        .with_timeout(Duration::from_millis(200));
    let started = std::time::Instant::now();
    let err = sink
        .deliver(&alert())
        .await
        .expect_err("no answer must fail");
    assert!(err.retry, "{err}");
    assert!(err.message.contains("within"), "{err}");
    assert!(started.elapsed() < PATIENCE, "timeout not applied");
    assert!(hold_rx.try_recv().is_ok(), "the connection was made");
    Ok(())
}

#[tokio::test]
async fn refused_connection_is_retried() -> TestResult {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        listener.local_addr()?.port()
    };
    let err = Sink::from_webhook(webhook(format!("http://127.0.0.1:{port}/")))?
        .deliver(&alert())
        .await
        .expect_err("nobody listens");
    assert!(err.retry, "{err}");
    Ok(())
}

// ---- TLS ----

async fn tls_receiver(
    cert: &rcgen::CertifiedKey<rcgen::KeyPair>,
) -> Result<(u16, mpsc::UnboundedReceiver<Received>), Box<dyn std::error::Error>> {
    let key = rustls_pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der())?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert.der().clone()], key)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let Ok(mut tls) = acceptor.accept(tcp).await else {
                continue;
            };
            if let Ok(request) = read_request(&mut tls).await {
                let _ = tx.send(request);
            }
            answer(&mut tls, "200 OK", "").await;
        }
    });
    Ok((port, rx))
}

#[tokio::test]
async fn https_with_ca_file_delivers_and_unknown_issuer_is_refused() -> TestResult {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    let ca_file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("feeds-ca-{}.pem", uuid::Uuid::now_v7()));
    std::fs::write(&ca_file, cert.cert.pem())?;
    let (port, mut rx) = tls_receiver(&cert).await?;
    let url = format!("https://127.0.0.1:{port}/hook");

    let untrusted = Sink::from_webhook(webhook(url.clone()))?;
    let err = untrusted
        .deliver(&alert())
        .await
        .expect_err("self-signed must not pass");
    assert!(err.message.contains("TLS"), "{err}");
    assert!(
        rx.try_recv().is_err(),
        "request sent over an unverified connection"
    );

    let trusted = Sink::from_webhook(WebhookConfig {
        ca_file: Some(ca_file.clone()),
        ..webhook(url)
    })?;
    let a = alert();
    trusted.deliver(&a).await?;
    let got = next(&mut rx).await?;
    let (id, ts) = (
        got.header("webhook-id").ok_or("id")?,
        got.header("webhook-timestamp").ok_or("ts")?,
    );
    assert_eq!(id, a.id.to_string());
    let sig = got.header("webhook-signature").ok_or("sig")?;
    assert!(verify(SECRET, id, ts, &got.body, sig));
    let _ = std::fs::remove_file(&ca_file);
    Ok(())
}

#[test]
fn missing_or_empty_ca_file_is_a_config_error() -> TestResult {
    let missing = WebhookConfig {
        ca_file: Some("/nonexistent/spamhattan-ca.pem".into()),
        ..webhook("https://127.0.0.1:1/".to_owned())
    };
    let err = Sink::from_webhook(missing).expect_err("missing CA file");
    assert!(err.to_string().contains("ca_file"), "{err}");
    Ok(())
}

// ---- syslog ----

fn syslog(address: String, transport: &str) -> Result<SyslogConfig, serde_json::Error> {
    serde_json::from_value(serde_json::json!({
        "name": "siem",
        "address": address,
        "transport": transport,
        "hostname": "trap-01",
        "min_severity": "info",
    }))
}

#[tokio::test]
async fn syslog_over_udp_sends_one_datagram() -> TestResult {
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let sink = Sink::from_syslog(syslog(socket.local_addr()?.to_string(), "udp")?)?;
    let a = alert();
    sink.deliver(&a).await?;
    let mut buf = vec![0u8; 65_536];
    let (n, _) = tokio::time::timeout(PATIENCE, socket.recv_from(&mut buf)).await??;
    let line = std::str::from_utf8(&buf[..n])?;
    // facility 13 * 8 + critical (2)
    assert!(line.starts_with("<106>1 "), "{line}");
    let fields: Vec<&str> = line.splitn(7, ' ').collect();
    assert_eq!(fields[2..6], ["trap-01", "spamhattan", "-", "alert"]);
    let sd = format!(
        "[spamhattan@32473 rule=\"yara-family\" severity=\"critical\" campaign=\"7\" id=\"{}\"] Emotet loader seen",
        a.id
    );
    assert_eq!(fields[6], sd);
    Ok(())
}

#[tokio::test]
async fn syslog_over_tcp_uses_octet_counting() -> TestResult {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let mut cfg = syslog(listener.local_addr()?.to_string(), "tcp")?;
    cfg.format = feeds::alert::SyslogFormat::Cef;
    let sink = Sink::from_syslog(cfg)?;
    let mut a = alert();
    a.title = "two\nlines".to_owned();
    let (delivered, accepted) = tokio::join!(sink.deliver(&a), async {
        let (mut stream, _) = listener.accept().await?;
        let mut all = Vec::new();
        tokio::time::timeout(PATIENCE, stream.read_to_end(&mut all))
            .await
            .map_err(std::io::Error::other)??;
        Ok::<_, std::io::Error>(all)
    });
    delivered?;
    let all = String::from_utf8(accepted?)?;
    let (count, record) = all.split_once(' ').ok_or("no octet count")?;
    assert_eq!(
        count.parse::<usize>()?,
        record.len(),
        "one whole frame, nothing else"
    );
    assert!(record.starts_with("<106>1 "), "{record}");
    assert!(record.contains(" trap-01 spamhattan - alert - CEF:0|spamhattan|spamhattan|"));
    assert!(
        record.contains("|yara-family|two lines|10|externalId="),
        "{record}"
    );
    Ok(())
}

#[tokio::test]
async fn syslog_tcp_refused_is_retried() -> TestResult {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        listener.local_addr()?.port()
    };
    let sink = Sink::from_syslog(syslog(format!("127.0.0.1:{port}"), "tcp")?)?;
    let err = sink.deliver(&alert()).await.expect_err("nobody listens");
    assert!(err.retry, "{err}");
    Ok(())
}
