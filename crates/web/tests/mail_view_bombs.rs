//! Resource bombs in the console's message view, through the real router and a real store: the
//! message page (headers and MIME tree), the HTML body (`/messages/{id}/body`) and a part
//! download (`/api/v1/messages/{id}/attachments/{part}`) all parse the stored mail with
//! mail-parser. Each bomb must give `200`, a bounded tree, and the note that the message was
//! cut. The deep chain of attached messages has its page and body read on a 256 KiB stack and
//! its download on `serve`'s 2 MiB; dropping the parsed chain recursively overflowed both (an
//! abort of the whole test binary is the failure). The peak of live heap bytes during the
//! requests is bounded from the view's limits.
//!
//! Memory is measured as in `crates/analysis/tests/bombs.rs`: this test binary's global
//! allocator counts live bytes and keeps their peak, and the tests run one at a time
//! (`MEASURE`) so that one's store and requests do not add to another's peak.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use model::{Envelope, MailFrom, MessageId, Sighting, SightingSource, Timings};
use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use store::{Role, Store, StoreConfig};
use tower::ServiceExt;
use web::mail_view::{MAX_ATTACHED_MESSAGES, MAX_DELIMITER_LINES, MAX_PARTS_SHOWN};
use web::{Console, ConsoleSettings};

/// The system allocator, counting live bytes, their peak and their low.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static LOW: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

fn shrank(by: usize) {
    let now = LIVE.fetch_sub(by, Ordering::Relaxed).saturating_sub(by);
    LOW.fetch_min(now, Ordering::Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract holds as it does for `System`; the counters are plain atomics.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is (see the impl).
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is (see the impl).
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is (see the impl).
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is (see the impl).
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            shrank(layout.size());
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// One measured test at a time: a test holds this for its whole run.
static MEASURE: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    MEASURE.lock().unwrap_or_else(|e| e.into_inner())
}

const TOKEN: &str = "mail-view-bombs-token";

const MIB: usize = 1 << 20;

/// The stack of `serve`'s blocking threads, where the view is read: tokio's default, 2 MiB.
const SERVE_STACK: usize = 2 << 20;

/// An eighth of that, for the deep chain: viewing it there proves nothing recurses per level.
/// (Before the fix, dropping the parsed chain overflowed even 2 MiB in a debug build.)
const SMALL_STACK: usize = 256 << 10;

/// Levels of nested attached messages, as in the analysis's bomb.
const LEVELS: usize = 10_000;

/// The HTML part every bomb but the header one carries before the bomb: the view must still
/// show what comes before the cut.
const BEFORE: &str = "<p>before the bomb</p>";

const HEAD: &str = "From: sender@bomb.example\r\nTo: victim@trap.example\r\nSubject: bomb\r\nMIME-Version: 1.0\r\n";

/// What the view says when it cut a message (`mail_view.rs`, `bounded`).
const CUT_NOTE: &str = "MIME parsing stopped at byte";

/// A generous bound on mail-parser's record of one part or attached message with a header or
/// two (measured in the analysis: about 1.3 KB per nested message, 160 bytes per bare part).
const PART_RECORD: usize = 2 << 10;

/// Lines that look like header fields mail-parser is given at most (`MAX_HEADER_LINES` in
/// `crates/analysis/src/mime.rs`), and a generous bound on its record of one (about 190 bytes).
const MAX_HEADER_LINES: usize = 100_000;
const FIELD_RECORD: usize = 512;

/// A multipart with the HTML part, then `bomb` as its second part's header and body.
fn with_html_first(bomb: &str) -> String {
    format!(
        "{HEAD}Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/html\r\n\r\n{BEFORE}\r\n--b\r\n{bomb}"
    )
}

/// (a) `levels` messages, each attached (`message/rfc822`, not encoded) to the one above.
fn nested_messages(levels: usize) -> Vec<u8> {
    let mut chain = String::from("Content-Type: message/rfc822\r\n\r\n");
    for i in 0..levels {
        let _ = write!(
            chain,
            "Subject: level {i}\r\nContent-Type: message/rfc822\r\n\r\n"
        );
    }
    chain.push_str("Subject: innermost\r\n\r\ninnermost\r\n--b--\r\n");
    with_html_first(&chain).into_bytes()
}

/// (b) A million empty parts after the HTML part.
fn million_parts() -> Vec<u8> {
    let mut raw = with_html_first("\r\n\r\n").into_bytes();
    for _ in 0..1_000_000 {
        raw.extend_from_slice(b"--b\r\n\r\n\r\n");
    }
    raw.extend_from_slice(b"--b--\r\n");
    raw
}

/// (c) 10 MB of four-byte header fields (`a:`) in the message's own header.
fn tiny_headers() -> Vec<u8> {
    let mut raw = String::from(HEAD);
    while raw.len() < 10 * MIB {
        raw.push_str("a:\r\n");
    }
    raw.push_str("\r\nbody\r\n");
    raw.into_bytes()
}

fn sighting(raw: &[u8]) -> Sighting {
    Sighting {
        id: uuid::Uuid::now_v7(),
        message_id: MessageId::of(raw),
        received_at: model::now(),
        source: SightingSource::Smtp,
        size: raw.len() as u64,
        session_id: uuid::Uuid::now_v7(),
        listener: "smtp".into(),
        peer: "192.0.2.7:40000".into(),
        local: "198.51.100.1:25".into(),
        helo: Some("bomb.example".into()),
        tls: None,
        envelope: Envelope {
            mail_from: MailFrom {
                raw: "MAIL FROM:<sender@bomb.example>".into(),
                address: "sender@bomb.example".into(),
                params: vec![],
            },
            recipients: vec![],
        },
        anomalies: vec![],
        timings: Timings::default(),
        queue_id: "4XyZ1".into(),
        sensor: None,
    }
}

struct Reply {
    status: StatusCode,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What the three requests for one stored bomb answered, and the peak of live heap bytes
/// while they ran, above the least that was live meanwhile (the store, the router: the
/// store's writer thread may free its copy of the mail only after the capture is confirmed,
/// so what was live before the requests is not a safe base; the low is, and errs high).
struct Viewed {
    page: Reply,
    body: Reply,
    part: Reply,
    peak: usize,
}

/// Stores `raw` (not analysed yet: the page is built from the view alone), then asks for its
/// page and its HTML body on `stack` bytes of stack (`on_stack`), and for its part `part` on
/// [`SERVE_STACK`], as a reader with a token. (The download's zip writer alone needs more than
/// 256 KiB of stack, whatever the mail; parsing the part is the same as for the page.)
fn view(raw: Vec<u8>, part: usize, stack: usize) -> Viewed {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Store::open(StoreConfig::new(dir.path().join("data"))).expect("open"));
    store
        .create_token("t", Role::Reader, &web::principal::digest(TOKEN))
        .expect("token");
    let sighting = sighting(&raw);
    let id = store
        .capture(raw, sighting)
        .wait()
        .expect("capture")
        .sighting_id;
    let router = web::app(Arc::new(Console::new(
        store.clone(),
        ConsoleSettings::default(),
    )));

    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    LOW.store(base, Ordering::Relaxed);
    let r = router.clone();
    let (page, body) = on_stack(stack, async move {
        (
            get(&r, &format!("/messages/{id}")).await,
            get(&r, &format!("/messages/{id}/body")).await,
        )
    });
    let part = on_stack(SERVE_STACK, async move {
        get(
            &router,
            &format!("/api/v1/messages/{id}/attachments/{part}"),
        )
        .await
    });
    let peak = PEAK
        .load(Ordering::Relaxed)
        .saturating_sub(LOW.load(Ordering::Relaxed));
    eprintln!("peak {:.1} MiB", peak as f64 / MIB as f64);
    Viewed {
        page,
        body,
        part,
        peak,
    }
}

/// Runs `requests` on a thread with `stack` bytes of stack, in a current-thread runtime whose
/// blocking threads (where the console reads the stored mail and the view) get as much.
fn on_stack<T: Send + 'static>(
    stack: usize,
    requests: impl Future<Output = T> + Send + 'static,
) -> T {
    std::thread::Builder::new()
        .name("view".into())
        .stack_size(stack)
        .spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .thread_stack_size(stack)
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(requests)
        })
        .expect("spawn")
        .join()
        .expect("the view thread panicked")
}

async fn get(router: &Router, uri: &str) -> Reply {
    let req = Request::get(uri)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .expect("request");
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body")
        .to_vec();
    Reply { status, body }
}

/// Rows of the page's MIME tree (`templates/console/message.html`).
fn tree_rows(page: &str) -> usize {
    page.matches("<td class=\"depth-").count()
}

/// The one file in a download zip (password `infected`).
fn unzip(zip: &[u8]) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("a zip");
    let mut entry = archive
        .by_index_decrypt(0, b"infected")
        .expect("opens with the password");
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes).expect("read");
    bytes
}

fn assert_ok(r: &Reply, what: &str) {
    assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.text());
}

fn assert_peak_under(v: &Viewed, bound: usize, why: &str) {
    assert!(
        v.peak < bound,
        "peak {} bytes, bound {bound} ({why})",
        v.peak
    );
}

#[test]
fn ten_thousand_nested_attached_messages_are_viewed_cut_on_a_small_stack() {
    let _g = lock();
    let raw = nested_messages(LEVELS);
    let len = raw.len();
    // Parts 0 multipart, 1 HTML, 2 the first attached message.
    let v = view(raw, 2, SMALL_STACK);
    assert_ok(&v.page, "page");
    let page = v.page.text();
    assert!(page.contains(CUT_NOTE), "{page}");
    assert!(
        page.contains(&format!(
            "more than {MAX_ATTACHED_MESSAGES} attached messages"
        )),
        "{page}"
    );
    // The tree lists the attached message as one part; nothing below it.
    assert_eq!(tree_rows(&page), 3, "{page}");
    assert!(page.contains("message/rfc822"), "{page}");
    assert_ok(&v.body, "body");
    assert!(
        v.body.text().contains("before the bomb"),
        "{}",
        v.body.text()
    );
    // The attached message downloads as far as the cut: the outer part's `Content-Type` names
    // the first attached message, level 499's names the 501st, and the cut is before it.
    assert_ok(&v.part, "part");
    let attached = unzip(&v.part.body);
    assert!(attached.starts_with(b"Subject: level 0\r\n"));
    let levels = attached
        .windows(b"Subject: level ".len())
        .filter(|w| w == b"Subject: level ")
        .count();
    assert_eq!(levels, MAX_ATTACHED_MESSAGES);
    assert!(attached.ends_with(b"Subject: level 499\r\n"));
    assert!(attached.len() < len / 10, "{} bytes", attached.len());
    assert_peak_under(
        &v,
        3 * len + MAX_ATTACHED_MESSAGES * PART_RECORD + 16 * MIB,
        "the raw mail a few times, one record per attached message mail-parser is given",
    );
}

#[test]
fn a_million_empty_parts_are_viewed_cut_and_listed_to_the_limit() {
    let _g = lock();
    let raw = million_parts();
    let len = raw.len();
    let v = view(raw, 1, SERVE_STACK);
    assert_ok(&v.page, "page");
    let page = v.page.text();
    assert!(page.contains(CUT_NOTE), "{page}");
    assert!(
        page.contains(&format!(
            "more than {MAX_DELIMITER_LINES} lines start with --"
        )),
        "{page}"
    );
    // Said once, not once for each part past the limit.
    let listed = format!("only the first {MAX_PARTS_SHOWN} MIME parts are listed");
    assert_eq!(page.matches(&listed).count(), 1, "{page}");
    assert_eq!(tree_rows(&page), MAX_PARTS_SHOWN);
    assert_ok(&v.body, "body");
    assert!(
        v.body.text().contains("before the bomb"),
        "{}",
        v.body.text()
    );
    assert_ok(&v.part, "part");
    assert_eq!(String::from_utf8_lossy(&unzip(&v.part.body)).trim(), BEFORE);
    assert_peak_under(
        &v,
        3 * len + MAX_DELIMITER_LINES * PART_RECORD + 16 * MIB,
        "the raw mail a few times, one record per part mail-parser is given",
    );
}

#[test]
fn ten_megabytes_of_tiny_headers_are_viewed_cut() {
    let _g = lock();
    let raw = tiny_headers();
    let len = raw.len();
    // Part 0: the message's own (empty, cut off) text body.
    let v = view(raw, 0, SERVE_STACK);
    assert_ok(&v.page, "page");
    let page = v.page.text();
    assert!(page.contains(CUT_NOTE), "{page}");
    assert!(
        page.contains(&format!(
            "more than {MAX_HEADER_LINES} lines look like header fields"
        )),
        "{page}"
    );
    assert!(
        page.contains("only the first 300 header fields are shown"),
        "{page}"
    );
    assert!(page.contains("bomb"), "the subject is still read");
    // The body was past the cut: there is no HTML body, said clearly, and nothing failed.
    assert_eq!(v.body.status, StatusCode::NOT_FOUND, "{}", v.body.text());
    assert!(v.body.text().contains("this message has no HTML body"));
    assert_ok(&v.part, "part");
    assert!(unzip(&v.part.body).is_empty());
    assert_peak_under(
        &v,
        3 * len + MAX_HEADER_LINES * FIELD_RECORD + 16 * MIB,
        "the raw mail a few times, one record per header field mail-parser is given",
    );
}
