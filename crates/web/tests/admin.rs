//! Admin actions over `/api/v1`: readers are refused, sessions must send their CSRF token,
//! bodies are bounded and checked, and the change is what the store then holds.

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::Fixture;
use serde_json::Value;
use std::sync::Arc;
use store::Role;
use tower::ServiceExt;
use web::{Console, ConsoleSettings};

const ADMIN: &str = "admin-token-0123456789";
const READER: &str = "reader-token-0123456789";
const COOKIE: &str = "session-value-0123456789";
const CSRF: &str = "csrf-0123456789";

struct Site {
    app: Router,
    fx: Fixture,
}

impl Site {
    /// One campaign of two messages, an admin and a reader token, and an admin login session.
    fn new() -> Site {
        let fx = Fixture::new(1, 2);
        let s = &fx.store;
        s.create_token("admin", Role::Admin, &web::principal::digest(ADMIN))
            .expect("token");
        s.create_token("reader", Role::Reader, &web::principal::digest(READER))
            .expect("token");
        s.put_user("ana", Role::Admin, "$argon2id$unused")
            .expect("user");
        s.create_web_session(
            &web::principal::digest(COOKIE),
            "ana",
            CSRF,
            model::now() + time::Duration::hours(1),
        )
        .expect("session");
        let console = Arc::new(Console::new(fx.store.clone(), ConsoleSettings::default()));
        Site {
            app: web::app(console),
            fx,
        }
    }

    async fn send(
        &self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (StatusCode, Value) {
        let mut b = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let resp = self
            .app
            .clone()
            .oneshot(b.body(Body::from(body.to_string())).expect("request"))
            .await
            .expect("response");
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    fn campaign_id(&self) -> i64 {
        self.fx
            .store
            .campaigns(&Default::default())
            .expect("campaigns")
            .first()
            .expect("one campaign")
            .id
    }
}

fn bearer(t: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {t}"))
}

#[tokio::test]
async fn an_admin_labels_a_campaign_and_a_reader_cannot() {
    let site = Site::new();
    let uri = format!("/api/v1/campaigns/{}", site.campaign_id());
    let body = r#"{"label":"Locky invoice wave","notes":"seen at three banks"}"#;
    let (k, v) = bearer(READER);
    let (status, _) = site.send("PATCH", &uri, &[(k, &v)], body).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = site.send("PATCH", &uri, &[], body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (k, v) = bearer(ADMIN);
    let (status, c) = site.send("PATCH", &uri, &[(k, &v)], body).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    assert_eq!(c["label"], "Locky invoice wave");
    let stored = site
        .fx
        .store
        .campaign(site.campaign_id())
        .expect("read")
        .expect("campaign");
    assert_eq!(stored.label, "Locky invoice wave");
    assert_eq!(stored.notes, "seen at three banks");
    // Notes only: the label stays.
    let (status, c) = site
        .send("PATCH", &uri, &[(k, &v)], r#"{"notes":"and a fourth"}"#)
        .await;
    assert_eq!(
        (status, c["label"].as_str()),
        (StatusCode::OK, Some("Locky invoice wave"))
    );
}

#[tokio::test]
async fn a_session_needs_its_csrf_token() {
    let site = Site::new();
    let uri = format!("/api/v1/campaigns/{}", site.campaign_id());
    let cookie = format!("spamhattan_session={COOKIE}");
    let body = r#"{"label":"x"}"#;
    let (status, v) = site.send("PATCH", &uri, &[("cookie", &cookie)], body).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert!(
        v["error"]["description"]
            .as_str()
            .unwrap_or("")
            .contains("CSRF")
    );
    let (status, _) = site
        .send(
            "PATCH",
            &uri,
            &[("cookie", &cookie), ("x-csrf-token", "wrong")],
            body,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, v) = site
        .send(
            "PATCH",
            &uri,
            &[("cookie", &cookie), ("x-csrf-token", CSRF)],
            body,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn bad_annotations_are_refused_with_a_reason() {
    let site = Site::new();
    let uri = format!("/api/v1/campaigns/{}", site.campaign_id());
    let (k, v) = bearer(ADMIN);
    let long = format!(r#"{{"label":"{}"}}"#, "x".repeat(121));
    let huge = format!(r#"{{"notes":"{}"}}"#, "x".repeat(20_000));
    for (body, status, says) in [
        ("{}", StatusCode::BAD_REQUEST, "label, notes or both"),
        ("not json", StatusCode::BAD_REQUEST, "expected JSON"),
        (
            r#"{"label":"a","extra":1}"#,
            StatusCode::BAD_REQUEST,
            "expected JSON",
        ),
        (
            r#"{"label":"a\u0007b"}"#,
            StatusCode::BAD_REQUEST,
            "control characters",
        ),
        (long.as_str(), StatusCode::BAD_REQUEST, "120 characters"),
        (huge.as_str(), StatusCode::PAYLOAD_TOO_LARGE, "16384 bytes"),
    ] {
        let (got, e) = site.send("PATCH", &uri, &[(k, &v)], body).await;
        assert_eq!(got, status, "{body:.40}: {e}");
        assert!(
            e["error"]["description"]
                .as_str()
                .unwrap_or("")
                .contains(says),
            "{body:.40}: {e}"
        );
    }
    let (got, _) = site
        .send(
            "PATCH",
            "/api/v1/campaigns/999",
            &[(k, &v)],
            r#"{"label":"a"}"#,
        )
        .await;
    assert_eq!(got, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn redelivery_is_for_admins_and_counts_what_it_queued() {
    let site = Site::new();
    let (k, v) = bearer(READER);
    let (status, _) = site
        .send("POST", "/api/v1/alerts/redeliver", &[(k, &v)], "")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (k, v) = bearer(ADMIN);
    let (status, r) = site
        .send("POST", "/api/v1/alerts/redeliver", &[(k, &v)], "")
        .await;
    assert_eq!((status, r["queued"].as_u64()), (StatusCode::OK, Some(0)));
    let (status, r) = site
        .send(
            "POST",
            "/api/v1/alerts/redeliver",
            &[(k, &v)],
            r#"{"receiver":"soc"}"#,
        )
        .await;
    assert_eq!((status, r["queued"].as_u64()), (StatusCode::OK, Some(0)));
    let (status, _) = site
        .send(
            "POST",
            "/api/v1/alerts/redeliver",
            &[(k, &v)],
            r#"{"who":"soc"}"#,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_campaign_page_form_labels_for_admins_with_their_csrf_token() {
    let site = Site::new();
    let id = site.campaign_id();
    let uri = format!("/campaigns/{id}/label");
    let cookie = format!("spamhattan_session={COOKIE}");
    let form = |csrf: &str| format!("csrf={csrf}&label=Locky+wave&notes=line+one");
    let post = |body: String, cookie: String| {
        let app = site.app.clone();
        let uri = uri.clone();
        async move {
            let req = Request::post(&uri)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("cookie", cookie)
                .body(Body::from(body))
                .expect("request");
            app.oneshot(req).await.expect("response")
        }
    };
    let r = post(form("wrong"), cookie.clone()).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post(form(CSRF), cookie.clone()).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        r.headers().get("location").and_then(|v| v.to_str().ok()),
        Some(format!("/campaigns/{id}").as_str())
    );
    let c = site.fx.store.campaign(id).expect("read").expect("campaign");
    assert_eq!(
        (c.label.as_str(), c.notes.as_str()),
        ("Locky wave", "line one")
    );
    // The page shows the form to this admin, with the session's token.
    let page = site
        .app
        .clone()
        .oneshot(
            Request::get(format!("/campaigns/{id}"))
                .header("cookie", &cookie)
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    let html = axum::body::to_bytes(page.into_body(), 1 << 22)
        .await
        .expect("body");
    let html = String::from_utf8_lossy(&html);
    assert!(
        html.contains(&format!("action=\"/campaigns/{id}/label\"")),
        "form shown"
    );
    assert!(html.contains(&format!("value=\"{CSRF}\"")), "token in form");
    // A reader's session may not.
    site.fx
        .store
        .put_user("bo", Role::Reader, "$argon2id$unused")
        .expect("user");
    site.fx
        .store
        .create_web_session(
            &web::principal::digest("bo-cookie-0123456789"),
            "bo",
            "bo-csrf",
            model::now() + time::Duration::hours(1),
        )
        .expect("session");
    let r = post(
        form("bo-csrf"),
        "spamhattan_session=bo-cookie-0123456789".into(),
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}
