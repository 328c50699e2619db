//! Upstream integrity: AWS CloudTrail log file validation.
//!
//! CloudTrail signs an hourly *digest file* listing the SHA-256 of every log
//! file it delivered; each digest's signature (SHA256withRSA, hex, in the S3
//! object metadata `x-amz-meta-signature`) covers the signing string
//!
//! ```text
//! <digestEndTime>\n<digestS3Bucket>/<digestS3Object>\n<hex SHA-256 of the uncompressed digest>\n<previousDigestSignature>
//! ```
//!
//! and digests chain through `previousDigestSignature`. This module checks
//! a digest's signature against AWS's public keys (the JSON of `aws
//! cloudtrail list-public-keys`, selected by `digestPublicKeyFingerprint`),
//! the chain between consecutive digests, and a log file against its listed
//! hash; the collector records the outcome on every event of the file
//! ([`UpstreamIntegrity`], in `unmapped._auditfed.upstream_integrity`).
//!
//! Reference: AWS CloudTrail User Guide, "CloudTrail digest file structure"
//! and "Custom implementations of CloudTrail log file integrity validation".
//! Pure functions, no I/O.

use std::collections::HashMap;

use base64::Engine;
use rsa::RsaPublicKey;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

/// The outcome recorded per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamIntegrity {
    /// The log file's hash is listed in a digest whose signature verified.
    Verified,
    /// The log file's hash differs from the signed digest, or the digest failed.
    Failed,
    /// No digest, signature or public key was available.
    Unavailable,
}

/// Why a digest or log file did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// The digest is not valid JSON of the documented structure.
    #[error("digest file: {0}")]
    Malformed(String),
    /// No public key with the digest's fingerprint, or not valid at its time.
    #[error("no AWS public key with fingerprint {0} valid at the digest's end time")]
    UnknownKey(String),
    /// The signature does not verify.
    #[error("digest signature does not verify (SHA256withRSA over the documented signing string)")]
    BadSignature,
    /// The digest does not continue the previous one.
    #[error("digest chain broken: {0}")]
    Chain(String),
    /// The log file's hash differs from the one the digest lists.
    #[error("log file {object}: SHA-256 {found} differs from the digest's {expected}")]
    LogFileHash {
        /// The log file's S3 key.
        object: String,
        /// The hash the digest lists.
        expected: String,
        /// The hash of the uncompressed content.
        found: String,
    },
    /// The log file is not listed in the digest.
    #[error("log file {0} is not listed in the digest")]
    NotListed(String),
}

/// A CloudTrail digest file.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct CloudTrailDigest {
    pub aws_account_id: String,
    pub digest_start_time: String,
    pub digest_end_time: String,
    pub digest_s3_bucket: String,
    pub digest_s3_object: String,
    pub digest_public_key_fingerprint: String,
    pub digest_signature_algorithm: String,
    #[serde(default)]
    pub previous_digest_s3_bucket: Option<String>,
    #[serde(default)]
    pub previous_digest_s3_object: Option<String>,
    #[serde(default)]
    pub previous_digest_signature: Option<String>,
    #[serde(default)]
    pub log_files: Vec<LogFileEntry>,
}

/// One log file listed in a digest.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct LogFileEntry {
    pub s3_bucket: String,
    pub s3_object: String,
    pub hash_value: String,
    pub hash_algorithm: String,
}

/// AWS's CloudTrail public keys, by fingerprint.
#[derive(Debug, Clone, Default)]
pub struct AwsPublicKeys {
    keys: HashMap<String, Vec<DatedKey>>,
}

/// A public key and the time range it signs digests in.
#[derive(Debug, Clone)]
struct DatedKey {
    key: RsaPublicKey,
    valid_from: Option<String>,
    valid_to: Option<String>,
}

impl AwsPublicKeys {
    /// Reads the JSON printed by `aws cloudtrail list-public-keys`
    /// (`{"PublicKeyList":[{"Value": base64 DER, "Fingerprint", "ValidityStartTime", "ValidityEndTime"}]}`).
    pub fn from_list_public_keys_json(text: &str) -> Result<AwsPublicKeys, DigestError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct List {
            public_key_list: Vec<Key>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Key {
            value: String,
            fingerprint: String,
            validity_start_time: Option<String>,
            validity_end_time: Option<String>,
        }
        let list: List = serde_json::from_str(text)
            .map_err(|e| DigestError::Malformed(format!("public keys: {e}")))?;
        let mut keys = AwsPublicKeys::default();
        for k in list.public_key_list {
            let der = base64::engine::general_purpose::STANDARD
                .decode(k.value.trim())
                .map_err(|e| {
                    DigestError::Malformed(format!("public key {}: {e}", k.fingerprint))
                })?;
            let key = RsaPublicKey::from_pkcs1_der(&der).map_err(|e| {
                DigestError::Malformed(format!(
                    "public key {}: not a PKCS#1 RSA key: {e}",
                    k.fingerprint
                ))
            })?;
            keys.keys
                .entry(k.fingerprint.to_ascii_lowercase())
                .or_default()
                .push(DatedKey {
                    key,
                    valid_from: k.validity_start_time,
                    valid_to: k.validity_end_time,
                });
        }
        Ok(keys)
    }
}

impl CloudTrailDigest {
    /// Parses an (uncompressed) digest file.
    pub fn parse(bytes: &[u8]) -> Result<CloudTrailDigest, DigestError> {
        serde_json::from_slice(bytes).map_err(|e| DigestError::Malformed(e.to_string()))
    }

    /// The documented data signing string, for the digest's own bytes.
    pub fn signing_string(&self, digest_bytes: &[u8]) -> String {
        format!(
            "{}\n{}/{}\n{}\n{}",
            self.digest_end_time,
            self.digest_s3_bucket,
            self.digest_s3_object,
            hex::encode(Sha256::digest(digest_bytes)),
            self.previous_digest_signature.as_deref().unwrap_or("null")
        )
    }

    /// Verifies the digest's signature (hex, from `x-amz-meta-signature`).
    pub fn verify_signature(
        &self,
        digest_bytes: &[u8],
        signature_hex: &str,
        keys: &AwsPublicKeys,
    ) -> Result<(), DigestError> {
        if self.digest_signature_algorithm != "SHA256withRSA" {
            return Err(DigestError::Malformed(format!(
                "unsupported algorithm {}",
                self.digest_signature_algorithm
            )));
        }
        let fingerprint = self.digest_public_key_fingerprint.to_ascii_lowercase();
        let candidates = keys
            .keys
            .get(&fingerprint)
            .ok_or_else(|| DigestError::UnknownKey(fingerprint.clone()))?;
        // RFC 3339 UTC strings of one format compare correctly as text.
        let valid: Vec<&RsaPublicKey> = candidates
            .iter()
            .filter(|k| {
                k.valid_from
                    .as_deref()
                    .is_none_or(|f| f <= self.digest_end_time.as_str())
                    && k.valid_to
                        .as_deref()
                        .is_none_or(|t| self.digest_end_time.as_str() <= t)
            })
            .map(|k| &k.key)
            .collect();
        if valid.is_empty() {
            return Err(DigestError::UnknownKey(fingerprint));
        }
        let raw = hex::decode(signature_hex.trim()).map_err(|_| DigestError::BadSignature)?;
        let signature =
            Signature::try_from(raw.as_slice()).map_err(|_| DigestError::BadSignature)?;
        let message = self.signing_string(digest_bytes);
        let ok = valid.into_iter().any(|key| {
            VerifyingKey::<Sha256>::new(key.clone())
                .verify(message.as_bytes(), &signature)
                .is_ok()
        });
        if ok {
            Ok(())
        } else {
            Err(DigestError::BadSignature)
        }
    }

    /// Checks that this digest continues `previous`, whose signature was `previous_signature_hex`.
    pub fn verify_follows(
        &self,
        previous: &CloudTrailDigest,
        previous_signature_hex: &str,
    ) -> Result<(), DigestError> {
        if self.previous_digest_signature.as_deref() != Some(previous_signature_hex.trim()) {
            return Err(DigestError::Chain(
                "previousDigestSignature is not the previous digest's signature".into(),
            ));
        }
        if self.previous_digest_s3_object.as_deref() != Some(previous.digest_s3_object.as_str())
            || self.previous_digest_s3_bucket.as_deref() != Some(previous.digest_s3_bucket.as_str())
        {
            return Err(DigestError::Chain(format!(
                "previousDigestS3Object does not name {}",
                previous.digest_s3_object
            )));
        }
        if previous.digest_end_time > self.digest_end_time {
            return Err(DigestError::Chain(
                "the previous digest ends after this one".into(),
            ));
        }
        Ok(())
    }

    /// Checks a log file's uncompressed content against the hash this digest lists.
    pub fn verify_log_file(
        &self,
        s3_bucket: &str,
        s3_object: &str,
        uncompressed: &[u8],
    ) -> Result<(), DigestError> {
        let entry = self
            .log_files
            .iter()
            .find(|f| f.s3_bucket == s3_bucket && f.s3_object == s3_object)
            .ok_or_else(|| DigestError::NotListed(format!("{s3_bucket}/{s3_object}")))?;
        if entry.hash_algorithm != "SHA-256" {
            return Err(DigestError::Malformed(format!(
                "unsupported log file hash {}",
                entry.hash_algorithm
            )));
        }
        let found = hex::encode(Sha256::digest(uncompressed));
        if !found.eq_ignore_ascii_case(&entry.hash_value) {
            return Err(DigestError::LogFileHash {
                object: s3_object.to_owned(),
                expected: entry.hash_value.clone(),
                found,
            });
        }
        Ok(())
    }
}

/// The outcome for a log file: verified when the digest's signature and the
/// file's hash verify, failed when either does not, unavailable without a digest.
pub fn log_file_integrity(
    digest: Option<(&CloudTrailDigest, &[u8], &str)>,
    keys: &AwsPublicKeys,
    s3_bucket: &str,
    s3_object: &str,
    uncompressed: &[u8],
) -> (UpstreamIntegrity, Option<DigestError>) {
    let Some((digest, digest_bytes, signature)) = digest else {
        return (UpstreamIntegrity::Unavailable, None);
    };
    match digest.verify_signature(digest_bytes, signature, keys) {
        // Without the key there is no verdict, only an absence of evidence.
        Err(e @ DigestError::UnknownKey(_)) => (UpstreamIntegrity::Unavailable, Some(e)),
        Err(e) => (UpstreamIntegrity::Failed, Some(e)),
        Ok(()) => match digest.verify_log_file(s3_bucket, s3_object, uncompressed) {
            Ok(()) => (UpstreamIntegrity::Verified, None),
            Err(e) => (UpstreamIntegrity::Failed, Some(e)),
        },
    }
}
