//! SPF, DKIM, DMARC and ARC evaluation of one message, within a per-message time budget.
//!
//! # Hostile DNS
//! Every evaluation makes DNS queries for names the sender chose: SPF records (mail-auth stops
//! after 10 DNS-querying mechanisms, RFC 7208 §4.6.4, and after 20 s), `exists:` and macro
//! callbacks, DKIM keys, DMARC records. Two consequences for operators:
//! - The queries **reveal the sensor's resolver** (its address, its timing) to whoever runs the
//!   sender's zone, and a macro like `%{i}` tells them the mail arrived. Switch evaluation off
//!   (`enabled = false`) for sensors that must stay silent, or point `nameservers` at a
//!   dedicated caching resolver that does not share an address with anything that matters.
//! - An attacker's nameserver can answer slowly or never. Each query is bounded by `timeout`
//!   and the whole evaluation by `total_budget`; what did not finish is `temperror`.

use crate::resolver::{self, Caches};
use crate::{EnrichError, results};
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{AuthenticatedMessage, MessageAuthenticator, SpfOutput, SpfResult};
use model::report::{AuthResult, AuthResults, DkimResult, DmarcResult};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// At most this many DKIM signatures of one message are verified and reported. Legitimate mail
/// carries one to three; each one costs a key lookup out of the message's budget, and a
/// message with hundreds would make the sensor query hundreds of attacker-chosen names.
pub const MAX_DKIM_SIGNATURES: usize = 10;

/// The receiving host's name as SPF's `%{r}` macro sees it. RFC 7208 §7.3 allows `unknown`;
/// the sensor's real name would be one more thing told to the sender's zone.
const HOST_DOMAIN: &str = "unknown";

/// The `[analysis.auth]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// `false`: [`Authenticator::from_config`] returns `None`, no query is ever made and
    /// reports carry `auth: null`.
    pub enabled: bool,
    /// Nameservers to ask (`"127.0.0.1:53"`); empty: the system's `/etc/resolv.conf`.
    pub nameservers: Vec<SocketAddr>,
    /// Per query.
    #[serde(rename = "timeout_ms", with = "millis")]
    pub timeout: Duration,
    /// Per message, for all four evaluations together.
    #[serde(rename = "total_budget_ms", with = "millis")]
    pub total_budget: Duration,
    /// Bound of each record cache (TXT, MX, A, AAAA, PTR), kept across messages.
    pub cache_entries: usize,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            enabled: true,
            nameservers: Vec::new(),
            timeout: Duration::from_secs(2),
            total_budget: Duration::from_secs(5),
            cache_entries: 10_000,
        }
    }
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// Evaluates sender authentication. Cheap to clone; clones share the resolver and the caches.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    resolver: MessageAuthenticator,
    caches: Caches,
    budget: Duration,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("budget", &self.inner.budget)
            .field("caches", &self.inner.caches)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Builds the resolver whatever `cfg.enabled` says; see [`Authenticator::from_config`].
    /// Call it inside the tokio runtime that will run [`Authenticator::evaluate`].
    pub fn new(cfg: &AuthConfig) -> Result<Authenticator, EnrichError> {
        Ok(Authenticator {
            inner: Arc::new(Inner {
                resolver: resolver::build(cfg)?,
                caches: Caches::new(cfg.cache_entries),
                budget: cfg.total_budget,
            }),
        })
    }

    /// What the worker calls: `None` when evaluation is switched off, so it never queries DNS
    /// and leaves `Input::auth` (and the report's `auth`) empty.
    pub fn from_config(cfg: &AuthConfig) -> Result<Option<Authenticator>, EnrichError> {
        if cfg.enabled {
            Authenticator::new(cfg).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Evaluates SPF (MAIL FROM identity, or HELO for the null sender), every DKIM signature (up
    /// to [`MAX_DKIM_SIGNATURES`]), ARC and DMARC. Never fails: DNS trouble is `temperror`,
    /// an exhausted budget turns whatever had not finished into `temperror`, a message without
    /// a header section gives no DKIM results and `permerror` for ARC and DMARC.
    ///
    /// The message is copied into a task of its own, so a panic in the authentication library
    /// stays there (reported as `permerror`) and an exhausted budget can cancel it.
    pub async fn evaluate(
        &self,
        raw: &[u8],
        peer_ip: IpAddr,
        helo: &str,
        mail_from: &str,
    ) -> AuthResults {
        let progress = Arc::new(Mutex::new(Progress::default()));
        let job = Job {
            raw: raw.to_vec(),
            peer_ip,
            helo: helo.trim().to_string(),
            mail_from: mail_from.trim().trim_matches(['<', '>']).to_string(),
        };
        let inner = Arc::clone(&self.inner);
        let shared = Arc::clone(&progress);
        let mut task = tokio::spawn(async move { run(&inner, &job, &shared).await });
        let budget = self.inner.budget;
        let unfinished = match tokio::time::timeout(budget, &mut task).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(("permerror", format!("evaluation aborted: {e}"))),
            Err(_) => {
                task.abort();
                let ms = budget.as_millis();
                tracing::debug!(budget_ms = ms, "authentication budget exhausted");
                Some((
                    "temperror",
                    format!("evaluation budget of {ms} ms exhausted"),
                ))
            }
        };
        lock(&progress).finish(unfinished)
    }
}

struct Job {
    raw: Vec<u8>,
    peer_ip: IpAddr,
    helo: String,
    mail_from: String,
}

/// What has been settled so far; read when the budget runs out.
#[derive(Default)]
struct Progress {
    spf: Option<AuthResult>,
    /// `(domain, selector)` of the signatures the parser saw, so that a timeout still names them.
    dkim_seen: Option<Vec<(String, String)>>,
    dkim: Option<Vec<DkimResult>>,
    arc: Option<AuthResult>,
    dmarc: Option<DmarcResult>,
    from_domain: String,
}

fn lock(progress: &Mutex<Progress>) -> std::sync::MutexGuard<'_, Progress> {
    // Progress holds plain values; a panic elsewhere cannot leave it half-written.
    progress
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Progress {
    fn finish(&mut self, unfinished: Option<(&str, String)>) -> AuthResults {
        let (word, why) = unfinished.unwrap_or(("temperror", "not evaluated".to_string()));
        let open = |domain: &str| AuthResult {
            result: word.to_string(),
            domain: domain.to_string(),
            detail: why.clone(),
        };
        let dkim = match (self.dkim.take(), self.dkim_seen.take()) {
            (Some(done), _) => done,
            (None, Some(seen)) => seen
                .into_iter()
                .map(|(domain, selector)| DkimResult {
                    result: word.to_string(),
                    domain,
                    selector,
                    detail: why.clone(),
                })
                .collect(),
            (None, None) => vec![DkimResult {
                result: word.to_string(),
                detail: why.clone(),
                ..DkimResult::default()
            }],
        };
        AuthResults {
            spf: self.spf.take().unwrap_or_else(|| open("")),
            dkim,
            dmarc: self.dmarc.take().unwrap_or_else(|| DmarcResult {
                result: word.to_string(),
                domain: self.from_domain.clone(),
                policy: String::new(),
            }),
            arc: self.arc.take().unwrap_or_else(|| open("")),
        }
    }
}

async fn run(inner: &Inner, job: &Job, progress: &Mutex<Progress>) {
    let message = AuthenticatedMessage::parse(&job.raw).map(|mut m| {
        let extra = m.dkim_headers.len().saturating_sub(MAX_DKIM_SIGNATURES);
        m.dkim_headers.truncate(MAX_DKIM_SIGNATURES);
        let mut p = lock(progress);
        p.from_domain = from_domain(&m);
        p.dkim_seen = Some(
            m.dkim_headers
                .iter()
                .map(|h| (results::detail(&h.header.d), results::detail(&h.header.s)))
                .collect(),
        );
        (m, extra)
    });
    let spf = async {
        let (output, identity) = spf(inner, job).await;
        lock(progress).spf = Some(results::spf(&output, identity));
        output
    };
    let dkim = async {
        let (message, extra) = message.as_ref()?;
        let outputs = inner
            .resolver
            .verify_dkim(inner.caches.parameters(message))
            .await;
        let mut words: Vec<DkimResult> = outputs.iter().map(results::dkim).collect();
        let total = words.len().saturating_add(*extra);
        if total > MAX_DKIM_SIGNATURES {
            words.truncate(MAX_DKIM_SIGNATURES);
            words.push(DkimResult {
                result: "neutral".into(),
                detail: format!(
                    "{} of {total} DKIM signatures not evaluated (limit {MAX_DKIM_SIGNATURES})",
                    total - MAX_DKIM_SIGNATURES
                ),
                ..DkimResult::default()
            });
        }
        lock(progress).dkim = Some(words);
        Some(outputs)
    };
    let arc = async {
        let Some((message, _)) = message.as_ref() else {
            return;
        };
        let output = inner
            .resolver
            .verify_arc(inner.caches.parameters(message))
            .await;
        lock(progress).arc = Some(results::arc(&output));
    };
    let (spf_output, dkim_outputs, ()) = tokio::join!(spf, dkim, arc);
    let (Some((message, _)), Some(dkim_outputs)) = (message.as_ref(), dkim_outputs) else {
        let mut p = lock(progress);
        let why = "no header section could be parsed".to_string();
        p.dkim = Some(Vec::new());
        p.arc = Some(AuthResult {
            result: "permerror".into(),
            domain: String::new(),
            detail: why,
        });
        p.dmarc = Some(DmarcResult {
            result: "permerror".into(),
            ..DmarcResult::default()
        });
        return;
    };
    let params = DmarcParameters::new(message, &dkim_outputs, spf_output.domain(), &spf_output);
    let output = inner
        .resolver
        .verify_dmarc(inner.caches.parameters(params))
        .await;
    lock(progress).dmarc = Some(results::dmarc(&output));
}

/// SPF of the MAIL FROM identity, or of the HELO identity for the null sender (RFC 7208 §2.4).
/// A HELO that is no domain name (address literal, bare word) is `none` without a query.
async fn spf(inner: &Inner, job: &Job) -> (SpfOutput, &'static str) {
    let sender_domain = job.mail_from.rsplit_once('@').map(|(_, d)| d);
    if sender_domain.is_some_and(|d| !d.is_empty()) {
        let params =
            SpfParameters::verify_mail_from(job.peer_ip, &job.helo, HOST_DOMAIN, &job.mail_from);
        let output = inner
            .resolver
            .verify_spf(inner.caches.parameters(params))
            .await;
        return (output, "mailfrom");
    }
    let helo_is_domain =
        job.helo.contains('.') && !job.helo.starts_with('[') && job.helo.parse::<IpAddr>().is_err();
    if !helo_is_domain {
        let output = SpfOutput::new(job.helo.clone()).with_result(SpfResult::None);
        return (output, "helo");
    }
    let params = SpfParameters::verify_ehlo(job.peer_ip, &job.helo, HOST_DOMAIN);
    let output = inner
        .resolver
        .verify_spf(inner.caches.parameters(params))
        .await;
    (output, "helo")
}

fn from_domain(message: &AuthenticatedMessage<'_>) -> String {
    message
        .from
        .iter()
        .find_map(|from| from.rsplit_once('@').map(|(_, d)| results::detail(d)))
        .unwrap_or_default()
}
