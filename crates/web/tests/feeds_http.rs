//! `/feeds/`: the index, streamed files, caching headers, and refusal of path tricks.

mod common;

use axum::http::StatusCode;
use common::{Fixture, bank, cert};

fn publish(f: &Fixture, audience: &str, rel: &str, body: &[u8]) {
    let path = f.published().join(audience).join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, body).expect("write");
}

#[tokio::test]
async fn index_lists_only_readable_audiences_and_their_formats() {
    let f = Fixture::new(0, 0);
    let r = f.get("/feeds/", Some(&bank())).await;
    assert_eq!(r.status, StatusCode::OK);
    let v = r.json();
    let names: Vec<&str> = v["audiences"]
        .as_array()
        .expect("list")
        .iter()
        .map(|a| a["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["bank", "public"]);
    let urls: Vec<&str> = v["audiences"][0]["formats"]
        .as_array()
        .expect("formats")
        .iter()
        .map(|x| x["url"].as_str().expect("url"))
        .collect();
    assert_eq!(
        urls,
        [
            "/feeds/bank/stix-bundle.json",
            "/feeds/bank/urls.txt",
            "/feeds/bank/misp/manifest.json"
        ]
    );
}

#[tokio::test]
async fn published_file_is_streamed_with_its_type_and_caching_headers() {
    let f = Fixture::new(0, 0);
    // Larger than one chunk, not a multiple of it.
    let body: Vec<u8> = (0..200_001u32).map(|i| (i % 251) as u8).collect();
    publish(&f, "bank", "stix-bundle.json", &body);
    let r = f.get("/feeds/bank/stix-bundle.json", Some(&bank())).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, body);
    assert_eq!(
        r.header("content-type"),
        Some("application/stix+json;version=2.1")
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(
        r.header("last-modified")
            .is_some_and(|d| d.ends_with(" GMT"))
    );
    let etag = r.header("etag").expect("etag").to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'));
    let r = f
        .request(
            "GET",
            "/feeds/bank/stix-bundle.json",
            Some(&bank()),
            &[("if-none-match", &etag)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    assert!(r.body.is_empty());
    let r = f
        .request(
            "GET",
            "/feeds/bank/stix-bundle.json",
            Some(&bank()),
            &[("if-none-match", "\"other\"")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // A new publication changes the tag.
    publish(&f, "bank", "stix-bundle.json", b"{}");
    let r = f.get("/feeds/bank/stix-bundle.json", Some(&bank())).await;
    assert_ne!(r.header("etag"), Some(etag.as_str()));
}

#[tokio::test]
async fn misp_files_unpublished_feeds_and_formats_not_offered() {
    let f = Fixture::new(0, 0);
    let uuid = "5f6e4d3c-2b1a-4098-8765-43210fedcba9";
    publish(&f, "bank", &format!("misp/{uuid}.json"), b"{\"Event\":{}}");
    let r = f
        .get(&format!("/feeds/bank/misp/{uuid}.json"), Some(&bank()))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), Some("application/json"));
    // Not yet published.
    let r = f.get("/feeds/bank/urls.txt", Some(&bank())).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(String::from_utf8_lossy(&r.body).contains("not been published"));
    // `bank` is not offered RPZ, even when a file happens to be there.
    publish(&f, "bank", "rpz.zone", b"zone");
    let r = f.get("/feeds/bank/rpz.zone", Some(&bank())).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Another audience's file: 404 when authenticated, 401 without credentials.
    publish(&f, "cert", "stix-bundle.json", b"{}");
    let r = f.get("/feeds/cert/stix-bundle.json", Some(&bank())).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = f.get("/feeds/cert/stix-bundle.json", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = f.get("/feeds/cert/stix-bundle.json", Some(&cert())).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn path_traversal_attempts_find_nothing() {
    let f = Fixture::new(0, 0);
    publish(&f, "bank", "stix-bundle.json", b"{}");
    publish(&f, "cert", "stix-bundle.json", b"secret");
    std::fs::write(f.published().join("secret.txt"), b"secret").expect("write");
    for uri in [
        "/feeds/bank/../cert/stix-bundle.json",
        "/feeds/bank/%2e%2e/cert/stix-bundle.json",
        "/feeds/bank/%2e%2e%2fcert%2fstix-bundle.json",
        "/feeds/bank/..%2fsecret.txt",
        "/feeds/bank/%2fetc%2fpasswd",
        "/feeds/bank//etc/passwd",
        "/feeds/bank/misp/..%2fstix-bundle.json",
        "/feeds/bank/misp/%2e%2e",
        "/feeds/%2e%2e/secret.txt",
        "/feeds/bank/stix-bundle.json%00",
        "/feeds/bank/misp/5F6E4D3C-2B1A-4098-8765-43210FEDCBA9.json",
    ] {
        let r = f.get(uri, Some(&bank())).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(
            !String::from_utf8_lossy(&r.body).contains("secret"),
            "{uri}"
        );
    }
}
