//! A private clamd for one test: its own temp directory, configuration and signature database
//! (signature downloads are impossible offline, and the test must not depend on them), killed
//! when the guard is dropped.

use enrich::{Clamd, ClamdConfig};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The EICAR anti-virus test file (68 bytes).
pub const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// A marker string matched by the project's own body signature.
pub const MARKER: &[u8] = b"SPAMHATTAN-TEST-SIGNATURE-7f3a";

/// clamd's `StreamMaxLength` in these tests: small, so the over-limit test sends little.
pub const STREAM_MAX: u64 = 1024 * 1024;

/// Longest wait for clamd to answer PING after start (it loads two signatures; ~0.1 s here,
/// much more on a loaded CI machine).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// `.ndb` body signatures (`Name:TargetType:Offset:HexSignature`, target 0 = any file).
fn database() -> String {
    format!(
        "Spamhattan.Test.EICAR:0:*:{}\nSpamhattan.Test.Marker-7f3a:0:*:{}\n",
        hex(EICAR),
        hex(MARKER)
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn clamd_binary() -> PathBuf {
    ["/usr/sbin/clamd", "/usr/local/sbin/clamd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("clamd"))
}

#[derive(Debug)]
pub struct ClamdGuard {
    child: Child,
    pub dir: tempfile::TempDir,
    pub config: ClamdConfig,
    pub started_in: Duration,
}

impl Drop for ClamdGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ClamdGuard {
    /// Starts clamd on a Unix socket in a temp dir and waits until it answers PING.
    pub async fn start() -> ClamdGuard {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("clamd.sock");
        let listen = format!("LocalSocket {}\n", socket.display());
        Self::start_with(dir, &listen, format!("unix:{}", socket.display())).await
    }

    /// Starts clamd on a TCP port of 127.0.0.1.
    pub async fn start_tcp() -> ClamdGuard {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let listen = format!("TCPSocket {port}\nTCPAddr 127.0.0.1\n");
        Self::start_with(dir, &listen, format!("tcp:127.0.0.1:{port}")).await
    }

    async fn start_with(dir: tempfile::TempDir, listen: &str, address: String) -> ClamdGuard {
        let path = dir.path();
        let db = path.join("db");
        std::fs::create_dir(&db).expect("db dir");
        std::fs::write(db.join("spamhattan-test.ndb"), database()).expect("write database");
        let conf = path.join("clamd.conf");
        std::fs::write(&conf, conf_text(path, &db, listen)).expect("write clamd.conf");
        let log = std::fs::File::create(path.join("clamd.out")).expect("log file");
        let started = Instant::now();
        let child = Command::new(clamd_binary())
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("clamd must be installed (apt-get install -y clamav-daemon)");
        let config = ClamdConfig {
            address,
            timeout: Duration::from_secs(10),
            max_stream: STREAM_MAX * 4,
        };
        let mut guard = ClamdGuard {
            child,
            dir,
            config,
            started_in: Duration::ZERO,
        };
        guard.wait_ready(started).await;
        guard
    }

    /// Readiness: poll PING until PONG. Sleeping between attempts is for process start-up only.
    async fn wait_ready(&mut self, started: Instant) {
        let client = Clamd::new(&self.config).expect("client");
        while started.elapsed() < START_TIMEOUT {
            if client.ping().await.is_ok() {
                self.started_in = started.elapsed();
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("clamd exited with {status}: {}", self.output());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "clamd did not answer PING within {START_TIMEOUT:?}: {}",
            self.output()
        );
    }

    fn output(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("clamd.out")).unwrap_or_default()
    }

    pub fn client(&self) -> Clamd {
        Clamd::new(&self.config).expect("client")
    }
}

fn conf_text(dir: &Path, db: &Path, listen: &str) -> String {
    format!(
        "Foreground yes\n\
         {listen}\
         DatabaseDirectory {}\n\
         TemporaryDirectory {}\n\
         StreamMaxLength {STREAM_MAX}\n\
         LogVerbose no\n\
         SelfCheck 3600\n",
        db.display(),
        dir.display()
    )
}
