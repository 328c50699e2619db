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
    /// [`Objects::read_object`], or, when the object fails the same way
    /// each time (corrupt, refused, archived out of reach), a dead letter
    /// naming it with the reason: read to its end, so the stream moves on.
    pub(super) fn read_or_set_aside(
        &self,
        out: &mut Collecting,
        item: &Pending,
        stats: &mut ObjectStats,
    ) -> Result<(u64, u64), IngestError> {
        let _span =
            tracing::debug_span!("object", key = %item.meta.location, from = item.from).entered();
        match self.read_object(out, item, stats) {
            Err(e) if e.class() == Class::Permanent => {
                let object = format!("{}/{}", self.url.store, item.meta.location);
                self.set_aside(out, &object, item.from, &[], &e.to_string(), stats)?;
                Ok((item.meta.size, 0))
            }
            other => other,
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

    /// Reads `item` from its `from` byte: the byte it was read to and its
    /// record count.
    fn read_object(
        &self,
        out: &mut Collecting,
        item: &Pending,
        stats: &mut ObjectStats,
    ) -> Result<(u64, u64), IngestError> {
        let key = item.meta.location.to_string();
        let (bytes, signature) = match self.get(&item.meta.location, item.from, item.meta.size)? {
            Some(got) => got,
            None => return Ok((item.meta.size, 0)), // deleted since listed
        };
        let object = format!("{}/{key}", self.url.store);
        if is_cloudtrail_digest(&key) {
            match self.send_digest(out, &object, &bytes, signature.as_deref()) {
                Ok(()) => {}
                Err(e @ IngestError::Corrupt { .. }) => {
                    self.set_aside(out, &object, 0, &bytes, &e.to_string(), stats)?;
                    return Ok((item.meta.size, 0));
                }
                Err(e) => return Err(e),
            }
            stats.objects += 1;
            stats.bytes += bytes.len() as u64;
            stats.records += 1;
            return Ok((item.from + bytes.len() as u64, 1));
        }
        let gzip = item.from == 0 && bytes.starts_with(&[0x1f, 0x8b]);
        if let Some(digests) = self.verified_by(&key) {
            let mut plain = Vec::new();
            if gzip {
                gunzip(&object, &bytes, &mut plain)?;
            } else {
                plain = bytes.to_vec();
            }
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
                        tracing::warn!(object = %object, verdict = ?verdict, why = %why, "upstream integrity not verified");
                    }
                    verdict
                }
            };
            let verdict = serde_json::to_value(verdict).expect("verdict");
            let verdict = verdict.as_str().unwrap_or("unavailable");
            stats.objects += 1;
            stats.bytes += bytes.len() as u64;
            let mut shifted = Shifted {
                out,
                by: 0,
                extra: &[(headers::UPSTREAM_INTEGRITY, verdict)],
            };
            let read = ingest_reader(
                &object,
                std::io::Cursor::new(plain),
                self.source,
                &mut shifted,
                self.max_record,
                now_ms(),
            )?;
            stats.records += read.records;
            stats.rejected += read.rejected;
            return Ok((item.meta.size, read.records));
        }
        // A growing plain object (an append blob) may end mid-line: that
        // part is read once the line is complete, or the object settled.
        let usable = if gzip || item.settled {
            bytes.len()
        } else {
            memchr_last_newline(&bytes).map_or(0, |i| i + 1)
        };
        if usable == 0 {
            return Ok((item.from, 0));
        }
        // Decompressed whole before the first record is sent: a corrupt
        // object is set aside as one, never half read.
        let input = if gzip {
            let mut plain = Vec::new();
            gunzip(&object, &bytes, &mut plain)?;
            Bytes::from(plain)
        } else {
            bytes.slice(..usable)
        };
        stats.objects += 1;
        stats.bytes += usable as u64;
        let mut shifted = Shifted {
            out,
            by: item.from,
            extra: &[],
        };
        let read = ingest_reader(
            &object,
            std::io::Cursor::new(input),
            self.source,
            &mut shifted,
            self.max_record,
            now_ms(),
        )?;
        stats.records += read.records;
        stats.rejected += read.rejected;
        Ok((item.from + usable as u64, read.records))
    }

    /// The object's bytes from `from` (and its `signature` metadata);
    /// `None` when it no longer exists.
    pub(crate) fn get(
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
    pub(crate) fn send_digest(
        &self,
        out: &mut Collecting,
        object: &str,
        bytes: &[u8],
        signature: Option<&str>,
    ) -> Result<(), IngestError> {
        let mut plain = Vec::new();
        let body: &[u8] = if bytes.starts_with(&[0x1f, 0x8b]) {
            gunzip(object, bytes, &mut plain)?;
            &plain
        } else {
            bytes
        };
        let record = RawRecord {
            source: self.source,
            object,
            offset: 0,
            bytes: body,
            received_ms: now_ms(),
        };
        let mut extra = vec![(headers::KIND, CLOUDTRAIL_DIGEST)];
        if let Some(signature) = signature {
            extra.push((SIGNATURE_HEADER, signature));
            extra.push((SIGNATURE_ALGORITHM_HEADER, "SHA256withRSA"));
        }
        out.send_with(&record, &extra)
    }

    /// Reads a whole object (discovered by notification) as records.
    pub(crate) fn read_whole(
        &self,
        out: &mut Collecting,
        location: &Path,
        stats: &mut ObjectStats,
    ) -> Result<bool, IngestError> {
        let (bytes, signature) = match self.get(location, 0, 0) {
            Ok(Some(got)) => got,
            Ok(None) => return Ok(false),
            Err(e) if e.class() == Class::Permanent => {
                let object = format!("{}/{location}", self.url.store);
                self.set_aside(out, &object, 0, &[], &e.to_string(), stats)?;
                return Ok(true);
            }
            Err(e) => return Err(e),
        };
        stats.objects += 1;
        stats.bytes += bytes.len() as u64;
        let object = format!("{}/{location}", self.url.store);
        let set_aside = |e: IngestError| match e {
            e @ IngestError::Corrupt { .. } => Ok(e),
            other => Err(other),
        };
        if is_cloudtrail_digest(location.as_ref()) {
            match self.send_digest(out, &object, &bytes, signature.as_deref()) {
                Ok(()) => stats.records += 1,
                Err(e) => {
                    let e = set_aside(e)?;
                    self.set_aside(out, &object, 0, &bytes, &e.to_string(), stats)?;
                }
            }
            return Ok(true);
        }
        let input = if bytes.starts_with(&[0x1f, 0x8b]) {
            let mut plain = Vec::new();
            if let Err(e) = gunzip(&object, &bytes, &mut plain) {
                let e = set_aside(e)?;
                self.set_aside(out, &object, 0, &bytes, &e.to_string(), stats)?;
                return Ok(true);
            }
            Bytes::from(plain)
        } else {
            bytes
        };
        let read = ingest_reader(
            &object,
            std::io::Cursor::new(input),
            self.source,
            out,
            self.max_record,
            now_ms(),
        )?;
        stats.records += read.records;
        stats.rejected += read.rejected;
        Ok(true)
    }
}

/// Decompresses a whole gzip object into `plain`; one that is not valid
/// gzip is [`IngestError::Corrupt`] (it fails the same way each time).
fn gunzip(object: &str, bytes: &[u8], plain: &mut Vec<u8>) -> Result<(), IngestError> {
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(plain)
        .map(|_| ())
        .map_err(|e| IngestError::Corrupt {
            object: object.to_owned(),
            reason: format!("not gzip: {e}"),
        })
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
