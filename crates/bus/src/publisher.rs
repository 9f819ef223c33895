//! The sensor side: publish captures and session records, pipelined, each with its de-dup id.

use crate::client::jetstream;
use crate::config::BusConfig;
use crate::error::BusError;
use crate::subject::Subjects;
use crate::wire::{self, BusMessage};
use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use async_nats::jetstream::{self as js, message::PublishMessage};

/// The server's answer to one publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishAck {
    /// Sequence of the message in the stream (of the first copy, for a duplicate).
    pub sequence: u64,
    /// The server already had this `Nats-Msg-Id` within the duplicate window and stored
    /// nothing: the message is on the bus all the same.
    pub duplicate: bool,
}

/// Publishes one sensor's messages on its own subjects. Never creates streams: a sensor may
/// lack the permission, and a missing stream means the collector side is not set up.
#[derive(Debug, Clone)]
pub struct Publisher {
    js: js::Context,
    subjects: Subjects,
    sensor: String,
    stream: String,
    timeout_ms: u64,
}

impl Publisher {
    /// A publisher for `sensor_id` (a valid sensor id: it becomes the subjects' last token).
    pub fn new(
        client: async_nats::Client,
        cfg: &BusConfig,
        sensor_id: &str,
    ) -> Result<Self, BusError> {
        cfg.validate().map_err(BusError::Config)?;
        if !model::valid_sensor_id(sensor_id) {
            return Err(BusError::Config(format!(
                "sensor id {sensor_id:?}: {}",
                model::SensorTagError::Id
            )));
        }
        Ok(Self {
            js: jetstream(client, cfg),
            subjects: cfg.subjects(),
            sensor: sensor_id.into(),
            stream: cfg.stream.clone(),
            timeout_ms: cfg.request_timeout_ms,
        })
    }

    pub fn sensor(&self) -> &str {
        &self.sensor
    }

    /// Publishes every message, then awaits every ack: one round trip for the batch, not one
    /// per message. Results are in the order of `msgs`. A message is on the bus exactly when
    /// its result is `Ok` (possibly as a duplicate); on `Err` the caller keeps it and retries,
    /// and the same `Nats-Msg-Id` makes the retry harmless.
    pub async fn publish_batch(&self, msgs: &[BusMessage]) -> Vec<Result<PublishAck, BusError>> {
        let mut pending = Vec::with_capacity(msgs.len());
        for msg in msgs {
            pending.push(self.send(msg).await);
        }
        let mut out = Vec::with_capacity(msgs.len());
        for sent in pending {
            out.push(match sent {
                Ok((subject, ack)) => self.await_ack(subject, ack).await,
                Err(e) => Err(e),
            });
        }
        out
    }

    /// Checks and sends one message; the ack is awaited later.
    async fn send(&self, msg: &BusMessage) -> Result<(String, PublishAckFuture), BusError> {
        let subject = match msg {
            BusMessage::Capture { .. } => self.subjects.capture(&self.sensor),
            BusMessage::Session(_) => self.subjects.session(&self.sensor),
        };
        if let Some(tagged) = wire::tagged_sensor(msg)
            && tagged != self.sensor
        {
            return Err(BusError::SensorMismatch {
                publisher: self.sensor.clone(),
                tagged: tagged.into(),
            });
        }
        let payload = wire::encode_checked(msg).map_err(BusError::Invalid)?;
        let max = self.js.client().server_info().max_payload;
        // The id header and the payload both count against max_payload; 256 bytes covers it.
        if max > 0 && payload.len() + 256 > max {
            return Err(BusError::TooLarge {
                bytes: payload.len(),
                max,
            });
        }
        let publish = PublishMessage::build()
            .payload(payload.into())
            .message_id(wire::msg_id(msg));
        match self.js.send_publish(subject.clone(), publish).await {
            Ok(ack) => Ok((subject, ack)),
            Err(e) => Err(self.publish_error(subject, e)),
        }
    }

    async fn await_ack(
        &self,
        subject: String,
        ack: PublishAckFuture,
    ) -> Result<PublishAck, BusError> {
        let ack = ack
            .await
            .map_err(|e| self.publish_error(subject.clone(), e))?;
        if ack.stream != self.stream {
            return Err(BusError::WrongStream {
                subject,
                got: ack.stream,
                want: self.stream.clone(),
            });
        }
        Ok(PublishAck {
            sequence: ack.sequence,
            duplicate: ack.duplicate,
        })
    }

    fn publish_error(&self, subject: String, e: js::context::PublishError) -> BusError {
        match e.kind() {
            PublishErrorKind::StreamNotFound => BusError::NoStream { subject },
            PublishErrorKind::TimedOut => BusError::AckTimeout {
                subject,
                ms: self.timeout_ms,
            },
            _ => BusError::Publish {
                subject,
                detail: e.to_string(),
            },
        }
    }
}
