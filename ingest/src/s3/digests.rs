//! Upstream integrity while reading: each CloudTrail log file is checked
//! against the signed digest that lists it (`CloudTrail-Digest/` of the
//! same account and region, its day or the next), and its records carry
//! the verdict (`auditfed.upstream_integrity`: `verified`, `failed`,
//! `unavailable`), which the normalizer records on every event
//! (`unmapped._auditfed.upstream_integrity`).
//!
//! CloudTrail delivers an hour's digest about an hour later, so a log file
//! whose digest is not there yet is *held* (not read, the listing cursor
//! waits) for up to `digest_wait_secs`; after that it is read as
//! `unavailable`. See [`crate::upstream`] for the checks themselves.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore};

use auditfed_platform::error::store_class;
use auditfed_platform::{Class, PlatformError};

use crate::IngestError;
use crate::objects::decompressed;
use crate::upstream::{AwsPublicKeys, CloudTrailDigest, UpstreamIntegrity, log_file_integrity};

/// A digest file as read: parsed, its bytes and signature.
struct Digest {
    parsed: CloudTrailDigest,
    bytes: Bytes,
    signature: String,
}

/// The digests of one day folder, read when first needed.
struct Folder {
    read_at: Instant,
    digests: Vec<Digest>,
}

/// What to do with a log file.
pub enum Check {
    /// Its digest is not delivered yet: read it later.
    Hold,
    /// Read it, with this verdict (and why, when not verified).
    Read(UpstreamIntegrity, Option<String>),
}

/// The verifier of a bucket's CloudTrail log files.
pub struct Digests {
    keys: AwsPublicKeys,
    wait: Duration,
    folders: Mutex<HashMap<String, Folder>>,
}

/// A folder is listed again on a miss once it is this old.
const RELIST: Duration = Duration::from_secs(30);

impl Digests {
    /// From the JSON of `aws cloudtrail list-public-keys` at `path`.
    pub fn open(path: &std::path::Path, wait: Duration) -> Result<Digests, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let keys = AwsPublicKeys::from_list_public_keys_json(&text)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Digests {
            keys,
            wait,
            folders: Mutex::new(HashMap::new()),
        })
    }

    /// Whether `key` is a CloudTrail log file (digests are checked, not verified against).
    pub fn applies(key: &str) -> bool {
        key.contains("/CloudTrail/")
    }

    /// The check of log file `meta` of `bucket`, whose uncompressed bytes
    /// are `plain` (`None`: not read yet, only whether to hold it).
    pub fn check(
        &self,
        store: &dyn ObjectStore,
        runtime: &tokio::runtime::Runtime,
        bucket: &str,
        meta: &ObjectMeta,
        plain: Option<&[u8]>,
    ) -> Result<Check, IngestError> {
        let key = meta.location.to_string();
        let Some((dir, _)) = key.rsplit_once('/') else {
            return Ok(Check::Read(UpstreamIntegrity::Unavailable, None));
        };
        let digest_dir = dir.replacen("/CloudTrail/", "/CloudTrail-Digest/", 1);
        let mut folders = vec![digest_dir.clone()];
        if let Some(next) = next_day(&digest_dir) {
            folders.push(next);
        }
        let mut cache = self.folders.lock().unwrap_or_else(|p| p.into_inner());
        for refresh in [false, true] {
            for folder in &folders {
                let stale = cache
                    .get(folder)
                    .is_none_or(|f| refresh && f.read_at.elapsed() >= RELIST);
                if stale {
                    let digests = read_folder(store, runtime, folder)?;
                    cache.insert(
                        folder.clone(),
                        Folder {
                            read_at: Instant::now(),
                            digests,
                        },
                    );
                }
                let listing = cache.get(folder).expect("inserted");
                let found = listing.digests.iter().find(|d| {
                    d.parsed
                        .log_files
                        .iter()
                        .any(|f| f.s3_object == key && f.s3_bucket == bucket)
                });
                if let Some(d) = found {
                    let Some(plain) = plain else {
                        return Ok(Check::Read(UpstreamIntegrity::Unavailable, None));
                    };
                    let (verdict, why) = log_file_integrity(
                        Some((&d.parsed, &d.bytes, &d.signature)),
                        &self.keys,
                        bucket,
                        &key,
                        plain,
                    );
                    return Ok(Check::Read(verdict, why.map(|e| e.to_string())));
                }
            }
        }
        let age = chrono::Utc::now() - meta.last_modified;
        if age.to_std().unwrap_or_default() < self.wait {
            return Ok(Check::Hold);
        }
        Ok(Check::Read(
            UpstreamIntegrity::Unavailable,
            Some(format!(
                "no digest lists it {}s after it was written",
                self.wait.as_secs()
            )),
        ))
    }
}

/// `…/YYYY/MM/DD` of the next day.
fn next_day(dir: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.rsplitn(4, '/').collect();
    parts.reverse(); // [prefix, YYYY, MM, DD]
    let [prefix, y, m, d] = parts.as_slice() else {
        return None;
    };
    let day = chrono::NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)?;
    let next = day.succ_opt()?;
    Some(format!("{prefix}/{}", next.format("%Y/%m/%d")))
}

fn read_folder(
    store: &dyn ObjectStore,
    runtime: &tokio::runtime::Runtime,
    folder: &str,
) -> Result<Vec<Digest>, IngestError> {
    let prefix = Path::parse(folder).map_err(|e| IngestError::Corrupt {
        object: folder.to_owned(),
        reason: e.to_string(),
    })?;
    let err = |what: String| move |e: object_store::Error| PlatformError::store(what)(e);
    let metas: Vec<ObjectMeta> = runtime
        .block_on(store.list(Some(&prefix)).try_collect())
        .map_err(err(format!("cannot list {folder}/")))?;
    let mut digests = Vec::with_capacity(metas.len());
    for meta in metas {
        let got = runtime.block_on(async {
            let result = store.get_opts(&meta.location, Default::default()).await?;
            let signature = result
                .attributes
                .get(&object_store::Attribute::Metadata("signature".into()))
                .map(|v| v.to_string())
                .unwrap_or_default();
            Ok::<_, object_store::Error>((result.bytes().await?, signature))
        });
        let (bytes, signature) = match got {
            Ok(got) => got,
            // A digest that cannot be read (archived, refused) verifies
            // nothing: its log files are read as `unavailable`, not held.
            Err(e) if store_class(&e) == Class::Permanent => {
                tracing::warn!(digest = %meta.location, error = %e, "digest unreadable; ignored for verification");
                continue;
            }
            Err(e) => return Err(err(format!("cannot read {}", meta.location))(e).into()),
        };
        let Ok(plain) = decompressed(meta.location.as_ref(), &bytes) else {
            tracing::warn!(digest = %meta.location, "digest is not valid gzip; ignored for verification");
            continue;
        };
        match CloudTrailDigest::parse(&plain) {
            Ok(parsed) => digests.push(Digest {
                parsed,
                bytes: plain,
                signature,
            }),
            Err(e) => {
                tracing::warn!(digest = %meta.location, error = %e, "digest unreadable; ignored for verification")
            }
        }
    }
    Ok(digests)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_day_folder_crosses_months_and_years() {
        assert_eq!(
            next_day("AWSLogs/1/CloudTrail-Digest/us-east-1/2026/12/31").as_deref(),
            Some("AWSLogs/1/CloudTrail-Digest/us-east-1/2027/01/01")
        );
        assert_eq!(
            next_day("AWSLogs/1/CloudTrail-Digest/us-east-1/2026/02/28").as_deref(),
            Some("AWSLogs/1/CloudTrail-Digest/us-east-1/2026/03/01")
        );
        assert_eq!(next_day("flat"), None);
    }
}
