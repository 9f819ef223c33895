//! What leaves spamhattan, never by mail: alert sinks and intel feeds.
//!
//! [`alert`] turns an early-warning [`model::Alert`] into a signed Standard Webhooks request,
//! a Slack or Mattermost message, or a syslog record (RFC 5424 or CEF over UDP or TCP), and
//! makes one bounded delivery attempt at a time; the outbox in the store and the binary's
//! worker decide when to retry (with [`alert::backoff`]) and how fast (with
//! [`alert::RateLimiter`]). The main types are [`alert::Sink`] (one configured receiver),
//! [`alert::WebhookConfig`] and [`alert::SyslogConfig`] (its TOML sections) and
//! [`alert::DeliveryError`] (retry or give up).
//!
//! [`intel`] is the sharing policy (TLP, confidence, expiry, audiences, pseudonyms) and the
//! feed formats (STIX 2.1, MISP, CSV, text lists, RPZ, JSON lines).
//!
//! Layout: `alert/` (config, formats, transports, retry policy), `intel/` (policy, formats). Nothing here reads the store
//! or the event bus: the binary wires sinks to them.

pub mod alert;
pub mod http_client;
pub mod intel;
