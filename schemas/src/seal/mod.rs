//! The seal format, v1 — the exact rules of docs/integrity.md in code:
//! canonical encoding of an event, leaf and chain hashes, the RFC 6962 Merkle
//! tree of a checkpoint, checkpoints as C2SP signed notes, and keys.
//!
//! ```
//! use auditfed_schemas::seal::{canonical_v1, chain_hash, genesis, leaf_hash};
//!
//! let event = serde_json::json!({"time": 1, "class_uid": 6003, "b": 1.0, "a": "x"});
//! let canonical = canonical_v1(&event).unwrap();
//! assert_eq!(canonical, br#"{"a":"x","b":1,"class_uid":6003,"time":1}"#);
//! let leaf = leaf_hash(&canonical);
//! let head = chain_hash(&genesis("demo/0"), &leaf);
//! assert_ne!(head, leaf);
//! ```

mod checkpoint;
mod jcs;
pub mod keyfiles;
mod keys;
mod merkle;
mod proof;
mod strict;

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use checkpoint::{Checkpoint, CheckpointKind, SignedNote, format_time};
pub use keyfiles::{CreatedKey, KeyFileError, create_key, load_signer};
pub use keys::{FileSigner, KeyId, Keyring, Signer, VerifierKey, generate_key};
pub use merkle::{CompactRange, audit_path, merkle_root, root_from_audit_path};
pub use proof::{B64Hash, InclusionProof, PROOF_FORMAT, ProvenEvent};
pub use strict::parse_strict;

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// Version tag of the seal format these functions implement.
pub const SEAL_FORMAT: &str = "auditfed-seal/v1";

/// Errors of the seal format: malformed input, bad keys, bad signatures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The JSON is not valid, or not canonical where canonical JSON is required.
    #[error("event JSON: {0}")]
    Json(String),
    /// A checkpoint note that does not follow docs/integrity.md §5.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// A key, key file or keyring line that cannot be used.
    #[error("key: {0}")]
    Key(String),
    /// A signature that does not verify, or no signature by a trusted key.
    #[error("signature: {0}")]
    Signature(String),
}

/// `canonical_v1(event)`: the RFC 8785 (JCS) serialization of the event.
///
/// Numbers outside ±2^53 are, as JCS requires, written as the IEEE double
/// they denote: OCSF events hold none (times are epoch ms).
pub fn canonical_v1<T: Serialize>(event: &T) -> Result<Vec<u8>, SealError> {
    let value = serde_json::to_value(event).map_err(|e| SealError::Json(e.to_string()))?;
    let mut out = Vec::with_capacity(4096);
    jcs::write(&value, &mut out);
    Ok(out)
}

/// Re-canonicalizes stored event JSON: `Ok(canonical bytes)` when `stored`
/// parses strictly (no duplicate keys); compare with `stored` to find
/// non-canonical input.
pub fn recanonicalize(stored: &[u8]) -> Result<Vec<u8>, SealError> {
    let mut out = Vec::with_capacity(stored.len());
    jcs::write(&parse_strict(stored)?, &mut out);
    Ok(out)
}

/// `canonical_v1(event)` for an OCSF [`crate::ocsf::Event`], about 3× faster:
/// the event's fields are declared in JCS order, so serde_json with JCS
/// number forms writes the canonical bytes directly. Falls back to the
/// general path whenever that could differ (characters at or above U+E000,
/// whose UTF-16 order differs from code-point order, or maps that do not
/// iterate sorted).
pub fn canonical_event(event: &crate::ocsf::Event) -> Result<Vec<u8>, SealError> {
    let mut out = Vec::with_capacity(4096);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, jcs::JcsFormatter);
    serde::Serialize::serialize(event, &mut ser).map_err(|e| SealError::Json(e.to_string()))?;
    if out.iter().any(|&b| b >= 0xEE) || !maps_iterate_sorted() {
        return canonical_v1(event);
    }
    Ok(out)
}

fn maps_iterate_sorted() -> bool {
    static SORTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SORTED.get_or_init(|| {
        let probe: serde_json::Map<String, serde_json::Value> = [
            ("b".to_owned(), serde_json::Value::Null),
            ("a".to_owned(), serde_json::Value::Null),
        ]
        .into_iter()
        .collect();
        probe.keys().next().map(String::as_str) == Some("a")
    })
}

/// The JCS form of an already parsed (strictly: [`parse_strict`]) JSON value.
pub fn canonical_value(value: &serde_json::Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    jcs::write(value, &mut out);
    out
}

/// `leaf = SHA-256(0x00 || canonical)`.
pub fn leaf_hash(canonical: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(canonical);
    h.finalize().into()
}

/// The chain value before the first event: `SHA-256(0x02 || "auditfed-chain-v1" || 0x00 || chain_id)`.
pub fn genesis(chain_id: &str) -> Hash {
    let mut h = Sha256::new();
    h.update([0x02]);
    h.update(b"auditfed-chain-v1");
    h.update([0x00]);
    h.update(chain_id.as_bytes());
    h.finalize().into()
}

/// `chain_n = SHA-256(0x02 || chain_{n-1} || leaf_n)`.
pub fn chain_hash(prev: &Hash, leaf: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x02]);
    h.update(prev);
    h.update(leaf);
    h.finalize().into()
}

/// Whether a chain id is valid: 1–200 bytes of `[A-Za-z0-9._:/-]`.
pub fn valid_chain_id(id: &str) -> bool {
    (1..=200).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'/' | b'-'))
}

/// Serde helpers: a [`type@Hash`] as base64 text (state files, bundles).
pub mod hash_b64 {
    use serde::{Deserialize, Deserializer, Serializer, de};

    use super::Hash;

    /// Serializes a hash as base64.
    pub fn serialize<S: Serializer>(hash: &Hash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::b64(hash))
    }

    /// Reads a base64 hash.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let text = String::deserialize(d)?;
        super::unb64_hash(&text).ok_or_else(|| de::Error::custom("not a base64 SHA-256 hash"))
    }
}

pub(crate) use checkpoint::civil_from_days;

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (not range-checked: callers round-trip).
pub(crate) fn days_from_civil_str(date: &str) -> Option<i64> {
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y = date[..4].parse().ok()?;
    let m = date[5..7].parse().ok()?;
    let d = date[8..10].parse().ok()?;
    Some(checkpoint::days_from_civil(y, m, d))
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(crate) fn unb64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

pub(crate) fn unb64_hash(text: &str) -> Option<Hash> {
    unb64(text)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_removes_every_freedom_json_allows() {
        let variants = [
            r#"{"b":1,"a":"A"}"#,
            r#"{ "a" : "\u0041", "b" : 1.0 }"#,
            r#"{"a":"A","b":1e0}"#,
            r#"{"a":"A","b":10E-1}"#,
        ];
        for v in variants {
            assert_eq!(
                recanonicalize(v.as_bytes()).unwrap(),
                br#"{"a":"A","b":1}"#,
                "{v}"
            );
        }
        let err = recanonicalize(br#"{"a":1,"a":2}"#).unwrap_err();
        assert!(err.to_string().contains("duplicate key `a`"), "{err}");
    }

    #[test]
    fn the_fast_event_path_falls_back_where_utf16_order_differs() {
        use crate::ocsf::{Class, Event, Metadata, Severity};
        let mut event = Event::new(
            Class::BaseEvent,
            99,
            1,
            Severity::Unknown,
            Metadata::default(),
        );
        let unmapped = serde_json::json!({"\u{ff01}": 1, "\u{1F600}": 2, "a": 1.5e300, "big": 9_007_199_254_740_993u64});
        event.unmapped = unmapped.as_object().cloned();
        let fast = canonical_event(&event).unwrap();
        assert_eq!(fast, canonical_v1(&event).unwrap());
        let text = String::from_utf8(fast).unwrap();
        assert!(
            text.find("\u{1F600}").unwrap() < text.find("\u{ff01}").unwrap(),
            "UTF-16 order: {text}"
        );
        assert!(text.contains("\"big\":9007199254740992"), "{text}");
        assert!(text.contains("1.5e+300"), "{text}");
    }

    #[test]
    fn chain_hashes_are_domain_separated_from_merkle_nodes() {
        let leaf = leaf_hash(b"{}");
        let prev = genesis("c/0");
        let mut node = Sha256::new();
        node.update([0x01]);
        node.update(prev);
        node.update(leaf);
        let node: Hash = node.finalize().into();
        assert_ne!(chain_hash(&prev, &leaf), node);
        assert_ne!(genesis("c/0"), genesis("c/1"));
        assert!(valid_chain_id("auditfed.raw.aws_cloudtrail/0"));
        assert!(!valid_chain_id("has space"));
        assert!(!valid_chain_id(""));
    }
}
