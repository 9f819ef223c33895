//! The `[campaigns]` and `[alerts]` sections: clustering on/off, the early-warning rules file
//! and the alert receivers (webhooks, chat, syslog; never mail).

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignsFile {
    /// Default true: analysed messages are grouped into campaigns by `serve` and `worker`.
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsFile {
    /// A rules file replacing the shipped `rules/alerts.toml` (see `docs/ALERTS.md`).
    pub rules: Option<PathBuf>,
    /// Webhook receivers: Standard Webhooks JSON signed with HMAC-SHA256, Slack, Mattermost.
    pub webhook: Option<Vec<feeds::alert::WebhookConfig>>,
    /// Syslog receivers: RFC 5424 (or CEF inside it) over UDP or TCP.
    pub syslog: Option<Vec<feeds::alert::SyslogConfig>>,
}

/// The resolved `[campaigns]` and `[alerts]` sections.
#[derive(Debug, Clone)]
pub struct AlertSettings {
    pub clustering: bool,
    pub rules: Arc<analysis::warning::Rules>,
    pub webhooks: Vec<feeds::alert::WebhookConfig>,
    pub syslogs: Vec<feeds::alert::SyslogConfig>,
}

impl AlertSettings {
    /// The receivers' sinks with their per-minute limits, checked (bad URL, CA file...).
    pub fn sinks(&self) -> Result<Vec<(feeds::alert::Sink, u32)>> {
        let mut out = Vec::new();
        for w in &self.webhooks {
            let sink = feeds::alert::Sink::from_webhook(w.clone())
                .with_context(|| format!("[[alerts.webhook]] {:?}", w.name))?;
            out.push((sink, w.max_per_minute));
        }
        for s in &self.syslogs {
            let sink = feeds::alert::Sink::from_syslog(s.clone())
                .with_context(|| format!("[[alerts.syslog]] {:?}", s.name))?;
            out.push((sink, s.max_per_minute));
        }
        Ok(out)
    }
}

pub(super) fn build(c: &CampaignsFile, a: &AlertsFile) -> Result<AlertSettings> {
    let rules = match &a.rules {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("[alerts] rules file {} cannot be read", path.display())
            })?;
            analysis::warning::Rules::from_toml(&text)
                .with_context(|| format!("[alerts] rules file {}", path.display()))?
        }
        None => analysis::warning::Rules::defaults(),
    };
    let settings = AlertSettings {
        clustering: c.enabled.unwrap_or(true),
        rules: Arc::new(rules),
        webhooks: a.webhook.clone().unwrap_or_default(),
        syslogs: a.syslog.clone().unwrap_or_default(),
    };
    let mut names = std::collections::BTreeSet::new();
    for (sink, _) in settings.sinks()? {
        if !names.insert(sink.name().to_string()) {
            bail!(
                "two alert receivers are named {:?}: names must be unique",
                sink.name()
            );
        }
    }
    Ok(settings)
}
