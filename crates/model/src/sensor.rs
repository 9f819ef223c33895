//! Who captured a sighting: the sensor's identity and the tags an operator gives it.
//!
//! A network of traps feeds one collector; every sighting carries the tag of the sensor that
//! accepted it, so campaigns and feeds can say "seen by banks in NL and an ISP in DE". The id
//! is also a NATS subject token (`spamhattan.capture.<id>`), which is why its alphabet is
//! narrow: no `.`, `*`, `>` or white space can reach a subject.

use serde::{Deserialize, Serialize};

/// Longest sensor id, sector or location.
pub const MAX_SENSOR_TAG: usize = 64;

/// The sensor that accepted a message, with its operator-given tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensorTag {
    /// Unique per sensor: `[A-Za-z0-9_-]`, 1 to [`MAX_SENSOR_TAG`] characters.
    pub id: String,
    /// Free text such as `bank`, `isp`, `government`; may be empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sector: String,
    /// Free text such as `NL` or `eu-west`; may be empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub location: String,
}

/// Why a sensor tag was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SensorTagError {
    Id,
    /// Names the tag: `sector` or `location`.
    Tag(&'static str),
}

impl std::fmt::Display for SensorTagError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SensorTagError::Id => write!(
                f,
                "sensor id must be 1 to {MAX_SENSOR_TAG} characters of A-Z, a-z, 0-9, '_' or '-'"
            ),
            SensorTagError::Tag(name) => write!(
                f,
                "sensor {name} must be at most {MAX_SENSOR_TAG} printable characters"
            ),
        }
    }
}

impl std::error::Error for SensorTagError {}

impl SensorTag {
    /// Checks the id's alphabet and every length; the bus and the collector call this on every
    /// sighting they receive, since a sensor's tag arrives over the network.
    pub fn validate(&self) -> Result<(), SensorTagError> {
        if !valid_sensor_id(&self.id) {
            return Err(SensorTagError::Id);
        }
        for (name, value) in [("sector", &self.sector), ("location", &self.location)] {
            if value.chars().count() > MAX_SENSOR_TAG || value.chars().any(char::is_control) {
                return Err(SensorTagError::Tag(name));
            }
        }
        Ok(())
    }
}

/// `true` for an id that is safe as a NATS subject token and a file name.
pub fn valid_sensor_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_SENSOR_TAG
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(id: &str, sector: &str) -> SensorTag {
        SensorTag {
            id: id.into(),
            sector: sector.into(),
            location: String::new(),
        }
    }

    #[test]
    fn ids_that_could_change_a_subject_are_refused() {
        for bad in ["", "a.b", "a*", ">", "a b", "é", &"x".repeat(65)] {
            assert_eq!(tag(bad, "").validate(), Err(SensorTagError::Id), "{bad:?}");
        }
        assert_eq!(tag("bank-nl_01", "bank").validate(), Ok(()));
        assert_eq!(tag(&"x".repeat(64), "").validate(), Ok(()));
    }

    #[test]
    fn tags_are_bounded_and_printable() {
        assert_eq!(
            tag("a", "bank\n").validate(),
            Err(SensorTagError::Tag("sector"))
        );
        assert_eq!(
            tag("a", &"é".repeat(65)).validate(),
            Err(SensorTagError::Tag("sector"))
        );
        assert_eq!(tag("a", &"é".repeat(64)).validate(), Ok(()));
    }
}
