//! Fuzz the console's login form: the input is the body of `POST /login`, sent through the
//! real router (`web::app`), so axum's form decoding, the throttle keys, the login page and
//! its escaping are what the handler really does with it. A store with no users sits behind
//! it; after `MAX_FAILURES` failed logins the shared throttle answers `429` without hashing,
//! so runs stay fast. `safe_next` and `login_redirect`, which the handler and every page apply
//! to the `next` field, are also driven directly on each `next` value of the body.
//!
//! Checks beyond "no panic": no 5xx; never a redirect (there is no user to log in as); the
//! page's markup does not depend on the form: it has as many `<` and `"` as the page answered
//! to a plain form with the same status (values are escaped, never markup); `safe_next` gives
//! `/` or the local path itself within `MAX_NEXT_BYTES`; `login_redirect` points at `/login`
//! with only unreserved characters and `%` escapes in its query.
#![no_main]

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, LazyLock};
use tower::ServiceExt;

struct Site {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    /// `(status, count of '<', count of '"')` of the pages answered to a plain form: `401`
    /// for the first `MAX_FAILURES` attempts, `429` after them.
    plain: Vec<(StatusCode, usize, usize)>,
}

impl Site {
    fn post(&self, body: Vec<u8>) -> (StatusCode, Option<String>, String) {
        let request = Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .expect("request");
        self.runtime.block_on(async {
            let response = self
                .router
                .clone()
                .oneshot(request)
                .await
                .expect("infallible");
            let status = response.status();
            let location = response
                .headers()
                .get(header::LOCATION)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .expect("page");
            (
                status,
                location,
                String::from_utf8_lossy(&body).into_owned(),
            )
        })
    }
}

fn markup(page: &str) -> (usize, usize) {
    (page.matches('<').count(), page.matches('"').count())
}

static SITE: LazyLock<Site> = LazyLock::new(|| {
    let dir = std::env::temp_dir().join(format!("spamhattan-fuzz-login-{}", std::process::id()));
    let store = store::Store::open(store::StoreConfig::new(&dir)).expect("store");
    let console = web::Console::new(Arc::new(store), web::ConsoleSettings::default());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut site = Site {
        runtime,
        router: web::app(Arc::new(console)),
        plain: Vec::new(),
    };
    for _ in 0..=web::login::MAX_FAILURES {
        let (status, _, page) = site.post(b"user=ana&password=wrong&next=%2Fmessages".to_vec());
        let (lt, quote) = markup(&page);
        if !site.plain.iter().any(|(s, _, _)| *s == status) {
            site.plain.push((status, lt, quote));
        }
    }
    site
});

fuzz_target!(|data: &[u8]| {
    let site = &*SITE;
    let (status, location, page) = site.post(data.to_vec());
    assert!(!status.is_server_error(), "{status}: {page}");
    assert_ne!(status, StatusCode::SEE_OTHER, "{location:?}");
    if let Some((_, lt, quote)) = site.plain.iter().find(|(s, _, _)| *s == status) {
        assert_eq!(
            markup(&page),
            (*lt, *quote),
            "the form changed the page's markup"
        );
    }
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(data).unwrap_or_default();
    for (key, value) in &fields {
        if key == "next" {
            check_next(value);
        }
    }
});

fn check_next(next: &str) {
    let safe = web::login::safe_next(next);
    if safe != "/" {
        assert_eq!(safe, next);
        assert!(safe.starts_with('/') && !safe.starts_with("//"), "{safe:?}");
        assert!(
            !safe.bytes().any(|b| b == b'\\' || b.is_ascii_control()),
            "{safe:?}"
        );
        assert!(safe.len() <= web::login::MAX_NEXT_BYTES);
    }
    let redirect = web::login::login_redirect(Some(next));
    assert_eq!(redirect.status(), StatusCode::SEE_OTHER);
    let location = redirect
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match location.strip_prefix("/login?next=") {
        Some(query) => assert!(
            query
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~/%".contains(&b)),
            "{location:?}"
        ),
        None => assert_eq!(location, "/login"),
    }
}
