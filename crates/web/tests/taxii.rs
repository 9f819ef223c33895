//! The TAXII 2.1 endpoints over a real store: authentication, media types, paging.

mod common;

use axum::http::StatusCode;
use common::{CERT_TOKEN, Fixture, TAXII, bank, basic, cert};
use serde_json::Value;

const CERT: usize = 0;
const BANK: usize = 1;
const PUBLIC: usize = 2;

fn objects(v: &Value) -> Vec<Value> {
    v.get("objects")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn ids(v: &Value) -> Vec<String> {
    objects(v)
        .iter()
        .map(|o| o["id"].as_str().expect("id").to_string())
        .collect()
}

#[tokio::test]
async fn no_credentials_get_401_with_a_basic_challenge() {
    let f = Fixture::new(1, 1);
    let cert_objects = f.objects_url(CERT);
    for uri in [
        "/taxii2/",
        cert_objects.as_str(),
        "/feeds/cert/stix-bundle.json",
    ] {
        // `public` is anonymous, so discovery is visible; protected content is not.
        let r = f.get(uri, None).await;
        if uri == "/taxii2/" {
            assert_eq!(r.status, StatusCode::OK);
            continue;
        }
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{uri}");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Basic realm=\"spamhattan\"")
        );
    }
}

#[tokio::test]
async fn wrong_credentials_get_401_even_where_anonymous_access_exists() {
    let f = Fixture::new(1, 1);
    for auth in [
        basic("cert", "wrong-password"),
        basic("nobody", "cert-password"),
        "Token not-the-token-0000".to_string(),
        "Bearer ".to_string(),
        "Basic %%%".to_string(),
        "Digest username=cert".to_string(),
    ] {
        let r = f.get("/taxii2/spamhattan/collections/", Some(&auth)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth}");
        assert_eq!(r.header("content-type"), Some(TAXII));
        assert_eq!(r.json()["http_status"], "401");
    }
}

#[tokio::test]
async fn collections_of_other_audiences_are_invisible() {
    let f = Fixture::new(1, 1);
    let r = f
        .get("/taxii2/spamhattan/collections/", Some(&bank()))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let titles: Vec<String> = r.json()["collections"]
        .as_array()
        .expect("list")
        .iter()
        .map(|c| c["title"].as_str().expect("title").to_string())
        .collect();
    assert_eq!(titles, ["bank", "public"]);
    let cert_coll = format!("/taxii2/spamhattan/collections/{}/", f.collection_id(CERT));
    for uri in [cert_coll.clone(), f.objects_url(CERT)] {
        let r = f.get(&uri, Some(&bank())).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
    }
    // The token of `cert` reads it.
    let r = f
        .get(&cert_coll, Some(&format!("Token {CERT_TOKEN}")))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = f
        .get(&cert_coll, Some(&format!("Bearer {CERT_TOKEN}")))
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn anonymous_audience_is_readable_without_credentials_and_sees_only_its_tlp() {
    let f = Fixture::new(1, 2);
    let r = f.get("/taxii2/spamhattan/collections/", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["collections"][0]["title"], "public");
    assert_eq!(r.json()["collections"].as_array().map(Vec::len), Some(1));
    // Everything is marked green: the clear audience sees the preamble only.
    let r = f.get(&f.objects_url(PUBLIC), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let kinds: Vec<Value> = objects(&r.json())
        .iter()
        .map(|o| o["type"].clone())
        .collect();
    assert_eq!(kinds, ["identity", "marking-definition"]);
    // The green audience sees the campaign and its indicators.
    let r = f.get(&f.objects_url(BANK), Some(&bank())).await;
    let v = r.json();
    let n = |t: &str| objects(&v).iter().filter(|o| o["type"] == t).count();
    assert_eq!((n("campaign"), n("malware"), n("indicator")), (1, 1, 4));
}

#[tokio::test]
async fn media_types_are_exact_and_required_fields_present() {
    let f = Fixture::new(1, 1);
    let coll = format!("/taxii2/spamhattan/collections/{}/", f.collection_id(CERT));
    let manifest = format!("{coll}manifest/");
    for uri in [
        "/taxii2/",
        "/taxii2/spamhattan/",
        "/taxii2/spamhattan/collections/",
        &coll,
        &manifest,
    ] {
        let r = f
            .request("GET", uri, Some(&cert()), &[("accept", TAXII)])
            .await;
        assert_eq!(r.status, StatusCode::OK, "{uri}");
        assert_eq!(r.header("content-type"), Some(TAXII), "{uri}");
    }
    let d = f.get("/taxii2/", Some(&cert())).await.json();
    assert!(d["title"].is_string());
    assert_eq!(d["api_roots"][0], "/taxii2/spamhattan/");
    let root = f.get("/taxii2/spamhattan/", Some(&cert())).await.json();
    assert_eq!(root["versions"][0], TAXII);
    assert!(root["max_content_length"].is_u64());
    let c = f.get(&coll, Some(&cert())).await.json();
    assert_eq!(c["id"], f.collection_id(CERT));
    assert_eq!(
        (c["can_read"].as_bool(), c["can_write"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(c["media_types"][0], "application/stix+json;version=2.1");
    // A TAXII 2.0 or HTML client is told no.
    for accept in ["application/taxii+json;version=2.0", "text/html"] {
        let r = f
            .request("GET", &coll, Some(&cert()), &[("accept", accept)])
            .await;
        assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE, "{accept}");
        assert_eq!(r.header("content-type"), Some(TAXII));
    }
    // Read-only.
    let r = f
        .request("POST", &f.objects_url(CERT), Some(&cert()), &[])
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    // Manifest records carry microsecond date_added.
    let m = f.get(&manifest, Some(&cert())).await.json();
    let d = m["objects"][0]["date_added"].as_str().expect("date_added");
    assert_eq!(d.len(), "2016-02-16T12:00:07.123456Z".len(), "{d}");
}

/// Walks the collection with `limit`, returning the pages.
async fn walk(f: &Fixture, audience: usize, auth: &str, extra: &str, limit: usize) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..1000 {
        let mut uri = format!("{}?limit={limit}{extra}", f.objects_url(audience));
        if let Some(n) = &next {
            uri.push_str(&format!("&next={n}"));
        }
        let r = f.get(&uri, Some(auth)).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        let v = r.json();
        assert!(objects(&v).len() <= limit);
        if let Some(first) = objects(&v).first() {
            assert!(r.header("x-taxii-date-added-first").is_some());
            assert!(first["type"].as_str().is_some());
        }
        let more = v["more"].as_bool().unwrap_or(false);
        next = v["next"].as_str().map(str::to_string);
        pages.push(v);
        if !more {
            return pages;
        }
        assert!(next.is_some(), "more without next");
    }
    panic!("paging did not end");
}

#[tokio::test]
async fn paging_is_continuous_and_matches_one_big_page() {
    let f = Fixture::new(3, 3);
    let whole = f.get(&f.objects_url(CERT), Some(&cert())).await.json();
    assert_eq!(whole.get("more").and_then(Value::as_bool), Some(false));
    // 2 preamble + 3 * (campaign + malware) + 3 * 3 * 2 indicators * 2 objects, minus the
    // two repeats of the shared malware object (de-duplicated within the page).
    assert_eq!(objects(&whole).len(), 2 + 3 * 2 - 2 + 36);
    let pages = walk(&f, CERT, &cert(), "", 5).await;
    let mut paged: Vec<String> = pages.iter().flat_map(ids).collect();
    // Across pages the shared malware object may come back: drop later repeats.
    let mut seen = std::collections::HashSet::new();
    paged.retain(|id| seen.insert(id.clone()));
    assert_eq!(paged, ids(&whole));
    assert!(pages.len() >= 9, "{} pages", pages.len());
}

#[tokio::test]
async fn added_after_is_strictly_after_and_date_added_is_ordered() {
    let f = Fixture::new(2, 3);
    let url = f.objects_url(CERT).replace("/objects/", "/manifest/");
    let m = f.get(&url, Some(&cert())).await.json();
    let dates: Vec<String> = objects(&m)
        .iter()
        .map(|o| o["date_added"].as_str().expect("date").to_string())
        .collect();
    let mut sorted = dates.clone();
    sorted.sort();
    assert_eq!(dates, sorted, "manifest not in date_added order");
    let middle = dates[dates.len() / 2].clone();
    let expected = dates.iter().filter(|d| **d > middle).count();
    assert!(expected > 0 && expected < dates.len());
    let r = f
        .get(&format!("{url}?added_after={middle}"), Some(&cert()))
        .await;
    let later = objects(&r.json());
    // The shared malware object is de-duplicated within a page only: a later campaign of the
    // family brings it again once the earlier one is cut off by added_after.
    let not_malware = |o: &&Value| !o["id"].as_str().is_some_and(|i| i.starts_with("malware--"));
    let all = objects(&m);
    let want: Vec<&Value> = all
        .iter()
        .filter(|o| o["date_added"].as_str() > Some(middle.as_str()))
        .filter(not_malware)
        .map(|o| &o["id"])
        .collect();
    let got: Vec<&Value> = later.iter().filter(not_malware).map(|o| &o["id"]).collect();
    assert_eq!(got, want);
    assert!(later.len() >= expected);
    assert!(
        later
            .iter()
            .all(|o| o["date_added"].as_str() > Some(middle.as_str()))
    );
    assert_eq!(
        r.header("x-taxii-date-added-first"),
        later[0]["date_added"].as_str()
    );
    // Nothing after the last: the empty envelope.
    let last = dates.last().expect("dates");
    let r = f
        .get(
            &format!("{}?added_after={last}", f.objects_url(CERT)),
            Some(&cert()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), serde_json::json!({}));
}

#[tokio::test]
async fn match_type_filters_and_its_token_cannot_be_reused_with_other_filters() {
    let f = Fixture::new(2, 2);
    let pages = walk(&f, CERT, &cert(), "&match[type]=indicator", 3).await;
    let all: Vec<Value> = pages.iter().flat_map(objects).collect();
    assert_eq!(all.len(), 8);
    assert!(all.iter().all(|o| o["type"] == "indicator"));
    let token = pages[0]["next"].as_str().expect("next").to_string();
    let base = f.objects_url(CERT);
    for uri in [
        format!("{base}?limit=3&next={token}"),
        format!("{base}?limit=3&next={token}&match[type]=campaign"),
        format!(
            "/taxii2/spamhattan/collections/{}/objects/?limit=3&next={token}&match[type]=indicator",
            f.collection_id(BANK)
        ),
    ] {
        let auth = if uri.contains(&f.collection_id(BANK)) {
            bank()
        } else {
            cert()
        };
        let r = f.get(&uri, Some(&auth)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}");
        assert_eq!(r.json()["http_status"], "400");
    }
}

#[tokio::test]
async fn hostile_query_parameters() {
    let f = Fixture::new(1, 1);
    let base = f.objects_url(CERT);
    for q in [
        "limit=0",
        "limit=-5",
        "limit=abc",
        "added_after=2016-02-30T00:00:00Z",
        "added_after=yesterday",
        "next=garbage",
        "next=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "match[id]=../../etc/passwd",
        "match[version]=newest",
    ] {
        let r = f.get(&format!("{base}?{q}"), Some(&cert())).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(r.header("content-type"), Some(TAXII), "{q}");
        assert!(r.json()["title"].is_string());
    }
    let r = f
        .get(&format!("{base}?limit=100000000000"), Some(&cert()))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let long = format!("{base}?match[type]={}", "a".repeat(web::MAX_URI_BYTES));
    let r = f.get(&long, Some(&cert())).await;
    assert_eq!(r.status, StatusCode::URI_TOO_LONG);
}

#[tokio::test]
async fn objects_by_id_find_indicator_derived_and_campaign_objects() {
    let f = Fixture::new(1, 2);
    let whole = f.get(&f.objects_url(CERT), Some(&cert())).await.json();
    let all = objects(&whole);
    for kind in ["indicator", "relationship", "campaign", "identity"] {
        let o = all.iter().find(|o| o["type"] == kind).expect(kind);
        let id = o["id"].as_str().expect("id");
        let r = f
            .get(&format!("{}{id}/", f.objects_url(CERT)), Some(&cert()))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{kind}");
        assert_eq!(ids(&r.json()), [id]);
        assert!(r.header("x-taxii-date-added-last").is_some());
        let r = f
            .get(
                &format!("{}?match[id]={id}", f.objects_url(CERT)),
                Some(&cert()),
            )
            .await;
        assert_eq!(ids(&r.json()), [id], "match[id] {kind}");
        let r = f
            .get(
                &format!("{}{id}/versions/", f.objects_url(CERT)),
                Some(&cert()),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()["versions"].as_array().map(Vec::len), Some(1));
    }
    // Found by scanning through match[id], but not directly.
    let malware = all
        .iter()
        .find(|o| o["type"] == "malware")
        .expect("malware");
    let id = malware["id"].as_str().expect("id");
    let r = f
        .get(
            &format!("{}?match[id]={id}", f.objects_url(CERT)),
            Some(&cert()),
        )
        .await;
    assert_eq!(ids(&r.json()), [id]);
    let r = f
        .get(&format!("{}{id}/", f.objects_url(CERT)), Some(&cert()))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let absent = "indicator--7d2c1234-5678-4abc-8def-0123456789a0";
    let r = f
        .get(&format!("{}{absent}/", f.objects_url(CERT)), Some(&cert()))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.header("content-type"), Some(TAXII));
}
