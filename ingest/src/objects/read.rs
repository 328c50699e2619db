//! Reading one object: its bytes from where the cursor left it,
//! decompressed whole, split into records (with the digest's verdict when
//! CloudTrail digests are checked), or set aside in the dead-letter topic
//! when it fails the same way each time.

use std::io::Read;

use auditfed_platform::clock::now_ms;
use auditfed_platform::kafka::headers;
use auditfed_platform::{Class, Classify};
use bytes::Bytes;
use object_store::path::Path;
use object_store::{Attribute, GetOptions, GetRange};

use super::{
    CLOUDTRAIL_DIGEST, ObjectStats, Objects, Pending, SIGNATURE_ALGORITHM_HEADER, SIGNATURE_HEADER,
    is_cloudtrail_digest,
};
use crate::IngestError;
use crate::collect::Collecting;
use crate::file::ingest_reader;
use crate::raw::{Emit, RawRecord};
use crate::s3::digests::Check;

impl Objects {
    /// Reads `item` from its `from` byte (the byte it was read to and its
    /// record count), or, when it fails the same way each time (corrupt,
    /// refused, archived out of reach), sets it aside: read to its end, so
    /// the stream moves on.
    pub(super) fn read_or_set_aside(
        &self,
        out: &mut Collecting,
        item: &Pending,
        stats: &mut ObjectStats,
    ) -> Result<(u64, u64), IngestError> {
        let _span =
            tracing::debug_span!("object", key = %item.meta.location, from = item.from).entered();
        let object = format!("{}/{}", self.url.store, item.meta.location);
        let got = self.get(&item.meta.location, item.from, item.meta.size);
        // None: deleted since listed, or set aside.
        let Some(Some((bytes, signature))) =
            self.or_set_aside(out, &object, item.from, &[], got, stats)?
        else {
            return Ok((item.meta.size, 0));
        };
        let read = self.read_object(out, item, &object, &bytes, signature.as_deref(), stats);
        Ok(self
            .or_set_aside(out, &object, item.from, &bytes, read, stats)?
            .unwrap_or((item.meta.size, 0)))
    }

    /// Reads a whole object (discovered by notification) as records, or
    /// sets it aside as [`Objects::read_or_set_aside`] does.
    pub(crate) fn read_whole(
        &self,
        out: &mut Collecting,
        location: &Path,
        stats: &mut ObjectStats,
    ) -> Result<(), IngestError> {
        let object = format!("{}/{location}", self.url.store);
        let got = self.get(location, 0, 0);
        let Some(Some((bytes, signature))) = self.or_set_aside(out, &object, 0, &[], got, stats)?
        else {
            return Ok(());
        };
        stats.objects += 1;
        stats.bytes += bytes.len() as u64;
        let read = if is_cloudtrail_digest(location.as_ref()) {
            self.send_digest(out, &object, &bytes, signature.as_deref())
                .map(|()| stats.records += 1)
        } else {
            decompressed(&object, &bytes)
                .and_then(|input| self.records(out, &object, input, 0, &[], stats))
                .map(|_| ())
        };
        self.or_set_aside(out, &object, 0, &bytes, read, stats)?;
        Ok(())
    }

    /// `result`, or `None` once `object` is set aside because `result`
    /// failed the same way it will every time.
    fn or_set_aside<T>(
        &self,
        out: &mut Collecting,
        object: &str,
        offset: u64,
        bytes: &[u8],
        result: Result<T, IngestError>,
        stats: &mut ObjectStats,
    ) -> Result<Option<T>, IngestError> {
        match result {
            Err(e) if e.class() == Class::Permanent => {
                self.set_aside(out, object, offset, bytes, &e.to_string(), stats)?;
                Ok(None)
            }
            other => other.map(Some),
        }
    }

    /// A dead letter for an object that cannot be read as records: its
    /// first bytes (up to the record limit; the object stays in the store)
    /// and the reason.
    fn set_aside(
        &self,
        out: &mut Collecting,
        object: &str,
        offset: u64,
        bytes: &[u8],
        reason: &str,
        stats: &mut ObjectStats,
    ) -> Result<(), IngestError> {
        tracing::warn!(object, reason, "object set aside in the dead-letter topic");
        stats.rejected += 1;
        out.dead_letter(
            &RawRecord {
                source: self.source,
                object,
                offset,
                bytes: &bytes[..bytes.len().min(self.max_record)],
                received_ms: now_ms(),
            },
            reason,
        )
    }

    /// Reads `bytes`, what `item` holds from its `from` byte: the byte it
    /// was read to and its record count.
    fn read_object(
        &self,
        out: &mut Collecting,
        item: &Pending,
        object: &str,
        bytes: &Bytes,
        signature: Option<&str>,
        stats: &mut ObjectStats,
    ) -> Result<(u64, u64), IngestError> {
        let key = item.meta.location.as_ref();
        if is_cloudtrail_digest(key) {
            self.send_digest(out, object, bytes, signature)?;
            stats.objects += 1;
            stats.bytes += bytes.len() as u64;
            stats.records += 1;
            return Ok((item.from + bytes.len() as u64, 1));
        }
        let gzip = item.from == 0 && bytes.starts_with(&GZIP_MAGIC);
        if let Some(digests) = self.verified_by(key) {
            let plain = if gzip {
                gunzip(object, bytes)?
            } else {
                bytes.clone()
            };
            let bucket = self.url.bucket();
            let verdict = match digests.check(
                self.store.as_ref(),
                &self.runtime,
                bucket,
                &item.meta,
                Some(&plain),
            )? {
                Check::Hold => return Ok((item.from, 0)),
                Check::Read(verdict, why) => {
                    if let Some(why) = why {
                        tracing::warn!(object, verdict = ?verdict, why = %why, "upstream integrity not verified");
                    }
                    verdict
                }
            };
            let verdict = serde_json::to_value(verdict).expect("verdict");
            let verdict = verdict.as_str().unwrap_or("unavailable");
            stats.objects += 1;
            stats.bytes += bytes.len() as u64;
            let records = self.records(
                out,
                object,
                plain,
                0,
                &[(headers::UPSTREAM_INTEGRITY, verdict)],
                stats,
            )?;
            return Ok((item.meta.size, records));
        }
        // A growing plain object (an append blob) may end mid-line: that
        // part is read once the line is complete, or the object settled.
        let usable = if gzip || item.settled {
            bytes.len()
        } else {
            memchr_last_newline(bytes).map_or(0, |i| i + 1)
        };
        if usable == 0 {
            return Ok((item.from, 0));
        }
        // Decompressed whole before the first record is sent: a corrupt
        // object is set aside as one, never half read.
        let input = if gzip {
            gunzip(object, bytes)?
        } else {
            bytes.slice(..usable)
        };
        stats.objects += 1;
        stats.bytes += usable as u64;
        let records = self.records(out, object, input, item.from, &[], stats)?;
        Ok((item.from + usable as u64, records))
    }

    /// The records of `input` (offsets shifted `by` bytes, `extra` headers
    /// on each) into the batch: the number of records.
    fn records(
        &self,
        out: &mut Collecting,
        object: &str,
        input: Bytes,
        by: u64,
        extra: &[(&str, &str)],
        stats: &mut ObjectStats,
    ) -> Result<u64, IngestError> {
        let mut shifted = Shifted { out, by, extra };
        let read = ingest_reader(
            object,
            std::io::Cursor::new(input),
            self.source,
            &mut shifted,
            self.max_record,
            now_ms(),
        )?;
        stats.records += read.records;
        stats.rejected += read.rejected;
        Ok(read.records)
    }

    /// The object's bytes from `from` (and its `signature` metadata);
    /// `None` when it no longer exists.
    fn get(
        &self,
        location: &Path,
        from: u64,
        size: u64,
    ) -> Result<Option<(Bytes, Option<String>)>, IngestError> {
        let options = GetOptions {
            range: (from > 0).then_some(GetRange::Bounded(from..size)),
            ..GetOptions::default()
        };
        let got = self.runtime.block_on(async {
            let result = self.store.get_opts(location, options).await?;
            let signature = result
                .attributes
                .get(&Attribute::Metadata("signature".into()))
                .map(|v| v.to_string());
            let bytes = result.bytes().await?;
            Ok::<_, object_store::Error>((bytes, signature))
        });
        match got {
            Ok(got) => Ok(Some(got)),
            Err(object_store::Error::NotFound { .. }) => {
                tracing::info!(store = %self.url.store, key = %location, "object deleted before it was read");
                Ok(None)
            }
            Err(e) => Err(self.store_error(&format!("cannot read {location}"), e)),
        }
    }

    /// A CloudTrail digest: one record, decompressed (its signature covers
    /// the uncompressed bytes), with its signature.
    fn send_digest(
        &self,
        out: &mut Collecting,
        object: &str,
        bytes: &Bytes,
        signature: Option<&str>,
    ) -> Result<(), IngestError> {
        let body = decompressed(object, bytes)?;
        let record = RawRecord {
            source: self.source,
            object,
            offset: 0,
            bytes: &body,
            received_ms: now_ms(),
        };
        let mut extra = vec![(headers::KIND, CLOUDTRAIL_DIGEST)];
        if let Some(signature) = signature {
            extra.push((SIGNATURE_HEADER, signature));
            extra.push((SIGNATURE_ALGORITHM_HEADER, "SHA256withRSA"));
        }
        out.send_with(&record, &extra)
    }
}

/// The first bytes of every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// `bytes` decompressed when they are gzip (by their magic bytes), else as
/// they are.
pub(crate) fn decompressed(object: &str, bytes: &Bytes) -> Result<Bytes, IngestError> {
    if bytes.starts_with(&GZIP_MAGIC) {
        gunzip(object, bytes)
    } else {
        Ok(bytes.clone())
    }
}

/// Decompresses a whole gzip object; one that is not valid gzip is
/// [`IngestError::Corrupt`] (it fails the same way each time).
fn gunzip(object: &str, bytes: &[u8]) -> Result<Bytes, IngestError> {
    let mut plain = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut plain)
        .map_err(|e| IngestError::Corrupt {
            object: object.to_owned(),
            reason: format!("not gzip: {e}"),
        })?;
    Ok(Bytes::from(plain))
}

fn memchr_last_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().rposition(|&b| b == b'\n')
}

/// Offsets of a read that started `by` bytes into its object, and headers
/// every record of it carries.
struct Shifted<'a> {
    out: &'a mut Collecting,
    by: u64,
    extra: &'a [(&'a str, &'a str)],
}

impl Emit for Shifted<'_> {
    fn send(&mut self, record: &RawRecord<'_>) -> Result<(), IngestError> {
        self.out.send_with(
            &RawRecord {
                offset: record.offset + self.by,
                ..*record
            },
            self.extra,
        )
    }
    fn dead_letter(&mut self, record: &RawRecord<'_>, reason: &str) -> Result<(), IngestError> {
        self.out.dead_letter(
            &RawRecord {
                offset: record.offset + self.by,
                ..*record
            },
            reason,
        )
    }
}
