//! The sealed events of archives between two times, streamed batch by
//! batch (a replay of a month does not sit in memory): what `auditfed
//! replay --archive` re-forwards.

use arrow_array::RecordBatch;
use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use auditfed_schemas::seal::format_time;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;

use crate::QueryError;
use crate::sql::{Archive, Catalog};

/// One archived event: the sealed JSON and where it sits in its chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedEvent {
    /// The sealed OCSF event, byte for byte.
    pub event_json: String,
    /// Its chain.
    pub chain_id: String,
    /// Its sequence number in the chain.
    pub seq: u64,
    /// Its source type (`aws_cloudtrail`, ...).
    pub source: String,
}

/// Events of `archives` whose time is in `[from_ms, to_ms)`.
pub struct ArchivedEvents {
    catalog: Catalog,
    stream: SendableRecordBatchStream,
    batch: Option<(RecordBatch, usize)>,
}

impl ArchivedEvents {
    /// Opens the range; only the partitions (dates) it covers are listed.
    pub fn open(
        archives: &[Archive],
        from_ms: i64,
        to_ms: i64,
    ) -> Result<ArchivedEvents, QueryError> {
        let catalog = Catalog::new(archives)?;
        let (from, to) = (format_time(from_ms), format_time(to_ms));
        let last_day = format_time(to_ms - 1);
        let sql = format!(
            "SELECT CAST(event_json AS VARCHAR) AS event_json, CAST(chain_id AS VARCHAR) AS chain_id, seq, \
             CAST(source AS VARCHAR) AS source FROM events \
             WHERE date >= '{}' AND date <= '{}' AND time >= TIMESTAMP '{from}' AND time < TIMESTAMP '{to}'",
            &from[..10],
            &last_day[..10],
        );
        let stream = catalog.stream(&sql)?;
        Ok(ArchivedEvents {
            catalog,
            stream,
            batch: None,
        })
    }
}

impl Iterator for ArchivedEvents {
    type Item = Result<ArchivedEvent, QueryError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((batch, row)) = &mut self.batch
                && *row < batch.num_rows()
            {
                let i = *row;
                *row += 1;
                let text = |c: usize| batch.column(c).as_string::<i32>().value(i).to_owned();
                return Some(Ok(ArchivedEvent {
                    event_json: text(0),
                    chain_id: text(1),
                    seq: batch.column(2).as_primitive::<UInt64Type>().value(i),
                    source: text(3),
                }));
            }
            let stream = &mut self.stream;
            match self.catalog.block_on(stream.next())? {
                Ok(batch) => match utf8(batch) {
                    Ok(batch) => self.batch = Some((batch, 0)),
                    Err(e) => return Some(Err(QueryError::Sql(e.to_string()))),
                },
                Err(e) => return Some(Err(QueryError::Sql(e.to_string()))),
            }
        }
    }
}

/// The batch with its string columns as plain `Utf8` (DataFusion may hand
/// out views).
fn utf8(batch: RecordBatch) -> Result<RecordBatch, datafusion::arrow::error::ArrowError> {
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;
    let mut fields = Vec::new();
    let mut columns = Vec::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if matches!(field.data_type(), DataType::Utf8View | DataType::LargeUtf8) {
            columns.push(datafusion::arrow::compute::cast(column, &DataType::Utf8)?);
            fields.push(Field::new(
                field.name(),
                DataType::Utf8,
                field.is_nullable(),
            ));
        } else {
            columns.push(column.clone());
            fields.push(field.as_ref().clone());
        }
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}
