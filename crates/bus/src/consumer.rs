//! The collector side: one durable pull consumer shared by every collector, deliveries that
//! are acked after storing, nak'ed on trouble, or dead-lettered when refused.

use crate::client::{ensure_streams, jetstream};
use crate::config::BusConfig;
use crate::error::BusError;
use crate::subject::Subjects;
use crate::wire::{self, BusMessage, WireError};
use async_nats::HeaderMap;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self as js, AckKind};
use futures_util::StreamExt;
use std::fmt;
use std::time::Duration;

/// Most deliveries one [`Consumer::fetch`] asks for. Each may be up to the server's
/// `max_payload` (tens of MiB), so this bounds what one fetch can hold in memory.
pub const MAX_FETCH: usize = 256;
/// Longest reason kept in a dead letter's header.
const MAX_REASON_HEADER: usize = 256;
/// Room left for the dead letter's headers under `max_payload`; a payload that does not fit
/// with them is cut (the cut is recorded in a header) rather than never dead-lettered.
const DEAD_HEADER_ROOM: usize = 4096;

/// Headers of a dead letter.
pub const HEADER_REASON: &str = "Spamhattan-Reason";
pub const HEADER_SUBJECT: &str = "Spamhattan-Subject";
pub const HEADER_SENSOR: &str = "Spamhattan-Sensor";
pub const HEADER_SEQUENCE: &str = "Spamhattan-Stream-Seq";
pub const HEADER_CUT: &str = "Spamhattan-Cut-From";

/// A durable pull consumer on the main stream.
#[derive(Debug, Clone)]
pub struct Consumer {
    consumer: PullConsumer,
    js: js::Context,
    subjects: Subjects,
    durable: String,
}

impl Consumer {
    /// Creates both streams if needed and the durable consumer `durable` (or adopts them).
    ///
    /// Every collector must use the same `durable`: the consumer has no filter (the stream
    /// holds only capture and session subjects, and NATS 2.9 allows one filter subject per
    /// consumer), and a work-queue stream admits only one unfiltered consumer, so a second
    /// name is refused by the server rather than silently splitting the stream.
    pub async fn new(
        client: async_nats::Client,
        cfg: &BusConfig,
        durable: &str,
    ) -> Result<Self, BusError> {
        cfg.validate().map_err(BusError::Config)?;
        if !model::valid_sensor_id(durable) {
            return Err(BusError::Config(format!(
                "consumer name {durable:?} must be 1 to 64 characters of A-Z, a-z, 0-9, '_' or '-'"
            )));
        }
        let js = jetstream(client, cfg);
        ensure_streams(&js, cfg).await?;
        let config = pull::Config {
            durable_name: Some(durable.into()),
            description: Some("spamhattan collectors".into()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::from_secs(cfg.ack_wait_secs),
            max_ack_pending: cfg.max_ack_pending,
            deliver_policy: DeliverPolicy::All,
            // Store trouble can last; a delivery is retried until acked or dead-lettered.
            max_deliver: -1,
            ..Default::default()
        };
        let consumer = js
            .create_consumer_on_stream(config, &cfg.stream)
            .await
            .map_err(|e| BusError::Setup {
                what: format!("consumer {durable} on {}", cfg.stream),
                detail: e.to_string(),
            })?;
        Ok(Self {
            consumer,
            js,
            subjects: cfg.subjects(),
            durable: durable.into(),
        })
    }

    /// Up to `max` (at most [`MAX_FETCH`]) deliveries: returns as soon as some are available,
    /// or after `wait` with none. Each is decoded and checked against its subject; a refused
    /// one comes back with `payload: Err(..)` for the caller to [`Delivery::dead_letter`].
    pub async fn fetch(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError> {
        let fetch_error = |detail: String| BusError::Fetch {
            consumer: self.durable.clone(),
            detail,
        };
        let mut request = self.consumer.fetch().max_messages(max.clamp(1, MAX_FETCH));
        if !wait.is_zero() {
            request = request.expires(wait);
        }
        let mut batch = request
            .messages()
            .await
            .map_err(|e| fetch_error(e.to_string()))?;
        let mut out = Vec::new();
        while let Some(next) = batch.next().await {
            match next {
                Ok(message) => out.push(self.delivery(message)),
                // Deliveries already received stay valid; the rest are redelivered later.
                Err(e) if !out.is_empty() => {
                    tracing::warn!(error = %e, "bus fetch ended early");
                    break;
                }
                Err(e) => return Err(fetch_error(e.to_string())),
            }
        }
        Ok(out)
    }

    fn delivery(&self, message: js::Message) -> Delivery {
        let subject = message.subject.to_string();
        let sensor = self.subjects.sensor_of(&subject).map(str::to_owned);
        let (stream_sequence, delivered) = message
            .info()
            .map(|i| (i.stream_sequence, i.delivered))
            .unwrap_or((0, 0));
        let payload = wire::decode(&message.payload)
            .and_then(|msg| wire::check_subject(&self.subjects, &subject, &msg).map(|()| msg));
        Delivery {
            subject,
            sensor,
            payload,
            stream_sequence,
            delivered,
            message,
            js: self.js.clone(),
            subjects: self.subjects.clone(),
        }
    }
}

/// One message handed to this collector. Until it is acked, nak'ed or dead-lettered (or
/// `ack_wait` passes) no other collector gets it.
pub struct Delivery {
    pub subject: String,
    /// The subject's sensor token, when the subject is well formed.
    pub sensor: Option<String>,
    /// The decoded, checked payload, or why it was refused.
    pub payload: Result<BusMessage, WireError>,
    /// Position in the main stream, for logs and the dead letter.
    pub stream_sequence: u64,
    /// How many times the server has delivered it (1 on the first delivery).
    pub delivered: i64,
    message: js::Message,
    js: js::Context,
    subjects: Subjects,
}

impl fmt::Debug for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delivery")
            .field("subject", &self.subject)
            .field("payload", &self.payload)
            .field("stream_sequence", &self.stream_sequence)
            .field("delivered", &self.delivered)
            .finish_non_exhaustive()
    }
}

impl Delivery {
    /// Acknowledges after the message is stored, and waits for the server to confirm, so a
    /// returned `Ok` means it will not be delivered again. An error means it may be: the
    /// collector's store must tolerate the redelivery (the sighting id is the key).
    pub async fn ack(&self) -> Result<(), BusError> {
        self.confirm(AckKind::Ack, "ack").await
    }

    /// Acknowledges without waiting for the server's confirmation: one packet, no round trip.
    /// For a consumer whose store recognises a redelivery anyway (the collector's, keyed on
    /// the sighting id), a lost ack costs one redelivery, never a duplicate — and a batch of
    /// confirmed acks is 256 round trips.
    pub async fn ack_unconfirmed(&self) -> Result<(), BusError> {
        self.message
            .ack()
            .await
            .map_err(|e| self.ack_error("ack", e))
    }

    /// Gives the message back for redelivery after `delay` (store trouble).
    pub async fn nak(&self, delay: Duration) -> Result<(), BusError> {
        self.message
            .ack_with(AckKind::Nak(Some(delay)))
            .await
            .map_err(|e| self.ack_error("nak", e))
    }

    /// Asks for another `ack_wait` before redelivery (a slow store).
    pub async fn in_progress(&self) -> Result<(), BusError> {
        self.message
            .ack_with(AckKind::Progress)
            .await
            .map_err(|e| self.ack_error("progress", e))
    }

    /// Files the original payload under `<prefix>.dead.<token of reason>` with headers naming
    /// the reason, the original subject, the sensor and the stream sequence, waits for that to
    /// be stored, then terminates the original (no redelivery). `reason` is free text whose
    /// first word is the token; a [`WireError`]'s `to_string()` fits.
    pub async fn dead_letter(&self, reason: &str) -> Result<(), BusError> {
        let dead_subject = self.subjects.dead(reason);
        let mut headers = HeaderMap::new();
        headers.insert(HEADER_REASON, header_value(reason).as_str());
        headers.insert(HEADER_SUBJECT, header_value(&self.subject).as_str());
        headers.insert(HEADER_SENSOR, self.sensor.as_deref().unwrap_or("-"));
        headers.insert(HEADER_SEQUENCE, self.stream_sequence.to_string().as_str());
        let mut body = self.message.payload.clone();
        let max = self.js.client().server_info().max_payload;
        if max > DEAD_HEADER_ROOM && body.len() > max - DEAD_HEADER_ROOM {
            headers.insert(HEADER_CUT, body.len().to_string().as_str());
            body.truncate(max - DEAD_HEADER_ROOM);
        }
        // Same id if this delivery is dead-lettered twice (crash between publish and term).
        let id = format!("dead-{}", self.stream_sequence);
        let publish = PublishMessage::build()
            .payload(body)
            .headers(headers)
            .message_id(id);
        let failed = |detail: String| BusError::Publish {
            subject: dead_subject.clone(),
            detail,
        };
        self.js
            .send_publish(dead_subject.clone(), publish)
            .await
            .map_err(|e| failed(e.to_string()))?
            .await
            .map_err(|e| failed(e.to_string()))?;
        tracing::warn!(subject = %self.subject, sequence = self.stream_sequence, %reason, "bus message dead-lettered");
        self.confirm(AckKind::Term, "term").await
    }

    /// Sends `kind` and waits for the server's confirmation.
    async fn confirm(&self, kind: AckKind, action: &'static str) -> Result<(), BusError> {
        self.message
            .double_ack_with(kind)
            .await
            .map_err(|e| self.ack_error(action, e))
    }

    fn ack_error(&self, action: &'static str, e: async_nats::Error) -> BusError {
        BusError::Ack {
            action,
            sequence: self.stream_sequence,
            detail: e.to_string(),
        }
    }
}

/// One header line: no control characters, at most [`MAX_REASON_HEADER`] characters.
fn header_value(s: &str) -> String {
    s.chars()
        .take(MAX_REASON_HEADER)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
