//! Console logins through the real router: cookies, sessions, CSRF on logout, the throttle,
//! redirects that stay on the site, and `PageUser` for pages.

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use store::{Role, Store, StoreConfig};
use tower::ServiceExt;
use web::login::{MAX_FAILURES, PageUser, WRONG_CREDENTIALS};
use web::principal::Principal;
use web::{Console, ConsoleSettings};

const PASSWORD: &str = "correct horse battery";

struct Site {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    router: Router,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(&name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The session id set by this reply.
    fn session(&self) -> String {
        let set = self.header(header::SET_COOKIE);
        let value = set
            .strip_prefix("spamhattan_session=")
            .unwrap_or_else(|| panic!("no session cookie: {set:?}"));
        value.split(';').next().unwrap_or("").to_string()
    }
}

/// Answers who is asking, as the API sees it.
async fn api_probe(p: Principal) -> String {
    format!("{} {}", p.name, p.role.as_str())
}

/// Answers who is asking, as a console page sees it, with the form token.
async fn page_probe(u: PageUser) -> String {
    format!("{} {}", u.name(), u.csrf())
}

impl Site {
    fn new(settings: ConsoleSettings) -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(StoreConfig::new(dir.path())).expect("open"));
        let console = Arc::new(Console::new(store.clone(), settings));
        let probes = Router::new()
            .route("/api/v1/probe", get(api_probe))
            .route("/probe", get(page_probe))
            .with_state(console.clone());
        Site {
            _dir: dir,
            store,
            router: probes.merge(web::app(console)),
        }
    }

    fn with_user() -> Site {
        let site = Site::new(ConsoleSettings::default());
        let hash = web::login::password::hash(PASSWORD).expect("hash");
        site.store
            .put_user("ana", Role::Admin, &hash)
            .expect("user");
        site
    }

    async fn send(&self, req: Request<Body>) -> Reply {
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    async fn get(&self, uri: &str, cookie: Option<&str>) -> Reply {
        let mut b = Request::get(uri);
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, format!("spamhattan_session={c}"));
        }
        self.send(b.body(Body::empty()).expect("request")).await
    }

    async fn post_form(&self, uri: &str, form: &str, extra: &[(&str, &str)]) -> Reply {
        let mut b =
            Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        for (k, v) in extra {
            b = b.header(*k, *v);
        }
        self.send(b.body(Body::from(form.to_string())).expect("request"))
            .await
    }

    async fn login(&self, user: &str, password: &str, next: &str) -> Reply {
        let form = format!(
            "user={user}&password={}&next={next}",
            password.replace(' ', "+")
        );
        self.post_form("/login", &form, &[]).await
    }

    async fn logged_in(&self) -> String {
        let r = self.login("ana", PASSWORD, "/").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        r.session()
    }
}

#[tokio::test]
async fn login_sets_a_strict_cookie_and_the_session_authenticates() {
    let site = Site::with_user();
    let r = site.login("ana", PASSWORD, "/probe").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.header(header::LOCATION), "/probe");
    let set = r.header(header::SET_COOKIE).to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(set.contains(attribute), "{attribute} missing: {set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP: {set}");
    let id = r.session();
    assert_eq!(id.len(), 43, "32 random bytes, base64url");

    let api = site.get("/api/v1/probe", Some(&id)).await;
    assert_eq!(
        (api.status, api.body.as_str()),
        (StatusCode::OK, "ana admin")
    );
    let page = site.get("/probe", Some(&id)).await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = page.body.strip_prefix("ana ").expect("name");
    assert_eq!(csrf.len(), 43, "the page gets the session's CSRF token");

    let anonymous = site.get("/api/v1/probe", None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let forged = site.get("/api/v1/probe", Some("not-a-session")).await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn secure_cookies_are_marked_secure() {
    let site = Site::new(ConsoleSettings {
        secure_cookies: true,
        ..ConsoleSettings::default()
    });
    let hash = web::login::password::hash(PASSWORD).expect("hash");
    site.store
        .put_user("ana", Role::Reader, &hash)
        .expect("user");
    let r = site.login("ana", PASSWORD, "/").await;
    assert!(r.header(header::SET_COOKIE).ends_with("; Secure"));
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let site = Site::with_user();
    let wrong = site.login("ana", "correct horse batterz", "/").await;
    let unknown = site.login("nobody", PASSWORD, "/").await;
    for r in [&wrong, &unknown] {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.body.contains(WRONG_CREDENTIALS), "{}", r.body);
        assert!(r.header(header::SET_COOKIE).is_empty());
        assert!(r.body.contains("<form method=\"post\" action=\"/login\">"));
    }
    // The name typed is kept in the form, escaped.
    let hostile = site.login("%3Cscript%3E", PASSWORD, "/").await;
    assert!(
        hostile.body.contains("value=\"&#60;script&#62;\""),
        "{}",
        hostile.body
    );
    assert!(!hostile.body.contains("<script>"));
}

#[tokio::test]
async fn the_throttle_engages_after_five_failures_even_for_the_right_password() {
    let site = Site::with_user();
    for i in 0..MAX_FAILURES {
        let r = site.login("ana", "wrong password!!", "/").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let r = site.login("ana", PASSWORD, "/").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    let wait: u64 = r.header(header::RETRY_AFTER).parse().expect("Retry-After");
    assert!((1..=15 * 60).contains(&wait), "{wait}");
    assert!(r.body.contains("too many failed logins"));
    assert!(r.header(header::SET_COOKIE).is_empty());
}

#[tokio::test]
async fn the_throttle_counts_per_address_and_per_name() {
    let site = Site::with_user();
    let hash = web::login::password::hash(PASSWORD).expect("hash");
    site.store
        .put_user("bo", Role::Reader, &hash)
        .expect("user");
    let from = |ip: [u8; 4], user: &str, password: &str| {
        let mut req = Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "user={user}&password={}",
                password.replace(' ', "+")
            )))
            .expect("request");
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((ip, 40000))));
        req
    };
    for _ in 0..MAX_FAILURES {
        let r = site
            .send(from([192, 0, 2, 1], "ana", "wrong password!!"))
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // Another name from the same address: the address is used up.
    let r = site.send(from([192, 0, 2, 1], "bo", PASSWORD)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // The same name from another address: the name is used up.
    let r = site.send(from([192, 0, 2, 2], "ana", PASSWORD)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    // Neither: fine.
    let r = site.send(from([192, 0, 2, 2], "bo", PASSWORD)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

#[tokio::test]
async fn logout_needs_the_csrf_token_and_ends_the_session() {
    let site = Site::with_user();
    let id = site.logged_in().await;
    let cookie = format!("spamhattan_session={id}");
    let page = site.get("/probe", Some(&id)).await;
    let csrf = page.body.strip_prefix("ana ").expect("csrf").to_string();

    let bare = site.post_form("/logout", "", &[("cookie", &cookie)]).await;
    assert_eq!(bare.status, StatusCode::FORBIDDEN, "{}", bare.body);
    let wrong = site
        .post_form("/logout", "csrf=nope", &[("cookie", &cookie)])
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert_eq!(
        site.get("/api/v1/probe", Some(&id)).await.status,
        StatusCode::OK
    );

    let out = site
        .post_form("/logout", &format!("csrf={csrf}"), &[("cookie", &cookie)])
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.header(header::LOCATION), "/login");
    assert!(out.header(header::SET_COOKIE).contains("Max-Age=0"));
    assert_eq!(
        site.get("/api/v1/probe", Some(&id)).await.status,
        StatusCode::UNAUTHORIZED
    );

    // The header works as well as the form field.
    let id = site.logged_in().await;
    let csrf = site.get("/probe", Some(&id)).await.body[4..].to_string();
    let out = site
        .post_form(
            "/logout",
            "",
            &[
                ("cookie", &format!("spamhattan_session={id}")),
                ("x-csrf-token", &csrf),
            ],
        )
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(
        site.get("/api/v1/probe", Some(&id)).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_new_login_rotates_the_session() {
    let site = Site::with_user();
    let first = site.logged_in().await;
    let r = site
        .post_form(
            "/login",
            &format!("user=ana&password={}", PASSWORD.replace(' ', "+")),
            &[("cookie", &format!("spamhattan_session={first}"))],
        )
        .await;
    let second = r.session();
    assert_ne!(first, second);
    assert_eq!(
        site.get("/api/v1/probe", Some(&first)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        site.get("/api/v1/probe", Some(&second)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn next_never_leaves_the_site() {
    let site = Site::with_user();
    for evil in [
        "//evil.example",
        "https://evil.example",
        "%2F%2Fevil.example",
        "https%3A%2F%2Fevil.example%2Fx",
        "%2F%5Cevil.example",
    ] {
        let r = site.login("ana", PASSWORD, evil).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(r.header(header::LOCATION), "/", "next={evil}");
    }
    let r = site
        .login("ana", PASSWORD, "%2Fmessages%3Fq%3Dfrom%3Aa")
        .await;
    assert_eq!(r.header(header::LOCATION), "/messages?q=from:a");
}

#[tokio::test]
async fn a_removed_users_session_stops_working() {
    let site = Site::with_user();
    let id = site.logged_in().await;
    assert_eq!(
        site.get("/api/v1/probe", Some(&id)).await.status,
        StatusCode::OK
    );
    assert!(site.store.remove_user("ana").expect("remove"));
    assert_eq!(
        site.get("/api/v1/probe", Some(&id)).await.status,
        StatusCode::UNAUTHORIZED
    );
    let page = site.get("/probe", Some(&id)).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn page_user_sends_anonymous_visitors_to_the_login_page() {
    let site = Site::with_user();
    let r = site.get("/probe?x=1", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header(header::LOCATION), "/login?next=/probe%3Fx%3D1");
    let form = site.get("/login?next=/probe%3Fx%3D1", None).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(
        form.body.contains("name=\"next\" value=\"/probe?x=1\""),
        "{}",
        form.body
    );
    // An API token opens pages too (automation, screenshots).
    site.store
        .create_token("bot", Role::Reader, &web::principal::digest("secret-token"))
        .expect("token");
    let req = Request::get("/probe")
        .header(header::AUTHORIZATION, "Bearer secret-token")
        .body(Body::empty())
        .expect("request");
    let r = site.send(req).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "bot "));
}

#[tokio::test]
async fn a_login_posted_from_another_site_is_refused() {
    let site = Site::with_user();
    let form = format!("user=ana&password={}", PASSWORD.replace(' ', "+"));
    let host = ("host", "127.0.0.1:8025");
    let r = site
        .post_form("/login", &form, &[host, ("origin", "http://evil.example")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = site
        .post_form(
            "/login",
            &form,
            &[host, ("referer", "http://evil.example/x")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = site
        .post_form("/login", &form, &[host, ("origin", "null")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Fetch Metadata wins over Origin: a cross-site post with a forged-looking same Origin is
    // refused, and Chromium's `Origin: null` under no-referrer passes when it says same-origin.
    let r = site
        .post_form(
            "/login",
            &form,
            &[
                host,
                ("origin", "http://127.0.0.1:8025"),
                ("sec-fetch-site", "cross-site"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = site
        .post_form(
            "/login",
            &form,
            &[host, ("origin", "null"), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = site
        .post_form(
            "/login",
            &form,
            &[host, ("origin", "http://127.0.0.1:8025")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
}

#[tokio::test]
async fn the_login_page_says_how_to_create_the_first_user() {
    let site = Site::new(ConsoleSettings::default());
    let r = site.get("/login", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("spamhattan users add NAME --role admin"));
    let site = Site::with_user();
    let r = site.get("/login", None).await;
    assert!(!r.body.contains("users add"));
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let site = Site::with_user();
    // Routes of `web::app` (the test probes are merged outside its layers).
    for uri in ["/login", "/logout", "/no-such-page"] {
        let r = site.get(uri, None).await;
        assert_eq!(r.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff", "{uri}");
        assert_eq!(r.header(header::REFERRER_POLICY), "no-referrer", "{uri}");
        assert_eq!(r.header(header::X_FRAME_OPTIONS), "DENY", "{uri}");
        assert_eq!(r.header(header::CACHE_CONTROL), "no-store", "{uri}");
        assert_eq!(
            r.header(header::HeaderName::from_static(
                "cross-origin-opener-policy"
            )),
            "same-origin"
        );
        let csp = r.header(header::CONTENT_SECURITY_POLICY);
        assert!(csp.contains("default-src 'self'"), "{uri}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{uri}: {csp}");
    }
}

#[tokio::test]
async fn a_handlers_own_policy_is_kept_and_static_files_may_be_cached() {
    let own = get(|| async {
        (
            [
                (header::CONTENT_SECURITY_POLICY, "sandbox"),
                (header::X_FRAME_OPTIONS, "SAMEORIGIN"),
            ],
            "x",
        )
    });
    let router: Router = Router::new()
        .route("/static/x.css", get(|| async { "css" }))
        .route("/messages/1/body", own)
        .layer(axum::middleware::from_fn(web::headers::security));
    let send = |uri: &str| {
        let req = Request::get(uri).body(Body::empty()).expect("request");
        router.clone().oneshot(req)
    };
    let body = send("/messages/1/body").await.expect("infallible");
    let h = body.headers();
    assert_eq!(
        h.get(header::CONTENT_SECURITY_POLICY).map(|v| v.as_bytes()),
        Some(&b"sandbox"[..])
    );
    assert_eq!(
        h.get(header::X_FRAME_OPTIONS).map(|v| v.as_bytes()),
        Some(&b"SAMEORIGIN"[..])
    );
    assert_eq!(
        h.get(header::CACHE_CONTROL).map(|v| v.as_bytes()),
        Some(&b"no-store"[..])
    );
    assert_eq!(
        h.get(header::X_CONTENT_TYPE_OPTIONS).map(|v| v.as_bytes()),
        Some(&b"nosniff"[..])
    );
    let css = send("/static/x.css").await.expect("infallible");
    assert!(
        css.headers().get(header::CACHE_CONTROL).is_none(),
        "static files may be cached"
    );
    assert_eq!(
        css.headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .and_then(|v| v.to_str().ok()),
        Some(web::headers::DEFAULT_CSP)
    );
}

#[tokio::test]
async fn an_oversized_login_form_is_refused_unread() {
    let site = Site::with_user();
    let form = format!(
        "user=ana&password={}",
        "x".repeat(web::login::MAX_FORM_BYTES)
    );
    let r = site.post_form("/login", &form, &[]).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
}
