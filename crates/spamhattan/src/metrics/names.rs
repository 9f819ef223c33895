//! Every metric the process keeps: name, type, labels and meaning. `docs/METRICS.md` documents
//! the same list (a test checks it), together with the store gauges the web crate renders.

/// The Prometheus type of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One metric of the process.
#[derive(Debug, Clone, Copy)]
pub struct Def {
    pub name: &'static str,
    pub kind: Kind,
    /// Label names; the documentation test checks `docs/METRICS.md` names them.
    #[cfg_attr(not(test), allow(dead_code, reason = "read by the documentation test"))]
    pub labels: &'static [&'static str],
    pub help: &'static str,
}

pub const SMTP_SESSIONS: &str = "spamhattan_smtp_sessions_total";
pub const SMTP_SESSIONS_CLOSED: &str = "spamhattan_smtp_sessions_closed_total";
pub const SMTP_MESSAGES: &str = "spamhattan_smtp_messages_total";
pub const SMTP_MESSAGE_BYTES: &str = "spamhattan_smtp_message_bytes_total";
pub const SMTP_DUPLICATES: &str = "spamhattan_smtp_duplicate_messages_total";
pub const SMTP_RECIPIENTS: &str = "spamhattan_smtp_recipients_accepted_total";
pub const SMTP_REFUSALS: &str = "spamhattan_smtp_refusals_total";
pub const SMTP_ANOMALIES: &str = "spamhattan_smtp_anomalies_total";
pub const SMTP_TLS: &str = "spamhattan_smtp_tls_handshakes_total";
pub const SMTP_AUTH: &str = "spamhattan_smtp_auth_attempts_total";
pub const SMTP_INFLIGHT: &str = "spamhattan_smtp_inflight_bytes";
pub const BUS_PUBLISHED: &str = "spamhattan_bus_published_total";
pub const BUS_PUBLISH_FAILURES: &str = "spamhattan_bus_publish_failures_total";
pub const BUS_UNFORWARDED: &str = "spamhattan_bus_unforwarded_messages";
pub const BUS_UNFORWARDED_BYTES: &str = "spamhattan_bus_unforwarded_bytes";
pub const BUS_RECEIVED: &str = "spamhattan_bus_received_total";
pub const BUS_DEAD_LETTERS: &str = "spamhattan_bus_dead_letters_total";
pub const SENSOR_SIGHTINGS: &str = "spamhattan_sensor_sightings_total";
pub const SENSOR_LAST_SEEN: &str = "spamhattan_sensor_last_seen_seconds";
pub const ANALYZED: &str = "spamhattan_messages_analyzed_total";
pub const CLUSTERED: &str = "spamhattan_messages_clustered_total";
pub const ANALYSIS_LATENCY: &str = "spamhattan_analysis_latency_seconds";
pub const ANALYSIS_ENGINE: &str = "spamhattan_analysis_engine_duration_seconds";
pub const CAMPAIGNS_CREATED: &str = "spamhattan_campaigns_created_total";
pub const CAMPAIGNS_MERGED: &str = "spamhattan_campaigns_merged_total";
pub const ALERTS_RAISED: &str = "spamhattan_alerts_raised_total";
pub const ALERT_DELIVERIES: &str = "spamhattan_alert_deliveries_total";
pub const FEED_PUBLICATIONS: &str = "spamhattan_feed_publications_total";
pub const FEED_FILES: &str = "spamhattan_feed_files_published_total";
pub const FEED_LAST_SUCCESS: &str = "spamhattan_feed_last_success_timestamp_seconds";
pub const FEED_DURATION: &str = "spamhattan_feed_publication_duration_seconds";
pub const RETENTION_FREED: &str = "spamhattan_store_retention_freed_bytes_total";
pub const EVENTS_DROPPED: &str = "spamhattan_event_log_dropped_total";
pub const BAIT_VISITS: &str = "spamhattan_bait_visits_total";
pub const BUILD_INFO: &str = "spamhattan_build_info";
pub const START_TIME: &str = "process_start_time_seconds";

/// Buckets of [`ANALYSIS_LATENCY`] (capture to saved report): an idle pool answers within its
/// 200 ms poll plus the analysis; a backlog takes minutes to hours.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14_400.0,
];

/// Buckets of [`ANALYSIS_ENGINE`] (one message through the engine): most mails take
/// milliseconds, archives and Office files up to the 10 s budget.
pub const ENGINE_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Buckets of [`FEED_DURATION`]: a small store publishes in a second, a million indicators in
/// tens of seconds per format.
pub const FEED_BUCKETS: &[f64] = &[0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0];

const fn def(
    name: &'static str,
    kind: Kind,
    labels: &'static [&'static str],
    help: &'static str,
) -> Def {
    Def {
        name,
        kind,
        labels,
        help,
    }
}

/// Every metric, in documentation order.
pub const ALL: &[Def] = &[
    def(
        SMTP_SESSIONS,
        Kind::Counter,
        &[],
        "SMTP connections that got a slot (connection caps passed).",
    ),
    def(
        SMTP_SESSIONS_CLOSED,
        Kind::Counter,
        &["end"],
        "SMTP sessions ended, by why they ended.",
    ),
    def(
        SMTP_MESSAGES,
        Kind::Counter,
        &[],
        "Messages made durable and acknowledged with 250.",
    ),
    def(
        SMTP_MESSAGE_BYTES,
        Kind::Counter,
        &[],
        "Raw bytes of the messages acknowledged with 250.",
    ),
    def(
        SMTP_DUPLICATES,
        Kind::Counter,
        &[],
        "Acknowledged messages whose raw bytes were already stored (only a sighting was added).",
    ),
    def(
        SMTP_RECIPIENTS,
        Kind::Counter,
        &[],
        "RCPT TO commands accepted (trap addresses).",
    ),
    def(
        SMTP_REFUSALS,
        Kind::Counter,
        &["stage", "reason"],
        "What the trap refused: connections at a connection cap, recipients, messages the store could not keep.",
    ),
    def(
        SMTP_ANOMALIES,
        Kind::Counter,
        &["kind"],
        "Protocol anomalies seen in SMTP sessions, by kind.",
    ),
    def(
        SMTP_TLS,
        Kind::Counter,
        &["outcome"],
        "TLS handshakes (STARTTLS or implicit TLS), completed or failed.",
    ),
    def(
        SMTP_AUTH,
        Kind::Counter,
        &[],
        "AUTH attempts against the lure (all are refused).",
    ),
    def(
        SMTP_INFLIGHT,
        Kind::Gauge,
        &[],
        "Message bytes held in memory by sessions receiving DATA/BDAT (the in-flight budget in use).",
    ),
    def(
        ANALYZED,
        Kind::Counter,
        &["verdict"],
        "Reports saved by the analysis pool, by verdict class.",
    ),
    def(
        CLUSTERED,
        Kind::Counter,
        &[],
        "Reports the clustering step put into campaigns (counted once its transaction committed).",
    ),
    def(
        ANALYSIS_LATENCY,
        Kind::Histogram,
        &[],
        "From a message's capture to its saved report.",
    ),
    def(
        ANALYSIS_ENGINE,
        Kind::Histogram,
        &[],
        "Time the analysis engine spent on one message.",
    ),
    def(
        CAMPAIGNS_CREATED,
        Kind::Counter,
        &[],
        "Campaigns started by the clustering step.",
    ),
    def(
        CAMPAIGNS_MERGED,
        Kind::Counter,
        &[],
        "Campaigns folded into another (by clustering or an analyst).",
    ),
    def(
        ALERTS_RAISED,
        Kind::Counter,
        &["severity"],
        "Alerts raised by the early-warning rules.",
    ),
    def(
        ALERT_DELIVERIES,
        Kind::Counter,
        &["outcome"],
        "Alert delivery attempts: delivered, failed to be retried, failed for good.",
    ),
    def(
        FEED_PUBLICATIONS,
        Kind::Counter,
        &["outcome"],
        "Scheduled publications of the intel feeds, succeeded or failed.",
    ),
    def(
        FEED_FILES,
        Kind::Counter,
        &["format"],
        "Feed files (or MISP directories) replaced by a publication, by format.",
    ),
    def(
        FEED_LAST_SUCCESS,
        Kind::Gauge,
        &[],
        "Unix time of the last successful feed publication.",
    ),
    def(
        FEED_DURATION,
        Kind::Histogram,
        &[],
        "Time one publication of every audience and format took.",
    ),
    def(
        RETENTION_FREED,
        Kind::Counter,
        &[],
        "Bytes the retention budgets removed from the spool.",
    ),
    def(
        BAIT_VISITS,
        Kind::Counter,
        &[],
        "Bait page views that minted and stored seed addresses.",
    ),
    def(
        EVENTS_DROPPED,
        Kind::Counter,
        &[],
        "Events the event log dropped because its writer fell behind.",
    ),
    def(
        BUS_PUBLISHED,
        Kind::Counter,
        &["kind"],
        "Sensor: captures and session records the bus acknowledged (kind capture or session).",
    ),
    def(
        BUS_PUBLISH_FAILURES,
        Kind::Counter,
        &[],
        "Sensor: publish batches the bus did not fully take (retried from the spool).",
    ),
    def(
        BUS_UNFORWARDED,
        Kind::Gauge,
        &[],
        "Sensor: captures and session records in the spool the bus has not acknowledged yet.",
    ),
    def(
        BUS_UNFORWARDED_BYTES,
        Kind::Gauge,
        &[],
        "Sensor: raw bytes of those captures; MAIL gets 452 past sensor.max_spool_bytes.",
    ),
    def(
        BUS_RECEIVED,
        Kind::Counter,
        &["kind", "outcome"],
        "Collector: bus messages handled, by kind and outcome (stored, duplicate, retried).",
    ),
    def(
        BUS_DEAD_LETTERS,
        Kind::Counter,
        &[],
        "Collector: bus messages rejected to the dead-letter subject.",
    ),
    def(
        SENSOR_SIGHTINGS,
        Kind::Counter,
        &["sensor"],
        "Collector: sightings stored per sensor (at most 1000 sensor labels, then other).",
    ),
    def(
        SENSOR_LAST_SEEN,
        Kind::Gauge,
        &["sensor"],
        "Collector: Unix time of the last sighting stored from each sensor.",
    ),
    def(
        BUILD_INFO,
        Kind::Gauge,
        &["version"],
        "Always 1; the version of the running binary.",
    ),
    def(
        START_TIME,
        Kind::Gauge,
        &[],
        "Unix time the process started.",
    ),
];
