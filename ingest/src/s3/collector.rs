//! The S3 collector's SQS mode: notifications in, objects read whole,
//! records and the "read" marks committed to Kafka together, then the
//! messages deleted.
//!
//! A crash after the commit and before the deletion leaves messages that
//! come back after the queue's visibility timeout: their objects carry a
//! mark (`obj:<key>` with its ETag, in `<prefix>.cursors`) and are passed
//! over. Marks older than `dedupe_hours` are deleted (tombstones).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use object_store::path::Path;
use serde_json::json;

use auditfed_platform::backoff::{Backoff, sleep_unless};
use auditfed_platform::clock::now_ms;
use auditfed_platform::store::amazon_s3;
use auditfed_platform::{Class, Classify};

use crate::IngestError;
use crate::collect::Collecting;
use crate::objects::{ObjectStats, Objects};
use crate::raw::RawRecord;

use super::sqs::{Queue, announced, credentials_of};

const EXPIRE_EVERY: Duration = Duration::from_secs(600);
/// Between failed receives (the fifth in a row stops the collector).
const RECEIVE_BACKOFF: Backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(16));

/// Receives notifications from `queue` until `stop` (or idle for `idle`).
pub fn notified(
    objects: &Objects,
    queue: &str,
    out: &mut Collecting,
    stop: &AtomicBool,
    idle: Option<Duration>,
) -> Result<ObjectStats, IngestError> {
    let (s3, region) = amazon_s3(&objects.url.store, &objects.config.options)?;
    let queue = Queue::new(queue, &region, credentials_of(&s3)).map_err(IngestError::Config)?;
    let bucket = objects.url.bucket().to_owned();
    let prefix = objects.url.prefix.clone();
    let mut stats = ObjectStats::default();
    let mut last_message = Instant::now();
    let mut expired = Instant::now() - EXPIRE_EVERY;
    let mut failures = 0u32;
    while !stop.load(Ordering::Relaxed) {
        if expired.elapsed() >= EXPIRE_EVERY {
            expire_marks(out, objects.config.dedupe_hours);
            out.commit()?;
            expired = Instant::now();
        }
        let wait = if idle.is_some() { 1 } else { 5 };
        let messages = match objects.runtime.block_on(queue.receive(wait)) {
            Ok(m) => {
                failures = 0;
                m
            }
            Err(e) => {
                failures += 1;
                out.counters().error();
                // A queue that does not exist or refuses us will not heal by itself.
                if failures >= 5 || e.class() == Class::Fatal {
                    return Err(e);
                }
                tracing::warn!(error = %e, failures, "SQS receive failed; retrying");
                sleep_unless(RECEIVE_BACKOFF.delay(failures - 1, None), stop);
                continue;
            }
        };
        stats.passes += 1;
        if messages.is_empty() {
            if idle.is_some_and(|idle| last_message.elapsed() >= idle) {
                break;
            }
            continue;
        }
        last_message = Instant::now();
        let mut handled = Vec::with_capacity(messages.len());
        for message in &messages {
            fn record<'a>(objects: &Objects, bytes: &'a [u8]) -> RawRecord<'a> {
                RawRecord {
                    source: objects.source,
                    object: "",
                    offset: 0,
                    bytes,
                    received_ms: now_ms(),
                }
            }
            let list = match announced(&message.body) {
                Ok(list) => list,
                Err(reason) => {
                    let object = format!("sqs:{}", message.message_id);
                    out.dead_letter(
                        &RawRecord {
                            object: &object,
                            ..record(objects, message.body.as_bytes())
                        },
                        &format!("SQS message: {reason}"),
                    )?;
                    stats.rejected += 1;
                    handled.push(message.receipt_handle.clone());
                    continue;
                }
            };
            let mut read_all = true;
            for object in list {
                if object.bucket != bucket {
                    let name = format!("s3://{}/{}", object.bucket, object.key);
                    out.dead_letter(
                        &RawRecord {
                            object: &name,
                            ..record(objects, message.body.as_bytes())
                        },
                        &format!(
                            "SQS message announces an object of bucket {:?}; this collector reads {bucket:?}",
                            object.bucket
                        ),
                    )?;
                    stats.rejected += 1;
                    continue;
                }
                if !prefix.is_empty() && !object.key.starts_with(&format!("{prefix}/")) {
                    continue;
                }
                let mark = format!("obj:{}", object.key);
                // Read before: a redelivered message, or a second notification
                // (CloudTrail's own carries no ETag; its objects are never rewritten).
                let read_before = out.cursor(&mark).is_some_and(|m| match &object.etag {
                    Some(etag) => m["etag"].as_str() == Some(etag.as_str()),
                    None => true,
                });
                if read_before {
                    continue;
                }
                let etag = object.etag.clone().unwrap_or_default();
                let location =
                    Path::parse(&object.key).unwrap_or_else(|_| Path::from(object.key.as_str()));
                match objects.read_whole(out, &location, &mut stats) {
                    Ok(()) => out.advance(&mark, json!({ "etag": etag, "at": now_ms() })),
                    // Left in the queue: it comes back after its visibility timeout.
                    Err(e) if e.is_store() && e.class() != Class::Fatal => {
                        out.counters().error();
                        tracing::warn!(error = %e, "object not read; its message stays in the queue");
                        read_all = false;
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            if read_all {
                handled.push(message.receipt_handle.clone());
            }
        }
        out.commit()?;
        if let Err(e) = objects.runtime.block_on(queue.delete(&handled)) {
            // The marks make their redelivery harmless.
            out.counters().error();
            tracing::warn!(error = %e, "SQS messages not deleted (their marks make redelivery harmless)");
        }
    }
    out.commit()?;
    Ok(stats)
}

/// Deletes the marks older than `hours`.
fn expire_marks(out: &mut Collecting, hours: u64) {
    let before = now_ms() - (hours as i64) * 3_600_000;
    let old: Vec<String> = out
        .cursors()
        .iter()
        .filter(|(k, v)| k.starts_with("obj:") && v["at"].as_i64().is_some_and(|at| at < before))
        .map(|(k, _)| k.clone())
        .collect();
    for key in old {
        out.forget(&key);
    }
}
