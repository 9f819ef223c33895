//! The clamd client against a real clamd started by the test with a project-made database.
//! Needs the `clamav-daemon` package (clamd binary); no signature download.

#[path = "common/clamd.rs"]
mod clamd;

use clamd::{ClamdGuard, EICAR, MARKER, STREAM_MAX};
use enrich::{Clamd, ClamdConfig, EnrichError};
use std::time::Duration;

#[tokio::test]
async fn eicar_is_found_under_the_project_signature_name() {
    let clamd = ClamdGuard::start().await;
    let hit = clamd.client().scan(EICAR).await.expect("scan");
    assert_eq!(hit.as_deref(), Some("Spamhattan.Test.EICAR.UNOFFICIAL"));
}

#[tokio::test]
async fn marker_inside_other_bytes_is_found() {
    let clamd = ClamdGuard::start().await;
    let mut data = b"Subject: hello\r\n\r\nsome text ".to_vec();
    data.extend_from_slice(MARKER);
    data.extend_from_slice(b" more text\r\n");
    let hit = clamd.client().scan(&data).await.expect("scan");
    assert_eq!(
        hit.as_deref(),
        Some("Spamhattan.Test.Marker-7f3a.UNOFFICIAL")
    );
}

#[tokio::test]
async fn clean_bytes_and_empty_input_are_clean() {
    let clamd = ClamdGuard::start().await;
    let client = clamd.client();
    assert_eq!(
        client.scan(b"just a harmless text").await.expect("scan"),
        None
    );
    assert_eq!(client.scan(b"").await.expect("scan"), None);
}

#[tokio::test]
async fn multi_chunk_stream_is_scanned_whole() {
    let clamd = ClamdGuard::start().await;
    // The marker straddles the 64 KiB chunk boundary.
    let mut data = vec![b'a'; 64 * 1024 - 10];
    data.extend_from_slice(MARKER);
    data.extend_from_slice(&[b'b'; 100_000]);
    let hit = clamd.client().scan(&data).await.expect("scan");
    assert_eq!(
        hit.as_deref(),
        Some("Spamhattan.Test.Marker-7f3a.UNOFFICIAL")
    );
}

#[tokio::test]
async fn scan_hit_names_the_engine_and_location() {
    let clamd = ClamdGuard::start().await;
    let hit = clamd
        .client()
        .scan_hit("artifacts[2]", EICAR)
        .await
        .expect("scan");
    let hit = hit.expect("a hit");
    assert_eq!(hit.engine, "clamav");
    assert_eq!(hit.at, "artifacts[2]");
    assert_eq!(hit.rule, "Spamhattan.Test.EICAR.UNOFFICIAL");
}

#[tokio::test]
async fn object_above_max_stream_is_refused_without_sending() {
    let clamd = ClamdGuard::start().await;
    let cfg = ClamdConfig {
        max_stream: 1000,
        ..clamd.config.clone()
    };
    let err = Clamd::new(&cfg).expect("client").scan(&[0u8; 1001]).await;
    assert!(
        matches!(
            err,
            Err(EnrichError::TooLarge {
                size: 1001,
                limit: 1000
            })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn stream_above_clamds_own_limit_is_an_error() {
    let clamd = ClamdGuard::start().await;
    let data = vec![b'x'; usize::try_from(STREAM_MAX * 2).expect("fits")];
    let err = clamd.client().scan(&data).await;
    assert!(matches!(err, Err(EnrichError::ClamdSizeLimit)), "{err:?}");
}

#[tokio::test]
async fn ping_and_version_answer() {
    let clamd = ClamdGuard::start().await;
    let client = clamd.client();
    client.ping().await.expect("PONG");
    let version = client.version().await.expect("version");
    assert!(version.starts_with("ClamAV "), "{version}");
    eprintln!("{version}, started in {:?}", clamd.started_in);
}

#[tokio::test]
async fn tcp_socket_works_like_the_unix_socket() {
    let clamd = ClamdGuard::start_tcp().await;
    assert!(clamd.config.address.starts_with("tcp:"));
    let hit = clamd.client().scan(EICAR).await.expect("scan");
    assert_eq!(hit.as_deref(), Some("Spamhattan.Test.EICAR.UNOFFICIAL"));
}

#[tokio::test]
async fn absent_clamd_is_a_clear_unreachable_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let address = format!("unix:{}", dir.path().join("none.sock").display());
    let cfg = ClamdConfig {
        address: address.clone(),
        timeout: Duration::from_secs(2),
        ..ClamdConfig::default()
    };
    let err = Clamd::new(&cfg).expect("client").scan(EICAR).await;
    match err {
        Err(e @ EnrichError::ClamdUnreachable { .. }) => {
            let text = e.to_string();
            assert!(
                text.contains(&address) && text.contains("not reachable"),
                "{text}"
            );
        }
        other => panic!("expected ClamdUnreachable, got {other:?}"),
    }
}

#[tokio::test]
async fn a_silent_peer_times_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("silent.sock");
    // Accepts connections (kernel backlog) but never reads or answers.
    let _listener = tokio::net::UnixListener::bind(&path).expect("bind");
    let cfg = ClamdConfig {
        address: format!("unix:{}", path.display()),
        timeout: Duration::from_millis(200),
        ..ClamdConfig::default()
    };
    let err = Clamd::new(&cfg).expect("client").ping().await;
    assert!(matches!(err, Err(EnrichError::ClamdTimeout(_))), "{err:?}");
}
