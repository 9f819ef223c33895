//! PostgreSQL counterpart of `crate::sensors`: the sensors a collector heard from. The table is
//! in the base schema and kept by the writer (`writer.rs`) with the sightings it stores.

use crate::SensorRow;
use crate::error::Result;
use crate::query::from_nanos;
use postgres::GenericClient;

/// Every sensor, by id.
pub(crate) fn list(c: &mut impl GenericClient) -> Result<Vec<SensorRow>> {
    let rows = c.query(
        "SELECT id, sector, location, sightings, first_seen, last_seen FROM sensors ORDER BY id",
        &[],
    )?;
    rows.iter()
        .map(|r| {
            Ok(SensorRow {
                id: r.try_get(0)?,
                sector: r.try_get(1)?,
                location: r.try_get(2)?,
                sightings: u64::try_from(r.try_get::<_, i64>(3)?).unwrap_or(0),
                first_seen: from_nanos(r.try_get(4)?)?,
                last_seen: from_nanos(r.try_get(5)?)?,
            })
        })
        .collect()
}
