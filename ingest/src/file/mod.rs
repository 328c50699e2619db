//! Local files: `auditfed ingest file` reads whole files (plain or gzip,
//! detected by their magic bytes), streamed, one raw record per source
//! event; the `file` collector ([`collector`]) follows growing files line
//! by line across rotations, its cursor in Kafka.

pub mod collector;
pub mod config;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use auditfed_schemas::SourceType;
use flate2::read::MultiGzDecoder;

use crate::IngestError;
use crate::raw::{Emit, RawProducer, RawRecord};
use crate::split::{Framing, Piece, split};

/// What one file gave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileStats {
    /// Records produced to the raw topic.
    pub records: u64,
    /// Pieces sent to the dead-letter topic.
    pub rejected: u64,
    /// Bytes read (decompressed).
    pub bytes: u64,
}

/// The framing of a source's files.
pub fn framing_of(source: SourceType) -> Framing {
    match source {
        SourceType::Syslog => Framing::Lines,
        _ => Framing::Json,
    }
}

/// Streams `path` into the raw topic of `source`.
pub fn ingest_file(
    path: &Path,
    source: SourceType,
    producer: &RawProducer,
    max_record_bytes: usize,
    now_ms: i64,
) -> Result<FileStats, IngestError> {
    let io = IngestError::read(path.display());
    let object = std::fs::canonicalize(path)
        .map_err(&io)?
        .to_string_lossy()
        .into_owned();
    let file = BufReader::with_capacity(256 * 1024, File::open(path).map_err(&io)?);
    ingest_reader(
        &object,
        file,
        source,
        &mut &*producer,
        max_record_bytes,
        now_ms,
    )
}

/// Streams one object (plain or gzip) from `input` into the raw topic of
/// `source` through `producer`; `object` names it in the records' headers.
pub fn ingest_reader<R: BufRead + 'static>(
    object: &str,
    mut input: R,
    source: SourceType,
    producer: &mut dyn Emit,
    max_record_bytes: usize,
    now_ms: i64,
) -> Result<FileStats, IngestError> {
    let io = IngestError::read(object);
    let gzip = input.fill_buf().map_err(&io)?.starts_with(&[0x1f, 0x8b]);
    let mut reader: Box<dyn BufRead> = if gzip {
        Box::new(BufReader::with_capacity(
            256 * 1024,
            MultiGzDecoder::new(input),
        ))
    } else {
        Box::new(input)
    };
    let object = object.to_owned();
    let mut stats = FileStats::default();
    let mut failure: Option<IngestError> = None;
    let mut counted = CountingReader {
        inner: &mut reader,
        count: 0,
    };
    split(
        &mut counted,
        framing_of(source),
        max_record_bytes,
        &mut |piece| {
            let result = match &piece {
                Piece::Record { offset, bytes } => {
                    stats.records += 1;
                    producer.send(&RawRecord {
                        source,
                        object: &object,
                        offset: *offset,
                        bytes,
                        received_ms: now_ms,
                    })
                }
                Piece::Bad {
                    offset,
                    bytes,
                    reason,
                } => {
                    stats.rejected += 1;
                    producer.dead_letter(
                        &RawRecord {
                            source,
                            object: &object,
                            offset: *offset,
                            bytes,
                            received_ms: now_ms,
                        },
                        reason,
                    )
                }
            };
            result.map_err(|e| {
                let msg = e.to_string();
                failure = Some(e);
                std::io::Error::other(msg)
            })
        },
    )
    .map_err(|e| failure.take().unwrap_or_else(|| io(e)))?;
    stats.bytes = counted.count;
    Ok(stats)
}

struct CountingReader<'a> {
    inner: &'a mut dyn BufRead,
    count: u64,
}

impl Read for CountingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

impl BufRead for CountingReader<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.count += amt as u64;
        self.inner.consume(amt);
    }
}
