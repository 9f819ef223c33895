//! End to end over a socket: `tests/oracles/check_taxii.py` (taxii2-client) walks the server.
//! Skipped, with a note, unless `SPAMHATTAN_ORACLE_PYTHON` names a Python with taxii2-client
//! (`tests/run.sh` sets it when the tools are installed; CI installs them).

mod common;

use common::Fixture;
use std::path::Path;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taxii2_client_walks_the_server() {
    walk(Fixture::new(3, 4)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn taxii2_client_walks_the_real_stix_objects() {
    walk(Fixture::with_render(3, 4, Arc::new(web::StixRender))).await;
}

async fn walk(f: Fixture) {
    let Ok(python) = std::env::var("SPAMHATTAN_ORACLE_PYTHON") else {
        eprintln!("skipped: set SPAMHATTAN_ORACLE_PYTHON (see tests/requirements.txt)");
        return;
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(web::serve(listener, f.router.clone(), async {
        let _ = stopped.await;
    }));
    let oracle = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/oracles/check_taxii.py");
    let base = format!("http://{addr}");
    let run = |expected: &'static str| {
        let (oracle, base, python) = (oracle.clone(), base.clone(), python.clone());
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(&python)
                .arg(&oracle)
                .args([
                    base.as_str(),
                    "bank",
                    "bank-password",
                    expected,
                    "trap.example",
                ])
                .output()
        })
    };
    let out = run("bank,public").await.expect("join").expect("run oracle");
    // The oracle can fail: a wrong expectation of the collection list is caught.
    let wrong = run("bank,cert,public")
        .await
        .expect("join")
        .expect("run oracle");
    let _ = stop.send(());
    server.await.expect("join").expect("serve");
    assert!(
        out.status.success(),
        "oracle failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        !wrong.status.success(),
        "oracle accepted a wrong collection list"
    );
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("collections"));
}
