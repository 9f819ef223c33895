//! What every session of one trap shares: persona, relay policy, limits, store, event sink, TLS.

use crate::budget::InflightBudget;
use crate::config::{Limits, TrapConfig};
use crate::events::EventSink;
use crate::persona::Persona;
use crate::policy::RelayPolicy;
use std::sync::Arc;
use store::Store;
use tokio_rustls::TlsAcceptor;

/// Built once by [`crate::Trap::bind`] and shared by reference with every session.
pub(crate) struct Shared {
    pub persona: Persona,
    pub policy: RelayPolicy,
    pub limits: Limits,
    pub store: Store,
    pub events: Arc<dyn EventSink>,
    pub tls: Option<TlsAcceptor>,
    pub auth_lure: bool,
    /// Stamped on every sighting ([`crate::TrapConfig::sensor`]).
    pub sensor: Option<model::SensorTag>,
    /// Message bytes being received, by all sessions (`Limits::max_inflight_bytes`).
    pub inflight: Arc<InflightBudget>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("persona", &self.persona)
            .finish_non_exhaustive()
    }
}

/// A configuration the trap cannot run with.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("unknown persona {0:?} (known: {known})", known = crate::persona::PERSONAS.join(", "))]
    UnknownPersona(String),
    #[error(transparent)]
    Domain(#[from] crate::policy::BadDomain),
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("no trap domain configured: the trap would accept nothing (give --trap-domain)")]
    NoDomains,
}

impl Shared {
    /// Validates the config and builds the shared state.
    pub fn new(
        config: &TrapConfig,
        store: Store,
        events: Arc<dyn EventSink>,
    ) -> Result<Self, SetupError> {
        let persona = Persona::by_name(&config.persona, &config.hostname)
            .ok_or_else(|| SetupError::UnknownPersona(config.persona.clone()))?;
        if config.domains.is_empty() {
            return Err(SetupError::NoDomains);
        }
        let policy = RelayPolicy::new(&config.domains, &config.addresses)?;
        let tls = crate::tls::server_config(&config.tls, &config.hostname)?;
        Ok(Self {
            persona,
            policy,
            limits: config.limits.clone(),
            store,
            events,
            tls: Some(TlsAcceptor::from(tls)),
            auth_lure: config.auth_lure,
            sensor: config.sensor.clone(),
            inflight: InflightBudget::new(config.limits.max_inflight_bytes),
        })
    }
}
