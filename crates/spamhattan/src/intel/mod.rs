//! Intel feeds in the binary: the sharing policy made from the config and the store
//! (`Feeds`), the export driver (`export.rs`: store → policy → format writer, campaign by
//! campaign) and the publisher (`publish.rs`: every audience's files, replaced atomically, on
//! a schedule inside `serve`).

mod export;
mod publish;
mod submit;

pub use export::{ExportStats, export};
pub use publish::run_scheduler;
pub use submit::{CLI_ATTEMPTS, Connector, Delivery, pass, run_connectors};

use crate::config::Config;
use anyhow::{Context, Result};
use feeds::intel::{Audience, FeedMeta, Producer, SharingPolicy};
use std::sync::Arc;

/// Trap domains read from the store for redaction, at most: beyond that the config's list
/// and the subdomain rule still apply.
const MAX_SEEN_TRAP_DOMAINS: usize = 10_000;

/// Everything an export needs besides the store.
#[derive(Debug, Clone)]
pub struct Feeds {
    pub policy: Arc<SharingPolicy>,
    pub producer: Producer,
    pub settings: crate::config::FeedSettings,
}

impl Feeds {
    /// The policy for this store: keyed with its secret, protecting every trap domain in the
    /// config and every one mail was accepted for, and the trap's host names.
    pub fn prepare(cfg: &Config, store: &store::Store) -> Result<Feeds> {
        let secret = store.feed_secret().context("cannot read the feed secret")?;
        let mut names: Vec<String> = cfg.trap.domains.iter().map(|d| d.pattern()).collect();
        names.extend(
            store
                .trap_domains_seen(MAX_SEEN_TRAP_DOMAINS)
                .context("cannot read the trap domains seen")?,
        );
        let mut hosts = vec![cfg.trap.hostname.clone()];
        if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
            hosts.push(h.trim().to_string());
        }
        let s = &cfg.feeds;
        let producer = Producer {
            name: s.producer.clone(),
            contact: s.contact.clone(),
            uuid: feeds::intel::ids::stable_v4(&secret, "identity"),
            secret,
        };
        Ok(Feeds {
            policy: Arc::new(s.policy(secret, &names, &hosts)),
            producer,
            settings: s.clone(),
        })
    }

    pub fn meta(
        &self,
        audience: Audience,
        since: Option<model::Timestamp>,
        serial: u32,
    ) -> FeedMeta {
        FeedMeta {
            producer: self.producer.clone(),
            audience,
            generated_at: model::now(),
            since,
            serial,
            rpz_origin: self.settings.rpz_origin.clone(),
        }
    }
}
